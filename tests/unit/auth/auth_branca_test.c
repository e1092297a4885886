/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of auth/auth_branca: the branca-spec test vectors (tuupola/branca-spec
 * test_vectors.json 0.3.0), round trips checked against a byte-at-a-time base62 oracle,
 * tampering, keys, TTL, malformed tokens, and the sse-server msgpack payload readers.
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
#include <time.h>

#include <cmocka.h>
#include <msgpack.h>
#include <sodium.h>

#include "auth/auth.h"
#include "auth/auth_branca.h"
#include "base/diag.h"
#include "core/hub.h"

/* "supersecretkeyyoushouldnotcommit" */
static const char spec_key_hex[] =
    "73757065727365637265746b6579796f7573686f756c646e6f74636f6d6d6974";
static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void
spec_key(uint8_t key[RP_BRANCA_KEY_LEN])
{
    assert_int_equal(rp_branca_key_parse(spec_key_hex, strlen(spec_key_hex), key), 0);
}

static size_t
unhex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* ---- an independent base62 (byte at a time, as the base-x crate) to check against ---- */

static char *
oracle_encode(const uint8_t *b, size_t len)
{
    uint8_t *digits = calloc(2 * len + 1, 1);
    size_t nd = 0, zeros = 0;
    while (zeros < len && b[zeros] == 0)
        zeros++;
    for (size_t i = zeros; i < len; i++) {
        unsigned carry = b[i];
        for (size_t j = 0; j < nd; j++) {
            carry += (unsigned)digits[j] << 8;
            digits[j] = (uint8_t)(carry % 62);
            carry /= 62;
        }
        while (carry) {
            digits[nd++] = (uint8_t)(carry % 62);
            carry /= 62;
        }
    }
    char *s = malloc(zeros + nd + 1);
    memset(s, '0', zeros);
    for (size_t k = 0; k < nd; k++)
        s[zeros + k] = alphabet[digits[nd - 1 - k]];
    s[zeros + nd] = '\0';
    free(digits);
    return s;
}

static size_t
oracle_decode(const char *s, uint8_t *out, size_t cap)
{
    size_t len = strlen(s), zeros = 0, nb = 0;
    uint8_t *bytes = calloc(len + 1, 1);
    while (zeros < len && s[zeros] == '0')
        zeros++;
    for (size_t i = zeros; i < len; i++) {
        const char *p = strchr(alphabet, s[i]);
        assert_non_null(p);
        unsigned carry = (unsigned)(p - alphabet);
        for (size_t j = 0; j < nb; j++) {
            carry += bytes[j] * 62u;
            bytes[j] = (uint8_t)carry;
            carry >>= 8;
        }
        while (carry) {
            bytes[nb++] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    assert_true(zeros + nb <= cap);
    memset(out, 0, zeros);
    for (size_t k = 0; k < nb; k++)
        out[zeros + k] = bytes[nb - 1 - k];
    free(bytes);
    return zeros + nb;
}

static enum rp_auth_result
decode_str(const uint8_t *key, const char *token, int64_t now, uint32_t ttl, uint8_t **payload,
           size_t *len, uint32_t *ts)
{
    return rp_branca_decode(key, token, strlen(token), now, ttl, payload, len, ts);
}

/* ---- keys ---- */

static void
test_key_parse(void **state)
{
    uint8_t key[RP_BRANCA_KEY_LEN];
    spec_key(key);
    assert_memory_equal(key, "supersecretkeyyoushouldnotcommit", RP_BRANCA_KEY_LEN);

    uint8_t upper[RP_BRANCA_KEY_LEN];
    const char *hex = "73757065727365637265746B6579796F7573686F756C646E6F74636F6D6D6974";
    assert_int_equal(rp_branca_key_parse(hex, strlen(hex), upper), 0);
    assert_memory_equal(key, upper, RP_BRANCA_KEY_LEN);

    /* Vector 24, "Invalid key": 11 bytes. */
    const char *bad[] = {
        "746f6f73686f72746b6579",
        "73757065727365637265746b6579796f7573686f756c646e6f74636f6d6d697",
        "73757065727365637265746b6579796f7573686f756c646e6f74636f6d6d697400",
        "73757065727365637265746b6579796f7573686f756c646e6f74636f6d6d69 4",
        "73757065727365637265746b6579796f7573686f756c646e6f74636f6d6d697g",
        "0x757065727365637265746b6579796f7573686f756c646e6f74636f6d6d6974",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(upper, 0xAA, sizeof(upper));
        assert_int_equal(rp_branca_key_parse(bad[i], strlen(bad[i]), upper), -EINVAL);
        for (size_t k = 0; k < RP_BRANCA_KEY_LEN; k++)
            assert_int_equal(upper[k], 0);
    }
    /* Trailing newline (an env file) is not silently accepted. */
    char nl[66];
    snprintf(nl, sizeof(nl), "%s\n", spec_key_hex);
    assert_int_equal(rp_branca_key_parse(nl, strlen(nl), upper), -EINVAL);
}

/* ---- the spec's vectors ---- */

struct vector {
    int id;
    const char *token;
    uint32_t timestamp;
    const char *msg_hex;
};

static const struct vector valid_vectors[] = {
    {8, "870S4BYxgHw0KnP3W9fgVUHEhT5g86vJ17etaC5Kh5uIraWHCI1psNQGv298ZmjPwoYbjDQ9chy2z", 0,
     "48656c6c6f20776f726c6421"},
    {9, "89i7YCwu5tWAJNHUDdmIqhzOi5hVHOd4afjZcGMcVmM4enl4yeLiDyYv41eMkNmTX6IwYEFErCSqr",
     4294967295u, "48656c6c6f20776f726c6421"},
    {10, "875GH23U0Dr6nHFA63DhOyd9LkYudBkX8RsCTOMz5xoYAMw9sMd5QwcEqLDRnTDHPenOX7nP2trlT", 123206400,
     "48656c6c6f20776f726c6421"},
    {11, "1jIBheHbDdkCDFQmtgw4RUZeQoOJgGwTFJSpwOAk3XYpJJr52DEpILLmmwYl4tjdSbbNqcF1", 0,
     "0000000000000000"},
    {12, "1jrx6DUu5q06oxykef2e2ZMyTcDRTQot9ZnwgifUtzAphGtjsxfbxXNhQyBEOGtpbkBgvIQx", 4294967295u,
     "0000000000000000"},
    {13, "1jJDJOEjuwVb9Csz1Ypw1KBWSkr0YDpeBeJN6NzJWx1VgPLmcBhu2SbkpQ9JjZ3nfUf7Aytp", 123206400,
     "0000000000000000"},
    {14, "4sfD0vPFhIif8cy4nB3BQkHeJqkOkDvinI4zIhMjYX4YXZU5WIq9ycCVjGzB5", 0, ""},
    {15, "K9u6d0zjXp8RXNUGDyXAsB9AtPo60CD3xxQ2ulL8aQoTzXbvockRff0y1eXoHm", 123206400, "80"},
};

static void
test_spec_vectors_valid(void **state)
{
    uint8_t key[RP_BRANCA_KEY_LEN];
    spec_key(key);
    for (size_t i = 0; i < sizeof(valid_vectors) / sizeof(valid_vectors[0]); i++) {
        const struct vector *v = &valid_vectors[i];
        uint8_t want[64];
        size_t want_len = unhex(v->msg_hex, want);
        uint8_t *payload = (uint8_t *)"not set";
        size_t len = 999;
        uint32_t ts = 1;
        enum rp_auth_result r = decode_str(key, v->token, 0, 0, &payload, &len, &ts);
        if (r != RP_AUTH_OK)
            fail_msg("vector %d: %s", v->id, rp_auth_result_name(r));
        assert_int_equal(len, want_len);
        assert_memory_equal(payload, want, want_len);
        assert_int_equal(payload[len], 0);
        assert_int_equal(ts, v->timestamp);
        free(payload);
        /* The timestamp pointer is optional. */
        assert_int_equal(decode_str(key, v->token, 0, 0, &payload, &len, NULL), RP_AUTH_OK);
        free(payload);
    }
}

/* The encoding vectors (0-7) fix the nonce, which rp_branca_encode never takes: rebuild
 * them from libsodium and the oracle, proving the oracle (and the vectors' layout). */
static void
test_spec_vectors_layout(void **state)
{
    uint8_t key[RP_BRANCA_KEY_LEN];
    spec_key(key);
    for (size_t i = 0; i < sizeof(valid_vectors) / sizeof(valid_vectors[0]); i++) {
        const struct vector *v = &valid_vectors[i];
        uint8_t msg[64], raw[128];
        size_t mlen = unhex(v->msg_hex, msg);
        raw[0] = 0xBA;
        raw[1] = (uint8_t)(v->timestamp >> 24);
        raw[2] = (uint8_t)(v->timestamp >> 16);
        raw[3] = (uint8_t)(v->timestamp >> 8);
        raw[4] = (uint8_t)v->timestamp;
        for (size_t k = 0; k < 24; k += 2) {
            raw[5 + k] = 0xbe;
            raw[6 + k] = 0xef;
        }
        unsigned long long clen;
        assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(raw + 29, &clen, msg, mlen, raw,
                                                                    29, NULL, raw + 5, key),
                         0);
        char *s = oracle_encode(raw, 29 + (size_t)clen);
        assert_string_equal(s, v->token);
        free(s);
    }
}

static void
test_spec_vectors_invalid(void **state)
{
    uint8_t key[RP_BRANCA_KEY_LEN], wrong[RP_BRANCA_KEY_LEN];
    spec_key(key);
    const char *wrong_hex = "77726f6e677365637265746b6579796f7573686f756c646e6f74636f6d6d6974";
    assert_int_equal(rp_branca_key_parse(wrong_hex, strlen(wrong_hex), wrong), 0);
    const struct {
        int id;
        const uint8_t *key;
        const char *token;
        enum rp_auth_result want;
    } cases[] = {
        {16, key, "89mvl3RkwXjpEj5WMxK7GUDEHEeeeZtwjMIOogTthvr44qBfYtQSIZH5MHOTC0GzoutDIeoPVZk3w",
         RP_AUTH_MALFORMED}, /* wrong version 0xBB */
        {17, key, "875GH23U0Dr6nHFA63DhOyd9LkYudBkX8RsCTOMz5xoYAMw9sMd5QwcEqLDRnTDHPenOX7nP2trlT_",
         RP_AUTH_MALFORMED}, /* invalid base62 characters */
        {18, key, "89mvl3S0BE0UCMIY94xxIux4eg1w5oXrhvCEXrDAjusSbO0Yk7AU6FjjTnbTWTqogLfNPJLzecHVb",
         RP_AUTH_MALFORMED}, /* modified version */
        {19, key, "875GH233SUysT7fQ711EWd9BXpwOjB72ng3ZLnjWFrmOqVy49Bv93b78JU5331LbcY0EEzhLfpmSx",
         RP_AUTH_BAD_SIGNATURE}, /* modified first byte of the nonce */
        {20, key, "870g1RCk4lW1YInhaU3TP8u2hGtfol16ettLcTOSoA0JIpjCaQRW7tQeP6dQmTvFIB2s6wL5deMXr",
         RP_AUTH_BAD_SIGNATURE}, /* modified timestamp */
        {21, key, "875GH23U0Dr6nHFA63DhOyd9LkYudBkX8RsCTOMz5xoYAMw9sMd5Qw6Jpo96myliI3hHD7VbKZBYh",
         RP_AUTH_BAD_SIGNATURE}, /* modified last byte of the ciphertext */
        {22, key, "875GH23U0Dr6nHFA63DhOyd9LkYudBkX8RsCTOMz5xoYAMw9sMd5QwcEqLDRnTDHPenOX7nP2trk0",
         RP_AUTH_BAD_SIGNATURE}, /* modified last byte of the tag */
        {23, wrong, "870S4BYxgHw0KnP3W9fgVUHEhT5g86vJ17etaC5Kh5uIraWHCI1psNQGv298ZmjPwoYbjDQ9chy2z",
         RP_AUTH_BAD_SIGNATURE}, /* wrong key */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *payload = (uint8_t *)"not set";
        size_t len = 7;
        enum rp_auth_result r =
            decode_str(cases[i].key, cases[i].token, 0, 0, &payload, &len, NULL);
        if (r != cases[i].want)
            fail_msg("vector %d: got %s, want %s", cases[i].id, rp_auth_result_name(r),
                     rp_auth_result_name(cases[i].want));
        assert_null(payload);
        assert_int_equal(len, 0);
    }
}

/* ---- round trips ---- */

static void
check_round_trip(const uint8_t *key, const uint8_t *msg, size_t len, uint32_t ts)
{
    char *token = NULL;
    assert_int_equal(rp_branca_encode(key, msg, len, ts, &token), 0);
    assert_non_null(token);
    /* Our base62 agrees with the oracle both ways, and the header is where it should be. */
    size_t cap = strlen(token) + 1;
    uint8_t *raw = malloc(cap);
    size_t n = oracle_decode(token, raw, cap);
    assert_int_equal(n, 29 + len + 16);
    assert_int_equal(raw[0], 0xBA);
    assert_int_equal(
        (uint32_t)raw[1] << 24 | (uint32_t)raw[2] << 16 | (uint32_t)raw[3] << 8 | raw[4], ts);
    char *again = oracle_encode(raw, n);
    assert_string_equal(again, token);
    free(again);
    free(raw);

    uint8_t *payload;
    size_t plen;
    uint32_t got_ts;
    assert_int_equal(decode_str(key, token, 0, 0, &payload, &plen, &got_ts), RP_AUTH_OK);
    assert_int_equal(plen, len);
    if (len)
        assert_memory_equal(payload, msg, len);
    assert_int_equal(got_ts, ts);
    free(payload);
    free(token);
}

static void
test_round_trip(void **state)
{
    uint8_t key[RP_BRANCA_KEY_LEN];
    randombytes_buf(key, sizeof(key));
    check_round_trip(key, NULL, 0, 0);
    check_round_trip(key, (const uint8_t *)"Hello world!", 12, 123206400);
    check_round_trip(key, (const uint8_t *)"\0\0\0\0", 4, 4294967295u);
    uint8_t buf[3000];
    for (size_t len = 1; len <= sizeof(buf); len = len * 3 + 1) {
        randombytes_buf(buf, len);
        check_round_trip(key, buf, len, (uint32_t)len);
    }
    memset(buf, 0, sizeof(buf));
    check_round_trip(key, buf, sizeof(buf), 1);
    memset(buf, 0xff, sizeof(buf));
    check_round_trip(key, buf, sizeof(buf), 1);

    /* Two encodings of one payload differ: the nonce is fresh. */
    char *a, *b;
    assert_int_equal(rp_branca_encode(key, buf, 10, 5, &a), 0);
    assert_int_equal(rp_branca_encode(key, buf, 10, 5, &b), 0);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
}

static void
test_size_limits(void **state)
{
    uint8_t key[RP_BRANCA_KEY_LEN];
    randombytes_buf(key, sizeof(key));
    /* 48000 bytes + 45 is about 64550 characters: the largest kind of token we take. */
    size_t big = 48000;
    uint8_t *msg = malloc(big);
    randombytes_buf(msg, big);
    char *token;
    assert_int_equal(rp_branca_encode(key, msg, big, 7, &token), 0);
    size_t tlen = strlen(token);
    assert_true(tlen <= RP_BRANCA_MAX_TOKEN && tlen > 60000);
    uint8_t *payload;
    size_t plen;
    clock_t t0 = clock();
    assert_int_equal(rp_branca_decode(key, token, tlen, 0, 0, &payload, &plen, NULL), RP_AUTH_OK);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    assert_true(secs < 2.0); /* milliseconds normally; generous for sanitizers */
    assert_int_equal(plen, big);
    assert_memory_equal(payload, msg, big);
    free(payload);
    free(token);

    /* A payload whose token would be longer than the limit is refused. */
    token = (char *)"unchanged";
    assert_int_equal(rp_branca_encode(key, msg, 47000, 7, &token), 0);
    free(token);
    uint8_t *huge = calloc(RP_BRANCA_MAX_TOKEN + 1, 1);
    assert_int_equal(rp_branca_encode(key, huge, 50000, 7, &token), -EINVAL);
    assert_null(token);
    assert_int_equal(rp_branca_encode(key, huge, RP_BRANCA_MAX_TOKEN + 1, 7, &token), -EINVAL);
    free(huge);
    free(msg);

    /* One character over the limit: TOO_LARGE before any decoding; at the limit, decoded. */
    char *s = malloc(RP_BRANCA_MAX_TOKEN + 2);
    memset(s, 'z', RP_BRANCA_MAX_TOKEN + 1);
    s[RP_BRANCA_MAX_TOKEN + 1] = '\0';
    payload = (uint8_t *)"x";
    assert_int_equal(rp_branca_decode(key, s, RP_BRANCA_MAX_TOKEN + 1, 0, 0, &payload, &plen, NULL),
                     RP_AUTH_TOO_LARGE);
    assert_null(payload);
    t0 = clock();
    enum rp_auth_result r =
        rp_branca_decode(key, s, RP_BRANCA_MAX_TOKEN, 0, 0, &payload, &plen, NULL);
    secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    assert_true(r == RP_AUTH_MALFORMED || r == RP_AUTH_BAD_SIGNATURE);
    assert_true(secs < 2.0);
    free(s);
}

/* ---- tampering, keys, time ---- */

static void
test_tampered(void **state)
{
    uint8_t key[RP_BRANCA_KEY_LEN];
    randombytes_buf(key, sizeof(key));
    char *token;
    assert_int_equal(rp_branca_encode(key, (const uint8_t *)"{\"topics\":[]}", 13, 1000, &token),
                     0);
    size_t n = strlen(token);
    /* Every single-character change is refused (most by the MAC, a few by the version). */
    for (size_t i = 0; i < n; i++) {
        char saved = token[i];
        token[i] = saved == 'a' ? 'b' : 'a';
        uint8_t *payload;
        size_t plen;
        enum rp_auth_result r = decode_str(key, token, 0, 0, &payload, &plen, NULL);
        if (r != RP_AUTH_BAD_SIGNATURE && r != RP_AUTH_MALFORMED)
            fail_msg("change at %zu: %s", i, rp_auth_result_name(r));
        assert_null(payload);
        token[i] = saved;
    }
    /* A change in the middle is in the ciphertext: the MAC catches it. */
    uint8_t *payload;
    size_t plen;
    token[n / 2] = token[n / 2] == '7' ? '8' : '7';
    assert_int_equal(decode_str(key, token, 0, 0, &payload, &plen, NULL), RP_AUTH_BAD_SIGNATURE);
    free(token);
}

static void
test_wrong_key(void **state)
{
    uint8_t key[RP_BRANCA_KEY_LEN], other[RP_BRANCA_KEY_LEN];
    randombytes_buf(key, sizeof(key));
    memcpy(other, key, sizeof(key));
    other[31] ^= 1;
    char *token;
    assert_int_equal(rp_branca_encode(key, (const uint8_t *)"x", 1, 1, &token), 0);
    uint8_t *payload;
    size_t plen;
    assert_int_equal(decode_str(other, token, 0, 0, &payload, &plen, NULL), RP_AUTH_BAD_SIGNATURE);
    assert_null(payload);
    free(token);
}

static void
test_ttl(void **state)
{
    uint8_t key[RP_BRANCA_KEY_LEN];
    randombytes_buf(key, sizeof(key));
    char *token;
    assert_int_equal(rp_branca_encode(key, (const uint8_t *)"p", 1, 1000, &token), 0);
    uint8_t *payload;
    size_t plen;
    uint32_t ts;
    const struct {
        int64_t now;
        uint32_t ttl;
        enum rp_auth_result want;
    } cases[] = {
        {1000, 100, RP_AUTH_OK},
        {1100, 100, RP_AUTH_OK}, /* timestamp + ttl == now */
        {1101, 100, RP_AUTH_EXPIRED},
        {999999, 0, RP_AUTH_OK}, /* 0: no expiry */
        {0, 100, RP_AUTH_OK},    /* from the future */
        {1000 + 86400, 86400, RP_AUTH_OK},
        {1001 + 86400, 86400, RP_AUTH_EXPIRED}, /* sse-server */
        {INT64_MAX, 4294967295u, RP_AUTH_EXPIRED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum rp_auth_result r =
            decode_str(key, token, cases[i].now, cases[i].ttl, &payload, &plen, &ts);
        if (r != cases[i].want)
            fail_msg("case %zu: %s", i, rp_auth_result_name(r));
        if (r == RP_AUTH_OK) {
            assert_int_equal(ts, 1000);
            free(payload);
        } else {
            assert_null(payload);
        }
    }
    free(token);

    /* The largest timestamp plus a TTL does not wrap around. */
    assert_int_equal(rp_branca_encode(key, (const uint8_t *)"p", 1, 4294967295u, &token), 0);
    assert_int_equal(decode_str(key, token, 4294967295LL + 10, 10, &payload, &plen, &ts),
                     RP_AUTH_OK);
    free(payload);
    assert_int_equal(decode_str(key, token, 4294967295LL + 11, 10, &payload, &plen, &ts),
                     RP_AUTH_EXPIRED);
    free(token);

    /* A forged token is BAD_SIGNATURE, never EXPIRED: the MAC is checked first. */
    uint8_t spec[RP_BRANCA_KEY_LEN];
    spec_key(spec);
    assert_int_equal(decode_str(key, valid_vectors[0].token, 1LL << 40, 1, &payload, &plen, &ts),
                     RP_AUTH_BAD_SIGNATURE);
    assert_int_equal(decode_str(spec, valid_vectors[0].token, 1LL << 40, 1, &payload, &plen, &ts),
                     RP_AUTH_EXPIRED);
}

static void
test_malformed(void **state)
{
    uint8_t key[RP_BRANCA_KEY_LEN];
    spec_key(key);
    const char *good = valid_vectors[0].token;
    size_t n = strlen(good);
    char buf[256];
    uint8_t *payload;
    size_t plen;

    assert_int_equal(rp_branca_decode(key, "", 0, 0, 0, &payload, &plen, NULL), RP_AUTH_MALFORMED);
    /* Characters outside 0-9A-Za-z anywhere: base64url, padding, space, NUL, UTF-8. */
    const char bad_chars[] = {'_', '-', '+', '/', '=', ' ', '\n', '.', '\0', (char)0xc3};
    for (size_t i = 0; i < sizeof(bad_chars); i++) {
        const size_t positions[] = {0, n / 2, n - 1, n};
        for (size_t k = 0; k < 4; k++) {
            size_t at = positions[k];
            memcpy(buf, good, n);
            buf[at] = bad_chars[i];
            assert_int_equal(
                rp_branca_decode(key, buf, at == n ? n + 1 : n, 0, 0, &payload, &plen, NULL),
                RP_AUTH_MALFORMED);
            assert_null(payload);
        }
    }
    /* Leading garbage that is in the alphabet: '0' adds a zero byte, others change the
     * number; both leave a version byte that is not 0xBA. */
    snprintf(buf, sizeof(buf), "0%s", good);
    assert_int_equal(decode_str(key, buf, 0, 0, &payload, &plen, NULL), RP_AUTH_MALFORMED);
    snprintf(buf, sizeof(buf), "1%s", good);
    assert_int_equal(decode_str(key, buf, 0, 0, &payload, &plen, NULL), RP_AUTH_MALFORMED);
    /* Only the first <len> characters count. */
    snprintf(buf, sizeof(buf), "%s_junk", good);
    assert_int_equal(rp_branca_decode(key, buf, n, 0, 0, &payload, &plen, NULL), RP_AUTH_OK);
    free(payload);

    /* Shorter than header + tag, though the version byte is right. */
    uint8_t raw[64];
    memset(raw, 0x11, sizeof(raw));
    raw[0] = 0xBA;
    for (size_t len = 1; len < 29 + 16; len++) {
        char *s = oracle_encode(raw, len);
        assert_int_equal(decode_str(key, s, 0, 0, &payload, &plen, NULL), RP_AUTH_MALFORMED);
        free(s);
    }
    char *s = oracle_encode(raw, 29 + 16);
    assert_int_equal(decode_str(key, s, 0, 0, &payload, &plen, NULL), RP_AUTH_BAD_SIGNATURE);
    free(s);
    /* Every version but 0xBA. */
    for (unsigned v = 0; v < 256; v++) {
        if (v == 0xBA)
            continue;
        raw[0] = (uint8_t)v;
        s = oracle_encode(raw, sizeof(raw));
        assert_int_equal(decode_str(key, s, 0, 0, &payload, &plen, NULL), RP_AUTH_MALFORMED);
        free(s);
    }
    /* Truncated tokens never decode. */
    for (size_t len = 1; len < n; len++)
        assert_int_not_equal(rp_branca_decode(key, good, len, 0, 0, &payload, &plen, NULL),
                             RP_AUTH_OK);
}

/* ---- msgpack payloads ---- */

struct mp {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

static void
mp_init(struct mp *m)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void
mp_str(struct mp *m, const char *s)
{
    msgpack_pack_str_with_body(&m->pk, s, strlen(s));
}

static void
mp_bin(struct mp *m, const char *s)
{
    msgpack_pack_bin_with_body(&m->pk, s, strlen(s));
}

static const uint8_t *
mp_data(struct mp *m)
{
    return (const uint8_t *)m->sb.data;
}

static int
read_topics(struct mp *m, struct rp_grant *g, struct rp_diag *err)
{
    memset(g, 0, sizeof(*g));
    return rp_branca_read_topics(mp_data(m), m->sb.size, g, err);
}

static void
test_topics(void **state)
{
    struct mp m;
    struct rp_grant g;
    struct rp_diag err;

    /* {"topics": ["weather", "news/+", "a/#"]} as sse-server's README builds it */
    mp_init(&m);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "topics");
    msgpack_pack_array(&m.pk, 3);
    mp_str(&m, "weather");
    mp_str(&m, "news/+");
    mp_bin(&m, "a/#");
    assert_int_equal(read_topics(&m, &g, &err), 0);
    assert_string_equal(err.msg, "");
    assert_int_equal(g.n_read, 3);
    assert_string_equal(g.read[0], "weather");
    assert_string_equal(g.read[1], "news/+");
    assert_string_equal(g.read[2], "a/#");
    assert_int_equal(g.n_write, 0);
    assert_true(rp_grant_may_read(&g, "news/uk", 7));
    assert_false(rp_grant_may_read(&g, "sport", 5));
    rp_grant_fini(&g);
    msgpack_sbuffer_destroy(&m.sb);

    /* Unknown keys anywhere are ignored, including non-string keys; the key may be bin. */
    mp_init(&m);
    msgpack_pack_map(&m.pk, 4);
    mp_str(&m, "sub");
    mp_str(&m, "user-1");
    msgpack_pack_int(&m.pk, 7);
    msgpack_pack_nil(&m.pk);
    mp_bin(&m, "topics");
    msgpack_pack_array(&m.pk, 1);
    mp_str(&m, "x");
    mp_str(&m, "extra");
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "topics");
    msgpack_pack_int(&m.pk, 1);
    assert_int_equal(read_topics(&m, &g, &err), 0);
    assert_int_equal(g.n_read, 1);
    assert_string_equal(g.read[0], "x");
    rp_grant_fini(&g);
    msgpack_sbuffer_destroy(&m.sb);

    /* rmp_serde's default (positional) form: [["a", "b"]]. An empty list is allowed. */
    mp_init(&m);
    msgpack_pack_array(&m.pk, 1);
    msgpack_pack_array(&m.pk, 2);
    mp_str(&m, "a");
    mp_str(&m, "b");
    assert_int_equal(read_topics(&m, &g, &err), 0);
    assert_int_equal(g.n_read, 2);
    rp_grant_fini(&g);
    msgpack_sbuffer_destroy(&m.sb);
    mp_init(&m);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "topics");
    msgpack_pack_array(&m.pk, 0);
    assert_int_equal(read_topics(&m, &g, &err), 0);
    assert_int_equal(g.n_read, 0);
    msgpack_sbuffer_destroy(&m.sb);
}

/* Payload builders for the failure table. */
static void
topics_invalid_name(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "topics");
    msgpack_pack_array(&m->pk, 3);
    mp_str(m, "ok");
    mp_str(m, "fine/too");
    mp_str(m, "a//b");
}

static void
topics_wildcard_inside(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "topics");
    msgpack_pack_array(&m->pk, 2);
    mp_str(m, "ok");
    mp_str(m, "a+/b");
}

static void
topics_missing(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "topic");
    msgpack_pack_array(&m->pk, 0);
}

static void
topics_not_array(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "topics");
    mp_str(m, "weather");
}

static void
topics_not_string(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "topics");
    msgpack_pack_array(&m->pk, 2);
    mp_str(m, "ok");
    msgpack_pack_int(&m->pk, 5);
}

static void
topics_twice(struct mp *m)
{
    msgpack_pack_map(&m->pk, 2);
    mp_str(m, "topics");
    msgpack_pack_array(&m->pk, 1);
    mp_str(m, "a");
    mp_bin(m, "topics");
    msgpack_pack_array(&m->pk, 1);
    mp_str(m, "b");
}

static void
topics_root_string(struct mp *m)
{
    mp_str(m, "topics");
}

static void
topics_trailing(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "topics");
    msgpack_pack_array(&m->pk, 0);
    msgpack_pack_nil(&m->pk);
}

static void
topics_nul_inside(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "topics");
    msgpack_pack_array(&m->pk, 1);
    msgpack_pack_str_with_body(&m->pk, "a\0b", 3);
}

static void
test_topics_invalid(void **state)
{
    const struct {
        void (*build)(struct mp *m);
        const char *err_has;
    } cases[] = {
        {topics_invalid_name, "topics[2]"},
        {topics_wildcard_inside, "topics[1]"},
        {topics_missing, "missing"},
        {topics_not_array, "not an array"},
        {topics_not_string, "topics[1]"},
        {topics_twice, "twice"},
        {topics_root_string, "expected a map"},
        {topics_trailing, "msgpack"},
        {topics_nul_inside, "topics[0]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mp m;
        struct rp_grant g;
        struct rp_diag err;
        mp_init(&m);
        cases[i].build(&m);
        assert_int_equal(read_topics(&m, &g, &err), -EINVAL);
        if (!strstr(err.msg, cases[i].err_has))
            fail_msg("case %zu: message '%s' lacks '%s'", i, err.msg, cases[i].err_has);
        /* Nothing half-added stays behind. */
        assert_int_equal(g.n_read, 0);
        assert_null(g.read);
        msgpack_sbuffer_destroy(&m.sb);
    }
}

/* Bytes that are not one well-formed, bounded msgpack object. */
static void
test_malformed_msgpack(void **state)
{
    const struct {
        const char *bytes;
        size_t len;
    } cases[] = {
        {"", 0},
        {"\x81\xa6topics", 8},                      /* map without its value */
        {"\x81\xa6topics\x91\xa5hel", 13},          /* truncated string */
        {"\xdd\xff\xff\xff\xff", 5},                /* array32 of 4 billion: no allocation */
        {"\xdf\x7f\xff\xff\xff\xc0\xc0", 7},        /* map32 that claims too much */
        {"\x81\xa6topics\xdc\xff\xff\xa1x", 13},    /* array16 longer than the input */
        {"\xc1", 1},                                /* never used */
        {"\x81\xa6topics\xdb\xff\xff\xff\xff", 13}, /* str32 past the end */
        {"\x81\xa6topics\xc7\x05\x01xx", 13},       /* ext8 past the end */
        {"\x81\xa6topics\x90\x90", 10},             /* two objects */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rp_grant g = {0};
        struct rp_branca_events ev;
        struct rp_diag err;
        if (rp_branca_read_topics((const uint8_t *)cases[i].bytes, cases[i].len, &g, &err) !=
            -EINVAL)
            fail_msg("case %zu: topics accepted", i);
        if (rp_branca_read_events((const uint8_t *)cases[i].bytes, cases[i].len, 10, &ev, &err) !=
            -EINVAL)
            fail_msg("case %zu: events accepted", i);
        assert_null(ev.items);
        assert_null(ev.buf);
    }
    /* Deeper than msgpack-c's stack: refused, nothing leaked. */
    uint8_t deep[64];
    memset(deep, 0x91, sizeof(deep));
    deep[sizeof(deep) - 1] = 0xc0;
    struct rp_grant g = {0};
    struct rp_diag err;
    assert_int_equal(rp_branca_read_topics(deep, sizeof(deep), &g, &err), -EINVAL);
    /* A NULL diag is fine. */
    assert_int_equal(rp_branca_read_topics(deep, sizeof(deep), &g, NULL), -EINVAL);
}

static void
pack_event(struct mp *m, const char *topic, const char *event, const char *data)
{
    msgpack_pack_map(&m->pk, (topic != NULL) + (event != NULL) + (data != NULL));
    if (topic) {
        mp_str(m, "topic");
        mp_str(m, topic);
    }
    if (event) {
        mp_str(m, "event");
        mp_str(m, event);
    }
    if (data) {
        mp_str(m, "data");
        mp_str(m, data);
    }
}

static void
assert_item(const struct rp_publish_item *it, const char *topic, const char *event,
            const char *data)
{
    assert_int_equal(it->topic_len, strlen(topic));
    assert_memory_equal(it->topic, topic, it->topic_len);
    if (event) {
        assert_non_null(it->event);
        assert_int_equal(it->event_len, strlen(event));
        assert_memory_equal(it->event, event, it->event_len);
    } else {
        assert_null(it->event);
    }
    assert_int_equal(it->data_len, strlen(data));
    if (it->data_len)
        assert_memory_equal(it->data, data, it->data_len);
    assert_non_null(it->data);
    assert_null(it->pub_id);
}

static void
test_events(void **state)
{
    struct mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "other");
    msgpack_pack_true(&m.pk);
    mp_str(&m, "events");
    msgpack_pack_array(&m.pk, 5);
    /* sse-server's README: {"topic": "weather", "event": "weather-update", "data": ""} */
    pack_event(&m, "weather", "weather-update", "");
    pack_event(&m, "news/uk", NULL, "line1\nline2");
    /* data as bin, event nil, an unknown key, keys in another order */
    msgpack_pack_map(&m.pk, 4);
    mp_str(&m, "data");
    mp_bin(&m, "{\"a\":1}");
    mp_str(&m, "id");
    mp_str(&m, "ignored");
    mp_str(&m, "event");
    msgpack_pack_nil(&m.pk);
    mp_str(&m, "topic");
    mp_bin(&m, "t");
    /* empty event name: an SSE "message" */
    pack_event(&m, "t2", "", "x");
    /* positional form [topic, event, data] */
    msgpack_pack_array(&m.pk, 3);
    mp_str(&m, "t3");
    mp_str(&m, "ev");
    mp_str(&m, "d");

    /* The batch owns its strings: the input may go away. */
    uint8_t *copy = malloc(m.sb.size);
    memcpy(copy, m.sb.data, m.sb.size);
    size_t len = m.sb.size;
    msgpack_sbuffer_destroy(&m.sb);
    struct rp_branca_events ev;
    struct rp_diag err;
    assert_int_equal(rp_branca_read_events(copy, len, 5, &ev, &err), 0);
    assert_string_equal(err.msg, "");
    memset(copy, 0, len);
    free(copy);
    assert_int_equal(ev.n, 5);
    assert_item(&ev.items[0], "weather", "weather-update", "");
    assert_item(&ev.items[1], "news/uk", NULL, "line1\nline2");
    assert_item(&ev.items[2], "t", NULL, "{\"a\":1}");
    assert_item(&ev.items[3], "t2", NULL, "x");
    assert_item(&ev.items[4], "t3", "ev", "d");
    for (size_t i = 0; i < ev.n; i++) {
        const uint8_t *t = (const uint8_t *)ev.items[i].topic;
        assert_true(t >= ev.buf && t + ev.items[i].topic_len <= ev.buf + len);
    }
    rp_branca_events_fini(&ev);
    assert_null(ev.items);
    rp_branca_events_fini(&ev); /* twice is fine */

    /* No events: accepted, nothing to publish. Positional root [[...]] too. */
    mp_init(&m);
    msgpack_pack_array(&m.pk, 1);
    msgpack_pack_array(&m.pk, 0);
    assert_int_equal(rp_branca_read_events(mp_data(&m), m.sb.size, 5, &ev, &err), 0);
    assert_int_equal(ev.n, 0);
    rp_branca_events_fini(&ev);
    msgpack_sbuffer_destroy(&m.sb);
}

static void
test_events_limit(void **state)
{
    struct mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "events");
    msgpack_pack_array(&m.pk, 4);
    for (int i = 0; i < 4; i++)
        pack_event(&m, "t", "e", "d");
    struct rp_branca_events ev;
    struct rp_diag err;
    assert_int_equal(rp_branca_read_events(mp_data(&m), m.sb.size, 4, &ev, &err), 0);
    assert_int_equal(ev.n, 4);
    rp_branca_events_fini(&ev);
    assert_int_equal(rp_branca_read_events(mp_data(&m), m.sb.size, 3, &ev, &err), -E2BIG);
    assert_non_null(strstr(err.msg, "at most 3"));
    assert_null(ev.items);
    assert_int_equal(ev.n, 0);
    msgpack_sbuffer_destroy(&m.sb);
}

static void
events_missing_data(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "events");
    msgpack_pack_array(&m->pk, 2);
    pack_event(m, "t", "e", "d");
    pack_event(m, "t", "e", NULL);
}

static void
events_missing_topic(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "events");
    msgpack_pack_array(&m->pk, 1);
    pack_event(m, NULL, "e", "d");
}

static void
events_not_array(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "events");
    pack_event(m, "t", "e", "d");
}

static void
events_missing(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "topics");
    msgpack_pack_array(&m->pk, 0);
}

static void
events_item_not_map(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "events");
    msgpack_pack_array(&m->pk, 1);
    msgpack_pack_int(&m->pk, 3);
}

static void
events_data_int(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "events");
    msgpack_pack_array(&m->pk, 1);
    msgpack_pack_map(&m->pk, 2);
    mp_str(m, "topic");
    mp_str(m, "t");
    mp_str(m, "data");
    msgpack_pack_int(&m->pk, 42);
}

static void
events_data_nil(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "events");
    msgpack_pack_array(&m->pk, 1);
    msgpack_pack_map(&m->pk, 2);
    mp_str(m, "topic");
    mp_str(m, "t");
    mp_str(m, "data");
    msgpack_pack_nil(&m->pk);
}

static void
events_event_int(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "events");
    msgpack_pack_array(&m->pk, 1);
    msgpack_pack_map(&m->pk, 3);
    mp_str(m, "topic");
    mp_str(m, "t");
    mp_str(m, "event");
    msgpack_pack_int(&m->pk, 1);
    mp_str(m, "data");
    mp_str(m, "d");
}

static void
events_data_twice(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "events");
    msgpack_pack_array(&m->pk, 1);
    msgpack_pack_map(&m->pk, 3);
    mp_str(m, "topic");
    mp_str(m, "t");
    mp_str(m, "data");
    mp_str(m, "d");
    mp_str(m, "data");
    mp_str(m, "e");
}

static void
events_short_positional(struct mp *m)
{
    msgpack_pack_map(&m->pk, 1);
    mp_str(m, "events");
    msgpack_pack_array(&m->pk, 1);
    msgpack_pack_array(&m->pk, 2);
    mp_str(m, "t");
    mp_str(m, "d");
}

static void
test_events_invalid(void **state)
{
    const struct {
        void (*build)(struct mp *m);
        const char *err;
    } cases[] = {
        {events_missing_data, "events[1]: missing \"data\""},
        {events_missing_topic, "events[0]: missing \"topic\""},
        {events_not_array, "\"events\" is not an array"},
        {events_missing, "payload: missing \"events\""},
        {events_item_not_map, "events[0]: expected a map"},
        {events_data_int, "events[0]: \"data\" is not a string"},
        {events_data_nil, "events[0]: \"data\" is not a string"},
        {events_event_int, "events[0]: \"event\" is not a string"},
        {events_data_twice, "events[0]: \"data\" appears twice"},
        {events_short_positional, "events[0]: expected a map"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mp m;
        mp_init(&m);
        cases[i].build(&m);
        struct rp_branca_events ev;
        struct rp_diag err;
        assert_int_equal(rp_branca_read_events(mp_data(&m), m.sb.size, 10, &ev, &err), -EINVAL);
        assert_string_equal(err.msg, cases[i].err);
        assert_null(ev.items);
        assert_null(ev.buf);
        assert_int_equal(ev.n, 0);
        rp_branca_events_fini(&ev);
        msgpack_sbuffer_destroy(&m.sb);
    }
    /* No message at all is fine too (base/diag's test covers cutting long messages). */
    struct mp m;
    mp_init(&m);
    events_missing_data(&m);
    struct rp_branca_events ev;
    assert_int_equal(rp_branca_read_events(mp_data(&m), m.sb.size, 10, &ev, NULL), -EINVAL);
    assert_null(ev.items);
    assert_int_equal(ev.n, 0);
    msgpack_sbuffer_destroy(&m.sb);
}

/* The whole /submit path: token -> payload -> batch. */
static void
test_token_to_events(void **state)
{
    uint8_t key[RP_BRANCA_KEY_LEN];
    randombytes_buf(key, sizeof(key));
    struct mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "events");
    msgpack_pack_array(&m.pk, 1);
    pack_event(&m, "todo", "todo-update", "");
    char *token;
    assert_int_equal(rp_branca_encode(key, mp_data(&m), m.sb.size, 1700000000, &token), 0);
    msgpack_sbuffer_destroy(&m.sb);

    uint8_t *payload;
    size_t plen;
    assert_int_equal(decode_str(key, token, 1700000000 + 60, 86400, &payload, &plen, NULL),
                     RP_AUTH_OK);
    struct rp_branca_events ev;
    struct rp_diag err;
    assert_int_equal(rp_branca_read_events(payload, plen, 100, &ev, &err), 0);
    free(payload);
    assert_int_equal(ev.n, 1);
    assert_item(&ev.items[0], "todo", "todo-update", "");
    rp_branca_events_fini(&ev);
    free(token);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_parse),
        cmocka_unit_test(test_spec_vectors_valid),
        cmocka_unit_test(test_spec_vectors_layout),
        cmocka_unit_test(test_spec_vectors_invalid),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_topics_invalid),
        cmocka_unit_test(test_malformed_msgpack),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_events_limit),
        cmocka_unit_test(test_events_invalid),
        cmocka_unit_test(test_token_to_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
