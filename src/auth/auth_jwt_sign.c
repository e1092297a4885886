/* SPDX-License-Identifier: MIT */
/* Signing, for `revenprox token` and tests: HS256 with a secret, RS256 or ES256 with a PEM key. */
#include "auth/auth_jwt.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth/auth_jwt_keys.h"
#include "base/alloc.h"
#include "base/b64url.h"
#include "base/diag.h"

static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1; /* never prompt on a terminal; encrypted keys are refused */
}

/* Signs <input> with <pkey> into the malloc'd JWS signature *<sig>. */
static int
sign_pkey(EVP_PKEY *pkey, enum rp_jwt_alg alg, const char *input, size_t input_len,
          unsigned char **sig, size_t *sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t der_len = 0;
    unsigned char *der = NULL;
    int rc = -EIO;
    /* Ed25519 signs the message itself: no digest. */
    const char *md = alg == RP_JWT_ALG_EDDSA ? NULL : "SHA256";
    if (!ctx || EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, pkey, NULL) != 1 ||
        EVP_DigestSign(ctx, NULL, &der_len, (const unsigned char *)input, input_len) != 1)
        goto out;
    der = rp_xmalloc(der_len);
    if (EVP_DigestSign(ctx, der, &der_len, (const unsigned char *)input, input_len) != 1)
        goto out;
    if (alg == RP_JWT_ALG_RS256 || alg == RP_JWT_ALG_EDDSA) { /* already the JWS form */
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
        unsigned char *raw = rp_xmalloc(RP_JWT_ES256_SIG_LEN);
        if (BN_bn2binpad(r, raw, RP_JWT_ES256_SIG_LEN / 2) == RP_JWT_ES256_SIG_LEN / 2 &&
            BN_bn2binpad(s, raw + RP_JWT_ES256_SIG_LEN / 2, RP_JWT_ES256_SIG_LEN / 2) ==
                RP_JWT_ES256_SIG_LEN / 2) {
            *sig = raw;
            *sig_len = RP_JWT_ES256_SIG_LEN;
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
    char *text = rp_jwt_read_file("private key file", path, &len, rc, diag);
    if (!text)
        return NULL;
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    OPENSSL_cleanse(text, len);
    free(text);
    if (!pkey)
        *rc = rp_jwt_fail(diag, -EINVAL,
                          "private key file %s: no unencrypted PEM private key found", path);
    return pkey;
}

/*
 * Checks the HS256 <secret>, or reads the private key in <private_key_file> into *<pkey>
 * (the caller frees it, also on failure) and sets *<alg> from it. 0, or -errno with <diag>.
 */
static int
signing_key(const char *secret, const char *private_key_file, EVP_PKEY **pkey, enum rp_jwt_alg *alg,
            struct rp_diag *diag)
{
    int rc = 0;

    if (secret) {
        if (strlen(secret) < RP_JWT_MIN_SECRET)
            return rp_jwt_fail(diag, -EINVAL, "jwt secret: too short for HS256 (at least %d bytes)",
                               RP_JWT_MIN_SECRET);
        return 0;
    }
    *pkey = read_private_key(private_key_file, diag, &rc);
    if (!*pkey)
        return rc;
    const char *why = rp_jwt_check_pkey(*pkey, alg);
    if (why)
        return rp_jwt_fail(diag, -EINVAL, "private key file %s: %s", private_key_file, why);
    return 0;
}

/* Signs the <input_len> bytes at <input> with <secret> (HS256) or <pkey> into *<sig>. */
static int
sign_input(const char *secret, EVP_PKEY *pkey, enum rp_jwt_alg alg, const char *input,
           size_t input_len, unsigned char **sig, size_t *sig_len)
{
    unsigned int mac_len = 0;

    if (!secret)
        return sign_pkey(pkey, alg, input, input_len, sig, sig_len);
    *sig = rp_xmalloc(EVP_MAX_MD_SIZE);
    bool ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)input,
                   input_len, *sig, &mac_len) != NULL;
    *sig_len = mac_len;
    return ok ? 0 : -EIO;
}

int
rp_jwt_sign(const char *secret, const char *private_key_file, const char *kid,
            const char *claims_json, char **out, struct rp_diag *diag)
{
    *out = NULL;
    rp_diag_clear(diag);
    if ((secret == NULL) == (private_key_file == NULL))
        return rp_jwt_fail(diag, -EINVAL,
                           "jwt sign: give exactly one of a secret or a private key file");
    if (!claims_json)
        return rp_jwt_fail(diag, -EINVAL, "jwt sign: no claims");

    json_error_t jerr;
    json_t *claims = json_loads(claims_json, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(claims)) {
        json_decref(claims);
        return rp_jwt_fail(diag, -EINVAL, "jwt claims: not a JSON object%s%s", claims ? "" : ": ",
                           claims ? "" : jerr.text);
    }
    ERR_set_mark();
    EVP_PKEY *pkey = NULL;
    json_t *header = NULL;
    char *h_txt = NULL, *c_txt = NULL, *token = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    enum rp_jwt_alg alg = RP_JWT_ALG_HS256;
    int rc = 0;

    rc = signing_key(secret, private_key_file, &pkey, &alg, diag);
    if (rc)
        goto out;
    header = json_pack("{s:s, s:s}", "alg", rp_jwt_alg_name(alg), "typ", "JWT");
    if (kid && json_object_set_new(header, "kid", json_string(kid)) != 0) {
        rc = rp_jwt_fail(diag, -EINVAL, "jwt kid: not valid UTF-8");
        goto out;
    }
    h_txt = json_dumps(header, JSON_COMPACT);
    c_txt = json_dumps(claims, JSON_COMPACT);
    if (!h_txt || !c_txt) {
        rc = rp_jwt_fail(diag, -ENOMEM, "jwt sign: cannot encode the JSON");
        goto out;
    }
    size_t h_len = strlen(h_txt), c_len = strlen(c_txt);
    size_t max_sig =
        pkey ? (size_t)EVP_PKEY_get_size(pkey) + RP_JWT_ES256_SIG_LEN : RP_JWT_HS256_MAC_LEN;
    token = rp_xmalloc(rp_b64url_encoded_len(h_len) + rp_b64url_encoded_len(c_len) +
                       rp_b64url_encoded_len(max_sig) + 3);
    size_t n = rp_b64url_encode((const unsigned char *)h_txt, h_len, token);
    token[n++] = '.';
    n += rp_b64url_encode((const unsigned char *)c_txt, c_len, token + n);
    rc = sign_input(secret, pkey, alg, token, n, &sig, &sig_len);
    if (rc || sig_len > max_sig) {
        rc = rp_jwt_fail(diag, rc ? rc : -EIO, "jwt sign: the %s signature failed",
                         rp_jwt_alg_name(alg));
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
