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
    X(streams_stalled, GAUGE, "Event streams whose socket is full (the reader lags)")              \
    X(workers_io_uring, GAUGE, "Workers writing event streams in batches through io_uring")        \
    X(http_requests_total, COUNTER, "HTTP requests handled")                                       \
    X(http_errors_total, COUNTER, "HTTP requests answered with a 4xx or 5xx status")               \
    X(messages_sent, COUNTER, "Events written to subscribers")                                     \
    X(bytes_sent, COUNTER, "Bytes of events written to subscribers")                               \
    X(events_published, COUNTER, "Events appended to topic logs")                                  \
    X(events_replayed, COUNTER, "Events written to resuming subscribers from the log (replay)")    \
    X(connections_waiting, GAUGE,                                                                  \
      "Connections whose request waits (auth webhook, slow_policy block)")                         \
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
    X(auth_cache_misses, COUNTER, "Tokens the token cache did not know (then verified)")           \
    X(auth_failures, COUNTER, "Requests refused for missing or invalid credentials")               \
    X(auth_webhook_calls, COUNTER, "Verification calls made to the webhook")                       \
    X(auth_webhook_failures, COUNTER, "Webhook calls that failed (no answer, bad status or body)") \
    X(ratelimit_connect, COUNTER, "New connections refused by connect_rate")                       \
    X(ratelimit_publish, COUNTER, "Publishes refused by publish_rate")                             \
    X(ratelimit_per_ip, COUNTER, "Connections refused by max_connections_per_ip")                  \
    X(ratelimit_total, COUNTER, "Connections refused by max_connections")                          \
    X(ratelimit_storm, COUNTER, "Event streams refused by the reconnect-storm guard")              \
    X(hosts_refused, COUNTER,                                                                      \
      "Requests refused with 421: their Host is not allowed (allowed_hosts)")

enum rp_stat_id {
#define RP_STAT_ENUM(name, kind, help) RP_STAT_##name,
    RP_STATS_TABLE(RP_STAT_ENUM)
#undef RP_STAT_ENUM
        RP_STAT__COUNT
};

/* Labelled and histogram families, rendered by ops/metrics: auth failures by reason (the
 * reasons are auth/auth.h's, by index) and the webhook's latency. */
#define RP_STATS_AUTH_REASONS 16
#define RP_STATS_WEBHOOK_BUCKETS 12
#define RP_STATS_LAG_BUCKETS 6
static const uint64_t rp_stats_lag_bounds[RP_STATS_LAG_BUCKETS] = {0, 10, 100, 1000, 10000, 100000};
static const int64_t rp_stats_webhook_bounds_ms[RP_STATS_WEBHOOK_BUCKETS] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};
/* Publish to write: from the hub's append to the socket taking the event. */
#define RP_STATS_DELIVERY_BUCKETS 12
static const int64_t rp_stats_delivery_bounds_ms[RP_STATS_DELIVERY_BUCKETS] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};
/* How long connections stayed open: from a request's round trip to a day-long stream. */
#define RP_STATS_CONN_BUCKETS 10
static const int64_t rp_stats_conn_bounds_ms[RP_STATS_CONN_BUCKETS] = {
    100, 1000, 10000, 60000, 300000, 900000, 3600000, 14400000, 43200000, 86400000};

struct rp_stats {
    _Atomic uint64_t v[RP_STAT__COUNT];
    _Atomic uint64_t auth_failures_by[RP_STATS_AUTH_REASONS];
    /* Non-cumulative: bucket i counts calls <= bound i and > bound i-1; the last slot is +Inf. */
    _Atomic uint64_t webhook_ms[RP_STATS_WEBHOOK_BUCKETS + 1];
    _Atomic uint64_t webhook_ms_sum;
    /* Live writes, by how long their first event waited since it was appended. */
    _Atomic uint64_t delivery_ms[RP_STATS_DELIVERY_BUCKETS + 1];
    _Atomic uint64_t delivery_ms_sum;
    /* Connections closed, by how long they were open (non-cumulative, like webhook_ms). */
    _Atomic uint64_t conn_ms[RP_STATS_CONN_BUCKETS + 1];
    _Atomic uint64_t conn_ms_sum;
    /* Gauges, refreshed every few seconds by the worker: its streams by how many events
     * they are behind (non-cumulative; the last slot is over every bound). */
    _Atomic uint64_t lag[RP_STATS_LAG_BUCKETS + 1];
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

static inline void
rp_stat_auth_failure(struct rp_stats *s, unsigned reason)
{
    rp_stat_add(s, RP_STAT_auth_failures, 1);
    if (reason < RP_STATS_AUTH_REASONS)
        atomic_fetch_add_explicit(&s->auth_failures_by[reason], 1, memory_order_relaxed);
}

/* Counts <ms> in the histogram <buckets> (<n> bounds, then +Inf) and adds it to <sum>. */
static inline void
rp_stat_observe(_Atomic uint64_t *buckets, _Atomic uint64_t *sum, const int64_t *bounds, unsigned n,
                int64_t ms)
{
    unsigned i = 0;
    while (i < n && ms > bounds[i])
        i++;
    atomic_fetch_add_explicit(&buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(sum, (uint64_t)(ms > 0 ? ms : 0), memory_order_relaxed);
}

static inline void
rp_stat_webhook_latency(struct rp_stats *s, int64_t ms)
{
    rp_stat_observe(s->webhook_ms, &s->webhook_ms_sum, rp_stats_webhook_bounds_ms,
                    RP_STATS_WEBHOOK_BUCKETS, ms);
}

static inline void
rp_stat_delivery_latency(struct rp_stats *s, int64_t ms)
{
    rp_stat_observe(s->delivery_ms, &s->delivery_ms_sum, rp_stats_delivery_bounds_ms,
                    RP_STATS_DELIVERY_BUCKETS, ms);
}

static inline void
rp_stat_conn_duration(struct rp_stats *s, int64_t ms)
{
    rp_stat_observe(s->conn_ms, &s->conn_ms_sum, rp_stats_conn_bounds_ms, RP_STATS_CONN_BUCKETS,
                    ms);
}

#endif
