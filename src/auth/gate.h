/* SPDX-License-Identifier: MIT */
#ifndef RP_AUTH_GATE_H
#define RP_AUTH_GATE_H
/*
 * The gate: turns a request's token into a grant, by the configured auth mode. JWTs are
 * verified locally; other tokens go to the application's webhook through the node-wide
 * token cache (one call per token, however many connections present it) and the
 * webhook's circuit breaker; Branca tokens carry their topics themselves.
 * Not responsible for finding the token in a request or for checking a grant against
 * topics (the API does both).
 *
 * Threads: the shared part (keys, cache, breaker) is built once and used by every
 * worker; each worker has its own gate, whose webhook calls run on that worker's loop.
 * A gate is only used from its worker's thread.
 *
 * A verification that needs the webhook answers RP_GATE_WAIT: the caller parks the
 * request and asks again when woken. Wakes come from the gate's own completions (its
 * <wake> callback, on its thread) and, for tokens another worker is verifying, from the
 * shared <wake_all> callback (any thread).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "auth/breaker.h"

struct rp_diag;
struct rp_loop;
struct rp_stats;
struct rp_gate;
struct rp_gate_shared;

/* The auth_mode setting's choices, value for value (server/server.c, the composition root,
 * asserts it). */
enum rp_gate_mode {
    RP_GATE_MODE_NONE = 0,
    RP_GATE_MODE_JWT,
    RP_GATE_MODE_WEBHOOK,
    RP_GATE_MODE_JWT_WEBHOOK,
    RP_GATE_MODE_BRANCA,
};

/* The auth settings; strings are borrowed by rp_gate_shared_new, which copies them. */
struct rp_gate_config {
    enum rp_gate_mode mode;
    const char *jwt_secret;
    const char *jwt_key_file;
    const char *jwt_jwks_file;
    const char *jwt_audience; /* "" = not checked */
    const char *jwt_issuer;   /* "" = not checked */
    int64_t jwt_leeway_ms;
    const char *publisher_key; /* "" = none */
    size_t max_token;
    const char *webhook_url;
    int64_t webhook_connect_timeout_ms;
    int64_t webhook_timeout_ms;
    bool webhook_documented;  /* the documented request: {"jwt","topic"}, one call a topic */
    unsigned webhook_retries; /* after 100, 200, 300 ms, ... */
    int64_t cache_ttl_ms;
    int64_t cache_negative_ttl_ms;
    size_t cache_size;
    unsigned breaker_failures;
    unsigned breaker_error_rate_pct;
    unsigned breaker_min_calls;
    int64_t breaker_window_ms;
    int64_t breaker_open_ms;
    unsigned breaker_probes;
    bool breaker_fallback_cached; /* while open, admit expired cache entries */
    const char *branca_key_hex;   /* 64 hex characters for branca mode */
    int64_t branca_ttl_ms;        /* 0 = no limit */
};

typedef void (*rp_gate_wake_fn)(void *ctx);

/*
 * Builds the shared part: loads the JWT keys, parses the Branca key, creates the token
 * cache and breaker the mode needs. <wake_all>(<ctx>) is called, from any thread, when a
 * webhook verification that other connections waited for has finished. 0 and *<out>, or
 * -EINVAL with a message for the operator in <diag> (a missing key, a bad file; <diag>
 * may be NULL).
 */
int rp_gate_shared_new(const struct rp_gate_config *cfg, rp_gate_wake_fn wake_all, void *ctx,
                       struct rp_gate_shared **out, struct rp_diag *diag);
/* Frees the shared part after every gate using it. Accepts NULL. */
void rp_gate_shared_free(struct rp_gate_shared *sh);
enum rp_gate_mode rp_gate_mode(const struct rp_gate_shared *sh);

/* Node-wide auth figures for /metrics. */
struct rp_gate_report {
    bool has_breaker;
    enum rp_breaker_state breaker_state;
    uint64_t breaker_transitions[RP_BREAKER__COUNT]; /* times it entered each state */
    uint64_t cache_entries;
};
void rp_gate_report(const struct rp_gate_shared *sh, struct rp_gate_report *out);

/* A worker's gate on <loop>; counts into <stats>; <wake>(<ctx>) runs on the worker's
 * thread when one of its webhook calls finished. */
struct rp_gate *rp_gate_new(struct rp_gate_shared *sh, struct rp_loop *loop, struct rp_stats *stats,
                            rp_gate_wake_fn wake, void *ctx);
/* Cancels the gate's webhook calls (their tokens' waiters are woken) and frees it. */
void rp_gate_free(struct rp_gate *g);
/* Drive the gate's webhook client each loop turn (see client/http_client.h). */
int rp_gate_timeout_ms(const struct rp_gate *g, int64_t now_ms);
void rp_gate_tick(struct rp_gate *g, int64_t now_ms);

/* What is asked: the token and, for the webhook, the request's context. */
struct rp_gate_ask {
    const char *token; /* NULL or "" when the request carries none */
    size_t token_len;
    const char *const *topics; /* requested topics or filters */
    size_t n_topics;
    const char *ip;
    const char *user_agent; /* "" when absent */
    const char *action;     /* "subscribe" or "publish" */
    /* In/out, per request: 0 on its first ask; set by the gate when it answers WAIT. A
     * request woken after a webhook call failed is answered UNAVAILABLE instead of starting
     * another call (the breaker, not each waiting request, decides when to try again). */
    uint64_t *wait_mark;
};

enum rp_gate_status {
    RP_GATE_DONE = 0, /* *<result> is final; *<grant> filled when it is RP_AUTH_OK */
    RP_GATE_WAIT,     /* the webhook is asked: park the request, ask again when woken */
};

/*
 * Verifies <a>'s token. DONE with *<result> RP_AUTH_OK and the zeroed <grant> filled, or
 * a failure; for RP_AUTH_UNAVAILABLE, *<retry_after_ms> says when to come back. A token
 * equal to the publisher key gets a grant that may write every topic (and read none).
 */
enum rp_gate_status rp_gate_verify(struct rp_gate *g, const struct rp_gate_ask *a,
                                   struct rp_grant *grant, enum rp_auth_result *result,
                                   int64_t *retry_after_ms);

/* Branca mode: decodes and authenticates <token>; RP_AUTH_OK with the malloc'd payload (see
 * auth/auth_branca.h), else the reason. */
enum rp_auth_result rp_gate_open_branca(struct rp_gate *g, const char *token, size_t len,
                                        uint8_t **payload, size_t *payload_len);

#endif
