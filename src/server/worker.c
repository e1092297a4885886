/* SPDX-License-Identifier: MIT */
#include "server/worker.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/guard.h"
#include "auth/gate.h"
#include "base/diag.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/qsbr.h"
#include "base/clock.h"
#include "base/log.h"
#include "client/upstream.h"
#include "loop/wakeup.h"

#define TICK_MS 1000
/* Streams written per loop turn before polling other I/O again (one system call for them
 * all, delivery/stream.c). More per turn lets streams catch up sooner, so each write
 * carries fewer events: 64 halved the delivered events/s of scenarios B and C for 8 %
 * off D5's p99. */
#define FANOUT_BUDGET 16
#define LAG_EVERY_MS 5000 /* how often the subscriber-lag histogram is refreshed */
#define STOPPING_POLL_MS 50

struct rp_worker {
    unsigned id;
    pthread_t thread;
    bool started;
    _Atomic(const struct rp_config *) *running; /* the node's configuration */
    struct rp_qsbr *qsbr;
    struct rp_qsbr_slot *slot; /* online during a loop turn, offline while it sleeps */
    /* The snapshot this worker uses, published for reload (rp_worker_config_in_use). */
    _Atomic(const struct rp_config *) in_use;
    const struct rp_config *cfg;
    struct rp_loop *loop;
    struct rp_fanout *fanout;
    struct rp_front *front;
    struct rp_api api;
    struct rp_stats stats;
    struct rp_gate *gate;            /* NULL with auth_mode none */
    struct rp_wakeup stop_wakeup;    /* stop or export asked */
    struct rp_wakeup auth_wakeup;    /* another worker's webhook call finished, or a reload */
    struct rp_wakeup durable_wakeup; /* more is durable, a read is done, the cluster answered */
    atomic_bool stop_requested;
    atomic_bool export_requested; /* upgrade: hand everything over instead of stopping */
    int exported_listener;        /* after an export: the listening socket, or -1 */
    struct rp_conn_export *exported;
    size_t n_exported;
    bool leaving; /* stopping: leave the loop once drained or at the deadline */
    int64_t leave_deadline_ms;
    bool done;                         /* leave the loop */
    bool worked;                       /* the last loop turn handled I/O events */
    struct rp_loop_timer sweep;        /* heartbeats, HTTP timeouts, token expiry */
    struct rp_loop_timer lag;          /* the subscriber-lag histogram */
    struct rp_loop_timer gate_timer;   /* the webhook client's next timeout */
    struct rp_loop_timer waits_timer;  /* a waiting request's next poll or deadline */
    struct rp_loop_timer accept_timer; /* the end of an accept pause */
    struct rp_loop_timer leave_timer;  /* a stopping worker looks again */

    /* The concentrator: this worker's shard of upstreams (NULL without), and the time of
     * its next reconnect or timeout. */
    struct rp_upstream_pool *upstreams;
    struct rp_upstream_shard *upstream;
    struct rp_loop_timer upstream_timer;
};

static _Thread_local struct rp_worker *this_worker;

struct rp_fanout *
rp_worker_fanout(struct rp_worker *w)
{
    return w->fanout;
}

struct rp_stats *
rp_worker_stats(struct rp_worker *w)
{
    return &w->stats;
}

const struct rp_config *
rp_worker_config_in_use(struct rp_worker *w)
{
    return atomic_load(&w->in_use);
}

const struct rp_config *
rp_worker_thread_config(void)
{
    return this_worker ? this_worker->cfg : NULL;
}

void
rp_worker_auth_wake(struct rp_worker *w)
{
    rp_wakeup_signal(&w->auth_wakeup);
}

void
rp_worker_durable_wake(struct rp_worker *w)
{
    rp_wakeup_signal(&w->durable_wakeup);
}

/*
 * Takes the node's current configuration. The snapshot is published as in use before it is
 * used, and read again after: the reload that replaced it either sees it in use or this
 * worker sees the replacement (a hazard pointer, so reload can free snapshots no one uses).
 */
static bool
take_config(struct rp_worker *w)
{
    const struct rp_config *cfg = atomic_load(w->running);
    if (cfg == w->cfg)
        return false;
    for (;;) {
        atomic_store(&w->in_use, cfg);
        const struct rp_config *again = atomic_load(w->running);
        if (again == cfg)
            break;
        cfg = again;
    }
    w->cfg = cfg;
    rp_front_set_config(w->front, cfg);
    return true;
}

static void
on_auth_wake(struct rp_loop_io *io, uint32_t events)
{
    (void)events;
    struct rp_worker *w = RP_CONTAINER_OF(io, struct rp_worker, auth_wakeup.io);
    rp_wakeup_drain(&w->auth_wakeup);
    rp_waits_wake(rp_front_waits(w->front), RP_WAIT_AUTH);
}

static void
on_durable_wake(struct rp_loop_io *io, uint32_t events)
{
    (void)events;
    struct rp_worker *w = RP_CONTAINER_OF(io, struct rp_worker, durable_wakeup.io);
    rp_wakeup_drain(&w->durable_wakeup);
    rp_waits_wake(rp_front_waits(w->front), RP_WAIT_DURABLE);
    rp_waits_wake(rp_front_waits(w->front), RP_WAIT_HISTORY);
    rp_waits_wake(rp_front_waits(w->front), RP_WAIT_CLUSTER);
}

/* The gate's own webhook call finished (on this thread). */
static void
gate_wake(void *ctx)
{
    struct rp_worker *w = ctx;
    rp_waits_wake(rp_front_waits(w->front), RP_WAIT_AUTH);
}

/* Refreshes this worker's subscriber-lag histogram (metrics). */
static void
measure_lag(struct rp_worker *w)
{
    uint64_t counts[RP_STATS_LAG_BUCKETS + 1];
    rp_fanout_lag_histogram(w->fanout, rp_stats_lag_bounds, RP_STATS_LAG_BUCKETS, counts);
    for (int i = 0; i <= RP_STATS_LAG_BUCKETS; i++)
        atomic_store_explicit(&w->stats.lag[i], counts[i], memory_order_relaxed);
}

static void
on_stop(struct rp_loop_io *io, uint32_t events)
{
    (void)events;
    struct rp_worker *w = RP_CONTAINER_OF(io, struct rp_worker, stop_wakeup.io);
    rp_wakeup_drain(&w->stop_wakeup);
    if (atomic_load(&w->export_requested)) {
        if (!w->exported) {
            w->n_exported = rp_front_export(w->front, &w->exported, &w->exported_listener);
            w->leaving = true;
            w->leave_deadline_ms = 0; /* leave the loop at once */
        }
        return;
    }
    if (w->leaving || !atomic_load(&w->stop_requested))
        return;
    w->leaving = true;
    w->leave_deadline_ms = rp_clock_now_ms() + w->cfg->v.shutdown_timeout;
    rp_front_stop(w->front);
}

/* ---- loop hooks and timers: each concern registers itself ---- */

static void
on_sweep(struct rp_loop *loop, struct rp_loop_timer *t)
{
    struct rp_worker *w = RP_CONTAINER_OF(t, struct rp_worker, sweep);
    int64_t now = rp_clock_now_ms();
    int64_t hb = rp_fanout_sweep(w->fanout, now, w->cfg->v.heartbeat);
    int64_t to = rp_front_sweep(w->front, now);
    int64_t next = hb < to ? hb : to;
    rp_loop_timer_start_after(loop, t, next < TICK_MS ? next : TICK_MS, on_sweep);
}

static void
on_lag(struct rp_loop *loop, struct rp_loop_timer *t)
{
    struct rp_worker *w = RP_CONTAINER_OF(t, struct rp_worker, lag);
    measure_lag(w);
    rp_loop_timer_start_after(loop, t, LAG_EVERY_MS, on_lag);
}

/* A timer whose only job is to end the wait: the before-sleep hooks do the work. */
static void
wake_only(struct rp_loop *loop, struct rp_loop_timer *t)
{
    (void)loop;
    (void)t;
}

/* Arms <t> to end the wait in <in_ms> (a negative value or INT64_MAX: not at all). */
static void
wake_in(struct rp_loop *loop, struct rp_loop_timer *t, int64_t in_ms)
{
    if (in_ms < 0 || in_ms == INT64_MAX)
        rp_loop_timer_stop(loop, t);
    else if (!rp_loop_timer_active(t) || t->due_ms != rp_clock_now_ms() + in_ms)
        rp_loop_timer_start_after(loop, t, in_ms, wake_only);
}

/* Before sleeping: a reloaded configuration (timeouts and heartbeats may change with it),
 * whether a stopping worker is done, and the webhook client's, the waiting requests' and
 * the accept pause's next times. */
static bool
before_sleep(struct rp_loop *loop, void *ctx)
{
    struct rp_worker *w = ctx;
    int64_t now = rp_clock_now_ms();
    if (take_config(w))
        rp_loop_timer_start_after(loop, &w->sweep, 0, on_sweep);
    if (w->leaving && (rp_front_drained(w->front) || now >= w->leave_deadline_ms)) {
        w->done = true;
        return true;
    }
    if (w->gate) {
        rp_gate_tick(w->gate, now);
        wake_in(loop, &w->gate_timer, rp_gate_timeout_ms(w->gate, now));
    }
    if (w->upstream)
        wake_in(loop, &w->upstream_timer, rp_upstream_shard_run(w->upstream, now));
    wake_in(loop, &w->waits_timer, rp_waits_run(rp_front_waits(w->front), now));
    wake_in(loop, &w->accept_timer, rp_front_resume_accept(w->front, now));
    if (w->leaving)
        wake_in(loop, &w->leave_timer, STOPPING_POLL_MS);
    return false;
}

/*
 * Last before sleeping after a turn that did work: yield the CPU once. A client our answers
 * just woke is usually queued on this CPU; it runs now, and its next request is read
 * without a sleep and a cross-CPU wake-up of this thread (scenario P, 16 publishers: 85k ->
 * 135k acknowledged/s, a quarter of the context switches, less CPU per publish). With
 * nothing else to run it returns at once.
 */
static bool
yield_before_sleep(struct rp_loop *loop, void *ctx)
{
    struct rp_worker *w = ctx;
    if (rp_loop_wait_ms(loop) != 0) {
        if (w->worked)
            sched_yield();
        /* Asleep, the worker holds no topic it has not attached or queued: the hub may
         * free topics without waiting for it (base/qsbr). */
        rp_qsbr_offline(w->slot);
    }
    return false;
}

/* Awake again: topics looked up from now on are protected until the next sleep. */
static bool
after_wait(struct rp_loop *loop, void *ctx)
{
    (void)loop;
    struct rp_worker *w = ctx;
    rp_qsbr_online(w->slot);
    return false;
}

/* After the turn's I/O: a slice of the fan-out run queue (true while work remains, so the
 * loop polls its sockets and comes back without sleeping). */
static bool
run_fanout(struct rp_loop *loop, void *ctx)
{
    (void)loop;
    struct rp_worker *w = ctx;
    return rp_fanout_run(w->fanout, FANOUT_BUDGET);
}

/* Last in a turn: free the connections closed in it. */
static bool
reap(struct rp_loop *loop, void *ctx)
{
    (void)loop;
    struct rp_worker *w = ctx;
    rp_front_reap(w->front);
    return false;
}

static void *
worker_main(void *arg)
{
    struct rp_worker *w = arg;
    this_worker = w;
    rp_log_set_worker((int)w->id);
    w->slot = rp_qsbr_register(w->qsbr);
    RP_ASSERT(w->slot); /* the composition root sized the domain for every worker */
    rp_qsbr_online(w->slot);
    rp_loop_timer_start_after(w->loop, &w->sweep, 0, on_sweep);
    rp_loop_timer_start_after(w->loop, &w->lag, 0, on_lag);
    if (w->upstreams && !w->upstream) {
        w->upstream = rp_upstream_shard_attach(w->upstreams, w->id, w->loop);
        if (!w->upstream)
            RP_LOG(RP_LOG_ERROR, "worker", "msg=\"cannot run this worker's upstreams\"");
    }
    rp_loop_hook_add(w->loop, RP_LOOP_BEFORE_SLEEP, before_sleep, w);
    rp_loop_hook_add(w->loop, RP_LOOP_BEFORE_SLEEP, yield_before_sleep, w);
    rp_loop_hook_add(w->loop, RP_LOOP_AFTER_WAIT, after_wait, w);
    rp_loop_hook_add(w->loop, RP_LOOP_AFTER_TURN, run_fanout, w);
    rp_loop_hook_add(w->loop, RP_LOOP_AFTER_TURN, reap, w);
    while (!w->done) {
        int rc = rp_loop_run_once(w->loop, w->done ? 0 : -1);
        if (rc < 0) {
            RP_LOG(RP_LOG_ERROR, "worker", "msg=\"event loop failed: %s\"", strerror(-rc));
            break;
        }
        w->worked = rc > 0;
    }
    /* Close whatever is left: streams were told when to retry. */
    rp_front_close_all(w->front);
    rp_front_reap(w->front);
    /* The loop as it was found, so that the worker can run again (rp_worker_resume). */
    rp_loop_hook_remove(w->loop, RP_LOOP_BEFORE_SLEEP, before_sleep, w);
    rp_loop_hook_remove(w->loop, RP_LOOP_BEFORE_SLEEP, yield_before_sleep, w);
    rp_loop_hook_remove(w->loop, RP_LOOP_AFTER_WAIT, after_wait, w);
    rp_loop_hook_remove(w->loop, RP_LOOP_AFTER_TURN, run_fanout, w);
    rp_loop_hook_remove(w->loop, RP_LOOP_AFTER_TURN, reap, w);
    rp_upstream_shard_detach(w->upstream);
    w->upstream = NULL;
    rp_loop_timer_stop(w->loop, &w->upstream_timer);
    rp_qsbr_offline(w->slot);
    rp_qsbr_unregister(w->slot);
    w->slot = NULL;
    this_worker = NULL;
    return NULL;
}

/* The worker's connections, on its loop, answered by its API. */
static struct rp_front *
new_front(struct rp_worker *w)
{
    struct rp_front_setup fs = {
        .loop = w->loop,
        .fanout = w->fanout,
        .stats = &w->stats,
        .cfg = w->cfg,
        .conncap = rp_guard_conncap(w->api.node->guard),
        .handler = rp_api_handle,
        .stream_adopted = rp_api_stream_adopted,
        .handler_ctx = &w->api,
    };
    return rp_front_new(&fs);
}

int
rp_worker_new(const struct rp_worker_setup *s, struct rp_worker **out, struct rp_diag *diag)
{
    struct rp_worker *w = rp_xcalloc(1, sizeof(*w));
    int err = -ENOMEM;
    w->id = s->id;
    w->running = s->cfg;
    w->qsbr = s->qsbr;
    w->upstreams = s->upstreams;
    w->cfg = atomic_load(s->cfg);
    atomic_init(&w->in_use, w->cfg);
    w->stop_wakeup.io.fd = -1;
    w->auth_wakeup.io.fd = -1;
    w->durable_wakeup.io.fd = -1;
    w->exported_listener = -1;
    atomic_init(&w->stop_requested, false);
    atomic_init(&w->export_requested, false);
    w->loop = rp_loop_new();
    if (!w->loop) {
        rp_diag_set(diag, "cannot create an event loop");
        goto fail;
    }
    int uring_err = 0;
    bool want_uring = w->cfg->v.io_uring;
    w->fanout = rp_fanout_new(s->hub, s->id, w->loop, &w->stats, want_uring, &uring_err);
    if (!w->fanout) {
        rp_diag_set(diag, "cannot create the fan-out");
        goto fail;
    }
    if (want_uring && !rp_fanout_uses_io_uring(w->fanout) && s->id == 0)
        RP_LOG(RP_LOG_WARN, "worker",
               "msg=\"io_uring unavailable (%s): event streams are written with one sendmsg "
               "each\"",
               strerror(uring_err));
    if (s->gate)
        w->gate = rp_gate_new(s->gate, w->loop, &w->stats, gate_wake, w);
    w->api = (struct rp_api){.node = s->api, .gate = w->gate, .stats = &w->stats};
    w->front = new_front(w);
    if ((err = rp_wakeup_init(&w->stop_wakeup, w->loop, on_stop)) != 0 ||
        (err = rp_wakeup_init(&w->auth_wakeup, w->loop, on_auth_wake)) != 0 ||
        (err = rp_wakeup_init(&w->durable_wakeup, w->loop, on_durable_wake)) != 0) {
        rp_diag_set(diag, "cannot create a wake-up descriptor: %s", strerror(-err));
        goto fail;
    }
    int fd = s->listener;
    if ((err = rp_front_listen(w->front, fd)) != 0) {
        rp_diag_set(diag, "cannot watch the listener: %s", strerror(-err));
        goto fail;
    }
    *out = w;
    return 0;
fail:
    if (!w->front && s->listener >= 0)
        close(s->listener);
    rp_worker_free(w);
    return err;
}

int
rp_worker_start(struct rp_worker *w)
{
    int err = pthread_create(&w->thread, NULL, worker_main, w);
    if (err)
        return -err;
    w->started = true;
    return 0;
}

void
rp_worker_stop(struct rp_worker *w)
{
    atomic_store(&w->stop_requested, true);
    rp_wakeup_signal(&w->stop_wakeup);
}

void
rp_worker_join(struct rp_worker *w)
{
    if (w->started)
        pthread_join(w->thread, NULL);
    w->started = false;
}

void
rp_worker_export(struct rp_worker *w)
{
    atomic_store(&w->export_requested, true);
    rp_wakeup_signal(&w->stop_wakeup);
}

size_t
rp_worker_take_export(struct rp_worker *w, int *listener, struct rp_conn_export **conns)
{
    size_t n = w->n_exported;
    *listener = w->exported_listener;
    *conns = w->exported;
    w->exported_listener = -1;
    w->exported = NULL;
    w->n_exported = 0;
    return n;
}

int
rp_worker_resume(struct rp_worker *w, int listener)
{
    RP_ASSERT(!w->started && atomic_load(&w->export_requested));
    /* A front that exported is stopped for good (and empty: its connections were reaped
     * when the loop ended); a new one takes its place. */
    rp_front_free(w->front);
    w->front = new_front(w);
    w->done = w->leaving = false;
    atomic_store(&w->export_requested, false);
    /* On failure too, the front owns <listener> and closes it when freed. */
    return listener < 0 ? 0 : rp_front_listen(w->front, listener);
}

int
rp_worker_adopt(struct rp_worker *w, struct rp_conn_export *e)
{
    return rp_front_adopt(w->front, e);
}

void
rp_worker_free(struct rp_worker *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_exported; i++) {
        close(w->exported[i].fd);
        rp_conn_export_fini(&w->exported[i]);
    }
    free(w->exported);
    if (w->exported_listener >= 0)
        close(w->exported_listener);
    rp_gate_free(w->gate);
    if (w->loop) {
        if (w->stop_wakeup.io.fd >= 0)
            rp_wakeup_fini(&w->stop_wakeup, w->loop);
        if (w->auth_wakeup.io.fd >= 0)
            rp_wakeup_fini(&w->auth_wakeup, w->loop);
        if (w->durable_wakeup.io.fd >= 0)
            rp_wakeup_fini(&w->durable_wakeup, w->loop);
    }
    if (w->front) {
        /* Connections adopted by a worker that never ran. */
        rp_front_close_all(w->front);
        rp_front_reap(w->front);
    }
    rp_front_free(w->front);
    rp_fanout_free(w->fanout);
    rp_loop_free(w->loop);
    free(w);
}
