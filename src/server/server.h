/* SPDX-License-Identifier: MIT */
#ifndef RP_SERVER_SERVER_H
#define RP_SERVER_SERVER_H
/*
 * The composition root: builds the hub, the abuse-control guard, the auth gate, the API
 * context and the workers from a configuration snapshot, in dependency order, and takes
 * them down in reverse. The only module that knows every other one; the workers and the
 * API see only what it hands them. Start, wait and stop from the main thread; the other
 * files of server/ (reload, handover, serve) work on this struct from the main thread too.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "base/buf.h"
#include "config/config.h"
#include "core/hub.h"
#include "net/listener.h"
#include "server/cluster_node.h"
#include "server/log_store.h"

struct rp_worker;
struct rp_handover_state;
struct rp_gate_shared;
struct rp_guard;
struct rp_jwt_keys;

/* Loads the configuration again for a reload (SIGHUP): a new config, or NULL when it is
 * invalid (the reason logged). */
typedef struct rp_config *(*rp_server_reload_fn)(void *ctx);

struct rp_server {
    /* The running configuration. Workers take it at a loop boundary (their own snapshot);
     * the main thread replaces it on reload. The first is borrowed (outlives the server);
     * reloaded ones are owned, in <owned>, and freed once no worker uses them. */
    _Atomic(const struct rp_config *) cfg;
    struct rp_config **owned;
    size_t n_owned;
    rp_server_reload_fn reload;
    void *reload_ctx;
    struct rp_hub *hub;
    struct rp_log_store log;        /* the disk log, or none (memory only, or a cluster's) */
    struct rp_cluster_node cluster; /* cluster = redis: the log is Redis's */
    struct rp_history *history;     /* reads resumes older than memory from it; NULL without */
    struct rp_qsbr *qsbr;           /* frees unlinked topics once no worker can hold them */
    struct rp_addr addr;            /* where it listens (the port filled in when 0 was asked) */
    unsigned n_workers;
    struct rp_worker **workers;
    int64_t started_ms;
    atomic_bool stopping;
    atomic_bool ready;           /* every worker started (readiness, /readyz) */
    struct rp_gate_shared *gate; /* NULL with auth_mode none */
    struct rp_guard *guard;
    struct rp_jwt_keys *mercure_keys;   /* Mercure tokens' keys; NULL without any */
    struct rp_upstream_pool *upstreams; /* the concentrator; NULL without upstreams */
    struct rp_api_node api;
    struct rp_session_table *sessions; /* core/session.h */
    char *sessions_path;               /* server/session_file.h; NULL without a disk log */
    /* Upgrade (SIGUSR2): the binary to start (resolved at start, so a deploy that replaces
     * the file starts the new one) and its arguments; set by serve before waiting. */
    const char *exe;
    char **exec_argv;
    bool upgraded;      /* handed over: the successor serves now */
    bool resume_failed; /* a hand-over failed and the workers could not run again */
    bool log_lost;      /* stopped because Redis lost the cluster's log */
};

/* The topic the server publishes its metrics to, once a second while it has subscribers
 * (the dashboard's data): events of type `metrics`, JSON data. */
#define RP_SERVER_METRICS_TOPIC "_revenprox/metrics"

/* Builds and starts everything: 0, or a negative errno with a message logged. With
 * <inherit>, takes over what a previous process handed over (its epoch and logs, trimmed
 * to this configuration's limits, its listening sockets and its connections; the
 * descriptors taken are set to -1), committing to it (rp_handover_commit) only once
 * everything else is built. */
int rp_server_start(struct rp_server *srv, const struct rp_config *cfg,
                    struct rp_handover_state *inherit);
/* The signals rp_server_wait takes (INT, TERM, HUP, USR2): serve blocks them in every
 * thread before starting the server, so only the main thread's sigtimedwait sees them. */
void rp_server_signals(sigset_t *set);
/* Runs housekeeping (log expiry, the metrics feed, freeing old configurations) until a
 * SIGINT or SIGTERM arrives or an upgrade handed over; a SIGHUP reloads the configuration
 * through <srv>->reload (set it before). */
void rp_server_wait(struct rp_server *srv);
/* Graceful stop: workers stop accepting, send streams a retry hint, finish within
 * shutdown_timeout; then everything is freed. */
void rp_server_stop(struct rp_server *srv);
/* Applies the level and format of log lines (process-wide). */
void rp_server_apply_logging(const struct rp_config_values *v);

/* Opens the log engine data_dir names into <srv>->log, with the server's hooks; 0 or
 * -errno (logged). At start, and on the old side of an upgrade that failed. */
int rp_server_open_log(struct rp_server *srv, const struct rp_config_values *v);
/* server/reload.c: SIGHUP. */
void rp_server_reload(struct rp_server *srv);
/* Frees reloaded configurations no worker uses any more. */
void rp_server_free_unused_configs(struct rp_server *srv);

#endif
