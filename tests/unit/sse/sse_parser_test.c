/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of sse/sse_parser against the WHATWG event stream rules: line ends (CR, LF,
 * CRLF, and a CRLF split between chunks), BOM, comments, field syntax, data joining,
 * event types, ids (also without a dispatch), retry, UTF-8 replacement, caps, stopping
 * from a callback, restart and set_last_id. Every input is also fed byte by byte and in
 * random splits, which must give exactly the same events.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "sse/sse_parser.h"

/* ---- recording what the parser reports, as comparable text ---- */

struct rec {
    struct rp_buf out; /* one line per callback, bytes escaped */
    int stop_after;    /* stop (return 1) after this many callbacks; 0 = never */
    int n_calls;
};

static void
put_escaped(struct rp_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '\\' || c == '|')
            assert_int_equal(rp_buf_printf(b, "\\x%02x", c), 0);
        else
            assert_int_equal(rp_buf_append(b, &s[i], 1), 0);
    }
}

static int
on_event(void *ctx, const struct rp_sse_event *ev)
{
    struct rec *r = ctx;
    assert_int_equal(ev->type[ev->type_len], '\0'); /* a type may contain NUL */
    assert_int_equal(strlen(ev->last_id), ev->last_id_len);
    assert_int_equal(ev->data[ev->data_len], '\0');
    rp_buf_append_str(&r->out, "E ");
    put_escaped(&r->out, ev->type, ev->type_len);
    rp_buf_append_str(&r->out, "|");
    put_escaped(&r->out, ev->data, ev->data_len);
    rp_buf_append_str(&r->out, "|");
    put_escaped(&r->out, ev->last_id, ev->last_id_len);
    rp_buf_append_str(&r->out, ev->has_id ? "|own" : "|");
    assert_int_equal(strlen(ev->origin_id), ev->origin_id_len);
    if (ev->origin_id_len) {
        rp_buf_append_str(&r->out, "|origin=");
        put_escaped(&r->out, ev->origin_id, ev->origin_id_len);
    }
    rp_buf_append_str(&r->out, "\n");
    return r->stop_after && ++r->n_calls >= r->stop_after;
}

static int
on_retry(void *ctx, uint64_t ms)
{
    struct rec *r = ctx;
    rp_buf_printf(&r->out, "R %llu\n", (unsigned long long)ms);
    return r->stop_after && ++r->n_calls >= r->stop_after;
}

static const struct rp_sse_limits default_limits = {.max_line = 4096, .max_event = 65536};

/* A small deterministic generator for the random splits (not for anything secret). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
next_rand(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

enum split { WHOLE, BYTES, RANDOM };

/*
 * Feeds <in> (<n> bytes) split as <how> into a fresh parser with <lim>; appends "ERROR\n"
 * to the record when the parser refuses, and returns the record (caller finis it).
 */
static struct rp_buf
parse(const struct rp_sse_limits *lim, const char *in, size_t n, enum split how)
{
    struct rec r = {.stop_after = 0};
    rp_buf_init(&r.out, 1 << 22);
    struct rp_sse_parser *p = rp_sse_parser_new(lim, on_event, on_retry, &r);
    size_t off = 0;
    enum rp_sse_parse_result res = RP_SSE_PARSE_MORE;
    while (off < n && res == RP_SSE_PARSE_MORE) {
        size_t len = n - off;
        if (how == BYTES)
            len = 1;
        else if (how == RANDOM)
            len = 1 + next_rand() % (len < 7 ? len : 7 + next_rand() % len);
        if (len > n - off)
            len = n - off;
        size_t used = 0;
        res = rp_sse_parser_feed(p, in + off, len, &used);
        if (res == RP_SSE_PARSE_MORE)
            assert_int_equal(used, len);
        off += len;
    }
    if (n == 0)
        res = rp_sse_parser_feed(p, "", 0, NULL);
    assert_int_not_equal(res, RP_SSE_PARSE_DONE);
    if (res == RP_SSE_PARSE_ERROR) {
        assert_non_null(rp_sse_parser_error(p));
        rp_buf_append_str(&r.out, "ERROR\n");
        /* Refuses until restarted. */
        assert_int_equal(rp_sse_parser_feed(p, "\n", 1, NULL), RP_SSE_PARSE_ERROR);
    } else {
        assert_null(rp_sse_parser_error(p));
    }
    rp_sse_parser_free(p);
    return r.out;
}

/* Parses <in> whole, byte by byte and in 40 random splits; all must record <want>. */
static void
check_lim(const struct rp_sse_limits *lim, const char *in, size_t n, const char *want)
{
    for (int round = 0; round < 42; round++) {
        enum split how = round == 0 ? WHOLE : round == 1 ? BYTES : RANDOM;
        struct rp_buf got = parse(lim, in, n, how);
        const char *s = rp_buf_cstr(&got);
        if (strcmp(s, want) != 0)
            fail_msg("split %d: got\n%s\nwanted\n%s", round, s, want);
        rp_buf_fini(&got);
    }
}

#define CHECK(in, want) check_lim(&default_limits, (in), sizeof(in) - 1, (want))
#define CHECK_LIM(lim, in, want) check_lim((lim), (in), sizeof(in) - 1, (want))

/* ---- tests ---- */

static void
test_simple_events(void **state)
{
    (void)state;
    CHECK("data: hello\n\n", "E message|hello||\n");
    CHECK("data: a\n\ndata: b\n\n", "E message|a||\nE message|b||\n");
    CHECK("", "");
    CHECK("\n\n\n", "");
}

/* RevenProx's origin-id field is reported with the event of its block and forgotten after
 * it (WHATWG clients ignore it as an unknown field). */
static void
test_origin_id_field(void **state)
{
    (void)state;
    CHECK("id: 1\norigin-id: abc-3\ndata: x\n\ndata: y\n\n",
          "E message|x|1|own|origin=abc-3\nE message|y|1|\n");
    CHECK("origin-id: gone\n\ndata: z\n\n", "E message|z||\n"); /* no data: dropped */
    CHECK("origin-id:a\norigin-id: b\ndata: w\n\n", "E message|w|||origin=b\n");
}

static void
test_line_ends(void **state)
{
    (void)state;
    /* CR, CRLF and LF each end one line, mixed freely. */
    CHECK("data: a\r\rdata: b\r\n\r\ndata: c\n\n", "E message|a||\nE message|b||\nE message|c||\n");
    CHECK("data: a\rdata: b\n\r\n", "E message|a\\x0ab||\n");
    /* CR LF is one line end, CR CR two, LF CR two. */
    CHECK("data: x\r\ndata: y\r\n\r\n", "E message|x\\x0ay||\n");
    CHECK("data: x\n\rdata: y\r\n\r\n", "E message|x||\nE message|y||\n");
    CHECK("data: x\r\r\ndata: y\r\r", "E message|x||\nE message|y||\n");
}

static void
test_crlf_split_between_chunks(void **state)
{
    (void)state;
    struct rec r = {0};
    rp_buf_init(&r.out, 4096);
    struct rp_sse_parser *p = rp_sse_parser_new(&default_limits, on_event, on_retry, &r);
    /* The LF that starts the second chunk completes the CR; it is not a blank line. */
    assert_int_equal(rp_sse_parser_feed(p, "data: x\r", 8, NULL), RP_SSE_PARSE_MORE);
    assert_int_equal(rp_sse_parser_feed(p, "\ndata: y\r", 9, NULL), RP_SSE_PARSE_MORE);
    assert_int_equal(r.out.len, 0);
    assert_int_equal(rp_sse_parser_feed(p, "\n", 1, NULL), RP_SSE_PARSE_MORE);
    assert_int_equal(r.out.len, 0);
    assert_int_equal(rp_sse_parser_feed(p, "\r", 1, NULL), RP_SSE_PARSE_MORE);
    assert_string_equal(rp_buf_cstr(&r.out), "E message|x\\x0ay||\n");
    /* The LF after that CR is swallowed too, even arriving alone. */
    assert_int_equal(rp_sse_parser_feed(p, "\n", 1, NULL), RP_SSE_PARSE_MORE);
    assert_int_equal(rp_sse_parser_feed(p, "data: z\n\n", 9, NULL), RP_SSE_PARSE_MORE);
    assert_string_equal(rp_buf_cstr(&r.out), "E message|x\\x0ay||\nE message|z||\n");
    rp_sse_parser_free(p);
    rp_buf_fini(&r.out);
}

static void
test_bom(void **state)
{
    (void)state;
    CHECK("\xEF\xBB\xBF"
          "data: a\n\n",
          "E message|a||\n");
    /* Only one BOM, only at the start: a second one is part of the field name. */
    CHECK("\xEF\xBB\xBF\xEF\xBB\xBF"
          "data: a\n\ndata: b\n\n",
          "E message|b||\n");
    CHECK("data: a\n\n\xEF\xBB\xBF"
          "data: b\n\n",
          "E message|a||\n");
    /* A BOM's beginning that is not a BOM is content: U+FFFD, so the field is unknown. */
    CHECK("\xEF\xBB"
          "data: a\n\ndata: b\n\n",
          "E message|b||\n");
    CHECK("\xEF\xBB\n"
          "data: b\n\n",
          "E message|b||\n");
    /* A BOM alone, then a blank line. */
    CHECK("\xEF\xBB\xBF\n\ndata: c\n\n", "E message|c||\n");
}

static void
test_comments(void **state)
{
    (void)state;
    CHECK(": comment\ndata: a\n:another\n\n", "E message|a||\n");
    CHECK(":\n\n:data: x\n\n", "");
    CHECK(": heartbeat\r\n\r\n", "");
}

static void
test_field_syntax(void **state)
{
    (void)state;
    CHECK("data:no space\n\n", "E message|no space||\n");
    CHECK("data:  two spaces\n\n", "E message| two spaces||\n");
    CHECK("data: trailing \n\n", "E message|trailing ||\n");
    CHECK("data\n\n", "E message|||\n"); /* a name alone: empty value */
    CHECK("data:\n\n", "E message|||\n");
    CHECK("data\ndata\n\n", "E message|\\x0a||\n");
    CHECK("data: a:b: c\n\n", "E message|a:b: c||\n");
    CHECK("data:\tx\n\n", "E message|\\x09x||\n"); /* only a space is removed */
    /* Unknown and differently-cased fields are ignored. */
    CHECK("foo: bar\ndata: a\nDATA: b\nData: c\n data: d\n\n", "E message|a||\n");
}

static void
test_data_joining(void **state)
{
    (void)state;
    CHECK("data: a\ndata: b\n\n", "E message|a\\x0ab||\n");
    CHECK("data: a\ndata:\n\n", "E message|a\\x0a||\n");
    CHECK("data:\ndata: a\n\n", "E message|\\x0aa||\n");
    /* The examples of the WHATWG specification. */
    CHECK("data: YHOO\ndata: +2\ndata: 10\n\n", "E message|YHOO\\x0a+2\\x0a10||\n");
    CHECK("data\n\ndata\ndata\n\ndata:", "E message|||\nE message|\\x0a||\n");
    CHECK("data:test\n\ndata: test\n\n", "E message|test||\nE message|test||\n");
    /* Data without a blank line at the end is never dispatched. */
    CHECK("data: a\n", "");
    CHECK("data: a\ndata: b", "");
}

static void
test_event_type(void **state)
{
    (void)state;
    CHECK("event: update\ndata: x\n\n", "E update|x||\n");
    /* The type lasts for one block only, even a block that dispatches nothing. */
    CHECK("event: u\ndata: x\n\ndata: y\n\n", "E u|x||\nE message|y||\n");
    CHECK("event: u\n\ndata: y\n\n", "E message|y||\n");
    CHECK("event:\ndata: x\n\n", "E message|x||\n");
    CHECK("event: a\nevent: b\ndata: x\n\n", "E b|x||\n");
    CHECK("data: x\nevent: late\n\n", "E late|x||\n");
    CHECK("event: news:update\ndata: x\n\n", "E news:update|x||\n");
    CHECK("event: a\0b\ndata: x\n\n", "E a\\x00b|x||\n"); /* U+0000 is kept in a type */
}

static void
test_ids(void **state)
{
    (void)state;
    CHECK("id: 1\ndata: a\n\ndata: b\n\n", "E message|a|1|own\nE message|b|1|\n");
    /* An id sets the last event id even when its block dispatches nothing. */
    CHECK("id: 2\n\ndata: c\n\n", "E message|c|2|\n");
    CHECK("data: x\nid: 7\n\n", "E message|x|7|own\n");
    /* An empty id resets it; an id with NUL is ignored. */
    CHECK("id: 1\ndata: a\n\nid\ndata: b\n\n", "E message|a|1|own\nE message|b||own\n");
    CHECK("id: 1\ndata: a\n\nid: x\0y\ndata: b\n\n", "E message|a|1|own\nE message|b|1|\n");
    /* The WHATWG example. */
    CHECK(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n"
          "data:  third event\n",
          "E message|first event|1|own\nE message|second event||own\n");
    CHECK("id: 5f3a9c21-1\r\ndata: hello\r\n\r\n", "E message|hello|5f3a9c21-1|own\n");
}

static void
test_id_needs_the_blank_line(void **state)
{
    (void)state;
    struct rec r = {0};
    rp_buf_init(&r.out, 4096);
    struct rp_sse_parser *p = rp_sse_parser_new(&default_limits, on_event, on_retry, &r);
    const char *s = "id: 1\ndata: a\n\nid: 2\ndata: b\n";
    assert_int_equal(rp_sse_parser_feed(p, s, strlen(s), NULL), RP_SSE_PARSE_MORE);
    /* Event 2 was not delivered, so resuming must not skip it. */
    assert_string_equal(rp_sse_parser_last_id(p, NULL), "1");
    rp_sse_parser_restart(p);
    assert_string_equal(rp_sse_parser_last_id(p, NULL), "1");
    s = "data: c\n\n";
    assert_int_equal(rp_sse_parser_feed(p, s, strlen(s), NULL), RP_SSE_PARSE_MORE);
    assert_string_equal(rp_buf_cstr(&r.out), "E message|a|1|own\nE message|c|1|\n");
    rp_sse_parser_free(p);
    rp_buf_fini(&r.out);
}

static void
test_retry(void **state)
{
    (void)state;
    CHECK("retry: 1500\n", "R 1500\n");
    CHECK("retry:0\n", "R 0\n");
    CHECK("retry: 15x\nretry:\nretry: -1\nretry:  100\nretry: 1.5\nretry: +1\n", "");
    CHECK("retry: 99999999999999999999999\n", "R 18446744073709551615\n");
    CHECK("retry: 10\ndata: a\n\n", "R 10\nE message|a||\n");
}

static void
test_utf8(void **state)
{
    (void)state;
    CHECK("data: caf\xC3\xA9 \xF0\x9F\x98\x80\n\n",
          "E message|caf\\xc3\\xa9 \\xf0\\x9f\\x98\\x80||\n");
    /* Each maximal invalid subsequence becomes one U+FFFD (EF BF BD). */
    CHECK("data: a\xFF"
          "b\n\n",
          "E message|a\\xef\\xbf\\xbdb||\n");
    CHECK("data: \xE2\x82\n\n", "E message|\\xef\\xbf\\xbd||\n");
    CHECK("data: \xE2\x82"
          "A\n\n",
          "E message|\\xef\\xbf\\xbdA||\n");
    CHECK("data: \xF0\x80\n\n", "E message|\\xef\\xbf\\xbd\\xef\\xbf\\xbd||\n");
    CHECK("data: \xED\xA0\x80\n\n", "E message|\\xef\\xbf\\xbd\\xef\\xbf\\xbd\\xef\\xbf\\xbd||\n");
    CHECK("data: \xC0\xAF\n\n", "E message|\\xef\\xbf\\xbd\\xef\\xbf\\xbd||\n");
    CHECK("event: \x80\nid: \xFE\ndata: x\n\n", "E \\xef\\xbf\\xbd|x|\\xef\\xbf\\xbd|own\n");
    /* NUL is a character like any other in data. */
    CHECK("data: a\0b\n\n", "E message|a\\x00b||\n");
}

static void
test_caps(void **state)
{
    (void)state;
    struct rp_sse_limits lines = {.max_line = 16, .max_event = 64};
    CHECK_LIM(&lines, "data: 1234567890\n\n", "E message|1234567890||\n"); /* 16 bytes */
    CHECK_LIM(&lines, "data: 12345678901\n\n", "ERROR\n");
    CHECK_LIM(&lines, ": a comment that is too long\n", "ERROR\n");
    /* An over-long line is refused even before it ends. */
    CHECK_LIM(&lines, "data: a\n\ndata: 12345678901", "E message|a||\nERROR\n");
    struct rp_sse_limits lim = {.max_line = 16, .max_event = 8};
    /* The data cap counts the joined data as dispatched. */
    CHECK_LIM(&lim, "data: 12345678\n\n", "E message|12345678||\n");
    CHECK_LIM(&lim, "data: 123\ndata: 1234\n\n", "E message|123\\x0a1234||\n");
    CHECK_LIM(&lim, "data: 1234\ndata: 1234\n\n", "ERROR\n");
    CHECK_LIM(&lim, "data: 123456789\n\n", "ERROR\n");
    /* The cap holds for every event of the stream, not for all of them together. */
    CHECK_LIM(&lim, "data: 12345678\n\ndata: 12345678\n\n",
              "E message|12345678||\nE message|12345678||\n");
    /* A BOM's beginning counts as line content. */
    struct rp_sse_limits tiny = {.max_line = 1, .max_event = 8};
    CHECK_LIM(&tiny,
              "\xEF\xBB"
              "\n",
              "ERROR\n");
    CHECK_LIM(&tiny,
              "\xEF\xBB\xBF"
              "d\n\n",
              "");
}

static void
test_restart_after_error(void **state)
{
    (void)state;
    struct rp_sse_limits lim = {.max_line = 8, .max_event = 8};
    struct rec r = {0};
    rp_buf_init(&r.out, 4096);
    struct rp_sse_parser *p = rp_sse_parser_new(&lim, on_event, on_retry, &r);
    const char *s = "id: 1\n\ndata: 123456789\n";
    assert_int_equal(rp_sse_parser_feed(p, s, strlen(s), NULL), RP_SSE_PARSE_ERROR);
    assert_non_null(rp_sse_parser_error(p));
    rp_sse_parser_restart(p);
    assert_null(rp_sse_parser_error(p));
    s = "\xEF\xBB\xBF"
        "data: ok\n\n";
    assert_int_equal(rp_sse_parser_feed(p, s, strlen(s), NULL), RP_SSE_PARSE_MORE);
    assert_string_equal(rp_buf_cstr(&r.out), "E message|ok|1|\n");
    rp_sse_parser_free(p);
    rp_buf_fini(&r.out);
}

static void
test_restart_drops_the_unfinished_event(void **state)
{
    (void)state;
    struct rec r = {0};
    rp_buf_init(&r.out, 4096);
    struct rp_sse_parser *p = rp_sse_parser_new(&default_limits, on_event, on_retry, &r);
    const char *s = "event: e\ndata: half\ndata: a line without its end";
    assert_int_equal(rp_sse_parser_feed(p, s, strlen(s), NULL), RP_SSE_PARSE_MORE);
    rp_sse_parser_restart(p);
    s = "\r";
    assert_int_equal(rp_sse_parser_feed(p, s, 1, NULL), RP_SSE_PARSE_MORE);
    s = "\ndata: new\n\n";
    assert_int_equal(rp_sse_parser_feed(p, s, strlen(s), NULL), RP_SSE_PARSE_MORE);
    assert_string_equal(rp_buf_cstr(&r.out), "E message|new||\n");
    rp_sse_parser_free(p);
    rp_buf_fini(&r.out);
}

static void
test_stop_from_callback(void **state)
{
    (void)state;
    struct rec r = {.stop_after = 1};
    rp_buf_init(&r.out, 4096);
    struct rp_sse_parser *p = rp_sse_parser_new(&default_limits, on_event, on_retry, &r);
    const char *s = "data: a\r\n\r\ndata: b\r\n\r\n";
    size_t used = 0;
    assert_int_equal(rp_sse_parser_feed(p, s, strlen(s), &used), RP_SSE_PARSE_DONE);
    assert_int_equal(used, 10); /* through the CR of the blank line */
    assert_string_equal(rp_buf_cstr(&r.out), "E message|a||\n");
    r.stop_after = 0;
    assert_int_equal(rp_sse_parser_feed(p, s + used, strlen(s) - used, &used), RP_SSE_PARSE_MORE);
    assert_string_equal(rp_buf_cstr(&r.out), "E message|a||\nE message|b||\n");
    /* A retry callback can stop the feed too. */
    r.stop_after = 3;
    r.n_calls = 2;
    s = "retry: 5\ndata: c\n\n";
    assert_int_equal(rp_sse_parser_feed(p, s, strlen(s), &used), RP_SSE_PARSE_DONE);
    assert_int_equal(used, 9);
    rp_sse_parser_free(p);
    rp_buf_fini(&r.out);
}

static void
test_set_last_id(void **state)
{
    (void)state;
    struct rec r = {0};
    rp_buf_init(&r.out, 4096);
    struct rp_sse_parser *p = rp_sse_parser_new(&default_limits, on_event, on_retry, &r);
    assert_string_equal(rp_sse_parser_last_id(p, NULL), "");
    assert_int_equal(rp_sse_parser_set_last_id(p, "abc-1", 5), 0);
    size_t len = 0;
    assert_string_equal(rp_sse_parser_last_id(p, &len), "abc-1");
    assert_int_equal(len, 5);
    assert_int_equal(rp_sse_parser_set_last_id(p, "a\nb", 3), -EINVAL);
    assert_int_equal(rp_sse_parser_set_last_id(p, "a\0b", 3), -EINVAL);
    const char *s = "data: x\n\nid: abc-2\ndata: y\n\n";
    assert_int_equal(rp_sse_parser_feed(p, s, strlen(s), NULL), RP_SSE_PARSE_MORE);
    assert_string_equal(rp_buf_cstr(&r.out), "E message|x|abc-1|\nE message|y|abc-2|own\n");
    assert_string_equal(rp_sse_parser_last_id(p, NULL), "abc-2");
    rp_sse_parser_free(p);
    rp_buf_fini(&r.out);
}

/* A realistic stream of a multi-topic subscription: opening comment, retry, heartbeats,
 * tagged types, a resync without id, multi-line data. */
static void
test_server_stream(void **state)
{
    (void)state;
    CHECK(":ok\n\nretry: 2000\n\n"
          "event: news\nid: 5f3a9c21-1\ndata: hello world\n\n"
          ":\n\n"
          "event: news:update\nid: 5f3a9c21-2\ndata: line one\ndata: line two\n\n"
          "event: resync\ndata: {\"reason\":\"lagged\"}\n\n",
          "R 2000\nE news|hello world|5f3a9c21-1|own\n"
          "E news:update|line one\\x0aline two|5f3a9c21-2|own\n"
          "E resync|{\"reason\":\"lagged\"}|5f3a9c21-2|\n");
}

/* Many random streams from a small alphabet of the syntax's bytes: every split agrees
 * with the whole feed (the same property the fuzz harness checks). */
static void
test_random_streams_split_consistently(void **state)
{
    (void)state;
    static const char *pieces[] = {"data", "event",        "id",       "retry", ":",
                                   " ",    "\r",           "\n",       "\r\n",  "x",
                                   "12",   "\xEF\xBB\xBF", "\xE2\x82", "\0",    "é"};
    struct rp_sse_limits lim = {.max_line = 24, .max_event = 40};
    char in[256];
    for (int iter = 0; iter < 300; iter++) {
        size_t n = 0;
        while (n < sizeof(in) - 8) {
            const char *piece = pieces[next_rand() % (sizeof(pieces) / sizeof(pieces[0]))];
            size_t len = piece[0] ? strlen(piece) : 1;
            memcpy(in + n, piece, len);
            n += len;
            if (next_rand() % 16 == 0)
                break;
        }
        struct rp_buf whole = parse(&lim, in, n, WHOLE);
        check_lim(&lim, in, n, rp_buf_cstr(&whole));
        rp_buf_fini(&whole);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_events),
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_crlf_split_between_chunks),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_field_syntax),
        cmocka_unit_test(test_data_joining),
        cmocka_unit_test(test_event_type),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_id_needs_the_blank_line),
        cmocka_unit_test(test_retry),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_restart_after_error),
        cmocka_unit_test(test_restart_drops_the_unfinished_event),
        cmocka_unit_test(test_stop_from_callback),
        cmocka_unit_test(test_set_last_id),
        cmocka_unit_test(test_origin_id_field),
        cmocka_unit_test(test_server_stream),
        cmocka_unit_test(test_random_streams_split_consistently),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
