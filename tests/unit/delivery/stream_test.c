/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of delivery/stream's run queue with slow_policy block: a worker reports a
 * topic's cursors as soon as the streams queued for that topic's note are written (not
 * only when its whole run queue is empty), and a note for a topic whose streams are all
 * caught up queues no one. Streams write to socketpairs the test reads.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/hub.h"
#include "delivery/stream.h"
#include "loop/loop.h"

#define N_BUSY 20 /* streams of topic b, which keep the run queue long */
#define LAG 2     /* lag_events: a publish is refused past 2 unread events */

struct fixture {
    struct rp_hub *hub;
    struct rp_loop *loop;
    struct rp_fanout *fanout;
    struct rp_stats stats;
    struct rp_stream *a;         /* the one stream of topic a */
    struct rp_stream *b[N_BUSY]; /* the streams of topic b */
    int peer_a, peer_b[N_BUSY];  /* the readers' ends */
    int closes;
};

static void
policy_for(void *ctx, const char *name, size_t len, struct rp_topic_policy *out)
{
    (void)ctx;
    (void)name;
    (void)len;
    memset(out, 0, sizeof(*out));
    out->history = (struct rp_eventlog_limits){
        .max_count = 100, .max_bytes = UINT64_MAX, .max_age_ms = INT64_MAX / 4};
    out->slow = RP_SLOW_POLICY_BLOCK;
    out->lag_events = LAG;
    out->lag_bytes = UINT64_MAX;
}

static void
on_advanced(void *ctx, unsigned worker, struct rp_topic *t)
{
    struct fixture *fx = ctx;
    assert_int_equal(worker, 0);
    rp_fanout_notify_advanced(fx->fanout, t);
}

static void
want_write(void *owner, bool on)
{
    (void)owner;
    (void)on;
}

static void
on_close(void *owner, const char *why)
{
    struct fixture *fx = owner;
    fx->closes++;
    fail_msg("a stream was closed: %s", why);
}

static const struct rp_stream_owner_ops ops = {.want_write = want_write, .close = on_close};

static struct rp_stream *
open_stream(struct fixture *fx, const char *topic, int *peer)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    *peer = sv[1];
    const char *filters[1] = {topic};
    struct rp_stream_open o = {
        .fd = sv[0], .owner = fx, .ops = &ops, .filters = filters, .n_filters = 1};
    const char *why = NULL;
    struct rp_stream *s = rp_stream_open(fx->fanout, &o, &why);
    assert_non_null(s);
    return s;
}

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct rp_hub_config config = {.max_topics = 10, .max_data = 64, .epoch = 1};
    struct rp_hub_hooks hooks = {
        .policy_for = policy_for, .topic_advanced = on_advanced, .ctx = fx};
    fx->hub = rp_hub_new(&config, &hooks);
    fx->loop = rp_loop_new();
    fx->fanout = rp_fanout_new(fx->hub, 0, fx->loop, &fx->stats);
    assert_non_null(fx->fanout);
    fx->a = open_stream(fx, "a", &fx->peer_a);
    for (int i = 0; i < N_BUSY; i++)
        fx->b[i] = open_stream(fx, "b", &fx->peer_b[i]);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    rp_stream_free(fx->a);
    close(fx->peer_a);
    for (int i = 0; i < N_BUSY; i++) {
        rp_stream_free(fx->b[i]);
        close(fx->peer_b[i]);
    }
    rp_fanout_free(fx->fanout);
    rp_loop_free(fx->loop);
    rp_hub_free(fx->hub);
    free(fx);
    return 0;
}

static int
publish(struct fixture *fx, const char *topic, const char *data)
{
    struct rp_publish_item it = {
        .topic = topic, .topic_len = strlen(topic), .data = data, .data_len = strlen(data)};
    struct rp_publish_result res;
    struct rp_hub_error err;
    return rp_hub_publish(fx->hub, &it, 1, &res, &err);
}

/* Everything the reader of <fd> can read now, as a string. */
static char *
drain(int fd)
{
    static char buf[65536];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    return buf;
}

/* Takes the notes the hub sent (the fanout's wake-up). */
static void
take_notes(struct fixture *fx)
{
    assert_true(rp_loop_run_once(fx->loop, 0) >= 1);
}

static void
test_report_before_the_queue_empties(void **state)
{
    struct fixture *fx = *state;
    /* a's note comes first, then b's: the queue is a, b0 ... b19. */
    assert_int_equal(publish(fx, "a", "a1"), 0);
    assert_int_equal(publish(fx, "b", "b1"), 0);
    take_notes(fx);
    /* One stream written (a's): the queue still holds the 20 of b... */
    assert_true(rp_fanout_run(fx->fanout, 1));
    assert_non_null(strstr(drain(fx->peer_a), "data: a1\n"));
    /* ...but a's cursor is reported: with a1 read, a2 and a3 leave 2 unread (the limit).
     * Reported only once the queue empties, a1 would count as unread and a3 be refused. */
    assert_int_equal(publish(fx, "a", "a2"), 0);
    assert_int_equal(publish(fx, "a", "a3"), 0);
    assert_int_equal(publish(fx, "a", "a4"), -EAGAIN); /* 3 unread: a slow reader holds it */
    while (rp_fanout_run(fx->fanout, 16))
        ;
    for (int i = 0; i < N_BUSY; i++)
        assert_non_null(strstr(drain(fx->peer_b[i]), "data: b1\n"));
    take_notes(fx);
    while (rp_fanout_run(fx->fanout, 16))
        ;
    char *got = drain(fx->peer_a);
    assert_non_null(strstr(got, "data: a2\n"));
    assert_non_null(strstr(got, "data: a3\n"));
    assert_int_equal(publish(fx, "a", "a4"), 0); /* caught up: reported, let through */
    assert_int_equal(fx->closes, 0);
}

static void
test_note_for_caught_up_streams_queues_none(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(publish(fx, "b", "b1"), 0);
    take_notes(fx);
    while (rp_fanout_run(fx->fanout, 16))
        ;
    assert_false(rp_fanout_run(fx->fanout, 0)); /* the run queue is empty */
    /* A refused publish asks for a report with a note like this one: nobody has anything
     * to write, so nobody is queued and the worker stays idle. (Queueing the 20 caught-up
     * streams on every such note kept a worker's run queue from ever draining while a
     * blocked publisher retried.) */
    struct rp_topic *b = rp_hub_find(fx->hub, "b", 1);
    assert_non_null(b);
    rp_fanout_notify_advanced(fx->fanout, b);
    take_notes(fx);
    assert_false(rp_fanout_run(fx->fanout, 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_report_before_the_queue_empties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_note_for_caught_up_streams_queues_none, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
