/* SPDX-License-Identifier: MIT */
#ifndef RP_APP_SERVER_H
#define RP_APP_SERVER_H
/*
 * The composition root: builds the hub, the workers and their listeners from a config
 * snapshot, in dependency order, and takes them down in reverse. The only module that
 * knows every other one. Start, wait and stop from the main thread.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "config/config.h"
#include "core/hub.h"
#include "net/addr_key.h"
#include "net/listener.h"

struct rp_worker;
struct rp_upgrade_state;
struct rp_gate_shared;
struct rp_ratelimit;
struct rp_conncap;

/* Loads the configuration again for a reload (SIGHUP): a new config, or NULL when it is
 * invalid (the reason logged). */
typedef struct rp_config *(*rp_server_reload_fn)(void *ctx);

struct rp_server {
    /* The running configuration. Workers take it at a loop boundary (their own snapshot);
     * the main thread replaces it on reload. The first is borrowed (outlives the server);
     * reloaded ones are owned, in <owned>, freed at stop. */
    _Atomic(const struct rp_config *) cfg;
    struct rp_config **owned;
    size_t n_owned;
    rp_server_reload_fn reload;
    void *reload_ctx;
    struct rp_hub *hub;
    struct rp_addr addr; /* where it listens (the port filled in when 0 was asked) */
    unsigned n_workers;
    struct rp_worker **workers;
    int64_t started_ms;
    atomic_bool stopping;
    atomic_bool ready; /* every worker started (readiness, /readyz) */
    /* Auth and abuse control (docs/auth.md); each NULL when its setting is off. */
    struct rp_gate_shared *gate;
    struct rp_ratelimit *connect_limit;
    struct rp_ratelimit *publish_limit;
    struct rp_ratelimit *storm_limit; /* node-wide: one key */
    struct rp_conncap *conncap;
    struct rp_addr_key *trusted_proxies;
    size_t n_trusted_proxies;
    _Atomic int64_t storm_until_ms; /* streams admitted before this get a jittered retry */
    /* Upgrade (SIGUSR2): the binary to start (resolved at start, so a deploy that replaces
     * the file starts the new one) and its arguments; set by main after start. */
    const char *exe;
    char **exec_argv;
    /* Upgrade, new side: what the previous process handed over, during start only. */
    struct rp_upgrade_state *inherit;
    bool upgraded; /* handed over: the successor serves now */
};

/* Appends the node's metrics (every worker's counters summed, node gauges) to <out>:
 * Prometheus text, or JSON with <json>. Any thread. */
void rp_server_render_metrics(struct rp_server *srv, bool json, struct rp_buf *out);

/* The topic the server publishes its metrics to, once a second while it has subscribers
 * (the dashboard's data): events of type `metrics`, JSON data. */
#define RP_SERVER_METRICS_TOPIC "_revenprox/metrics"

/* Builds and starts everything: 0, or a negative errno with a message logged. */
int rp_server_start(struct rp_server *srv, const struct rp_config *cfg);
/* The same, taking over what a previous process handed over in <inherit> (its epoch and
 * logs, its listening sockets and its streams; the descriptors taken are set to -1). */
int rp_server_start_inherited(struct rp_server *srv, const struct rp_config *cfg,
                              struct rp_upgrade_state *inherit);
/* The signals rp_server_wait takes (INT, TERM, HUP, USR2): main blocks them in every thread
 * before starting the server, so only the main thread's sigtimedwait sees them. */
void rp_server_signals(sigset_t *set);

/* Runs housekeeping (log expiry, the metrics feed) until a SIGINT or SIGTERM arrives; a
 * SIGHUP reloads the configuration through <srv>->reload (set it before). */
void rp_server_wait(struct rp_server *srv);
/* Graceful stop: workers stop accepting, send streams a retry hint, finish within
 * shutdown_timeout; then everything is freed. */
void rp_server_stop(struct rp_server *srv);

#endif
