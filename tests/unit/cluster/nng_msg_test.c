/* SPDX-License-Identifier: MIT */
/* The NNG mesh's messages: each kind round-trips, and anything off the format is refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "cluster/nng_msg.h"

static struct rp_buf b;

static int
setup(void **state)
{
    (void)state;
    rp_buf_init(&b, 1 << 20);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    rp_buf_fini(&b);
    return 0;
}

/* Every proper prefix of the message in <b>, and it with a byte more, is refused. */
static void
refuses_cut_and_padded(void)
{
    struct rp_nng_msg m;
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(rp_nng_msg_decode(b.data, n, &m), -EINVAL);
    assert_int_equal(rp_buf_append(&b, "", 1), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), -EINVAL);
    b.len--;
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), 0);
}

static void
hello_and_heartbeat(void **state)
{
    (void)state;
    struct rp_nng_msg m;
    b.len = 0;
    assert_int_equal(rp_nng_msg_hello(&b, 0x5f3a9c21, 1042, "node-a", 6), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, RP_NNG_HELLO);
    assert_int_equal(m.epoch, 0x5f3a9c21);
    assert_int_equal(m.last_seq, 1042);
    assert_int_equal(m.name_len, 6);
    assert_memory_equal(m.name, "node-a", 6);
    refuses_cut_and_padded();

    b.len = 0;
    assert_int_equal(rp_nng_msg_heartbeat(&b, 7, 99, 98), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, RP_NNG_HEARTBEAT);
    assert_int_equal(m.last_seq, 99);
    assert_int_equal(m.chain, 98);
    refuses_cut_and_padded();
    /* The chain cannot be ahead of the newest sequence. */
    b.data[b.len - 1] = 100;
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), -EINVAL);
    assert_int_equal(rp_nng_msg_heartbeat(&b, 7, 99, 100), -EINVAL);
}

static void
interest(void **state)
{
    (void)state;
    struct rp_nng_msg m;
    const char *names[] = {"chat/room1", "news/+/eu"};
    size_t lens[] = {10, 9};
    b.len = 0;
    assert_int_equal(rp_nng_msg_interest(&b, 1, true, names, lens, 2), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, RP_NNG_INTEREST_ADD);
    assert_int_equal(m.count, 2);
    const char *n;
    size_t len;
    assert_true(rp_nng_msg_next_name(&m, &n, &len));
    assert_int_equal(len, 10);
    assert_memory_equal(n, "chat/room1", 10);
    assert_true(rp_nng_msg_next_name(&m, &n, &len));
    assert_memory_equal(n, "news/+/eu", 9);
    assert_false(rp_nng_msg_next_name(&m, &n, &len));
    refuses_cut_and_padded();

    b.len = 0;
    assert_int_equal(rp_nng_msg_interest(&b, 1, false, names, lens, 1), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, RP_NNG_INTEREST_REMOVE);
    /* No entries, an empty name, a name too long: refused by both sides. */
    b.len = 0;
    assert_int_equal(rp_nng_msg_interest(&b, 1, true, names, lens, 0), -EINVAL);
    size_t empty = 0, big = 256;
    assert_int_equal(rp_nng_msg_interest(&b, 1, true, names, &empty, 1), -EINVAL);
    b.len = 0;
    assert_int_equal(rp_nng_msg_interest(&b, 1, true, names, &big, 1), -EINVAL);
    const uint8_t zero[] = {1, RP_NNG_INTEREST_ADD, 0, 0, 0, 1, 0, 0};
    assert_int_equal(rp_nng_msg_decode(zero, sizeof(zero), &m), -EINVAL);
    const uint8_t noname[] = {1, RP_NNG_INTEREST_ADD, 0, 0, 0, 1, 0, 1, 0, 0};
    assert_int_equal(rp_nng_msg_decode(noname, sizeof(noname), &m), -EINVAL);
}

static void
bloom(void **state)
{
    (void)state;
    struct rp_nng_msg m;
    uint8_t bits[16];
    for (size_t i = 0; i < sizeof(bits); i++)
        bits[i] = (uint8_t)(i * 37);
    b.len = 0;
    assert_int_equal(rp_nng_msg_bloom(&b, 3, 12, 7, 128, bits), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, RP_NNG_BLOOM);
    assert_int_equal(m.generation, 12);
    assert_int_equal(m.hashes, 7);
    assert_int_equal(m.bits, 128);
    assert_memory_equal(m.bitmap, bits, 16);
    refuses_cut_and_padded();
    assert_int_equal(rp_nng_msg_bloom(&b, 3, 12, 0, 128, bits), -EINVAL);
    assert_int_equal(rp_nng_msg_bloom(&b, 3, 12, 33, 128, bits), -EINVAL);
    assert_int_equal(rp_nng_msg_bloom(&b, 3, 12, 7, 12, bits), -EINVAL);
    /* hashes 0 on the wire */
    b.len = 0;
    assert_int_equal(rp_nng_msg_bloom(&b, 3, 12, 7, 128, bits), 0);
    b.data[14] = 0;
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), -EINVAL);
}

static struct rp_nng_event
event(uint64_t seq, uint64_t prev, const char *topic, const char *type, const char *data)
{
    return (struct rp_nng_event){
        .seq = seq,
        .prev = prev,
        .wall_ms = 1733300000000,
        .topic = topic,
        .topic_len = strlen(topic),
        .type = type,
        .type_len = type ? strlen(type) : 0,
        .data = data,
        .data_len = strlen(data),
    };
}

static void
events(void **state)
{
    (void)state;
    struct rp_nng_msg m;
    struct rp_nng_event in[] = {event(10, 4, "chat/a", "update", "hello\nworld"),
                                event(12, 10, "chat/b", NULL, "")};
    b.len = 0;
    assert_int_equal(rp_nng_msg_events(&b, 0xabcdef01, 0), 0);
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(rp_nng_msg_event(&b, &in[i]), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), -EINVAL); /* count still 0 */
    rp_nng_msg_set_count(&b, 2);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, RP_NNG_EVENTS);
    assert_int_equal(m.epoch, 0xabcdef01);
    struct rp_nng_event ev;
    assert_true(rp_nng_msg_next_event(&m, &ev));
    assert_int_equal(ev.seq, 10);
    assert_int_equal(ev.prev, 4);
    assert_int_equal(ev.wall_ms, 1733300000000);
    assert_memory_equal(ev.topic, "chat/a", 6);
    assert_memory_equal(ev.type, "update", 6);
    assert_int_equal(ev.data_len, 11);
    assert_true(rp_nng_msg_next_event(&m, &ev));
    assert_int_equal(ev.seq, 12);
    assert_null(ev.type);
    assert_int_equal(ev.data_len, 0);
    assert_false(rp_nng_msg_next_event(&m, &ev));
    refuses_cut_and_padded();

    /* Sequences must rise within a message; prev is below seq. */
    struct rp_nng_event bad[] = {event(12, 4, "t", NULL, "x"), event(12, 10, "t", NULL, "y")};
    b.len = 0;
    assert_int_equal(rp_nng_msg_events(&b, 1, 2), 0);
    assert_int_equal(rp_nng_msg_event(&b, &bad[0]), 0);
    assert_int_equal(rp_nng_msg_event(&b, &bad[1]), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), -EINVAL);
    struct rp_nng_event self = event(5, 5, "t", NULL, "");
    assert_int_equal(rp_nng_msg_event(&b, &self), -EINVAL);
    struct rp_nng_event notopic = event(5, 0, "", NULL, "");
    assert_int_equal(rp_nng_msg_event(&b, &notopic), -EINVAL);
    /* An event type as long as a publish allows (128 bytes) travels; one byte more not. */
    char longtype[130];
    memset(longtype, 'x', 128);
    longtype[128] = '\0';
    struct rp_nng_event typed = event(5, 0, "t", longtype, "");
    b.len = 0;
    assert_int_equal(rp_nng_msg_events(&b, 1, 1), 0);
    assert_int_equal(rp_nng_msg_event(&b, &typed), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), 0);
    struct rp_nng_event got;
    assert_true(rp_nng_msg_next_event(&m, &got));
    assert_int_equal(got.type_len, 128);
    longtype[128] = 'x';
    longtype[129] = '\0';
    typed = event(5, 0, "t", longtype, "");
    assert_int_equal(rp_nng_msg_event(&b, &typed), -EINVAL);
}

static void
update_flag_and_publisher_id(void **state)
{
    (void)state;
    struct rp_nng_msg m;
    /* The second topic of an update, with a supplied id: both travel. */
    struct rp_nng_event in = event(8, 7, "b", NULL, "x");
    in.same_update = true;
    in.pub_id = "\x1furn:uuid:1";
    in.pub_id_len = 11;
    b.len = 0;
    assert_int_equal(rp_nng_msg_events(&b, 1, 1), 0);
    assert_int_equal(rp_nng_msg_event(&b, &in), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), 0);
    struct rp_nng_event got;
    assert_true(rp_nng_msg_next_event(&m, &got));
    assert_true(got.same_update);
    assert_int_equal(got.pub_id_len, 11);
    assert_memory_equal(got.pub_id, "\x1furn:uuid:1", 11);
    refuses_cut_and_padded();
    /* A flag not defined is refused; so is a publisher id over 129 bytes. */
    size_t flags_at = 6 + 2 + 24; /* header, count, seq prev wall */
    b.data[flags_at] = 2;
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), -EINVAL);
    char long_id[131];
    memset(long_id, 'i', 130);
    long_id[130] = '\0';
    in.pub_id = long_id;
    in.pub_id_len = 130;
    assert_int_equal(rp_nng_msg_event(&b, &in), -EINVAL);
}

static void
fills(void **state)
{
    (void)state;
    struct rp_nng_msg m;
    b.len = 0;
    assert_int_equal(rp_nng_msg_fill_request(&b, 9, 40, "news/a", 6), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, RP_NNG_FILL_REQUEST);
    assert_int_equal(m.after, 40);
    assert_int_equal(m.name_len, 6);
    assert_memory_equal(m.name, "news/a", 6);
    refuses_cut_and_padded();
    assert_int_equal(rp_nng_msg_fill_request(&b, 9, 40, "", 0), -EINVAL);

    /* An answer: the sender keeps its events after 60 only; 70 and 90 are of the topic. */
    struct rp_nng_event in[] = {event(70, 0, "news/a", NULL, "x"),
                                event(90, 70, "news/a", "t", "y")};
    b.len = 0;
    assert_int_equal(rp_nng_msg_fill_answer(&b, 9, 40, 60, "news/a", 6, 2), 0);
    assert_int_equal(rp_nng_msg_event(&b, &in[0]), 0);
    assert_int_equal(rp_nng_msg_event(&b, &in[1]), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, RP_NNG_FILL_ANSWER);
    assert_int_equal(m.after, 40);
    assert_int_equal(m.lost_upto, 60);
    assert_int_equal(m.count, 2);
    struct rp_nng_event got;
    assert_true(rp_nng_msg_next_event(&m, &got));
    assert_int_equal(got.seq, 70);
    assert_true(rp_nng_msg_next_event(&m, &got));
    assert_int_equal(got.seq, 90);
    assert_false(rp_nng_msg_next_event(&m, &got));
    refuses_cut_and_padded();

    /* Refused: an event of another topic, one not after lost_upto, lost_upto before after. */
    struct rp_nng_event other = event(70, 0, "news/b", NULL, "x");
    b.len = 0;
    assert_int_equal(rp_nng_msg_fill_answer(&b, 9, 40, 60, "news/a", 6, 1), 0);
    assert_int_equal(rp_nng_msg_event(&b, &other), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), -EINVAL);
    b.len = 0;
    assert_int_equal(rp_nng_msg_fill_answer(&b, 9, 40, 70, "news/a", 6, 1), 0);
    assert_int_equal(rp_nng_msg_event(&b, &in[0]), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), -EINVAL);
    assert_int_equal(rp_nng_msg_fill_answer(&b, 9, 40, 39, "news/a", 6, 0), -EINVAL);
    /* Nothing kept of the topic: an empty answer. */
    b.len = 0;
    assert_int_equal(rp_nng_msg_fill_answer(&b, 9, 0, 0, "news/a", 6, 0), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.count, 0);
}

static void
gaps(void **state)
{
    (void)state;
    struct rp_nng_msg m;
    b.len = 0;
    assert_int_equal(rp_nng_msg_gap_request(&b, 9, 100, 140), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, RP_NNG_GAP_REQUEST);
    assert_int_equal(m.after, 100);
    assert_int_equal(m.upto, 140);
    refuses_cut_and_padded();
    assert_int_equal(rp_nng_msg_gap_request(&b, 9, 140, 140), -EINVAL);

    /* An answer: 100..119 are gone, 125 and 140 are the events of the peer's topics. */
    struct rp_nng_event in[] = {event(125, 100, "a", NULL, "x"), event(140, 125, "a", NULL, "y")};
    b.len = 0;
    assert_int_equal(rp_nng_msg_gap_answer(&b, 9, 100, 140, 119, 2), 0);
    assert_int_equal(rp_nng_msg_event(&b, &in[0]), 0);
    assert_int_equal(rp_nng_msg_event(&b, &in[1]), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, RP_NNG_GAP_ANSWER);
    assert_int_equal(m.lost_upto, 119);
    assert_int_equal(m.count, 2);
    refuses_cut_and_padded();
    /* An event outside (lost_upto, upto] is refused. */
    b.len = 0;
    assert_int_equal(rp_nng_msg_gap_answer(&b, 9, 100, 139, 119, 2), 0);
    assert_int_equal(rp_nng_msg_event(&b, &in[0]), 0);
    assert_int_equal(rp_nng_msg_event(&b, &in[1]), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), -EINVAL);
    b.len = 0;
    assert_int_equal(rp_nng_msg_gap_answer(&b, 9, 100, 140, 130, 1), 0);
    assert_int_equal(rp_nng_msg_event(&b, &in[0]), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), -EINVAL);
    /* An empty answer is fine (nothing of the peer's topics in the range). */
    b.len = 0;
    assert_int_equal(rp_nng_msg_gap_answer(&b, 9, 100, 140, 100, 0), 0);
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(rp_nng_msg_gap_answer(&b, 9, 100, 140, 141, 0), -EINVAL);
}

static void
header(void **state)
{
    (void)state;
    struct rp_nng_msg m;
    b.len = 0;
    assert_int_equal(rp_nng_msg_heartbeat(&b, 7, 1, 0), 0);
    b.data[0] = 2; /* another version */
    assert_int_equal(rp_nng_msg_decode(b.data, b.len, &m), -EINVAL);
    b.data[0] = 1;
    for (int t = 0; t < 256; t++) {
        b.data[1] = (char)t;
        int rc = rp_nng_msg_decode(b.data, b.len, &m);
        /* a heartbeat's body fits only the heartbeat (and the equally long gap request,
         * where after 1 < upto 0 is refused) */
        assert_int_equal(rc, t == RP_NNG_HEARTBEAT ? 0 : -EINVAL);
    }
    assert_int_equal(rp_nng_msg_decode("", 0, &m), -EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hello_and_heartbeat),
        cmocka_unit_test(interest),
        cmocka_unit_test(bloom),
        cmocka_unit_test(events),
        cmocka_unit_test(gaps),
        cmocka_unit_test(fills),
        cmocka_unit_test(update_flag_and_publisher_id),
        cmocka_unit_test(header),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
