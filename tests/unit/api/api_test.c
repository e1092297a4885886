/* SPDX-License-Identifier: MIT */
/*
 * The API's handlers without a server: a front on a loop of the test's own, the API context
 * a composition root would build, and "test connections" (one end of a socket pair handed
 * to the front like a connection from the previous process). Each case writes raw HTTP and
 * reads what a client would: status line, headers, body, stream frames.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/api.h"
#include "api/guard.h"
#include "base/clock.h"
#include "config/config.h"
#include "core/hub.h"
#include "delivery/fanout.h"
#include "front/front.h"
#include "loop/loop.h"

struct fixture {
    struct rp_hub *hub;
    struct rp_guard *guard;
    struct rp_config *cfg;
    struct rp_loop *loop;
    struct rp_stats stats;
    struct rp_fanout *fanout;
    struct rp_front *front;
    struct rp_api_node node;
    struct rp_api api;
    atomic_bool ready, stopping;
};

static struct fixture *fx;

static void
policy_for(void *ctx, const char *name, size_t len, struct rp_topic_policy *out)
{
    (void)ctx;
    (void)name;
    (void)len;
    memset(out, 0, sizeof(*out));
    out->history =
        (struct rp_eventlog_limits){.max_count = 1000, .max_bytes = 1 << 20, .max_age_ms = 3600000};
    out->lag_events = 500;
    out->lag_bytes = 1 << 19;
}

static void
advanced(void *ctx, unsigned worker, struct rp_topic *t)
{
    (void)worker;
    rp_fanout_notify_advanced(((struct fixture *)ctx)->fanout, t);
}

static void
created(void *ctx, unsigned worker, struct rp_topic *t)
{
    (void)worker;
    rp_fanout_notify_created(((struct fixture *)ctx)->fanout, t);
}

static void
metrics(void *ctx, bool json, struct rp_buf *out)
{
    (void)ctx;
    rp_buf_append_str(out, json ? "{\"metrics\":true}\n" : "# metrics\n");
}

static int
setup(void **state)
{
    (void)state;
    fx = calloc(1, sizeof(*fx));
    struct rp_diag diag = {{0}};
    static const char conf[] = "cors_origins = https://app.example\n";
    assert_int_equal(
        rp_config_load_string(conf, sizeof(conf) - 1, NULL, NULL, 0, NULL, &fx->cfg, &diag), 0);
    struct rp_hub_config hc = {.max_topics = 100, .max_data = 1 << 16, .epoch = 0x0a0b0c0d};
    struct rp_hub_hooks hooks = {
        .policy_for = policy_for, .topic_advanced = advanced, .topic_created = created, .ctx = fx};
    fx->hub = rp_hub_new(&hc, &hooks);
    struct rp_guard_config gc = {0};
    assert_int_equal(rp_guard_new(&gc, &fx->guard, &diag), 0);
    fx->loop = rp_loop_new();
    fx->fanout = rp_fanout_new(fx->hub, 0, fx->loop, &fx->stats, false, NULL);
    atomic_init(&fx->ready, true);
    atomic_init(&fx->stopping, false);
    fx->node = (struct rp_api_node){
        .hub = fx->hub,
        .guard = fx->guard,
        .render_metrics = metrics,
        .ready = &fx->ready,
        .stopping = &fx->stopping,
        .started_ms = rp_clock_now_ms(),
        .n_workers = 1,
    };
    fx->api = (struct rp_api){.node = &fx->node, .stats = &fx->stats};
    struct rp_front_setup fs = {
        .loop = fx->loop,
        .fanout = fx->fanout,
        .stats = &fx->stats,
        .cfg = fx->cfg,
        .handler = rp_api_handle,
        .handler_ctx = &fx->api,
    };
    fx->front = rp_front_new(&fs);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    rp_front_close_all(fx->front);
    rp_front_reap(fx->front);
    rp_front_free(fx->front);
    rp_fanout_free(fx->fanout);
    rp_loop_free(fx->loop);
    rp_guard_free(fx->guard);
    rp_hub_free(fx->hub);
    rp_config_free(fx->cfg);
    free(fx);
    return 0;
}

/* Runs the worker's loop turn a few times. */
static void
turn(void)
{
    for (int i = 0; i < 5; i++) {
        rp_loop_run_once(fx->loop, 2);
        while (rp_fanout_run(fx->fanout, 16))
            ;
        rp_front_reap(fx->front);
    }
}

/* A test connection that has sent <request>; returns the client's end. */
static int
connect_with(const char *request)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct rp_conn_export e = {.fd = sv[0], .kind = RP_CONN_HTTP};
    assert_int_equal(rp_front_adopt(fx->front, &e), 0);
    assert_int_equal(write(sv[1], request, strlen(request)), (ssize_t)strlen(request));
    return sv[1];
}

/* Everything the server wrote to <fd> so far (after a few loop turns). */
static char *
received(int fd)
{
    static char buf[65536];
    size_t n = 0;
    for (int round = 0; round < 20; round++) {
        turn();
        ssize_t r;
        while ((r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
            n += (size_t)r;
        if (n && round >= 2)
            break;
    }
    buf[n] = '\0';
    return buf;
}

/* One request on a fresh connection; the whole answer. */
static char *
exchange(const char *request)
{
    int fd = connect_with(request);
    char *out = received(fd);
    close(fd);
    turn();
    return out;
}

/* A request with <body> and its Content-Length. */
static const char *
with_body(const char *head, const char *body)
{
    static char req[8192];
    snprintf(req, sizeof(req), "%sContent-Length: %zu\r\n\r\n%s", head, strlen(body), body);
    return req;
}

static void
test_publish_answers_the_id(void **state)
{
    (void)state;
    char *r = exchange(
        "POST /publish/news HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello");
    assert_non_null(strstr(r, "HTTP/1.1 200 "));
    assert_non_null(strstr(r, "{\"id\":\"0a0b0c0d-1\",\"topic\":\"news\",\"duplicate\":false}"));
    struct rp_topic *t = rp_hub_find(fx->hub, "news", 4);
    assert_non_null(t);
    assert_int_equal(rp_topic_last_seq(t), 1);
}

static void
test_batch_is_all_or_nothing(void **state)
{
    (void)state;
    const char *head =
        "POST /publish HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n";
    char *r = exchange(
        with_body(head, "[{\"topic\":\"a\",\"data\":\"1\"},{\"topic\":\"b\",\"data\":\"2\"}]"));
    assert_non_null(strstr(r, "HTTP/1.1 200 "));
    assert_non_null(strstr(r, "{\"ids\":[\"0a0b0c0d-1\",\"0a0b0c0d-2\"],\"duplicates\":[]}"));
    r = exchange(
        with_body(head, "[{\"topic\":\"a\",\"data\":\"3\"},{\"topic\":\"b c\",\"data\":\"4\"}]"));
    assert_non_null(strstr(r, "HTTP/1.1 400 "));
    assert_non_null(strstr(r, "event 1: invalid topic name"));
    assert_int_equal(rp_hub_last_seq(fx->hub), 2);
}

static void
test_wrong_method_says_what_is_allowed(void **state)
{
    (void)state;
    char *r = exchange("GET /publish/news HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 405 "));
    assert_non_null(strstr(r, "Allow: POST\r\n"));
    assert_non_null(strstr(r, "GET is not allowed here; use POST"));
    r = exchange("POST /topics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 405 "));
    assert_non_null(strstr(r, "Allow: GET, HEAD\r\n"));
}

/* HEAD gets what GET would, without the body; on /events, without a stream. */
static void
test_head_is_get_without_a_body(void **state)
{
    (void)state;
    char *r = exchange("HEAD /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 200 "));
    assert_non_null(strstr(r, "Content-Type: application/json"));
    assert_null(strstr(r, "\"status\":\"ok\""));
    const char *len = strstr(r, "Content-Length: ");
    assert_non_null(len);
    assert_true(strtol(len + 16, NULL, 10) > 0);            /* the length a GET's body has */
    assert_string_equal(strstr(r, "\r\n\r\n"), "\r\n\r\n"); /* nothing after the headers */
    r = exchange("HEAD /events/news HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\n"
                 "Host: localhost\r\n\r\n");
    assert_non_null(strstr(r, "Content-Type: text/event-stream"));
    assert_non_null(strstr(r, "\"status\":\"ok\"")); /* no stream: the next request is read */
    assert_null(strstr(r, ":ok"));
}

static void
test_unknown_path_is_404(void **state)
{
    (void)state;
    char *r = exchange("GET /nothing/here HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 404 "));
    assert_non_null(strstr(r, "no such endpoint: /nothing/here"));
}

static void
test_topic_info_and_log(void **state)
{
    (void)state;
    exchange(
        "POST /publish/room/1?event=joined HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\n"
        "ann");
    char *r = exchange("GET /topics/room/1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 200 "));
    assert_non_null(strstr(r, "\"name\":\"room/1\""));
    assert_non_null(strstr(r, "\"events\":1"));
    r = exchange("GET /topics/room/1/events HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_non_null(strstr(r, "\"event\":\"joined\",\"data\":\"ann\""));
    r = exchange("GET /topics/room/2 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 404 "));
}

static void
test_stream_gets_what_is_published(void **state)
{
    (void)state;
    int fd = connect_with("GET /events/live HTTP/1.1\r\nHost: localhost\r\n\r\n");
    char *head = received(fd);
    assert_non_null(strstr(head, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(head, "Content-Type: text/event-stream"));
    exchange("POST /publish/live HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi");
    char *frames = received(fd);
    assert_non_null(strstr(frames, "id: 0a0b0c0d-1\ndata: hi\n\n"));
    close(fd);
}

static void
test_pipelined_requests_are_answered_in_order(void **state)
{
    (void)state;
    char *r = exchange("POST /publish/p HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\n1"
                       "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
                       "POST /publish/p HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\n2");
    char *a = strstr(r, "\"id\":\"0a0b0c0d-1\"");
    char *b = strstr(r, "\"status\":\"ok\"");
    char *c = strstr(r, "\"id\":\"0a0b0c0d-2\"");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_true(a < b && b < c);
}

static void
test_cross_site_publish_is_refused(void **state)
{
    (void)state;
    char *r =
        exchange("POST /publish/x HTTP/1.1\r\nHost: localhost\r\nOrigin: https://evil.example\r\n"
                 "Content-Length: 1\r\n\r\n1");
    assert_non_null(strstr(r, "HTTP/1.1 403 "));
    assert_null(rp_hub_find(fx->hub, "x", 1));
    r = exchange("POST /publish/x HTTP/1.1\r\nHost: localhost\r\nOrigin: https://app.example\r\n"
                 "Content-Length: 1\r\n\r\n1");
    assert_non_null(strstr(r, "HTTP/1.1 200 "));
    assert_non_null(strstr(r, "Access-Control-Allow-Origin: https://app.example\r\n"));
}

static void
test_node_endpoints(void **state)
{
    (void)state;
    char *r = exchange("GET /metrics?format=json HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_non_null(strstr(r, "{\"metrics\":true}"));
    r = exchange("GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_non_null(strstr(r, "{\"ready\":true}"));
    atomic_store(&fx->stopping, true);
    r = exchange("GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 503 "));
    assert_non_null(strstr(r, "\"reason\":\"draining\""));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_answers_the_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_is_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_method_says_what_is_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_path_is_404, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_is_get_without_a_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topic_info_and_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_gets_what_is_published, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_requests_are_answered_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cross_site_publish_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_endpoints, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
