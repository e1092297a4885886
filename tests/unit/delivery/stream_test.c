/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the run queue (delivery/). With slow_policy block: a worker reports a
 * topic's cursors as soon as the streams queued for that topic's note are written (not
 * only when its whole run queue is empty), and a note for a topic whose streams are all
 * caught up queues no one. Batched writes: more streams than one batch holds, each with
 * more than one write's worth, get every event once and in order; a full socket keeps
 * the rest of a frame and resumes; a topic created meanwhile reaches a pattern stream
 * once. Topics reclaimed and made again: a resume from before the old topic's last
 * event announces the gap, a note or a due report never outlives its topic. Every case
 * runs with io_uring and with one sendmsg per stream. Streams write to socketpairs the
 * test reads.
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

#include "base/clock.h"
#include "base/qsbr.h"
#include "core/event_id.h"
#include "core/hub.h"
#include "delivery/fanout.h"
#include "delivery/stream.h"
#include "loop/loop.h"

#define N_BUSY 20    /* streams of topic b, which keep the run queue long */
#define LAG 2        /* lag_events: a publish is refused past 2 unread events */
#define N_WIDE 300   /* streams of topic w: more than one batch (RP_SENDBATCH_MAX) */
#define N_EVENTS 150 /* events published to w: more than one read of the log (64) */

struct fixture {
    struct rp_qsbr *q; /* the reclaim fixtures only */
    struct rp_hub *hub;
    struct rp_loop *loop;
    struct rp_fanout *fanout;
    struct rp_stats stats;
    struct rp_stream *a;         /* the one stream of topic a */
    struct rp_stream *b[N_BUSY]; /* the streams of topic b */
    int peer_a, peer_b[N_BUSY];  /* the readers' ends */
    struct rp_stream *w[N_WIDE]; /* the streams of topic w (the wide fixtures only) */
    int peer_w[N_WIDE];
    int fd_w0;   /* w[0]'s own end */
    int last_fd; /* the own end of the stream opened last */
    int closes;
    bool closes_expected; /* a case that ends streams on purpose */
    int stalls;           /* want_write(true) calls */
};

static void
policy_for(void *ctx, const char *name, size_t len, struct rp_topic_policy *out)
{
    (void)ctx;
    (void)name;
    (void)len;
    memset(out, 0, sizeof(*out));
    /* Topics named gone... keep events 5 s, so a test can expire them and reclaim. */
    bool gone = len >= 4 && memcmp(name, "gone", 4) == 0;
    out->history = (struct rp_eventlog_limits){
        .max_count = 1000, .max_bytes = UINT64_MAX, .max_age_ms = gone ? 5000 : INT64_MAX / 4};
    if (len == 1 && name[0] == 'w') {
        /* Never lags: these cases are about writing, not about slow readers. */
        out->slow = RP_SLOW_POLICY_DISCONNECT;
        out->lag_events = UINT64_MAX;
    } else {
        out->slow = RP_SLOW_POLICY_BLOCK;
        out->lag_events = LAG;
    }
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
on_created(void *ctx, unsigned worker, struct rp_topic *t)
{
    struct fixture *fx = ctx;
    assert_int_equal(worker, 0);
    rp_fanout_notify_created(fx->fanout, t);
}

static void
want_write(void *owner, bool on)
{
    struct fixture *fx = owner;
    if (on)
        fx->stalls++;
}

static void
on_close(void *owner, const char *why)
{
    struct fixture *fx = owner;
    fx->closes++;
    if (!fx->closes_expected)
        fail_msg("a stream was closed: %s", why);
}

static const struct rp_stream_owner_ops ops = {.want_write = want_write, .close = on_close};

static struct rp_stream *
open_stream_from(struct fixture *fx, const char *topic, const char *last_event_id, int *peer)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    *peer = sv[1];
    fx->last_fd = sv[0];
    const char *filters[1] = {topic};
    struct rp_stream_open o = {.fd = sv[0],
                               .owner = fx,
                               .ops = &ops,
                               .filters = filters,
                               .n_filters = 1,
                               .last_event_id = last_event_id,
                               .last_event_id_len = last_event_id ? strlen(last_event_id) : 0};
    const char *why = NULL;
    struct rp_stream *s = rp_stream_open(fx->fanout, &o, &why);
    assert_non_null(s);
    return s;
}

static struct rp_stream *
open_stream(struct fixture *fx, const char *topic, int *peer)
{
    return open_stream_from(fx, topic, NULL, peer);
}

static struct fixture *
fixture_new(bool use_io_uring, bool reclaim)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    fx->q = reclaim ? rp_qsbr_new(1) : NULL;
    struct rp_hub_config config = {.max_topics = 10, .max_data = 4096, .epoch = 1, .qsbr = fx->q};
    struct rp_hub_hooks hooks = {.policy_for = policy_for,
                                 .topic_advanced = on_advanced,
                                 .topic_created = on_created,
                                 .ctx = fx};
    fx->hub = rp_hub_new(&config, &hooks);
    fx->loop = rp_loop_new();
    fx->fanout = rp_fanout_new(fx->hub, 0, fx->loop, &fx->stats, use_io_uring, NULL);
    assert_non_null(fx->fanout);
    if (!use_io_uring)
        assert_false(rp_fanout_uses_io_uring(fx->fanout));
    return fx;
}

/* Topic a with one stream, topic b with N_BUSY, slow_policy block. */
static int
setup_block(void **state, bool use_io_uring)
{
    struct fixture *fx = fixture_new(use_io_uring, false);
    fx->a = open_stream(fx, "a", &fx->peer_a);
    for (int i = 0; i < N_BUSY; i++)
        fx->b[i] = open_stream(fx, "b", &fx->peer_b[i]);
    *state = fx;
    return 0;
}

/* Topic w with N_WIDE streams. */
static int
setup_wide(void **state, bool use_io_uring)
{
    struct fixture *fx = fixture_new(use_io_uring, false);
    fx->w[0] = open_stream(fx, "w", &fx->peer_w[0]);
    fx->fd_w0 = fx->last_fd;
    for (int i = 1; i < N_WIDE; i++)
        fx->w[i] = open_stream(fx, "w", &fx->peer_w[i]);
    *state = fx;
    return 0;
}

static int
setup_block_uring(void **state)
{
    return setup_block(state, true);
}

static int
setup_block_sendmsg(void **state)
{
    return setup_block(state, false);
}

static int
setup_wide_uring(void **state)
{
    return setup_wide(state, true);
}

static int
setup_wide_sendmsg(void **state)
{
    return setup_wide(state, false);
}

/* No stream yet; topics are reclaimed (a domain with no thread registered: the test
 * thread is the housekeeping thread). */
static int
setup_reclaim(void **state, bool use_io_uring)
{
    *state = fixture_new(use_io_uring, true);
    return 0;
}

static int
setup_reclaim_uring(void **state)
{
    return setup_reclaim(state, true);
}

static int
setup_reclaim_sendmsg(void **state)
{
    return setup_reclaim(state, false);
}

static void
close_stream(struct rp_stream *s, int peer)
{
    if (s) {
        rp_stream_free(s);
        close(peer);
    }
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    close_stream(fx->a, fx->peer_a);
    for (int i = 0; i < N_BUSY; i++)
        close_stream(fx->b[i], fx->peer_b[i]);
    for (int i = 0; i < N_WIDE; i++)
        close_stream(fx->w[i], fx->peer_w[i]);
    rp_fanout_free(fx->fanout);
    rp_loop_free(fx->loop);
    rp_hub_free(fx->hub);
    rp_qsbr_free(fx->q);
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

/* Checks that <got> is exactly the frames of events e000 .. e<n-1> of topic w, in order,
 * each with <pad> bytes of padding after its name. */
static void
assert_events(const char *got, int n, size_t pad)
{
    const char *p = got;
    for (int i = 0; i < n; i++) {
        const char *id = strstr(p, "id: ");
        assert_non_null(id);
        const char *data = strstr(id, "\ndata: ");
        assert_non_null(data);
        char want[16];
        snprintf(want, sizeof(want), "e%03d", i);
        if (strncmp(data + 7, want, 4) != 0)
            fail_msg("event %d: got \"%.12s\"", i, data + 7);
        for (size_t k = 0; k < pad; k++)
            assert_int_equal(data[11 + k], 'x');
        assert_memory_equal(data + 11 + pad, "\n\n", 2);
        p = data + 13 + pad;
    }
    assert_null(strstr(p, "data: ")); /* nothing twice */
}

static void
publish_events(struct fixture *fx, int n, size_t pad)
{
    char data[1024];
    assert_true(pad + 5 <= sizeof(data));
    for (int i = 0; i < n; i++) {
        snprintf(data, sizeof(data), "e%03d", i);
        memset(data + 4, 'x', pad);
        data[4 + pad] = '\0';
        assert_int_equal(publish(fx, "w", data), 0);
    }
}

static void
test_batches_deliver_every_event_once_in_order(void **state)
{
    struct fixture *fx = *state;
    /* N_WIDE streams are more than one batch; N_EVENTS frames are more than one read of
     * the log, so each stream needs several writes and goes back to the queue between. */
    publish_events(fx, N_EVENTS, 0);
    take_notes(fx);
    while (rp_fanout_run(fx->fanout, 16))
        ;
    for (int i = 0; i < N_WIDE; i++)
        assert_events(drain(fx->peer_w[i]), N_EVENTS, 0);
    assert_int_equal(fx->stalls, 0);
    assert_int_equal(fx->closes, 0);
}

static void
test_full_socket_keeps_the_rest_and_resumes(void **state)
{
    struct fixture *fx = *state;
    /* A small send buffer: the first write takes part of the 100 frames of ~550 bytes,
     * ending inside one of them. */
    int small = 4096;
    assert_int_equal(setsockopt(fx->fd_w0, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    enum { PAD = 500, N = 100 };
    publish_events(fx, N, PAD);
    take_notes(fx);
    while (rp_fanout_run(fx->fanout, 16))
        ;
    assert_int_equal(fx->stalls, 1); /* only w[0] filled up */
    /* The reader catches up bit by bit; each time the worker would see the socket
     * writable and flush. */
    static char got[N * (PAD + 64)];
    size_t len = 0;
    for (int round = 0; round < 10000; round++) {
        ssize_t r = read(fx->peer_w[0], got + len, sizeof(got) - 1 - len);
        if (r > 0)
            len += (size_t)r;
        int err = rp_stream_flush(fx->w[0]);
        assert_true(err == 0 || err == -EAGAIN);
        if (err == 0 && r <= 0)
            break;
    }
    got[len] = '\0';
    assert_events(got, N, PAD);
    for (int i = 1; i < N_WIDE; i++)
        assert_events(drain(fx->peer_w[i]), N, PAD);
    assert_int_equal(fx->closes, 0);
}

static void
test_a_new_topic_reaches_a_pattern_stream_once(void **state)
{
    struct fixture *fx = *state;
    /* The pattern stream is opened after the N_WIDE streams of w, so it is queued behind
     * them: the batch that takes topic p/new (and queues it) has planned others first. */
    int peer;
    struct rp_stream *ps = open_stream(fx, "p/#", &peer);
    publish_events(fx, 3, 0);
    assert_int_equal(publish(fx, "p/new", "first of p/new"), 0);
    take_notes(fx);
    while (rp_fanout_run(fx->fanout, 16))
        ;
    const char *got = drain(peer);
    const char *at = strstr(got, "data: first of p/new\n");
    assert_non_null(at);
    assert_null(strstr(at + 1, "data: first of p/new\n")); /* once */
    for (int i = 0; i < N_WIDE; i++)
        assert_events(drain(fx->peer_w[i]), 3, 0);
    rp_stream_free(ps);
    close(peer);
}

/* Expires the gone... topics as if 10 s had passed, then reclaims and frees. Returns how
 * many topics were reclaimed. */
static size_t
expire_and_reclaim(struct fixture *fx)
{
    rp_hub_expire(fx->hub, rp_clock_now_ms() + 10000);
    size_t n = rp_hub_reclaim(fx->hub);
    rp_qsbr_reclaim(fx->q);
    return n;
}

static uint64_t
publish_seq(struct fixture *fx, const char *topic, const char *data)
{
    struct rp_publish_item it = {
        .topic = topic, .topic_len = strlen(topic), .data = data, .data_len = strlen(data)};
    struct rp_publish_result res;
    struct rp_hub_error err;
    assert_int_equal(rp_hub_publish(fx->hub, &it, 1, &res, &err), 0);
    return res.seq;
}

static void
run_all(struct fixture *fx)
{
    take_notes(fx);
    while (rp_fanout_run(fx->fanout, 16))
        ;
}

static void
test_resume_into_a_topic_made_again_announces_the_gap(void **state)
{
    struct fixture *fx = *state;
    uint64_t s1 = publish_seq(fx, "gone", "g1");
    uint64_t s2 = publish_seq(fx, "gone", "g2");
    assert_int_equal(expire_and_reclaim(fx), 1);
    assert_null(rp_hub_find(fx->hub, "gone", 4));
    char id1[RP_EVENT_ID_MAX + 1], id2[RP_EVENT_ID_MAX + 1];
    rp_hub_format_id(fx->hub, s1, id1);
    rp_hub_format_id(fx->hub, s2, id2);

    /* The client had g1 only: g2 is gone with the old topic, which the stream says. */
    int p1, p2, p3;
    struct rp_stream *r1 = open_stream_from(fx, "gone", id1, &p1);
    const char *got = drain(p1);
    assert_non_null(strstr(got, "event: resync\n"));
    assert_non_null(strstr(got, "\"reason\":\"expired\""));
    assert_non_null(strstr(got, "\"topic\":\"gone\""));
    /* The client had everything, or starts live: nothing to announce. */
    struct rp_stream *r2 = open_stream_from(fx, "gone", id2, &p2);
    assert_null(strstr(drain(p2), "event: resync"));
    struct rp_stream *r3 = open_stream(fx, "gone", &p3);
    assert_null(strstr(drain(p3), "event: resync"));

    /* Ids go on; all three get the next event, and the gap is announced once. */
    uint64_t s3 = publish_seq(fx, "gone", "g3");
    assert_true(s3 > s2);
    run_all(fx);
    got = drain(p1);
    assert_non_null(strstr(got, "data: g3\n"));
    assert_null(strstr(got, "event: resync"));
    assert_non_null(strstr(drain(p2), "data: g3\n"));
    assert_non_null(strstr(drain(p3), "data: g3\n"));
    close_stream(r1, p1);
    close_stream(r2, p2);
    close_stream(r3, p3);
}

static void
test_pattern_resume_into_a_topic_made_again_announces_the_gap(void **state)
{
    struct fixture *fx = *state;
    uint64_t s1 = publish_seq(fx, "gone/x", "x1");
    publish_seq(fx, "gone/x", "x2");
    assert_int_equal(expire_and_reclaim(fx), 1);
    char before[RP_EVENT_ID_MAX + 1]; /* the client had x1, not x2 */
    rp_hub_format_id(fx->hub, s1, before);
    /* Both open while gone/x does not exist; it is made again by the next publish and
     * reaches them through a topic_created note. */
    int pr, pl;
    struct rp_stream *resumed = open_stream_from(fx, "gone/#", before, &pr);
    struct rp_stream *live = open_stream(fx, "gone/#", &pl);
    drain(pr);
    drain(pl);
    publish_seq(fx, "gone/x", "again");
    run_all(fx);
    const char *got = drain(pr);
    const char *resync = strstr(got, "event: resync\n");
    assert_non_null(resync);
    assert_non_null(strstr(got, "\"reason\":\"expired\""));
    const char *again = strstr(got, "data: again\n");
    assert_non_null(again);
    assert_true(resync < again);
    got = drain(pl);
    assert_null(strstr(got, "event: resync"));
    assert_non_null(strstr(got, "data: again\n"));
    close_stream(resumed, pr);
    close_stream(live, pl);
}

static void
test_created_notes_hold_their_topic(void **state)
{
    struct fixture *fx = *state;
    int peer;
    struct rp_stream *ps = open_stream(fx, "h/#", &peer);
    const char *why = NULL;
    assert_non_null(rp_hub_topic(fx->hub, "h/y", 3, &why)); /* empty; a note is queued */
    assert_int_equal(expire_and_reclaim(fx), 0);            /* the note holds it */
    take_notes(fx);                                         /* linked: attached now */
    assert_int_equal(expire_and_reclaim(fx), 0);
    close_stream(ps, peer);
    assert_int_equal(expire_and_reclaim(fx), 1);
    assert_null(rp_hub_find(fx->hub, "h/y", 3));

    /* A note nobody takes up any more is let go when it is taken. */
    ps = open_stream(fx, "h/#", &peer);
    assert_non_null(rp_hub_topic(fx->hub, "h/z", 3, &why));
    close_stream(ps, peer);
    assert_int_equal(expire_and_reclaim(fx), 0);
    take_notes(fx);
    assert_int_equal(expire_and_reclaim(fx), 1);
}

static void
test_a_due_report_does_not_outlive_its_topic(void **state)
{
    struct fixture *fx = *state;
    /* slow_policy block: each note queues a report, due once the streams queued before
     * it are written. gone/a's is due after the 20 streams of b. */
    for (int i = 0; i < N_BUSY; i++)
        fx->b[i] = open_stream(fx, "b", &fx->peer_b[i]);
    int peer;
    struct rp_stream *a = open_stream(fx, "gone/a", &peer);
    assert_int_equal(publish(fx, "b", "b1"), 0);
    assert_int_equal(publish(fx, "gone/a", "a1"), 0);
    take_notes(fx);
    /* Its stream leaves and the topic goes before the report is due. */
    close_stream(a, peer);
    assert_int_equal(expire_and_reclaim(fx), 1);
    while (rp_fanout_run(fx->fanout, 4))
        ;
    for (int i = 0; i < N_BUSY; i++)
        assert_non_null(strstr(drain(fx->peer_b[i]), "data: b1\n"));
}

static void
test_a_frame_that_ends_the_stream_is_its_last(void **state)
{
    struct fixture *fx = *state;
    fx->closes_expected = true;
    publish_events(fx, 3, 0);
    struct rp_publish_item it = {.topic = "w",
                                 .topic_len = 1,
                                 .event = "upstream-failed",
                                 .event_len = 15,
                                 .data = "gone",
                                 .data_len = 4,
                                 .ends_stream = true};
    struct rp_publish_result res;
    struct rp_hub_error err;
    assert_int_equal(rp_hub_publish(fx->hub, &it, 1, &res, &err), 0);
    assert_int_equal(publish(fx, "w", "after"), 0);
    take_notes(fx);
    while (rp_fanout_run(fx->fanout, 16))
        ;
    /* Every stream wrote the three events and the ending one, nothing after, and closed. */
    for (int i = 0; i < N_WIDE; i++) {
        const char *got = drain(fx->peer_w[i]);
        const char *end = strstr(got, "event: upstream-failed\n");
        assert_non_null(end);
        assert_non_null(strstr(end, "data: gone\n\n"));
        assert_null(strstr(got, "data: after"));
        assert_non_null(strstr(got, "data: e002\n"));
    }
    assert_int_equal(fx->closes, N_WIDE);
}

#define BOTH(test, setup)                                                                          \
    cmocka_unit_test_setup_teardown(test, setup##_uring, teardown),                                \
        cmocka_unit_test_setup_teardown(test, setup##_sendmsg, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_report_before_the_queue_empties, setup_block),
        BOTH(test_note_for_caught_up_streams_queues_none, setup_block),
        BOTH(test_batches_deliver_every_event_once_in_order, setup_wide),
        BOTH(test_full_socket_keeps_the_rest_and_resumes, setup_wide),
        BOTH(test_a_new_topic_reaches_a_pattern_stream_once, setup_wide),
        BOTH(test_a_frame_that_ends_the_stream_is_its_last, setup_wide),
        BOTH(test_resume_into_a_topic_made_again_announces_the_gap, setup_reclaim),
        BOTH(test_pattern_resume_into_a_topic_made_again_announces_the_gap, setup_reclaim),
        BOTH(test_created_notes_hold_their_topic, setup_reclaim),
        BOTH(test_a_due_report_does_not_outlive_its_topic, setup_reclaim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
