/* SPDX-License-Identifier: MIT */
#ifndef RP_AUTH_AUTH_JWT_KEYS_H
#define RP_AUTH_AUTH_JWT_KEYS_H
/*
 * The JWT key set from the inside: its layout, which the verifier (auth_jwt.c) walks, and
 * the pieces key loading shares with the signer (auth_jwt_sign.c): algorithm names, reading
 * a key file, checking a public key, writing an error. Internal to the auth_jwt*.c files;
 * everyone else uses auth/auth_jwt.h. Not responsible for tokens. Any thread.
 */
#include <stddef.h>

#include <openssl/evp.h>

#include "auth/auth_jwt.h"

#define RP_JWT_ES256_SIG_LEN 64 /* raw r || s, as JWS carries it */
#define RP_JWT_HS256_MAC_LEN 32
#define RP_JWT_EDDSA_SIG_LEN 64 /* Ed25519 */

/* Each key verifies exactly one alg, which fixes its type: no algorithm confusion. */
enum rp_jwt_alg {
    RP_JWT_ALG_HS256 = 0,
    RP_JWT_ALG_RS256,
    RP_JWT_ALG_ES256,
    RP_JWT_ALG_EDDSA, /* Ed25519 (RFC 8037) */
};

struct rp_jwt_key {
    enum rp_jwt_alg alg;
    char *kid;             /* NULL = none */
    unsigned char *secret; /* HS256 */
    size_t secret_len;
    EVP_PKEY *pkey; /* RS256, ES256 */
};

struct rp_jwt_keys {
    struct rp_jwt_key *keys;
    size_t n;
    EVP_MD *sha256; /* fetched once, not per verification */
};

/* The JOSE name of <alg> ("HS256"); static. */
const char *rp_jwt_alg_name(enum rp_jwt_alg alg);
/* The alg whose JOSE name is <name>, or -1 for any other (including "none"). */
int rp_jwt_alg_from_name(const char *name);

/* Sets the message of <diag> (which may be NULL) and returns <code>. */
int rp_jwt_fail(struct rp_diag *diag, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Reads the whole file <path>, described as <what> in messages, into a NUL-terminated
 * buffer of *<len> bytes (free() it) and sets *<rc> to 0. NULL with *<rc> = -errno and a
 * message in <diag> when it cannot be read or is larger than a key file can be (-EFBIG).
 */
char *rp_jwt_read_file(const char *what, const char *path, size_t *len, int *rc,
                       struct rp_diag *diag);
/*
 * Checks that <pkey> is usable and says for which alg (*<alg>): RSA of at least
 * RP_JWT_MIN_RSA_BITS (RS256) or EC on P-256 (ES256), with a public part that passes
 * OpenSSL's validation. NULL, or a static reason.
 */
const char *rp_jwt_check_pkey(EVP_PKEY *pkey, enum rp_jwt_alg *alg);

#endif
