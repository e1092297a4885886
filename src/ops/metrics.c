/* SPDX-License-Identifier: MIT */
#include "ops/metrics.h"

static const struct {
    const char *name;
    const char *kind;
    const char *help;
} stat_info[RP_STAT__COUNT] = {
#define RP_STAT_INFO(name, kind, help) {#name, #kind, help},
    RP_STATS_TABLE(RP_STAT_INFO)
#undef RP_STAT_INFO
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

static int
prom(struct rp_buf *out, const char *name, const char *kind, const char *help, uint64_t v)
{
    return rp_buf_printf(out, "# HELP revenprox_%s %s\n# TYPE revenprox_%s %s\nrevenprox_%s %llu\n",
                         name, help, name, kind, name, (unsigned long long)v);
}

int
rp_metrics_render(struct rp_stats *const *stats, size_t n, const struct rp_metrics_node *node,
                  bool json, struct rp_buf *out)
{
    uint64_t sum[RP_STAT__COUNT] = {0};
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
            err =
                rp_buf_printf(out,
                              "},\"topics\":%llu,\"last_seq\":%llu,\"uptime_seconds\":%lld,"
                              "\"workers\":%u}\n",
                              (unsigned long long)node->topics, (unsigned long long)node->last_seq,
                              (long long)node->uptime_s, node->workers);
        return err;
    }
    for (int i = 0; !err && i < RP_STAT__COUNT; i++)
        err = prom(out, stat_info[i].name, stat_info[i].kind[0] == 'C' ? "counter" : "gauge",
                   stat_info[i].help, sum[i]);
    if (!err)
        err =
            rp_buf_append_str(out, "# HELP revenprox_drops_total Events a subscriber did not get, "
                                   "by reason (every one announced with event: resync)\n"
                                   "# TYPE revenprox_drops_total counter\n");
    for (size_t i = 0; !err && i < sizeof(drop_reasons) / sizeof(drop_reasons[0]); i++)
        err = rp_buf_printf(out, "revenprox_drops_total{reason=\"%s\"} %llu\n",
                            drop_reasons[i].reason, (unsigned long long)sum[drop_reasons[i].id]);
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
