/* SPDX-License-Identifier: MIT */
#ifndef RP_FRONT_FRONT_H
#define RP_FRONT_FRONT_H
/*
 * One worker's connections: the listener it accepts from, its HTTP connections (by last
 * activity, for the handshake and idle timeouts), its streams, the requests that wait
 * (front/wait.h), a graceful stop, and the hand-over of everything to a successor process.
 * One connection's own life is front/conn.h. Owning worker's thread only.
 */
#include <stdbool.h>
#include <stdint.h>

#include "front/conn.h"

/* Fields are front/'s own; the rest of the server uses the functions below. */
struct rp_front {
    struct rp_loop *loop;
    struct rp_fanout *fanout;
    struct rp_stats *stats;
    rp_conn_handler_fn handler;
    void *handler_ctx;
    rp_conn_adopted_fn stream_adopted;
    struct rp_conncap *conncap; /* node-wide connection caps, or NULL; borrowed */
    struct rp_loop_io listener;
    int64_t accept_paused_until;
    bool stopping;
    struct rp_list http;     /* HTTP connections, least recently active first */
    struct rp_list streams;  /* stream connections */
    struct rp_list closing;  /* freed at the end of the loop turn */
    struct rp_list expiring; /* streams whose token expires, soonest first */
    struct rp_waits waits;
    struct rp_http_limits limits;
    /* The configuration in force, taken at loop boundaries (rp_front_set_config). */
    const struct rp_config *cfg;
    struct rp_cors cors;
};

struct rp_front_setup {
    struct rp_loop *loop;
    struct rp_fanout *fanout;
    struct rp_stats *stats;
    const struct rp_config *cfg; /* the first configuration (rp_front_set_config later) */
    /* Counts every connection from accept (or adoption) to close; NULL without caps.
     * Borrowed: it outlives the front. */
    struct rp_conncap *conncap;
    rp_conn_handler_fn handler;
    void *handler_ctx;
    /* A stream taken over from the previous process runs again (its <st>); with
     * <handler_ctx>. May be NULL. */
    rp_conn_adopted_fn stream_adopted;
};

struct rp_front *rp_front_new(const struct rp_front_setup *setup);
/* Frees the front; every connection must have been closed and reaped. Accepts NULL. */
void rp_front_free(struct rp_front *f);
/* Takes <cfg> for the connections: between loop turns, so no request sees two. */
void rp_front_set_config(struct rp_front *f, const struct rp_config *cfg);
/* Accepts connections from the listening socket <fd> (owned by the front from now on). A
 * connection over a cap of the conncap is answered at once (429 max_connections_per_ip, 503
 * max_connections; a few hundred bytes the socket takes without waiting, or nothing when
 * it does not) and closed, before anything is allocated for it. */
int rp_front_listen(struct rp_front *f, int fd);
/* Re-enables accepting after a pause for want of descriptors, when due; returns ms until
 * it is due (or a large value when not paused). */
int64_t rp_front_resume_accept(struct rp_front *f, int64_t now_ms);
/* Closes HTTP connections past handshake_timeout / idle_timeout and ends streams whose
 * token expired; returns ms until the next one may be due. */
int64_t rp_front_sweep(struct rp_front *f, int64_t now_ms);
/* Frees the connections closed during this turn, once no callback can still hold them. */
void rp_front_reap(struct rp_front *f);
/*
 * Graceful stop: closes the listener, tells streams when to come back (`retry:`), closes
 * idle HTTP connections and lets the others finish their answer. rp_front_drained then
 * says when nothing is left to write.
 */
void rp_front_stop(struct rp_front *f);
bool rp_front_drained(struct rp_front *f);
/* Closes every connection (the end of a stop). */
void rp_front_close_all(struct rp_front *f);
struct rp_waits *rp_front_waits(struct rp_front *f);

/*
 * Upgrade, old side: stops accepting and describes every connection into the malloc'd
 * *<out> (streams: their place in the logs; HTTP: their unanswered bytes and queued
 * answers), keeping the sockets open for the successor; the connections are closed here.
 * *<listener> is the listening socket (or -1). Returns how many were described.
 */
size_t rp_front_export(struct rp_front *f, struct rp_conn_export **out, int *listener);
/* Upgrade, new side, before the loop runs: serves the connection <e> describes, taking its
 * socket (e->fd becomes -1). 0, or -errno when it was closed instead. */
int rp_front_adopt(struct rp_front *f, struct rp_conn_export *e);

#endif
