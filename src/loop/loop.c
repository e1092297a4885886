/* SPDX-License-Identifier: MIT */
#include "loop/loop.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/clock.h"

#define MAX_EVENTS 256
#define N_HOOK_KINDS 3

struct hook {
    rp_loop_hook_fn fn;
    void *ctx;
};

/* The hooks of one kind. <next> is the index of the next to run while the kind runs, so a
 * removal during the pass can keep it pointing at the same hook. */
struct hook_set {
    struct hook *v;
    size_t n, cap, next;
};

struct rp_loop {
    int epfd;
    bool in_turn;
    /* A hook reported work: set by the after-turn hooks for the next turn and by the
     * before-sleep hooks for theirs; the wait that follows is 0 and clears it. */
    bool work;
    int turn_max; /* the caller's maximum wait in this turn; -1 outside a turn */
    /* Readiness collected in this turn: entries [ready_next, n_ready) are still to run. */
    int n_ready, ready_next;
    struct epoll_event events[MAX_EVENTS];
    /* Active timers, a binary min-heap on (due_ms, seq); each knows its index. */
    struct rp_loop_timer **heap;
    size_t n_timers, heap_cap;
    uint64_t timer_seq;
    struct hook_set hooks[N_HOOK_KINDS];
};

struct rp_loop *
rp_loop_new(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct rp_loop *loop = rp_xcalloc(1, sizeof(*loop));
    loop->epfd = fd;
    loop->turn_max = -1;
    return loop;
}

void
rp_loop_free(struct rp_loop *loop)
{
    if (!loop)
        return;
    for (size_t i = 0; i < loop->n_timers; i++)
        loop->heap[i]->heap_index = 0;
    free(loop->heap);
    for (int k = 0; k < N_HOOK_KINDS; k++)
        free(loop->hooks[k].v);
    close(loop->epfd);
    free(loop);
}

/* ---- fds ---- */

static uint32_t
to_epoll(uint32_t events)
{
    uint32_t e = 0;
    if (events & RP_LOOP_READ)
        e |= EPOLLIN | EPOLLRDHUP;
    if (events & RP_LOOP_WRITE)
        e |= EPOLLOUT;
    return e;
}

int
rp_loop_add(struct rp_loop *loop, struct rp_loop_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ev) != 0)
        return -errno;
    io->events = events;
    return 0;
}

int
rp_loop_modify(struct rp_loop *loop, struct rp_loop_io *io, uint32_t events)
{
    if (io->events == events)
        return 0;
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) != 0)
        return -errno;
    io->events = events;
    return 0;
}

void
rp_loop_remove(struct rp_loop *loop, struct rp_loop_io *io)
{
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->events = 0;
    /* A timer or an earlier callback of this turn may close a connection whose readiness
     * is already collected: forget it, so its callback does not run on a closed fd. */
    for (int i = loop->ready_next; i < loop->n_ready; i++)
        if (loop->events[i].data.ptr == io)
            loop->events[i].data.ptr = NULL;
}

/* ---- timers ---- */

static bool
timer_before(const struct rp_loop_timer *a, const struct rp_loop_timer *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void
heap_place(struct rp_loop *loop, size_t i, struct rp_loop_timer *t)
{
    loop->heap[i] = t;
    t->heap_index = i + 1;
}

static void
sift_up(struct rp_loop *loop, size_t i)
{
    struct rp_loop_timer *t = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, loop->heap[parent]))
            break;
        heap_place(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_place(loop, i, t);
}

static void
sift_down(struct rp_loop *loop, size_t i)
{
    struct rp_loop_timer *t = loop->heap[i];
    size_t n = loop->n_timers;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && timer_before(loop->heap[child + 1], loop->heap[child]))
            child++;
        if (!timer_before(loop->heap[child], t))
            break;
        heap_place(loop, i, loop->heap[child]);
        i = child;
    }
    heap_place(loop, i, t);
}

static void
heap_remove(struct rp_loop *loop, struct rp_loop_timer *t)
{
    size_t i = t->heap_index - 1;
    RP_ASSERT(i < loop->n_timers && loop->heap[i] == t);
    t->heap_index = 0;
    struct rp_loop_timer *last = loop->heap[--loop->n_timers];
    if (i == loop->n_timers)
        return;
    heap_place(loop, i, last);
    if (i > 0 && timer_before(last, loop->heap[(i - 1) / 2]))
        sift_up(loop, i);
    else
        sift_down(loop, i);
}

bool
rp_loop_timer_active(const struct rp_loop_timer *t)
{
    return t->heap_index != 0 || rp_list_linked(&t->ready);
}

void
rp_loop_timer_stop(struct rp_loop *loop, struct rp_loop_timer *t)
{
    if (t->heap_index)
        heap_remove(loop, t);
    rp_list_remove(&t->ready);
}

void
rp_loop_timer_start_at(struct rp_loop *loop, struct rp_loop_timer *t, int64_t due_ms,
                       rp_loop_timer_fn fn)
{
    rp_loop_timer_stop(loop, t);
    t->due_ms = due_ms;
    t->fn = fn;
    t->seq = loop->timer_seq++;
    if (loop->n_timers == loop->heap_cap) {
        loop->heap_cap = loop->heap_cap ? 2 * loop->heap_cap : 16;
        loop->heap = rp_xrealloc(loop->heap, loop->heap_cap * sizeof(*loop->heap));
    }
    heap_place(loop, loop->n_timers++, t);
    sift_up(loop, loop->n_timers - 1);
}

void
rp_loop_timer_start_after(struct rp_loop *loop, struct rp_loop_timer *t, int64_t delay_ms,
                          rp_loop_timer_fn fn)
{
    int64_t now = rp_clock_now_ms();
    if (delay_ms < 0)
        delay_ms = 0;
    rp_loop_timer_start_at(loop, t, delay_ms > INT64_MAX - now ? INT64_MAX : now + delay_ms, fn);
}

/*
 * Takes every timer due by now out of the heap first, then runs them in order. A timer
 * that a callback starts again, even for a time already past, goes back into the heap and
 * waits for the next turn, so a timer re-armed at 0 ms cannot keep this pass running; one
 * that a callback stops leaves the ready list and does not run.
 */
static void
run_timers(struct rp_loop *loop)
{
    if (!loop->n_timers)
        return;
    int64_t now = rp_clock_now_ms();
    struct rp_list ready;
    rp_list_init(&ready);
    while (loop->n_timers && loop->heap[0]->due_ms <= now) {
        struct rp_loop_timer *t = loop->heap[0];
        heap_remove(loop, t);
        rp_list_insert_tail(&ready, &t->ready);
    }
    while (!rp_list_empty(&ready)) {
        struct rp_loop_timer *t = RP_CONTAINER_OF(ready.next, struct rp_loop_timer, ready);
        rp_list_remove(&t->ready);
        t->fn(loop, t);
    }
}

/* ---- hooks ---- */

void
rp_loop_hook_add(struct rp_loop *loop, enum rp_loop_hook_kind kind, rp_loop_hook_fn fn, void *ctx)
{
    RP_ASSERT((unsigned)kind < N_HOOK_KINDS && fn);
    struct hook_set *hs = &loop->hooks[kind];
    if (hs->n == hs->cap) {
        hs->cap = hs->cap ? 2 * hs->cap : 4;
        hs->v = rp_xrealloc(hs->v, hs->cap * sizeof(*hs->v));
    }
    hs->v[hs->n++] = (struct hook){.fn = fn, .ctx = ctx};
}

void
rp_loop_hook_remove(struct rp_loop *loop, enum rp_loop_hook_kind kind, rp_loop_hook_fn fn,
                    void *ctx)
{
    RP_ASSERT((unsigned)kind < N_HOOK_KINDS);
    struct hook_set *hs = &loop->hooks[kind];
    for (size_t i = 0; i < hs->n; i++) {
        if (hs->v[i].fn != fn || hs->v[i].ctx != ctx)
            continue;
        for (size_t j = i + 1; j < hs->n; j++)
            hs->v[j - 1] = hs->v[j];
        hs->n--;
        if (i < hs->next)
            hs->next--;
        return;
    }
}

/* Runs the hooks of <kind> in order; one that reports work sets loop->work. */
static void
run_hooks(struct rp_loop *loop, enum rp_loop_hook_kind kind)
{
    struct hook_set *hs = &loop->hooks[kind];
    for (hs->next = 0; hs->next < hs->n;) {
        struct hook h = hs->v[hs->next++];
        if (h.fn(loop, h.ctx))
            loop->work = true; /* rp_loop_wait_ms in the later hooks sees it */
    }
    hs->next = 0;
}

/* ---- turns ---- */

int
rp_loop_wait_ms(const struct rp_loop *loop)
{
    if (loop->work || loop->turn_max == 0)
        return 0;
    int64_t wait = -1;
    if (loop->n_timers) {
        wait = loop->heap[0]->due_ms - rp_clock_now_ms();
        if (wait < 0)
            wait = 0;
    }
    if (loop->turn_max > 0 && (wait < 0 || wait > loop->turn_max))
        wait = loop->turn_max;
    return wait > INT_MAX ? INT_MAX : (int)wait;
}

/* Runs the callbacks of the readiness collected by the wait; the number run. */
static int
run_ready(struct rp_loop *loop)
{
    int ran = 0;
    for (loop->ready_next = 0; loop->ready_next < loop->n_ready;) {
        struct epoll_event *ev = &loop->events[loop->ready_next++];
        struct rp_loop_io *io = ev->data.ptr;
        if (!io)
            continue; /* removed earlier in this turn */
        uint32_t e = ev->events, r = 0;
        if (e & EPOLLIN)
            r |= RP_LOOP_READ;
        if (e & EPOLLOUT)
            r |= RP_LOOP_WRITE;
        if (e & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
            r |= RP_LOOP_HUP;
        io->fn(io, r);
        ran++;
    }
    loop->n_ready = loop->ready_next = 0;
    return ran;
}

int
rp_loop_run_once(struct rp_loop *loop, int max_ms)
{
    RP_ASSERT(!loop->in_turn);
    loop->in_turn = true;
    loop->turn_max = max_ms < 0 ? -1 : max_ms;
    run_hooks(loop, RP_LOOP_BEFORE_SLEEP);

    int n = epoll_wait(loop->epfd, loop->events, MAX_EVENTS, rp_loop_wait_ms(loop));
    int err = n < 0 && errno != EINTR ? -errno : 0;
    loop->turn_max = -1;
    loop->work = false;
    run_hooks(loop, RP_LOOP_AFTER_WAIT);
    loop->work = false; /* only before-sleep and after-turn hooks decide a wait */
    if (err) {
        loop->in_turn = false;
        return err;
    }
    /* Timers first: the readiness stays collected, and rp_loop_remove forgets the fds a
     * timer closes. */
    loop->n_ready = n > 0 ? n : 0;
    run_timers(loop);
    int ran = run_ready(loop);
    run_hooks(loop, RP_LOOP_AFTER_TURN);
    loop->in_turn = false;
    return ran;
}
