/* SPDX-License-Identifier: MIT */
/*
 * The upgrade's wire format, round trip over a real SOCK_SEQPACKET pair: the logs, the
 * listeners and both kinds of connection arrive as they left (sockets as live descriptors),
 * and a state written by the previous version (streams only) is still read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/qsbr.h"
#include "core/hub.h"
#include "server/handover_wire.h"

static void
policy_for(void *ctx, const char *name, size_t len, struct rp_topic_policy *out)
{
    (void)ctx;
    memset(out, 0, sizeof(*out));
    out->history = (struct rp_eventlog_limits){
        .max_count = len == 5 && memcmp(name, "small", 5) == 0 ? 2 : 100,
        .max_bytes = 1 << 20,
        .max_age_ms = 3600000};
    out->lag_events = 50;
    out->lag_bytes = 1 << 19;
}

static struct rp_qsbr *qsbr; /* with a domain, a hub keeps gap floors */

static struct rp_hub *
hub_new(uint32_t epoch)
{
    if (!qsbr)
        qsbr = rp_qsbr_new(1);
    struct rp_hub_config cfg = {.max_topics = 100, .max_data = 4096, .epoch = epoch, .qsbr = qsbr};
    struct rp_hub_hooks hooks = {.policy_for = policy_for};
    return rp_hub_new(&cfg, &hooks);
}

static void
publish(struct rp_hub *hub, const char *topic, const char *event, const char *data)
{
    struct rp_publish_item it = {.topic = topic,
                                 .topic_len = strlen(topic),
                                 .event = event,
                                 .event_len = event ? strlen(event) : 0,
                                 .data = data,
                                 .data_len = strlen(data)};
    struct rp_publish_result res;
    struct rp_hub_error err;
    assert_int_equal(rp_hub_publish(hub, &it, 1, &res, &err), 0);
}

/* A connected socket pair: [0] travels, [1] stays to prove the descriptor is the same. */
static void
pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static void
test_round_trip(void **state)
{
    (void)state;
    struct rp_hub *hub = hub_new(0x5f3a9c21);
    publish(hub, "news", NULL, "hello");
    publish(hub, "news", "update", "line one\nline two");
    publish(hub, "sport/uk", NULL, "goal");
    /* What is no longer kept travels too: "small" keeps 2 events of 3, and a reclaimed
     * topic's gap floor. */
    publish(hub, "small", NULL, "s1");
    publish(hub, "small", NULL, "s2");
    publish(hub, "small", NULL, "s3");
    rp_hub_forget(hub, "gone", 4, 2);
    int lsv[2], ssv[2], hsv[2];
    pair(lsv);
    pair(ssv);
    pair(hsv);
    char *filters[] = {"news", "sport/+"};
    struct rp_stream_cursor cursors[] = {{"news", 2, 0, 0}, {"sport/uk", 1, 7, 9}};
    struct rp_conn_export conns[2] = {
        {.fd = ssv[0],
         .kind = RP_CONN_STREAM,
         .st = {.filters = filters,
                .n_filters = 2,
                .last_seq = 2,
                .tagged = true,
                .pending = "retry: 1000\n\n",
                .pending_len = 13,
                .cursors = cursors,
                .n_cursors = 2}},
        {.fd = hsv[0],
         .kind = RP_CONN_HTTP,
         .in = "POST /publish/news HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
         .in_len = 52,
         .out = "HTTP/1.1 200 OK\r\n",
         .out_len = 17,
         .close_after_write = true},
    };
    conns[1].client_key.b[15] = 7;
    int sock[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sock), 0);
    struct rp_diag diag = {{0}};
    assert_int_equal(rp_handover_send(sock[0], hub, lsv, 1, conns, 2, &diag), 0);
    struct rp_handover_state st;
    assert_int_equal(rp_handover_receive(sock[1], &st, &diag), 0);

    assert_int_equal(st.epoch, 0x5f3a9c21);
    assert_int_equal(st.last_seq, 6);
    assert_int_equal(st.n_events, 5);
    assert_int_equal(st.n_gaps, 1);
    assert_int_equal(st.gaps[0].seq, 4);
    assert_int_equal(st.n_floors, 1);
    assert_int_equal(st.floors[0].seq, 2);
    assert_memory_equal(st.events[1].topic, "news", 4);
    assert_int_equal(st.events[1].seq, 2);
    assert_memory_equal(st.events[1].event, "update", 6);
    assert_memory_equal(st.events[1].data, "line one\nline two", 17);
    assert_null(st.events[0].event);
    assert_int_equal(st.n_listeners, 1);
    assert_int_equal(st.n_conns, 2);
    const struct rp_conn_export *s = &st.conns[0], *h = &st.conns[1];
    assert_int_equal(s->kind, RP_CONN_STREAM);
    assert_int_equal(s->st.n_filters, 2);
    assert_string_equal(s->st.filters[1], "sport/+");
    assert_int_equal(s->st.last_seq, 2);
    assert_true(s->st.tagged);
    assert_int_equal(s->st.pending_len, 13);
    /* Each topic's own place travels: a lagging topic is not skipped to the highest. */
    assert_int_equal(s->st.n_cursors, 2);
    assert_string_equal(s->st.cursors[1].topic, "sport/uk");
    assert_int_equal(s->st.cursors[1].cursor, 1);
    assert_int_equal(s->st.cursors[1].skip_from, 7);
    assert_int_equal(s->st.cursors[1].skip_to, 9);
    assert_int_equal(h->kind, RP_CONN_HTTP);
    assert_int_equal(h->in_len, 52);
    assert_memory_equal(h->in, conns[1].in, 52);
    assert_int_equal(h->out_len, 17);
    assert_true(h->close_after_write);
    assert_int_equal(h->client_key.b[15], 7);
    /* The descriptors are the same sockets: what goes in one end comes out of the pair. */
    assert_int_equal(write(h->fd, "x", 1), 1);
    char c = 0;
    assert_int_equal(read(hsv[1], &c, 1), 1);
    assert_int_equal(c, 'x');

    /* The events restore into a new hub with the same ids. */
    struct rp_hub *next = hub_new(st.epoch);
    assert_int_equal(rp_handover_restore_hub(&st, next, 4096, NULL), 0);
    assert_int_equal(rp_hub_last_seq(next), 6);
    struct rp_topic *t = rp_hub_find(next, "news", 4);
    assert_non_null(t);
    assert_int_equal(rp_topic_last_seq(t), 2);
    struct rp_topic_stats ts;
    rp_topic_stats(rp_hub_find(next, "small", 5), &ts);
    assert_int_equal(ts.evicted_seq, 4); /* a resume from s1 is still told of the gap */
    publish(next, "gone", NULL, "again");
    rp_topic_stats(rp_hub_find(next, "gone", 4), &ts);
    assert_int_equal(ts.evicted_seq, 2); /* the reclaimed topic's floor came along */

    rp_handover_state_fini(&st);
    rp_hub_free(next);
    rp_hub_free(hub);
    for (int i = 0; i < 2; i++) {
        close(lsv[i]);
        close(ssv[i]);
        close(hsv[i]);
        close(sock[i]);
    }
}

static void
test_reads_the_previous_version(void **state)
{
    (void)state;
    /* Version 1: no kind or client per connection, streams only. */
    static const char v1[] = "RPUPGRADE1\n"
                             "\x01\x00\x00\x00"                 /* epoch */
                             "\x00\x00\x00\x00\x00\x00\x00\x00" /* last_seq */
                             "\x00\x00\x00\x00\x00\x00\x00\x00" /* listeners */
                             "\x00\x00\x00\x00\x00\x00\x00\x00" /* events */
                             "\x01\x00\x00\x00\x00\x00\x00\x00" /* streams */
                             "\x09\x00\x00\x00\x00\x00\x00\x00" /* last_seq */
                             "\x00\x00\x00\x00"                 /* tagged */
                             "\x01\x00\x00\x00"                 /* filters */
                             "\x01\x00\x00\x00"
                             "a"
                             "\x00\x00\x00\x00"; /* pending */
    struct rp_handover_state st = {0};
    st.buf_len = sizeof(v1) - 1;
    st.buf = malloc(st.buf_len);
    memcpy(st.buf, v1, st.buf_len);
    struct rp_diag diag = {{0}};
    assert_int_equal(rp_handover_parse(&st, &diag), 0);
    assert_int_equal(st.n_conns, 1);
    assert_int_equal(st.conns[0].kind, RP_CONN_STREAM);
    assert_int_equal(st.conns[0].st.last_seq, 9);
    assert_string_equal(st.conns[0].st.filters[0], "a");
    rp_handover_state_fini(&st);
}

/* Publishes <data> as <n> copies of <c>; returns its sequence. */
static uint64_t
publish_sized(struct rp_hub *hub, const char *topic, char c, size_t n)
{
    char *data = malloc(n + 1);
    memset(data, c, n);
    data[n] = '\0';
    publish(hub, topic, NULL, data);
    free(data);
    return rp_hub_last_seq(hub);
}

static void
test_restore_fits_lowered_limits(void **state)
{
    (void)state;
    /* The successor's max_data is 1024 (the old one's 4096) and its max_topics 2. */
    struct rp_hub *hub = hub_new(0x11);
    uint64_t a1 = publish_sized(hub, "a", 'x', 10);
    uint64_t big_a = publish_sized(hub, "a", 'y', 3000);
    uint64_t a3 = publish_sized(hub, "a", 'z', 10);
    uint64_t b1 = publish_sized(hub, "b", 'x', 10);
    uint64_t big_c = publish_sized(hub, "c", 'y', 2000);
    publish_sized(hub, "d", 'x', 10);
    int sock[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sock), 0);
    struct rp_diag diag = {{0}};
    assert_int_equal(rp_handover_send(sock[0], hub, NULL, 0, NULL, 0, &diag), 0);
    struct rp_handover_state st;
    assert_int_equal(rp_handover_receive(sock[1], &st, &diag), 0);

    /* Adopted without a cap on topics, then given the configured one. */
    struct rp_hub_config cfg = {
        .max_topics = UINT64_MAX, .max_data = 1024, .epoch = st.epoch, .qsbr = qsbr};
    struct rp_hub_hooks hooks = {.policy_for = policy_for};
    struct rp_hub *next = rp_hub_new(&cfg, &hooks);
    struct rp_handover_trim trim;
    assert_int_equal(rp_handover_restore_hub(&st, next, 1024, &trim), 0);
    rp_hub_set_max_topics(next, 2);
    assert_int_equal(trim.events, 3); /* a1, the big one of a, and c's */
    assert_int_equal(trim.topics, 2);
    assert_int_equal(rp_hub_last_seq(next), rp_hub_last_seq(hub));

    /* "a" starts after its big event, recorded as evicted: a resume from a1 is told. */
    struct rp_topic_stats ts;
    rp_topic_stats(rp_hub_find(next, "a", 1), &ts);
    assert_int_equal(ts.count, 1);
    assert_int_equal(ts.first_seq, a3);
    assert_int_equal(ts.evicted_seq, big_a);
    assert_true(a1 < ts.evicted_seq);
    rp_topic_stats(rp_hub_find(next, "b", 1), &ts);
    assert_int_equal(ts.first_seq, b1);
    assert_int_equal(ts.evicted_seq, 0);

    /* Three topics over a cap of two: all kept, existing ones take events, new ones are
     * refused, "c" (nothing left of it) included, which starts after its big event. */
    assert_int_equal(rp_hub_topic_count(next), 3);
    struct rp_publish_item it = {.topic = "b", .topic_len = 1, .data = "ok", .data_len = 2};
    struct rp_publish_result res;
    struct rp_hub_error err;
    assert_int_equal(rp_hub_publish(next, &it, 1, &res, &err), 0);
    it.topic = "new";
    it.topic_len = 3;
    assert_int_equal(rp_hub_publish(next, &it, 1, &res, &err), -ENOSPC);
    assert_int_equal(err.status, 503);
    rp_hub_set_max_topics(next, 10);
    it.topic = "c";
    it.topic_len = 1;
    assert_int_equal(rp_hub_publish(next, &it, 1, &res, &err), 0);
    rp_topic_stats(rp_hub_find(next, "c", 1), &ts);
    assert_int_equal(ts.evicted_seq, big_c);

    rp_handover_state_fini(&st);
    rp_hub_free(next);
    rp_hub_free(hub);
    close(sock[0]);
    close(sock[1]);
}

static void
test_refuses_truncated_and_foreign_states(void **state)
{
    (void)state;
    const char *bad[] = {"RPUPGRADE2\n\x01", "HTTP/1.1 200", ""};
    for (size_t i = 0; i < 3; i++) {
        struct rp_handover_state st = {0};
        st.buf_len = strlen(bad[i]);
        st.buf = malloc(st.buf_len + 1);
        memcpy(st.buf, bad[i], st.buf_len);
        struct rp_diag diag = {{0}};
        assert_int_equal(rp_handover_parse(&st, &diag), -EPROTO);
        assert_true(diag.msg[0] != '\0');
        rp_handover_state_fini(&st);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_reads_the_previous_version),
        cmocka_unit_test(test_restore_fits_lowered_limits),
        cmocka_unit_test(test_refuses_truncated_and_foreign_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
