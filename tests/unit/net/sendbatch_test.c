/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of net/sendbatch: a batch of sendmsg calls gives each call the result a
 * non-blocking sendmsg of its own would (bytes written, -EAGAIN on a full socket, -EPIPE
 * without SIGPIPE on a closed one, -EBADF), through io_uring and one by one alike; and it
 * uses io_uring when asked wherever the kernel offers it; a ring that fails is given up
 * and the calls are made one by one, none twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/sendbatch.h"

#define N_SOCKS RP_SENDBATCH_MAX

struct call {
    int fd, peer;
    char head[32], body[32];
    struct iovec iov[2];
    struct msghdr msg;
};

static void
pair(struct call *c)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    c->fd = sv[0];
    c->peer = sv[1];
}

/* A two-piece message unique to <i>. */
static void
message(struct call *c, int i)
{
    snprintf(c->head, sizeof(c->head), "id: %d\n", i);
    snprintf(c->body, sizeof(c->body), "data: call %d\n\n", i);
    c->iov[0] = (struct iovec){c->head, strlen(c->head)};
    c->iov[1] = (struct iovec){c->body, strlen(c->body)};
    c->msg = (struct msghdr){.msg_iov = c->iov, .msg_iovlen = 2};
}

static size_t
message_len(const struct call *c)
{
    return c->iov[0].iov_len + c->iov[1].iov_len;
}

static struct rp_sendbatch *
batch_new(bool use_io_uring)
{
    int why = -1;
    struct rp_sendbatch *b = rp_sendbatch_new(use_io_uring, &why);
    assert_non_null(b);
    if (!use_io_uring) {
        assert_false(rp_sendbatch_uses_io_uring(b));
        assert_int_equal(why, 0);
    }
    return b;
}

static void
every_call_writes_its_whole_message(bool use_io_uring)
{
    static struct call calls[N_SOCKS];
    static struct rp_send sends[N_SOCKS];
    struct rp_sendbatch *b = batch_new(use_io_uring);
    for (int i = 0; i < N_SOCKS; i++) {
        pair(&calls[i]);
        message(&calls[i], i);
        sends[i] = (struct rp_send){.fd = calls[i].fd, .msg = &calls[i].msg, .res = -1};
    }
    rp_sendbatch_run(b, sends, N_SOCKS);
    for (int i = 0; i < N_SOCKS; i++) {
        assert_int_equal(sends[i].res, (ssize_t)message_len(&calls[i]));
        char got[64], want[64];
        ssize_t r = read(calls[i].peer, got, sizeof(got) - 1);
        assert_int_equal(r, sends[i].res);
        got[r] = '\0';
        snprintf(want, sizeof(want), "%s%s", calls[i].head, calls[i].body);
        assert_string_equal(got, want);
        close(calls[i].fd);
        close(calls[i].peer);
    }
    rp_sendbatch_free(b);
}

static void
each_call_gets_its_own_error(bool use_io_uring)
{
    enum { OK, FULL, CLOSED, BAD, N };
    struct call calls[N];
    struct rp_send sends[N];
    struct rp_sendbatch *b = batch_new(use_io_uring);
    for (int i = 0; i < N; i++) {
        pair(&calls[i]);
        message(&calls[i], i);
    }
    /* Fill FULL's socket until it refuses. */
    static char junk[65536];
    while (write(calls[FULL].fd, junk, sizeof(junk)) > 0)
        ;
    assert_int_equal(errno, EAGAIN);
    close(calls[CLOSED].peer);
    calls[CLOSED].peer = -1;
    close(calls[BAD].fd);
    close(calls[BAD].peer);
    calls[BAD].peer = -1;
    for (int i = 0; i < N; i++)
        sends[i] = (struct rp_send){.fd = calls[i].fd, .msg = &calls[i].msg, .res = 1};
    /* Without MSG_NOSIGNAL, CLOSED's call would kill this test with SIGPIPE; without
     * MSG_DONTWAIT, FULL's would wait here for ever. */
    rp_sendbatch_run(b, sends, N);
    assert_int_equal(sends[OK].res, (ssize_t)message_len(&calls[OK]));
    assert_int_equal(sends[FULL].res, -EAGAIN);
    assert_int_equal(sends[CLOSED].res, -EPIPE);
    assert_int_equal(sends[BAD].res, -EBADF);
    for (int i = 0; i < N; i++) {
        if (i != BAD)
            close(calls[i].fd);
        if (calls[i].peer >= 0)
            close(calls[i].peer);
    }
    rp_sendbatch_free(b);
}

static void
test_whole_messages_io_uring(void **state)
{
    (void)state;
    every_call_writes_its_whole_message(true);
}

static void
test_whole_messages_sendmsg(void **state)
{
    (void)state;
    every_call_writes_its_whole_message(false);
}

static void
test_errors_io_uring(void **state)
{
    (void)state;
    each_call_gets_its_own_error(true);
}

static void
test_errors_sendmsg(void **state)
{
    (void)state;
    each_call_gets_its_own_error(false);
}

static void
test_an_empty_batch_does_nothing(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        struct rp_sendbatch *b = batch_new(mode == 1);
        rp_sendbatch_run(b, NULL, 0);
        rp_sendbatch_free(b);
    }
}

static void
test_uses_io_uring_where_the_kernel_offers_it(void **state)
{
    (void)state;
    /* Ask the kernel directly, without the code under test. */
    struct io_uring ring;
    int err = io_uring_queue_init(8, &ring, 0);
    if (err < 0) {
        fprintf(stderr, "io_uring refused here (%s): nothing to check\n", strerror(-err));
        skip();
    }
    io_uring_queue_exit(&ring);
    int why = -1;
    struct rp_sendbatch *b = rp_sendbatch_new(true, &why);
    assert_true(rp_sendbatch_uses_io_uring(b));
    assert_int_equal(why, 0);
    rp_sendbatch_free(b);
}

/* The descriptor of this process's one io_uring, or -1. */
static int
find_ring_fd(void)
{
    char path[64], target[64];
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strstr(target, "io_uring"))
            return fd;
    }
    return -1;
}

static void
test_a_broken_ring_falls_back_to_sendmsg(void **state)
{
    (void)state;
    struct rp_sendbatch *b = rp_sendbatch_new(true, NULL);
    if (!rp_sendbatch_uses_io_uring(b)) {
        rp_sendbatch_free(b);
        skip();
    }
    /* Put /dev/null where the ring's descriptor was: io_uring_enter then fails. */
    int ring = find_ring_fd();
    assert_true(ring >= 0);
    int null = open("/dev/null", O_RDONLY);
    assert_true(null >= 0);
    assert_int_equal(dup2(null, ring), ring);
    close(null);
    struct call calls[3];
    struct rp_send sends[3];
    for (int i = 0; i < 3; i++) {
        pair(&calls[i]);
        message(&calls[i], i);
        sends[i] = (struct rp_send){.fd = calls[i].fd, .msg = &calls[i].msg, .res = -1};
    }
    rp_sendbatch_run(b, sends, 3);
    assert_false(rp_sendbatch_uses_io_uring(b)); /* given up, for good */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sends[i].res, (ssize_t)message_len(&calls[i])); /* each sent once */
        char got[64];
        assert_int_equal(read(calls[i].peer, got, sizeof(got)), sends[i].res);
        assert_int_equal(read(calls[i].peer, got, sizeof(got)), -1);
    }
    rp_sendbatch_run(b, sends, 3); /* and the next run goes straight to sendmsg */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sends[i].res, (ssize_t)message_len(&calls[i]));
        close(calls[i].fd);
        close(calls[i].peer);
    }
    rp_sendbatch_free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_messages_io_uring),
        cmocka_unit_test(test_whole_messages_sendmsg),
        cmocka_unit_test(test_errors_io_uring),
        cmocka_unit_test(test_errors_sendmsg),
        cmocka_unit_test(test_an_empty_batch_does_nothing),
        cmocka_unit_test(test_uses_io_uring_where_the_kernel_offers_it),
        cmocka_unit_test(test_a_broken_ring_falls_back_to_sendmsg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
