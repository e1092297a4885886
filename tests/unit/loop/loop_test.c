/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of loop/loop: timers fire in (due, start) order under random starts, stops and
 * restarts (checked against a model); re-arming in a callback waits for the next turn;
 * stopping an expired timer from another's callback cancels it; hooks run in order, may
 * remove themselves, and a hook with work pending makes the wait zero; the wait follows the
 * nearest timer within the caller's maximum; fd readiness through a pipe, and a removed fd's
 * collected readiness is dropped; a wake-up from another thread ends a wait (TSan).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/clock.h"
#include "base/list.h"
#include "loop/loop.h"
#include "loop/wakeup.h"

/* ---- helpers ---- */

/* What happened in a turn, in order: short names appended by callbacks and hooks. */
struct trace {
    char text[512];
};

static void
trace_add(struct trace *tr, const char *what)
{
    size_t len = strlen(tr->text);
    snprintf(tr->text + len, sizeof(tr->text) - len, "%s%s", len ? " " : "", what);
}

static int64_t
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
setup_loop(void **state)
{
    *state = rp_loop_new();
    return *state ? 0 : -1;
}

static int
teardown_loop(void **state)
{
    rp_loop_free(*state);
    return 0;
}

/* ---- timer order against a model ---- */

#define N_TIMERS 1000

struct tm_item {
    struct rp_loop_timer t;
    int id;
    bool armed;       /* the model: started and neither fired nor stopped */
    int64_t due;      /* the model's due time */
    uint64_t started; /* the model's start order */
};

struct tm_run {
    int fired[N_TIMERS];
    int n_fired;
};

static struct tm_run *cur_run;

static void
tm_fire(struct rp_loop *loop, struct rp_loop_timer *t)
{
    struct tm_item *it = RP_CONTAINER_OF(t, struct tm_item, t);
    assert_false(rp_loop_timer_active(t));
    cur_run->fired[cur_run->n_fired++] = it->id;
}

static uint32_t
rnd(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Random starts, restarts and stops, all due in the past so one turn fires them all
 * without sleeping; the turn must fire exactly the armed ones, by (due, last start). */
static void
test_timer_order_model(void **state)
{
    struct rp_loop *loop = *state;
    static struct tm_item items[N_TIMERS];
    memset(items, 0, sizeof(items));
    uint32_t x = 0x12345678u;
    uint64_t order = 0;
    int64_t base = rp_clock_now_ms() - 10000;
    for (int round = 0; round < 5 * N_TIMERS; round++) {
        struct tm_item *it = &items[rnd(&x) % N_TIMERS];
        it->id = (int)(it - items);
        if (rnd(&x) % 4 == 0) {
            rp_loop_timer_stop(loop, &it->t);
            it->armed = false;
        } else {
            it->due = base + (int64_t)(rnd(&x) % 50); /* many equal due times */
            rp_loop_timer_start_at(loop, &it->t, it->due, tm_fire);
            it->armed = true;
            it->started = order++;
        }
        assert_int_equal(rp_loop_timer_active(&it->t), it->armed);
    }
    /* The model's order: armed items by (due, started). */
    static int want[N_TIMERS];
    int n_want = 0;
    for (int i = 0; i < N_TIMERS; i++)
        if (items[i].armed)
            want[n_want++] = i;
    for (int i = 1; i < n_want; i++) {
        for (int j = i; j > 0; j--) {
            const struct tm_item *a = &items[want[j - 1]], *b = &items[want[j]];
            if (a->due < b->due || (a->due == b->due && a->started < b->started))
                break;
            int tmp = want[j];
            want[j] = want[j - 1];
            want[j - 1] = tmp;
        }
    }
    static struct tm_run run;
    memset(&run, 0, sizeof(run));
    cur_run = &run;
    int64_t t0 = now_us();
    assert_int_equal(rp_loop_run_once(loop, 5000), 0);
    assert_true(now_us() - t0 < 1000000); /* expired timers: no wait */
    assert_int_equal(run.n_fired, n_want);
    assert_memory_equal(run.fired, want, (size_t)n_want * sizeof(int));
    for (int i = 0; i < N_TIMERS; i++)
        assert_false(rp_loop_timer_active(&items[i].t));
    cur_run = NULL;
}

/* ---- stop, restart, re-arm ---- */

struct named_timer {
    struct rp_loop_timer t;
    const char *name;
    struct trace *tr;
    int fires;
    int rearm;                     /* times to start itself again from its callback */
    int64_t rearm_due;             /* where (absolute), when rearming */
    struct named_timer *stop_peer; /* a timer to stop from the callback */
};

static void
named_fire(struct rp_loop *loop, struct rp_loop_timer *t)
{
    struct named_timer *nt = RP_CONTAINER_OF(t, struct named_timer, t);
    nt->fires++;
    if (nt->tr)
        trace_add(nt->tr, nt->name);
    if (nt->stop_peer)
        rp_loop_timer_stop(loop, &nt->stop_peer->t);
    if (nt->rearm > 0) {
        nt->rearm--;
        rp_loop_timer_start_at(loop, t, nt->rearm_due, named_fire);
        assert_true(rp_loop_timer_active(t));
    }
}

static void
test_stop_and_restart(void **state)
{
    struct rp_loop *loop = *state;
    struct trace tr = {{0}};
    struct named_timer a = {.name = "a", .tr = &tr}, b = {.name = "b", .tr = &tr},
                       c = {.name = "c", .tr = &tr};
    int64_t past = rp_clock_now_ms() - 100;
    /* Zeroed timers are inactive, and stopping one is a no-op. */
    assert_false(rp_loop_timer_active(&a.t));
    rp_loop_timer_stop(loop, &a.t);

    rp_loop_timer_start_at(loop, &a.t, past, named_fire);
    rp_loop_timer_start_at(loop, &b.t, past + 1, named_fire);
    rp_loop_timer_start_at(loop, &c.t, past + 2, named_fire);
    rp_loop_timer_stop(loop, &b.t);
    assert_false(rp_loop_timer_active(&b.t));
    rp_loop_timer_start_at(loop, &a.t, past + 3, named_fire); /* moved behind c */
    assert_int_equal(rp_loop_run_once(loop, 0), 0);
    assert_string_equal(tr.text, "c a");
    assert_int_equal(a.fires, 1);
    assert_int_equal(b.fires, 0);

    /* A stopped timer starts again like a new one. */
    tr.text[0] = '\0';
    rp_loop_timer_start_after(loop, &b.t, 0, named_fire);
    assert_true(rp_loop_timer_active(&b.t));
    assert_int_equal(rp_loop_run_once(loop, 1000), 0);
    assert_string_equal(tr.text, "b");
    assert_false(rp_loop_timer_active(&b.t));

    /* A far timer does not fire, and the loop can be freed with it still active. */
    rp_loop_timer_start_after(loop, &c.t, 3600 * 1000, named_fire);
    assert_int_equal(rp_loop_run_once(loop, 0), 0);
    assert_int_equal(c.fires, 1);
    assert_true(rp_loop_timer_active(&c.t));
    rp_loop_free(loop);
    *state = NULL;
    assert_false(rp_loop_timer_active(&c.t));
}

/* A timer re-armed for a time already past from its own callback fires once per turn,
 * not again and again in the same pass. */
static void
test_rearm_in_callback(void **state)
{
    struct rp_loop *loop = *state;
    struct named_timer r = {.name = "r", .rearm = 3, .rearm_due = rp_clock_now_ms() - 1};
    rp_loop_timer_start_after(loop, &r.t, 0, named_fire);
    for (int turn = 1; turn <= 4; turn++) {
        int64_t t0 = now_us();
        rp_loop_run_once(loop, 1000);
        assert_true(now_us() - t0 < 500000); /* due: no wait */
        assert_int_equal(r.fires, turn);
    }
    assert_false(rp_loop_timer_active(&r.t));

    /* Re-armed a little later each time: a periodic timer. */
    struct named_timer p = {.name = "p", .rearm = 2};
    p.rearm_due = rp_clock_now_ms() + 5;
    rp_loop_timer_start_after(loop, &p.t, 0, named_fire);
    for (int i = 0; i < 20 && p.fires < 3; i++)
        rp_loop_run_once(loop, 1000);
    assert_int_equal(p.fires, 3);
    assert_false(rp_loop_timer_active(&p.t));
}

/* Expired together: the first stops the second (which then does not run) and starts a
 * third for a time already past (which runs on the next turn). */
static void
test_stop_other_in_callback(void **state)
{
    struct rp_loop *loop = *state;
    struct trace tr = {{0}};
    struct named_timer b = {.name = "b", .tr = &tr};
    struct named_timer c = {.name = "c", .tr = &tr};
    struct named_timer a = {.name = "a", .tr = &tr, .stop_peer = &b};
    int64_t past = rp_clock_now_ms() - 10;
    rp_loop_timer_start_at(loop, &a.t, past, named_fire);
    rp_loop_timer_start_at(loop, &b.t, past + 1, named_fire);
    rp_loop_timer_start_at(loop, &c.t, past + 2, named_fire);
    rp_loop_run_once(loop, 0);
    assert_string_equal(tr.text, "a c");
    assert_int_equal(b.fires, 0);
    assert_false(rp_loop_timer_active(&b.t));

    /* Started from a callback for a past time: waits for the next turn. */
    tr.text[0] = '\0';
    struct named_timer d = {.name = "d", .tr = &tr};
    struct named_timer e = {.name = "e", .tr = &tr};
    a.stop_peer = NULL;
    a.rearm = 1;
    a.rearm_due = past; /* a re-arms itself in the past */
    rp_loop_timer_start_at(loop, &a.t, past, named_fire);
    rp_loop_timer_start_at(loop, &d.t, past + 5, named_fire);
    rp_loop_timer_start_after(loop, &e.t, 3600 * 1000, named_fire);
    rp_loop_run_once(loop, 0);
    assert_string_equal(tr.text, "a d");
    rp_loop_run_once(loop, 0);
    assert_string_equal(tr.text, "a d a");
    rp_loop_timer_stop(loop, &e.t);
}

/* ---- hooks ---- */

struct hook_probe {
    const char *name;
    struct trace *tr;
    int calls;
    int work;         /* calls left that report work */
    bool remove_self; /* removes itself on its first call */
    enum rp_loop_hook_kind kind;
    int seen_wait; /* rp_loop_wait_ms at the last call */
};

static bool
probe_hook(struct rp_loop *loop, void *ctx)
{
    struct hook_probe *h = ctx;
    h->calls++;
    h->seen_wait = rp_loop_wait_ms(loop);
    if (h->tr)
        trace_add(h->tr, h->name);
    if (h->remove_self)
        rp_loop_hook_remove(loop, h->kind, probe_hook, h);
    if (h->work > 0) {
        h->work--;
        return true;
    }
    return false;
}

struct pipe_io {
    struct rp_loop_io io;
    struct trace *tr;
    const char *name;
    int calls;
    uint32_t last;
    struct rp_loop *loop;
    struct pipe_io *remove_peer; /* unregistered from this one's callback */
};

static void
pipe_ready(struct rp_loop_io *io, uint32_t events)
{
    struct pipe_io *p = RP_CONTAINER_OF(io, struct pipe_io, io);
    p->calls++;
    p->last = events;
    if (p->tr)
        trace_add(p->tr, p->name);
    if (p->remove_peer)
        rp_loop_remove(p->loop, &p->remove_peer->io);
}

static void
test_hooks_order(void **state)
{
    struct rp_loop *loop = *state;
    struct trace tr = {{0}};
    struct hook_probe b1 = {.name = "b1", .tr = &tr, .kind = RP_LOOP_BEFORE_SLEEP};
    struct hook_probe b2 = {.name = "b2", .tr = &tr, .kind = RP_LOOP_BEFORE_SLEEP};
    struct hook_probe a1 = {.name = "a1", .tr = &tr, .kind = RP_LOOP_AFTER_TURN};
    struct hook_probe a2 = {.name = "a2", .tr = &tr, .kind = RP_LOOP_AFTER_TURN};
    rp_loop_hook_add(loop, RP_LOOP_AFTER_TURN, probe_hook, &a1);
    rp_loop_hook_add(loop, RP_LOOP_BEFORE_SLEEP, probe_hook, &b1);
    rp_loop_hook_add(loop, RP_LOOP_AFTER_TURN, probe_hook, &a2);
    rp_loop_hook_add(loop, RP_LOOP_BEFORE_SLEEP, probe_hook, &b2);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct pipe_io p = {.io = {.fd = fds[0], .fn = pipe_ready}, .tr = &tr, .name = "io"};
    assert_int_equal(rp_loop_add(loop, &p.io, RP_LOOP_READ), 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    struct named_timer t = {.name = "timer", .tr = &tr};
    rp_loop_timer_start_after(loop, &t.t, 0, named_fire);

    assert_int_equal(rp_loop_run_once(loop, 1000), 1);
    assert_string_equal(tr.text, "b1 b2 timer io a1 a2");

    /* A hook removing itself: the others still run, once each, in order. */
    tr.text[0] = '\0';
    b1.remove_self = true;
    a1.remove_self = true;
    rp_loop_remove(loop, &p.io);
    rp_loop_run_once(loop, 0);
    assert_string_equal(tr.text, "b1 b2 a1 a2");
    tr.text[0] = '\0';
    rp_loop_run_once(loop, 0);
    assert_string_equal(tr.text, "b2 a2");
    /* Removing one that is not there is a no-op; removing the rest leaves none. */
    rp_loop_hook_remove(loop, RP_LOOP_BEFORE_SLEEP, probe_hook, &b1);
    rp_loop_hook_remove(loop, RP_LOOP_BEFORE_SLEEP, probe_hook, &b2);
    rp_loop_hook_remove(loop, RP_LOOP_AFTER_TURN, probe_hook, &a2);
    tr.text[0] = '\0';
    rp_loop_run_once(loop, 0);
    assert_string_equal(tr.text, "");
    close(fds[0]);
    close(fds[1]);
}

/* A hook reporting work makes the turn's wait zero (before-sleep) or the next turn's
 * (after-turn); later hooks see it through rp_loop_wait_ms. */
static void
test_pending_work_no_sleep(void **state)
{
    struct rp_loop *loop = *state;
    struct hook_probe first = {.work = 2, .kind = RP_LOOP_BEFORE_SLEEP};
    struct hook_probe last = {.kind = RP_LOOP_BEFORE_SLEEP};
    rp_loop_hook_add(loop, RP_LOOP_BEFORE_SLEEP, probe_hook, &first);
    rp_loop_hook_add(loop, RP_LOOP_BEFORE_SLEEP, probe_hook, &last);
    struct named_timer far = {.name = "far"};
    rp_loop_timer_start_after(loop, &far.t, 60000, named_fire);

    for (int i = 0; i < 2; i++) {
        int64_t t0 = now_us();
        assert_int_equal(rp_loop_run_once(loop, 5000), 0);
        assert_true(now_us() - t0 < 1000000);
        assert_int_equal(first.seen_wait, 5000); /* nothing reported yet when it ran */
        assert_int_equal(last.seen_wait, 0);
    }
    /* No work any more: the wait is the caller's maximum, the far timer being further. */
    int64_t t0 = now_us();
    rp_loop_run_once(loop, 30);
    assert_true(now_us() - t0 >= 25000);
    assert_int_equal(last.seen_wait, 30);
    /* Without a maximum: the timer's distance. */
    assert_true(rp_loop_wait_ms(loop) > 59000 && rp_loop_wait_ms(loop) <= 60000);
    rp_loop_hook_remove(loop, RP_LOOP_BEFORE_SLEEP, probe_hook, &first);
    rp_loop_hook_remove(loop, RP_LOOP_BEFORE_SLEEP, probe_hook, &last);

    /* An after-turn hook with work: the next turn does not sleep. */
    struct hook_probe after = {.work = 1, .kind = RP_LOOP_AFTER_TURN};
    rp_loop_hook_add(loop, RP_LOOP_AFTER_TURN, probe_hook, &after);
    rp_loop_run_once(loop, 0);
    assert_int_equal(rp_loop_wait_ms(loop), 0);
    t0 = now_us();
    rp_loop_run_once(loop, 5000);
    assert_true(now_us() - t0 < 1000000);
    assert_int_equal(after.calls, 2);
    assert_true(rp_loop_wait_ms(loop) > 0); /* reported nothing the second time */
    rp_loop_hook_remove(loop, RP_LOOP_AFTER_TURN, probe_hook, &after);
    rp_loop_timer_stop(loop, &far.t);
    assert_int_equal(rp_loop_wait_ms(loop), -1);
}

/* ---- the wait ---- */

/* A timer due in 20 ms ends a turn whose maximum is 2 s after about 20 ms. */
static void
test_wait_follows_nearest_timer(void **state)
{
    struct rp_loop *loop = *state;
    struct named_timer far = {.name = "far"}, near = {.name = "near"};
    rp_loop_timer_start_after(loop, &far.t, 1000, named_fire);
    int64_t t0 = now_us();
    rp_loop_timer_start_after(loop, &near.t, 20, named_fire);
    assert_int_equal(rp_loop_run_once(loop, 2000), 0);
    int64_t took = now_us() - t0;
    assert_int_equal(near.fires, 1);
    assert_int_equal(far.fires, 0);
    if (took < 19000 || took > 500000)
        fail_msg("the turn took %lld us, not about 20 ms", (long long)took);

    /* The caller's maximum wins when shorter. */
    t0 = now_us();
    assert_int_equal(rp_loop_run_once(loop, 20), 0);
    took = now_us() - t0;
    assert_int_equal(far.fires, 0);
    if (took < 19000 || took > 500000)
        fail_msg("the turn took %lld us, not about 20 ms", (long long)took);
    rp_loop_timer_stop(loop, &far.t);
}

/* ---- fds ---- */

static void
test_fd_readiness(void **state)
{
    struct rp_loop *loop = *state;
    int a[2], b[2];
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    struct pipe_io pa = {.io = {.fd = a[0], .fn = pipe_ready}, .loop = loop};
    struct pipe_io pb = {.io = {.fd = b[0], .fn = pipe_ready}, .loop = loop};
    assert_int_equal(rp_loop_add(loop, &pa.io, RP_LOOP_READ), 0);
    assert_int_equal(rp_loop_add(loop, &pb.io, RP_LOOP_READ), 0);

    /* Nothing ready: the maximum elapses. */
    assert_int_equal(rp_loop_run_once(loop, 10), 0);
    assert_int_equal(pa.calls, 0);

    assert_int_equal(write(a[1], "x", 1), 1);
    int64_t t0 = now_us();
    assert_int_equal(rp_loop_run_once(loop, 5000), 1);
    assert_true(now_us() - t0 < 1000000);
    assert_int_equal(pa.calls, 1);
    assert_true(pa.last & RP_LOOP_READ);
    char c;
    assert_int_equal(read(a[0], &c, 1), 1);

    /* Both ready: whichever runs first unregisters the other, which is then not called. */
    pa.remove_peer = &pb;
    pb.remove_peer = &pa;
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    assert_int_equal(rp_loop_run_once(loop, 1000), 1);
    assert_int_equal(pa.calls + pb.calls, 2);

    /* The write end closing reads as HUP. */
    struct pipe_io *left = pa.calls == 2 ? &pa : &pb;
    left->remove_peer = NULL;
    close(left == &pa ? a[1] : b[1]);
    assert_int_equal(rp_loop_run_once(loop, 1000), 1);
    assert_true(left->last & RP_LOOP_HUP);
    rp_loop_remove(loop, &left->io);
    close(a[0]);
    close(b[0]);
    close(left == &pa ? b[1] : a[1]);
}

struct closing_timer {
    struct rp_loop_timer t;
    struct rp_loop_io *io;
};

static void
close_io(struct rp_loop *loop, struct rp_loop_timer *t)
{
    struct closing_timer *ct = RP_CONTAINER_OF(t, struct closing_timer, t);
    rp_loop_remove(loop, ct->io);
}

/* A timer that unregisters an fd whose readiness the turn collected: no callback. */
static void
test_timer_removes_ready_fd(void **state)
{
    struct rp_loop *loop = *state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct pipe_io p = {.io = {.fd = fds[0], .fn = pipe_ready}};
    assert_int_equal(rp_loop_add(loop, &p.io, RP_LOOP_READ), 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    struct closing_timer ct = {.io = &p.io};
    rp_loop_timer_start_after(loop, &ct.t, 0, close_io);
    assert_int_equal(rp_loop_run_once(loop, 1000), 0);
    assert_int_equal(p.calls, 0);
    close(fds[0]);
    close(fds[1]);
}

/* ---- across threads ---- */

struct wake_ctx {
    struct rp_wakeup w;
    atomic_bool signalled;
    int handled;
};

static void
on_wake(struct rp_loop_io *io, uint32_t events)
{
    struct wake_ctx *wc = RP_CONTAINER_OF(io, struct wake_ctx, w.io);
    rp_wakeup_drain(&wc->w);
    wc->handled++;
}

static void *
signal_later(void *arg)
{
    struct wake_ctx *wc = arg;
    struct timespec ts = {.tv_nsec = 20 * 1000000};
    nanosleep(&ts, NULL);
    atomic_store(&wc->signalled, true);
    rp_wakeup_signal(&wc->w);
    return NULL;
}

/* A turn waiting without a maximum for a far timer ends when another thread signals. */
static void
test_wakeup_ends_wait(void **state)
{
    struct rp_loop *loop = *state;
    static struct wake_ctx wc;
    memset(&wc, 0, sizeof(wc));
    atomic_init(&wc.signalled, false);
    assert_int_equal(rp_wakeup_init(&wc.w, loop, on_wake), 0);
    struct named_timer far = {.name = "far"};
    rp_loop_timer_start_after(loop, &far.t, 60000, named_fire);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, signal_later, &wc), 0);
    int64_t t0 = now_us();
    while (!wc.handled)
        assert_true(rp_loop_run_once(loop, -1) >= 0);
    assert_true(now_us() - t0 < 10000000);
    assert_true(atomic_load(&wc.signalled));
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(far.fires, 0);
    rp_loop_timer_stop(loop, &far.t);
    rp_wakeup_fini(&wc.w, loop);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_timer_order_model, setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_stop_and_restart, setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_rearm_in_callback, setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_stop_other_in_callback, setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_hooks_order, setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_pending_work_no_sleep, setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_wait_follows_nearest_timer, setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_fd_readiness, setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_timer_removes_ready_fd, setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_wakeup_ends_wait, setup_loop, teardown_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
