/* SPDX-License-Identifier: MIT */
#include "loop/wakeup.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

int
rp_wakeup_init(struct rp_wakeup *w, struct rp_loop *loop, rp_loop_io_fn fn)
{
    w->io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->io.fd < 0)
        return -errno;
    w->io.fn = fn;
    atomic_init(&w->armed, false);
    int err = rp_loop_add(loop, &w->io, RP_LOOP_READ);
    if (err) {
        close(w->io.fd);
        w->io.fd = -1;
    }
    return err;
}

void
rp_wakeup_fini(struct rp_wakeup *w, struct rp_loop *loop)
{
    if (w->io.fd < 0)
        return;
    rp_loop_remove(loop, &w->io);
    close(w->io.fd);
    w->io.fd = -1;
}

void
rp_wakeup_signal(struct rp_wakeup *w)
{
    if (atomic_exchange(&w->armed, true))
        return;
    uint64_t one = 1;
    ssize_t n = write(w->io.fd, &one, sizeof(one));
    (void)n; /* EAGAIN means the counter is already non-zero: the owner wakes anyway */
}

void
rp_wakeup_drain(struct rp_wakeup *w)
{
    uint64_t v;
    ssize_t n = read(w->io.fd, &v, sizeof(v));
    (void)n;
    /* Disarm after reading: a signal racing with us either sees armed and relies on our
     * caller reading the mailbox next, or writes again and wakes us once more. */
    atomic_store(&w->armed, false);
}
