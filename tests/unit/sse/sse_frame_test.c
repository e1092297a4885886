/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of sse/sse_frame: exact bytes of the plain and tagged variants, line breaks
 * (CR, LF, CRLF) in data, empty data, event types, ids, and rp_frame_decode_data.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "sse/sse_frame.h"

static struct rp_frame *
encode(const char *topic, const char *event, const char *data, size_t data_len)
{
    struct rp_frame_spec spec = {
        .topic = topic,
        .topic_len = strlen(topic),
        .event = event,
        .event_len = event ? strlen(event) : 0,
        .data = data,
        .data_len = data_len,
    };
    return rp_frame_encode(&spec);
}

/* Joins the pieces rp_frame_iov gives for one variant. */
static size_t
variant(const struct rp_frame *f, bool tagged, char *out, size_t cap)
{
    struct iovec iov[2];
    int n = rp_frame_iov(f, tagged, iov);
    assert_true(n == 1 || n == 2);
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        assert_true(iov[i].iov_len > 0 && len + iov[i].iov_len < cap);
        memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    assert_int_equal(len, rp_frame_wire_len(f, tagged));
    out[len] = '\0';
    return len;
}

static void
assert_variant(const struct rp_frame *f, bool tagged, const char *want)
{
    char got[1024];
    size_t len = variant(f, tagged, got, sizeof(got));
    if (len != strlen(want) || memcmp(got, want, len) != 0)
        fail_msg("%s variant is \"%s\", expected \"%s\"", tagged ? "tagged" : "plain", got, want);
}

static void
assert_decoded(const struct rp_frame *f, const char *want, size_t want_len)
{
    struct rp_buf b;
    rp_buf_init(&b, 1 << 20);
    assert_int_equal(rp_frame_decode_data(f, &b), 0);
    assert_int_equal(b.len, want_len);
    if (want_len)
        assert_memory_equal(b.data, want, want_len);
    rp_buf_fini(&b);
}

/* Encodes <data>, sets id "e-1", and checks both variants and the decoded data. */
static void
check_data(const char *data, size_t data_len, const char *lines, const char *decoded)
{
    struct rp_frame *f = encode("t", NULL, data, data_len);
    rp_frame_set_id(f, "e-1", 3);
    char plain[512], tagged[512];
    size_t n = strlen(lines);
    assert_true(n + 32 < sizeof(plain));
    memcpy(plain, "id: e-1\n", 8);
    memcpy(plain + 8, lines, n);
    memcpy(plain + 8 + n, "\n", 2);
    memcpy(tagged, "event: t\n", 9);
    memcpy(tagged + 9, plain, 8 + n + 2);
    assert_variant(f, false, plain);
    assert_variant(f, true, tagged);
    assert_int_equal(rp_frame_size(f), strlen(tagged));
    assert_int_equal(f->data_len, data_len);
    assert_decoded(f, decoded, strlen(decoded));
    rp_frame_unref(f);
}

static void
test_untyped_event(void **state)
{
    struct rp_frame *f = encode("news", NULL, "hello", 5);
    rp_frame_set_id(f, "5f3a9c21-1", 10);
    assert_variant(f, false, "id: 5f3a9c21-1\ndata: hello\n\n");
    assert_variant(f, true, "event: news\nid: 5f3a9c21-1\ndata: hello\n\n");
    assert_int_equal(rp_frame_size(f), strlen("event: news\nid: 5f3a9c21-1\ndata: hello\n\n"));
    assert_int_equal(f->topic_len, 4);
    assert_memory_equal(rp_frame_topic(f), "news", 4);
    assert_int_equal(f->event_len, 0);
    assert_int_equal(f->pub_id_len, 0);
    rp_frame_unref(f);
}

static void
test_typed_event(void **state)
{
    struct rp_frame *f = encode("news/sport", "score", "1-0", 3);
    rp_frame_set_id(f, "00000001-77", 11);
    /* Plain keeps the event's own type; tagged prefixes it with the topic. */
    assert_variant(f, false, "event: score\nid: 00000001-77\ndata: 1-0\n\n");
    assert_variant(f, true, "event: news/sport:score\nid: 00000001-77\ndata: 1-0\n\n");
    assert_int_equal(rp_frame_size(f), rp_frame_wire_len(f, true));
    assert_int_equal(f->event_len, 5);
    assert_memory_equal(f->buf + f->event_off, "score", 5);
    assert_decoded(f, "1-0", 3);
    rp_frame_unref(f);
}

static void
test_empty_event_is_none(void **state)
{
    struct rp_frame *f = encode("t", "", "x", 1);
    rp_frame_set_id(f, "i", 1);
    assert_variant(f, true, "event: t\nid: i\ndata: x\n\n");
    rp_frame_unref(f);
}

static void
test_line_breaks(void **state)
{
    check_data("a\nb", 3, "data: a\ndata: b\n", "a\nb");
    check_data("a\r\nb", 4, "data: a\ndata: b\n", "a\nb");
    check_data("a\rb", 3, "data: a\ndata: b\n", "a\nb");
    check_data("a\n", 2, "data: a\ndata: \n", "a\n");
    check_data("\n", 1, "data: \ndata: \n", "\n");
    check_data("\r", 1, "data: \ndata: \n", "\n");
    check_data("\r\n", 2, "data: \ndata: \n", "\n");
    check_data("\n\r", 2, "data: \ndata: \ndata: \n", "\n\n"); /* LF then CR: two breaks */
    check_data("a\r\r\nb", 5, "data: a\ndata: \ndata: b\n", "a\n\nb");
    check_data("\r\n\r\n", 4, "data: \ndata: \ndata: \n", "\n\n");
    check_data("one\ntwo\r\nthree\rfour", 19, "data: one\ndata: two\ndata: three\ndata: four\n",
               "one\ntwo\nthree\nfour");
}

static void
test_empty_data(void **state)
{
    check_data("", 0, "data: \n", "");
    /* NULL data with length 0 is the same thing. */
    struct rp_frame *f = encode("t", NULL, NULL, 0);
    rp_frame_set_id(f, "1", 1);
    assert_variant(f, false, "id: 1\ndata: \n\n");
    rp_frame_unref(f);
}

static void
test_data_that_looks_like_fields(void **state)
{
    check_data("data: x\nid: 9\nevent: y", 22, "data: data: x\ndata: id: 9\ndata: event: y\n",
               "data: x\nid: 9\nevent: y");
    check_data(": comment", 9, "data: : comment\n", ": comment");
}

static void
test_utf8_and_nul_pass_through(void **state)
{
    static const char data[] = "caf\xc3\xa9\0z";
    struct rp_frame *f = encode("t", NULL, data, sizeof(data) - 1);
    rp_frame_set_id(f, "1", 1);
    assert_decoded(f, data, sizeof(data) - 1);
    rp_frame_unref(f);
}

static void
test_large_multiline_data(void **state)
{
    /* Many lines of every break kind: the size computed up front must match the bytes
     * written (the encoder asserts it), and decoding restores LF-joined lines. */
    char data[3000], want[3000];
    size_t n = 0, w = 0;
    static const char *const breaks[] = {"\n", "\r\n", "\r"};
    for (int i = 0; n < sizeof(data) - 16; i++) {
        const char *br = breaks[i % 3];
        data[n++] = (char)('a' + i % 26);
        want[w++] = (char)('a' + i % 26);
        memcpy(data + n, br, strlen(br));
        n += strlen(br);
        want[w++] = '\n';
    }
    struct rp_frame *f = encode("t", NULL, data, n);
    rp_frame_set_id(f, "1", 1);
    assert_decoded(f, want, w);
    rp_frame_unref(f);
}

static void
test_id_lengths(void **state)
{
    char id[RP_FRAME_ID_MAX + 1];
    memset(id, '7', sizeof(id));
    struct rp_frame *f = encode("topic", NULL, "d", 1);
    rp_frame_set_id(f, id, RP_FRAME_ID_MAX);
    char got[256];
    size_t len = variant(f, false, got, sizeof(got));
    assert_int_equal(len, 4 + RP_FRAME_ID_MAX + 1 + strlen("data: d\n\n"));
    assert_memory_equal(got, "id: 7777", 8);
    assert_memory_equal(got + 4 + RP_FRAME_ID_MAX, "\ndata: d\n\n", 11);
    len = variant(f, true, got, sizeof(got));
    assert_memory_equal(got, "event: topic\nid: 7777", 21);
    /* Setting the id again (a retried publish) replaces it, shorter or not. */
    rp_frame_set_id(f, "12", 2);
    assert_variant(f, false, "id: 12\ndata: d\n\n");
    rp_frame_unref(f);

    /* An empty id is still an id line: it resets the client's last event id. */
    f = encode("topic", "ev", "d", 1);
    rp_frame_set_id(f, "", 0);
    assert_variant(f, false, "event: ev\nid: \ndata: d\n\n");
    rp_frame_unref(f);
}

static void
test_pub_id_kept_not_sent(void **state)
{
    struct rp_frame_spec spec = {
        .topic = "t",
        .topic_len = 1,
        .data = "x",
        .data_len = 1,
        .pub_id = "order-42",
        .pub_id_len = 8,
    };
    struct rp_frame *f = rp_frame_encode(&spec);
    rp_frame_set_id(f, "1", 1);
    assert_int_equal(f->pub_id_len, 8);
    assert_memory_equal(f->buf + f->pub_id_off, "order-42", 8);
    assert_variant(f, true, "event: t\nid: 1\ndata: x\n\n");
    rp_frame_unref(f);
}

/* An upstream's id (marked) is sent as the origin-id line after the id; decoding the data is
 * not affected by it. */
static void
test_origin_id_line(void **state)
{
    (void)state;
    struct rp_frame_spec spec = {
        .topic = "t",
        .topic_len = 1,
        .event = "up",
        .event_len = 2,
        .data = "a\nb",
        .data_len = 3,
        .pub_id = "\x1e"
                  "abc-7",
        .pub_id_len = 6,
    };
    struct rp_frame *f = rp_frame_encode(&spec);
    rp_frame_set_id(f, "0000002a-9", 10);
    assert_variant(f, false, "event: up\nid: 0000002a-9\norigin-id: abc-7\ndata: a\ndata: b\n\n");
    assert_variant(f, true, "event: t:up\nid: 0000002a-9\norigin-id: abc-7\ndata: a\ndata: b\n\n");
    struct rp_buf b;
    rp_buf_init(&b, 64);
    assert_int_equal(rp_frame_decode_data(f, &b), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\nb", 3);
    rp_buf_fini(&b);
    rp_frame_unref(f);
    /* The mark alone, or an id with a line break, is no origin line. */
    spec.pub_id = "\x1e";
    spec.pub_id_len = 1;
    f = rp_frame_encode(&spec);
    rp_frame_set_id(f, "1", 1);
    assert_variant(f, false, "event: up\nid: 1\ndata: a\ndata: b\n\n");
    rp_frame_unref(f);
    spec.pub_id = "\x1e"
                  "a\nb";
    spec.pub_id_len = 4;
    f = rp_frame_encode(&spec);
    rp_frame_set_id(f, "1", 1);
    assert_variant(f, false, "event: up\nid: 1\ndata: a\ndata: b\n\n");
    rp_frame_unref(f);
}

static void
test_refcount(void **state)
{
    struct rp_frame *f = encode("t", NULL, "x", 1);
    rp_frame_set_id(f, "1", 1);
    assert_ptr_equal(rp_frame_ref(f), f);
    assert_int_equal(atomic_load(&f->refs), 2);
    rp_frame_unref(f);
    assert_int_equal(atomic_load(&f->refs), 1);
    assert_variant(f, false, "id: 1\ndata: x\n\n"); /* still alive */
    rp_frame_unref(f);                              /* freed: ASan checks the rest */
    rp_frame_unref(NULL);
}

static void
test_decode_respects_buffer_cap(void **state)
{
    struct rp_frame *f = encode("t", NULL, "abc\ndef", 7);
    rp_frame_set_id(f, "1", 1);
    struct rp_buf b;
    rp_buf_init(&b, 5);
    assert_int_equal(rp_frame_decode_data(f, &b), -ENOBUFS);
    assert_true(b.len <= 5);
    rp_buf_fini(&b);
    rp_buf_init(&b, 7);
    assert_int_equal(rp_frame_decode_data(f, &b), 0);
    assert_int_equal(b.len, 7);
    rp_buf_fini(&b);
    rp_frame_unref(f);
}

static void
test_check_event(void **state)
{
    assert_null(rp_frame_check_event("update", 6));
    assert_null(rp_frame_check_event("with space", 10));
    assert_null(rp_frame_check_event("caf\xc3\xa9", 5));
    char long_ev[130];
    memset(long_ev, 'e', sizeof(long_ev));
    assert_null(rp_frame_check_event(long_ev, 128));
    assert_string_equal(rp_frame_check_event(long_ev, 129), "event type is longer than 128 bytes");
    assert_string_equal(rp_frame_check_event("", 0), "event type is empty");
    static const char *const bad[] = {"a\nb", "a\rb", "\t", "a\x7f", "a\0b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_string_equal(rp_frame_check_event(bad[i], i == 4 ? 3 : strlen(bad[i])),
                            "event type contains a control character (CR, LF or another)");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untyped_event),
        cmocka_unit_test(test_typed_event),
        cmocka_unit_test(test_empty_event_is_none),
        cmocka_unit_test(test_line_breaks),
        cmocka_unit_test(test_empty_data),
        cmocka_unit_test(test_data_that_looks_like_fields),
        cmocka_unit_test(test_utf8_and_nul_pass_through),
        cmocka_unit_test(test_large_multiline_data),
        cmocka_unit_test(test_id_lengths),
        cmocka_unit_test(test_pub_id_kept_not_sent),
        cmocka_unit_test(test_origin_id_line),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_decode_respects_buffer_cap),
        cmocka_unit_test(test_check_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
