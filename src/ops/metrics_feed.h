/* SPDX-License-Identifier: MIT */
#ifndef RP_OPS_METRICS_FEED_H
#define RP_OPS_METRICS_FEED_H
/*
 * The dashboard's feed: one JSON document a second with the node's figures per worker and
 * in total, published as an event of type `metrics` on the node's metrics topic. Builds the
 * document only; the composition root publishes it. Any thread.
 */
#include <stdint.h>

#include "base/buf.h"
#include "base/stats.h"

struct rp_metrics_feed_node {
    int64_t wall_ms;
    int64_t uptime_s;
    uint64_t topics;
    const char *totals_json; /* the node's metrics as JSON (rp_metrics_render), one object */
    size_t totals_len;
};

/* Appends the feed's document for the <n> workers' <stats> to <out>. */
void rp_metrics_feed_json(struct rp_stats *const *stats, unsigned n,
                          const struct rp_metrics_feed_node *node, struct rp_buf *out);

#endif
