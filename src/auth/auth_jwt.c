/* SPDX-License-Identifier: MIT */
/*
 * Verification: the token's shape, its JOSE header, the signature against the keys the
 * header allows, and only then the claims. Keys come from auth_jwt_keys.c, signing is in
 * auth_jwt_sign.c.
 */
#include "auth/auth_jwt.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/auth_jwt_keys.h"
#include "base/alloc.h"
#include "base/b64url.h"

/* NumericDate bounds (seconds) that keep the millisecond value far from int64 overflow. */
#define MAX_DATE_SEC 10000000000000LL

static bool
verify_hs256(const struct rp_jwt_keys *ks, const struct rp_jwt_key *k, const char *input,
             size_t input_len, const unsigned char *sig, size_t sig_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (sig_len != RP_JWT_HS256_MAC_LEN)
        return false;
    if (!HMAC(ks->sha256, k->secret, (int)k->secret_len, (const unsigned char *)input, input_len,
              mac, &mac_len) ||
        mac_len != RP_JWT_HS256_MAC_LEN)
        return false;
    return CRYPTO_memcmp(mac, sig, RP_JWT_HS256_MAC_LEN) == 0;
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
verify_es256(const struct rp_jwt_keys *ks, const struct rp_jwt_key *k, const char *input,
             size_t input_len, const unsigned char *sig, size_t sig_len)
{
    if (sig_len != RP_JWT_ES256_SIG_LEN)
        return false;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, RP_JWT_ES256_SIG_LEN / 2, NULL);
    BIGNUM *s = BN_bin2bn(sig + RP_JWT_ES256_SIG_LEN / 2, RP_JWT_ES256_SIG_LEN / 2, NULL);
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

/* Ed25519 signs the message itself (no separate digest): 64 raw bytes (RFC 8037). */
static bool
verify_eddsa(const struct rp_jwt_key *k, const char *input, size_t input_len,
             const unsigned char *sig, size_t sig_len)
{
    if (sig_len != RP_JWT_EDDSA_SIG_LEN)
        return false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
              EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)input, input_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static bool
key_verifies(const struct rp_jwt_keys *ks, const struct rp_jwt_key *k, const char *input,
             size_t input_len, const unsigned char *sig, size_t sig_len)
{
    switch (k->alg) {
    case RP_JWT_ALG_HS256:
        return verify_hs256(ks, k, input, input_len, sig, sig_len);
    case RP_JWT_ALG_RS256:
        return sig_len == (size_t)EVP_PKEY_get_size(k->pkey) &&
               digest_verify(ks, k->pkey, input, input_len, sig, sig_len);
    case RP_JWT_ALG_ES256:
        return verify_es256(ks, k, input, input_len, sig, sig_len);
    case RP_JWT_ALG_EDDSA:
        return verify_eddsa(k, input, input_len, sig, sig_len);
    }
    return false;
}

/*
 * Checks the signature with the keys the header allows (see the contract of rp_jwt_verify
 * for the choice).
 */
static enum rp_auth_result
check_signature(const struct rp_jwt_keys *ks, enum rp_jwt_alg alg, const char *kid,
                const char *input, size_t input_len, const unsigned char *sig, size_t sig_len)
{
    size_t n_type = 0, n_kid = 0, n_tried = 0;
    for (size_t i = 0; i < ks->n; i++)
        n_type += ks->keys[i].alg == alg;
    if (n_type == 0)
        return RP_AUTH_BAD_ALG;
    for (size_t i = 0; i < ks->n; i++) {
        const struct rp_jwt_key *k = &ks->keys[i];
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
parse_header(const unsigned char *p, size_t n, json_t **header, int *alg, const char **kid,
             bool *at_jwt)
{
    json_t *h = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(h))
        goto malformed;
    const char *alg_name = json_string_value(json_object_get(h, "alg"));
    const json_t *typ = json_object_get(h, "typ");
    const json_t *kid_j = json_object_get(h, "kid");
    /* "JWT", or with <at_jwt> (RFC 9068 access tokens, asked for by the Mercure endpoint)
     * also "at+jwt" / "application/at+jwt", which it then reports. */
    const char *t = json_string_value(typ);
    bool is_at = t && at_jwt && (!strcasecmp(t, "at+jwt") || !strcasecmp(t, "application/at+jwt"));
    if (!alg_name || (typ && (!t || (strcasecmp(t, "JWT") && !is_at))))
        goto malformed;
    if (at_jwt)
        *at_jwt = is_at;
    if (kid_j && !json_is_string(kid_j))
        goto malformed;
    /* RFC 7515 4.1.11: extensions listed in crit must be understood; we understand none. */
    if (json_object_get(h, "crit"))
        goto malformed;
    *alg = rp_jwt_alg_from_name(alg_name);
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

/* Verifies <token> and its claims; RP_AUTH_OK with the grant in <out> and, when <claims_out>
 * is not NULL, the claims document in *<claims_out> (the caller decrefs it). */
static enum rp_auth_result
verify(const struct rp_jwt_keys *keys, const char *token, size_t len, int64_t now_ms,
       const struct rp_jwt_options *opt, struct rp_grant *out, json_t **claims_out, bool *at_jwt)
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
    r = parse_header(hdr, rp_b64url_decode(h64, h64_len, hdr), &header, &alg, &kid, at_jwt);
    if (r != RP_AUTH_OK)
        goto out;
    if (alg < 0 || !keys) {
        r = RP_AUTH_BAD_ALG; /* "none", or anything but HS256, RS256, ES256, EdDSA */
        goto out;
    }
    size_t sig_len = rp_b64url_decode(s64, s64_len, sig);
    ERR_set_mark();
    r = check_signature(keys, (enum rp_jwt_alg)alg, kid, token, (size_t)(dot2 - token), sig,
                        sig_len);
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
        if (claims_out) {
            *claims_out = claims;
            claims = NULL;
        }
    }
out:
    rp_grant_fini(&g);
    json_decref(claims);
    json_decref(header);
    free(buf);
    return r;
}

enum rp_auth_result
rp_jwt_verify(const struct rp_jwt_keys *keys, const char *token, size_t len, int64_t now_ms,
              const struct rp_jwt_options *opt, struct rp_grant *out)
{
    return verify(keys, token, len, now_ms, opt, out, NULL, NULL);
}

enum rp_auth_result
rp_jwt_verify_claims(const struct rp_jwt_keys *keys, const char *token, size_t len, int64_t now_ms,
                     const struct rp_jwt_options *opt, struct rp_grant *out, struct json_t **claims,
                     bool *at_jwt)
{
    *claims = NULL;
    *at_jwt = false;
    return verify(keys, token, len, now_ms, opt, out, claims, at_jwt);
}
