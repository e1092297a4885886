/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of http/publish_form, the body of a Mercure publish: the fields exactly as
 * symfony/mercure's publisher sends them, form decoding, and every refusal with the status
 * and message the publisher reads (docs/mercure.md).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/publish_form.h"

static void
parse_ok(const char *body, struct rp_publish_form *f)
{
    struct rp_publish_form_error err = {0};
    int rc = rp_publish_form_parse(body, strlen(body), 8, f, &err);
    if (rc)
        fail_msg("%s: %d %s", body, err.status, err.message);
}

static void
parse_fails(const char *body, int rc, int status, const char *message)
{
    struct rp_publish_form f;
    struct rp_publish_form_error err = {0};
    assert_int_equal(rp_publish_form_parse(body, strlen(body), 3, &f, &err), rc);
    assert_int_equal(err.status, status);
    assert_string_equal(err.message, message);
    rp_publish_form_fini(&f);
}

/* What symfony/mercure's Publisher posts for new Update('https://example.com/books/1',
 * '{"status":"OutOfStock"}'): http_build_query of topic and data only. */
static void
test_symfony_public_update(void **state)
{
    (void)state;
    struct rp_publish_form f;
    parse_ok("topic=https%3A%2F%2Fexample.com%2Fbooks%2F1"
             "&data=%7B%22status%22%3A%22OutOfStock%22%7D",
             &f);
    assert_int_equal(f.n_topics, 1);
    assert_string_equal(f.topics[0], "https://example.com/books/1");
    assert_int_equal(f.topic_lens[0], strlen("https://example.com/books/1"));
    assert_string_equal(f.data, "{\"status\":\"OutOfStock\"}");
    assert_false(f.is_private);
    assert_null(f.id);
    assert_null(f.type);
    assert_int_equal(f.retry_ms, -1);
    rp_publish_form_fini(&f);
}

/* Every field, several topics in order, '+' as a space, private=on (what Symfony sends). */
static void
test_all_fields(void **state)
{
    (void)state;
    struct rp_publish_form f;
    parse_ok("topic=https%3A%2F%2Fexample.com%2Fbooks%2F1&topic=https%3A%2F%2Fexample.com%2Fa"
             "&data=a+b%0Ac&private=on&id=urn%3Auuid%3A42&type=book.updated&retry=2500"
             "&unknown=ignored",
             &f);
    assert_int_equal(f.n_topics, 2);
    assert_string_equal(f.topics[0], "https://example.com/books/1");
    assert_string_equal(f.topics[1], "https://example.com/a");
    assert_string_equal(f.data, "a b\nc");
    assert_int_equal(f.data_len, 5);
    assert_true(f.is_private);
    assert_string_equal(f.id, "urn:uuid:42");
    assert_string_equal(f.type, "book.updated");
    assert_int_equal(f.retry_ms, 2500);
    rp_publish_form_fini(&f);
}

/* Presence means private, whatever the value; no data is an empty update. */
static void
test_private_presence_and_no_data(void **state)
{
    (void)state;
    struct rp_publish_form f;
    parse_ok("private&topic=x", &f);
    assert_true(f.is_private);
    assert_string_equal(f.data, "");
    assert_int_equal(f.data_len, 0);
    rp_publish_form_fini(&f);
    parse_ok("topic=x&private=", &f);
    assert_true(f.is_private);
    rp_publish_form_fini(&f);
}

static void
test_refusals(void **state)
{
    (void)state;
    parse_fails("data=x", -EINVAL, 400, "missing \"topic\": an update needs at least one topic");
    parse_fails("", -EINVAL, 400, "missing \"topic\": an update needs at least one topic");
    parse_fails("topic=", -EINVAL, 400, "a \"topic\" field is empty");
    parse_fails("topic=a&data=1&data=2", -EINVAL, 400, "the field \"data\" is given twice");
    parse_fails("topic=a&id=1&id=2", -EINVAL, 400, "the field \"id\" is given twice");
    parse_fails("topic=a&id=%23x", -EINVAL, 400, "an \"id\" must not start with '#'");
    parse_fails("topic=a&id=a%0Ab", -EINVAL, 400, "an \"id\" must not contain a line break");
    parse_fails("topic=a&type=a%0Db", -EINVAL, 400, "a \"type\" must not contain a line break");
    parse_fails("topic=a&retry=-1", -EINVAL, 400,
                "\"retry\" must be a non-negative integer (milliseconds)");
    parse_fails("topic=a&retry=", -EINVAL, 400,
                "\"retry\" must be a non-negative integer (milliseconds)");
    parse_fails("topic=a&topic=b&topic=c&topic=d", -E2BIG, 413,
                "an update may have at most 3 topics (max_stream_topics)");
    struct rp_publish_form f;
    struct rp_publish_form_error err = {0};
    assert_int_equal(rp_publish_form_parse("topic=a&data=%00", 16, 3, &f, &err), -EINVAL);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.message, "malformed form"));
    rp_publish_form_fini(&f);
    assert_int_equal(rp_publish_form_parse("topic=%zz", 9, 3, &f, &err), -EINVAL);
    assert_int_equal(err.status, 400);
    rp_publish_form_fini(&f);
}

static void
test_content_type(void **state)
{
    (void)state;
    assert_true(rp_publish_form_content_type("application/x-www-form-urlencoded"));
    assert_true(rp_publish_form_content_type("application/x-www-form-urlencoded; charset=utf-8"));
    assert_true(rp_publish_form_content_type("Application/X-WWW-Form-Urlencoded;charset=UTF-8"));
    assert_false(rp_publish_form_content_type(NULL));
    assert_false(rp_publish_form_content_type("application/json"));
    assert_false(rp_publish_form_content_type("application/x-www-form-urlencodedx"));
    assert_false(rp_publish_form_content_type("multipart/form-data; boundary=x"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symfony_public_update),
        cmocka_unit_test(test_all_fields),
        cmocka_unit_test(test_private_presence_and_no_data),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_content_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
