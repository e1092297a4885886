/* SPDX-License-Identifier: MIT */
#ifndef RP_OPS_METRICS_H
#define RP_OPS_METRICS_H
/*
 * /metrics: the sum of every worker's counters (base/stats.h) plus node gauges, as
 * Prometheus text (names prefixed `revenprox_`) or as one JSON object (unprefixed).
 * Not responsible for counting. Any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/engine_redis.h"
#include "core/logengine.h"
#include "core/session.h"

#include "auth/breaker.h"
#include "base/buf.h"
#include "base/stats.h"
#include "ops/process.h"

struct rp_upstream_pool;

struct rp_metrics_node {
    uint64_t topics;
    uint64_t last_seq;
    int64_t uptime_s;
    unsigned workers;
    /* The webhook's breaker, when a webhook is configured (has_breaker): its state and
     * the transitions into each state. */
    bool has_breaker;
    enum rp_breaker_state breaker_state;
    uint64_t breaker_transitions[RP_BREAKER__COUNT];
    uint64_t auth_cache_entries;
    uint64_t log_events; /* events kept in all topic logs */
    uint64_t log_bytes;
    uint64_t topics_reclaimed;         /* topics freed since start */
    struct rp_session_totals sessions; /* zero without a session table */
    /* The disk log, when there is one (has_log; docs/durable-log.md). */
    bool has_log;
    uint64_t store_bytes, store_segments;
    uint64_t durable_lag;     /* events sequenced and not yet durable */
    uint64_t records_dropped; /* truncated at start-up (a torn or corrupt tail) */
    bool log_failed;          /* the log cannot write: publishes are refused */
    uint64_t fsync_us[RP_LOGENGINE_FSYNC_BUCKETS + 1];
    uint64_t fsync_us_sum;
    /* The Redis engine, in a cluster (has_cluster; docs/cluster.md). */
    bool has_cluster;
    struct rp_redis_stats redis;
    /* The process's own figures, rendered under the standard process_* names (Prometheus)
     * or as "process" (JSON); NULL: none. */
    const struct rp_process_stats *process;
    /* The concentrator's upstreams (JSON "upstreams"; docs/concentrator.md); NULL: none. */
    struct rp_upstream_pool *upstreams;
};

/* Sums <n> workers' stats and appends the rendering to <out>; 0 or -ENOBUFS. */
int rp_metrics_render(struct rp_stats *const *stats, size_t n, const struct rp_metrics_node *node,
                      bool json, struct rp_buf *out);

#endif
