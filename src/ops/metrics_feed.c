/* SPDX-License-Identifier: MIT */
#include "ops/metrics_feed.h"

void
rp_metrics_feed_json(struct rp_stats *const *stats, unsigned n,
                     const struct rp_metrics_feed_node *node, struct rp_buf *b)
{
    rp_buf_printf(b, "{\"time\":%lld,\"uptime_seconds\":%lld,\"topics\":%llu,\"workers\":[",
                  (long long)node->wall_ms, (long long)node->uptime_s,
                  (unsigned long long)node->topics);
    for (unsigned i = 0; i < n; i++) {
        const struct rp_stats *st = stats[i];
        uint64_t drops =
            rp_stat_get(st, RP_STAT_drops_oldest) + rp_stat_get(st, RP_STAT_drops_newest) +
            rp_stat_get(st, RP_STAT_drops_expired) + rp_stat_get(st, RP_STAT_disconnects_slow);
        rp_buf_printf(b,
                      "%s{\"id\":%u,\"connections_active\":%llu,\"streams_active\":%llu,"
                      "\"streams_stalled\":%llu,\"messages_sent\":%llu,\"bytes_sent\":%llu,"
                      "\"events_published\":%llu,\"http_requests_total\":%llu,\"drops\":%llu}",
                      i ? "," : "", i,
                      (unsigned long long)rp_stat_get(st, RP_STAT_connections_active),
                      (unsigned long long)rp_stat_get(st, RP_STAT_streams_active),
                      (unsigned long long)rp_stat_get(st, RP_STAT_streams_stalled),
                      (unsigned long long)rp_stat_get(st, RP_STAT_messages_sent),
                      (unsigned long long)rp_stat_get(st, RP_STAT_bytes_sent),
                      (unsigned long long)rp_stat_get(st, RP_STAT_events_published),
                      (unsigned long long)rp_stat_get(st, RP_STAT_http_requests_total),
                      (unsigned long long)drops);
    }
    rp_buf_append_str(b, "],\"totals\":");
    size_t len = node->totals_len;
    while (len && node->totals_json[len - 1] == '\n')
        len--;
    rp_buf_append(b, node->totals_json, len);
    rp_buf_append_str(b, "}");
}
