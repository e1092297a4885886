/* SPDX-License-Identifier: MIT */
#include "server/server.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/guard.h"
#include "api/history.h"
#include "auth/auth_jwt.h"
#include "auth/gate.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/qsbr.h"
#include "base/stats.h"
#include "client/upstream.h"
#include "core/session.h"
#include "cluster/engine_nng.h"
#include "cluster/engine_redis.h"
#include "ops/metrics.h"
#include "ops/metrics_feed.h"
#include "server/handover.h"
#include "server/handover_wire.h"
#include "server/sd_notify.h"
#include "server/upstream_setup.h"
#include "server/session_file.h"
#include "server/worker.h"

#define HOUSEKEEPING_MS 1000
#define LISTEN_BACKLOG 4096

/*
 * The server passes these settings to libraries as the library's enum, by a cast
 * (here): each constant must equal the library's. A choice added to or moved in
 * settings.def without the library's enum following it fails the build here.
 */
#define SAME_VALUE(cfg, lib) _Static_assert((int)(cfg) == (int)(lib), #cfg " != " #lib)
SAME_VALUE(RP_CFG_AUTH_MODE_NONE, RP_GATE_MODE_NONE);
SAME_VALUE(RP_CFG_AUTH_MODE_JWT, RP_GATE_MODE_JWT);
SAME_VALUE(RP_CFG_AUTH_MODE_WEBHOOK, RP_GATE_MODE_WEBHOOK);
SAME_VALUE(RP_CFG_AUTH_MODE_JWT_WEBHOOK, RP_GATE_MODE_JWT_WEBHOOK);
SAME_VALUE(RP_CFG_AUTH_MODE_BRANCA, RP_GATE_MODE_BRANCA);
SAME_VALUE(RP_CFG_AUTH_MODE__COUNT, RP_GATE_MODE_BRANCA + 1);
SAME_VALUE(RP_CFG_SLOW_POLICY_DISCONNECT, RP_SLOW_POLICY_DISCONNECT);
SAME_VALUE(RP_CFG_SLOW_POLICY_DROP_OLDEST, RP_SLOW_POLICY_DROP_OLDEST);
SAME_VALUE(RP_CFG_SLOW_POLICY_DROP_NEWEST, RP_SLOW_POLICY_DROP_NEWEST);
SAME_VALUE(RP_CFG_SLOW_POLICY_BLOCK, RP_SLOW_POLICY_BLOCK);
SAME_VALUE(RP_CFG_SLOW_POLICY__COUNT, RP_SLOW_POLICY_BLOCK + 1);
SAME_VALUE(RP_CFG_LOG_LEVEL_DEBUG, RP_LOG_DEBUG);
SAME_VALUE(RP_CFG_LOG_LEVEL_INFO, RP_LOG_INFO);
SAME_VALUE(RP_CFG_LOG_LEVEL_WARN, RP_LOG_WARN);
SAME_VALUE(RP_CFG_LOG_LEVEL_ERROR, RP_LOG_ERROR);
SAME_VALUE(RP_CFG_LOG_LEVEL__COUNT, RP_LOG_ERROR + 1);
#undef SAME_VALUE

/* Tells systemd (Type=notify) our state; a failure is only logged. */
static void
notify_systemd(const char *state)
{
    int err = rp_sd_notify(state);
    if (err)
        RP_LOG(RP_LOG_WARN, "server", "msg=\"systemd notify failed: %s\"", strerror(-err));
}

/* Hub hook: the settings that apply to a new topic (its [topic "pattern"] section), from
 * the configuration of the calling worker's loop turn (or the running one elsewhere). */
static void
policy_for(void *ctx, const char *name, size_t len, struct rp_topic_policy *out)
{
    struct rp_server *srv = ctx;
    const struct rp_config *cfg = rp_worker_thread_config();
    const struct rp_config_values *v =
        rp_config_for_topic(cfg ? cfg : atomic_load(&srv->cfg), name, len);
    out->history = (struct rp_eventlog_limits){
        .max_count = (uint64_t)v->history_count,
        .max_bytes = (uint64_t)v->history_bytes,
        .max_age_ms = v->history_age,
    };
    out->slow = (enum rp_slow_policy)v->slow_policy;
    /* A subscriber closed or held at its lag limit must still find its events in the log
     * when it resumes: the limits stop at half the history. */
    uint64_t half_count = out->history.max_count / 2 ? out->history.max_count / 2 : 1;
    uint64_t half_bytes = out->history.max_bytes / 2 ? out->history.max_bytes / 2 : 1;
    out->lag_events = (uint64_t)v->lag_events < half_count ? (uint64_t)v->lag_events : half_count;
    out->lag_bytes = (uint64_t)v->lag_bytes < half_bytes ? (uint64_t)v->lag_bytes : half_bytes;
    /* A session's private topic keeps what its session may be owed (docs/sessions.md). */
    size_t sp = sizeof(RP_SESSION_TOPIC_PREFIX) - 1;
    if (len > sp && memcmp(name, RP_SESSION_TOPIC_PREFIX, sp) == 0 &&
        out->history.max_count < (uint64_t)v->session_buffer)
        out->history.max_count = (uint64_t)v->session_buffer;
}

static void
topic_advanced(void *ctx, unsigned worker, struct rp_topic *t)
{
    struct rp_server *srv = ctx;
    rp_fanout_note_advanced(rp_worker_fanout(srv->workers[worker]), t);
}

static void
workers_wake(void *ctx, uint64_t workers)
{
    struct rp_server *srv = ctx;
    for (unsigned w = 0; workers; w++, workers >>= 1)
        if (workers & 1)
            rp_fanout_wake(rp_worker_fanout(srv->workers[w]));
}

/* A topic gained its first local reader or lost its last: the upstream feeding it, if any,
 * connects or starts counting down to disconnecting (client/upstream), and in a cluster the
 * node begins or stops listening to it in Redis. */
static void
topic_interest(void *ctx, struct rp_topic *t, bool on)
{
    struct rp_server *srv = ctx;
    if (srv->upstreams)
        rp_upstream_interest(srv->upstreams, t, on);
    rp_cluster_node_interest(&srv->cluster, t, on); /* a no-op when alone */
}

/* A worker's pattern streams began or stopped reading a pattern: in a cluster the node
 * listens for topics it matches that appear on other nodes. */
static void
pattern_interest(void *ctx, const char *pattern, size_t len, bool on)
{
    struct rp_server *srv = ctx;
    rp_cluster_node_pattern_interest(&srv->cluster, pattern, len, on); /* no-op when alone */
}

static void
topic_created(void *ctx, unsigned worker, struct rp_topic *t)
{
    struct rp_server *srv = ctx;
    rp_fanout_notify_created(rp_worker_fanout(srv->workers[worker]), t);
}

/* The gate's hook: a webhook verification others waited for has finished. Any thread. */
static void
wake_all_workers(void *ctx)
{
    struct rp_server *srv = ctx;
    for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
        if (srv->workers[i])
            rp_worker_auth_wake(srv->workers[i]);
}

static bool
listens_on_loopback(const struct rp_addr *a)
{
    struct rp_addr_key k;
    if (rp_addr_key_from_sockaddr((const struct sockaddr *)&a->ss, &k) != 0)
        return false;
    static const uint8_t v6_loopback[16] = {[15] = 1};
    return (rp_addr_key_is_v4(&k) && k.b[12] == 127) || memcmp(k.b, v6_loopback, 16) == 0;
}

/* The auth gate's settings, from the configuration. */
static void
gate_config(const struct rp_config_values *v, struct rp_gate_config *gc)
{
    const char *sse_secret = v->sse_secret && *v->sse_secret ? v->sse_secret : getenv("SSE_SECRET");
    *gc = (struct rp_gate_config){
        .mode = (enum rp_gate_mode)v->auth_mode,
        .jwt_secret = v->auth_jwt_secret,
        .jwt_key_file = v->auth_jwt_key_file,
        .jwt_jwks_file = v->auth_jwt_jwks_file,
        .jwt_audience = v->auth_jwt_audience,
        .jwt_issuer = v->auth_jwt_issuer,
        .jwt_leeway_ms = v->auth_jwt_leeway,
        .publisher_key = v->auth_publisher_key,
        .max_token = (size_t)v->auth_max_token,
        .webhook_url = v->auth_webhook_url,
        .webhook_connect_timeout_ms = v->auth_webhook_connect_timeout,
        .webhook_timeout_ms = v->auth_webhook_timeout,
        .webhook_documented = v->auth_webhook_format == RP_CFG_AUTH_WEBHOOK_FORMAT_DOCUMENTED,
        .webhook_retries = (unsigned)v->auth_webhook_retries,
        .cache_ttl_ms = v->auth_cache_ttl,
        .cache_negative_ttl_ms = v->auth_cache_negative_ttl,
        .cache_size = (size_t)v->auth_cache_size,
        .breaker_failures = (unsigned)v->auth_breaker_failures,
        .breaker_error_rate_pct = (unsigned)v->auth_breaker_error_rate,
        .breaker_min_calls = (unsigned)v->auth_breaker_min_calls,
        .breaker_window_ms = v->auth_breaker_window,
        .breaker_open_ms = v->auth_breaker_open,
        .breaker_probes = (unsigned)v->auth_breaker_probes,
        .breaker_fallback_cached = v->auth_breaker_fallback == RP_CFG_AUTH_BREAKER_FALLBACK_CACHED,
        .branca_key_hex = sse_secret ? sse_secret : "",
        .branca_ttl_ms = v->branca_ttl,
    };
}

/* Builds the auth gate and the abuse-control guard from the settings; 0 or -EINVAL with
 * the reason logged. */
static int
start_guards(struct rp_server *srv, const struct rp_config_values *v)
{
    struct rp_diag diag = {{0}};
    if (v->auth_mode == RP_CFG_AUTH_MODE_NONE) {
        if (!listens_on_loopback(&srv->addr))
            RP_LOG(RP_LOG_WARN, "auth",
                   "msg=\"auth_mode is none and the server listens beyond loopback: anyone who "
                   "can reach it may subscribe and publish; set auth_mode (see docs/auth.md)\"");
    } else {
        struct rp_gate_config gc;
        gate_config(v, &gc);
        if (rp_gate_shared_new(&gc, wake_all_workers, srv, &srv->gate, &diag) != 0) {
            RP_LOG(RP_LOG_ERROR, "auth", "msg=\"%s\"", diag.msg);
            return -EINVAL;
        }
        RP_LOG(RP_LOG_INFO, "auth", "msg=\"auth enabled\" mode=%s",
               rp_config_choice("auth_mode", v->auth_mode));
    }
    if (v->mercure && ((v->mercure_jwt_secret && *v->mercure_jwt_secret) ||
                       (v->mercure_jwt_key_file && *v->mercure_jwt_key_file))) {
        if (rp_jwt_keys_load(&srv->mercure_keys, v->mercure_jwt_secret, v->mercure_jwt_key_file,
                             NULL, &diag) != 0) {
            RP_LOG(RP_LOG_ERROR, "mercure", "msg=\"%s\"", diag.msg);
            return -EINVAL;
        }
    }
    if (v->mercure &&
        ((v->mercure_subscriber_jwt_secret && *v->mercure_subscriber_jwt_secret) ||
         (v->mercure_subscriber_jwt_key_file && *v->mercure_subscriber_jwt_key_file))) {
        if (rp_jwt_keys_load(&srv->mercure_subscriber_keys, v->mercure_subscriber_jwt_secret,
                             v->mercure_subscriber_jwt_key_file, NULL, &diag) != 0) {
            RP_LOG(RP_LOG_ERROR, "mercure", "msg=\"subscriber keys: %s\"", diag.msg);
            return -EINVAL;
        }
    }
    if (v->mercure && !srv->mercure_keys) {
        RP_LOG(RP_LOG_WARN, "mercure",
               "msg=\"mercure is on without mercure_jwt_secret or mercure_jwt_key_file: no one "
               "may publish, and only anonymous subscribers are served\"");
    }
    struct rp_guard_config gc = {
        .trusted_proxies = v->trusted_proxies.items,
        .n_trusted_proxies = v->trusted_proxies.n,
        .connect_rate = (double)v->connect_rate,
        .connect_burst = (double)v->connect_burst,
        .publish_rate = (double)v->publish_rate,
        .publish_burst = (double)v->publish_burst,
        .storm_accept_rate = (double)v->storm_accept_rate,
        .max_connections = v->max_connections,
        .max_connections_per_ip = v->max_connections_per_ip,
    };
    if (rp_guard_new(&gc, &srv->guard, &diag) != 0) {
        RP_LOG(RP_LOG_ERROR, "server", "msg=\"%s\"", diag.msg);
        return -EINVAL;
    }
    return 0;
}

/* Every worker's counters, in worker order (malloc'd; the caller frees the array). */
static struct rp_stats **
workers_stats(struct rp_server *srv)
{
    struct rp_stats **stats = rp_xcalloc(srv->n_workers, sizeof(*stats));
    for (unsigned i = 0; i < srv->n_workers; i++)
        stats[i] = rp_worker_stats(srv->workers[i]);
    return stats;
}

/* Every worker's open connections (/health). Any thread. */
static uint64_t
connections_open(void *ctx)
{
    struct rp_server *srv = ctx;
    uint64_t n = 0;
    for (unsigned i = 0; i < srv->n_workers; i++)
        n += rp_stat_get(rp_worker_stats(srv->workers[i]), RP_STAT_connections_active);
    return n;
}

/* The node's metrics: every worker's counters summed, and node gauges. Any thread. */
static void
render_metrics(void *ctx, bool json, struct rp_buf *out)
{
    struct rp_server *srv = ctx;
    struct rp_stats **stats = workers_stats(srv);
    struct rp_metrics_node node = {
        .topics = rp_hub_topic_count(srv->hub),
        .last_seq = rp_hub_last_seq(srv->hub),
        .uptime_s = (rp_clock_now_ms() - srv->started_ms) / 1000,
        .workers = srv->n_workers,
        .topics_reclaimed = rp_hub_topics_reclaimed(srv->hub),
    };
    if (srv->sessions)
        rp_session_totals(srv->sessions, &node.sessions);
    struct rp_process_stats process;
    if (rp_process_read(&process) == 0)
        node.process = &process;
    struct rp_gate_report gr;
    rp_gate_report(srv->gate, &gr);
    node.has_breaker = gr.has_breaker;
    node.breaker_state = gr.breaker_state;
    memcpy(node.breaker_transitions, gr.breaker_transitions, sizeof(gr.breaker_transitions));
    node.auth_cache_entries = gr.cache_entries;
    rp_hub_log_totals(srv->hub, &node.log_events, &node.log_bytes);
    struct rp_logengine *engine = rp_hub_engine(srv->hub);
    if (engine) {
        struct rp_logengine_info li;
        rp_logengine_info(engine, &li);
        uint64_t last = rp_hub_last_seq(srv->hub);
        node.has_log = true;
        node.store_bytes = li.stored_bytes;
        node.store_segments = li.n_segments;
        node.durable_lag = last > li.durable_seq ? last - li.durable_seq : 0;
        node.records_dropped = srv->log.opened.dropped_records;
        node.log_failed = li.failed != 0;
        memcpy(node.fsync_us, li.fsync_us, sizeof(node.fsync_us));
        node.fsync_us_sum = li.fsync_ns_total / 1000;
    }
    if (srv->cluster.redis) {
        node.has_cluster = true;
        rp_redis_stats(srv->cluster.redis, &node.redis);
    }
    node.upstreams = srv->upstreams;
    rp_metrics_render(stats, srv->n_workers, &node, json, out);
    if (srv->cluster.nng)
        rp_nng_metrics(srv->cluster.nng, json, out);
    free(stats);
    if (!json)
        rp_upstream_metrics(srv->upstreams, out);
}

/*
 * The dashboard's feed: one `metrics` event a second on RP_SERVER_METRICS_TOPIC, only while
 * someone reads it (so an unwatched node's ids and counters are not moved by it).
 */
static void
publish_metrics(struct rp_server *srv)
{
    static const char topic[] = RP_SERVER_METRICS_TOPIC;
    struct rp_topic *t = rp_hub_find(srv->hub, topic, sizeof(topic) - 1);
    if (!t || rp_topic_subscribers(t) <= 0)
        return;
    struct rp_buf totals, b;
    rp_buf_init(&totals, 1024 * 1024);
    render_metrics(srv, true, &totals);
    struct rp_stats **stats = workers_stats(srv);
    struct rp_metrics_feed_node node = {
        .wall_ms = rp_clock_wall_ms(),
        .uptime_s = (rp_clock_now_ms() - srv->started_ms) / 1000,
        .topics = rp_hub_topic_count(srv->hub),
        .totals_json = totals.data ? totals.data : "{}",
        .totals_len = totals.data ? totals.len : 2,
    };
    rp_buf_init(&b, 2 * 1024 * 1024);
    rp_metrics_feed_json(stats, srv->n_workers, &node, &b);
    free(stats);
    rp_buf_fini(&totals);
    struct rp_publish_item item = {
        .topic = topic,
        .topic_len = sizeof(topic) - 1,
        .event = "metrics",
        .event_len = 7,
        .data = b.data,
        .data_len = b.len,
    };
    struct rp_publish_result res;
    struct rp_hub_error err;
    /* A refusal (a slow reader under slow_policy block) just skips this second. */
    (void)rp_hub_publish_system(srv->hub, &item, 1, &res, &err);
    rp_buf_fini(&b);
}

/*
 * Raises the open-files limit to its hard cap and says what it allows: clearly, when it is
 * below the configured capacity (max_connections), else as a warning when it is low.
 */
static void
check_nofile(const struct rp_config_values *v)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    unsigned long long n = (unsigned long long)rl.rlim_cur;
    unsigned long long usable = n > 64 ? n - 64 : 0; /* listeners, eventfds, logs, webhook */
    if (v->max_connections > 0 && (unsigned long long)v->max_connections > usable)
        RP_LOG(RP_LOG_WARN, "server",
               "msg=\"max_connections is %lld but the open files limit (RLIMIT_NOFILE, hard "
               "limit %llu) lets this process hold only about %llu connections; raise it "
               "(ulimit -Hn, systemd LimitNOFILE=) or lower max_connections\"",
               (long long)v->max_connections, n, usable);
    else if (v->max_connections == 0 && n < 100000)
        RP_LOG(RP_LOG_WARN, "server",
               "msg=\"the open files limit (RLIMIT_NOFILE) is %llu, so this process can hold at "
               "most about %llu connections; raise it (ulimit -n, systemd LimitNOFILE=) for "
               "more\"",
               n, usable);
    else
        RP_LOG(RP_LOG_INFO, "server", "msg=\"open files limit\" nofile=%llu", n);
}

/* Restores the handed-over logs into the new hub, trimmed to this process's limits. */
static int
restore_hub(struct rp_server *srv, const struct rp_config_values *v,
            const struct rp_handover_state *inherit)
{
    struct rp_handover_trim trim;
    int rc = rp_handover_restore_hub(inherit, srv->hub, (uint64_t)v->max_data, &trim);
    if (rc) {
        RP_LOG(RP_LOG_ERROR, "upgrade", "msg=\"cannot restore the handed-over logs: %s\"",
               strerror(-rc));
        return rc;
    }
    if (trim.events)
        RP_LOG(RP_LOG_WARN, "upgrade",
               "msg=\"handed-over events over max_data are not kept, nor older ones of their "
               "topics: those logs start after them, and a client resuming from before is told "
               "(event: resync)\" events=%zu topics=%zu max_data=%lld",
               trim.events, trim.topics, (long long)v->max_data);
    return 0;
}

/* The log engine's hooks, on its writer thread. */
static void
log_durable(void *ctx, uint64_t seq)
{
    (void)seq;
    struct rp_server *srv = ctx;
    rp_hub_engine_progress(srv->hub);
    if (srv->log.wait_durable)
        for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
            if (srv->workers[i])
                rp_worker_durable_wake(srv->workers[i]);
}

/* A history read finished (api/history.h), on the reader's thread. */
static void
history_done(void *ctx)
{
    struct rp_server *srv = ctx;
    for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
        if (srv->workers[i])
            rp_worker_durable_wake(srv->workers[i]);
}

static void
log_state(void *ctx, int err)
{
    struct rp_server *srv = ctx;
    rp_hub_engine_state(srv->hub, err);
    if (err && srv->log.wait_durable) /* publishes waiting for the disk are answered now */
        history_done(srv);
}

/* Opens the log engine (data_dir); 0 or -errno (logged). */
int
rp_server_open_log(struct rp_server *srv, const struct rp_config_values *v)
{
    struct rp_logengine_hooks hooks = {
        .durable_advanced = log_durable,
        .state_changed = log_state,
        .ctx = srv,
    };
    return rp_log_store_open(&srv->log, v, &hooks);
}

/* The hub, with the handed-over logs when there are any, else the disk log's history (or,
 * in a cluster, the cluster's log in Redis, which the hub continues). */
static int
start_hub(struct rp_server *srv, const struct rp_config_values *v,
          const struct rp_handover_state *inherit)
{
    uint32_t cluster_epoch;
    uint64_t cluster_last;
    int rc = rp_cluster_node_open(&srv->cluster, v, &cluster_epoch, &cluster_last);
    if (rc)
        return rc;
    /* In a cluster the log is Redis's: no disk log of the node's own. */
    if (!cluster_epoch && (rc = rp_server_open_log(srv, v)) != 0)
        return rc;
    /* A slot per worker; the main thread reclaims, so it needs none. */
    srv->qsbr = rp_qsbr_new(srv->n_workers);
    struct rp_hub_config hc = {
        .qsbr = srv->qsbr,
        .max_topics = (uint64_t)v->max_topics,
        .max_data = (uint64_t)v->max_data,
        /* Ids stay valid across an upgrade and, with a disk log, across a restart. */
        .shared_sequence = cluster_epoch != 0,
        .vector_ids = v->cluster == RP_CFG_CLUSTER_NNG,
        .epoch = cluster_epoch ? cluster_epoch
                 : inherit     ? inherit->epoch
                               : rp_log_store_epoch(&srv->log),
    };
    /* Every handed-over or stored topic is adopted, more than a lowered max_topics too:
     * the cap is set once they are in (adopt_inherited, or below). */
    if (inherit || srv->log.engine)
        hc.max_topics = UINT64_MAX;
    struct rp_hub_hooks hooks = {
        .policy_for = policy_for,
        .topic_advanced = topic_advanced,
        .workers_wake = workers_wake,
        .topic_created = topic_created,
        .topic_interest = topic_interest,
        .pattern_interest = pattern_interest,
        .ctx = srv,
    };
    srv->hub = rp_hub_new(&hc, &hooks);
    if (cluster_epoch) {
        if (inherit && inherit->epoch != cluster_epoch) {
            /* The handed-over streams and logs are positioned in a log Redis no longer
             * has: continued in this one, their streams would skip its first events. */
            RP_LOG(RP_LOG_ERROR, "upgrade",
                   "msg=\"cannot take over: the cluster's log in Redis (epoch %08" PRIx32
                   ") is not the one the running process serves (epoch %08" PRIx32
                   "): Redis lost its data; restart the node instead, and its clients are "
                   "told (event: resync)\"",
                   cluster_epoch, inherit->epoch);
            return -ESTALE;
        }
        /* Ids continue the cluster's: the hub takes events in as Redis sequences them. */
        rp_hub_advance_seq(srv->hub, cluster_last);
        if (inherit && (rc = restore_hub(srv, v, inherit)) != 0)
            return rc;
        if (!inherit)
            rp_hub_set_max_topics(srv->hub, (uint64_t)v->max_topics);
        return rp_cluster_node_start(&srv->cluster, v, srv->hub);
    }
    rc = inherit ? restore_hub(srv, v, inherit) : rp_log_store_load(&srv->log, srv->hub);
    if (rc)
        return rc;
    rp_log_store_attach(&srv->log, srv->hub, false);
    if (srv->log.engine && !(srv->history = rp_history_new(srv->hub, history_done, srv))) {
        RP_LOG(RP_LOG_ERROR, "server", "msg=\"cannot start the history reader thread\"");
        return -EAGAIN;
    }
    if (!inherit)
        rp_hub_set_max_topics(srv->hub, (uint64_t)v->max_topics);
    return rp_cluster_node_start(&srv->cluster, v, srv->hub); /* the mesh, if any */
}

/* The session table, restored from data_dir when the disk log is on (its events are in the
 * log, loaded with the hub). */
static void
start_sessions(struct rp_server *srv, const struct rp_config_values *v)
{
    struct rp_session_config sc = {.ttl_ms = v->session_ttl, .buffer = (uint64_t)v->session_buffer};
    srv->sessions = rp_session_table_new(&sc);
    if (srv->log.engine)
        srv->sessions_path = rp_session_file_path(v->data_dir);
    if (srv->sessions_path)
        rp_session_file_load(srv->sessions_path, srv->sessions);
}

/*
 * Upgrade, new side, once everything that can fail is built: the previous process lets go
 * (rp_handover_commit), then the connections are spread over the workers before they run
 * (no locking). Nothing touches a handed-over socket before the commit, so until then the
 * previous process can take everything back.
 */
static void
adopt_inherited(struct rp_server *srv, struct rp_handover_state *inherit)
{
    rp_handover_commit(inherit);
    rp_handover_adopt(inherit, srv->workers, srv->n_workers);
    uint64_t cap = (uint64_t)atomic_load(&srv->cfg)->v.max_topics;
    rp_hub_set_max_topics(srv->hub, cap);
    uint64_t n = rp_hub_topic_count(srv->hub);
    if (n > cap)
        RP_LOG(RP_LOG_WARN, "upgrade",
               "msg=\"more topics were handed over than max_topics allows: all are kept, and "
               "new topics are refused until reclamation brings the count under it\" "
               "topics=%llu max_topics=%llu",
               (unsigned long long)n, (unsigned long long)cap);
}

/* One listening socket per worker: handed over by the previous process, or new (the first
 * picks the port when 0 was asked; the others share it). <first> is worker 0's, or -1. */
static int
open_listener(struct rp_server *srv, unsigned i, struct rp_handover_state *inherit, int first)
{
    if (inherit && i < inherit->n_listeners && inherit->listeners[i] >= 0) {
        int fd = inherit->listeners[i];
        inherit->listeners[i] = -1;
        return fd;
    }
    /* More workers than handed-over sockets: they share one rather than open another, which
     * would take connections before the hand-over is committed, and lose them if it fails. */
    if (inherit && first >= 0) {
        int fd = fcntl(first, F_DUPFD_CLOEXEC, 0);
        if (fd >= 0)
            return fd;
        RP_LOG(RP_LOG_ERROR, "listen", "msg=\"cannot share the listening socket: %s\"",
               strerror(errno));
        return -EMFILE;
    }
    int fd = rp_listener_open(&srv->addr, LISTEN_BACKLOG);
    if (fd < 0) {
        char where[80];
        rp_addr_format(&srv->addr, where, sizeof(where));
        RP_LOG(RP_LOG_ERROR, "listen", "addr=%s msg=\"cannot listen: %s\"", where, strerror(-fd));
    }
    return fd;
}

static int
start_workers(struct rp_server *srv, struct rp_handover_state *inherit)
{
    /* The inherited sockets say where we listen (the port, when 0 was configured). */
    if (inherit && inherit->n_listeners && inherit->listeners[0] >= 0) {
        srv->addr.len = sizeof(srv->addr.ss);
        getsockname(inherit->listeners[0], (struct sockaddr *)&srv->addr.ss, &srv->addr.len);
    }
    srv->workers = rp_xcalloc(srv->n_workers, sizeof(*srv->workers));
    int first = -1;
    for (unsigned i = 0; i < srv->n_workers; i++) {
        struct rp_worker_setup ws = {
            .id = i,
            .hub = srv->hub,
            .cfg = &srv->cfg,
            .api = &srv->api,
            .gate = srv->gate,
            .qsbr = srv->qsbr,
            .upstreams = srv->upstreams,
            .listener = open_listener(srv, i, inherit, first),
        };
        struct rp_diag diag = {{0}};
        if (ws.listener < 0)
            return ws.listener;
        if (i == 0)
            first = ws.listener;
        int rc = rp_worker_new(&ws, &srv->workers[i], &diag);
        if (rc) {
            RP_LOG(RP_LOG_ERROR, "server", "msg=\"cannot start worker %u: %s\"", i, diag.msg);
            return rc;
        }
    }
    if (inherit)
        adopt_inherited(srv, inherit);
    for (unsigned i = 0; i < srv->n_workers; i++) {
        int err = rp_worker_start(srv->workers[i]);
        if (err) {
            RP_LOG(RP_LOG_ERROR, "server", "msg=\"cannot start worker: %s\"", strerror(-err));
            return err;
        }
    }
    return 0;
}

int
rp_server_start(struct rp_server *srv, const struct rp_config *cfg,
                struct rp_handover_state *inherit)
{
    memset(srv, 0, sizeof(*srv));
    atomic_init(&srv->cfg, cfg);
    srv->started_ms = rp_clock_now_ms();
    atomic_init(&srv->stopping, false);
    atomic_init(&srv->ready, false);
    const struct rp_config_values *v = &cfg->v;
    rp_server_apply_logging(v);
    if (rp_addr_parse(v->listen, &srv->addr) != 0) {
        RP_LOG(RP_LOG_ERROR, "server",
               "msg=\"listen: '%s' is not HOST:PORT (for example 127.0.0.1:8080 or [::1]:8080)\"",
               v->listen);
        return -EINVAL;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    srv->n_workers = v->workers > 0 ? (unsigned)v->workers : (unsigned)(cores > 0 ? cores : 1);
    if (srv->n_workers > RP_HUB_MAX_WORKERS)
        srv->n_workers = RP_HUB_MAX_WORKERS;
    check_nofile(v);
    int rc = start_guards(srv, v);
    if (!rc)
        rc = start_hub(srv, v, inherit);
    if (!rc) {
        struct rp_diag diag = {{0}};
        rc = rp_upstream_setup(v, srv->hub, srv->n_workers, &srv->upstreams, &diag);
        if (rc)
            RP_LOG(RP_LOG_ERROR, "upstream", "msg=\"%s\"", diag.msg);
    }
    if (!rc && srv->upstreams && srv->cluster.redis) {
        RP_LOG(RP_LOG_ERROR, "upstream",
               "msg=\"the concentrator (upstreams) does not work with cluster = redis yet: "
               "its events would not go through the cluster\"");
        rc = -EINVAL;
    }
    if (!rc && !srv->cluster.redis)
        start_sessions(srv, v); /* not with cluster = redis yet: sessions are per node */
    srv->api = (struct rp_api_node){
        .sessions = srv->sessions,
        .hub = srv->hub,
        .guard = srv->guard,
        .gate = srv->gate,
        .render_metrics = render_metrics,
        .metrics_ctx = srv,
        .connections = connections_open,
        .wait_durable = srv->log.wait_durable,
        .history = srv->history,
        .redis = srv->cluster.redis,
        .cluster_down = rp_cluster_node_down,
        .cluster_ctx = &srv->cluster,
        .cluster_timeout_ms = v->redis_timeout + 1000,
        .wake_waiting = history_done,
        .wake_ctx = srv,
        .ready = &srv->ready,
        .stopping = &srv->stopping,
        .started_ms = srv->started_ms,
        .n_workers = srv->n_workers,
        .mercure_keys = srv->mercure_keys,
        .mercure_subscriber_keys = srv->mercure_subscriber_keys,
        .upstreams = srv->upstreams,
        .upstream_prefix = v->upstream_prefix,
    };
    if (!rc)
        rc = start_workers(srv, inherit);
    if (rc) {
        rp_server_stop(srv);
        return rc;
    }
    char where[80], epoch[16];
    rp_addr_format(&srv->addr, where, sizeof(where));
    snprintf(epoch, sizeof(epoch), "%08x", rp_hub_epoch(srv->hub));
    atomic_store(&srv->ready, true);
    RP_LOG(RP_LOG_INFO, "server", "msg=\"listening\" addr=%s workers=%u epoch=%s", where,
           srv->n_workers, epoch);
    char state[128];
    snprintf(state, sizeof(state), "READY=1\nSTATUS=listening on %s", where);
    notify_systemd(state);
    return 0;
}

void
rp_server_apply_logging(const struct rp_config_values *v)
{
    /* The SAME_VALUE list at the top of server/server.c asserts that the log_level choices
     * are enum rp_log_level, in order. */
    atomic_store(&rp_log_min_level, (enum rp_log_level)v->log_level);
    atomic_store(&rp_log_json, v->log_format == RP_CFG_LOG_FORMAT_JSON);
}

void
rp_server_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR2);
}

void
rp_server_wait(struct rp_server *srv)
{
    sigset_t set;
    rp_server_signals(&set);
    struct timespec ts = {.tv_sec = HOUSEKEEPING_MS / 1000, .tv_nsec = 0};
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGUSR2) {
            /* The successor reads the session table from data_dir: as it is now. */
            if (srv->sessions_path)
                rp_session_file_save(srv->sessions_path, srv->sessions, true);
            if (rp_handover_old_side(srv))
                return;
            continue;
        }
        if (sig == SIGHUP) {
            int err = rp_sd_notify_monotonic_reloading();
            if (err)
                RP_LOG(RP_LOG_WARN, "server", "msg=\"systemd notify failed: %s\"", strerror(-err));
            rp_server_reload(srv);
            notify_systemd("READY=1"); /* also after a failed reload: systemd waits for it */
            continue;
        }
        if (sig == SIGINT || sig == SIGTERM) {
            RP_LOG(RP_LOG_INFO, "server", "msg=\"shutting down\" signal=%s",
                   sig == SIGINT ? "SIGINT" : "SIGTERM");
            notify_systemd("STOPPING=1");
            return;
        }
        if (atomic_load(&srv->cluster.epoch_lost)) {
            /* Its streams and ids are positioned in a log that is gone, and the hub cannot
             * change logs under them: a new start serves the new log, and clients that
             * present ids of the old one are told (event: resync). A failure exit, so that
             * a service manager (Restart=on-failure) starts it again by itself. */
            RP_LOG(RP_LOG_ERROR, "cluster",
                   "msg=\"stopping: Redis lost the cluster's log; start this node again to "
                   "serve the new one (exit status 1)\"");
            notify_systemd("STOPPING=1");
            srv->log_lost = true;
            return;
        }
        rp_hub_expire(srv->hub, rp_clock_now_ms());
        if (srv->sessions)
            rp_session_sweep(srv->sessions, rp_clock_wall_ms(), rp_session_file_forget_topic,
                             srv->hub);
        if (srv->sessions_path)
            rp_session_file_save(srv->sessions_path, srv->sessions, false);
        rp_hub_reclaim(srv->hub);
        rp_qsbr_reclaim(srv->qsbr);
        publish_metrics(srv);
        rp_server_free_unused_configs(srv);
    }
}

void
rp_server_stop(struct rp_server *srv)
{
    atomic_store(&srv->stopping, true);
    for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
        if (srv->workers[i])
            rp_worker_stop(srv->workers[i]);
    for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
        if (srv->workers[i])
            rp_worker_join(srv->workers[i]);
    /* The log's threads go while the workers they wake still exist (joined, not freed); a
     * history read still held by a connection is freed when the connection is. */
    rp_history_free(srv->history);
    srv->history = NULL;
    rp_cluster_node_close(&srv->cluster); /* its publishes' answers wake the workers too */
    int64_t wait = atomic_load(&srv->cfg)->v.shutdown_timeout;
    rp_log_store_close(&srv->log, srv->hub, (int)(wait > 1000 ? wait : 1000));
    /* Workers go before the hub: their streams hold references into topic logs. */
    for (unsigned i = 0; srv->workers && i < srv->n_workers; i++) {
        rp_worker_free(srv->workers[i]);
        srv->workers[i] = NULL; /* a later worker's gate may still wake the others */
    }
    RP_FREE(srv->workers);
    rp_upstream_pool_free(srv->upstreams); /* its shards went with the workers' loops */
    srv->upstreams = NULL;
    /* Every stream has ended (its session detached): the table as clients left it. */
    if (srv->sessions_path && srv->sessions && !srv->upgraded)
        rp_session_file_save(srv->sessions_path, srv->sessions, true);
    rp_session_table_free(srv->sessions);
    srv->sessions = NULL;
    RP_FREE(srv->sessions_path);
    rp_gate_shared_free(srv->gate);
    srv->gate = NULL;
    rp_guard_free(srv->guard);
    srv->guard = NULL;
    rp_jwt_keys_free(srv->mercure_keys);
    srv->mercure_keys = NULL;
    rp_jwt_keys_free(srv->mercure_subscriber_keys);
    srv->mercure_subscriber_keys = NULL;
    for (size_t i = 0; i < srv->n_owned; i++)
        rp_config_free(srv->owned[i]);
    RP_FREE(srv->owned);
    srv->n_owned = 0;
    rp_hub_free(srv->hub);
    srv->hub = NULL;
    rp_qsbr_free(srv->qsbr); /* topics retired and not freed yet */
    srv->qsbr = NULL;
}
