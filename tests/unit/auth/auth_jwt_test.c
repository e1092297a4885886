/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of auth/auth_jwt: the RFC 7515 A.1 example, sign + verify round trips for
 * HS256, RS256, ES256 and EdDSA (keys generated per run into a mkdtemp directory), tampering,
 * alg none and algorithm confusion, key choice by kid in a JWKS, time and aud/iss claims,
 * read/write claims as a grant, malformed tokens, and key loading errors.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth/auth_jwt.h"
#include "base/b64url.h"
#include "base/diag.h"

#define NOW_MS 1700000000000LL
#define NOW_S (NOW_MS / 1000)

static const char SECRET[] = "an HS256 test secret of 40 bytes.......";
static const char OTHER_SECRET[] = "another HS256 secret, also long enough..";

/* Keys generated once for the whole run, and their PEM files. */
static char dir[64];
static EVP_PKEY *rsa, *rsa2, *ec, *ec2, *ed;
static char rsa_pub[128], rsa_priv[128], rsa2_priv[128], ec_pub[128], ec_priv[128], ec2_priv[128];
static char ed_pub[128], ed_priv[128];

/* ---- helpers ---- */

static char *
b64url(const void *data, size_t n)
{
    char *out = malloc(rp_b64url_encoded_len(n) + 1);
    out[rp_b64url_encode(data, n, out)] = '\0';
    return out;
}

static char *
b64url_str(const char *s)
{
    return b64url(s, strlen(s));
}

static char *
b64url_bn(const BIGNUM *bn)
{
    unsigned char buf[1024];
    int n = BN_bn2bin(bn, buf);
    return b64url(buf, (size_t)n);
}

static char *
join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
    char *out = malloc(n);
    snprintf(out, n, "%s.%s.%s", a, b, c);
    return out;
}

/* An HS256 token over arbitrary header and payload text, MAC'd with <key>. */
static char *
hs256_raw(const char *header, const char *payload, const void *key, size_t key_len)
{
    char *h = b64url_str(header), *p = b64url_str(payload);
    size_t n = strlen(h) + strlen(p) + 2;
    char *input = malloc(n);
    snprintf(input, n, "%s.%s", h, p);
    unsigned char mac[32];
    unsigned int mac_len = 0;
    assert_non_null(HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)input,
                         strlen(input), mac, &mac_len));
    char *s = b64url(mac, mac_len);
    char *token = join3(h, p, s);
    free(h);
    free(p);
    free(s);
    free(input);
    return token;
}

static char *
hs256(const char *payload)
{
    return hs256_raw("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, SECRET, strlen(SECRET));
}

static char *
sign_ok(const char *secret, const char *key_file, const char *kid, const char *claims)
{
    struct rp_diag err;
    char *token = NULL;
    int rc = rp_jwt_sign(secret, key_file, kid, claims, &token, &err);
    if (rc != 0)
        fail_msg("rp_jwt_sign: %d %s", rc, err.msg);
    assert_non_null(token);
    return token;
}

static struct rp_jwt_keys *
load_ok(const char *secret, const char *key_file, const char *jwks_file)
{
    struct rp_diag err;
    struct rp_jwt_keys *keys = NULL;
    int rc = rp_jwt_keys_load(&keys, secret, key_file, jwks_file, &err);
    if (rc != 0)
        fail_msg("rp_jwt_keys_load: %d %s", rc, err.msg);
    assert_non_null(keys);
    return keys;
}

/* Verifies and checks the contract that a failure leaves the grant zeroed. */
static enum rp_auth_result
verify_opt(const struct rp_jwt_keys *keys, const char *token, int64_t now_ms,
           const struct rp_jwt_options *opt, struct rp_grant *g)
{
    static const struct rp_grant zero;
    memset(g, 0, sizeof(*g));
    enum rp_auth_result r = rp_jwt_verify(keys, token, strlen(token), now_ms, opt, g);
    if (r != RP_AUTH_OK)
        assert_memory_equal(g, &zero, sizeof(zero));
    return r;
}

/* Verifies at NOW_MS without options, drops the grant and returns the result. */
static enum rp_auth_result
verify(const struct rp_jwt_keys *keys, const char *token)
{
    struct rp_grant g;
    enum rp_auth_result r = verify_opt(keys, token, NOW_MS, NULL, &g);
    rp_grant_fini(&g);
    return r;
}

static void
expect(const struct rp_jwt_keys *keys, const char *token, enum rp_auth_result want)
{
    enum rp_auth_result got = verify(keys, token);
    if (got != want)
        fail_msg("token %.80s: got %s, want %s", token, rp_auth_result_name(got),
                 rp_auth_result_name(want));
}

/* Like expect(), and frees <token>. */
static void
expect_free(const struct rp_jwt_keys *keys, char *token, enum rp_auth_result want)
{
    expect(keys, token, want);
    free(token);
}

static void
write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static char *
read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void
path_in_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void
write_pem(EVP_PKEY *pkey, char *pub, const char *pub_name, char *priv, const char *priv_name)
{
    if (pub) {
        path_in_dir(pub, 128, pub_name);
        FILE *f = fopen(pub, "w");
        assert_non_null(f);
        assert_int_equal(PEM_write_PUBKEY(f, pkey), 1);
        fclose(f);
    }
    path_in_dir(priv, 128, priv_name);
    FILE *f = fopen(priv, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

/* Replaces the segment <which> (0..2) of <token> by <seg>. */
static char *
replace_segment(const char *token, int which, const char *seg)
{
    const char *d1 = strchr(token, '.'), *d2 = strchr(d1 + 1, '.');
    char *h = strndup(token, (size_t)(d1 - token));
    char *p = strndup(d1 + 1, (size_t)(d2 - d1 - 1));
    char *s = strdup(d2 + 1);
    char *out = join3(which == 0 ? seg : h, which == 1 ? seg : p, which == 2 ? seg : s);
    free(h);
    free(p);
    free(s);
    return out;
}

static size_t
segment_len(const char *token, int which)
{
    const char *d1 = strchr(token, '.'), *d2 = strchr(d1 + 1, '.');
    if (which == 2)
        return strlen(d2 + 1);
    return which == 0 ? (size_t)(d1 - token) : (size_t)(d2 - d1 - 1);
}

/* ---- fixtures ---- */

static int
group_setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/rp_jwt_test_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!rsa || !rsa2 || !ec || !ec2 || !ed)
        return -1;
    write_pem(ed, ed_pub, "ed_pub.pem", ed_priv, "ed_priv.pem");
    write_pem(rsa, rsa_pub, "rsa_pub.pem", rsa_priv, "rsa_priv.pem");
    write_pem(rsa2, NULL, NULL, rsa2_priv, "rsa2_priv.pem");
    write_pem(ec, ec_pub, "ec_pub.pem", ec_priv, "ec_priv.pem");
    write_pem(ec2, NULL, NULL, ec2_priv, "ec2_priv.pem");
    return 0;
}

static int
group_teardown(void **state)
{
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa2);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ec2);
    EVP_PKEY_free(ed);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- tests ---- */

/* RFC 7515 appendix A.1: the HS256 example, with its key as a JWK and as a raw secret. */
static const char RFC_TOKEN[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0"
    "cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char RFC_K[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

static void
test_rfc7515_a1(void **state)
{
    char jwks[160], doc[256];
    path_in_dir(jwks, sizeof(jwks), "rfc.jwks");
    snprintf(doc, sizeof(doc), "{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\"}]}", RFC_K);
    write_text(jwks, doc);
    struct rp_jwt_keys *keys = load_ok(NULL, NULL, jwks);
    assert_int_equal(rp_jwt_keys_count(keys), 1);

    struct rp_grant g;
    struct rp_jwt_options opt = {.issuer = "joe"};
    assert_int_equal(verify_opt(keys, RFC_TOKEN, 1300819379000LL, &opt, &g), RP_AUTH_OK);
    assert_null(g.sub);
    assert_int_equal(g.expires_ms, 1300819380000LL);
    assert_int_equal(g.n_read, 0);
    assert_int_equal(g.n_write, 0);
    rp_grant_fini(&g);
    /* exp is 1300819380: expired from that second on. */
    assert_int_equal(verify_opt(keys, RFC_TOKEN, 1300819380000LL, &opt, &g), RP_AUTH_EXPIRED);
    assert_int_equal(verify_opt(keys, RFC_TOKEN, NOW_MS, &opt, &g), RP_AUTH_EXPIRED);
    rp_jwt_keys_free(keys);

    /* The same 64 key bytes (no NUL among them) as an HS256 secret. */
    char secret[65];
    size_t o = rp_b64url_decode(RFC_K, strlen(RFC_K), (unsigned char *)secret);
    secret[o] = '\0';
    assert_int_equal(o, 64);
    assert_int_equal(strlen(secret), 64);
    keys = load_ok(secret, NULL, NULL);
    assert_int_equal(verify_opt(keys, RFC_TOKEN, 1300819379000LL, NULL, &g), RP_AUTH_OK);
    rp_grant_fini(&g);
    /* One flipped signature character fails. */
    char bad[sizeof(RFC_TOKEN)];
    memcpy(bad, RFC_TOKEN, sizeof(RFC_TOKEN));
    bad[sizeof(RFC_TOKEN) - 10] = bad[sizeof(RFC_TOKEN) - 10] == 'A' ? 'B' : 'A';
    assert_int_equal(verify_opt(keys, bad, 1300819379000LL, NULL, &g), RP_AUTH_BAD_SIGNATURE);
    rp_jwt_keys_free(keys);
}

static void
check_round_trip(const char *secret, const char *priv, const char *pub, const char *alg,
                 size_t sig_b64_len)
{
    char claims[256];
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"alice\",\"exp\":%lld,\"read\":[\"news/+\"],\"write\":[\"chat/1\"]}",
             NOW_S + 60);
    char *token = sign_ok(secret, priv, NULL, claims);
    /* The header names the algorithm. */
    char want[64];
    snprintf(want, sizeof(want), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    char *want64 = b64url_str(want);
    assert_int_equal(strncmp(token, want64, strlen(want64)), 0);
    free(want64);
    if (sig_b64_len)
        assert_int_equal(segment_len(token, 2), sig_b64_len);

    struct rp_jwt_keys *keys = load_ok(secret, pub, NULL);
    struct rp_grant g;
    assert_int_equal(verify_opt(keys, token, NOW_MS, NULL, &g), RP_AUTH_OK);
    assert_string_equal(g.sub, "alice");
    assert_int_equal(g.expires_ms, (NOW_S + 60) * 1000);
    assert_int_equal(g.n_read, 1);
    assert_string_equal(g.read[0], "news/+");
    assert_int_equal(g.n_write, 1);
    assert_string_equal(g.write[0], "chat/1");
    rp_grant_fini(&g);

    /* Tampered payload: a different, well-formed claims segment under the old signature. */
    char *evil = b64url_str("{\"sub\":\"mallory\",\"read\":[\"#\"],\"write\":[\"#\"]}");
    char *t = replace_segment(token, 1, evil);
    expect_free(keys, t, RP_AUTH_BAD_SIGNATURE);
    free(evil);
    /* Tampered header (typ spelled differently, still valid). */
    char hdr2[64];
    snprintf(hdr2, sizeof(hdr2), "{\"alg\":\"%s\",\"typ\":\"jwt\"}", alg);
    char *hdr2_64 = b64url_str(hdr2);
    expect_free(keys, replace_segment(token, 0, hdr2_64), RP_AUTH_BAD_SIGNATURE);
    free(hdr2_64);
    /* Tampered signature: flip characters in the middle (keeps the encoding canonical). */
    size_t sl = segment_len(token, 2);
    for (size_t k = 0; k < 3; k++) {
        char *copy = strdup(token);
        char *c = copy + strlen(copy) - sl + sl / 2 + k * 3;
        *c = *c == 'Q' ? 'R' : 'Q';
        expect_free(keys, copy, RP_AUTH_BAD_SIGNATURE);
    }
    /* A signature from another message. */
    char *other = sign_ok(secret, priv, NULL, "{\"sub\":\"alice\"}");
    const char *other_sig = strrchr(other, '.') + 1;
    expect_free(keys, replace_segment(token, 2, other_sig), RP_AUTH_BAD_SIGNATURE);
    free(other);
    /* Truncated token: signature missing. */
    char *trunc = strndup(token, strlen(token) - sl);
    expect_free(keys, trunc, RP_AUTH_BAD_SIGNATURE);
    free(token);
    rp_jwt_keys_free(keys);
}

static void
test_round_trip_hs256(void **state)
{
    check_round_trip(SECRET, NULL, NULL, "HS256", 43);
}

static void
test_round_trip_rs256(void **state)
{
    check_round_trip(NULL, rsa_priv, rsa_pub, "RS256", 342);
}

static void
test_round_trip_es256(void **state)
{
    /* 64 raw bytes of r || s: 86 base64url characters, not DER. */
    check_round_trip(NULL, ec_priv, ec_pub, "ES256", 86);
}

static void
test_round_trip_eddsa(void **state)
{
    /* Ed25519 (RFC 8037): 64 raw signature bytes, 86 base64url characters. */
    check_round_trip(NULL, ed_priv, ed_pub, "EdDSA", 86);
    /* An EdDSA signature relabelled ES256 is checked as ES256 (no such key): refused. */
    struct rp_jwt_keys *both = load_ok(NULL, ed_pub, NULL);
    char *tok = sign_ok(NULL, ed_priv, NULL, "{}");
    char *hdr = b64url_str("{\"alg\":\"ES256\",\"typ\":\"JWT\"}");
    expect_free(both, replace_segment(tok, 0, hdr), RP_AUTH_BAD_ALG);
    free(hdr);
    free(tok);
    rp_jwt_keys_free(both);
}

static void
test_kid_in_header(void **state)
{
    char *token = sign_ok(SECRET, NULL, "k-1", "{}");
    const char *dot = strchr(token, '.');
    char *want = b64url_str("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k-1\"}");
    assert_int_equal((size_t)(dot - token), strlen(want));
    assert_memory_equal(token, want, strlen(want));
    free(want);
    /* The secret has no kid, so a kid names no key. */
    struct rp_jwt_keys *keys = load_ok(SECRET, NULL, NULL);
    expect_free(keys, token, RP_AUTH_UNKNOWN_KEY);
    rp_jwt_keys_free(keys);
}

static void
test_alg_none_and_others(void **state)
{
    struct rp_jwt_keys *keys = load_ok(SECRET, rsa_pub, NULL);
    char *payload = b64url_str("{\"sub\":\"admin\",\"read\":[\"#\"]}");
    static const char *const headers[] = {
        "{\"alg\":\"none\"}",  "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"None\"}",  "{\"alg\":\"NONE\"}",
        "{\"alg\":\"HS512\"}", "{\"alg\":\"RS384\"}",
        "{\"alg\":\"PS256\"}", "{\"alg\":\"hs256\"}",
        "{\"alg\":\"\"}",      "{\"alg\":\"HS256 \"}",
    };
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        char *h = b64url_str(headers[i]);
        expect_free(keys, join3(h, payload, ""), RP_AUTH_BAD_ALG);
        /* With an HS256 MAC as the signature, still refused for the alg. */
        expect_free(keys, hs256_raw(headers[i], "{\"sub\":\"admin\"}", SECRET, strlen(SECRET)),
                    RP_AUTH_BAD_ALG);
        free(h);
    }
    free(payload);
    rp_jwt_keys_free(keys);
}

static void
test_alg_must_fit_key_type(void **state)
{
    struct rp_jwt_keys *rsa_only = load_ok(NULL, rsa_pub, NULL);
    struct rp_jwt_keys *ec_only = load_ok(NULL, ec_pub, NULL);
    struct rp_jwt_keys *hs_only = load_ok(SECRET, NULL, NULL);

    expect_free(rsa_only, sign_ok(SECRET, NULL, NULL, "{}"), RP_AUTH_BAD_ALG);
    expect_free(ec_only, sign_ok(SECRET, NULL, NULL, "{}"), RP_AUTH_BAD_ALG);
    expect_free(rsa_only, sign_ok(NULL, ec_priv, NULL, "{}"), RP_AUTH_BAD_ALG);
    expect_free(ec_only, sign_ok(NULL, rsa_priv, NULL, "{}"), RP_AUTH_BAD_ALG);
    expect_free(hs_only, sign_ok(NULL, rsa_priv, NULL, "{}"), RP_AUTH_BAD_ALG);
    expect_free(hs_only, sign_ok(NULL, ec_priv, NULL, "{}"), RP_AUTH_BAD_ALG);
    /* No key of the type at all is BAD_ALG even when a kid is given. */
    expect_free(rsa_only, sign_ok(SECRET, NULL, "some-kid", "{}"), RP_AUTH_BAD_ALG);
    expect_free(hs_only, sign_ok(NULL, ec_priv, "some-kid", "{}"), RP_AUTH_BAD_ALG);

    /* An ES256 signature relabelled RS256 is checked as RS256, and fails. */
    char *es = sign_ok(NULL, ec_priv, NULL, "{}");
    char *rs_hdr = b64url_str("{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
    expect_free(rsa_only, replace_segment(es, 0, rs_hdr), RP_AUTH_BAD_SIGNATURE);
    free(rs_hdr);
    free(es);

    rp_jwt_keys_free(rsa_only);
    rp_jwt_keys_free(ec_only);
    rp_jwt_keys_free(hs_only);
}

/* The classic attack: an HS256 token MAC'd with the server's RSA public key PEM text. */
static void
test_hmac_with_public_key_confusion(void **state)
{
    char *pem = read_text(rsa_pub);
    assert_true(strlen(pem) >= RP_JWT_MIN_SECRET);
    const char *claims = "{\"sub\":\"mallory\",\"read\":[\"#\"],\"write\":[\"#\"]}";
    char *forged = sign_ok(pem, NULL, NULL, claims);
    char *forged_raw = hs256_raw("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", claims, pem, strlen(pem));

    struct rp_jwt_keys *rsa_only = load_ok(NULL, rsa_pub, NULL);
    expect(rsa_only, forged, RP_AUTH_BAD_ALG);
    expect(rsa_only, forged_raw, RP_AUTH_BAD_ALG);
    rp_jwt_keys_free(rsa_only);

    /* With a real HS256 secret configured too, the PEM is still never an HMAC key. */
    struct rp_jwt_keys *mixed = load_ok(SECRET, rsa_pub, NULL);
    expect(mixed, forged, RP_AUTH_BAD_SIGNATURE);
    expect(mixed, forged_raw, RP_AUTH_BAD_SIGNATURE);
    rp_jwt_keys_free(mixed);

    /* Nor via a kid pointing at the RSA key of a JWKS. */
    char jwks[160], doc[1200];
    path_in_dir(jwks, sizeof(jwks), "confusion.jwks");
    BIGNUM *n = NULL, *e = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_E, &e), 1);
    char *n64 = b64url_bn(n), *e64 = b64url_bn(e);
    snprintf(doc, sizeof(doc),
             "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r\",\"n\":\"%s\",\"e\":\"%s\"}]}", n64, e64);
    write_text(jwks, doc);
    struct rp_jwt_keys *keys = load_ok(SECRET, NULL, jwks);
    expect_free(keys, sign_ok(pem, NULL, "r", claims), RP_AUTH_BAD_ALG);
    rp_jwt_keys_free(keys);
    free(n64);
    free(e64);
    BN_free(n);
    BN_free(e);

    free(forged);
    free(forged_raw);
    free(pem);
}

static void
test_wrong_key(void **state)
{
    struct rp_jwt_keys *keys = load_ok(SECRET, rsa_pub, NULL);
    expect_free(keys, sign_ok(OTHER_SECRET, NULL, NULL, "{}"), RP_AUTH_BAD_SIGNATURE);
    expect_free(keys, sign_ok(NULL, rsa2_priv, NULL, "{}"), RP_AUTH_BAD_SIGNATURE);
    expect_free(keys, sign_ok(NULL, rsa_priv, NULL, "{}"), RP_AUTH_OK);
    rp_jwt_keys_free(keys);

    keys = load_ok(NULL, ec_pub, NULL);
    expect_free(keys, sign_ok(NULL, ec2_priv, NULL, "{}"), RP_AUTH_BAD_SIGNATURE);
    expect_free(keys, sign_ok(NULL, ec_priv, NULL, "{}"), RP_AUTH_OK);
    rp_jwt_keys_free(keys);
}

static void
test_es256_signature_length(void **state)
{
    struct rp_jwt_keys *keys = load_ok(NULL, ec_pub, NULL);
    char *token = sign_ok(NULL, ec_priv, NULL, "{\"sub\":\"x\"}");
    unsigned char raw[80];
    memset(raw, 0x5a, sizeof(raw));
    size_t lens[] = {0, 1, 32, 63, 65, 72};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        char *s = b64url(raw, lens[i]);
        expect_free(keys, replace_segment(token, 2, s), RP_AUTH_BAD_SIGNATURE);
        free(s);
    }
    /* The same signature in DER form (what OpenSSL produces) is not a JWS signature. */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t der_len = sizeof(raw);
    const char *dot2 = strrchr(token, '.');
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, ec), 1);
    assert_int_equal(
        EVP_DigestSign(ctx, raw, &der_len, (const unsigned char *)token, (size_t)(dot2 - token)),
        1);
    EVP_MD_CTX_free(ctx);
    char *der64 = b64url(raw, der_len);
    expect_free(keys, replace_segment(token, 2, der64), RP_AUTH_BAD_SIGNATURE);
    free(der64);
    /* r = 0 and s = 0 are never valid. */
    memset(raw, 0, 64);
    char *zero64 = b64url(raw, 64);
    expect_free(keys, replace_segment(token, 2, zero64), RP_AUTH_BAD_SIGNATURE);
    free(zero64);
    expect(keys, token, RP_AUTH_OK);
    free(token);
    rp_jwt_keys_free(keys);
}

static enum rp_auth_result
verify_claims_at(const struct rp_jwt_keys *keys, const char *claims, int64_t now_ms,
                 const struct rp_jwt_options *opt)
{
    char *token = hs256(claims);
    struct rp_grant g;
    enum rp_auth_result r = verify_opt(keys, token, now_ms, opt, &g);
    rp_grant_fini(&g);
    free(token);
    return r;
}

static void
test_time_claims(void **state)
{
    struct rp_jwt_keys *keys = load_ok(SECRET, NULL, NULL);
    char c[128];
    struct rp_jwt_options none = {0}, leeway = {.leeway_ms = 10000};
#define AT(opt_, want_, ...)                                                                       \
    do {                                                                                           \
        snprintf(c, sizeof(c), __VA_ARGS__);                                                       \
        enum rp_auth_result got_ = verify_claims_at(keys, c, NOW_MS, &(opt_));                     \
        if (got_ != (want_))                                                                       \
            fail_msg("%s: got %s, want %s", c, rp_auth_result_name(got_),                          \
                     rp_auth_result_name(want_));                                                  \
    } while (0)
    AT(none, RP_AUTH_OK, "{\"exp\":%lld}", NOW_S + 1);
    AT(none, RP_AUTH_EXPIRED, "{\"exp\":%lld}", NOW_S);
    AT(none, RP_AUTH_EXPIRED, "{\"exp\":%lld}", NOW_S - 5);
    AT(leeway, RP_AUTH_OK, "{\"exp\":%lld}", NOW_S - 5);
    AT(leeway, RP_AUTH_EXPIRED, "{\"exp\":%lld}", NOW_S - 10);
    AT(none, RP_AUTH_EXPIRED, "{\"exp\":%lld.5}", NOW_S - 1);
    AT(none, RP_AUTH_OK, "{\"exp\":%lld.5}", NOW_S);
    AT(none, RP_AUTH_NOT_YET_VALID, "{\"nbf\":%lld}", NOW_S + 5);
    AT(none, RP_AUTH_OK, "{\"nbf\":%lld}", NOW_S);
    AT(leeway, RP_AUTH_OK, "{\"nbf\":%lld}", NOW_S + 5);
    AT(leeway, RP_AUTH_NOT_YET_VALID, "{\"nbf\":%lld}", NOW_S + 11);
    AT(none, RP_AUTH_NOT_YET_VALID, "{\"iat\":%lld}", NOW_S + 5);
    AT(none, RP_AUTH_OK, "{\"iat\":%lld}", NOW_S - 5);
    AT(leeway, RP_AUTH_OK, "{\"iat\":%lld}", NOW_S + 5);
    AT(none, RP_AUTH_OK, "{\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}", NOW_S - 1, NOW_S - 1,
       NOW_S + 1);
    AT(none, RP_AUTH_MALFORMED, "{\"exp\":\"%lld\"}", NOW_S + 60);
    AT(none, RP_AUTH_MALFORMED, "{\"nbf\":true}%s", "");
    AT(none, RP_AUTH_MALFORMED, "{\"iat\":null}%s", "");
    AT(none, RP_AUTH_MALFORMED, "{\"exp\":1e300}%s", "");
    AT(none, RP_AUTH_EXPIRED, "{\"exp\":-1}%s", "");
#undef AT
    /* Without exp the grant never expires; with exp it carries it in ms. */
    struct rp_grant g;
    char *token = hs256("{\"sub\":\"a\"}");
    assert_int_equal(verify_opt(keys, token, NOW_MS, NULL, &g), RP_AUTH_OK);
    assert_int_equal(g.expires_ms, 0);
    rp_grant_fini(&g);
    free(token);
    rp_jwt_keys_free(keys);
}

static void
test_audience_and_issuer(void **state)
{
    struct rp_jwt_keys *keys = load_ok(SECRET, NULL, NULL);
    struct rp_jwt_options aud = {.audience = "revenprox"}, iss = {.issuer = "https://idp"};
    struct rp_jwt_options both = {.audience = "revenprox", .issuer = "https://idp"};
    struct {
        const char *claims;
        const struct rp_jwt_options *opt;
        enum rp_auth_result want;
    } cases[] = {
        {"{\"aud\":\"revenprox\"}", &aud, RP_AUTH_OK},
        {"{\"aud\":\"other\"}", &aud, RP_AUTH_BAD_AUDIENCE},
        {"{\"aud\":\"revenprox2\"}", &aud, RP_AUTH_BAD_AUDIENCE},
        {"{\"aud\":[\"a\",\"revenprox\"]}", &aud, RP_AUTH_OK},
        {"{\"aud\":[\"a\",\"b\"]}", &aud, RP_AUTH_BAD_AUDIENCE},
        {"{\"aud\":[]}", &aud, RP_AUTH_BAD_AUDIENCE},
        {"{\"aud\":[1,{\"x\":\"revenprox\"}]}", &aud, RP_AUTH_BAD_AUDIENCE},
        {"{\"aud\":42}", &aud, RP_AUTH_BAD_AUDIENCE},
        {"{}", &aud, RP_AUTH_BAD_AUDIENCE},
        {"{\"aud\":\"other\"}", NULL, RP_AUTH_OK}, /* not checked */
        {"{\"iss\":\"https://idp\"}", &iss, RP_AUTH_OK},
        {"{\"iss\":\"https://idp/\"}", &iss, RP_AUTH_BAD_ISSUER},
        {"{\"iss\":\"HTTPS://IDP\"}", &iss, RP_AUTH_BAD_ISSUER},
        {"{\"iss\":[\"https://idp\"]}", &iss, RP_AUTH_BAD_ISSUER},
        {"{}", &iss, RP_AUTH_BAD_ISSUER},
        {"{\"iss\":\"other\"}", NULL, RP_AUTH_OK},
        {"{\"iss\":\"https://idp\",\"aud\":[\"revenprox\"]}", &both, RP_AUTH_OK},
        {"{\"iss\":\"https://idp\",\"aud\":\"x\"}", &both, RP_AUTH_BAD_AUDIENCE},
        {"{\"iss\":\"x\",\"aud\":\"revenprox\"}", &both, RP_AUTH_BAD_ISSUER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum rp_auth_result got = verify_claims_at(keys, cases[i].claims, NOW_MS, cases[i].opt);
        if (got != cases[i].want)
            fail_msg("%s: got %s, want %s", cases[i].claims, rp_auth_result_name(got),
                     rp_auth_result_name(cases[i].want));
    }
    rp_jwt_keys_free(keys);
}

static void
test_jwks_selects_by_kid(void **state)
{
    BIGNUM *n = NULL, *e = NULL, *x = NULL, *y = NULL, *n2 = NULL, *e2 = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_E, &e), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(rsa2, OSSL_PKEY_PARAM_RSA_N, &n2), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(rsa2, OSSL_PKEY_PARAM_RSA_E, &e2), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(ec, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(ec, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
    unsigned char xb[32], yb[32];
    assert_int_equal(BN_bn2binpad(x, xb, 32), 32);
    assert_int_equal(BN_bn2binpad(y, yb, 32), 32);
    char *n64 = b64url_bn(n), *e64 = b64url_bn(e), *n2_64 = b64url_bn(n2), *e2_64 = b64url_bn(e2);
    char *x64 = b64url(xb, 32), *y64 = b64url(yb, 32), *k64 = b64url_str(OTHER_SECRET);

    char jwks[160];
    path_in_dir(jwks, sizeof(jwks), "keys.jwks");
    size_t cap = 4096;
    char *doc = malloc(cap);
    snprintf(doc, cap,
             "{\"keys\":["
             "{\"kty\":\"RSA\",\"kid\":\"rsa-a\",\"use\":\"sig\",\"alg\":\"RS256\",\"n\":\"%s\","
             "\"e\":\"%s\"},"
             "{\"kty\":\"RSA\",\"kid\":\"rsa-b\",\"n\":\"%s\",\"e\":\"%s\"},"
             "{\"kty\":\"EC\",\"kid\":\"ec-a\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
             "{\"kty\":\"oct\",\"kid\":\"hmac-a\",\"alg\":\"HS256\",\"k\":\"%s\"},"
             "{\"kty\":\"RSA\",\"kid\":\"enc\",\"use\":\"enc\",\"n\":\"%s\",\"e\":\"%s\"},"
             "{\"kty\":\"OKP\",\"kid\":\"ed\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"},"
             "{\"kty\":\"RSA\",\"kid\":\"ps\",\"alg\":\"PS256\",\"n\":\"%s\",\"e\":\"%s\"}"
             "]}",
             n64, e64, n2_64, e2_64, x64, y64, k64, n64, e64, n64, e64);
    write_text(jwks, doc);
    struct rp_jwt_keys *keys = load_ok(NULL, NULL, jwks);
    /* enc, OKP and PS256 keys are skipped. */
    assert_int_equal(rp_jwt_keys_count(keys), 4);

    /* Chosen by kid. */
    expect_free(keys, sign_ok(NULL, rsa_priv, "rsa-a", "{}"), RP_AUTH_OK);
    expect_free(keys, sign_ok(NULL, rsa2_priv, "rsa-b", "{}"), RP_AUTH_OK);
    expect_free(keys, sign_ok(NULL, ec_priv, "ec-a", "{}"), RP_AUTH_OK);
    expect_free(keys, sign_ok(OTHER_SECRET, NULL, "hmac-a", "{}"), RP_AUTH_OK);
    /* The kid names the other RSA key: only that key is tried. */
    expect_free(keys, sign_ok(NULL, rsa_priv, "rsa-b", "{}"), RP_AUTH_BAD_SIGNATURE);
    expect_free(keys, sign_ok(NULL, rsa2_priv, "rsa-a", "{}"), RP_AUTH_BAD_SIGNATURE);
    /* Without a kid every key of the type is tried. */
    expect_free(keys, sign_ok(NULL, rsa_priv, NULL, "{}"), RP_AUTH_OK);
    expect_free(keys, sign_ok(NULL, rsa2_priv, NULL, "{}"), RP_AUTH_OK);
    /* Unknown kids, and a skipped key's kid. */
    expect_free(keys, sign_ok(NULL, rsa_priv, "nope", "{}"), RP_AUTH_UNKNOWN_KEY);
    expect_free(keys, sign_ok(NULL, rsa_priv, "enc", "{}"), RP_AUTH_UNKNOWN_KEY);
    expect_free(keys, sign_ok(NULL, rsa_priv, "RSA-A", "{}"), RP_AUTH_UNKNOWN_KEY);
    /* A kid of a key of another type. */
    expect_free(keys, sign_ok(NULL, ec_priv, "rsa-a", "{}"), RP_AUTH_BAD_ALG);
    expect_free(keys, sign_ok(SECRET, NULL, "ec-a", "{}"), RP_AUTH_BAD_ALG);
    /* A non-string kid is malformed. */
    expect_free(
        keys, hs256_raw("{\"alg\":\"HS256\",\"kid\":7}", "{}", OTHER_SECRET, strlen(OTHER_SECRET)),
        RP_AUTH_MALFORMED);
    rp_jwt_keys_free(keys);

    /* JWKS together with a secret and a PEM key: all of them count. */
    keys = load_ok(SECRET, ec_pub, jwks);
    assert_int_equal(rp_jwt_keys_count(keys), 6);
    expect_free(keys, sign_ok(SECRET, NULL, NULL, "{}"), RP_AUTH_OK);
    expect_free(keys, sign_ok(OTHER_SECRET, NULL, NULL, "{}"), RP_AUTH_OK);
    expect_free(keys, sign_ok(SECRET, NULL, "hmac-a", "{}"), RP_AUTH_BAD_SIGNATURE);
    rp_jwt_keys_free(keys);

    /* A single JWK (not a set) is accepted too. */
    snprintf(doc, cap, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", x64, y64);
    write_text(jwks, doc);
    keys = load_ok(NULL, NULL, jwks);
    expect_free(keys, sign_ok(NULL, ec_priv, NULL, "{}"), RP_AUTH_OK);
    rp_jwt_keys_free(keys);

    free(doc);
    free(n64);
    free(e64);
    free(n2_64);
    free(e2_64);
    free(x64);
    free(y64);
    free(k64);
    BN_free(n);
    BN_free(e);
    BN_free(n2);
    BN_free(e2);
    BN_free(x);
    BN_free(y);
}

static void
test_grant_from_claims(void **state)
{
    struct rp_jwt_keys *keys = load_ok(NULL, rsa_pub, NULL);
    char claims[256];
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"user-42\",\"exp\":%lld,\"read\":[\"news/+\",\"chat/#\",\"a/b\"],"
             "\"write\":[\"chat/room1\",\"bots/+/out\"]}",
             NOW_S + 3600);
    char *token = sign_ok(NULL, rsa_priv, NULL, claims);
    struct rp_grant g;
    assert_int_equal(verify_opt(keys, token, NOW_MS, NULL, &g), RP_AUTH_OK);
    assert_string_equal(g.sub, "user-42");
    assert_int_equal(g.expires_ms, (NOW_S + 3600) * 1000);
    assert_int_equal(g.n_read, 3);
    assert_string_equal(g.read[0], "news/+");
    assert_string_equal(g.read[1], "chat/#");
    assert_string_equal(g.read[2], "a/b");
    assert_int_equal(g.n_write, 2);

    assert_true(rp_grant_may_read(&g, "news/uk", 7));
    assert_true(rp_grant_may_read(&g, "news/+", 6));
    assert_false(rp_grant_may_read(&g, "news/uk/x", 9));
    assert_false(rp_grant_may_read(&g, "news/#", 6));
    assert_true(rp_grant_may_read(&g, "chat/x/y", 8));
    assert_true(rp_grant_may_read(&g, "a/b", 3));
    assert_false(rp_grant_may_read(&g, "a/c", 3));
    assert_false(rp_grant_may_read(&g, "#", 1));
    assert_true(rp_grant_may_write(&g, "chat/room1", 10));
    assert_false(rp_grant_may_write(&g, "chat/room2", 10));
    assert_true(rp_grant_may_write(&g, "bots/7/out", 10));
    assert_false(rp_grant_may_write(&g, "news/uk", 7));
    rp_grant_fini(&g);
    free(token);

    /* No read/write claims: the grant allows nothing. Empty arrays are fine. */
    token = sign_ok(NULL, rsa_priv, NULL, "{\"read\":[],\"write\":[]}");
    assert_int_equal(verify_opt(keys, token, NOW_MS, NULL, &g), RP_AUTH_OK);
    assert_int_equal(g.n_read, 0);
    assert_false(rp_grant_may_read(&g, "news/uk", 7));
    assert_false(rp_grant_may_write(&g, "news/uk", 7));
    rp_grant_fini(&g);
    free(token);
    rp_jwt_keys_free(keys);
}

static char *
filters_claims(const char *name, size_t n)
{
    size_t cap = n * 16 + 64, o = 0;
    char *s = malloc(cap);
    o += (size_t)snprintf(s + o, cap - o, "{\"%s\":[", name);
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(s + o, cap - o, "%s\"t/%zu\"", i ? "," : "", i);
    snprintf(s + o, cap - o, "]}");
    return s;
}

static void
test_malformed(void **state)
{
    struct rp_jwt_keys *keys = load_ok(SECRET, NULL, NULL);
    char *good = hs256("{\"sub\":\"a\"}");
    expect(keys, good, RP_AUTH_OK);
    size_t sl = segment_len(good, 2);

    /* Shape. */
    char *two = strndup(good, strlen(good) - sl - 1);
    expect_free(keys, two, RP_AUTH_MALFORMED);
    size_t n4 = strlen(good) + 6;
    char *four = malloc(n4);
    snprintf(four, n4, "%s.abcd", good);
    expect_free(keys, four, RP_AUTH_MALFORMED);
    expect(keys, "..", RP_AUTH_MALFORMED);
    expect(keys, "abc", RP_AUTH_MALFORMED);
    expect(keys, ".eyJ9.sig", RP_AUTH_MALFORMED);
    expect_free(keys, replace_segment(good, 1, ""), RP_AUTH_MALFORMED);

    /* Padding and characters outside base64url, in each segment. */
    for (int which = 0; which < 3; which++) {
        static const char *const bad[] = {"=", "==", "+", "/", "*", " ", "%3D"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            const char *d1 = strchr(good, '.'), *d2 = strchr(d1 + 1, '.');
            const char *start = which == 0 ? good : which == 1 ? d1 + 1 : d2 + 1;
            size_t len = which == 0   ? (size_t)(d1 - good)
                         : which == 1 ? (size_t)(d2 - d1 - 1)
                                      : strlen(d2 + 1);
            char seg[256];
            snprintf(seg, sizeof(seg), "%.*s%s", (int)len, start, bad[i]);
            expect_free(keys, replace_segment(good, which, seg), RP_AUTH_MALFORMED);
        }
    }
    /* An impossible length (4k+1) and non-zero unused bits in the last character. */
    expect_free(keys, replace_segment(good, 2, "AAAAA"), RP_AUTH_MALFORMED);
    char *sig = strdup(strrchr(good, '.') + 1); /* 43 chars: 2 unused bits */
    sig[42] = 'B';
    expect_free(keys, replace_segment(good, 2, sig), RP_AUTH_MALFORMED);
    free(sig);

    /* Headers. */
    static const char *const headers[] = {
        "[\"HS256\"]",
        "\"HS256\"",
        "{\"alg\":\"HS256\"",
        "{}",
        "{\"typ\":\"JWT\"}",
        "{\"alg\":256}",
        "{\"alg\":null}",
        "{\"alg\":\"HS256\",\"typ\":\"JWS\"}",
        "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}",
        "{\"alg\":\"HS256\",\"typ\":1}",
        "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}",
        "{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
        "{\"alg\":\"none\",\"alg\":\"HS256\"}",
        "not json",
        "",
    };
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++)
        expect_free(keys, hs256_raw(headers[i], "{}", SECRET, strlen(SECRET)), RP_AUTH_MALFORMED);
    expect_free(keys,
                hs256_raw("{\"alg\":\"HS256\",\"typ\":\"jwt\"}", "{}", SECRET, strlen(SECRET)),
                RP_AUTH_OK);
    expect_free(keys, hs256_raw("{\"alg\":\"HS256\"}", "{}", SECRET, strlen(SECRET)), RP_AUTH_OK);

    /* Claims (correctly signed). */
    static const char *const claims[] = {
        "[1]",
        "\"claims\"",
        "42",
        "null",
        "not json",
        "{\"sub\":\"a\"",
        "{\"sub\":\"a\",\"sub\":\"b\"}",
        "{\"sub\":7}",
        "{\"read\":\"news\"}",
        "{\"read\":{\"a\":1}}",
        "{\"read\":null}",
        "{\"read\":[\"a+/b\"]}",
        "{\"read\":[\"news\",\"a/#/b\"]}",
        "{\"read\":[\"\"]}",
        "{\"read\":[7]}",
        "{\"read\":[[\"a\"]]}",
        "{\"write\":\"news\"}",
        "{\"write\":[\"a+/b\"]}",
        "{\"read\":[\"ok\"],\"write\":[\"a/b\",null]}",
    };
    for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++)
        expect_free(keys, hs256(claims[i]), RP_AUTH_MALFORMED);

    /* At most RP_JWT_MAX_FILTERS read/write entries. */
    char *c = filters_claims("read", RP_JWT_MAX_FILTERS);
    expect_free(keys, hs256(c), RP_AUTH_OK);
    free(c);
    c = filters_claims("read", RP_JWT_MAX_FILTERS + 1);
    expect_free(keys, hs256(c), RP_AUTH_MALFORMED);
    free(c);
    c = filters_claims("write", RP_JWT_MAX_FILTERS + 1);
    expect_free(keys, hs256(c), RP_AUTH_MALFORMED);
    free(c);

    free(good);
    rp_jwt_keys_free(keys);
}

static void
test_size_limits(void **state)
{
    struct rp_jwt_keys *keys = load_ok(SECRET, NULL, NULL);
    struct rp_grant g = {0};
    assert_int_equal(rp_jwt_verify(keys, "", 0, NOW_MS, NULL, &g), RP_AUTH_MISSING);
    assert_int_equal(rp_jwt_verify(keys, NULL, 0, NOW_MS, NULL, &g), RP_AUTH_MISSING);

    /* A valid token just under the limit passes; one byte more is too large. */
    size_t cap = RP_JWT_MAX_TOKEN + 64;
    char *claims = malloc(cap);
    char *token = NULL;
    for (int pad = RP_JWT_MAX_TOKEN * 3 / 4 - 200;; pad++) {
        snprintf(claims, cap, "{\"x\":\"%0*d\"}", pad, 0);
        char *next = hs256(claims);
        if (strlen(next) > RP_JWT_MAX_TOKEN) {
            free(next);
            break;
        }
        free(token);
        token = next;
    }
    assert_non_null(token);
    assert_true(strlen(token) > RP_JWT_MAX_TOKEN - 4);
    expect(keys, token, RP_AUTH_OK);
    free(token);
    snprintf(claims, cap, "{\"x\":\"%0*d\"}", RP_JWT_MAX_TOKEN * 3 / 4, 0);
    token = hs256(claims);
    assert_true(strlen(token) > RP_JWT_MAX_TOKEN);
    expect(keys, token, RP_AUTH_TOO_LARGE);
    /* The length given is what counts, not the NUL. */
    assert_int_equal(rp_jwt_verify(keys, token, RP_JWT_MAX_TOKEN + 1, NOW_MS, NULL, &g),
                     RP_AUTH_TOO_LARGE);
    free(token);
    free(claims);

    /* Only <len> bytes are read: a valid token followed by garbage. */
    char *good = hs256("{\"sub\":\"a\"}");
    size_t n = strlen(good);
    char *longer = malloc(n + 8);
    memcpy(longer, good, n);
    memcpy(longer + n, ".junk!", 7);
    assert_int_equal(rp_jwt_verify(keys, longer, n, NOW_MS, NULL, &g), RP_AUTH_OK);
    rp_grant_fini(&g);
    free(longer);
    free(good);
    rp_jwt_keys_free(keys);
}

static void
expect_load_error(const char *secret, const char *key_file, const char *jwks_file, int want_rc,
                  const char *must_contain)
{
    struct rp_diag err;
    struct rp_jwt_keys *keys = (struct rp_jwt_keys *)&err; /* must be reset to NULL */
    int rc = rp_jwt_keys_load(&keys, secret, key_file, jwks_file, &err);
    if (rc != want_rc)
        fail_msg("load(%s, %s): rc %d, want %d (%s)", key_file ? key_file : "-",
                 jwks_file ? jwks_file : "-", rc, want_rc, err.msg);
    assert_null(keys);
    if (!strstr(err.msg, must_contain))
        fail_msg("error '%s' does not mention '%s'", err.msg, must_contain);
    assert_null(strchr(err.msg, '\n'));
}

static void
test_keys_load_errors(void **state)
{
    char missing[160], text[160], jwks[160], priv_copy[160], small[160];
    path_in_dir(missing, sizeof(missing), "no-such.pem");
    path_in_dir(text, sizeof(text), "hello.txt");
    path_in_dir(jwks, sizeof(jwks), "broken.jwks");
    write_text(text, "hello, not a key\n");

    expect_load_error(NULL, missing, NULL, -ENOENT, missing);
    expect_load_error(NULL, NULL, missing, -ENOENT, missing);
    expect_load_error(NULL, text, NULL, -EINVAL, text);
    expect_load_error(NULL, dir, NULL, -EISDIR, dir);
    /* A private key where the public key belongs. */
    snprintf(priv_copy, sizeof(priv_copy), "%s", rsa_priv);
    expect_load_error(NULL, priv_copy, NULL, -EINVAL, "private key");

    write_text(jwks, "{\"keys\": [");
    expect_load_error(NULL, NULL, jwks, -EINVAL, jwks);
    expect_load_error(NULL, NULL, jwks, -EINVAL, "not JSON");
    write_text(jwks, "[1,2]");
    expect_load_error(NULL, NULL, jwks, -EINVAL, jwks);
    write_text(jwks, "{\"keys\":[]}");
    expect_load_error(NULL, NULL, jwks, -EINVAL, "no usable key");
    write_text(jwks, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2hvcnQ\"}]}");
    expect_load_error(NULL, NULL, jwks, -EINVAL, "key 1");
    write_text(jwks, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2hvcnQ\"}]}");
    expect_load_error(NULL, NULL, jwks, -EINVAL, jwks);
    write_text(jwks, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"***\",\"e\":\"AQAB\"}]}");
    expect_load_error(NULL, NULL, jwks, -EINVAL, "key 1");
    write_text(jwks,
               "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}");
    expect_load_error(NULL, NULL, jwks, -EINVAL, "key 1");
    /* A point not on the curve: x = y = 1. */
    unsigned char one[32] = {0};
    one[31] = 1;
    char *one64 = b64url(one, 32), doc[256];
    snprintf(doc, sizeof(doc),
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}", one64,
             one64);
    free(one64);
    write_text(jwks, doc);
    expect_load_error(NULL, NULL, jwks, -EINVAL, "key 1");
    write_text(jwks,
               "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"HS256\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}");
    expect_load_error(NULL, NULL, jwks, -EINVAL, "alg");

    /* An RSA key below 2048 bits. */
    EVP_PKEY *weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    assert_non_null(weak);
    path_in_dir(small, sizeof(small), "rsa1024.pem");
    FILE *f = fopen(small, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PUBKEY(f, weak), 1);
    fclose(f);
    EVP_PKEY_free(weak);
    expect_load_error(NULL, small, NULL, -EINVAL, small);

    /* Secrets, and nothing at all. */
    expect_load_error("short", NULL, NULL, -EINVAL, "too short");
    expect_load_error(NULL, NULL, NULL, -EINVAL, "no key");
    expect_load_error("", "", "", -EINVAL, "no key");

    /* A certificate-less but good mix loads, with a count. */
    struct rp_jwt_keys *keys = load_ok(SECRET, rsa_pub, NULL);
    assert_int_equal(rp_jwt_keys_count(keys), 2);
    rp_jwt_keys_free(keys);
    rp_jwt_keys_free(NULL);
    assert_int_equal(rp_jwt_keys_count(NULL), 0);
}

static void
test_sign_errors(void **state)
{
    struct rp_diag err;
    char *token = err.msg;
    assert_int_equal(rp_jwt_sign(SECRET, rsa_priv, NULL, "{}", &token, &err), -EINVAL);
    assert_null(token);
    assert_int_equal(rp_jwt_sign(NULL, NULL, NULL, "{}", &token, &err), -EINVAL);
    assert_int_equal(rp_jwt_sign(SECRET, NULL, NULL, "[1]", &token, &err), -EINVAL);
    assert_int_equal(rp_jwt_sign(SECRET, NULL, NULL, "{", &token, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "claims"));
    assert_int_equal(rp_jwt_sign("short", NULL, NULL, "{}", &token, &err), -EINVAL);
    assert_int_equal(rp_jwt_sign(NULL, rsa_pub, NULL, "{}", &token, &err), -EINVAL);
    assert_non_null(strstr(err.msg, rsa_pub));
    char missing[160];
    path_in_dir(missing, sizeof(missing), "nope.pem");
    assert_int_equal(rp_jwt_sign(NULL, missing, NULL, "{}", &token, &err), -ENOENT);
    assert_non_null(strstr(err.msg, missing));
    assert_null(token);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7515_a1),
        cmocka_unit_test(test_round_trip_hs256),
        cmocka_unit_test(test_round_trip_rs256),
        cmocka_unit_test(test_round_trip_es256),
        cmocka_unit_test(test_round_trip_eddsa),
        cmocka_unit_test(test_kid_in_header),
        cmocka_unit_test(test_alg_none_and_others),
        cmocka_unit_test(test_alg_must_fit_key_type),
        cmocka_unit_test(test_hmac_with_public_key_confusion),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_es256_signature_length),
        cmocka_unit_test(test_time_claims),
        cmocka_unit_test(test_audience_and_issuer),
        cmocka_unit_test(test_jwks_selects_by_kid),
        cmocka_unit_test(test_grant_from_claims),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_keys_load_errors),
        cmocka_unit_test(test_sign_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
