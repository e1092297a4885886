/* SPDX-License-Identifier: MIT */
#ifndef RP_AUTH_AUTH_H
#define RP_AUTH_AUTH_H
/*
 * What a verified credential allows (a grant) and why a credential was refused (a
 * failure reason). Every verifier (auth_jwt, auth_branca, auth_webhook) produces a grant;
 * the API asks the grant whether a subscription filter or a publish topic is covered.
 * Not responsible for finding or verifying tokens. Pure; any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Why a request was refused; the names are the `reason` label of
 * revenprox_auth_failures_total. RP_AUTH_OK is not a failure.
 */
#define RP_AUTH_FAILURE_TABLE(X)                                                                   \
    X(OK, "ok")                                                                                    \
    X(MISSING, "missing")             /* no token where one is required */                         \
    X(TOO_LARGE, "too_large")         /* token longer than auth_max_token */                       \
    X(MALFORMED, "malformed")         /* not a token of the expected shape */                      \
    X(BAD_ALG, "bad_alg")             /* alg none, or not the configured key's algorithm */        \
    X(UNKNOWN_KEY, "unknown_key")     /* no configured key for the token's kid */                  \
    X(BAD_SIGNATURE, "bad_signature") /* signature or MAC does not verify */                       \
    X(EXPIRED, "expired")             /* exp (or Branca ttl) is past */                            \
    X(NOT_YET_VALID, "not_yet_valid") /* nbf or iat is in the future */                            \
    X(BAD_AUDIENCE, "bad_audience")                                                                \
    X(BAD_ISSUER, "bad_issuer")                                                                    \
    X(REJECTED, "rejected")       /* the webhook answered valid:false */                           \
    X(FORBIDDEN, "forbidden")     /* valid token, but its claims do not cover the topic */         \
    X(UNAVAILABLE, "unavailable") /* the webhook failed or its breaker is open */

enum rp_auth_result {
#define RP_AUTH_ENUM(name, label) RP_AUTH_##name,
    RP_AUTH_FAILURE_TABLE(RP_AUTH_ENUM)
#undef RP_AUTH_ENUM
        RP_AUTH__COUNT
};

/* The label of <r> ("expired"), static. */
const char *rp_auth_result_name(enum rp_auth_result r);

/*
 * What one credential allows. Owns its strings. A zeroed grant allows nothing.
 * <read> and <write> are topic filters (names or `+`/`#` patterns, core/pattern).
 */
struct rp_grant {
    char *sub;          /* subject, or NULL */
    int64_t expires_ms; /* wall-clock (unix) milliseconds after which it is void; 0 = never */
    char **read;
    size_t n_read;
    char **write;
    size_t n_write;
};

/* Frees what <g> owns and zeroes it; accepts a zeroed grant. */
void rp_grant_fini(struct rp_grant *g);
/* Deep copy of <src> into the zeroed <dst>. */
void rp_grant_copy(struct rp_grant *dst, const struct rp_grant *src);
/* Appends a copy of <filter> to the read (or write) list; -EINVAL when <filter> is not a
 * valid topic name or pattern. */
int rp_grant_add_read(struct rp_grant *g, const char *filter, size_t len);
int rp_grant_add_write(struct rp_grant *g, const char *filter, size_t len);
/* True when every topic the subscription filter <filter> can match is covered by one of
 * the read filters (a stream on `a/+` needs `a/+`, `a/#` or `#`, not `a/b`). */
bool rp_grant_may_read(const struct rp_grant *g, const char *filter, size_t len);
/* True when the concrete topic <topic> is covered by one of the write filters. */
bool rp_grant_may_write(const struct rp_grant *g, const char *topic, size_t len);

#endif
