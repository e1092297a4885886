/* SPDX-License-Identifier: MIT */
#ifndef RP_BASE_STATS_H
#define RP_BASE_STATS_H
/*
 * The node's counters and gauges, one table. Each worker owns one struct rp_stats and is
 * its only writer; /metrics sums every worker's (relaxed atomics: a reader on another
 * thread sees a recent value, never a torn one). Lives in base so every layer can count
 * without knowing how metrics are rendered (ops/metrics).
 *
 * RP_STAT(name, kind, help): kind is COUNTER or GAUGE.
 */
#include <stdatomic.h>
#include <stdint.h>

#define RP_STATS_TABLE(X)                                                                          \
    X(connections_active, GAUGE, "Open client connections")                                        \
    X(connections_total, COUNTER, "Client connections accepted")                                   \
    X(streams_active, GAUGE, "Open event streams")                                                 \
    X(streams_total, COUNTER, "Event streams opened")                                              \
    X(http_requests_total, COUNTER, "HTTP requests handled")                                       \
    X(http_errors_total, COUNTER, "HTTP requests answered with a 4xx or 5xx status")               \
    X(messages_sent, COUNTER, "Events written to subscribers")                                     \
    X(bytes_sent, COUNTER, "Bytes of events written to subscribers")                               \
    X(events_published, COUNTER, "Events appended to topic logs")                                  \
    X(publish_requests_total, COUNTER, "Publish requests acknowledged")                            \
    X(publish_rejected_total, COUNTER, "Publish requests refused")                                 \
    X(heartbeats_sent, COUNTER, "Heartbeat comments written")                                      \
    X(drops_oldest, COUNTER, "Events skipped for lagging subscribers by slow_policy drop_oldest")  \
    X(drops_newest, COUNTER, "Events skipped for lagging subscribers by slow_policy drop_newest")  \
    X(drops_expired, COUNTER, "Gaps: times the log evicted events before a subscriber read them")  \
    X(disconnects_slow, COUNTER, "Subscribers closed by slow_policy disconnect")                   \
    X(publish_blocked_total, COUNTER, "Publishes that waited for slow_policy block")               \
    X(publish_block_timeouts, COUNTER, "Publishes refused after block_timeout")                    \
    X(auth_cache_hits, COUNTER, "Authorisation decisions answered from the token cache")           \
    X(auth_failures, COUNTER, "Requests refused for missing or invalid credentials")

enum rp_stat_id {
#define RP_STAT_ENUM(name, kind, help) RP_STAT_##name,
    RP_STATS_TABLE(RP_STAT_ENUM)
#undef RP_STAT_ENUM
        RP_STAT__COUNT
};

struct rp_stats {
    _Atomic uint64_t v[RP_STAT__COUNT];
};

static inline void
rp_stat_add(struct rp_stats *s, enum rp_stat_id id, uint64_t n)
{
    atomic_fetch_add_explicit(&s->v[id], n, memory_order_relaxed);
}

static inline void
rp_stat_sub(struct rp_stats *s, enum rp_stat_id id, uint64_t n)
{
    atomic_fetch_sub_explicit(&s->v[id], n, memory_order_relaxed);
}

static inline uint64_t
rp_stat_get(const struct rp_stats *s, enum rp_stat_id id)
{
    return atomic_load_explicit(&s->v[id], memory_order_relaxed);
}

#endif
