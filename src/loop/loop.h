/* SPDX-License-Identifier: MIT */
#ifndef RP_LOOP_LOOP_H
#define RP_LOOP_LOOP_H
/*
 * A per-thread event loop over epoll: file-descriptor readiness and a wait with a
 * timeout (timers are the owner's sweep on each turn, not one timer per connection).
 * Not responsible for sockets or protocols. Only called from the owning thread.
 */
#include <stdint.h>

struct rp_loop;
struct rp_loop_io;

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
void rp_loop_free(struct rp_loop *loop);
/* Registers <io> (fd and fn set) for <events>; 0 or -errno. */
int rp_loop_add(struct rp_loop *loop, struct rp_loop_io *io, uint32_t events);
/* Changes what <io> waits for; a no-op when unchanged. 0 or -errno. */
int rp_loop_modify(struct rp_loop *loop, struct rp_loop_io *io, uint32_t events);
/* Unregisters <io>; the caller closes the fd. */
void rp_loop_remove(struct rp_loop *loop, struct rp_loop_io *io);
/* Waits up to <timeout_ms> (-1: forever) and runs the callbacks of ready fds once.
 * Returns the number run, or -errno (EINTR is not an error: it returns 0). */
int rp_loop_run_once(struct rp_loop *loop, int timeout_ms);

#endif
