/* SPDX-License-Identifier: MIT */
#include "auth/auth_jwt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
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
/* NumericDate bounds (seconds) that keep the millisecond value far from int64 overflow. */
#define MAX_DATE_SEC 10000000000000LL
#define ES256_SIG_LEN 64
#define HS256_MAC_LEN 32

/* Each key verifies exactly one alg, which fixes its type: no algorithm confusion. */
enum jwt_alg {
    JWT_ALG_HS256 = 0,
    JWT_ALG_RS256,
    JWT_ALG_ES256,
};

struct jwt_key {
    enum jwt_alg alg;
    char *kid;             /* NULL = none */
    unsigned char *secret; /* HS256 */
    size_t secret_len;
    EVP_PKEY *pkey; /* RS256, ES256 */
};

struct rp_jwt_keys {
    struct jwt_key *keys;
    size_t n;
    EVP_MD *sha256; /* fetched once, not per verification */
};

static const char *const alg_names[] = {
    [JWT_ALG_HS256] = "HS256",
    [JWT_ALG_RS256] = "RS256",
    [JWT_ALG_ES256] = "ES256",
};

static int
alg_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++)
        if (strcmp(name, alg_names[i]) == 0)
            return (int)i;
    return -1;
}

static int fail(struct rp_diag *diag, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the message of <diag> (which may be NULL) and returns <code>. */
static int
fail(struct rp_diag *diag, int code, const char *fmt, ...)
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

/* ---- key set ---- */

static void
key_fini(struct jwt_key *k)
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
add_key(struct rp_jwt_keys *ks, enum jwt_alg alg, const char *kid, unsigned char *secret,
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
    ks->keys[ks->n++] = (struct jwt_key){
        .alg = alg,
        .kid = kid ? rp_xstrdup(kid) : NULL,
        .secret = secret,
        .secret_len = secret_len,
        .pkey = pkey,
    };
    return 0;
}

/* Reads the whole file <path> into a NUL-terminated malloc'd buffer; NULL and *<rc> on error. */
static char *
read_file(const char *what, const char *path, size_t *len, int *rc, struct rp_diag *diag)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno ? errno : EIO;
        *rc = fail(diag, -e, "%s %s: cannot open: %s", what, path, strerror(e));
        return NULL;
    }
    char *buf = rp_xmalloc(KEY_FILE_MAX + 1);
    size_t n = fread(buf, 1, KEY_FILE_MAX + 1, f);
    int e = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (e) {
        free(buf);
        *rc = fail(diag, -e, "%s %s: cannot read: %s", what, path, strerror(e));
        return NULL;
    }
    if (n > KEY_FILE_MAX) {
        free(buf);
        *rc = fail(diag, -EFBIG, "%s %s: larger than %d bytes, not a key file", what, path,
                   KEY_FILE_MAX);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    *rc = 0;
    return buf;
}

/*
 * Checks that <pkey> is usable and says for which alg: RSA of at least RP_JWT_MIN_RSA_BITS
 * (RS256) or EC on P-256 (ES256), and a public part that passes OpenSSL's validation (an
 * EC point on the curve, a sane RSA modulus). NULL, or a static reason.
 */
static const char *
check_pkey(EVP_PKEY *pkey, enum jwt_alg *alg)
{
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if (EVP_PKEY_get_bits(pkey) < RP_JWT_MIN_RSA_BITS)
            return "RSA key shorter than 2048 bits (RS256 needs at least 2048)";
        *alg = JWT_ALG_RS256;
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[64];
        size_t group_len = 0;
        if (!EVP_PKEY_get_group_name(pkey, group, sizeof(group), &group_len) ||
            strcmp(group, "prime256v1") != 0)
            return "EC key not on curve P-256 (ES256 needs P-256)";
        *alg = JWT_ALG_ES256;
    } else {
        return "key is neither RSA nor EC P-256";
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
    char *text = read_file(what, path, &len, &rc, diag);
    if (!text)
        return rc;
    if (strstr(text, "PRIVATE KEY-----")) {
        /* Verification needs only the public half; keep private keys off the server. */
        free(text);
        return fail(diag, -EINVAL,
                    "%s %s: holds a private key; give the public key "
                    "(openssl pkey -in KEY -pubout)",
                    what, path);
    }
    EVP_PKEY *pkey = decode_public_pem(text, len);
    free(text);
    if (!pkey)
        return fail(diag, -EINVAL, "%s %s: no PEM public key or certificate found", what, path);
    enum jwt_alg alg;
    const char *why = check_pkey(pkey, &alg);
    if (why) {
        EVP_PKEY_free(pkey);
        return fail(diag, -EINVAL, "%s %s: %s", what, path, why);
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
    enum jwt_alg alg;
    if (strcmp(kty, "oct") == 0)
        alg = JWT_ALG_HS256;
    else if (strcmp(kty, "RSA") == 0)
        alg = JWT_ALG_RS256;
    else if (strcmp(kty, "EC") == 0)
        alg = JWT_ALG_ES256;
    else
        return 0;
    if (alg_j) {
        int named = alg_from_name(json_string_value(alg_j));
        if (named < 0)
            return 0; /* e.g. RS512: a key for an algorithm we do not accept */
        if ((enum jwt_alg)named != alg) {
            *why = "alg does not fit kty";
            return -EINVAL;
        }
    }
    if (alg == JWT_ALG_ES256) {
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
    if (alg == JWT_ALG_HS256) {
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
    EVP_PKEY *pkey = alg == JWT_ALG_RS256 ? jwk_rsa(jwk, why) : jwk_ec(jwk, why);
    if (!pkey)
        return -EINVAL;
    enum jwt_alg checked;
    const char *bad = check_pkey(pkey, &checked);
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
    char *text = read_file(what, path, &len, &rc, diag);
    if (!text)
        return rc;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root)
        return fail(diag, -EINVAL, "%s %s: not JSON: %s (line %d)", what, path, jerr.text,
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
        return fail(diag, -EINVAL, "%s %s: not a JWK set (no \"keys\" array)", what, path);
    }
    size_t added = 0;
    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;
        rc = add_jwk(ks, items ? items[i] : json_array_get(list, i), &why);
        if (rc < 0) {
            json_decref(root);
            return fail(diag, rc, "%s %s: key %zu: %s", what, path, i + 1, why);
        }
        added += (size_t)rc;
    }
    json_decref(root);
    if (!added)
        return fail(diag, -EINVAL,
                    "%s %s: no usable key (RSA, EC P-256 or oct for RS256, ES256 or HS256)", what,
                    path);
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
        rc = fail(diag, -ENOSYS, "jwt: OpenSSL provides no SHA-256");
        goto fail;
    }
    if (secret && *secret) {
        size_t n = strlen(secret);
        if (n < RP_JWT_MIN_SECRET) {
            rc = fail(diag, -EINVAL, "jwt secret: %zu bytes is too short for HS256 (at least %d)",
                      n, RP_JWT_MIN_SECRET);
            goto fail;
        }
        unsigned char *copy = rp_xmalloc(n);
        memcpy(copy, secret, n);
        rc = add_key(ks, JWT_ALG_HS256, NULL, copy, n, NULL);
        if (rc)
            goto fail;
    }
    if (key_file && *key_file && (rc = load_key_file(ks, key_file, diag)) != 0)
        goto fail;
    if (jwks_file && *jwks_file && (rc = load_jwks(ks, jwks_file, diag)) != 0)
        goto fail;
    if (ks->n == 0) {
        rc = fail(diag, -EINVAL,
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

/* ---- verification ---- */

static bool
verify_hs256(const struct rp_jwt_keys *ks, const struct jwt_key *k, const char *input,
             size_t input_len, const unsigned char *sig, size_t sig_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (sig_len != HS256_MAC_LEN)
        return false;
    if (!HMAC(ks->sha256, k->secret, (int)k->secret_len, (const unsigned char *)input, input_len,
              mac, &mac_len) ||
        mac_len != HS256_MAC_LEN)
        return false;
    return CRYPTO_memcmp(mac, sig, HS256_MAC_LEN) == 0;
}

static bool
digest_verify(const struct rp_jwt_keys *ks, EVP_PKEY *pkey, const char *input, size_t input_len,
              const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, ks->sha256, NULL, pkey) == 1 &&
              EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)input, input_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* JWS carries ECDSA signatures as raw r || s (RFC 7518 3.4); OpenSSL wants DER. */
static bool
verify_es256(const struct rp_jwt_keys *ks, const struct jwt_key *k, const char *input,
             size_t input_len, const unsigned char *sig, size_t sig_len)
{
    if (sig_len != ES256_SIG_LEN)
        return false;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, ES256_SIG_LEN / 2, NULL);
    BIGNUM *s = BN_bin2bn(sig + ES256_SIG_LEN / 2, ES256_SIG_LEN / 2, NULL);
    unsigned char *der = NULL;
    int der_len = -1;
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* now owned by es */
        der_len = i2d_ECDSA_SIG(es, &der);
    }
    bool ok = der_len > 0 && digest_verify(ks, k->pkey, input, input_len, der, (size_t)der_len);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    BN_free(r);
    BN_free(s);
    return ok;
}

static bool
key_verifies(const struct rp_jwt_keys *ks, const struct jwt_key *k, const char *input,
             size_t input_len, const unsigned char *sig, size_t sig_len)
{
    switch (k->alg) {
    case JWT_ALG_HS256:
        return verify_hs256(ks, k, input, input_len, sig, sig_len);
    case JWT_ALG_RS256:
        return sig_len == (size_t)EVP_PKEY_get_size(k->pkey) &&
               digest_verify(ks, k->pkey, input, input_len, sig, sig_len);
    case JWT_ALG_ES256:
        return verify_es256(ks, k, input, input_len, sig, sig_len);
    }
    return false;
}

/*
 * Checks the signature with the keys the header allows (see the contract of rp_jwt_verify
 * for the choice).
 */
static enum rp_auth_result
check_signature(const struct rp_jwt_keys *ks, enum jwt_alg alg, const char *kid, const char *input,
                size_t input_len, const unsigned char *sig, size_t sig_len)
{
    size_t n_type = 0, n_kid = 0, n_tried = 0;
    for (size_t i = 0; i < ks->n; i++)
        n_type += ks->keys[i].alg == alg;
    if (n_type == 0)
        return RP_AUTH_BAD_ALG;
    for (size_t i = 0; i < ks->n; i++) {
        const struct jwt_key *k = &ks->keys[i];
        if (kid && (!k->kid || strcmp(k->kid, kid) != 0))
            continue;
        n_kid++;
        if (k->alg != alg)
            continue;
        n_tried++;
        if (key_verifies(ks, k, input, input_len, sig, sig_len))
            return RP_AUTH_OK;
    }
    if (kid && n_kid == 0)
        return RP_AUTH_UNKNOWN_KEY;
    if (n_tried == 0)
        return RP_AUTH_BAD_ALG; /* the kid names a key of another type */
    return RP_AUTH_BAD_SIGNATURE;
}

/* Parses the JOSE header: alg (checked later against the keys), typ, kid, no crit. */
static enum rp_auth_result
parse_header(const unsigned char *p, size_t n, json_t **header, int *alg, const char **kid)
{
    json_t *h = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(h))
        goto malformed;
    const char *alg_name = json_string_value(json_object_get(h, "alg"));
    const json_t *typ = json_object_get(h, "typ");
    const json_t *kid_j = json_object_get(h, "kid");
    if (!alg_name || (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT"))))
        goto malformed;
    if (kid_j && !json_is_string(kid_j))
        goto malformed;
    /* RFC 7515 4.1.11: extensions listed in crit must be understood; we understand none. */
    if (json_object_get(h, "crit"))
        goto malformed;
    *alg = alg_from_name(alg_name);
    *kid = json_string_value(kid_j);
    *header = h;
    return RP_AUTH_OK;
malformed:
    json_decref(h);
    return RP_AUTH_MALFORMED;
}

/* A NumericDate in ms; false when <v> is not a number or is absurdly far from 1970. */
static bool
numeric_date_ms(const json_t *v, int64_t *ms)
{
    if (json_is_integer(v)) {
        json_int_t s = json_integer_value(v);
        if (s > MAX_DATE_SEC || s < -MAX_DATE_SEC)
            return false;
        *ms = (int64_t)s * 1000;
        return true;
    }
    if (json_is_real(v)) {
        double s = json_real_value(v);
        if (!(s <= (double)MAX_DATE_SEC && s >= -(double)MAX_DATE_SEC))
            return false;
        *ms = (int64_t)(s * 1000.0);
        return true;
    }
    return false;
}

static int64_t
add_sat(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b; /* b >= 0 */
}

static int64_t
sub_sat(int64_t a, int64_t b)
{
    return a < INT64_MIN + b ? INT64_MIN : a - b; /* b >= 0 */
}

static bool
audience_has(const json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    const json_t *v;
    json_array_foreach (aud, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
            return true;
    }
    return false;
}

static enum rp_auth_result
copy_filters(const json_t *list, struct rp_grant *g,
             int (*add)(struct rp_grant *, const char *, size_t))
{
    if (!list)
        return RP_AUTH_OK;
    if (!json_is_array(list) || json_array_size(list) > RP_JWT_MAX_FILTERS)
        return RP_AUTH_MALFORMED;
    size_t i;
    const json_t *v;
    json_array_foreach (list, i, v) {
        if (!json_is_string(v) || add(g, json_string_value(v), json_string_length(v)) != 0)
            return RP_AUTH_MALFORMED;
    }
    return RP_AUTH_OK;
}

/* Reads the verified claims into the zeroed <g>; on failure <g> may be partly filled. */
static enum rp_auth_result
check_claims(const json_t *claims, int64_t now_ms, const struct rp_jwt_options *opt,
             struct rp_grant *g)
{
    if (!json_is_object(claims))
        return RP_AUTH_MALFORMED;
    const json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf");
    const json_t *iat = json_object_get(claims, "iat"), *sub = json_object_get(claims, "sub");
    int64_t exp_ms = 0, nbf_ms = 0, iat_ms = 0;
    if ((exp && !numeric_date_ms(exp, &exp_ms)) || (nbf && !numeric_date_ms(nbf, &nbf_ms)) ||
        (iat && !numeric_date_ms(iat, &iat_ms)) || (sub && !json_is_string(sub)))
        return RP_AUTH_MALFORMED;

    int64_t leeway = opt && opt->leeway_ms > 0 ? opt->leeway_ms : 0;
    if (exp && exp_ms <= sub_sat(now_ms, leeway))
        return RP_AUTH_EXPIRED;
    if ((nbf && nbf_ms > add_sat(now_ms, leeway)) || (iat && iat_ms > add_sat(now_ms, leeway)))
        return RP_AUTH_NOT_YET_VALID;

    if (opt && opt->issuer) {
        const char *iss = json_string_value(json_object_get(claims, "iss"));
        if (!iss || strcmp(iss, opt->issuer) != 0)
            return RP_AUTH_BAD_ISSUER;
    }
    if (opt && opt->audience && !audience_has(json_object_get(claims, "aud"), opt->audience))
        return RP_AUTH_BAD_AUDIENCE;

    enum rp_auth_result r = copy_filters(json_object_get(claims, "read"), g, rp_grant_add_read);
    if (r == RP_AUTH_OK)
        r = copy_filters(json_object_get(claims, "write"), g, rp_grant_add_write);
    if (r != RP_AUTH_OK)
        return r;
    if (sub)
        g->sub = rp_xstrdup(json_string_value(sub));
    /* 0 means "never" in a grant; a past exp that the leeway still accepts is not never. */
    g->expires_ms = exp ? (exp_ms > 0 ? exp_ms : 1) : 0;
    return RP_AUTH_OK;
}

enum rp_auth_result
rp_jwt_verify(const struct rp_jwt_keys *keys, const char *token, size_t len, int64_t now_ms,
              const struct rp_jwt_options *opt, struct rp_grant *out)
{
    if (!token || len == 0)
        return RP_AUTH_MISSING;
    if (len > RP_JWT_MAX_TOKEN)
        return RP_AUTH_TOO_LARGE;

    /* Shape: exactly three base64url segments; header and payload not empty. */
    const char *end = token + len;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)))
        return RP_AUTH_MALFORMED;
    const char *h64 = token, *p64 = dot1 + 1, *s64 = dot2 + 1;
    size_t h64_len = (size_t)(dot1 - h64), p64_len = (size_t)(dot2 - p64);
    size_t s64_len = (size_t)(end - s64);
    if (h64_len == 0 || p64_len == 0 || !rp_b64url_valid(h64, h64_len) ||
        !rp_b64url_valid(p64, p64_len) || !rp_b64url_valid(s64, s64_len))
        return RP_AUTH_MALFORMED;

    /* One buffer holds every decoded segment: each decodes to fewer bytes than it has. */
    unsigned char *buf = rp_xmalloc(len);
    unsigned char *hdr = buf, *sig = buf + h64_len, *payload = sig + s64_len;
    json_t *header = NULL, *claims = NULL;
    struct rp_grant g = {0};
    enum rp_auth_result r;

    int alg = -1;
    const char *kid = NULL;
    r = parse_header(hdr, rp_b64url_decode(h64, h64_len, hdr), &header, &alg, &kid);
    if (r != RP_AUTH_OK)
        goto out;
    if (alg < 0 || !keys) {
        r = RP_AUTH_BAD_ALG; /* "none", or anything but HS256, RS256, ES256 */
        goto out;
    }
    size_t sig_len = rp_b64url_decode(s64, s64_len, sig);
    ERR_set_mark();
    r = check_signature(keys, (enum jwt_alg)alg, kid, token, (size_t)(dot2 - token), sig, sig_len);
    ERR_pop_to_mark();
    if (r != RP_AUTH_OK)
        goto out;

    /* Only now, with the signature verified, are the claims read. */
    claims = json_loadb((const char *)payload, rp_b64url_decode(p64, p64_len, payload),
                        JSON_REJECT_DUPLICATES, NULL);
    r = check_claims(claims, now_ms, opt, &g);
    if (r == RP_AUTH_OK) {
        *out = g;
        memset(&g, 0, sizeof(g));
    }
out:
    rp_grant_fini(&g);
    json_decref(claims);
    json_decref(header);
    free(buf);
    return r;
}

/* ---- signing ---- */

static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1; /* never prompt on a terminal; encrypted keys are refused */
}

/* Signs <input> with <pkey> into the malloc'd JWS signature *<sig>. */
static int
sign_pkey(EVP_PKEY *pkey, enum jwt_alg alg, const char *input, size_t input_len,
          unsigned char **sig, size_t *sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t der_len = 0;
    unsigned char *der = NULL;
    int rc = -EIO;
    if (!ctx || EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, pkey, NULL) != 1 ||
        EVP_DigestSign(ctx, NULL, &der_len, (const unsigned char *)input, input_len) != 1)
        goto out;
    der = rp_xmalloc(der_len);
    if (EVP_DigestSign(ctx, der, &der_len, (const unsigned char *)input, input_len) != 1)
        goto out;
    if (alg == JWT_ALG_RS256) {
        *sig = der;
        *sig_len = der_len;
        der = NULL;
        rc = 0;
        goto out;
    }
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (es) {
        const BIGNUM *r, *s;
        ECDSA_SIG_get0(es, &r, &s);
        unsigned char *raw = rp_xmalloc(ES256_SIG_LEN);
        if (BN_bn2binpad(r, raw, ES256_SIG_LEN / 2) == ES256_SIG_LEN / 2 &&
            BN_bn2binpad(s, raw + ES256_SIG_LEN / 2, ES256_SIG_LEN / 2) == ES256_SIG_LEN / 2) {
            *sig = raw;
            *sig_len = ES256_SIG_LEN;
            rc = 0;
        } else {
            free(raw);
        }
        ECDSA_SIG_free(es);
    }
out:
    free(der);
    EVP_MD_CTX_free(ctx);
    return rc;
}

static EVP_PKEY *
read_private_key(const char *path, struct rp_diag *diag, int *rc)
{
    size_t len = 0;
    char *text = read_file("private key file", path, &len, rc, diag);
    if (!text)
        return NULL;
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    OPENSSL_cleanse(text, len);
    free(text);
    if (!pkey)
        *rc =
            fail(diag, -EINVAL, "private key file %s: no unencrypted PEM private key found", path);
    return pkey;
}

int
rp_jwt_sign(const char *secret, const char *private_key_file, const char *kid,
            const char *claims_json, char **out, struct rp_diag *diag)
{
    *out = NULL;
    rp_diag_clear(diag);
    if ((secret == NULL) == (private_key_file == NULL))
        return fail(diag, -EINVAL, "jwt sign: give exactly one of a secret or a private key file");
    if (!claims_json)
        return fail(diag, -EINVAL, "jwt sign: no claims");

    json_error_t jerr;
    json_t *claims = json_loads(claims_json, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(claims)) {
        json_decref(claims);
        return fail(diag, -EINVAL, "jwt claims: not a JSON object%s%s", claims ? "" : ": ",
                    claims ? "" : jerr.text);
    }
    ERR_set_mark();
    EVP_PKEY *pkey = NULL;
    json_t *header = NULL;
    char *h_txt = NULL, *c_txt = NULL, *token = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    enum jwt_alg alg = JWT_ALG_HS256;
    int rc = 0;

    if (secret) {
        if (strlen(secret) < RP_JWT_MIN_SECRET) {
            rc = fail(diag, -EINVAL, "jwt secret: too short for HS256 (at least %d bytes)",
                      RP_JWT_MIN_SECRET);
            goto out;
        }
    } else {
        pkey = read_private_key(private_key_file, diag, &rc);
        if (!pkey)
            goto out;
        const char *why = check_pkey(pkey, &alg);
        if (why) {
            rc = fail(diag, -EINVAL, "private key file %s: %s", private_key_file, why);
            goto out;
        }
    }
    header = json_pack("{s:s, s:s}", "alg", alg_names[alg], "typ", "JWT");
    if (kid && json_object_set_new(header, "kid", json_string(kid)) != 0) {
        rc = fail(diag, -EINVAL, "jwt kid: not valid UTF-8");
        goto out;
    }
    h_txt = json_dumps(header, JSON_COMPACT);
    c_txt = json_dumps(claims, JSON_COMPACT);
    if (!h_txt || !c_txt) {
        rc = fail(diag, -ENOMEM, "jwt sign: cannot encode the JSON");
        goto out;
    }
    size_t h_len = strlen(h_txt), c_len = strlen(c_txt);
    size_t max_sig = pkey ? (size_t)EVP_PKEY_get_size(pkey) + ES256_SIG_LEN : HS256_MAC_LEN;
    token = rp_xmalloc(rp_b64url_encoded_len(h_len) + rp_b64url_encoded_len(c_len) +
                       rp_b64url_encoded_len(max_sig) + 3);
    size_t n = rp_b64url_encode((const unsigned char *)h_txt, h_len, token);
    token[n++] = '.';
    n += rp_b64url_encode((const unsigned char *)c_txt, c_len, token + n);
    if (secret) {
        unsigned int mac_len = 0;
        sig = rp_xmalloc(EVP_MAX_MD_SIZE);
        if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)token, n, sig,
                  &mac_len))
            rc = -EIO;
        sig_len = mac_len;
    } else {
        rc = sign_pkey(pkey, alg, token, n, &sig, &sig_len);
    }
    if (rc || sig_len > max_sig) {
        rc = fail(diag, rc ? rc : -EIO, "jwt sign: the %s signature failed", alg_names[alg]);
        goto out;
    }
    token[n++] = '.';
    n += rp_b64url_encode(sig, sig_len, token + n);
    token[n] = '\0';
    *out = token;
    token = NULL;
out:
    ERR_pop_to_mark();
    free(token);
    free(sig);
    free(h_txt);
    free(c_txt);
    json_decref(header);
    json_decref(claims);
    EVP_PKEY_free(pkey);
    return rc;
}
