/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of auth/claims, Mercure's `mercure` claim: the layout symfony/mercure's token
 * factory signs (HS256, through rp_jwt_verify_claims), selectors `*`, exact IRIs and URI
 * templates, and malformed claims refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "auth/auth_jwt.h"
#include "auth/claims.h"
#include "base/diag.h"

static const char SECRET[] = "!ChangeThisMercureHubJWTSecretKey!";

static enum rp_auth_result
read_json(const char *text, struct rp_claims_mercure *m)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    enum rp_auth_result r = rp_claims_mercure_read(j, m);
    json_decref(j);
    return r;
}

/* What symfony/mercure's LcobucciFactory signs for a publisher and a subscriber. */
static void
test_signed_symfony_tokens(void **state)
{
    (void)state;
    struct rp_diag d = {0};
    struct rp_jwt_keys *keys = NULL;
    assert_int_equal(rp_jwt_keys_load(&keys, SECRET, NULL, NULL, &d), 0);
    int64_t now = (int64_t)time(NULL) * 1000;
    char claims[256];
    snprintf(claims, sizeof(claims),
             "{\"mercure\":{\"publish\":[\"*\"],\"subscribe\":[\"https://example.com/books/1\"]},"
             "\"exp\":%lld}",
             (long long)(now / 1000 + 60));
    char *token = NULL;
    assert_int_equal(rp_jwt_sign(SECRET, NULL, NULL, claims, &token, &d), 0);
    struct rp_grant g = {0};
    json_t *c = NULL;
    bool at = true;
    assert_int_equal(rp_jwt_verify_claims(keys, token, strlen(token), now, NULL, &g, &c, &at),
                     RP_AUTH_OK);
    assert_non_null(c);
    struct rp_claims_mercure m;
    assert_int_equal(rp_claims_mercure_read(c, &m), RP_AUTH_OK);
    assert_true(m.has_publish);
    assert_int_equal(m.n_publish, 1);
    assert_true(rp_claims_selectors_all(m.publish, m.n_publish));
    assert_true(m.has_subscribe);
    assert_true(
        rp_claims_selectors_match(m.subscribe, m.n_subscribe, "https://example.com/books/1", 27));
    assert_false(
        rp_claims_selectors_match(m.subscribe, m.n_subscribe, "https://example.com/books/2", 27));
    assert_true(g.expires_ms > now);
    rp_claims_mercure_fini(&m);
    json_decref(c);
    rp_grant_fini(&g);

    /* A token signed with another secret gives no claims at all. */
    free(token);
    assert_int_equal(
        rp_jwt_sign("another secret that is long enough ...", NULL, NULL, claims, &token, &d), 0);
    assert_int_equal(rp_jwt_verify_claims(keys, token, strlen(token), now, NULL, &g, &c, &at),
                     RP_AUTH_BAD_SIGNATURE);
    assert_null(c);
    free(token);
    rp_jwt_keys_free(keys);
}

static void
test_shapes(void **state)
{
    (void)state;
    struct rp_claims_mercure m;
    /* No mercure claim: valid, allows nothing. */
    assert_int_equal(read_json("{\"sub\":\"x\"}", &m), RP_AUTH_OK);
    assert_false(m.has_publish);
    assert_false(m.has_subscribe);
    rp_claims_mercure_fini(&m);
    /* An empty publish list is present but matches nothing. */
    assert_int_equal(read_json("{\"mercure\":{\"publish\":[],\"subscribe\":null}}", &m),
                     RP_AUTH_OK);
    assert_true(m.has_publish);
    assert_false(m.has_subscribe);
    assert_false(rp_claims_selectors_match(m.publish, m.n_publish, "a", 1));
    rp_claims_mercure_fini(&m);
    /* A URI template matches what it can expand to; an invalid one grants nothing; an exact
     * IRI next to them still does. */
    assert_int_equal(read_json("{\"mercure\":{\"subscribe\":[\"https://e.x/books/{id}\","
                               "\"https://e.x/{\",\"https://e.x/a\"]}}",
                               &m),
                     RP_AUTH_OK);
    assert_true(rp_claims_selectors_match(m.subscribe, m.n_subscribe, "https://e.x/books/1", 19));
    assert_false(
        rp_claims_selectors_match(m.subscribe, m.n_subscribe, "https://e.x/books/1/x", 21));
    assert_false(rp_claims_selectors_match(m.subscribe, m.n_subscribe, "https://e.x/b", 13));
    assert_true(rp_claims_selectors_match(m.subscribe, m.n_subscribe, "https://e.x/a", 13));
    assert_false(rp_claims_selectors_all(m.subscribe, m.n_subscribe));
    rp_claims_mercure_fini(&m);
    /* Malformed: refused and zeroed. */
    assert_int_equal(read_json("{\"mercure\":[\"*\"]}", &m), RP_AUTH_MALFORMED);
    assert_null(m.publish);
    assert_int_equal(read_json("{\"mercure\":{\"publish\":\"*\"}}", &m), RP_AUTH_MALFORMED);
    assert_int_equal(read_json("{\"mercure\":{\"publish\":[\"*\"],\"subscribe\":[\"a\",1]}}", &m),
                     RP_AUTH_MALFORMED);
    assert_null(m.publish);
    assert_int_equal(m.n_publish, 0);
}

/* Protocol 1.0: authorization_details entries of type mercure, merged with a mercure
 * claim; URL patterns grant what they match; any malformed entry refuses the token. */
static void
test_authorization_details(void **state)
{
    (void)state;
    struct rp_claims_mercure m;
    assert_int_equal(
        read_json("{\"authorization_details\":["
                  "{\"type\":\"openid_credential\",\"x\":1},"
                  "{\"type\":\"mercure\",\"actions\":[\"subscribe\"],\"topics\":["
                  "{\"match\":\"https://e.x/books/1\",\"matchType\":\"Exact\"},"
                  "{\"match\":\"https://e.x/books/:id\",\"matchType\":\"URLPattern\"}]},"
                  "{\"type\":\"mercure\",\"actions\":[\"publish\",\"subscribe\"],"
                  "\"topics\":[{\"match\":\"https://e.x/a\"}]}],"
                  "\"mercure\":{\"publish\":[\"https://e.x/b\"]}}",
                  &m),
        RP_AUTH_OK);
    assert_true(m.has_publish);
    assert_true(m.has_subscribe);
    assert_true(rp_claims_selectors_match(m.subscribe, m.n_subscribe, "https://e.x/books/1", 19));
    /* The URL pattern grants what it matches, and only that. */
    assert_true(rp_claims_selectors_match(m.subscribe, m.n_subscribe, "https://e.x/books/2", 19));
    assert_false(
        rp_claims_selectors_match(m.subscribe, m.n_subscribe, "https://e.x/books/2/x", 21));
    assert_false(rp_claims_selectors_match(m.subscribe, m.n_subscribe, "https://e.x/books/", 18));
    assert_true(rp_claims_selectors_match(m.subscribe, m.n_subscribe, "https://e.x/a", 13));
    assert_true(rp_claims_selectors_match(m.publish, m.n_publish, "https://e.x/a", 13));
    assert_true(rp_claims_selectors_match(m.publish, m.n_publish, "https://e.x/b", 13));
    assert_false(rp_claims_selectors_match(m.publish, m.n_publish, "https://e.x/books/1", 19));
    rp_claims_mercure_fini(&m);
    assert_int_equal(read_json("{\"authorization_details\":[{\"type\":\"mercure\","
                               "\"actions\":[\"publish\"],\"topics\":[{\"match\":\"*\","
                               "\"matchType\":\"URLPattern\"}]}]}",
                               &m),
                     RP_AUTH_OK);
    assert_true(rp_claims_selectors_all(m.publish, m.n_publish));
    assert_false(m.has_subscribe);
    rp_claims_mercure_fini(&m);
    /* A pattern with a regular-expression group is not malformed: it grants nothing. */
    assert_int_equal(read_json("{\"authorization_details\":[{\"type\":\"mercure\","
                               "\"actions\":[\"publish\"],\"topics\":[{\"match\":"
                               "\"https://e.x/books/(\\\\d+)\",\"matchType\":\"URLPattern\"}]}]}",
                               &m),
                     RP_AUTH_OK);
    assert_true(m.has_publish);
    assert_false(rp_claims_selectors_match(m.publish, m.n_publish, "https://e.x/books/1", 19));
    assert_false(rp_claims_selectors_all(m.publish, m.n_publish));
    rp_claims_mercure_fini(&m);
    const char *bad[] = {
        "{\"authorization_details\":{}}",
        "{\"authorization_details\":[1]}",
        "{\"authorization_details\":[{\"actions\":[\"publish\"]}]}",
        "{\"authorization_details\":[{\"type\":\"mercure\",\"actions\":[],"
        "\"topics\":[{\"match\":\"a\"}]}]}",
        "{\"authorization_details\":[{\"type\":\"mercure\",\"actions\":[\"delete\"],"
        "\"topics\":[{\"match\":\"a\"}]}]}",
        "{\"authorization_details\":[{\"type\":\"mercure\",\"actions\":[\"publish\"],"
        "\"topics\":[\"a\"]}]}",
        "{\"authorization_details\":[{\"type\":\"mercure\",\"actions\":[\"publish\"],"
        "\"topics\":[{\"match\":\"a\",\"matchType\":\"Regex\"}]}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(read_json(bad[i], &m), RP_AUTH_MALFORMED);
        assert_null(m.publish);
        assert_null(m.subscribe);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_symfony_tokens),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_authorization_details),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
