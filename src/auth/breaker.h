/* SPDX-License-Identifier: MIT */
#ifndef RP_AUTH_BREAKER_H
#define RP_AUTH_BREAKER_H
/*
 * Circuit breaker around the auth webhook: after enough failures it stops calls for a while
 * (the caller answers 503 with Retry-After, or admits cached tokens: token_cache's
 * allow_stale), then lets a few probes through to see whether the webhook is back.
 * Not responsible for making calls or deciding what a failure is (the caller records it).
 * Time is passed in. Any thread: one mutex.
 *
 *            consecutive failures >= failure_threshold, or
 *            window failure rate > error_rate (>= min_requests calls)
 *   CLOSED ----------------------------------------------------------> OPEN
 *     ^                                                              |    ^
 *     | half_open_probes consecutive successes    allow() after open_ms|    | any failure
 *     |                                                              v    |
 *     +------------------------------------------------------- HALF_OPEN -+
 *
 * CLOSED admits every call. OPEN admits none. HALF_OPEN admits at most half_open_probes
 * calls in flight (admitted by allow, not yet recorded). Entering OPEN or CLOSED clears the
 * failure counts. Records that arrive while OPEN (calls admitted before it opened) are
 * ignored; in HALF_OPEN every record counts as a probe's verdict.
 */
#include <stdbool.h>
#include <stdint.h>

#define RP_BREAKER_STATE_TABLE(X)                                                                  \
    X(CLOSED, "closed")                                                                            \
    X(OPEN, "open")                                                                                \
    X(HALF_OPEN, "half_open")

enum rp_breaker_state {
#define RP_BREAKER_ENUM(name, label) RP_BREAKER_##name,
    RP_BREAKER_STATE_TABLE(RP_BREAKER_ENUM)
#undef RP_BREAKER_ENUM
        RP_BREAKER__COUNT
};

/* Called outside the breaker's lock, on the thread whose allow/record made the transition.
 * Transitions on different threads may report out of order. May call rp_breaker_*. */
typedef void (*rp_breaker_transition_fn)(void *ctx, enum rp_breaker_state from,
                                         enum rp_breaker_state to);

struct rp_breaker_config {
    uint32_t failure_threshold; /* consecutive failures that open it; 0: rule off */
    double error_rate;          /* failure fraction above which it opens; <= 0 or >= 1: rule off */
    int64_t window_ms;          /* the error rate's sliding window (10 slices); <= 0: rule off */
    uint32_t min_requests;      /* calls in the window before the rate counts */
    int64_t open_ms;            /* time OPEN before probes are allowed */
    uint32_t half_open_probes;  /* probes in flight, and successes to close; 0 counts as 1 */
    rp_breaker_transition_fn on_transition; /* may be NULL */
    void *ctx;
};

struct rp_breaker;

/* A CLOSED breaker configured by <cfg> (copied). Never fails. */
struct rp_breaker *rp_breaker_new(const struct rp_breaker_config *cfg);
/* Frees <b>; accepts NULL. */
void rp_breaker_free(struct rp_breaker *b);
/* May a call go out at monotonic <now_ms>? OPEN turns HALF_OPEN once open_ms has passed;
 * in HALF_OPEN a true answer takes a probe slot, which the call's record gives back (a slot
 * held longer than open_ms is reclaimed). Each true answer calls for one rp_breaker_record. */
bool rp_breaker_allow(struct rp_breaker *b, int64_t now_ms);
/* Records the outcome of a call that allow admitted. */
void rp_breaker_record(struct rp_breaker *b, int64_t now_ms, bool success);
/* The current state (OPEN stays OPEN until an allow after open_ms). */
enum rp_breaker_state rp_breaker_state(struct rp_breaker *b);
/* The label of <s> ("half_open"), static. */
const char *rp_breaker_state_name(enum rp_breaker_state s);
/* Milliseconds until allow can admit a call (for Retry-After): 0 when it can now; in OPEN
 * the time left of open_ms; in HALF_OPEN with every probe in flight, the time until their
 * slots are reclaimed. */
int64_t rp_breaker_retry_after_ms(struct rp_breaker *b, int64_t now_ms);
/* Transitions into <to> so far. */
uint64_t rp_breaker_transitions(struct rp_breaker *b, enum rp_breaker_state to);

#endif
