/* SPDX-License-Identifier: MIT */
#ifndef RP_FRONT_WAIT_H
#define RP_FRONT_WAIT_H
/*
 * Requests that wait: a parsed request whose answer depends on something that is not there
 * yet. One mechanism for every reason (the wait kind): the connection sits on its kind's
 * list until the kind is woken (the request is then handled again) or its deadline passes
 * (the handler answers why it gave up). Kinds that cannot be woken by an event are polled.
 * A request that waits again keeps its first deadline. Owning worker's thread only.
 *
 *   RP_WAIT_BLOCK    slow_policy block holds the publish: polled every millisecond (each
 *                    retry asks the workers for a cursor report; retrying on every busy loop
 *                    turn kept the other workers' run queues from ever draining)
 *   RP_WAIT_AUTH     the auth webhook is verifying the token: woken when a call finishes
 *   RP_WAIT_DURABLE  the log engine has not made the event durable yet: woken by its ack
 *   RP_WAIT_CLUSTER  the cluster has not acknowledged yet: woken by the peer's answer
 *   RP_WAIT_HISTORY  a resume's history is being read from the log engine: woken when
 *                    the read is done
 */
#include <stdbool.h>
#include <stdint.h>

#include "base/list.h"

struct rp_conn;
struct rp_stats;

enum rp_wait_kind {
    RP_WAIT_BLOCK = 0,
    RP_WAIT_AUTH,
    RP_WAIT_DURABLE,
    RP_WAIT_CLUSTER,
    RP_WAIT_HISTORY,
    RP_WAIT__COUNT,
};

/* One worker's waiting requests. */
struct rp_waits {
    struct rp_list list[RP_WAIT__COUNT]; /* by arrival */
    bool woken[RP_WAIT__COUNT];
    int64_t next_poll_ms[RP_WAIT__COUNT];
    struct rp_stats *stats;
};

void rp_waits_init(struct rp_waits *w, struct rp_stats *stats);
/* Parks <c>'s current request on <kind> until woken or <deadline_ms> (monotonic). A request
 * already waiting keeps its kind's place and its deadline. */
void rp_conn_wait(struct rp_conn *c, enum rp_wait_kind kind, int64_t deadline_ms);
/* Takes <c> off its wait list (it is closing). */
void rp_conn_unwait(struct rp_conn *c);
/* Marks <kind> woken: its requests are handled again at the next rp_waits_run. */
void rp_waits_wake(struct rp_waits *w, enum rp_wait_kind kind);
/*
 * Handles again the requests of every kind that was woken or is due for a poll, and answers
 * those past their deadline. Each list is taken whole first: a request that waits again is
 * looked at on the next run. Returns ms until a poll or a deadline is next due (-1: none).
 */
int64_t rp_waits_run(struct rp_waits *w, int64_t now_ms);

#endif
