/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of http/router, over the API's route table as it stands: every endpoint,
 * 404, 405 with the Allow value from the table, HEAD, trailing slashes, and the
 * /topics/{name}/events suffix whose name may hold slashes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"

/* What a handler saw: which one ran, with which context and rest. */
struct call {
    const char *handler;
    char rest[512];
    size_t rest_strlen;
    const struct rp_http_request *req;
    int n_calls;
};

#define HANDLER(name)                                                                              \
    static void name(void *ctx, const struct rp_http_request *req, const char *rest)               \
    {                                                                                              \
        struct call *c = ctx;                                                                      \
        c->handler = #name;                                                                        \
        c->rest_strlen = strlen(rest);                                                             \
        snprintf(c->rest, sizeof(c->rest), "%s", rest);                                            \
        c->req = req;                                                                              \
        c->n_calls++;                                                                              \
    }

HANDLER(on_events)
HANDLER(on_publish_json)
HANDLER(on_publish_raw)
HANDLER(on_submit)
HANDLER(on_topics_list)
HANDLER(on_topic_info)
HANDLER(on_topic_events)
HANDLER(on_metrics)
HANDLER(on_dashboard)
HANDLER(on_ready)
HANDLER(on_ping)
HANDLER(on_health)
HANDLER(on_index)
HANDLER(on_get)
HANDLER(on_post)
HANDLER(on_head)

/* The API's routes; OPTIONS (CORS preflight) is answered before routing. */
static const struct rp_route api_routes[] = {
    {"/events", RP_ROUTE_EXACT, RP_ROUTE_GET, on_events, NULL},
    {"/events/", RP_ROUTE_PREFIX, RP_ROUTE_GET, on_events, NULL},
    {"/publish", RP_ROUTE_EXACT, RP_ROUTE_POST, on_publish_json, NULL},
    {"/publish/", RP_ROUTE_PREFIX, RP_ROUTE_POST, on_publish_raw, NULL},
    {"/submit", RP_ROUTE_EXACT, RP_ROUTE_POST, on_submit, NULL},
    {"/topics", RP_ROUTE_EXACT, RP_ROUTE_GET, on_topics_list, NULL},
    {"/topics/", RP_ROUTE_EXACT, RP_ROUTE_GET, on_topics_list, NULL},
    {"/topics/", RP_ROUTE_SUFFIX, RP_ROUTE_GET, on_topic_events, "/events"},
    {"/topics/", RP_ROUTE_PREFIX, RP_ROUTE_GET, on_topic_info, NULL},
    {"/metrics", RP_ROUTE_EXACT, RP_ROUTE_GET, on_metrics, NULL},
    {"/dashboard", RP_ROUTE_EXACT, RP_ROUTE_GET, on_dashboard, NULL},
    {"/dashboard/", RP_ROUTE_EXACT, RP_ROUTE_GET, on_dashboard, NULL},
    {"/readyz", RP_ROUTE_EXACT, RP_ROUTE_GET, on_ready, NULL},
    {"/ping", RP_ROUTE_EXACT, RP_ROUTE_GET, on_ping, NULL},
    {"/healthz", RP_ROUTE_EXACT, RP_ROUTE_GET, on_health, NULL},
    {"/", RP_ROUTE_EXACT, RP_ROUTE_GET, on_index, NULL},
};
static const struct rp_router api = {api_routes, sizeof(api_routes) / sizeof(api_routes[0]), 0};

static const char *
method_name(enum rp_http_method m)
{
    switch (m) {
    case RP_HTTP_METHOD_GET:
        return "GET";
    case RP_HTTP_METHOD_HEAD:
        return "HEAD";
    case RP_HTTP_METHOD_POST:
        return "POST";
    case RP_HTTP_METHOD_PUT:
        return "PUT";
    case RP_HTTP_METHOD_DELETE:
        return "DELETE";
    case RP_HTTP_METHOD_OPTIONS:
        return "OPTIONS";
    case RP_HTTP_METHOD_OTHER:
        break;
    }
    return "PATCH";
}

static struct rp_http_request
request(enum rp_http_method m, const char *path)
{
    return (struct rp_http_request){
        .method = m,
        .method_name = method_name(m),
        .target = path,
        .target_len = strlen(path),
        .path = path,
        .path_len = strlen(path),
        .query = "",
    };
}

/* <method> <path> must reach <handler> with <rest>, through both match and dispatch. */
static void
expect_route(const struct rp_router *r, enum rp_http_method m, const char *path,
             const char *handler, const char *rest)
{
    struct rp_http_request req = request(m, path);
    struct call c = {0};
    struct rp_router_miss miss = {0};
    int rc = rp_router_dispatch(r, &c, &req, &miss);
    if (rc != 0)
        fail_msg("%s %s: %d %s", method_name(m), path, miss.status, miss.message);
    assert_int_equal(c.n_calls, 1);
    assert_string_equal(c.handler, handler);
    assert_string_equal(c.rest, rest);
    assert_int_equal(c.rest_strlen, strlen(rest));
    assert_ptr_equal(c.req, &req);

    struct rp_route_hit hit;
    const struct rp_route *route = rp_router_match(r, m, path, &hit);
    assert_non_null(route);
    assert_int_equal(hit.status, 0);
    assert_int_equal(hit.rest_len, strlen(rest));
    assert_memory_equal(hit.rest, rest, hit.rest_len);
    /* The rest points into the path. */
    assert_true(hit.rest >= path && hit.rest + hit.rest_len <= path + strlen(path));
}

/* <method> <path> must be refused with <status>, <message> and <headers>; no handler runs. */
static void
expect_miss(const struct rp_router *r, enum rp_http_method m, const char *path, int status,
            const char *message, const char *headers)
{
    struct rp_http_request req = request(m, path);
    struct call c = {0};
    struct rp_router_miss miss = {0};
    int rc = rp_router_dispatch(r, &c, &req, &miss);
    assert_int_equal(rc, status == 404 ? -ENOENT : -EOPNOTSUPP);
    assert_int_equal(c.n_calls, 0);
    assert_int_equal(miss.status, status);
    assert_string_equal(miss.message, message);
    assert_string_equal(miss.headers, headers);

    struct rp_route_hit hit;
    assert_null(rp_router_match(r, m, path, &hit));
    assert_int_equal(hit.status, status);
    if (status == 404)
        assert_int_equal(hit.allow, 0);
}

static void
test_every_endpoint(void **state)
{
    const enum rp_http_method get = RP_HTTP_METHOD_GET, post = RP_HTTP_METHOD_POST;
    expect_route(&api, get, "/events", "on_events", "");
    expect_route(&api, get, "/events/", "on_events", "");
    expect_route(&api, get, "/events/news", "on_events", "news");
    expect_route(&api, get, "/events/sport/+", "on_events", "sport/+");
    expect_route(&api, get, "/events/#", "on_events", "#");
    expect_route(&api, post, "/publish", "on_publish_json", "");
    expect_route(&api, post, "/publish/", "on_publish_raw", "");
    expect_route(&api, post, "/publish/news/uk", "on_publish_raw", "news/uk");
    expect_route(&api, post, "/submit", "on_submit", "");
    expect_route(&api, get, "/topics", "on_topics_list", "");
    expect_route(&api, get, "/topics/", "on_topics_list", "");
    expect_route(&api, get, "/topics/news", "on_topic_info", "news");
    expect_route(&api, get, "/metrics", "on_metrics", "");
    expect_route(&api, get, "/dashboard", "on_dashboard", "");
    expect_route(&api, get, "/dashboard/", "on_dashboard", "");
    expect_route(&api, get, "/readyz", "on_ready", "");
    expect_route(&api, get, "/ping", "on_ping", "");
    expect_route(&api, get, "/healthz", "on_health", "");
    expect_route(&api, get, "/", "on_index", "");
}

/* /topics/{name}/events: the name may hold slashes, and even end in "/events". */
static void
test_topic_events_suffix(void **state)
{
    const enum rp_http_method get = RP_HTTP_METHOD_GET;
    expect_route(&api, get, "/topics/a/events", "on_topic_events", "a");
    expect_route(&api, get, "/topics/a/b/events", "on_topic_events", "a/b");
    expect_route(&api, get, "/topics/a/b/c/events", "on_topic_events", "a/b/c");
    expect_route(&api, get, "/topics/a/events/events", "on_topic_events", "a/events");
    /* Not the suffix route: the name would be empty, or there is no "/events" after it. */
    expect_route(&api, get, "/topics/events", "on_topic_info", "events");
    expect_route(&api, get, "/topics//events", "on_topic_info", "/events");
    expect_route(&api, get, "/topics/a/b", "on_topic_info", "a/b");
    expect_route(&api, get, "/topics/a/events/", "on_topic_info", "a/events/");
    expect_route(&api, get, "/topics/a/eventsx", "on_topic_info", "a/eventsx");
    expect_route(&api, get, "/topics/a/Events", "on_topic_info", "a/Events");

    /* match gives the rest inside the path, not NUL-terminated; dispatch gave a copy. */
    static const char path[] = "/topics/a/b/events";
    struct rp_route_hit hit;
    const struct rp_route *r = rp_router_match(&api, get, path, &hit);
    assert_non_null(r);
    assert_ptr_equal(r->handler, on_topic_events);
    assert_ptr_equal(hit.rest, path + 8);
    assert_int_equal(hit.rest_len, 3);
    assert_int_equal(hit.rest[hit.rest_len], '/');

    expect_miss(&api, RP_HTTP_METHOD_POST, "/topics/a/b/events", 405,
                "POST is not allowed here; use GET", "Allow: GET\r\n");
}

static void
test_not_found(void **state)
{
    const enum rp_http_method get = RP_HTTP_METHOD_GET;
    expect_miss(&api, get, "/nothing", 404, "no such endpoint: /nothing", "");
    expect_miss(&api, RP_HTTP_METHOD_DELETE, "/nothing", 404, "no such endpoint: /nothing", "");
    /* Paths are exact: no prefix of a word, no case folding, no merged or added slashes. */
    expect_miss(&api, get, "/eventsx", 404, "no such endpoint: /eventsx", "");
    expect_miss(&api, get, "/Events", 404, "no such endpoint: /Events", "");
    expect_miss(&api, get, "//events", 404, "no such endpoint: //events", "");
    expect_miss(&api, get, "/metrics/", 404, "no such endpoint: /metrics/", "");
    expect_miss(&api, get, "/healthz/", 404, "no such endpoint: /healthz/", "");
    expect_miss(&api, get, "/submit/", 404, "no such endpoint: /submit/", "");
    expect_miss(&api, get, "/dashboard//", 404, "no such endpoint: /dashboard//", "");
    expect_miss(&api, get, "/topic", 404, "no such endpoint: /topic", "");
    expect_miss(&api, get, "", 404, "no such endpoint: ", "");

    /* A long path is cut in the message. */
    char path[400], want[300];
    path[0] = '/';
    memset(path + 1, 'p', sizeof(path) - 2);
    path[sizeof(path) - 1] = '\0';
    snprintf(want, sizeof(want), "no such endpoint: %.200s", path);
    expect_miss(&api, get, path, 404, want, "");

    /* An empty table has nothing. */
    const struct rp_router none = {NULL, 0, RP_ROUTE_OPTIONS};
    expect_miss(&none, get, "/", 404, "no such endpoint: /", "");
}

static void
test_method_not_allowed(void **state)
{
    expect_miss(&api, RP_HTTP_METHOD_POST, "/events", 405, "POST is not allowed here; use GET",
                "Allow: GET\r\n");
    expect_miss(&api, RP_HTTP_METHOD_PUT, "/events/news", 405, "PUT is not allowed here; use GET",
                "Allow: GET\r\n");
    expect_miss(&api, RP_HTTP_METHOD_GET, "/publish", 405, "GET is not allowed here; use POST",
                "Allow: POST\r\n");
    /* As tests/protocol/cases/010-bad-requests.case has it. */
    expect_miss(&api, RP_HTTP_METHOD_DELETE, "/publish/x", 405,
                "DELETE is not allowed here; use POST", "Allow: POST\r\n");
    expect_miss(&api, RP_HTTP_METHOD_GET, "/submit", 405, "GET is not allowed here; use POST",
                "Allow: POST\r\n");
    expect_miss(&api, RP_HTTP_METHOD_POST, "/topics/", 405, "POST is not allowed here; use GET",
                "Allow: GET\r\n");
    expect_miss(&api, RP_HTTP_METHOD_DELETE, "/topics/news", 405,
                "DELETE is not allowed here; use GET", "Allow: GET\r\n");
    expect_miss(&api, RP_HTTP_METHOD_POST, "/metrics", 405, "POST is not allowed here; use GET",
                "Allow: GET\r\n");
    expect_miss(&api, RP_HTTP_METHOD_POST, "/dashboard/", 405, "POST is not allowed here; use GET",
                "Allow: GET\r\n");
    expect_miss(&api, RP_HTTP_METHOD_POST, "/", 405, "POST is not allowed here; use GET",
                "Allow: GET\r\n");
    /* A method llhttp knows but we do not (OTHER) is named as sent. */
    expect_miss(&api, RP_HTTP_METHOD_OTHER, "/events", 405, "PATCH is not allowed here; use GET",
                "Allow: GET\r\n");
    /* OPTIONS reaching the router (the API answers it before) is just another method. */
    expect_miss(&api, RP_HTTP_METHOD_OPTIONS, "/ping", 405, "OPTIONS is not allowed here; use GET",
                "Allow: GET\r\n");

    struct rp_route_hit hit;
    assert_null(rp_router_match(&api, RP_HTTP_METHOD_PUT, "/publish", &hit));
    assert_int_equal(hit.status, 405);
    assert_int_equal(hit.allow, RP_ROUTE_POST);
}

/* HEAD is not GET unless a route says so: an event stream cannot answer HEAD usefully. */
static void
test_head(void **state)
{
    expect_miss(&api, RP_HTTP_METHOD_HEAD, "/healthz", 405, "HEAD is not allowed here; use GET",
                "Allow: GET\r\n");
    expect_miss(&api, RP_HTTP_METHOD_HEAD, "/events/news", 405, "HEAD is not allowed here; use GET",
                "Allow: GET\r\n");
    static const struct rp_route routes[] = {
        {"/healthz", RP_ROUTE_EXACT, RP_ROUTE_GET | RP_ROUTE_HEAD, on_health, NULL},
    };
    const struct rp_router r = {routes, 1, 0};
    expect_route(&r, RP_HTTP_METHOD_HEAD, "/healthz", "on_health", "");
    expect_route(&r, RP_HTTP_METHOD_GET, "/healthz", "on_health", "");
    expect_miss(&r, RP_HTTP_METHOD_POST, "/healthz", 405, "POST is not allowed here; use GET, HEAD",
                "Allow: GET, HEAD\r\n");
}

/* Allow lists the methods of every route that has the path, plus extra_allow. */
static void
test_allow_from_table(void **state)
{
    static const struct rp_route routes[] = {
        {"/x", RP_ROUTE_EXACT, RP_ROUTE_GET, on_get, NULL},
        {"/x/", RP_ROUTE_PREFIX, RP_ROUTE_POST, on_post, NULL},
        {"/x", RP_ROUTE_EXACT, RP_ROUTE_POST, on_post, NULL},
        {"/x/", RP_ROUTE_SUFFIX, RP_ROUTE_DELETE, on_head, "/y"},
        /* Bit 0 (OTHER) in a table is never allowed nor listed. */
        {"/o", RP_ROUTE_EXACT, RP_ROUTE_METHOD(RP_HTTP_METHOD_OTHER) | RP_ROUTE_PUT, on_get, NULL},
        {"/z", RP_ROUTE_EXACT, RP_ROUTE_METHOD(RP_HTTP_METHOD_OTHER), on_get, NULL},
    };
    struct rp_router r = {routes, sizeof(routes) / sizeof(routes[0]), 0};
    expect_route(&r, RP_HTTP_METHOD_GET, "/x", "on_get", "");
    /* A later route with the same path serves the other method. */
    expect_route(&r, RP_HTTP_METHOD_POST, "/x", "on_post", "");
    expect_miss(&r, RP_HTTP_METHOD_PUT, "/x", 405, "PUT is not allowed here; use GET, POST",
                "Allow: GET, POST\r\n");
    /* Two routes have /x/a/y: the prefix (POST) and the suffix (DELETE). */
    expect_route(&r, RP_HTTP_METHOD_DELETE, "/x/a/y", "on_head", "a");
    expect_route(&r, RP_HTTP_METHOD_POST, "/x/a/y", "on_post", "a/y");
    expect_miss(&r, RP_HTTP_METHOD_GET, "/x/a/y", 405, "GET is not allowed here; use POST, DELETE",
                "Allow: POST, DELETE\r\n");
    expect_miss(&r, RP_HTTP_METHOD_OTHER, "/o", 405, "PATCH is not allowed here; use PUT",
                "Allow: PUT\r\n");
    expect_miss(&r, RP_HTTP_METHOD_OTHER, "/z", 404, "no such endpoint: /z", "");

    /* A caller that answers OPTIONS everywhere says so once. */
    r.extra_allow = RP_ROUTE_OPTIONS;
    expect_miss(&r, RP_HTTP_METHOD_PUT, "/x", 405,
                "PUT is not allowed here; use GET, POST, OPTIONS", "Allow: GET, POST, OPTIONS\r\n");
    expect_miss(&r, RP_HTTP_METHOD_GET, "/nothing", 404, "no such endpoint: /nothing", "");
}

/* In table order the first route with the path and the method wins. */
static void
test_first_match_wins(void **state)
{
    static const struct rp_route routes[] = {
        {"/a/", RP_ROUTE_PREFIX, RP_ROUTE_GET, on_get, NULL},
        {"/a/b", RP_ROUTE_EXACT, RP_ROUTE_GET, on_post, NULL},
    };
    const struct rp_router r = {routes, 2, 0};
    expect_route(&r, RP_HTTP_METHOD_GET, "/a/b", "on_get", "b");
}

static void
test_allow_format(void **state)
{
    char out[64];
    assert_int_equal(rp_router_allow_format(0, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    unsigned all = RP_ROUTE_OPTIONS | RP_ROUTE_DELETE | RP_ROUTE_PUT | RP_ROUTE_POST |
                   RP_ROUTE_HEAD | RP_ROUTE_GET | RP_ROUTE_METHOD(RP_HTTP_METHOD_OTHER);
    assert_int_equal(rp_router_allow_format(all, out, sizeof(out)), 37);
    assert_string_equal(out, "GET, HEAD, POST, PUT, DELETE, OPTIONS");
    assert_int_equal(rp_router_allow_format(RP_ROUTE_POST | RP_ROUTE_GET, out, sizeof(out)), 9);
    assert_string_equal(out, "GET, POST");
    /* Too small: cut, NUL-terminated, and the full length returned. */
    assert_int_equal(rp_router_allow_format(all, out, 8), 37);
    assert_string_equal(out, "GET, HE");
    assert_int_equal(rp_router_allow_format(all, out, 0), 37);
    /* Bits past the known methods are ignored. */
    assert_int_equal(rp_router_allow_format(1u << 20, out, sizeof(out)), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_endpoint),
        cmocka_unit_test(test_topic_events_suffix),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_allow_from_table),
        cmocka_unit_test(test_first_match_wins),
        cmocka_unit_test(test_allow_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
