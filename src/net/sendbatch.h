/* SPDX-License-Identifier: MIT */
#ifndef RP_NET_SENDBATCH_H
#define RP_NET_SENDBATCH_H
/*
 * Many non-blocking sendmsg calls, on many sockets, made with one system call: each is
 * submitted to an io_uring and completes before rp_sendbatch_run returns, exactly as if
 * it had been made on its own with MSG_DONTWAIT | MSG_NOSIGNAL (a full socket answers
 * -EAGAIN, nothing waits in the kernel). Where the kernel refuses io_uring (too old,
 * disabled, forbidden by a seccomp policy) or it is switched off, the calls are made one
 * by one: same results, one system call each.
 *
 * Why: a fan-out of one event to 10,000 subscribers is 10,000 small writes; one system
 * call each means 10,000 kernel entries and as many points where the thread is preempted
 * by the readers it just woke (scenario D5, docs/benchmarks.md).
 *
 * Not thread-safe: one batch per thread (each worker owns one).
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Most calls in one rp_sendbatch_run. */
#define RP_SENDBATCH_MAX 256

/* One call: the caller fills <fd> and <msg> (which must stay valid until the run
 * returns); the run sets <res> to the bytes written or a negative errno. */
struct rp_send {
    int fd;
    const struct msghdr *msg;
    ssize_t res;
};

struct rp_sendbatch;

/* A batch that uses io_uring when <use_io_uring> and the kernel allows it; otherwise
 * *<why> (may be NULL) says why not, as an errno (0 when it was not asked for). Returns
 * NULL only when out of memory. */
struct rp_sendbatch *rp_sendbatch_new(bool use_io_uring, int *why);
/* Frees <b>; accepts NULL. */
void rp_sendbatch_free(struct rp_sendbatch *b);
/* Whether calls go through io_uring (false after the ring failed and was given up). */
bool rp_sendbatch_uses_io_uring(const struct rp_sendbatch *b);
/* Makes the <n> (at most RP_SENDBATCH_MAX) calls of <sends>, each socket at most once
 * (io_uring does not order calls on one socket), and sets each one's res. Never fails as a whole: a
 * ring that breaks is dropped (logged) and the calls it did not make are made one by one. */
void rp_sendbatch_run(struct rp_sendbatch *b, struct rp_send *sends, size_t n);

#endif
