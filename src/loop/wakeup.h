/* SPDX-License-Identifier: MIT */
#ifndef RP_LOOP_WAKEUP_H
#define RP_LOOP_WAKEUP_H
/*
 * A cross-thread wake-up: an eventfd that any thread signals and the owning loop reads.
 * Signals coalesce: however many arrive before the owner drains, one write and one
 * wake-up happen. Not a queue: the owner keeps its own mailbox. Signal from any thread;
 * drain from the owner.
 */
#include <stdatomic.h>
#include <stdbool.h>

#include "loop/loop.h"

struct rp_wakeup {
    struct rp_loop_io io;
    atomic_bool armed; /* a write is outstanding */
};

/* Creates the eventfd and registers it with <loop>, calling <fn> when signalled. */
int rp_wakeup_init(struct rp_wakeup *w, struct rp_loop *loop, rp_loop_io_fn fn);
void rp_wakeup_fini(struct rp_wakeup *w, struct rp_loop *loop);
void rp_wakeup_signal(struct rp_wakeup *w);
/* Clears the signal; call at the start of handling it, before reading the mailbox. */
void rp_wakeup_drain(struct rp_wakeup *w);

#endif
