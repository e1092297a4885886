/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of http/publish_json, the body of POST /publish: one event or a batch, data
 * as a string or as compact JSON, optional event and id, and every refusal with the status
 * and message the client reads (docs/api.md, "Publishing"). A batch is all or nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/publish_json.h"

#define MAX_BATCH 100

static void
parse_ok(const char *body, struct rp_publish_batch *b)
{
    struct rp_publish_json_error err = {0};
    int rc = rp_publish_json_parse(body, strlen(body), MAX_BATCH, b, &err);
    if (rc)
        fail_msg("%s: %d %s", body, err.status, err.message);
    assert_int_equal(err.status, 0);
}

/* <body> must be refused with <status> and exactly <message>, leaving an empty batch. */
static void
parse_fails_n(const char *body, size_t max_batch, int status, const char *message)
{
    struct rp_publish_batch b;
    struct rp_publish_json_error err = {0};
    assert_int_equal(rp_publish_json_parse(body, strlen(body), max_batch, &b, &err), -EINVAL);
    assert_int_equal(err.status, status);
    assert_string_equal(err.message, message);
    assert_int_equal(b.n, 0);
    assert_null(b.items);
    assert_null(b.doc);
    assert_null(b.dumped);
    rp_publish_batch_fini(&b);
}

static void
parse_fails(const char *body, int status, const char *message)
{
    parse_fails_n(body, MAX_BATCH, status, message);
}

/* <body> must be refused with <status> and a message starting with <prefix>. */
static void
parse_fails_prefix(const char *body, size_t len, int status, const char *prefix)
{
    struct rp_publish_batch b;
    struct rp_publish_json_error err = {0};
    assert_int_equal(rp_publish_json_parse(body, len, MAX_BATCH, &b, &err), -EINVAL);
    assert_int_equal(err.status, status);
    if (strncmp(err.message, prefix, strlen(prefix)) != 0)
        fail_msg("message \"%s\" does not start with \"%s\"", err.message, prefix);
    assert_int_equal(b.n, 0);
    rp_publish_batch_fini(&b);
}

static void
assert_span(const char *s, size_t len, const char *want)
{
    assert_non_null(s);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(s, want, len);
}

static void
test_single_event(void **state)
{
    struct rp_publish_batch b;
    parse_ok(
        "{\"topic\": \"news\", \"data\": \"text\", \"event\": \"update\", \"id\": \"order-42\"}",
        &b);
    assert_int_equal(b.n, 1);
    assert_false(b.is_array);
    const struct rp_publish_item *it = &b.items[0];
    assert_span(it->topic, it->topic_len, "news");
    assert_span(it->data, it->data_len, "text");
    assert_span(it->event, it->event_len, "update");
    assert_span(it->pub_id, it->pub_id_len, "order-42");
    rp_publish_batch_fini(&b);
    assert_int_equal(b.n, 0);
    assert_null(b.items);
    rp_publish_batch_fini(&b); /* fini leaves it empty: twice is fine */

    /* event and id are optional; null is the same as absent. */
    parse_ok("{\"data\":\"x\",\"topic\":\"a/b\"}", &b);
    assert_null(b.items[0].event);
    assert_int_equal(b.items[0].event_len, 0);
    assert_null(b.items[0].pub_id);
    assert_int_equal(b.items[0].pub_id_len, 0);
    rp_publish_batch_fini(&b);
    parse_ok("{\"topic\":\"a\",\"data\":\"x\",\"event\":null,\"id\":null}", &b);
    assert_null(b.items[0].event);
    assert_null(b.items[0].pub_id);
    rp_publish_batch_fini(&b);
}

/* A string is sent as is (escapes decoded, UTF-8 kept, line breaks kept for the encoder). */
static void
test_string_data(void **state)
{
    struct rp_publish_batch b;
    parse_ok("{\"topic\":\"t\",\"data\":\"line 1\\nline 2\\r\\n\\u00e9\\\"q\\\" \xe2\x82\xac\"}",
             &b);
    assert_span(b.items[0].data, b.items[0].data_len,
                "line 1\nline 2\r\n\xc3\xa9\"q\" \xe2\x82\xac");
    assert_null(b.dumped[0]);
    rp_publish_batch_fini(&b);
    parse_ok("{\"topic\":\"t\",\"data\":\"\"}", &b);
    assert_span(b.items[0].data, b.items[0].data_len, "");
    rp_publish_batch_fini(&b);
    /* A string that looks like JSON is still a string. */
    parse_ok("{\"topic\":\"t\",\"data\":\"{\\\"a\\\":1}\"}", &b);
    assert_span(b.items[0].data, b.items[0].data_len, "{\"a\":1}");
    rp_publish_batch_fini(&b);
}

/* Any other JSON value is sent as its compact JSON text. */
static void
test_json_data(void **state)
{
    static const struct {
        const char *data, *sent;
    } cases[] = {
        {"42", "42"},
        {"-1.5", "-1.5"},
        {"true", "true"},
        {"false", "false"},
        {"null", "null"},
        {"[]", "[]"},
        {"{}", "{}"},
        {"[1, \"two\", {\"three\": 3}]", "[1,\"two\",{\"three\":3}]"},
        {"{ \"price\" : 10.5 , \"tags\" : [ \"a\" , \"b\" ] }",
         "{\"price\":10.5,\"tags\":[\"a\",\"b\"]}"},
        {"{\"s\":\"\\u00e9\\n\"}", "{\"s\":\"\xc3\xa9\\n\"}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"topic\":\"t\",\"data\":%s}", cases[i].data);
        struct rp_publish_batch b;
        parse_ok(body, &b);
        assert_span(b.items[0].data, b.items[0].data_len, cases[i].sent);
        assert_ptr_equal(b.items[0].data, b.dumped[0]);
        rp_publish_batch_fini(&b);
    }
}

static void
test_batch(void **state)
{
    struct rp_publish_batch b;
    parse_ok("[{\"topic\":\"a\",\"data\":\"1\"},"
             " {\"topic\":\"b\",\"data\":{\"n\":2},\"event\":\"e\"},"
             " {\"topic\":\"a\",\"data\":\"3\",\"id\":\"k3\"}]",
             &b);
    assert_int_equal(b.n, 3);
    assert_true(b.is_array);
    assert_span(b.items[0].topic, b.items[0].topic_len, "a");
    assert_span(b.items[0].data, b.items[0].data_len, "1");
    assert_null(b.items[0].event);
    assert_span(b.items[1].topic, b.items[1].topic_len, "b");
    assert_span(b.items[1].data, b.items[1].data_len, "{\"n\":2}");
    assert_span(b.items[1].event, b.items[1].event_len, "e");
    assert_span(b.items[2].pub_id, b.items[2].pub_id_len, "k3");
    assert_null(b.items[2].event);
    rp_publish_batch_fini(&b);

    /* An array of one is still a batch (the answer carries "ids"). */
    parse_ok("[{\"topic\":\"a\",\"data\":\"1\"}]", &b);
    assert_int_equal(b.n, 1);
    assert_true(b.is_array);
    rp_publish_batch_fini(&b);
}

static void
test_max_batch(void **state)
{
    const char *two = "[{\"topic\":\"a\",\"data\":\"1\"},{\"topic\":\"b\",\"data\":\"2\"}]";
    struct rp_publish_batch b;
    struct rp_publish_json_error err;
    /* Exactly max_batch: accepted. */
    assert_int_equal(rp_publish_json_parse(two, strlen(two), 2, &b, &err), 0);
    assert_int_equal(b.n, 2);
    rp_publish_batch_fini(&b);
    parse_fails_n(two, 1, 413, "the batch has 2 events; max_batch allows 1");
    /* The count is checked before the items: a long bad batch is 413, not 422. */
    parse_fails_n("[1,2,3]", 2, 413, "the batch has 3 events; max_batch allows 2");
    /* One object is one event, whatever max_batch says. */
    const char *one = "{\"topic\":\"a\",\"data\":\"1\"}";
    assert_int_equal(rp_publish_json_parse(one, strlen(one), 1, &b, &err), 0);
    rp_publish_batch_fini(&b);
    parse_fails("[]", 422, "the batch is empty: send at least one event");
}

/* One bad event refuses the whole batch, and the message says which (0-based). */
static void
test_batch_all_or_nothing(void **state)
{
    parse_fails("[{\"topic\":\"a\",\"data\":\"1\"},{\"data\":\"2\"}]", 422,
                "event 1: \"topic\" is missing");
    parse_fails("[{\"topic\":\"a\",\"data\":\"1\"},{\"topic\":\"b\",\"data\":\"2\"},"
                "{\"topic\":\"c\",\"data\":\"3\",\"event\":7}]",
                422, "event 2: \"event\" must be a string");
    parse_fails("[{\"topic\":\"a\",\"data\":\"1\"},\"just a string\"]", 422,
                "event 1: expected a JSON object with \"topic\" and \"data\"");
    parse_fails("[[{\"topic\":\"a\",\"data\":\"1\"}]]", 422,
                "event 0: expected a JSON object with \"topic\" and \"data\"");
    parse_fails("[{\"topic\":\"a\",\"data\":{\"x\":1}},{\"topic\":\"a\",\"data\":[1],\"x\":1}]",
                422, "event 1: unknown field \"x\" (allowed: topic, data, event, id)");
}

static void
test_wrong_shape(void **state)
{
    parse_fails("{\"data\":\"x\"}", 422, "\"topic\" is missing");
    parse_fails("{\"topic\":\"a\"}", 422, "\"data\" is missing");
    parse_fails("{}", 422, "\"topic\" is missing");
    /* Unknown fields are named before anything is missing. */
    parse_fails("{\"topic\":\"a\",\"body\":\"x\"}", 422,
                "unknown field \"body\" (allowed: topic, data, event, id)");
}

static void
test_bad_types(void **state)
{
    parse_fails("{\"topic\":5,\"data\":\"x\"}", 422, "\"topic\" must be a string");
    parse_fails("{\"topic\":null,\"data\":\"x\"}", 422, "\"topic\" must be a string");
    parse_fails("{\"topic\":[\"a\"],\"data\":\"x\"}", 422, "\"topic\" must be a string");
    parse_fails("{\"topic\":\"a\",\"data\":\"x\",\"event\":1}", 422, "\"event\" must be a string");
    parse_fails("{\"topic\":\"a\",\"data\":\"x\",\"event\":{}}", 422, "\"event\" must be a string");
    parse_fails("{\"topic\":\"a\",\"data\":\"x\",\"id\":42}", 422, "\"id\" must be a string");
    parse_fails("{\"topic\":\"a\",\"data\":\"x\",\"id\":true}", 422, "\"id\" must be a string");
    parse_fails("{\"topic\":\"a\",\"data\":\"x\",\"Topic\":\"b\"}", 422,
                "unknown field \"Topic\" (allowed: topic, data, event, id)");
    parse_fails("{\"topic\":\"a\",\"data\":\"x\","
                "\"a_very_long_field_name_that_goes_on_and_on_and_on\":1}",
                422,
                "unknown field \"a_very_long_field_name_that_goes_on_and_\" (allowed: topic, "
                "data, event, id)");
    /* Top-level values other than an object or an array are not a body at all: 400. */
    parse_fails_prefix("\"text\"", 6, 400, "body is not valid JSON: '[' or '{' expected");
    parse_fails_prefix("42", 2, 400, "body is not valid JSON: '[' or '{' expected");
    parse_fails_prefix("null", 4, 400, "body is not valid JSON: '[' or '{' expected");
}

/* Names and sizes are the hub's to judge: the parser passes them on. */
static void
test_topic_not_validated_here(void **state)
{
    struct rp_publish_batch b;
    parse_ok("{\"topic\":\"bad//name/+\",\"data\":\"x\",\"event\":\"\",\"id\":\"\"}", &b);
    assert_span(b.items[0].topic, b.items[0].topic_len, "bad//name/+");
    assert_span(b.items[0].event, b.items[0].event_len, "");
    assert_span(b.items[0].pub_id, b.items[0].pub_id_len, "");
    rp_publish_batch_fini(&b);
}

static void
test_malformed_json(void **state)
{
    parse_fails_prefix("", 0, 400, "body is not valid JSON: ");
    parse_fails_prefix("{\"topic\":\"a\",", 13, 400, "body is not valid JSON: ");
    parse_fails_prefix("{topic:\"a\"}", 11, 400, "body is not valid JSON: ");
    /* Trailing bytes after the value. */
    parse_fails_prefix("{\"topic\":\"a\",\"data\":\"x\"} x", 26, 400, "body is not valid JSON: ");
    /* A repeated key is ambiguous: refused, not last-wins. */
    parse_fails_prefix("{\"topic\":\"a\",\"topic\":\"b\",\"data\":\"x\"}", 35, 400,
                       "body is not valid JSON: duplicate object key");
    /* A NUL inside a string would cut the data short downstream: refused. */
    parse_fails_prefix("{\"topic\":\"a\",\"data\":\"x\\u0000y\"}", 31, 400,
                       "body is not valid JSON: ");

    /* The position is given, so a user can find the mistake. */
    struct rp_publish_batch b;
    struct rp_publish_json_error err;
    const char *body = "{\"topic\":\"a\",\n\"data\":}";
    assert_int_equal(rp_publish_json_parse(body, strlen(body), MAX_BATCH, &b, &err), -EINVAL);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.message, "(line 2, column "));
}

/* Only <len> bytes are read: the body need not end with a NUL right there. */
static void
test_length_bounds_body(void **state)
{
    const char *body = "{\"topic\":\"a\",\"data\":\"x\"}garbage";
    struct rp_publish_batch b;
    struct rp_publish_json_error err;
    assert_int_equal(rp_publish_json_parse(body, 24, MAX_BATCH, &b, &err), 0);
    assert_span(b.items[0].data, b.items[0].data_len, "x");
    rp_publish_batch_fini(&b);
    parse_fails_prefix(body, 23, 400, "body is not valid JSON: ");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_event),
        cmocka_unit_test(test_string_data),
        cmocka_unit_test(test_json_data),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_max_batch),
        cmocka_unit_test(test_batch_all_or_nothing),
        cmocka_unit_test(test_wrong_shape),
        cmocka_unit_test(test_bad_types),
        cmocka_unit_test(test_topic_not_validated_here),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_length_bounds_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
