/* SPDX-License-Identifier: MIT */
/* Grants: what a verified token may read and write, and the failure reasons' labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>

#include "auth/auth.h"

static bool
may_read(const struct rp_grant *g, const char *filter)
{
    return rp_grant_may_read(g, filter, strlen(filter));
}

static bool
may_write(const struct rp_grant *g, const char *topic)
{
    return rp_grant_may_write(g, topic, strlen(topic));
}

static void
test_read_claims_cover_subscriptions(void **state)
{
    struct rp_grant g = {0};
    assert_int_equal(rp_grant_add_read(&g, "news/#", 6), 0);
    assert_int_equal(rp_grant_add_read(&g, "chat/+/public", 13), 0);
    assert_true(may_read(&g, "news"));
    assert_true(may_read(&g, "news/uk/london"));
    assert_true(may_read(&g, "news/+"));
    assert_true(may_read(&g, "news/#"));
    assert_true(may_read(&g, "chat/room1/public"));
    assert_true(may_read(&g, "chat/+/public"));
    assert_false(may_read(&g, "chat/#")); /* wider than the claim */
    assert_false(may_read(&g, "chat/room1/private"));
    assert_false(may_read(&g, "sports"));
    assert_false(may_read(&g, "#"));
    assert_false(may_write(&g, "news/uk")); /* read is not write */
    rp_grant_fini(&g);
}

static void
test_write_claims_match_topics(void **state)
{
    struct rp_grant g = {0};
    assert_int_equal(rp_grant_add_write(&g, "news/+", 6), 0);
    assert_true(may_write(&g, "news/uk"));
    assert_false(may_write(&g, "news/uk/london"));
    assert_false(may_write(&g, "news"));
    assert_false(may_read(&g, "news/uk"));
    rp_grant_fini(&g);
}

static void
test_invalid_filters_refused(void **state)
{
    struct rp_grant g = {0};
    assert_int_equal(rp_grant_add_read(&g, "a+/b", 4), -EINVAL);
    assert_int_equal(rp_grant_add_read(&g, "a/#/b", 5), -EINVAL);
    assert_int_equal(rp_grant_add_write(&g, "", 0), -EINVAL);
    assert_int_equal(g.n_read + g.n_write, 0);
    assert_false(may_read(&g, "a"));
    rp_grant_fini(&g);
}

static void
test_copy_is_deep(void **state)
{
    struct rp_grant g = {0}, c = {0};
    g.sub = strdup("alice");
    g.expires_ms = 123;
    rp_grant_add_read(&g, "a/#", 3);
    rp_grant_add_write(&g, "b", 1);
    rp_grant_copy(&c, &g);
    rp_grant_fini(&g);
    assert_string_equal(c.sub, "alice");
    assert_int_equal(c.expires_ms, 123);
    assert_true(may_read(&c, "a/x"));
    assert_true(may_write(&c, "b"));
    rp_grant_fini(&c);
    assert_null(c.sub);
    rp_grant_fini(&c); /* a zeroed grant is fine */
}

static void
test_result_names(void **state)
{
    assert_string_equal(rp_auth_result_name(RP_AUTH_OK), "ok");
    assert_string_equal(rp_auth_result_name(RP_AUTH_BAD_SIGNATURE), "bad_signature");
    assert_string_equal(rp_auth_result_name(RP_AUTH_UNAVAILABLE), "unavailable");
    assert_string_equal(rp_auth_result_name((enum rp_auth_result)99), "unknown");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_claims_cover_subscriptions),
        cmocka_unit_test(test_write_claims_match_topics),
        cmocka_unit_test(test_invalid_filters_refused),
        cmocka_unit_test(test_copy_is_deep),
        cmocka_unit_test(test_result_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
