/* SPDX-License-Identifier: MIT */
#include "ops/metrics.h"

#include <string.h>

#include "auth/auth.h"

static const char *const breaker_states[3] = {"closed", "open", "half_open"};

/* The families that are not one number per stat: summed over workers. */
struct extra {
    uint64_t auth_failures_by[RP_STATS_AUTH_REASONS];
    uint64_t webhook_ms[RP_STATS_WEBHOOK_BUCKETS + 1];
    uint64_t webhook_ms_sum;
    uint64_t lag[RP_STATS_LAG_BUCKETS + 1];
};

static void
sum_extra(struct rp_stats *const *stats, size_t n, struct extra *x)
{
    memset(x, 0, sizeof(*x));
    for (size_t w = 0; w < n; w++) {
        for (int i = 0; i < RP_STATS_AUTH_REASONS; i++)
            x->auth_failures_by[i] +=
                atomic_load_explicit(&stats[w]->auth_failures_by[i], memory_order_relaxed);
        for (int i = 0; i <= RP_STATS_WEBHOOK_BUCKETS; i++)
            x->webhook_ms[i] +=
                atomic_load_explicit(&stats[w]->webhook_ms[i], memory_order_relaxed);
        x->webhook_ms_sum += atomic_load_explicit(&stats[w]->webhook_ms_sum, memory_order_relaxed);
        for (int i = 0; i <= RP_STATS_LAG_BUCKETS; i++)
            x->lag[i] += atomic_load_explicit(&stats[w]->lag[i], memory_order_relaxed);
    }
}

static const struct {
    const char *name;
    const char *kind;
    const char *help;
} stat_info[RP_STAT__COUNT] = {
#define RP_STAT_INFO(name, kind, help) {#name, #kind, help},
    RP_STATS_TABLE(RP_STAT_INFO)
#undef RP_STAT_INFO
};

/* Rejections by kind, as one labelled family. */
static const struct {
    enum rp_stat_id id;
    const char *kind;
} ratelimit_kinds[] = {
    {RP_STAT_ratelimit_connect, "connect_rate"},      {RP_STAT_ratelimit_publish, "publish_rate"},
    {RP_STAT_ratelimit_per_ip, "connections_per_ip"}, {RP_STAT_ratelimit_total, "connections"},
    {RP_STAT_ratelimit_storm, "reconnect_storm"},
};

/* Drops by reason, as one labelled family too, so one query sums them. */
static const struct {
    enum rp_stat_id id;
    const char *reason;
} drop_reasons[] = {
    {RP_STAT_drops_oldest, "drop_oldest"},
    {RP_STAT_drops_newest, "drop_newest"},
    {RP_STAT_drops_expired, "expired"},
    {RP_STAT_disconnects_slow, "disconnect"},
};

/* One sample. Prometheus names counters `..._total`: the suffix is added where the stat's
 * own name (kept as is in JSON) lacks it. */
static int
prom(struct rp_buf *out, const char *name, const char *kind, const char *help, uint64_t v)
{
    size_t len = strlen(name);
    const char *suffix =
        strcmp(kind, "counter") == 0 && (len < 6 || strcmp(name + len - 6, "_total") != 0)
            ? "_total"
            : "";
    return rp_buf_printf(
        out, "# HELP revenprox_%s%s %s\n# TYPE revenprox_%s%s %s\nrevenprox_%s%s %llu\n", name,
        suffix, help, name, suffix, kind, name, suffix, (unsigned long long)v);
}

int
rp_metrics_render(struct rp_stats *const *stats, size_t n, const struct rp_metrics_node *node,
                  bool json, struct rp_buf *out)
{
    uint64_t sum[RP_STAT__COUNT] = {0};
    struct extra x;
    sum_extra(stats, n, &x);
    for (size_t w = 0; w < n; w++)
        for (int i = 0; i < RP_STAT__COUNT; i++)
            sum[i] += rp_stat_get(stats[w], (enum rp_stat_id)i);
    int err = 0;
    if (json) {
        err = rp_buf_append_str(out, "{");
        for (int i = 0; !err && i < RP_STAT__COUNT; i++)
            err = rp_buf_printf(out, "\"%s\":%llu,", stat_info[i].name, (unsigned long long)sum[i]);
        if (!err)
            err = rp_buf_append_str(out, "\"drops\":{");
        for (size_t i = 0; !err && i < sizeof(drop_reasons) / sizeof(drop_reasons[0]); i++)
            err = rp_buf_printf(out, "%s\"%s\":%llu", i ? "," : "", drop_reasons[i].reason,
                                (unsigned long long)sum[drop_reasons[i].id]);
        if (!err)
            err = rp_buf_append_str(out, "},\"auth_failures_by_reason\":{");
        for (int i = 1, first = 1; !err && i < RP_AUTH__COUNT; i++, first = 0)
            err = rp_buf_printf(out, "%s\"%s\":%llu", first ? "" : ",",
                                rp_auth_result_name((enum rp_auth_result)i),
                                (unsigned long long)x.auth_failures_by[i]);
        if (!err)
            err = rp_buf_append_str(out, "},\"ratelimit_rejections\":{");
        for (size_t i = 0; !err && i < sizeof(ratelimit_kinds) / sizeof(ratelimit_kinds[0]); i++)
            err = rp_buf_printf(out, "%s\"%s\":%llu", i ? "," : "", ratelimit_kinds[i].kind,
                                (unsigned long long)sum[ratelimit_kinds[i].id]);
        if (!err)
            err = rp_buf_append_str(out, "},\"auth_webhook_latency_ms\":{");
        for (int i = 0; !err && i <= RP_STATS_WEBHOOK_BUCKETS; i++) {
            if (i < RP_STATS_WEBHOOK_BUCKETS)
                err = rp_buf_printf(out, "\"le_%lld\":%llu,",
                                    (long long)rp_stats_webhook_bounds_ms[i],
                                    (unsigned long long)x.webhook_ms[i]);
            else
                err = rp_buf_printf(out, "\"le_inf\":%llu,\"sum\":%llu",
                                    (unsigned long long)x.webhook_ms[i],
                                    (unsigned long long)x.webhook_ms_sum);
        }
        if (!err && node->has_breaker)
            err = rp_buf_printf(out,
                                "},\"auth_breaker\":{\"state\":\"%s\",\"to_closed\":%llu,"
                                "\"to_open\":%llu,\"to_half_open\":%llu",
                                breaker_states[node->breaker_state % 3],
                                (unsigned long long)node->breaker_transitions[0],
                                (unsigned long long)node->breaker_transitions[1],
                                (unsigned long long)node->breaker_transitions[2]);
        if (!err)
            err = rp_buf_append_str(out, "},\"subscriber_lag_events\":{");
        for (int i = 0; !err && i <= RP_STATS_LAG_BUCKETS; i++) {
            if (i < RP_STATS_LAG_BUCKETS)
                err = rp_buf_printf(out, "\"le_%llu\":%llu,",
                                    (unsigned long long)rp_stats_lag_bounds[i],
                                    (unsigned long long)x.lag[i]);
            else
                err = rp_buf_printf(out, "\"over\":%llu", (unsigned long long)x.lag[i]);
        }
        if (!err)
            err = rp_buf_printf(out, "},\"log_events\":%llu,\"log_bytes\":%llu",
                                (unsigned long long)node->log_events,
                                (unsigned long long)node->log_bytes);
        if (!err)
            err = rp_buf_printf(
                out,
                ",\"auth_cache_entries\":%llu,\"topics\":%llu,\"last_seq\":%llu,\"uptime_"
                "seconds\":%lld,"
                "\"workers\":%u",
                (unsigned long long)node->auth_cache_entries, (unsigned long long)node->topics,
                (unsigned long long)node->last_seq, (long long)node->uptime_s, node->workers);
        if (!err)
            err = rp_buf_append_str(out, ",\"workers_detail\":[");
        for (size_t w = 0; !err && w < n; w++)
            err = rp_buf_printf(
                out,
                "%s{\"worker\":%zu,\"connections_active\":%llu,\"streams_active\":%llu,"
                "\"messages_sent\":%llu,\"events_published\":%llu,\"http_requests_total\":%llu}",
                w ? "," : "", w,
                (unsigned long long)rp_stat_get(stats[w], RP_STAT_connections_active),
                (unsigned long long)rp_stat_get(stats[w], RP_STAT_streams_active),
                (unsigned long long)rp_stat_get(stats[w], RP_STAT_messages_sent),
                (unsigned long long)rp_stat_get(stats[w], RP_STAT_events_published),
                (unsigned long long)rp_stat_get(stats[w], RP_STAT_http_requests_total));
        if (!err)
            err = rp_buf_append_str(out, "]}\n");
        return err;
    }
    for (int i = 0; !err && i < RP_STAT__COUNT; i++) {
        /* Its Prometheus form is the family by reason below (one name, one TYPE). */
        if (i == RP_STAT_auth_failures)
            continue;
        err = prom(out, stat_info[i].name, stat_info[i].kind[0] == 'C' ? "counter" : "gauge",
                   stat_info[i].help, sum[i]);
    }
    if (!err)
        err =
            rp_buf_append_str(out, "# HELP revenprox_drops_total Events a subscriber did not get, "
                                   "by reason (every one announced with event: resync)\n"
                                   "# TYPE revenprox_drops_total counter\n");
    for (size_t i = 0; !err && i < sizeof(drop_reasons) / sizeof(drop_reasons[0]); i++)
        err = rp_buf_printf(out, "revenprox_drops_total{reason=\"%s\"} %llu\n",
                            drop_reasons[i].reason, (unsigned long long)sum[drop_reasons[i].id]);
    if (!err)
        err = rp_buf_append_str(out,
                                "# HELP revenprox_auth_failures_total Requests refused for missing "
                                "or invalid credentials, by reason\n"
                                "# TYPE revenprox_auth_failures_total counter\n");
    for (int i = 1; !err && i < RP_AUTH__COUNT; i++)
        err = rp_buf_printf(out, "revenprox_auth_failures_total{reason=\"%s\"} %llu\n",
                            rp_auth_result_name((enum rp_auth_result)i),
                            (unsigned long long)x.auth_failures_by[i]);
    if (!err)
        err = rp_buf_append_str(out,
                                "# HELP revenprox_ratelimit_rejections_total Requests refused by "
                                "abuse control, by kind\n"
                                "# TYPE revenprox_ratelimit_rejections_total counter\n");
    for (size_t i = 0; !err && i < sizeof(ratelimit_kinds) / sizeof(ratelimit_kinds[0]); i++)
        err =
            rp_buf_printf(out, "revenprox_ratelimit_rejections_total{kind=\"%s\"} %llu\n",
                          ratelimit_kinds[i].kind, (unsigned long long)sum[ratelimit_kinds[i].id]);
    if (!err)
        err = rp_buf_append_str(out,
                                "# HELP revenprox_auth_webhook_duration_seconds Time the webhook "
                                "took to answer a verification call\n"
                                "# TYPE revenprox_auth_webhook_duration_seconds histogram\n");
    uint64_t cumulative = 0;
    for (int i = 0; !err && i <= RP_STATS_WEBHOOK_BUCKETS; i++) {
        cumulative += x.webhook_ms[i];
        if (i < RP_STATS_WEBHOOK_BUCKETS)
            err = rp_buf_printf(
                out, "revenprox_auth_webhook_duration_seconds_bucket{le=\"%g\"} %llu\n",
                (double)rp_stats_webhook_bounds_ms[i] / 1000.0, (unsigned long long)cumulative);
        else
            err = rp_buf_printf(out,
                                "revenprox_auth_webhook_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                                "revenprox_auth_webhook_duration_seconds_sum %g\n"
                                "revenprox_auth_webhook_duration_seconds_count %llu\n",
                                (unsigned long long)cumulative, (double)x.webhook_ms_sum / 1000.0,
                                (unsigned long long)cumulative);
    }
    if (!err && node->has_breaker) {
        err = rp_buf_append_str(out, "# HELP revenprox_auth_breaker_state The webhook circuit "
                                     "breaker's state (1 for the current one)\n"
                                     "# TYPE revenprox_auth_breaker_state gauge\n");
        for (int i = 0; !err && i < 3; i++)
            err = rp_buf_printf(out, "revenprox_auth_breaker_state{state=\"%s\"} %d\n",
                                breaker_states[i], node->breaker_state == (enum rp_breaker_state)i);
        if (!err)
            err =
                rp_buf_append_str(out, "# HELP revenprox_auth_breaker_transitions_total Times the "
                                       "webhook circuit breaker entered each state\n"
                                       "# TYPE revenprox_auth_breaker_transitions_total counter\n");
        for (int i = 0; !err && i < 3; i++)
            err =
                rp_buf_printf(out, "revenprox_auth_breaker_transitions_total{to=\"%s\"} %llu\n",
                              breaker_states[i], (unsigned long long)node->breaker_transitions[i]);
    }
    /* Connections by state: waiting requests, streams, and the rest (plain HTTP). */
    uint64_t waiting = sum[RP_STAT_connections_waiting], streams = sum[RP_STAT_streams_active];
    uint64_t active = sum[RP_STAT_connections_active];
    uint64_t http = active > streams + waiting ? active - streams - waiting : 0;
    if (!err)
        err = rp_buf_printf(out,
                            "# HELP revenprox_connections Open connections by state\n"
                            "# TYPE revenprox_connections gauge\n"
                            "revenprox_connections{state=\"http\"} %llu\n"
                            "revenprox_connections{state=\"stream\"} %llu\n"
                            "revenprox_connections{state=\"waiting\"} %llu\n",
                            (unsigned long long)http, (unsigned long long)streams,
                            (unsigned long long)waiting);
    /* Per worker: how evenly the load spreads. */
    static const struct {
        enum rp_stat_id id;
        const char *name, *kind, *help;
    } per_worker[] = {
        {RP_STAT_connections_active, "worker_connections", "gauge", "Open connections per worker"},
        {RP_STAT_streams_active, "worker_streams", "gauge", "Open event streams per worker"},
        {RP_STAT_messages_sent, "worker_messages_sent_total", "counter",
         "Events written to subscribers per worker"},
        {RP_STAT_http_requests_total, "worker_http_requests_total", "counter",
         "HTTP requests handled per worker"},
    };
    for (size_t k = 0; !err && k < sizeof(per_worker) / sizeof(per_worker[0]); k++) {
        err = rp_buf_printf(out, "# HELP revenprox_%s %s\n# TYPE revenprox_%s %s\n",
                            per_worker[k].name, per_worker[k].help, per_worker[k].name,
                            per_worker[k].kind);
        for (size_t w = 0; !err && w < n; w++)
            err = rp_buf_printf(out, "revenprox_%s{worker=\"%zu\"} %llu\n", per_worker[k].name, w,
                                (unsigned long long)rp_stat_get(stats[w], per_worker[k].id));
    }
    /* Subscriber lag, a snapshot refreshed every few seconds: cumulative buckets as gauges. */
    if (!err)
        err = rp_buf_append_str(out,
                                "# HELP revenprox_subscriber_lag_events Event streams by how many "
                                "events they are behind (cumulative, refreshed every 5 s)\n"
                                "# TYPE revenprox_subscriber_lag_events gauge\n");
    uint64_t below = 0;
    for (int i = 0; !err && i <= RP_STATS_LAG_BUCKETS; i++) {
        below += x.lag[i];
        if (i < RP_STATS_LAG_BUCKETS)
            err = rp_buf_printf(out, "revenprox_subscriber_lag_events{le=\"%llu\"} %llu\n",
                                (unsigned long long)rp_stats_lag_bounds[i],
                                (unsigned long long)below);
        else
            err = rp_buf_printf(out, "revenprox_subscriber_lag_events{le=\"+Inf\"} %llu\n",
                                (unsigned long long)below);
    }
    if (!err)
        err = prom(out, "log_events", "gauge", "Events kept in all topic logs", node->log_events);
    if (!err)
        err = prom(out, "log_bytes", "gauge", "Bytes of events kept in all topic logs",
                   node->log_bytes);
    if (!err)
        err = prom(out, "auth_cache_entries", "gauge", "Tokens in the verification cache",
                   node->auth_cache_entries);
    if (!err)
        err = prom(out, "topics", "gauge", "Topics the node keeps", node->topics);
    if (!err)
        err = prom(out, "last_sequence", "counter", "Node-wide sequence of the newest event",
                   node->last_seq);
    if (!err)
        err = prom(out, "uptime_seconds", "gauge", "Seconds since start", (uint64_t)node->uptime_s);
    if (!err)
        err = prom(out, "workers", "gauge", "Worker threads", node->workers);
    return err;
}
