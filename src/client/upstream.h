/* SPDX-License-Identifier: MIT */
#ifndef RP_CLIENT_UPSTREAM_H
#define RP_CLIENT_UPSTREAM_H
/*
 * The concentrator: one connection per distinct upstream SSE URL, shared by every local
 * reader of the topic it feeds. Each upstream belongs to one worker (its shard, by a hash
 * of its topic) and runs there on that worker's loop (client/http_client, streaming GET),
 * parses with sse/sse_parser and publishes each event into the hub like any publisher
 * (our ids, our log and disk log), keeping the upstream's id as the event's publisher id so
 * that it survives a restart and a replayed event is not taken twice. It connects when the
 * topic gains its first local reader (the hub's topic_interest hook), disconnects
 * <idle_ms> after the last leaves, or stays connected (<always>).
 *
 * State machine of one upstream:
 *
 *     idle --wanted--> connecting --200 text/event-stream--> streaming
 *       ^                 |   |                                 |
 *       |        retryable|   |204, other status,               |end, error, too long a line
 *       |   (network, 5xx)|   |wrong content type               |
 *       |                 v   v                                 v
 *       +--not wanted-- backoff <----------------------------- (any)     failed (stays;
 *                         |  --delay over, wanted--> connecting           a 502 to clients)
 *
 * A delay is exponential with full jitter between the upstream's `retry:` (or <retry_min_ms>)
 * and <retry_max_ms>; every reconnect sends the latest upstream id as Last-Event-ID.
 * Not responsible for HTTP routes, auth or configuration files.
 * Threads: rp_upstream_interest, _open, _foreach and _metrics from any thread; a shard's
 * functions only on its worker's thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rp_buf;
struct rp_hub;
struct rp_loop;
struct rp_topic;
struct rp_upstream_pool;
struct rp_upstream_shard;

/* One configured upstream; strings are copied by rp_upstream_pool_new. */
struct rp_upstream_def {
    const char *name;           /* the {name} of /upstream/{name}/...: a topic segment */
    const char *base_url;       /* http(s)://...; the client's {path} is appended after a `/` */
    const char *const *headers; /* "Name: value" lines sent upstream; <n_headers> of them */
    size_t n_headers;
    bool by_type;      /* events go to <topic>/<event type> instead of <topic> */
    bool forward_auth; /* the client's Authorization goes upstream (one upstream per token) */
    const char *const *always; /* paths connected from the start; <n_always> of them */
    size_t n_always;
};

struct rp_upstream_config {
    const struct rp_upstream_def *defs;
    size_t n_defs;
    int64_t idle_ms;            /* disconnect this long after the last reader left */
    int64_t retry_min_ms;       /* the first reconnect delay without an upstream `retry:` */
    int64_t retry_max_ms;       /* the cap of the reconnect delay */
    int64_t connect_timeout_ms; /* TCP and TLS connect */
    int64_t read_timeout_ms;    /* no byte (not even a heartbeat) for this long: reconnect */
    size_t max_line;            /* longest upstream line; longer is an error and a reconnect */
    size_t max_event;           /* most data of one upstream event */
    size_t max_upstreams;       /* distinct upstream URLs at once */
};

enum rp_upstream_state {
    RP_UPSTREAM_STATE_IDLE = 0,
    RP_UPSTREAM_STATE_CONNECTING,
    RP_UPSTREAM_STATE_STREAMING,
    RP_UPSTREAM_STATE_BACKOFF,
    RP_UPSTREAM_STATE_FAILED,
};

/* "idle", "connecting", ... (static). */
const char *rp_upstream_state_name(enum rp_upstream_state s);

/* A pool for <hub> (borrowed) with <n_shards> shards (one per worker); copies <config>.
 * NULL with <err> (160 bytes) filled when a definition is invalid. */
struct rp_upstream_pool *rp_upstream_pool_new(const struct rp_upstream_config *config,
                                              struct rp_hub *hub, unsigned n_shards, char *err);
/* Frees <pool> after every shard was detached; accepts NULL. */
void rp_upstream_pool_free(struct rp_upstream_pool *pool);
/* True when some upstream is configured (the routes and hooks are worth installing). */
bool rp_upstream_pool_enabled(const struct rp_upstream_pool *pool);

/* The hub's topic_interest hook (<ctx> is the pool): the upstream feeding <t>, if any, looks
 * again at whether it is wanted. Any thread. */
void rp_upstream_interest(void *ctx, struct rp_topic *t, bool on);

/* Why rp_upstream_open refused, for the client's answer. */
struct rp_upstream_refusal {
    int status; /* 404 unknown upstream, 400 bad path, 502 failed upstream, 503 at the cap */
    char message[200];
};

/*
 * Opens or joins the upstream <name>/<path> (<path> may be ""; <authorization>, the client's
 * Authorization header or NULL, matters only with forward_auth). Writes the local topic it
 * feeds into <topic> (RP_TOPIC_NAME_MAX + 1 bytes) and, with by_type, sets *<by_type>: read
 * <topic> and <topic>/+. The upstream connects once a reader of the topic attaches. 0, or
 * -1 with <why> filled. Any thread.
 */
int rp_upstream_open(struct rp_upstream_pool *pool, const char *name, size_t name_len,
                     const char *path, size_t path_len, const char *authorization, char *topic,
                     bool *by_type, struct rp_upstream_refusal *why);

/* One upstream as /upstreams shows it; borrowed during the callback only. */
struct rp_upstream_info {
    const char *name;
    const char *url;
    const char *topic;
    enum rp_upstream_state state;
    bool always;
    uint64_t reconnects; /* connections started after the first */
    uint64_t events_in;  /* events published from it */
    uint64_t events_refused;
    uint64_t bytes_in;
    int64_t last_event_ms;  /* wall clock ms of the last event, 0 for none */
    int64_t clients;        /* local readers of its topic(s) */
    const char *last_id;    /* the latest upstream id ("" for none) */
    const char *last_error; /* why it last left streaming ("" for none) */
};
/* Calls <fn> for every upstream, under the pool's lock (keep it short). Any thread, online
 * in the hub's reclamation domain (it reads topics). */
void rp_upstream_foreach(struct rp_upstream_pool *pool,
                         void (*fn)(void *ctx, const struct rp_upstream_info *u), void *ctx);
/* Appends Prometheus lines about the upstreams to <out>. Any thread, as rp_upstream_foreach. */
void rp_upstream_metrics(struct rp_upstream_pool *pool, struct rp_buf *out);
/* Appends the JSON value of /metrics?format=json's "upstreams" to <out>: counts by state,
 * the totals, and "list", one object per upstream open now (state, clients, counters, last
 * event time, last error); `null` without upstreams. Any thread, as rp_upstream_foreach. */
void rp_upstream_metrics_json(struct rp_upstream_pool *pool, struct rp_buf *out);

/* Shard <id> of <pool> on <loop> (the worker's, borrowed): from now on its upstreams run
 * there. NULL on failure. Detach on the same thread before the loop goes. */
struct rp_upstream_shard *rp_upstream_shard_attach(struct rp_upstream_pool *pool, unsigned id,
                                                   struct rp_loop *loop);
/* Disconnects the shard's upstreams (they go back to idle) and frees <s>; accepts NULL. */
void rp_upstream_shard_detach(struct rp_upstream_shard *s);
/* Runs what is due at <now_ms> (HTTP transfers, reconnects, idle disconnects, looking at
 * interest that changed). Returns ms until it has work again, -1 for none. Once per loop
 * turn, outside loop callbacks. */
int64_t rp_upstream_shard_run(struct rp_upstream_shard *s, int64_t now_ms);

#endif
