/* SPDX-License-Identifier: MIT */
#include "ops/metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "client/upstream.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/*
 * One table, one walk, two emitters. gather() sums the workers into a snapshot; the
 * families[] table describes each metric once (its Prometheus name, type and help, its
 * JSON key, where its numbers are in the snapshot); walk() hands every metric to an
 * emitter, which alone knows its format: Prometheus text or JSON. A new metric is one row.
 */

/* Drops by reason, as one labelled family, so one query sums them. */
static const enum rp_stat_id drop_ids[] = {
    RP_STAT_drops_oldest,
    RP_STAT_drops_newest,
    RP_STAT_drops_expired,
    RP_STAT_disconnects_slow,
};
static const char *const drop_labels[] = {"drop_oldest", "drop_newest", "expired", "disconnect"};

/* Rejections by kind, as one labelled family too. */
static const enum rp_stat_id ratelimit_ids[] = {
    RP_STAT_ratelimit_connect, RP_STAT_ratelimit_publish, RP_STAT_ratelimit_per_ip,
    RP_STAT_ratelimit_total,   RP_STAT_ratelimit_storm,
};
static const char *const ratelimit_labels[] = {"connect_rate", "publish_rate", "connections_per_ip",
                                               "connections", "reconnect_storm"};

_Static_assert(COUNT(drop_ids) == COUNT(drop_labels), "a label per drop reason");
_Static_assert(COUNT(ratelimit_ids) == COUNT(ratelimit_labels), "a label per rejection kind");

/* Failure reasons by index; RP_AUTH_OK (index 0) is not one. */
static const char *const auth_labels[] = {
#define AUTH_LABEL(name, label) label,
    RP_AUTH_FAILURE_TABLE(AUTH_LABEL)
#undef AUTH_LABEL
};
static const char *const breaker_labels[] = {
#define BREAKER_LABEL(name, label) label,
    RP_BREAKER_STATE_TABLE(BREAKER_LABEL)
#undef BREAKER_LABEL
};
_Static_assert(RP_AUTH__COUNT <= RP_STATS_AUTH_REASONS, "base/stats.h counts too few reasons");

/* Connections by state: waiting requests, streams, and the rest (plain HTTP). */
static const char *const conn_labels[] = {"http", "stream", "waiting"};

/* Everything rendered, summed over the workers; the table points into it by offset. */
struct snapshot {
    uint64_t stat[RP_STAT__COUNT];
    uint64_t drops[COUNT(drop_ids)];
    uint64_t auth_failures[RP_AUTH__COUNT]; /* by reason; [RP_AUTH_OK] stays 0 */
    uint64_t ratelimit[COUNT(ratelimit_ids)];
    int64_t webhook_bounds_ms[RP_STATS_WEBHOOK_BUCKETS];
    uint64_t webhook_ms[RP_STATS_WEBHOOK_BUCKETS + 1]; /* not cumulative; the last is +Inf */
    uint64_t webhook_ms_sum;
    int64_t delivery_bounds_ms[RP_STATS_DELIVERY_BUCKETS];
    uint64_t delivery_ms[RP_STATS_DELIVERY_BUCKETS + 1];
    uint64_t delivery_ms_sum;
    int64_t conn_bounds_ms[RP_STATS_CONN_BUCKETS];
    uint64_t conn_ms[RP_STATS_CONN_BUCKETS + 1];
    uint64_t conn_ms_sum;
    uint64_t breaker_state; /* enum rp_breaker_state */
    uint64_t breaker_transitions[COUNT(breaker_labels)];
    uint64_t conns[COUNT(conn_labels)];
    int64_t lag_bounds[RP_STATS_LAG_BUCKETS];
    uint64_t lag[RP_STATS_LAG_BUCKETS + 1]; /* not cumulative; the last is over every bound */
    uint64_t log_events, log_bytes, auth_cache_entries, topics, last_seq, uptime_s, workers;
    uint64_t topics_reclaimed;
    uint64_t sessions_connected, sessions_disconnected, session_buffered_bytes;
    uint64_t sessions_created, session_resumes, session_expiries, session_hijacks_refused;
    bool has_breaker, has_log, has_cluster;
    uint64_t redis_connected, redis_subscribed, redis_reconnects, redis_publishes;
    uint64_t redis_publish_failures, redis_events_in, redis_fills, redis_fills_lost;
    uint64_t redis_channels, redis_lag_ms;
    uint64_t store_bytes, store_segments, durable_lag, records_dropped, log_failed;
    int64_t fsync_bounds_us[RP_LOGENGINE_FSYNC_BUCKETS];
    uint64_t fsync_us[RP_LOGENGINE_FSYNC_BUCKETS + 1];
    uint64_t fsync_us_sum;
    const struct rp_process_stats *process; /* NULL: none */
    struct rp_upstream_pool *upstreams;     /* NULL: none */
    struct rp_stats *const *stats;          /* per worker, for the per-worker figures */
    size_t n_stats;
};

enum shape {
    SHAPE_SCALAR,      /* one number */
    SHAPE_LABELLED,    /* one number per label value */
    SHAPE_ONE_HOT,     /* one of the labels is current: 1 for it, 0 for the others */
    SHAPE_BUCKETS,     /* counts by upper bound, the last one unbounded */
    SHAPE_GROUP_BEGIN, /* JSON: the metrics up to SHAPE_GROUP_END form the object <json> */
    SHAPE_GROUP_END,   /* (Prometheus has no nesting) */
    SHAPE_PER_WORKER,  /* the worker_columns[] figures of each worker */
};

enum {
    M_BREAKER = 1u << 0,       /* only when a webhook breaker exists */
    M_MS_AS_SECONDS = 1u << 1, /* Prometheus: bounds and sum in seconds, counted in ms */
    M_JSON_FLAT = 1u << 2,     /* JSON: members "<label>_<value>" in the enclosing object */
    /* JSON: after workers_detail, so the members before it keep their order as new node
     * figures are added (readers that match the document's text keep working). */
    M_JSON_LAST = 1u << 3,
    M_LOG = 1u << 4,           /* only with a disk log */
    M_US_AS_SECONDS = 1u << 5, /* Prometheus: bounds and sum in seconds, counted in us */
    M_CLUSTER = 1u << 6,       /* only in a cluster (cluster = redis) */
};

/*
 * One metric. <prom> NULL: not in Prometheus; <json> NULL: not in JSON (unless
 * M_JSON_FLAT). Prometheus names get the `revenprox_` prefix, and counters a `_total`
 * suffix where the name lacks it. A BUCKETS metric of type histogram has `_bucket`, `_sum`
 * and `_count` series in Prometheus and `le_<bound>`, `le_inf`, `sum` keys in JSON; of type
 * gauge, one cumulative series per bound and `le_<bound>`, `over` keys.
 */
struct metric {
    enum shape shape;
    const char *prom;
    const char *type; /* "counter", "gauge" or "histogram" */
    const char *help;
    const char *label; /* Prometheus label of LABELLED and ONE_HOT ("reason") */
    const char *json;
    unsigned flags;
    size_t at;                 /* offset of the first value in struct snapshot */
    size_t n;                  /* values (BUCKETS: bounds, plus the unbounded one) */
    const char *const *labels; /* LABELLED, ONE_HOT: a label value per value */
    size_t bounds_at;          /* BUCKETS: offset of the n - 1 int64_t bounds */
    size_t sum_at;             /* BUCKETS of type histogram: offset of the sum */
};

#define AT(member) offsetof(struct snapshot, member)

/* What a BUCKETS metric's bounds and sum are divided by in Prometheus (0: as they are). */
static double
seconds_divisor(const struct metric *m)
{
    if (m->flags & M_MS_AS_SECONDS)
        return 1000.0;
    return m->flags & M_US_AS_SECONDS ? 1000000.0 : 0;
}

#define SCALAR(prom_, type_, help_, json_, member)                                                 \
    {                                                                                              \
        .shape = SHAPE_SCALAR, .prom = prom_, .type = type_, .help = help_, .json = json_,         \
        .at = AT(member), .n = 1                                                                   \
    }
#define LABELLED(prom_, type_, help_, label_, json_, flags_, member, labels_)                      \
    {                                                                                              \
        .shape = SHAPE_LABELLED, .prom = prom_, .type = type_, .help = help_, .label = label_,     \
        .json = json_, .flags = flags_, .at = AT(member), .n = COUNT(labels_), .labels = labels_   \
    }

#define LOG_SCALAR(prom_, type_, help_, json_, member)                                             \
    {                                                                                              \
        .shape = SHAPE_SCALAR, .prom = prom_, .type = type_, .help = help_, .json = json_,         \
        .flags = M_LOG | M_JSON_LAST, .at = AT(member), .n = 1                                     \
    }

#define REDIS_SCALAR(prom_, type_, help_, json_, member)                                           \
    {                                                                                              \
        .shape = SHAPE_SCALAR, .prom = prom_, .type = type_, .help = help_, .json = json_,         \
        .flags = M_CLUSTER | M_JSON_LAST, .at = AT(member), .n = 1                                 \
    }

#define SESSION_SCALAR(prom_, type_, help_, json_, member)                                         \
    {                                                                                              \
        .shape = SHAPE_SCALAR, .prom = prom_, .type = type_, .help = help_, .json = json_,         \
        .flags = M_JSON_LAST, .at = AT(member), .n = 1                                             \
    }

/* Every metric after the per-stat ones (walk() adds those from base/stats.h), in order. */
static const struct metric families[] = {
    LABELLED("drops_total", "counter",
             "Events a subscriber did not get, by reason (every one announced with event: resync)",
             "reason", "drops", 0, drops, drop_labels),
    {.shape = SHAPE_LABELLED,
     .prom = "auth_failures_total",
     .type = "counter",
     .help = "Requests refused for missing or invalid credentials, by reason",
     .label = "reason",
     .json = "auth_failures_by_reason",
     .at = AT(auth_failures[1]), /* RP_AUTH_OK is not a failure */
     .n = RP_AUTH__COUNT - 1,
     .labels = auth_labels + 1},
    LABELLED("ratelimit_rejections_total", "counter", "Requests refused by abuse control, by kind",
             "kind", "ratelimit_rejections", 0, ratelimit, ratelimit_labels),
    {.shape = SHAPE_BUCKETS,
     .prom = "auth_webhook_duration_seconds",
     .type = "histogram",
     .help = "Time the webhook took to answer a verification call",
     .json = "auth_webhook_latency_ms",
     .flags = M_MS_AS_SECONDS,
     .at = AT(webhook_ms),
     .n = RP_STATS_WEBHOOK_BUCKETS + 1,
     .bounds_at = AT(webhook_bounds_ms),
     .sum_at = AT(webhook_ms_sum)},
    {.shape = SHAPE_BUCKETS,
     .prom = "delivery_latency_seconds",
     .type = "histogram",
     .help = "From a publish's append to a live subscriber's socket taking it (one sample a "
             "write: its oldest event)",
     .json = "delivery_latency_ms",
     .flags = M_MS_AS_SECONDS,
     .at = AT(delivery_ms),
     .n = RP_STATS_DELIVERY_BUCKETS + 1,
     .bounds_at = AT(delivery_bounds_ms),
     .sum_at = AT(delivery_ms_sum)},
    {.shape = SHAPE_BUCKETS,
     .prom = "connection_duration_seconds",
     .type = "histogram",
     .help = "How long closed connections (requests and streams) were open",
     .json = "connection_duration_ms",
     .flags = M_MS_AS_SECONDS,
     .at = AT(conn_ms),
     .n = RP_STATS_CONN_BUCKETS + 1,
     .bounds_at = AT(conn_bounds_ms),
     .sum_at = AT(conn_ms_sum)},
    {.shape = SHAPE_GROUP_BEGIN, .json = "auth_breaker", .flags = M_BREAKER},
    {.shape = SHAPE_ONE_HOT,
     .prom = "auth_breaker_state",
     .type = "gauge",
     .help = "The webhook circuit breaker's state (1 for the current one)",
     .label = "state",
     .json = "state",
     .flags = M_BREAKER,
     .at = AT(breaker_state),
     .n = COUNT(breaker_labels),
     .labels = breaker_labels},
    LABELLED("auth_breaker_transitions_total", "counter",
             "Times the webhook circuit breaker entered each state", "to", NULL,
             M_BREAKER | M_JSON_FLAT, breaker_transitions, breaker_labels),
    {.shape = SHAPE_GROUP_END, .flags = M_BREAKER},
    LABELLED("connections", "gauge", "Open connections by state", "state", NULL, 0, conns,
             conn_labels),
    {.shape = SHAPE_PER_WORKER},
    {.shape = SHAPE_BUCKETS,
     .prom = "subscriber_lag_events",
     .type = "gauge",
     .help = "Event streams by how many events they are behind (cumulative, refreshed every 5 s)",
     .json = "subscriber_lag_events",
     .at = AT(lag),
     .n = RP_STATS_LAG_BUCKETS + 1,
     .bounds_at = AT(lag_bounds)},
    SCALAR("log_events", "gauge", "Events kept in all topic logs", "log_events", log_events),
    SCALAR("log_bytes", "gauge", "Bytes of events kept in all topic logs", "log_bytes", log_bytes),
    SCALAR("auth_cache_entries", "gauge", "Tokens in the verification cache", "auth_cache_entries",
           auth_cache_entries),
    SCALAR("topics", "gauge", "Topics the node keeps", "topics", topics),
    SCALAR("last_sequence", "counter", "Node-wide sequence of the newest event", "last_seq",
           last_seq),
    SCALAR("uptime_seconds", "gauge", "Seconds since start", "uptime_seconds", uptime_s),
    SCALAR("workers", "gauge", "Worker threads", "workers", workers),
    {.shape = SHAPE_SCALAR,
     .prom = "topics_reclaimed_total",
     .type = "counter",
     .help = "Topics freed because they had no subscriber and an empty log",
     .json = "topics_reclaimed",
     .flags = M_JSON_LAST,
     .at = AT(topics_reclaimed),
     .n = 1},
    /* A stat, but in JSON after workers_detail, where new figures go (see M_JSON_LAST). */
    {.shape = SHAPE_SCALAR,
     .prom = "hosts_refused_total",
     .type = "counter",
     .help = "Requests refused with 421: their Host is not allowed (allowed_hosts)",
     .json = "hosts_refused",
     .flags = M_JSON_LAST,
     .at = AT(stat[RP_STAT_hosts_refused]),
     .n = 1},
    /* The disk log (only with one), in JSON as "log_store": {...}. */
    {.shape = SHAPE_GROUP_BEGIN, .json = "log_store", .flags = M_LOG | M_JSON_LAST},
    LOG_SCALAR("log_store_bytes", "gauge", "Bytes of history in the disk log's segment files",
               "bytes", store_bytes),
    LOG_SCALAR("log_store_segments", "gauge", "Segment files of the disk log", "segments",
               store_segments),
    LOG_SCALAR("log_durable_lag_events", "gauge",
               "Events published but not yet durable in the disk log", "durable_lag_events",
               durable_lag),
    LOG_SCALAR("log_records_truncated", "gauge",
               "Records dropped at start-up behind a torn or corrupt tail of the disk log",
               "records_truncated", records_dropped),
    LOG_SCALAR("log_store_failed", "gauge",
               "1 while the disk log cannot write (publishes are refused with 507 or 503)",
               "failed", log_failed),
    {.shape = SHAPE_BUCKETS,
     .prom = "log_fsync_duration_seconds",
     .type = "histogram",
     .help = "Time one fsync of the disk log took",
     .json = "fsync_us",
     .flags = M_LOG | M_JSON_LAST | M_US_AS_SECONDS,
     .at = AT(fsync_us),
     .n = RP_LOGENGINE_FSYNC_BUCKETS + 1,
     .bounds_at = AT(fsync_bounds_us),
     .sum_at = AT(fsync_us_sum)},
    {.shape = SHAPE_GROUP_END, .flags = M_LOG | M_JSON_LAST},
    /* The Redis engine (cluster = redis, docs/cluster.md), in JSON as "redis": {...}. */
    {.shape = SHAPE_GROUP_BEGIN, .json = "redis", .flags = M_CLUSTER | M_JSON_LAST},
    REDIS_SCALAR("redis_connected", "gauge",
                 "1 while the command connection to Redis is up (publishes are possible)",
                 "connected", redis_connected),
    REDIS_SCALAR("redis_subscribed", "gauge",
                 "1 while the pub/sub connection to Redis is up (events arrive)", "subscribed",
                 redis_subscribed),
    REDIS_SCALAR("redis_reconnects_total", "counter",
                 "Connections to Redis made again after one dropped", "reconnects",
                 redis_reconnects),
    REDIS_SCALAR("redis_publishes_total", "counter", "Publish batches Redis confirmed", "publishes",
                 redis_publishes),
    REDIS_SCALAR("redis_publish_failures_total", "counter",
                 "Publish batches Redis did not confirm (answered with 503)", "publish_failures",
                 redis_publish_failures),
    REDIS_SCALAR("redis_events_in_total", "counter",
                 "Events taken in from Redis, live and by topic fills", "events_in",
                 redis_events_in),
    REDIS_SCALAR("redis_fills_total", "counter",
                 "Topics filled from their Redis streams (a first reader, or a gap after a drop)",
                 "fills", redis_fills),
    REDIS_SCALAR("redis_fills_lost_total", "counter",
                 "Fills that found part of the gap trimmed from the stream (resync announced)",
                 "fills_lost", redis_fills_lost),
    REDIS_SCALAR("redis_channels", "gauge", "Topics this node listens to in Redis", "channels",
                 redis_channels),
    REDIS_SCALAR("redis_lag_ms", "gauge",
                 "The newest live event from Redis: milliseconds from its publish to this node",
                 "lag_ms", redis_lag_ms),
    {.shape = SHAPE_GROUP_END, .flags = M_CLUSTER | M_JSON_LAST},
    /* Sessions (docs/sessions.md), in JSON as "sessions": {...}. */
    {.shape = SHAPE_GROUP_BEGIN, .json = "sessions", .flags = M_JSON_LAST},
    SESSION_SCALAR("sessions_connected", "gauge", "Sessions with an open stream", "connected",
                   sessions_connected),
    SESSION_SCALAR("sessions_disconnected", "gauge",
                   "Sessions without a stream, kept for session_ttl", "disconnected",
                   sessions_disconnected),
    SESSION_SCALAR("session_buffered_bytes", "gauge",
                   "Bytes of events sent to disconnected sessions and waiting for them",
                   "buffered_bytes", session_buffered_bytes),
    SESSION_SCALAR("sessions_created_total", "counter", "Sessions created", "created",
                   sessions_created),
    SESSION_SCALAR("session_resumes_total", "counter", "Streams that resumed a session", "resumes",
                   session_resumes),
    SESSION_SCALAR("session_expiries_total", "counter",
                   "Sessions expired (session_ttl passed, or session_buffer overflowed)",
                   "expiries", session_expiries),
    SESSION_SCALAR("session_hijacks_refused_total", "counter",
                   "Streams refused with 403 for presenting another client's session",
                   "hijacks_refused", session_hijacks_refused),
    {.shape = SHAPE_GROUP_END, .flags = M_JSON_LAST},
};

/* Whether <m> is rendered for this node. */
static bool
shown(const struct metric *m, const struct snapshot *s)
{
    return !((m->flags & M_BREAKER) && !s->has_breaker) && !((m->flags & M_LOG) && !s->has_log) &&
           !((m->flags & M_CLUSTER) && !s->has_cluster);
}

/* The per-worker figures (SHAPE_PER_WORKER): how evenly the load spreads. Prometheus has a
 * family per column, labelled by worker; JSON an object per worker. */
static const struct column {
    enum rp_stat_id id;
    const char *prom; /* NULL: not in Prometheus */
    const char *type;
    const char *help;
    const char *json;
} worker_columns[] = {
    {RP_STAT_connections_active, "worker_connections", "gauge", "Open connections per worker",
     "connections_active"},
    {RP_STAT_streams_active, "worker_streams", "gauge", "Open event streams per worker",
     "streams_active"},
    {RP_STAT_messages_sent, "worker_messages_sent_total", "counter",
     "Events written to subscribers per worker", "messages_sent"},
    {RP_STAT_events_published, NULL, NULL, NULL, "events_published"},
    {RP_STAT_http_requests_total, "worker_http_requests_total", "counter",
     "HTTP requests handled per worker", "http_requests_total"},
};

#define STAT_TYPE_COUNTER "counter"
#define STAT_TYPE_GAUGE "gauge"
static const struct {
    const char *name;
    const char *type;
    const char *help;
} stat_info[RP_STAT__COUNT] = {
#define RP_STAT_INFO(name, kind, help) {#name, STAT_TYPE_##kind, help},
    RP_STATS_TABLE(RP_STAT_INFO)
#undef RP_STAT_INFO
};

/* The numbers of <m> in <s>: its values, its bounds, its sum. */
static const uint64_t *
values_of(const struct snapshot *s, const struct metric *m)
{
    return (const uint64_t *)(const void *)((const char *)s + m->at);
}

static const int64_t *
bounds_of(const struct snapshot *s, const struct metric *m)
{
    return (const int64_t *)(const void *)((const char *)s + m->bounds_at);
}

static uint64_t
sum_of(const struct snapshot *s, const struct metric *m)
{
    return *(const uint64_t *)(const void *)((const char *)s + m->sum_at);
}

static uint64_t
load(const _Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void
gather(struct snapshot *s, struct rp_stats *const *stats, size_t n,
       const struct rp_metrics_node *node)
{
    memset(s, 0, sizeof(*s));
    for (size_t w = 0; w < n; w++) {
        for (int i = 0; i < RP_STAT__COUNT; i++)
            s->stat[i] += rp_stat_get(stats[w], (enum rp_stat_id)i);
        for (int i = 1; i < RP_AUTH__COUNT; i++)
            s->auth_failures[i] += load(&stats[w]->auth_failures_by[i]);
        for (int i = 0; i <= RP_STATS_WEBHOOK_BUCKETS; i++)
            s->webhook_ms[i] += load(&stats[w]->webhook_ms[i]);
        s->webhook_ms_sum += load(&stats[w]->webhook_ms_sum);
        for (int i = 0; i <= RP_STATS_DELIVERY_BUCKETS; i++)
            s->delivery_ms[i] += load(&stats[w]->delivery_ms[i]);
        s->delivery_ms_sum += load(&stats[w]->delivery_ms_sum);
        for (int i = 0; i <= RP_STATS_CONN_BUCKETS; i++)
            s->conn_ms[i] += load(&stats[w]->conn_ms[i]);
        s->conn_ms_sum += load(&stats[w]->conn_ms_sum);
        for (int i = 0; i <= RP_STATS_LAG_BUCKETS; i++)
            s->lag[i] += load(&stats[w]->lag[i]);
    }
    for (size_t i = 0; i < COUNT(drop_ids); i++)
        s->drops[i] = s->stat[drop_ids[i]];
    for (size_t i = 0; i < COUNT(ratelimit_ids); i++)
        s->ratelimit[i] = s->stat[ratelimit_ids[i]];
    for (int i = 0; i < RP_STATS_WEBHOOK_BUCKETS; i++)
        s->webhook_bounds_ms[i] = rp_stats_webhook_bounds_ms[i];
    for (int i = 0; i < RP_STATS_CONN_BUCKETS; i++)
        s->conn_bounds_ms[i] = rp_stats_conn_bounds_ms[i];
    for (int i = 0; i < RP_STATS_DELIVERY_BUCKETS; i++)
        s->delivery_bounds_ms[i] = rp_stats_delivery_bounds_ms[i];
    for (int i = 0; i < RP_STATS_LAG_BUCKETS; i++)
        s->lag_bounds[i] = (int64_t)rp_stats_lag_bounds[i];
    uint64_t active = s->stat[RP_STAT_connections_active];
    uint64_t streams = s->stat[RP_STAT_streams_active];
    uint64_t waiting = s->stat[RP_STAT_connections_waiting];
    s->conns[0] = active > streams + waiting ? active - streams - waiting : 0;
    s->conns[1] = streams;
    s->conns[2] = waiting;
    s->has_breaker = node->has_breaker;
    s->breaker_state = (uint64_t)node->breaker_state;
    memcpy(s->breaker_transitions, node->breaker_transitions, sizeof(s->breaker_transitions));
    s->log_events = node->log_events;
    s->log_bytes = node->log_bytes;
    s->auth_cache_entries = node->auth_cache_entries;
    s->topics = node->topics;
    s->last_seq = node->last_seq;
    s->uptime_s = (uint64_t)node->uptime_s;
    s->workers = node->workers;
    s->topics_reclaimed = node->topics_reclaimed;
    s->sessions_connected = node->sessions.connected;
    s->sessions_disconnected = node->sessions.disconnected;
    s->session_buffered_bytes = node->sessions.buffered_bytes;
    s->sessions_created = node->sessions.created;
    s->session_resumes = node->sessions.resumes;
    s->session_expiries = node->sessions.expiries;
    s->session_hijacks_refused = node->sessions.hijacks_refused;
    s->has_log = node->has_log;
    s->has_cluster = node->has_cluster;
    s->redis_connected = node->redis.connected;
    s->redis_subscribed = node->redis.subscribed;
    s->redis_reconnects = node->redis.reconnects;
    s->redis_publishes = node->redis.publishes;
    s->redis_publish_failures = node->redis.publish_failures;
    s->redis_events_in = node->redis.events_in;
    s->redis_fills = node->redis.fills;
    s->redis_fills_lost = node->redis.fills_lost;
    s->redis_channels = node->redis.channels;
    s->redis_lag_ms = node->redis.lag_ms > 0 ? (uint64_t)node->redis.lag_ms : 0;
    s->store_bytes = node->store_bytes;
    s->store_segments = node->store_segments;
    s->durable_lag = node->durable_lag;
    s->records_dropped = node->records_dropped;
    s->log_failed = node->log_failed;
    memcpy(s->fsync_bounds_us, rp_logengine_fsync_bounds_us, sizeof(s->fsync_bounds_us));
    memcpy(s->fsync_us, node->fsync_us, sizeof(s->fsync_us));
    s->fsync_us_sum = node->fsync_us_sum;
    s->process = node->process;
    s->upstreams = node->upstreams;
    s->stats = stats;
    s->n_stats = n;
}

/* ---- the emitters ---- */

struct emitter {
    int (*metric)(void *ctx, const struct metric *m, const struct snapshot *s);
    int (*finish)(void *ctx, const struct snapshot *s);
};

/* Every per-stat metric, then families[]; stops at the first error. */
static int
walk(const struct snapshot *s, const struct emitter *e, void *ctx)
{
    int err = 0;
    for (int i = 0; !err && i < RP_STAT__COUNT; i++) {
        if (i == RP_STAT_hosts_refused)
            continue; /* in families[] */
        struct metric m = {
            .shape = SHAPE_SCALAR,
            /* Its Prometheus form is the family by reason (one name, one TYPE). */
            .prom = i == RP_STAT_auth_failures ? NULL : stat_info[i].name,
            .type = stat_info[i].type,
            .help = stat_info[i].help,
            .json = stat_info[i].name,
            .at = AT(stat) + (size_t)i * sizeof(s->stat[0]),
            .n = 1,
        };
        err = e->metric(ctx, &m, s);
    }
    for (size_t i = 0; !err && i < COUNT(families); i++)
        if (shown(&families[i], s))
            err = e->metric(ctx, &families[i], s);
    return err ? err : e->finish(ctx, s);
}

/* -- Prometheus text -- */

/* The HELP and TYPE lines; <name> is the family's full name. */
static int
prom_head(struct rp_buf *out, const char *name, const char *type, const char *help)
{
    return rp_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int
prom_buckets(struct rp_buf *out, const char *name, const struct metric *m, const struct snapshot *s)
{
    const uint64_t *v = values_of(s, m);
    const int64_t *bound = bounds_of(s, m);
    bool histogram = strcmp(m->type, "histogram") == 0;
    const char *series = histogram ? "_bucket" : "";
    uint64_t cumulative = 0;
    int err = 0;
    for (size_t i = 0; !err && i + 1 < m->n; i++) {
        cumulative += v[i];
        if (seconds_divisor(m))
            err = rp_buf_printf(out, "%s%s{le=\"%g\"} %llu\n", name, series,
                                (double)bound[i] / seconds_divisor(m),
                                (unsigned long long)cumulative);
        else
            err = rp_buf_printf(out, "%s%s{le=\"%lld\"} %llu\n", name, series, (long long)bound[i],
                                (unsigned long long)cumulative);
    }
    cumulative += v[m->n - 1];
    if (!err)
        err = rp_buf_printf(out, "%s%s{le=\"+Inf\"} %llu\n", name, series,
                            (unsigned long long)cumulative);
    if (!err && histogram) {
        uint64_t sum = sum_of(s, m);
        if (seconds_divisor(m))
            err = rp_buf_printf(out, "%s_sum %g\n", name, (double)sum / seconds_divisor(m));
        else
            err = rp_buf_printf(out, "%s_sum %llu\n", name, (unsigned long long)sum);
        if (!err)
            err = rp_buf_printf(out, "%s_count %llu\n", name, (unsigned long long)cumulative);
    }
    return err;
}

static int
prom_per_worker(struct rp_buf *out, const struct snapshot *s)
{
    int err = 0;
    for (size_t k = 0; !err && k < COUNT(worker_columns); k++) {
        const struct column *col = &worker_columns[k];
        if (!col->prom)
            continue;
        char name[128];
        snprintf(name, sizeof(name), "revenprox_%s", col->prom);
        err = prom_head(out, name, col->type, col->help);
        for (size_t w = 0; !err && w < s->n_stats; w++)
            err = rp_buf_printf(out, "%s{worker=\"%zu\"} %llu\n", name, w,
                                (unsigned long long)rp_stat_get(s->stats[w], col->id));
    }
    return err;
}

static int
prom_metric(void *ctx, const struct metric *m, const struct snapshot *s)
{
    struct rp_buf *out = ctx;
    if (m->shape == SHAPE_PER_WORKER)
        return prom_per_worker(out, s);
    if (!m->prom)
        return 0; /* not in Prometheus, or a JSON group */
    size_t len = strlen(m->prom);
    bool add_total =
        strcmp(m->type, "counter") == 0 && (len < 6 || strcmp(m->prom + len - 6, "_total") != 0);
    char name[128];
    snprintf(name, sizeof(name), "revenprox_%s%s", m->prom, add_total ? "_total" : "");
    int err = prom_head(out, name, m->type, m->help);
    const uint64_t *v = values_of(s, m);
    switch (m->shape) {
    case SHAPE_SCALAR:
        return err ? err : rp_buf_printf(out, "%s %llu\n", name, (unsigned long long)v[0]);
    case SHAPE_LABELLED:
    case SHAPE_ONE_HOT:
        for (size_t i = 0; !err && i < m->n; i++) {
            uint64_t value = m->shape == SHAPE_ONE_HOT ? v[0] == i : v[i];
            err = rp_buf_printf(out, "%s{%s=\"%s\"} %llu\n", name, m->label, m->labels[i],
                                (unsigned long long)value);
        }
        return err;
    case SHAPE_BUCKETS:
        return err ? err : prom_buckets(out, name, m, s);
    case SHAPE_GROUP_BEGIN:
    case SHAPE_GROUP_END:
    case SHAPE_PER_WORKER:
        break;
    }
    return err;
}

/* The process's figures, unprefixed: the names every Prometheus client library exports,
 * so the usual dashboards and alerts find them. */
static int
prom_finish(void *ctx, const struct snapshot *s)
{
    struct rp_buf *out = ctx;
    const struct rp_process_stats *p = s->process;
    if (!p)
        return 0;
    return rp_buf_printf(
        out,
        "# HELP process_cpu_seconds_total User and system CPU time spent, in seconds.\n"
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n"
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n"
        "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
        "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %llu\n"
        "# HELP process_open_fds Open file descriptors.\n"
        "# TYPE process_open_fds gauge\nprocess_open_fds %llu\n"
        "# HELP process_max_fds The open files limit.\n"
        "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n"
        "# HELP process_threads Threads of the process.\n"
        "# TYPE process_threads gauge\nprocess_threads %llu\n"
        "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n"
        "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.2f\n",
        p->cpu_seconds, (unsigned long long)p->rss_bytes, (unsigned long long)p->vsize_bytes,
        (unsigned long long)p->open_fds, (unsigned long long)p->max_fds,
        (unsigned long long)p->threads, p->start_time_s);
}

static const struct emitter prom_emitter = {prom_metric, prom_finish};

/* -- JSON -- */

struct json_out {
    struct rp_buf *out;
    bool comma; /* a member precedes in the current object */
    bool per_worker;
    bool finishing; /* json_finish: the M_JSON_LAST members now */
};

/* Starts the member <key> of the current object: `,"key":`. */
static int
json_key(struct json_out *j, const char *prefix, const char *key)
{
    int err = rp_buf_printf(j->out, "%s\"%s%s\":", j->comma ? "," : "", prefix, key);
    j->comma = true;
    return err;
}

static int
json_u64(struct json_out *j, const char *prefix, const char *key, uint64_t v)
{
    int err = json_key(j, prefix, key);
    return err ? err : rp_buf_printf(j->out, "%llu", (unsigned long long)v);
}

/* `"key":{` opens an object; its members follow. */
static int
json_open(struct json_out *j, const char *key)
{
    int err = json_key(j, "", key);
    j->comma = false;
    return err ? err : rp_buf_append_str(j->out, "{");
}

static int
json_close(struct json_out *j)
{
    j->comma = true;
    return rp_buf_append_str(j->out, "}");
}

static int
json_buckets(struct json_out *j, const struct metric *m, const struct snapshot *s)
{
    const uint64_t *v = values_of(s, m);
    const int64_t *bound = bounds_of(s, m);
    bool histogram = strcmp(m->type, "histogram") == 0;
    int err = json_open(j, m->json);
    for (size_t i = 0; !err && i + 1 < m->n; i++) {
        char key[32];
        snprintf(key, sizeof(key), "le_%lld", (long long)bound[i]);
        err = json_u64(j, "", key, v[i]);
    }
    if (!err)
        err = json_u64(j, "", histogram ? "le_inf" : "over", v[m->n - 1]);
    if (!err && histogram)
        err = json_u64(j, "", "sum", sum_of(s, m));
    return err ? err : json_close(j);
}

static int
json_metric(void *ctx, const struct metric *m, const struct snapshot *s)
{
    struct json_out *j = ctx;
    const uint64_t *v = values_of(s, m);
    int err = 0;
    if ((m->flags & M_JSON_LAST) && !j->finishing)
        return 0;
    switch (m->shape) {
    case SHAPE_SCALAR:
        return m->json ? json_u64(j, "", m->json, v[0]) : 0;
    case SHAPE_LABELLED:
        if (m->flags & M_JSON_FLAT) {
            char prefix[32];
            snprintf(prefix, sizeof(prefix), "%s_", m->label);
            for (size_t i = 0; !err && i < m->n; i++)
                err = json_u64(j, prefix, m->labels[i], v[i]);
            return err;
        }
        if (!m->json)
            return 0;
        err = json_open(j, m->json);
        for (size_t i = 0; !err && i < m->n; i++)
            err = json_u64(j, "", m->labels[i], v[i]);
        return err ? err : json_close(j);
    case SHAPE_ONE_HOT:
        err = json_key(j, "", m->json);
        return err ? err : rp_buf_printf(j->out, "\"%s\"", v[0] < m->n ? m->labels[v[0]] : "");
    case SHAPE_BUCKETS:
        return json_buckets(j, m, s);
    case SHAPE_GROUP_BEGIN:
        return json_open(j, m->json);
    case SHAPE_GROUP_END:
        return json_close(j);
    case SHAPE_PER_WORKER:
        j->per_worker = true; /* JSON keeps the per-worker objects last: see json_finish */
        return 0;
    }
    return 0;
}

static int
json_finish(void *ctx, const struct snapshot *s)
{
    struct json_out *j = ctx;
    int err = 0;
    if (j->per_worker) {
        err = json_key(j, "", "workers_detail");
        if (!err)
            err = rp_buf_append_str(j->out, "[");
        for (size_t w = 0; !err && w < s->n_stats; w++) {
            err = rp_buf_printf(j->out, "%s{\"worker\":%zu", w ? "," : "", w);
            j->comma = true;
            for (size_t k = 0; !err && k < COUNT(worker_columns); k++)
                err = json_u64(j, "", worker_columns[k].json,
                               rp_stat_get(s->stats[w], worker_columns[k].id));
            if (!err)
                err = rp_buf_append_str(j->out, "}");
        }
        if (!err)
            err = rp_buf_append_str(j->out, "]");
    }
    j->finishing = true;
    for (size_t i = 0; !err && i < COUNT(families); i++)
        if ((families[i].flags & M_JSON_LAST) && shown(&families[i], s))
            err = json_metric(j, &families[i], s);
    const struct rp_process_stats *p = s->process;
    if (!err && p)
        err = rp_buf_printf(j->out,
                            ",\"process\":{\"cpu_seconds\":%.2f,\"resident_memory_bytes\":%llu,"
                            "\"virtual_memory_bytes\":%llu,\"open_fds\":%llu,\"max_fds\":%llu,"
                            "\"threads\":%llu,\"start_time_seconds\":%.2f}",
                            p->cpu_seconds, (unsigned long long)p->rss_bytes,
                            (unsigned long long)p->vsize_bytes, (unsigned long long)p->open_fds,
                            (unsigned long long)p->max_fds, (unsigned long long)p->threads,
                            p->start_time_s);
    if (!err && rp_upstream_pool_enabled(s->upstreams)) {
        err = json_key(j, "", "upstreams");
        if (!err)
            rp_upstream_metrics_json(s->upstreams, j->out);
    }
    return err ? err : rp_buf_append_str(j->out, "}\n");
}

static const struct emitter json_emitter = {json_metric, json_finish};

int
rp_metrics_render(struct rp_stats *const *stats, size_t n, const struct rp_metrics_node *node,
                  bool json, struct rp_buf *out)
{
    struct snapshot s;
    gather(&s, stats, n, node);
    if (!json)
        return walk(&s, &prom_emitter, out);
    struct json_out j = {.out = out};
    int err = rp_buf_append_str(out, "{");
    return err ? err : walk(&s, &json_emitter, &j);
}
