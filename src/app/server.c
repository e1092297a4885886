/* SPDX-License-Identifier: MIT */
#include "app/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/sd_notify.h"
#include "app/upgrade.h"
#include "app/worker.h"
#include "auth/gate.h"
#include "base/alloc.h"
#include "base/hashmap.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/stats.h"
#include "net/conncap.h"
#include "net/ratelimit.h"
#include "ops/metrics.h"

#define HOUSEKEEPING_MS 1000

static void apply_logging(const struct rp_config_values *v);

/* Tells systemd (Type=notify) our state; a failure is only logged. */
static void
notify_systemd(const char *state)
{
    int err = rp_sd_notify(state);
    if (err)
        RP_LOG(RP_LOG_WARN, "server", "msg=\"systemd notify failed: %s\"", strerror(-err));
}

/* Hub hook: the settings that apply to a new topic (its [topic "pattern"] section). */
static void
policy_for(void *ctx, const char *name, size_t len, struct rp_topic_policy *out)
{
    struct rp_server *srv = ctx;
    const struct rp_config_values *v = rp_config_for_topic(atomic_load(&srv->cfg), name, len);
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
}

static void
topic_advanced(void *ctx, unsigned worker, struct rp_topic *t)
{
    struct rp_server *srv = ctx;
    rp_fanout_notify_advanced(rp_worker_fanout(srv->workers[worker]), t);
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

/* Builds the auth gate and the abuse-control limits from the settings; 0 or -EINVAL with
 * the reason logged. */
static int
start_auth(struct rp_server *srv, const struct rp_config_values *v)
{
    enum rp_gate_mode mode = (enum rp_gate_mode)v->auth_mode;
    if (mode == RP_GATE_MODE_NONE) {
        if (!listens_on_loopback(&srv->addr))
            RP_LOG(RP_LOG_WARN, "auth",
                   "msg=\"auth_mode is none and the server listens beyond loopback: anyone who "
                   "can reach it may subscribe and publish; set auth_mode (see docs/auth.md)\"");
    } else {
        const char *sse_secret =
            v->sse_secret && *v->sse_secret ? v->sse_secret : getenv("SSE_SECRET");
        struct rp_gate_config gc = {
            .mode = mode,
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
            .cache_ttl_ms = v->auth_cache_ttl,
            .cache_negative_ttl_ms = v->auth_cache_negative_ttl,
            .cache_size = (size_t)v->auth_cache_size,
            .breaker_failures = (unsigned)v->auth_breaker_failures,
            .breaker_error_rate_pct = (unsigned)v->auth_breaker_error_rate,
            .breaker_min_calls = (unsigned)v->auth_breaker_min_calls,
            .breaker_window_ms = v->auth_breaker_window,
            .breaker_open_ms = v->auth_breaker_open,
            .breaker_probes = (unsigned)v->auth_breaker_probes,
            .breaker_fallback_cached =
                v->auth_breaker_fallback == RP_CFG_AUTH_BREAKER_FALLBACK_CACHED,
            .branca_key_hex = sse_secret ? sse_secret : "",
            .branca_ttl_ms = v->branca_ttl,
        };
        char err[512];
        if (rp_gate_shared_new(&gc, wake_all_workers, srv, &srv->gate, err, sizeof(err)) != 0) {
            RP_LOG(RP_LOG_ERROR, "auth", "msg=\"%s\"", err);
            return -EINVAL;
        }
        RP_LOG(RP_LOG_INFO, "auth", "msg=\"auth enabled\" mode=%s",
               rp_config_choice("auth_mode", v->auth_mode));
    }
    srv->n_trusted_proxies = v->trusted_proxies.n;
    srv->trusted_proxies = rp_xcalloc(v->trusted_proxies.n + 1, sizeof(struct rp_addr_key));
    for (size_t i = 0; i < v->trusted_proxies.n; i++) {
        const char *a = v->trusted_proxies.items[i];
        if (rp_addr_key_parse(a, strlen(a), &srv->trusted_proxies[i]) != 0) {
            RP_LOG(RP_LOG_ERROR, "server",
                   "msg=\"trusted_proxies: '%s' is not an IPv4 or IPv6 address\"", a);
            return -EINVAL;
        }
    }
    /* Buckets and counts are per client address; a cap on addresses bounds their memory. */
    enum { MAX_CLIENT_KEYS = 100000 }; /* about 15 MB per limiter when full */
    if (v->connect_rate > 0)
        srv->connect_limit =
            rp_ratelimit_new((double)v->connect_rate, (double)v->connect_burst, MAX_CLIENT_KEYS);
    if (v->publish_rate > 0)
        srv->publish_limit =
            rp_ratelimit_new((double)v->publish_rate, (double)v->publish_burst, MAX_CLIENT_KEYS);
    if (v->storm_accept_rate > 0)
        srv->storm_limit =
            rp_ratelimit_new((double)v->storm_accept_rate, (double)v->storm_accept_rate, 1);
    if (v->max_connections > 0 || v->max_connections_per_ip > 0)
        srv->conncap = rp_conncap_new((size_t)v->max_connections_per_ip, (size_t)v->max_connections,
                                      MAX_CLIENT_KEYS);
    return 0;
}

void
rp_server_render_metrics(struct rp_server *srv, bool json, struct rp_buf *out)
{
    struct rp_stats **stats = rp_xcalloc(srv->n_workers, sizeof(*stats));
    for (unsigned i = 0; i < srv->n_workers; i++)
        stats[i] = rp_worker_stats(srv->workers[i]);
    struct rp_metrics_node node = {
        .topics = rp_hub_topic_count(srv->hub),
        .last_seq = rp_hub_last_seq(srv->hub),
        .uptime_s = (rp_clock_now_ms() - srv->started_ms) / 1000,
        .workers = srv->n_workers,
    };
    struct rp_gate_report gr;
    rp_gate_report(srv->gate, &gr);
    node.has_breaker = gr.has_breaker;
    node.breaker_state = gr.breaker_state;
    memcpy(node.breaker_transitions, gr.breaker_transitions, sizeof(gr.breaker_transitions));
    node.auth_cache_entries = gr.cache_entries;
    rp_hub_log_totals(srv->hub, &node.log_events, &node.log_bytes);
    rp_metrics_render(stats, srv->n_workers, &node, json, out);
    free(stats);
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
    struct rp_buf b;
    rp_buf_init(&b, 1024 * 1024);
    rp_buf_printf(&b, "{\"time\":%lld,\"uptime_seconds\":%lld,\"topics\":%llu,\"workers\":[",
                  (long long)rp_clock_wall_ms(),
                  (long long)((rp_clock_now_ms() - srv->started_ms) / 1000),
                  (unsigned long long)rp_hub_topic_count(srv->hub));
    for (unsigned i = 0; i < srv->n_workers; i++) {
        const struct rp_stats *st = rp_worker_stats(srv->workers[i]);
        uint64_t drops =
            rp_stat_get(st, RP_STAT_drops_oldest) + rp_stat_get(st, RP_STAT_drops_newest) +
            rp_stat_get(st, RP_STAT_drops_expired) + rp_stat_get(st, RP_STAT_disconnects_slow);
        rp_buf_printf(&b,
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
    rp_buf_append_str(&b, "],\"totals\":");
    rp_server_render_metrics(srv, true, &b);
    while (b.len && b.data[b.len - 1] == '\n')
        b.len--;
    rp_buf_append_str(&b, "}");
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
    (void)rp_hub_publish(srv->hub, &item, 1, &res, &err);
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

int
rp_server_start(struct rp_server *srv, const struct rp_config *cfg)
{
    return rp_server_start_inherited(srv, cfg, NULL);
}

int
rp_server_start_inherited(struct rp_server *srv, const struct rp_config *cfg,
                          struct rp_upgrade_state *inherit)
{
    memset(srv, 0, sizeof(*srv));
    srv->inherit = inherit;
    atomic_init(&srv->cfg, cfg);
    srv->started_ms = rp_clock_now_ms();
    atomic_init(&srv->stopping, false);
    atomic_init(&srv->ready, false);
    const struct rp_config_values *v = &cfg->v;
    apply_logging(v);
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
    if (start_auth(srv, v) != 0) {
        rp_server_stop(srv);
        return -EINVAL;
    }

    struct rp_hub_config hc = {
        .max_topics = (uint64_t)v->max_topics,
        .max_data = (uint64_t)v->max_data,
        .epoch = inherit ? inherit->epoch : 0, /* ids stay valid across an upgrade */
    };
    struct rp_hub_hooks hooks = {
        .policy_for = policy_for,
        .topic_advanced = topic_advanced,
        .topic_created = topic_created,
        .ctx = srv,
    };
    srv->hub = rp_hub_new(&hc, &hooks);
    if (inherit) {
        int rc = rp_upgrade_restore_hub(inherit, srv->hub);
        if (rc) {
            RP_LOG(RP_LOG_ERROR, "upgrade", "msg=\"cannot restore the handed-over logs: %s\"",
                   strerror(-rc));
            goto fail;
        }
        /* The inherited sockets say where we listen (the port, when 0 was configured). */
        if (inherit->n_listeners) {
            srv->addr.len = sizeof(srv->addr.ss);
            getsockname(inherit->listeners[0], (struct sockaddr *)&srv->addr.ss, &srv->addr.len);
        }
    }
    srv->workers = rp_xcalloc(srv->n_workers, sizeof(*srv->workers));
    /* The first listener picks the port when 0 was asked; the others share it. */
    for (unsigned i = 0; i < srv->n_workers; i++) {
        srv->workers[i] = rp_worker_new(srv, i);
        if (!srv->workers[i])
            goto fail;
    }
    /* Adopted streams are spread over the workers before they run (no locking needed). */
    size_t adopted = 0;
    for (size_t i = 0; inherit && i < inherit->n_streams; i++)
        adopted +=
            rp_worker_adopt_stream(srv->workers[i % srv->n_workers], &inherit->streams[i]) == 0;
    if (inherit)
        RP_LOG(RP_LOG_INFO, "upgrade",
               "msg=\"took over\" streams=%zu of=%zu events=%zu listeners=%zu", adopted,
               inherit->n_streams, inherit->n_events, inherit->n_listeners);
    srv->inherit = NULL;
    for (unsigned i = 0; i < srv->n_workers; i++) {
        int err = rp_worker_start(srv->workers[i]);
        if (err) {
            RP_LOG(RP_LOG_ERROR, "server", "msg=\"cannot start worker: %s\"", strerror(-err));
            goto fail;
        }
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
fail:
    rp_server_stop(srv);
    return -EIO;
}

/* Applies the level and format of log lines (process-wide). */
static void
apply_logging(const struct rp_config_values *v)
{
    enum rp_log_level level;
    if (rp_log_level_parse(rp_config_choice("log_level", v->log_level), &level) == 0)
        atomic_store(&rp_log_min_level, level);
    atomic_store(&rp_log_json, v->log_format == RP_CFG_LOG_FORMAT_JSON);
}

/*
 * SIGHUP: loads the configuration again; settings that need a restart keep their running
 * values (and are named in the log); the rest take effect on each worker at its next loop
 * turn. An invalid file changes nothing. Nobody is disconnected.
 */
static void
reload(struct rp_server *srv)
{
    if (!srv->reload) {
        RP_LOG(RP_LOG_WARN, "server", "msg=\"SIGHUP ignored: no configuration source to reload\"");
        return;
    }
    RP_LOG(RP_LOG_INFO, "server", "msg=\"reloading the configuration\"");
    struct rp_config *next = srv->reload(srv->reload_ctx);
    if (!next) {
        RP_LOG(RP_LOG_ERROR, "server", "msg=\"reload failed; the running configuration stays\"");
        return;
    }
    const struct rp_config *running = atomic_load(&srv->cfg);
    char changed[512];
    size_t n = rp_config_keep_restart_settings(next, running, changed, sizeof(changed));
    if (n)
        RP_LOG(RP_LOG_WARN, "server",
               "msg=\"%zu changed setting(s) need a restart and keep their running values\" "
               "settings=\"%s\"",
               n, changed);
    srv->owned = rp_xrealloc(srv->owned, (srv->n_owned + 1) * sizeof(*srv->owned));
    srv->owned[srv->n_owned++] = next;
    apply_logging(&next->v);
    /* Workers switch at their next loop turn; the old snapshot stays alive until stop, as a
     * worker may still be in a turn that reads it. */
    atomic_store(&srv->cfg, next);
    for (unsigned i = 0; i < srv->n_workers; i++)
        rp_worker_auth_wake(srv->workers[i]); /* a prompt turn */
    RP_LOG(RP_LOG_INFO, "server", "msg=\"configuration reloaded\" restart_needed=%zu", n);
}

/*
 * SIGUSR2: starts the binary again (the file at srv->exe: after a deploy, the new one) and
 * hands it the listening sockets, the logs and every live stream. Returns true when this
 * process is done (handed over, or gave up after quiescing), false when the upgrade was
 * aborted before anything changed (the new process did not start): we keep serving.
 */
static bool
upgrade(struct rp_server *srv)
{
    if (!srv->exe || !srv->exec_argv) {
        RP_LOG(RP_LOG_WARN, "upgrade", "msg=\"SIGUSR2 ignored: the binary's path is unknown\"");
        return false;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        RP_LOG(RP_LOG_ERROR, "upgrade", "msg=\"socketpair: %s\"", strerror(errno));
        return false;
    }
    /* The child's environment, built before fork (only exec-safe calls after it). */
    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    char **envp = rp_xcalloc(n_env + 2, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], RP_UPGRADE_FD_ENV "=", sizeof(RP_UPGRADE_FD_ENV)) != 0)
            envp[k++] = environ[i];
    char fd_env[64];
    snprintf(fd_env, sizeof(fd_env), "%s=%d", RP_UPGRADE_FD_ENV, sv[1]);
    envp[k++] = fd_env;
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        fcntl(sv[1], F_SETFD, 0); /* this end survives exec */
        execve(srv->exe, srv->exec_argv, envp);
        _exit(127);
    }
    free(envp);
    close(sv[1]);
    if (pid < 0) {
        RP_LOG(RP_LOG_ERROR, "upgrade", "msg=\"fork: %s\"", strerror(errno));
        close(sv[0]);
        return false;
    }
    RP_LOG(RP_LOG_INFO, "upgrade", "msg=\"started the new process\" pid=%d exe=%s", (int)pid,
           srv->exe);
    int r = rp_upgrade_wait_byte(sv[0], 30000);
    if (r != 'R') {
        RP_LOG(RP_LOG_ERROR, "upgrade",
               "msg=\"the new process did not get ready (%s); this one keeps serving\"",
               r < 0 ? strerror(-r) : "unexpected message");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(sv[0]);
        return false;
    }
    /* Quiesce: every worker hands over its listener and streams and stops; nothing is
     * published meanwhile, so the logs sent are complete. */
    for (unsigned i = 0; i < srv->n_workers; i++)
        rp_worker_export(srv->workers[i]);
    for (unsigned i = 0; i < srv->n_workers; i++)
        rp_worker_join(srv->workers[i]);
    int *listeners = rp_xcalloc(srv->n_workers, sizeof(int));
    size_t n_listeners = 0, n_streams = 0;
    struct rp_upgrade_stream *streams = NULL;
    for (unsigned i = 0; i < srv->n_workers; i++) {
        int l;
        struct rp_upgrade_stream *s;
        size_t n;
        rp_worker_take_export(srv->workers[i], &l, &s, &n);
        if (l >= 0)
            listeners[n_listeners++] = l;
        streams = rp_xrealloc(streams, (n_streams + n + 1) * sizeof(*streams));
        memcpy(streams + n_streams, s, n * sizeof(*s));
        n_streams += n;
        free(s);
    }
    char err[256] = "";
    int rc = rp_upgrade_send(sv[0], srv->hub, listeners, n_listeners, streams, n_streams, err,
                             sizeof(err));
    r = rc ? rc : rp_upgrade_wait_byte(sv[0], 30000);
    if (r == 'K') {
        RP_LOG(RP_LOG_INFO, "upgrade", "msg=\"handed over\" pid=%d streams=%zu listeners=%zu",
               (int)pid, n_streams, n_listeners);
    } else {
        /* Too late to go back: tell the clients when to come back, spread out, and close. */
        RP_LOG(RP_LOG_ERROR, "upgrade",
               "msg=\"the hand-over failed (%s); closing %zu streams with a jittered retry\"",
               *err ? err : (r < 0 ? strerror(-r) : "unexpected message"), n_streams);
        int64_t base = atomic_load(&srv->cfg)->v.retry > 0 ? atomic_load(&srv->cfg)->v.retry : 1000;
        for (size_t i = 0; i < n_streams; i++) {
            char hint[64];
            int64_t jitter = base + (int64_t)(rp_hash_bytes(&i, sizeof(i)) % (uint64_t)(4 * base));
            int len = snprintf(hint, sizeof(hint), "retry: %lld\n\n", (long long)jitter);
            if (send(streams[i].fd, hint, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
                (void)0; /* the client is gone or full: it reconnects on its own */
            shutdown(streams[i].fd, SHUT_RDWR);
        }
    }
    /* Our copies only: the successor holds the same sockets open. */
    for (size_t i = 0; i < n_streams; i++) {
        close(streams[i].fd);
        rp_stream_state_fini(&streams[i].st);
    }
    for (size_t i = 0; i < n_listeners; i++)
        close(listeners[i]);
    free(streams);
    free(listeners);
    close(sv[0]);
    srv->upgraded = r == 'K';
    return true;
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
            if (upgrade(srv))
                return;
            continue;
        }
        if (sig == SIGHUP) {
            int err = rp_sd_notify_monotonic_reloading();
            if (err)
                RP_LOG(RP_LOG_WARN, "server", "msg=\"systemd notify failed: %s\"", strerror(-err));
            reload(srv);
            notify_systemd("READY=1"); /* also after a failed reload: systemd waits for it */
            continue;
        }
        if (sig == SIGINT || sig == SIGTERM) {
            RP_LOG(RP_LOG_INFO, "server", "msg=\"shutting down\" signal=%s",
                   sig == SIGINT ? "SIGINT" : "SIGTERM");
            notify_systemd("STOPPING=1");
            return;
        }
        rp_hub_expire(srv->hub, rp_clock_now_ms());
        publish_metrics(srv);
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
    /* Workers go before the hub: their streams hold references into topic logs. */
    for (unsigned i = 0; srv->workers && i < srv->n_workers; i++) {
        rp_worker_free(srv->workers[i]);
        srv->workers[i] = NULL; /* a later worker's gate may still wake the others */
    }
    RP_FREE(srv->workers);
    rp_gate_shared_free(srv->gate);
    srv->gate = NULL;
    rp_ratelimit_free(srv->connect_limit);
    rp_ratelimit_free(srv->publish_limit);
    rp_ratelimit_free(srv->storm_limit);
    rp_conncap_free(srv->conncap);
    RP_FREE(srv->trusted_proxies);
    for (size_t i = 0; i < srv->n_owned; i++)
        rp_config_free(srv->owned[i]);
    RP_FREE(srv->owned);
    srv->n_owned = 0;
    srv->connect_limit = srv->publish_limit = srv->storm_limit = NULL;
    srv->conncap = NULL;
    rp_hub_free(srv->hub);
    srv->hub = NULL;
}
