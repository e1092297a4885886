/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of auth/auth_webhook: the request body is valid JSON whatever the inputs
 * (quotes, control characters, non-ASCII and non-UTF-8 user agents), and the application's
 * answers parse into grants, refusals or "not understood" with a message.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "auth/auth.h"
#include "auth/auth_webhook.h"
#include "base/diag.h"

/* ---- the request body ---- */

/* Builds a body and parses it back; the caller decrefs the result. */
static json_t *
build_and_load(const char *token, size_t token_len, const char *const *topics, size_t n,
               const char *ip, const char *ua, const char *action)
{
    size_t len = 0;
    char *body = rp_webhook_request_body(token, token_len, topics, n, ip, ua, action, &len);
    assert_non_null(body);
    assert_int_equal(strlen(body), len);
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root)
        fail_msg("not JSON: %s in %s", je.text, body);
    free(body);
    return root;
}

static void
test_body_fields(void **state)
{
    const char *topics[] = {"chat/room1", "news/+", "alerts/#"};
    json_t *root = build_and_load("abc.def", 7, topics, 3, "203.0.113.9", "curl/8.0", "subscribe");
    assert_int_equal(json_object_size(root), 5);
    assert_string_equal(json_string_value(json_object_get(root, "token")), "abc.def");
    json_t *t = json_object_get(root, "topics");
    assert_true(json_is_array(t));
    assert_int_equal(json_array_size(t), 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(json_string_value(json_array_get(t, i)), topics[i]);
    assert_string_equal(json_string_value(json_object_get(root, "ip")), "203.0.113.9");
    assert_string_equal(json_string_value(json_object_get(root, "user_agent")), "curl/8.0");
    assert_string_equal(json_string_value(json_object_get(root, "action")), "subscribe");
    json_decref(root);
}

static void
test_body_exact_bytes(void **state)
{
    const char *topics[] = {"a/b"};
    size_t len;
    char *body = rp_webhook_request_body("t", 1, topics, 1, "::1", NULL, "publish", &len);
    static const char want[] =
        "{\"token\":\"t\",\"topics\":[\"a/b\"],\"ip\":\"::1\",\"user_agent\":null,"
        "\"action\":\"publish\"}";
    assert_string_equal(body, want);
    assert_int_equal(len, sizeof(want) - 1);
    free(body);
    /* No topics, no ip. */
    body = rp_webhook_request_body("", 0, NULL, 0, NULL, NULL, "subscribe", &len);
    assert_string_equal(body, "{\"token\":\"\",\"topics\":[],\"ip\":null,\"user_agent\":null,"
                              "\"action\":\"subscribe\"}");
    free(body);
}

static void
test_body_escaping(void **state)
{
    /* Only <token_len> bytes of the token count, and a NUL inside them is escaped. */
    static const char token[] = "to\"k\\en\n\x01\0zz-not-part";
    const char *ua =
        "Mozilla/5.0 \"quoted\" \\ tab\t bell\x07 caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80";
    json_t *root = build_and_load(token, 10, NULL, 0, "1.2.3.4", ua, "subscribe");
    json_t *tok = json_object_get(root, "token");
    assert_int_equal(json_string_length(tok), 10);
    assert_memory_equal(json_string_value(tok), "to\"k\\en\n\x01\0z", 10);
    assert_string_equal(json_string_value(json_object_get(root, "user_agent")), ua);
    json_decref(root);
}

static void
test_body_not_utf8(void **state)
{
    /* Latin-1 bytes, a lone continuation byte, an overlong and a truncated sequence. */
    const char *ua = "Agent \xe9t\xe9 \x80 \xc0\xaf end \xe2\x9c";
    json_t *root = build_and_load("tok", 3, NULL, 0, NULL, ua, "publish");
    const char *got = json_string_value(json_object_get(root, "user_agent"));
    assert_non_null(got);
    assert_non_null(strstr(got, "Agent \xef\xbf\xbdt\xef\xbf\xbd "));
    assert_non_null(strstr(got, " end "));
    json_decref(root);
}

/* ---- the answer ---- */

struct answer {
    enum rp_auth_result r;
    struct rp_grant g;
    int64_t ttl_ms;
    struct rp_diag err;
};

static void
parse(struct answer *a, const char *body)
{
    memset(a, 0, sizeof(*a));
    a->ttl_ms = -7; /* must be overwritten */
    a->r = rp_webhook_parse_answer(body, strlen(body), &a->g, &a->ttl_ms, NULL, &a->err);
}

static void
assert_zero_grant(const struct rp_grant *g)
{
    assert_null(g->sub);
    assert_null(g->read);
    assert_null(g->write);
    assert_int_equal(g->n_read, 0);
    assert_int_equal(g->n_write, 0);
    assert_int_equal(g->expires_ms, 0);
}

static void
test_answer_valid(void **state)
{
    struct answer a;
    parse(&a, "{\"valid\":true,\"sub\":\"user-42\",\"read\":[\"chat/+\",\"news/#\"],"
              "\"write\":[\"chat/room1\"],\"ttl\":60,\"exp\":1900000000,\"extra\":{\"x\":[1]}}");
    assert_int_equal(a.r, RP_AUTH_OK);
    assert_string_equal(a.err.msg, "");
    assert_string_equal(a.g.sub, "user-42");
    assert_int_equal(a.g.n_read, 2);
    assert_string_equal(a.g.read[0], "chat/+");
    assert_string_equal(a.g.read[1], "news/#");
    assert_int_equal(a.g.n_write, 1);
    assert_string_equal(a.g.write[0], "chat/room1");
    assert_int_equal(a.ttl_ms, 60000);
    assert_int_equal(a.g.expires_ms, 1900000000000LL);
    /* The copied filters answer the grant questions. */
    assert_true(rp_grant_may_read(&a.g, "chat/+", 6));
    assert_true(rp_grant_may_read(&a.g, "news/a/b", 8));
    assert_false(rp_grant_may_read(&a.g, "other", 5));
    assert_true(rp_grant_may_write(&a.g, "chat/room1", 10));
    assert_false(rp_grant_may_write(&a.g, "chat/room2", 10));
    rp_grant_fini(&a.g);
}

static void
test_answer_minimal_and_nulls(void **state)
{
    struct answer a;
    parse(&a, "{\"valid\":true}");
    assert_int_equal(a.r, RP_AUTH_OK);
    assert_int_equal(a.ttl_ms, 0);
    assert_zero_grant(&a.g);
    parse(&a, " {\"valid\" : true, \"sub\":null, \"read\":null, \"write\":[], \"ttl\":null,"
              " \"exp\":null}\n");
    assert_int_equal(a.r, RP_AUTH_OK);
    assert_int_equal(a.ttl_ms, 0);
    assert_zero_grant(&a.g);
}

static void
test_answer_ttl(void **state)
{
    struct answer a;
    parse(&a, "{\"valid\":true,\"ttl\":0}");
    assert_int_equal(a.r, RP_AUTH_OK);
    assert_int_equal(a.ttl_ms, 0);
    parse(&a, "{\"valid\":true,\"ttl\":1.5}");
    assert_int_equal(a.r, RP_AUTH_OK);
    assert_int_equal(a.ttl_ms, 1500);
    parse(&a, "{\"valid\":true,\"ttl\":9223372036854775807}");
    assert_int_equal(a.r, RP_AUTH_OK);
    assert_int_equal(a.ttl_ms, INT64_MAX);
    parse(&a, "{\"valid\":true,\"ttl\":1e300}");
    assert_int_equal(a.r, RP_AUTH_OK);
    assert_int_equal(a.ttl_ms, INT64_MAX);
    static const char *const bad[] = {
        "{\"valid\":true,\"ttl\":-1}",     "{\"valid\":true,\"ttl\":-0.5}",
        "{\"valid\":true,\"ttl\":\"60\"}", "{\"valid\":true,\"ttl\":true}",
        "{\"valid\":true,\"ttl\":[60]}",   "{\"valid\":false,\"ttl\":-3}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        parse(&a, bad[i]);
        assert_int_equal(a.r, RP_AUTH_UNAVAILABLE);
        assert_int_equal(a.ttl_ms, 0);
        assert_non_null(strstr(a.err.msg, "ttl"));
    }
}

static void
test_answer_rejected(void **state)
{
    struct answer a;
    parse(&a, "{\"valid\":false}");
    assert_int_equal(a.r, RP_AUTH_REJECTED);
    assert_string_equal(a.err.msg, "");
    assert_int_equal(a.ttl_ms, 0);
    assert_zero_grant(&a.g);
    /* A reason (control characters made safe for a log line) and a ttl for the refusal; a
     * refusal carries no grant even when the answer lists filters. */
    parse(&a, "{\"valid\":false,\"reason\":\"token\\nrevoked\\u0007\",\"ttl\":30,"
              "\"read\":[\"#\"],\"sub\":\"x\"}");
    assert_int_equal(a.r, RP_AUTH_REJECTED);
    assert_string_equal(a.err.msg, "token revoked ");
    assert_int_equal(a.ttl_ms, 30000);
    assert_zero_grant(&a.g);
    /* A reason of the wrong type is dropped, the refusal stands. */
    parse(&a, "{\"valid\":false,\"reason\":42}");
    assert_int_equal(a.r, RP_AUTH_REJECTED);
    assert_string_equal(a.err.msg, "");
}

static void
test_answer_reason_truncated(void **state)
{
    /* "ééé..." longer than the message holds keeps whole characters only. */
    struct rp_diag err;
    char body[64 + 2 * sizeof(err.msg)];
    size_t n = (size_t)snprintf(body, sizeof(body), "{\"valid\":false,\"reason\":\"");
    for (size_t i = 0; i < sizeof(err.msg); i++, n += 2)
        memcpy(body + n, "\xc3\xa9", 2);
    memcpy(body + n, "\"}", 3);
    n += 2;
    struct rp_grant g = {0};
    int64_t ttl;
    assert_int_equal(rp_webhook_parse_answer(body, n, &g, &ttl, NULL, &err), RP_AUTH_REJECTED);
    size_t len = strlen(err.msg);
    assert_int_equal(len, (sizeof(err.msg) - 1) / 2 * 2);
    for (size_t i = 0; i < len; i += 2)
        assert_memory_equal(err.msg + i, "\xc3\xa9", 2);
    /* No message at all is fine too. */
    assert_int_equal(rp_webhook_parse_answer(body, n, &g, &ttl, NULL, NULL), RP_AUTH_REJECTED);
}

static void
test_answer_malformed(void **state)
{
    static const struct {
        const char *body;
        const char *says; /* part of the message */
    } cases[] = {
        {"", "not JSON"},
        {"not json", "not JSON"},
        {"{\"valid\":true", "not JSON"},
        {"{\"valid\":true} trailing", "not JSON"},
        {"{\"valid\":true,\"valid\":false}", "not JSON"}, /* duplicate keys */
        {"[true]", "not a JSON object"},
        {"true", "not a JSON object"},
        {"\"valid\"", "not a JSON object"},
        {"{}", "valid"},
        {"{\"valid\":1}", "valid"},
        {"{\"valid\":\"true\"}", "valid"},
        {"{\"valid\":null}", "valid"},
        {"{\"Valid\":true}", "valid"},
        {"{\"valid\":true,\"sub\":42}", "sub"},
        {"{\"valid\":true,\"read\":\"chat/#\"}", "read"},
        {"{\"valid\":true,\"read\":{\"a\":1}}", "read"},
        {"{\"valid\":true,\"read\":[\"ok\",7]}", "\"read\"[1]"},
        {"{\"valid\":true,\"write\":[null]}", "\"write\"[0]"},
        {"{\"valid\":true,\"exp\":0}", "exp"},
        {"{\"valid\":true,\"exp\":-5}", "exp"},
        {"{\"valid\":true,\"exp\":\"2030\"}", "exp"},
        {"{\"valid\":true,\"sub\":\"a\\u0000b\"}", "not JSON"}, /* NUL inside a string */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct answer a;
        parse(&a, cases[i].body);
        if (a.r != RP_AUTH_UNAVAILABLE || !strstr(a.err.msg, cases[i].says))
            fail_msg("case %zu (%s): result %d, message \"%s\"", i, cases[i].body, a.r, a.err.msg);
        assert_int_equal(a.ttl_ms, 0);
        assert_zero_grant(&a.g);
    }
}

static void
test_answer_invalid_filters(void **state)
{
    static const char *const bodies[] = {
        "{\"valid\":true,\"sub\":\"u\",\"read\":[\"ok/1\",\"bad+/x\"]}",
        "{\"valid\":true,\"read\":[\"a//b\"]}",
        "{\"valid\":true,\"read\":[\"\"]}",
        "{\"valid\":true,\"read\":[\"a/#/b\"]}",
        "{\"valid\":true,\"read\":[\"ok\"],\"write\":[\"has space\"]}",
        "{\"valid\":true,\"write\":[\"../etc\"]}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct answer a;
        parse(&a, bodies[i]);
        if (a.r != RP_AUTH_UNAVAILABLE || !strstr(a.err.msg, "not a valid topic filter"))
            fail_msg("case %zu (%s): result %d, message \"%s\"", i, bodies[i], a.r, a.err.msg);
        /* What was copied before the bad filter is gone again. */
        assert_zero_grant(&a.g);
    }
}

static void
test_answer_too_many_filters(void **state)
{
    size_t n = RP_WEBHOOK_MAX_FILTERS + 1;
    char *body = malloc(64 + n * 4);
    size_t len = (size_t)snprintf(body, 64, "{\"valid\":true,\"read\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(body + len, 8, "%s\"a\"", i ? "," : "");
    len += (size_t)snprintf(body + len, 8, "]}");
    struct answer a;
    parse(&a, body);
    assert_int_equal(a.r, RP_AUTH_UNAVAILABLE);
    assert_non_null(strstr(a.err.msg, "more than"));
    assert_zero_grant(&a.g);
    /* Exactly the limit is accepted. */
    body[len - 2] = '\0';
    char *cut = strrchr(body, ',');
    memcpy(cut, "]}", 3);
    parse(&a, body);
    assert_int_equal(a.r, RP_AUTH_OK);
    assert_int_equal(a.g.n_read, RP_WEBHOOK_MAX_FILTERS);
    rp_grant_fini(&a.g);
    free(body);
}

static void
test_answer_not_nul_terminated(void **state)
{
    /* Only <len> bytes are read: what follows is not part of the answer. */
    static const char buf[] = "{\"valid\":true}{\"garbage\"";
    struct rp_grant g = {0};
    int64_t ttl = 5;
    struct rp_diag err;
    assert_int_equal(rp_webhook_parse_answer(buf, 14, &g, &ttl, NULL, &err), RP_AUTH_OK);
    assert_int_equal(ttl, 0);
    assert_int_equal(rp_webhook_parse_answer(buf, 13, &g, &ttl, NULL, &err), RP_AUTH_UNAVAILABLE);
    assert_int_equal(rp_webhook_parse_answer(NULL, 0, &g, &ttl, NULL, &err), RP_AUTH_UNAVAILABLE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_fields),
        cmocka_unit_test(test_body_exact_bytes),
        cmocka_unit_test(test_body_escaping),
        cmocka_unit_test(test_body_not_utf8),
        cmocka_unit_test(test_answer_valid),
        cmocka_unit_test(test_answer_minimal_and_nulls),
        cmocka_unit_test(test_answer_ttl),
        cmocka_unit_test(test_answer_rejected),
        cmocka_unit_test(test_answer_reason_truncated),
        cmocka_unit_test(test_answer_malformed),
        cmocka_unit_test(test_answer_invalid_filters),
        cmocka_unit_test(test_answer_too_many_filters),
        cmocka_unit_test(test_answer_not_nul_terminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
