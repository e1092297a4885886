/* SPDX-License-Identifier: MIT */
#ifndef RP_AUTH_AUTH_JWT_H
#define RP_AUTH_AUTH_JWT_H
/*
 * Local JWT (compact JWS) verification with HS256, RS256 and ES256, against keys from a
 * shared secret, a PEM public key file and/or a JWKS file; turns the claims into a grant
 * (auth/auth). Also signs tokens for `revenprox token` and tests. Not responsible for
 * finding the token in a request, caching verdicts or fetching JWKS over the network.
 * A built key set is immutable: verify from any thread; load and sign from any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

/* Longest token rp_jwt_verify looks at; longer is RP_AUTH_TOO_LARGE. */
#define RP_JWT_MAX_TOKEN 16384
/* Most entries a `read` or `write` claim may have; more is RP_AUTH_MALFORMED. */
#define RP_JWT_MAX_FILTERS 256
/* Shortest HS256 secret accepted (RFC 7518 3.2: at least the hash size), in bytes. */
#define RP_JWT_MIN_SECRET 32
/* Smallest RSA modulus accepted for RS256 (RFC 7518 3.3), in bits. */
#define RP_JWT_MIN_RSA_BITS 2048

struct rp_diag;

/* An immutable set of verification keys; shareable across threads once built. */
struct rp_jwt_keys;

/*
 * Builds a key set from any combination of: an HS256 shared <secret> (NULL/"" = none; at
 * least RP_JWT_MIN_SECRET bytes), a PEM public key file <key_file> (SubjectPublicKeyInfo,
 * PKCS#1 RSA or an X.509 certificate; RSA -> RS256, EC P-256 -> ES256; NULL/"" = none) and
 * a JWKS file <jwks_file> (a {"keys":[...]} set or one JWK; keys with kty RSA / EC(P-256) /
 * oct, optional kid and alg; keys for other algorithms or `use` other than "sig" are
 * skipped; NULL/"" = none). At least one usable key is required. Returns 0 and the set in
 * *<out> (free with rp_jwt_keys_free), or -errno (-ENOENT, -EINVAL, -EFBIG, ...) with a
 * one-line message in <diag> (may be NULL) naming the file and what is wrong.
 */
int rp_jwt_keys_load(struct rp_jwt_keys **out, const char *secret, const char *key_file,
                     const char *jwks_file, struct rp_diag *diag);
/* Frees <keys>; accepts NULL. */
void rp_jwt_keys_free(struct rp_jwt_keys *keys);
/* Number of keys in <keys> (0 for NULL). */
size_t rp_jwt_keys_count(const struct rp_jwt_keys *keys);

struct rp_jwt_options {
    const char *audience; /* NULL = not checked; else the token's aud (string or array) must
                           * contain it */
    const char *issuer;   /* NULL = not checked; else iss must equal it */
    int64_t leeway_ms;    /* clock skew allowed for exp/nbf/iat (negative counts as 0) */
};

/*
 * Verifies the compact JWS <token> (<len> bytes, need not be NUL-terminated) at wall-clock
 * <now_ms> (unix ms) with <opt> (NULL = no aud/iss checks, no leeway) and fills the zeroed
 * <out> (sub, expires_ms from exp (0 when no exp), read, write; the caller finis it).
 * Returns RP_AUTH_OK or the reason; on failure <out> is left zeroed. The signature is
 * checked before any claim is read. Key choice: alg HS256 uses only the secret and oct
 * keys, RS256 only RSA keys, ES256 only EC P-256 keys (none of that type: BAD_ALG); a kid
 * in the header restricts the choice to the keys with that kid (none has it: UNKNOWN_KEY;
 * only keys of another type have it: BAD_ALG); without a kid every key of the type is
 * tried. Keys embedded in the header (jwk, jku, x5c, x5u) are never used; any "crit" is
 * refused as MALFORMED.
 */
enum rp_auth_result rp_jwt_verify(const struct rp_jwt_keys *keys, const char *token, size_t len,
                                  int64_t now_ms, const struct rp_jwt_options *opt,
                                  struct rp_grant *out);

/*
 * rp_jwt_verify that also hands out the verified claims: on RP_AUTH_OK, *<claims> is the
 * token's claims object (a jansson json_t; the caller json_decref's it), for claims other
 * than read/write (auth/claims reads Mercure's); else *<claims> is NULL. It also accepts
 * the header `typ` of RFC 9068 access tokens ("at+jwt", "application/at+jwt") and sets
 * *<at_jwt> when the token had it.
 */
struct json_t;
enum rp_auth_result rp_jwt_verify_claims(const struct rp_jwt_keys *keys, const char *token,
                                         size_t len, int64_t now_ms,
                                         const struct rp_jwt_options *opt, struct rp_grant *out,
                                         struct json_t **claims, bool *at_jwt);
/*
 * Signs <claims_json> (a JSON object text) as a compact JWS: HS256 with <secret>, or with
 * the (unencrypted) private key in the PEM file <private_key_file> (RSA -> RS256, EC P-256
 * -> ES256); exactly one of the two is non-NULL. Optional <kid> (NULL = none) goes into the
 * header. Returns 0 and a malloc'd NUL-terminated token in *<out> (free() it), or -errno
 * with a one-line message in <diag> (may be NULL). Used by `revenprox token` and by tests.
 */
int rp_jwt_sign(const char *secret, const char *private_key_file, const char *kid,
                const char *claims_json, char **out, struct rp_diag *diag);

#endif
