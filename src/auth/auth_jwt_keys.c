/* SPDX-License-Identifier: MIT */
/*
 * The key set: an HS256 secret, a PEM public key file and JWKS files become keys that each
 * verify one algorithm; and the helpers the signer shares (auth_jwt_keys.h).
 */
#include "auth/auth_jwt_keys.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base/alloc.h"
#include "base/b64url.h"
#include "base/diag.h"

/* Key and JWKS files are small; anything bigger is a mistake, not a key. */
#define KEY_FILE_MAX (1 << 20)
/* Without a kid every key of the token's type is tried, so the set stays small. */
#define MAX_KEYS 64

static const char *const alg_names[] = {
    [RP_JWT_ALG_HS256] = "HS256",
    [RP_JWT_ALG_RS256] = "RS256",
    [RP_JWT_ALG_ES256] = "ES256",
    [RP_JWT_ALG_EDDSA] = "EdDSA",
};

const char *
rp_jwt_alg_name(enum rp_jwt_alg alg)
{
    return alg_names[alg];
}

int
rp_jwt_alg_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++)
        if (strcmp(name, alg_names[i]) == 0)
            return (int)i;
    return -1;
}

int
rp_jwt_fail(struct rp_diag *diag, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rp_diag_vset(diag, fmt, ap);
    va_end(ap);
    return code;
}

/*
 * Decodes a JWK member (base64url; trailing '=' padding tolerated, as some JWKS publishers
 * add it) into a malloc'd buffer; NULL when it is missing, not a string or not base64url.
 */
static unsigned char *
jwk_bytes(const json_t *jwk, const char *name, size_t *len)
{
    const char *s = json_string_value(json_object_get(jwk, name));
    if (!s)
        return NULL;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n == 0 || !rp_b64url_valid(s, n))
        return NULL;
    unsigned char *out = rp_xmalloc(n * 3 / 4 + 1);
    *len = rp_b64url_decode(s, n, out);
    return out;
}

static void
key_fini(struct rp_jwt_key *k)
{
    free(k->kid);
    if (k->secret)
        OPENSSL_cleanse(k->secret, k->secret_len);
    free(k->secret);
    EVP_PKEY_free(k->pkey);
}

void
rp_jwt_keys_free(struct rp_jwt_keys *keys)
{
    if (!keys)
        return;
    for (size_t i = 0; i < keys->n; i++)
        key_fini(&keys->keys[i]);
    free(keys->keys);
    EVP_MD_free(keys->sha256);
    free(keys);
}

size_t
rp_jwt_keys_count(const struct rp_jwt_keys *keys)
{
    return keys ? keys->n : 0;
}

/* Takes ownership of <secret> and <pkey>; copies <kid>. -ENOSPC past MAX_KEYS. */
static int
add_key(struct rp_jwt_keys *ks, enum rp_jwt_alg alg, const char *kid, unsigned char *secret,
        size_t secret_len, EVP_PKEY *pkey)
{
    if (ks->n == MAX_KEYS) {
        if (secret)
            OPENSSL_cleanse(secret, secret_len);
        free(secret);
        EVP_PKEY_free(pkey);
        return -ENOSPC;
    }
    ks->keys = rp_xrealloc(ks->keys, (ks->n + 1) * sizeof(ks->keys[0]));
    ks->keys[ks->n++] = (struct rp_jwt_key){
        .alg = alg,
        .kid = kid ? rp_xstrdup(kid) : NULL,
        .secret = secret,
        .secret_len = secret_len,
        .pkey = pkey,
    };
    return 0;
}

char *
rp_jwt_read_file(const char *what, const char *path, size_t *len, int *rc, struct rp_diag *diag)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno ? errno : EIO;
        *rc = rp_jwt_fail(diag, -e, "%s %s: cannot open: %s", what, path, strerror(e));
        return NULL;
    }
    char *buf = rp_xmalloc(KEY_FILE_MAX + 1);
    size_t n = fread(buf, 1, KEY_FILE_MAX + 1, f);
    int e = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (e) {
        free(buf);
        *rc = rp_jwt_fail(diag, -e, "%s %s: cannot read: %s", what, path, strerror(e));
        return NULL;
    }
    if (n > KEY_FILE_MAX) {
        free(buf);
        *rc = rp_jwt_fail(diag, -EFBIG, "%s %s: larger than %d bytes, not a key file", what, path,
                          KEY_FILE_MAX);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    *rc = 0;
    return buf;
}

const char *
rp_jwt_check_pkey(EVP_PKEY *pkey, enum rp_jwt_alg *alg)
{
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if (EVP_PKEY_get_bits(pkey) < RP_JWT_MIN_RSA_BITS)
            return "RSA key shorter than 2048 bits (RS256 needs at least 2048)";
        *alg = RP_JWT_ALG_RS256;
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[64];
        size_t group_len = 0;
        if (!EVP_PKEY_get_group_name(pkey, group, sizeof(group), &group_len) ||
            strcmp(group, "prime256v1") != 0)
            return "EC key not on curve P-256 (ES256 needs P-256)";
        *alg = RP_JWT_ALG_ES256;
    } else if (EVP_PKEY_is_a(pkey, "ED25519")) {
        *alg = RP_JWT_ALG_EDDSA;
    } else {
        return "key is neither RSA, EC P-256 nor Ed25519";
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    bool ok = ctx && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok ? NULL : "public key fails validation";
}

/* The first public key (SubjectPublicKeyInfo or PKCS#1) or certificate in the PEM <text>. */
static EVP_PKEY *
decode_public_pem(const char *text, size_t len)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx =
        OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL, EVP_PKEY_PUBLIC_KEY, NULL, NULL);
    if (dctx) {
        const unsigned char *p = (const unsigned char *)text;
        size_t left = len;
        if (!OSSL_DECODER_from_data(dctx, &p, &left)) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
        OSSL_DECODER_CTX_free(dctx);
    }
    if (pkey)
        return pkey;
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    if (!bio)
        return NULL;
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!cert)
        return NULL;
    pkey = X509_get_pubkey(cert);
    X509_free(cert);
    return pkey;
}

static int
load_key_file(struct rp_jwt_keys *ks, const char *path, struct rp_diag *diag)
{
    static const char what[] = "jwt key file";
    size_t len = 0;
    int rc;
    char *text = rp_jwt_read_file(what, path, &len, &rc, diag);
    if (!text)
        return rc;
    if (strstr(text, "PRIVATE KEY-----")) {
        /* Verification needs only the public half; keep private keys off the server. */
        free(text);
        return rp_jwt_fail(diag, -EINVAL,
                           "%s %s: holds a private key; give the public key "
                           "(openssl pkey -in KEY -pubout)",
                           what, path);
    }
    EVP_PKEY *pkey = decode_public_pem(text, len);
    free(text);
    if (!pkey)
        return rp_jwt_fail(diag, -EINVAL, "%s %s: no PEM public key or certificate found", what,
                           path);
    enum rp_jwt_alg alg;
    const char *why = rp_jwt_check_pkey(pkey, &alg);
    if (why) {
        EVP_PKEY_free(pkey);
        return rp_jwt_fail(diag, -EINVAL, "%s %s: %s", what, path, why);
    }
    return add_key(ks, alg, NULL, NULL, 0, pkey);
}

static EVP_PKEY *
pkey_from_params(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static EVP_PKEY *
jwk_rsa(const json_t *jwk, const char **why)
{
    size_t n_len = 0, e_len = 0;
    unsigned char *n_raw = jwk_bytes(jwk, "n", &n_len);
    unsigned char *e_raw = jwk_bytes(jwk, "e", &e_len);
    EVP_PKEY *pkey = NULL;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    if (!n_raw || !e_raw) {
        *why = "RSA key without base64url n and e";
        goto out;
    }
    n = BN_bin2bn(n_raw, (int)n_len, NULL);
    e = BN_bin2bn(e_raw, (int)e_len, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (!n || !e || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld))) {
        *why = "cannot build the RSA key";
        goto out;
    }
    pkey = pkey_from_params("RSA", params);
    if (!pkey)
        *why = "invalid RSA n or e";
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    free(n_raw);
    free(e_raw);
    return pkey;
}

static EVP_PKEY *
jwk_ec(const json_t *jwk, const char **why)
{
    size_t x_len = 0, y_len = 0;
    unsigned char *x = jwk_bytes(jwk, "x", &x_len);
    unsigned char *y = jwk_bytes(jwk, "y", &y_len);
    EVP_PKEY *pkey = NULL;
    if (!x || !y || x_len != 32 || y_len != 32) {
        *why = "EC P-256 key without 32-byte base64url x and y";
    } else {
        /* The uncompressed point 04 || x || y. */
        unsigned char point[65];
        point[0] = 0x04;
        memcpy(point + 1, x, 32);
        memcpy(point + 33, y, 32);
        static char group[] = "prime256v1";
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
            OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
            OSSL_PARAM_construct_end(),
        };
        pkey = pkey_from_params("EC", params);
        if (!pkey)
            *why = "EC x and y are not a point on P-256";
    }
    free(x);
    free(y);
    return pkey;
}

/*
 * Adds the key the JWK <jwk> describes: 1 when added, 0 when skipped (a key type, curve,
 * alg or use this verifier has no use for), -EINVAL with a static reason in <why>.
 */
static int
add_jwk(struct rp_jwt_keys *ks, const json_t *jwk, const char **why)
{
    if (!json_is_object(jwk)) {
        *why = "not a JSON object";
        return -EINVAL;
    }
    const json_t *kty_j = json_object_get(jwk, "kty"), *use_j = json_object_get(jwk, "use");
    const json_t *alg_j = json_object_get(jwk, "alg"), *kid_j = json_object_get(jwk, "kid");
    if (!json_is_string(kty_j) || (use_j && !json_is_string(use_j)) ||
        (alg_j && !json_is_string(alg_j)) || (kid_j && !json_is_string(kid_j))) {
        *why = "kty missing, or kty, use, alg or kid not a string";
        return -EINVAL;
    }
    if (use_j && strcmp(json_string_value(use_j), "sig") != 0)
        return 0;
    const char *kty = json_string_value(kty_j);
    enum rp_jwt_alg alg;
    if (strcmp(kty, "oct") == 0)
        alg = RP_JWT_ALG_HS256;
    else if (strcmp(kty, "RSA") == 0)
        alg = RP_JWT_ALG_RS256;
    else if (strcmp(kty, "EC") == 0)
        alg = RP_JWT_ALG_ES256;
    else
        return 0;
    if (alg_j) {
        int named = rp_jwt_alg_from_name(json_string_value(alg_j));
        if (named < 0)
            return 0; /* e.g. RS512: a key for an algorithm we do not accept */
        if ((enum rp_jwt_alg)named != alg) {
            *why = "alg does not fit kty";
            return -EINVAL;
        }
    }
    if (alg == RP_JWT_ALG_ES256) {
        const char *crv = json_string_value(json_object_get(jwk, "crv"));
        if (!crv) {
            *why = "EC key without crv";
            return -EINVAL;
        }
        if (strcmp(crv, "P-256") != 0) {
            if (alg_j) {
                *why = "alg ES256 needs crv P-256";
                return -EINVAL;
            }
            return 0;
        }
    }
    const char *kid = json_string_value(kid_j);
    if (alg == RP_JWT_ALG_HS256) {
        size_t k_len = 0;
        unsigned char *k = jwk_bytes(jwk, "k", &k_len);
        if (!k || k_len < RP_JWT_MIN_SECRET) {
            if (k)
                OPENSSL_cleanse(k, k_len);
            free(k);
            *why = "oct key without a base64url k of at least 32 bytes";
            return -EINVAL;
        }
        if (add_key(ks, alg, kid, k, k_len, NULL)) {
            *why = "more than 64 keys";
            return -EINVAL;
        }
        return 1;
    }
    EVP_PKEY *pkey = alg == RP_JWT_ALG_RS256 ? jwk_rsa(jwk, why) : jwk_ec(jwk, why);
    if (!pkey)
        return -EINVAL;
    enum rp_jwt_alg checked;
    const char *bad = rp_jwt_check_pkey(pkey, &checked);
    if (bad) {
        EVP_PKEY_free(pkey);
        *why = bad;
        return -EINVAL;
    }
    if (add_key(ks, alg, kid, NULL, 0, pkey)) {
        *why = "more than 64 keys";
        return -EINVAL;
    }
    return 1;
}

static int
load_jwks(struct rp_jwt_keys *ks, const char *path, struct rp_diag *diag)
{
    static const char what[] = "jwks file";
    size_t len = 0;
    int rc;
    char *text = rp_jwt_read_file(what, path, &len, &rc, diag);
    if (!text)
        return rc;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root)
        return rp_jwt_fail(diag, -EINVAL, "%s %s: not JSON: %s (line %d)", what, path, jerr.text,
                           jerr.line);
    json_t *list = json_object_get(root, "keys");
    json_t *single[1] = {root};
    json_t *const *items;
    size_t n;
    if (json_is_array(list)) {
        n = json_array_size(list);
        items = NULL;
    } else if (!list && json_object_get(root, "kty")) {
        n = 1;
        items = single;
    } else {
        json_decref(root);
        return rp_jwt_fail(diag, -EINVAL, "%s %s: not a JWK set (no \"keys\" array)", what, path);
    }
    size_t added = 0;
    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;
        rc = add_jwk(ks, items ? items[i] : json_array_get(list, i), &why);
        if (rc < 0) {
            json_decref(root);
            return rp_jwt_fail(diag, rc, "%s %s: key %zu: %s", what, path, i + 1, why);
        }
        added += (size_t)rc;
    }
    json_decref(root);
    if (!added)
        return rp_jwt_fail(diag, -EINVAL,
                           "%s %s: no usable key (RSA, EC P-256 or oct for RS256, ES256 or HS256)",
                           what, path);
    return 0;
}

int
rp_jwt_keys_load(struct rp_jwt_keys **out, const char *secret, const char *key_file,
                 const char *jwks_file, struct rp_diag *diag)
{
    *out = NULL;
    rp_diag_clear(diag);
    /* Our OpenSSL errors must not linger in the thread's queue (TLS code reads it). */
    ERR_set_mark();
    struct rp_jwt_keys *ks = rp_xcalloc(1, sizeof(*ks));
    int rc = 0;
    ks->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!ks->sha256) {
        rc = rp_jwt_fail(diag, -ENOSYS, "jwt: OpenSSL provides no SHA-256");
        goto fail;
    }
    if (secret && *secret) {
        size_t n = strlen(secret);
        if (n < RP_JWT_MIN_SECRET) {
            rc = rp_jwt_fail(diag, -EINVAL,
                             "jwt secret: %zu bytes is too short for HS256 (at least %d)", n,
                             RP_JWT_MIN_SECRET);
            goto fail;
        }
        unsigned char *copy = rp_xmalloc(n);
        memcpy(copy, secret, n);
        rc = add_key(ks, RP_JWT_ALG_HS256, NULL, copy, n, NULL);
        if (rc)
            goto fail;
    }
    if (key_file && *key_file && (rc = load_key_file(ks, key_file, diag)) != 0)
        goto fail;
    if (jwks_file && *jwks_file && (rc = load_jwks(ks, jwks_file, diag)) != 0)
        goto fail;
    if (ks->n == 0) {
        rc =
            rp_jwt_fail(diag, -EINVAL,
                        "jwt: no key configured (give a secret, a public key file or a JWKS file)");
        goto fail;
    }
    ERR_pop_to_mark();
    *out = ks;
    return 0;
fail:
    ERR_pop_to_mark();
    rp_jwt_keys_free(ks);
    return rc;
}
