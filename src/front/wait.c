/* SPDX-License-Identifier: MIT */
#include "front/wait.h"

#include "base/stats.h"
#include "front/front.h"

/* How often a kind is handled again without being woken (0: only when woken). */
static const int64_t poll_every_ms[RP_WAIT__COUNT] = {
    [RP_WAIT_BLOCK] = 1,
};

void
rp_waits_init(struct rp_waits *w, struct rp_stats *stats)
{
    for (int k = 0; k < RP_WAIT__COUNT; k++) {
        rp_list_init(&w->list[k]);
        w->woken[k] = false;
        w->next_poll_ms[k] = 0;
    }
    w->stats = stats;
}

void
rp_conn_wait(struct rp_conn *c, enum rp_wait_kind kind, int64_t deadline_ms)
{
    if (c->waiting)
        return;
    struct rp_waits *w = rp_front_waits(c->f);
    c->waiting = true;
    c->wait_kind = kind;
    c->wait_deadline_ms = deadline_ms;
    rp_list_insert_tail(&w->list[kind], &c->wait_node);
    rp_stat_add(w->stats, RP_STAT_connections_waiting, 1);
}

void
rp_conn_unwait(struct rp_conn *c)
{
    if (!c->waiting)
        return;
    rp_list_remove(&c->wait_node);
    c->waiting = false;
    rp_stat_sub(rp_front_waits(c->f)->stats, RP_STAT_connections_waiting, 1);
}

void
rp_waits_wake(struct rp_waits *w, enum rp_wait_kind kind)
{
    w->woken[kind] = true;
}

/* Handles every request of <kind> again (answering those past their deadline). */
static void
run_kind(struct rp_waits *w, enum rp_wait_kind kind, int64_t now)
{
    struct rp_list todo;
    rp_list_init(&todo);
    while (!rp_list_empty(&w->list[kind])) {
        struct rp_list *n = w->list[kind].next;
        rp_list_remove(n);
        rp_list_insert_tail(&todo, n);
    }
    while (!rp_list_empty(&todo)) {
        struct rp_conn *c = RP_CONTAINER_OF(todo.next, struct rp_conn, wait_node);
        int64_t deadline = c->wait_deadline_ms;
        rp_list_remove(&c->wait_node);
        c->waiting = false;
        rp_stat_sub(w->stats, RP_STAT_connections_waiting, 1);
        rp_conn_rerun(c, now >= deadline ? RP_CONN_CALL_EXPIRED : RP_CONN_CALL_RETRY);
        /* Waiting again for the same reason: it keeps its first deadline. */
        if (c->waiting && c->wait_kind == kind)
            c->wait_deadline_ms = deadline;
    }
}

int64_t
rp_waits_run(struct rp_waits *w, int64_t now)
{
    int64_t next = -1;
    for (int k = 0; k < RP_WAIT__COUNT; k++) {
        struct rp_list *list = &w->list[k];
        if (rp_list_empty(list)) {
            w->woken[k] = false;
            continue;
        }
        bool due = w->woken[k];
        if (poll_every_ms[k] && now >= w->next_poll_ms[k]) {
            w->next_poll_ms[k] = now + poll_every_ms[k];
            due = true;
        }
        /* The oldest request's deadline comes first (deadlines are set alike per kind). */
        struct rp_conn *first = RP_CONTAINER_OF(list->next, struct rp_conn, wait_node);
        if (now >= first->wait_deadline_ms)
            due = true;
        if (due) {
            w->woken[k] = false;
            run_kind(w, (enum rp_wait_kind)k, now);
        }
        if (rp_list_empty(list))
            continue;
        first = RP_CONTAINER_OF(list->next, struct rp_conn, wait_node);
        int64_t in = first->wait_deadline_ms - now;
        if (poll_every_ms[k] && poll_every_ms[k] < in)
            in = poll_every_ms[k];
        if (in < 0)
            in = 0;
        if (next < 0 || in < next)
            next = in;
    }
    return next;
}
