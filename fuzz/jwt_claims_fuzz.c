/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the local JWT verifier. Each input is used twice: as a whole compact token (shape,
 * base64url and header checks; the corpus' valid tokens, signed with SECRET, get as far as
 * the claims) and as the claims payload of a token this harness signs with HS256, so that
 * arbitrary bytes reach the claims parser behind a good signature. Aborts on any broken
 * invariant: a refused token leaves the grant zeroed, an accepted one holds only valid
 * filters within the limits, and a signed payload never fails for its signature.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/auth_jwt.h"
#include "base/b64url.h"
#include "core/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The corpus tokens are signed with this secret and valid at NOW_MS. */
#define SECRET "revenprox jwt_claims fuzz secret (32+ bytes)"
#define NOW_MS 1700000000000LL
/* {"alg":"HS256","typ":"JWT"} */
#define HEADER_B64 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

static void
check_filters(char **list, size_t n)
{
    if (n > RP_JWT_MAX_FILTERS || (n && !list))
        abort();
    for (size_t i = 0; i < n; i++)
        if (!list[i] || rp_pattern_check(list[i], strlen(list[i])) != NULL)
            abort();
}

static enum rp_auth_result
verify_checked(const struct rp_jwt_keys *keys, const char *token, size_t len,
               const struct rp_jwt_options *opt)
{
    static const struct rp_grant zero;
    struct rp_grant g = {0};
    enum rp_auth_result r = rp_jwt_verify(keys, token, len, NOW_MS, opt, &g);
    if ((unsigned)r >= RP_AUTH__COUNT)
        abort();
    if (r != RP_AUTH_OK) {
        if (memcmp(&g, &zero, sizeof(zero)) != 0)
            abort();
        return r;
    }
    if (len > RP_JWT_MAX_TOKEN || g.expires_ms < 0)
        abort();
    check_filters(g.read, g.n_read);
    check_filters(g.write, g.n_write);
    rp_grant_fini(&g);
    return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct rp_jwt_keys *keys;
    if (!keys) {
        if (rp_jwt_keys_load(&keys, SECRET, NULL, NULL, NULL) != 0)
            abort();
    }
    static const struct rp_jwt_options plain = {.leeway_ms = 30000};
    static const struct rp_jwt_options strict = {.audience = "rp", .issuer = "iss"};

    /* 1. The input as a token. */
    verify_checked(keys, (const char *)data, size, &plain);

    /* 2. The input as the claims of a correctly signed token. */
    if (size > RP_JWT_MAX_TOKEN)
        return 0;
    size_t cap = sizeof(HEADER_B64) + size / 3 * 4 + 4 + 1 + 43 + 1;
    char *token = malloc(cap);
    if (!token)
        return 0;
    size_t n = sizeof(HEADER_B64) - 1;
    memcpy(token, HEADER_B64, n);
    token[n++] = '.';
    n += rp_b64url_encode(data, size, token + n);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)token, n, mac,
              &mac_len))
        abort();
    token[n++] = '.';
    n += rp_b64url_encode(mac, mac_len, token + n);
    if (n > cap)
        abort();
    const struct rp_jwt_options *opts[] = {NULL, &plain, &strict};
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        enum rp_auth_result r = verify_checked(keys, token, n, opts[i]);
        bool fits = n <= RP_JWT_MAX_TOKEN;
        /* The signature is good, so only the size or the claims can be refused. */
        if (r == RP_AUTH_BAD_SIGNATURE || r == RP_AUTH_BAD_ALG || r == RP_AUTH_UNKNOWN_KEY ||
            (size > 0 && fits && r == RP_AUTH_MISSING) || (!fits && r != RP_AUTH_TOO_LARGE))
            abort();
    }
    free(token);
    return 0;
}
