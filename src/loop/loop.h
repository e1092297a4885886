/* SPDX-License-Identifier: MIT */
#ifndef RP_LOOP_LOOP_H
#define RP_LOOP_LOOP_H
/*
 * A per-thread event loop over epoll: file-descriptor readiness, timers kept in a min-heap
 * (each embedded in its owner) and hooks that run every turn. One turn of rp_loop_run_once:
 * the before-sleep hooks; the wait (to the nearest timer, within the caller's maximum, none
 * when a hook has work pending); the expired timers; the callbacks of ready fds; the
 * after-turn hooks. Not responsible for sockets, protocols or freeing what callbacks close
 * (an after-turn hook does that). Only called from the owning thread (rp_wakeup crosses).
 * After-wait hooks run between the wait and everything else.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/list.h"

struct rp_loop;
struct rp_loop_io;
struct rp_loop_timer;

enum {
    RP_LOOP_READ = 1u << 0,
    RP_LOOP_WRITE = 1u << 1,
    RP_LOOP_HUP = 1u << 2, /* reported only: peer hung up or an error is pending */
};

typedef void (*rp_loop_io_fn)(struct rp_loop_io *io, uint32_t events);

/* A registration, embedded in its owner (a connection, a listener). */
struct rp_loop_io {
    int fd;
    uint32_t events; /* what it is registered for */
    rp_loop_io_fn fn;
};

struct rp_loop *rp_loop_new(void);
/* Frees <loop>; accepts NULL. Timers still active become inactive and hooks are dropped;
 * fds still registered are the owners' to close. */
void rp_loop_free(struct rp_loop *loop);
/* Registers <io> (fd and fn set) for <events>; 0 or -errno. */
int rp_loop_add(struct rp_loop *loop, struct rp_loop_io *io, uint32_t events);
/* Changes what <io> waits for; a no-op when unchanged. 0 or -errno. */
int rp_loop_modify(struct rp_loop *loop, struct rp_loop_io *io, uint32_t events);
/* Unregisters <io>; the caller closes the fd. From then on <io>'s callback is not called,
 * not even for readiness this turn has already collected. */
void rp_loop_remove(struct rp_loop *loop, struct rp_loop_io *io);

/*
 * Runs one turn: the before-sleep hooks; then waits until an fd is ready or the nearest
 * timer is due, at most <max_ms> (-1: no limit of its own), and not at all when <max_ms> is
 * 0 or a hook reported work; then the expired timers, the callbacks of ready fds and the
 * after-turn hooks. Returns the number of fd callbacks run (timers and hooks not counted),
 * or -errno when the wait failed, with nothing run after the before-sleep hooks (EINTR is
 * not a failure: the turn goes on and returns 0 if no fd was ready). Not re-entrant: never
 * call it from a callback or hook of the same <loop>.
 */
int rp_loop_run_once(struct rp_loop *loop, int max_ms);
/*
 * For a before-sleep hook deciding what to do before the loop sleeps: the wait this turn
 * will take unless a later hook reports work, as rp_loop_run_once computes it now: 0, ms,
 * or -1 (until an fd is ready). Outside a turn: the wait of a turn without a maximum.
 */
int rp_loop_wait_ms(const struct rp_loop *loop);

/* ---- timers ---- */

typedef void (*rp_loop_timer_fn)(struct rp_loop *loop, struct rp_loop_timer *t);

/* A one-shot timer, embedded in its owner (which finds itself with RP_CONTAINER_OF). Safe
 * when zeroed: inactive. The fields are the loop's; due_ms may be read while active. */
struct rp_loop_timer {
    int64_t due_ms; /* when it fires, on the rp_clock_now_ms scale */
    rp_loop_timer_fn fn;
    uint64_t seq;         /* start order: timers due at the same ms fire in it */
    size_t heap_index;    /* 1 + its place in the loop's heap; 0 when not there */
    struct rp_list ready; /* linked while expired and about to run in this turn */
};

/*
 * Arms <t> to call <fn>(<loop>, <t>) once, on the first turn at or after the monotonic
 * time <due_ms> (rp_clock_now_ms); a time already past fires on the next turn, without a
 * wait. An active <t> is moved (no second firing). Timers due at the same ms fire in start
 * order. <t> stays the owner's memory and must outlive its being active. O(log n). Allowed
 * from any callback or hook of <loop>, <t>'s own included (a timer started while expired
 * timers run fires on a later turn, not in the same pass).
 */
void rp_loop_timer_start_at(struct rp_loop *loop, struct rp_loop_timer *t, int64_t due_ms,
                            rp_loop_timer_fn fn);
/* As rp_loop_timer_start_at, <delay_ms> after rp_clock_now_ms() (negative counts as 0). */
void rp_loop_timer_start_after(struct rp_loop *loop, struct rp_loop_timer *t, int64_t delay_ms,
                               rp_loop_timer_fn fn);
/* Disarms <t>: its callback is not called, even if <t> expired in this turn and has not
 * run yet. A no-op when <t> is not active (zeroed included). O(log n). */
void rp_loop_timer_stop(struct rp_loop *loop, struct rp_loop_timer *t);
/* True from a start until the callback is called or the timer is stopped (so false in its
 * own callback, unless the callback started it again). */
bool rp_loop_timer_active(const struct rp_loop_timer *t);

/* ---- hooks ---- */

enum rp_loop_hook_kind {
    RP_LOOP_BEFORE_SLEEP = 0, /* every turn, before the wait */
    RP_LOOP_AFTER_TURN = 1,   /* every turn, after the timers and fd callbacks */
    RP_LOOP_AFTER_WAIT = 2,   /* every turn, right after the wait (also a failed one), before
                               * the timers: a thread that went quiescent to sleep comes back
                               * here (base/qsbr); what it returns is ignored */
};

/* Returns true when its owner has work left that should not wait for an fd or a timer (a
 * run queue not yet empty): the loop then does not sleep in this turn (a before-sleep hook)
 * or the next one (an after-turn hook). */
typedef bool (*rp_loop_hook_fn)(struct rp_loop *loop, void *ctx);

/*
 * Adds <fn>(<loop>, <ctx>) to the hooks of <kind>, which run in the order they were added.
 * Allowed from callbacks and hooks; a hook added while its kind runs runs in that pass.
 */
void rp_loop_hook_add(struct rp_loop *loop, enum rp_loop_hook_kind kind, rp_loop_hook_fn fn,
                      void *ctx);
/* Removes the first hook of <kind> with <fn> and <ctx>; a no-op when there is none. Allowed
 * from callbacks and hooks, a hook removing itself included: the others still run once. */
void rp_loop_hook_remove(struct rp_loop *loop, enum rp_loop_hook_kind kind, rp_loop_hook_fn fn,
                         void *ctx);

#endif
