/* SPDX-License-Identifier: MIT */
#include "net/sendbatch.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"

#define SEND_FLAGS (MSG_DONTWAIT | MSG_NOSIGNAL)

struct rp_sendbatch {
    bool ring_ok;
    struct io_uring ring;
    bool done[RP_SENDBATCH_MAX]; /* scratch: which calls of the current run completed */
};

/* 0 when a ring of RP_SENDBATCH_MAX entries is set up and can do sendmsg, else an errno. */
static int
ring_open(struct io_uring *ring)
{
    int err = io_uring_queue_init(RP_SENDBATCH_MAX, ring, 0);
    if (err < 0)
        return -err;
    struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
    bool ok = probe && io_uring_opcode_supported(probe, IORING_OP_SENDMSG);
    io_uring_free_probe(probe);
    if (!ok) {
        io_uring_queue_exit(ring);
        return EOPNOTSUPP;
    }
    return 0;
}

struct rp_sendbatch *
rp_sendbatch_new(bool use_io_uring, int *why)
{
    struct rp_sendbatch *b = rp_xcalloc(1, sizeof(*b));
    int err = use_io_uring ? ring_open(&b->ring) : 0;
    b->ring_ok = use_io_uring && err == 0;
    if (why)
        *why = err;
    return b;
}

void
rp_sendbatch_free(struct rp_sendbatch *b)
{
    if (!b)
        return;
    if (b->ring_ok)
        io_uring_queue_exit(&b->ring);
    free(b);
}

bool
rp_sendbatch_uses_io_uring(const struct rp_sendbatch *b)
{
    return b->ring_ok;
}

/* Takes every completion there is; returns how many. */
static size_t
reap(struct rp_sendbatch *b, struct rp_send *sends, size_t n)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&b->ring, head, cqe)
    {
        uint64_t i = cqe->user_data;
        RP_ASSERT(i < n && !b->done[i]);
        sends[i].res = cqe->res;
        b->done[i] = true;
        seen++;
    }
    io_uring_cq_advance(&b->ring, seen);
    return seen;
}

/* Submits the calls and waits for all of them: with MSG_DONTWAIT each completes while it
 * is submitted, so the wait costs nothing. Returns false if the ring failed; the calls
 * not marked done were then not made. */
static bool
run_ring(struct rp_sendbatch *b, struct rp_send *sends, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
        RP_ASSERT(sqe); /* the ring is empty between runs and has RP_SENDBATCH_MAX entries */
        io_uring_prep_sendmsg(sqe, sends[i].fd, sends[i].msg, SEND_FLAGS);
        sqe->user_data = i;
    }
    size_t got = 0;
    while (got < n) {
        int r = io_uring_submit_and_wait(&b->ring, (unsigned)(n - got));
        got += reap(b, sends, n);
        if (got < n && r < 0 && r != -EINTR) {
            /* Unexpected (the kernel could not take the submission): give the ring up for
             * good; entries it never took are dropped with it. */
            RP_LOG(RP_LOG_ERROR, "sendbatch",
                   "msg=\"io_uring submission failed: %s; writing with sendmsg from now on\"",
                   strerror(-r));
            io_uring_queue_exit(&b->ring);
            b->ring_ok = false;
            return false;
        }
    }
    return true;
}

void
rp_sendbatch_run(struct rp_sendbatch *b, struct rp_send *sends, size_t n)
{
    RP_ASSERT(n <= RP_SENDBATCH_MAX);
    memset(b->done, 0, n * sizeof(b->done[0]));
    if (b->ring_ok && run_ring(b, sends, n))
        return;
    for (size_t i = 0; i < n; i++) {
        if (b->done[i])
            continue;
        ssize_t w = sendmsg(sends[i].fd, sends[i].msg, SEND_FLAGS);
        sends[i].res = w < 0 ? -errno : w;
    }
}
