/* SPDX-License-Identifier: MIT */
#ifndef RP_API_API_H
#define RP_API_API_H
/*
 * The HTTP API (docs/api.md): routes a request to its endpoint group's handler and queues
 * the answer. Every refusal says what was wrong (status + JSON message). The handlers see
 * the node only through the context the composition root builds: no server struct.
 *
 * Threads: a `struct rp_api` belongs to one worker and is used on its thread only (it is
 * the front's handler context); the node part is shared and read-only after start, except
 * where a field says otherwise.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "front/conn.h"

struct rp_hub;
struct rp_query;
struct rp_redis;
struct rp_guard;
struct rp_gate;
struct rp_gate_shared;
struct rp_stats;
struct rp_jwt_keys;
struct rp_upstream_pool;
struct rp_session_table;

/* Renders the node's metrics (every worker's counters summed, node gauges) into <out>:
 * Prometheus text, or JSON with <json>. Any thread. */
typedef void (*rp_api_metrics_fn)(void *ctx, bool json, struct rp_buf *out);

/* What every worker's API shares: built by the composition root before the workers start. */
struct rp_api_node {
    struct rp_hub *hub;
    struct rp_guard *guard;           /* abuse control (api/guard.h); never NULL */
    struct rp_gate_shared *gate;      /* NULL with auth_mode none */
    rp_api_metrics_fn render_metrics; /* /metrics */
    void *metrics_ctx;
    /* Open connections of every worker (/health); any thread; <metrics_ctx> is its ctx. */
    uint64_t (*connections)(void *ctx);
    /* Reads resumes older than the memory window from the log engine; NULL without one. */
    struct rp_history *history;
    /* fsync always: a publish is answered once the log engine made its events durable. */
    bool wait_durable;
    /* cluster = redis: publishes go to Redis, which sequences them (NULL when alone);
     * <cluster_down> says why they cannot now (any thread; <cluster_ctx> is its ctx). */
    struct rp_redis *redis;
    bool (*cluster_down)(void *ctx, char *why, size_t cap);
    void *cluster_ctx;
    int64_t cluster_timeout_ms; /* a publish waits this long for Redis at most */
    /* Wakes every worker's requests that wait for the log engine or the cluster; any
     * thread. */
    void (*wake_waiting)(void *ctx);
    void *wake_ctx;
    const atomic_bool *ready;    /* every worker started (/readyz) */
    const atomic_bool *stopping; /* draining (/healthz, /readyz) */
    int64_t started_ms;
    unsigned n_workers;
    /* Keys of Mercure tokens (api/mercure.c); NULL when none is configured. */
    const struct rp_jwt_keys *mercure_keys;
    /* Subscribers' keys when they differ from publishers' (else NULL: mercure_keys). */
    const struct rp_jwt_keys *mercure_subscriber_keys;
    struct rp_upstream_pool *upstreams; /* the concentrator (client/upstream); may be NULL */
    const char *upstream_prefix;        /* its streams' path prefix ("/upstream/") */
    /* The session table (core/session.h); any thread. NULL: sessions are off. */
    struct rp_session_table *sessions;
};

/* One worker's API: the front's handler context. */
struct rp_api {
    const struct rp_api_node *node;
    struct rp_gate *gate; /* the worker's gate; NULL with auth_mode none */
    struct rp_stats *stats;
    const struct rp_query *query; /* the current request's, parsed once: during a call only */
};

/* The front's handler (rp_conn_handler_fn; <ctx> is a struct rp_api). */
void rp_api_handle(void *ctx, struct rp_conn *c, const struct rp_http_request *req,
                   enum rp_conn_call call);

/* The front's stream_adopted hook (rp_conn_adopted_fn; <ctx> is a struct rp_api): a
 * session's stream taken over in an upgrade is attached to its session again. */
void rp_api_stream_adopted(void *ctx, struct rp_conn *c, const struct rp_stream_state *st);

#endif
