/* SPDX-License-Identifier: MIT */
#include "auth/breaker.h"

#include <pthread.h>
#include <string.h>

#include "base/alloc.h"

/* The error-rate window is N_SLICES slices of window_ms / N_SLICES: a sliding window at
 * slice granularity, in constant memory. */
#define N_SLICES 10

struct slice {
    int64_t epoch; /* now_ms / slice_ms when its counts were made */
    uint32_t ok, fail;
};

struct rp_breaker {
    pthread_mutex_t mu;
    struct rp_breaker_config cfg;
    int64_t slice_ms; /* 0 when the rate rule is off */
    enum rp_breaker_state state;
    uint32_t consecutive_failures; /* CLOSED */
    struct slice slices[N_SLICES]; /* CLOSED */
    int64_t opened_ms;             /* OPEN: when it opened */
    uint32_t in_flight;            /* HALF_OPEN: probes admitted, not yet recorded */
    uint32_t successes;            /* HALF_OPEN: consecutive probe successes */
    int64_t last_probe_ms;         /* HALF_OPEN: when the last probe was admitted */
    uint64_t transitions[RP_BREAKER__COUNT];
};

/* A transition made under the lock, reported after it is released. */
struct change {
    bool made;
    enum rp_breaker_state from, to;
};

const char *
rp_breaker_state_name(enum rp_breaker_state s)
{
    static const char *const names[] = {
#define RP_BREAKER_NAME(name, label) label,
        RP_BREAKER_STATE_TABLE(RP_BREAKER_NAME)
#undef RP_BREAKER_NAME
    };
    return (unsigned)s < RP_BREAKER__COUNT ? names[s] : "unknown";
}

struct rp_breaker *
rp_breaker_new(const struct rp_breaker_config *cfg)
{
    struct rp_breaker *b = rp_xcalloc(1, sizeof(*b));
    pthread_mutex_init(&b->mu, NULL);
    b->cfg = *cfg;
    if (b->cfg.half_open_probes == 0)
        b->cfg.half_open_probes = 1;
    if (b->cfg.open_ms < 0)
        b->cfg.open_ms = 0;
    if (b->cfg.error_rate > 0.0 && b->cfg.error_rate < 1.0 && b->cfg.window_ms > 0)
        b->slice_ms = b->cfg.window_ms >= N_SLICES ? b->cfg.window_ms / N_SLICES : 1;
    b->state = RP_BREAKER_CLOSED;
    return b;
}

void
rp_breaker_free(struct rp_breaker *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static void
set_state(struct rp_breaker *b, enum rp_breaker_state to, int64_t now_ms, struct change *ch)
{
    ch->made = true;
    ch->from = b->state;
    ch->to = to;
    b->state = to;
    b->transitions[to]++;
    b->consecutive_failures = 0;
    memset(b->slices, 0, sizeof(b->slices));
    b->in_flight = 0;
    b->successes = 0;
    if (to == RP_BREAKER_OPEN)
        b->opened_ms = now_ms;
}

static void
report(struct rp_breaker *b, const struct change *ch)
{
    if (ch->made && b->cfg.on_transition)
        b->cfg.on_transition(b->cfg.ctx, ch->from, ch->to);
}

bool
rp_breaker_allow(struct rp_breaker *b, int64_t now_ms)
{
    struct change ch = {0};
    bool ok = false;

    pthread_mutex_lock(&b->mu);
    if (b->state == RP_BREAKER_OPEN && now_ms - b->opened_ms >= b->cfg.open_ms)
        set_state(b, RP_BREAKER_HALF_OPEN, now_ms, &ch);
    switch (b->state) {
    case RP_BREAKER_CLOSED:
        ok = true;
        break;
    case RP_BREAKER_HALF_OPEN:
        /* A probe whose caller never recorded must not wedge the breaker half-open. */
        if (b->in_flight && now_ms - b->last_probe_ms > b->cfg.open_ms)
            b->in_flight = 0;
        if (b->in_flight < b->cfg.half_open_probes) {
            b->in_flight++;
            b->last_probe_ms = now_ms;
            ok = true;
        }
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&b->mu);
    report(b, &ch);
    return ok;
}

static bool
rate_exceeded(struct rp_breaker *b, int64_t now_ms, bool success)
{
    if (!b->slice_ms)
        return false;
    int64_t epoch = now_ms / b->slice_ms;
    struct slice *cur = &b->slices[((epoch % N_SLICES) + N_SLICES) % N_SLICES];
    if (cur->epoch != epoch) {
        cur->epoch = epoch;
        cur->ok = cur->fail = 0;
    }
    if (success)
        cur->ok++;
    else
        cur->fail++;
    if (success)
        return false;

    uint64_t ok = 0, fail = 0;
    for (size_t i = 0; i < N_SLICES; i++) {
        const struct slice *s = &b->slices[i];
        if (s->epoch > epoch - N_SLICES && s->epoch <= epoch) {
            ok += s->ok;
            fail += s->fail;
        }
    }
    uint64_t total = ok + fail;
    return total >= b->cfg.min_requests && total > 0 &&
           (double)fail > b->cfg.error_rate * (double)total;
}

void
rp_breaker_record(struct rp_breaker *b, int64_t now_ms, bool success)
{
    struct change ch = {0};

    pthread_mutex_lock(&b->mu);
    switch (b->state) {
    case RP_BREAKER_CLOSED: {
        bool rate_trip = rate_exceeded(b, now_ms, success);
        if (success) {
            b->consecutive_failures = 0;
            break;
        }
        b->consecutive_failures++;
        if (rate_trip ||
            (b->cfg.failure_threshold && b->consecutive_failures >= b->cfg.failure_threshold))
            set_state(b, RP_BREAKER_OPEN, now_ms, &ch);
        break;
    }
    case RP_BREAKER_HALF_OPEN:
        if (b->in_flight)
            b->in_flight--;
        if (!success)
            set_state(b, RP_BREAKER_OPEN, now_ms, &ch);
        else if (++b->successes >= b->cfg.half_open_probes)
            set_state(b, RP_BREAKER_CLOSED, now_ms, &ch);
        break;
    default:
        break; /* OPEN: a call admitted before it opened; its verdict is already in */
    }
    pthread_mutex_unlock(&b->mu);
    report(b, &ch);
}

enum rp_breaker_state
rp_breaker_state(struct rp_breaker *b)
{
    pthread_mutex_lock(&b->mu);
    enum rp_breaker_state s = b->state;
    pthread_mutex_unlock(&b->mu);
    return s;
}

int64_t
rp_breaker_retry_after_ms(struct rp_breaker *b, int64_t now_ms)
{
    int64_t left = 0;
    pthread_mutex_lock(&b->mu);
    if (b->state == RP_BREAKER_OPEN)
        left = b->opened_ms + b->cfg.open_ms - now_ms;
    else if (b->state == RP_BREAKER_HALF_OPEN && b->in_flight >= b->cfg.half_open_probes)
        left = b->last_probe_ms + b->cfg.open_ms + 1 - now_ms;
    pthread_mutex_unlock(&b->mu);
    return left > 0 ? left : 0;
}

uint64_t
rp_breaker_transitions(struct rp_breaker *b, enum rp_breaker_state to)
{
    if ((unsigned)to >= RP_BREAKER__COUNT)
        return 0;
    pthread_mutex_lock(&b->mu);
    uint64_t n = b->transitions[to];
    pthread_mutex_unlock(&b->mu);
    return n;
}
