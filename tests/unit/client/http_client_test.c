/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of client/http_client, driven by our loop exactly as a worker drives it, against
 * a tiny HTTP/1.1 server on 127.0.0.1 that this test runs in threads (one per connection):
 * answers with a body, statuses, slow answers hitting the total timeout, a refused port,
 * oversize bodies, cancel and free before completion, concurrency, keep-alive reuse, argument
 * checks, and calls posted from a done callback.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/clock.h"
#include "client/http_client.h"
#include "loop/loop.h"

/* ---- the test server ---- */

#define MAX_CONNS 128
#define BIG_BODY 65536

static char big_body[BIG_BODY]; /* filled with 'x' by main, before any server runs */

struct server {
    int lfd;
    unsigned port;
    pthread_t thread;
    atomic_bool stop;
    atomic_int accepted;
    pthread_mutex_t lock;
    int conn_fd[MAX_CONNS];
    pthread_t conn_thread[MAX_CONNS];
    int n_conns;
    char last_request[8192]; /* the last request to /echo, head and body */
    size_t last_request_len;
};

static void
send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void
send_response(int fd, int status, const char *extra, const char *body, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status,
                     len, extra ? extra : "");
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

/* Waits up to <ms> for the client; false when it closed the connection meanwhile. */
static bool
wait_peer(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, ms);
    if (r <= 0)
        return true;
    char c;
    return recv(fd, &c, 1, MSG_PEEK) > 0;
}

/* Reads one request into <buf>; its length, or 0 when the peer closed. */
static size_t
read_request(int fd, char *buf, size_t cap, size_t *head_len, size_t *body_len)
{
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len == cap - 1)
            return 0;
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            return 0;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    *head_len = (size_t)(end - buf) + 4;
    *body_len = 0;
    for (char *p = buf; p < end; p++) {
        if (strncasecmp(p, "\r\nContent-Length:", 17) == 0) {
            *body_len = strtoul(p + 17, NULL, 10);
            break;
        }
    }
    while (len < *head_len + *body_len && len < cap - 1) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            return 0;
        len += (size_t)n;
    }
    return len;
}

struct conn_arg {
    struct server *s;
    int fd;
};

static void *
conn_main(void *arg)
{
    struct conn_arg *a = arg;
    struct server *s = a->s;
    int fd = a->fd;
    free(a);
    char req[8192];
    for (;;) {
        size_t head_len, body_len;
        size_t len = read_request(fd, req, sizeof(req), &head_len, &body_len);
        if (len == 0)
            return NULL;
        char path[128] = "";
        sscanf(req, "%*s %127s", path);
        if (strcmp(path, "/ok") == 0) {
            send_response(fd, 200, NULL, "hello", 5);
        } else if (strcmp(path, "/status500") == 0) {
            send_response(fd, 500, "Content-Type: application/json\r\n", "{\"e\":1}", 7);
        } else if (strcmp(path, "/echo") == 0) {
            pthread_mutex_lock(&s->lock);
            memcpy(s->last_request, req, len);
            s->last_request_len = len;
            pthread_mutex_unlock(&s->lock);
            send_response(fd, 200, NULL, "echoed", 6);
        } else if (strcmp(path, "/slow") == 0) {
            if (!wait_peer(fd, 3000))
                return NULL;
            send_response(fd, 200, NULL, "late", 4);
        } else if (strcmp(path, "/wait100") == 0) {
            if (!wait_peer(fd, 100))
                return NULL;
            send_response(fd, 200, NULL, "waited", 6);
        } else if (strcmp(path, "/big") == 0) {
            send_response(fd, 200, NULL, big_body, sizeof(big_body));
        } else if (strcmp(path, "/bigchunked") == 0) {
            static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
            char size[32];
            int n = snprintf(size, sizeof(size), "%x\r\n", BIG_BODY);
            send_all(fd, head, sizeof(head) - 1);
            send_all(fd, size, (size_t)n);
            send_all(fd, big_body, sizeof(big_body));
            send_all(fd, "\r\n0\r\n\r\n", 7);
        } else if (strcmp(path, "/stream") == 0) {
            /* An event stream in two writes, then closed by the server. */
            static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                       "Connection: close\r\n\r\ndata: a\n\n";
            send_all(fd, head, sizeof(head) - 1);
            wait_peer(fd, 50);
            send_all(fd, "data: b\n\n", 9);
            close(fd);
            return NULL;
        } else if (strcmp(path, "/nocontent") == 0) {
            send_response(fd, 204, NULL, "", 0);
        } else if (strcmp(path, "/garbage") == 0) {
            static const char junk[] = "this is not HTTP at all\r\n\r\n";
            send_all(fd, junk, sizeof(junk) - 1);
            shutdown(fd, SHUT_WR);
        } else {
            send_response(fd, 404, NULL, "", 0);
        }
    }
}

static void *
server_main(void *arg)
{
    struct server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        atomic_fetch_add(&s->accepted, 1);
        pthread_mutex_lock(&s->lock);
        if (s->n_conns == MAX_CONNS) {
            pthread_mutex_unlock(&s->lock);
            close(fd);
            continue;
        }
        struct conn_arg *a = malloc(sizeof(*a));
        a->s = s;
        a->fd = fd;
        s->conn_fd[s->n_conns] = fd;
        pthread_create(&s->conn_thread[s->n_conns], NULL, conn_main, a);
        s->n_conns++;
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

/* A socket bound to an ephemeral 127.0.0.1 port; its port in *<port>. */
static int
bind_loopback(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static struct server *
server_start(void)
{
    struct server *s = calloc(1, sizeof(*s));
    s->lfd = bind_loopback(&s->port);
    assert_int_equal(listen(s->lfd, 128), 0);
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->stop, false);
    atomic_init(&s->accepted, 0);
    assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
    return s;
}

static void
server_stop(struct server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->lfd);
    for (int i = 0; i < s->n_conns; i++) {
        shutdown(s->conn_fd[i], SHUT_RDWR);
        pthread_join(s->conn_thread[i], NULL);
        close(s->conn_fd[i]);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- the client side ---- */

struct fixture {
    struct server *srv;
    struct rp_loop *loop;
    struct rp_http_client *client;
    int done;  /* callbacks run so far */
    int turns; /* loop turns run so far */
};

struct outcome {
    struct fixture *f;
    int calls;
    int status;
    int error;
    char body[64];
    size_t body_len;
    int64_t elapsed_ms;
};

static void
on_done(void *ctx, const struct rp_http_result *r)
{
    struct outcome *o = ctx;
    o->calls++;
    o->status = r->status;
    o->error = r->error;
    o->body_len = r->body_len;
    o->elapsed_ms = r->elapsed_ms;
    size_t n = r->body_len < sizeof(o->body) - 1 ? r->body_len : sizeof(o->body) - 1;
    memcpy(o->body, r->body, n);
    o->body[n] = '\0';
    assert_non_null(r->detail);
    if (r->error)
        assert_true(r->detail[0] != '\0');
    o->f->done++;
}

/* One worker loop turn after another, as app/worker does, until <want> callbacks ran or
 * <max_ms> passed. The sleep is bounded by the client's timeout only (no polling), so a lost
 * wake-up fails the test instead of being hidden. */
static void
run_until(struct fixture *f, int want, int64_t max_ms)
{
    int64_t end = rp_clock_now_ms() + max_ms;
    while (f->done < want) {
        int64_t now = rp_clock_now_ms();
        if (now >= end)
            break;
        rp_http_client_tick(f->client, now);
        if (f->done >= want)
            break;
        int t = rp_http_client_timeout_ms(f->client, now);
        if (t < 0 || t > end - now)
            t = (int)(end - now);
        assert_true(rp_loop_run_once(f->loop, t) >= 0);
        f->turns++;
    }
}

/* Runs turns for <ms> whatever happens. */
static void
run_for(struct fixture *f, int64_t ms)
{
    run_until(f, INT32_MAX, ms);
}

static void
url_for(struct fixture *f, const char *path, char *url, size_t cap)
{
    snprintf(url, cap, "http://127.0.0.1:%u%s", f->srv->port, path);
}

static int
post(struct fixture *f, const char *path, size_t max_body, int64_t total_ms, struct outcome *o,
     struct rp_http_call **call)
{
    char url[128];
    url_for(f, path, url, sizeof(url));
    o->f = f;
    struct rp_http_post p = {
        .url = url,
        .body = "{}",
        .body_len = 2,
        .connect_timeout_ms = 1000,
        .total_timeout_ms = total_ms,
        .max_body = max_body,
    };
    return rp_http_client_post(f->client, &p, on_done, o, call);
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->srv = server_start();
    f->loop = rp_loop_new();
    assert_non_null(f->loop);
    f->client = rp_http_client_new(f->loop, 32);
    assert_non_null(f->client);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    rp_http_client_free(f->client);
    rp_loop_free(f->loop);
    server_stop(f->srv);
    free(f);
    return 0;
}

/* ---- tests ---- */

static void
test_ok_with_body(void **state)
{
    struct fixture *f = *state;
    struct outcome o = {0};
    struct rp_http_call *call = NULL;
    assert_int_equal(post(f, "/ok", 1024, 5000, &o, &call), 0);
    assert_non_null(call);
    /* Never completed from inside post. */
    assert_int_equal(o.calls, 0);
    assert_int_equal(rp_http_client_in_flight(f->client), 1);
    assert_int_equal(rp_http_client_timeout_ms(f->client, rp_clock_now_ms()), 0);
    run_until(f, 1, 5000);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.error, 0);
    assert_int_equal(o.status, 200);
    assert_int_equal(o.body_len, 5);
    assert_string_equal(o.body, "hello");
    assert_true(o.elapsed_ms >= 0 && o.elapsed_ms < 5000);
    assert_int_equal(rp_http_client_in_flight(f->client), 0);
    /* Nothing more happens afterwards. */
    run_for(f, 50);
    assert_int_equal(o.calls, 1);
}

/* ---- streaming GETs ---- */

struct streamed {
    struct fixture *f;
    int heads, dones, status, error, stop_at_head;
    char ctype[64];
    char data[256];
    size_t len;
};

static int
stream_head(void *ctx, int status, const char *content_type)
{
    struct streamed *s = ctx;
    s->heads++;
    s->status = status;
    snprintf(s->ctype, sizeof(s->ctype), "%s", content_type);
    return s->stop_at_head;
}

static int
stream_data(void *ctx, const char *data, size_t len)
{
    struct streamed *s = ctx;
    assert_true(s->heads == 1 && s->len + len < sizeof(s->data));
    memcpy(s->data + s->len, data, len);
    s->len += len;
    return 0;
}

static void
stream_done(void *ctx, const struct rp_http_result *r)
{
    struct streamed *s = ctx;
    s->dones++;
    s->error = r->error;
    if (!s->heads)
        s->status = r->status;
    assert_string_equal(r->body, "");
    s->f->done++;
}

static int
get_stream(struct fixture *f, const char *path, struct streamed *s)
{
    char url[128];
    url_for(f, path, url, sizeof(url));
    s->f = f;
    const char *hdrs[] = {"Accept: text/event-stream", NULL};
    struct rp_http_get g = {
        .url = url,
        .extra_headers = hdrs,
        .connect_timeout_ms = 1000,
        .idle_timeout_ms = 5000,
    };
    return rp_http_client_get_stream(f->client, &g, stream_head, stream_data, stream_done, s, NULL);
}

static void
test_stream_get(void **state)
{
    struct fixture *f = *state;
    struct streamed s = {0}, nc = {0}, stop = {.stop_at_head = 1};
    assert_int_equal(get_stream(f, "/stream", &s), 0);
    assert_int_equal(get_stream(f, "/nocontent", &nc), 0);
    assert_int_equal(get_stream(f, "/stream", &stop), 0);
    assert_int_equal(s.dones + nc.dones + stop.dones, 0); /* never from inside the call */
    run_until(f, 3, 5000);
    /* Head once, the body as it came, then done at the server's close. */
    assert_int_equal(s.heads, 1);
    assert_int_equal(s.dones, 1);
    assert_int_equal(s.status, 200);
    assert_string_equal(s.ctype, "text/event-stream");
    assert_int_equal(s.len, 18);
    assert_memory_equal(s.data, "data: a\n\ndata: b\n\n", 18);
    assert_int_equal(s.error, 0);
    /* No body: the head all the same. */
    assert_int_equal(nc.heads, 1);
    assert_int_equal(nc.dones, 1);
    assert_int_equal(nc.status, 204);
    /* A head refused stops the call. */
    assert_int_equal(stop.heads, 1);
    assert_int_equal(stop.len, 0);
    assert_int_equal(stop.error, -ECANCELED);
}

static void
test_error_status_is_an_answer(void **state)
{
    struct fixture *f = *state;
    struct outcome o = {0}, nf = {0};
    assert_int_equal(post(f, "/status500", 1024, 5000, &o, NULL), 0);
    assert_int_equal(post(f, "/nothing-here", 1024, 5000, &nf, NULL), 0);
    run_until(f, 2, 5000);
    assert_int_equal(o.error, 0);
    assert_int_equal(o.status, 500);
    assert_string_equal(o.body, "{\"e\":1}");
    assert_int_equal(nf.error, 0);
    assert_int_equal(nf.status, 404);
    assert_int_equal(nf.body_len, 0);
    assert_string_equal(nf.body, "");
}

static void
test_request_carries_headers_and_body(void **state)
{
    struct fixture *f = *state;
    char url[128];
    url_for(f, "/echo", url, sizeof(url));
    static const char body[] = "{\"token\":\"a\"}\0tail"; /* a NUL inside is sent too */
    const char *extra[] = {"X-Revenprox-Test: 1", "Authorization: Bearer s3cret", NULL};
    struct rp_http_post p = {
        .url = url,
        .content_type = "application/x-test",
        .body = body,
        .body_len = sizeof(body) - 1,
        .extra_headers = extra,
        .connect_timeout_ms = 1000,
        .total_timeout_ms = 5000,
        .max_body = 64,
    };
    struct outcome o = {.f = f};
    assert_int_equal(rp_http_client_post(f->client, &p, on_done, &o, NULL), 0);
    run_until(f, 1, 5000);
    assert_int_equal(o.status, 200);
    assert_string_equal(o.body, "echoed");
    pthread_mutex_lock(&f->srv->lock);
    const char *req = f->srv->last_request;
    size_t len = f->srv->last_request_len;
    assert_true(strncmp(req, "POST /echo HTTP/1.1\r\n", 21) == 0);
    assert_non_null(strcasestr(req, "\r\nContent-Type: application/x-test\r\n"));
    assert_non_null(strstr(req, "\r\nX-Revenprox-Test: 1\r\n"));
    assert_non_null(strstr(req, "\r\nAuthorization: Bearer s3cret\r\n"));
    assert_null(strcasestr(req, "\r\nExpect:"));
    assert_true(len >= sizeof(body) - 1);
    assert_memory_equal(req + len - (sizeof(body) - 1), body, sizeof(body) - 1);
    pthread_mutex_unlock(&f->srv->lock);
}

static void
test_total_timeout(void **state)
{
    struct fixture *f = *state;
    struct outcome o = {0};
    int64_t t0 = rp_clock_now_ms();
    assert_int_equal(post(f, "/slow", 1024, 200, &o, NULL), 0);
    run_until(f, 1, 5000);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.error, -ETIMEDOUT);
    assert_int_equal(o.status, 0);
    assert_true(o.elapsed_ms >= 190 && o.elapsed_ms < 2000);
    assert_true(rp_clock_now_ms() - t0 < 2000);
    /* Slept on the deadline instead of spinning. */
    assert_true(f->turns < 50);
}

static void
test_refused_port(void **state)
{
    struct fixture *f = *state;
    unsigned port;
    close(bind_loopback(&port)); /* nobody listens there now */
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/ok", port);
    struct rp_http_post p = {
        .url = url,
        .connect_timeout_ms = 1000,
        .total_timeout_ms = 5000,
        .max_body = 1024,
    };
    struct outcome o = {.f = f};
    assert_int_equal(rp_http_client_post(f->client, &p, on_done, &o, NULL), 0);
    run_until(f, 1, 5000);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.error, -ECONNREFUSED);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.body_len, 0);
}

static void
test_not_http(void **state)
{
    struct fixture *f = *state;
    struct outcome o = {0};
    assert_int_equal(post(f, "/garbage", 1024, 5000, &o, NULL), 0);
    run_until(f, 1, 5000);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.error, -EPROTO);
}

static void
test_oversize_body(void **state)
{
    struct fixture *f = *state;
    struct outcome big = {0}, chunked = {0}, exact = {0}, over = {0};
    assert_int_equal(post(f, "/big", 1024, 5000, &big, NULL), 0);
    assert_int_equal(post(f, "/bigchunked", 1024, 5000, &chunked, NULL), 0);
    assert_int_equal(post(f, "/ok", 5, 5000, &exact, NULL), 0);
    assert_int_equal(post(f, "/ok", 4, 5000, &over, NULL), 0);
    run_until(f, 4, 5000);
    assert_int_equal(big.error, -EMSGSIZE);
    assert_int_equal(big.body_len, 0);
    assert_int_equal(chunked.error, -EMSGSIZE);
    assert_int_equal(chunked.status, 200);
    assert_int_equal(chunked.body_len, 0);
    assert_int_equal(exact.error, 0);
    assert_string_equal(exact.body, "hello");
    assert_int_equal(over.error, -EMSGSIZE);
    /* A body that fits exactly goes through: the full one was not truncated either. */
    struct outcome whole = {0};
    assert_int_equal(post(f, "/big", BIG_BODY, 5000, &whole, NULL), 0);
    run_until(f, 5, 5000);
    assert_int_equal(whole.error, 0);
    assert_int_equal(whole.body_len, BIG_BODY);
}

static void
test_cancel_before_completion(void **state)
{
    struct fixture *f = *state;
    struct outcome early = {0}, started = {0}, after = {0};
    struct rp_http_call *c1 = NULL, *c2 = NULL;
    /* Cancelled before any loop turn. */
    assert_int_equal(post(f, "/ok", 1024, 5000, &early, &c1), 0);
    rp_http_call_cancel(c1);
    /* Cancelled while the server holds the answer back. */
    assert_int_equal(post(f, "/slow", 1024, 5000, &started, &c2), 0);
    run_for(f, 100);
    assert_int_equal(started.calls, 0);
    rp_http_call_cancel(c2);
    assert_int_equal(rp_http_client_in_flight(f->client), 0);
    rp_http_call_cancel(NULL);
    run_for(f, 300);
    assert_int_equal(early.calls, 0);
    assert_int_equal(started.calls, 0);
    /* The client works on. */
    assert_int_equal(post(f, "/ok", 1024, 5000, &after, NULL), 0);
    run_until(f, 1, 5000);
    assert_int_equal(after.calls, 1);
    assert_int_equal(after.status, 200);
    assert_int_equal(early.calls + started.calls, 0);
}

static void
test_free_with_calls_in_flight(void **state)
{
    struct fixture *f = *state;
    struct outcome slow = {0}, fresh = {0};
    assert_int_equal(post(f, "/slow", 1024, 5000, &slow, NULL), 0);
    run_for(f, 100);
    assert_int_equal(post(f, "/ok", 1024, 5000, &fresh, NULL), 0);
    rp_http_client_free(f->client);
    f->client = rp_http_client_new(f->loop, 32);
    assert_non_null(f->client);
    run_for(f, 200);
    assert_int_equal(slow.calls, 0);
    assert_int_equal(fresh.calls, 0);
}

static void
test_concurrent_calls(void **state)
{
    struct fixture *f = *state;
    struct outcome o[20] = {{0}};
    int64_t t0 = rp_clock_now_ms();
    for (int i = 0; i < 20; i++)
        assert_int_equal(post(f, "/wait100", 1024, 5000, &o[i], NULL), 0);
    assert_int_equal(rp_http_client_in_flight(f->client), 20);
    run_until(f, 20, 5000);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(o[i].calls, 1);
        assert_int_equal(o[i].error, 0);
        assert_int_equal(o[i].status, 200);
        assert_string_equal(o[i].body, "waited");
    }
    /* In parallel: twenty 100 ms answers in far less than 2 s. */
    assert_true(rp_clock_now_ms() - t0 < 1500);
    assert_int_equal(rp_http_client_in_flight(f->client), 0);
}

static void
test_connection_reuse(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 10; i++) {
        struct outcome o = {0};
        assert_int_equal(post(f, "/ok", 1024, 5000, &o, NULL), 0);
        run_until(f, i + 1, 5000);
        assert_int_equal(o.calls, 1);
        assert_int_equal(o.status, 200);
    }
    assert_int_equal(atomic_load(&f->srv->accepted), 1);
}

static void
test_max_in_flight(void **state)
{
    struct fixture *f = *state;
    rp_http_client_free(f->client);
    f->client = rp_http_client_new(f->loop, 2);
    struct outcome a = {0}, b = {0}, c = {0}, d = {0};
    assert_int_equal(post(f, "/ok", 1024, 5000, &a, NULL), 0);
    assert_int_equal(post(f, "/ok", 1024, 5000, &b, NULL), 0);
    assert_int_equal(post(f, "/ok", 1024, 5000, &c, NULL), -EAGAIN);
    run_until(f, 2, 5000);
    assert_int_equal(post(f, "/ok", 1024, 5000, &d, NULL), 0);
    run_until(f, 3, 5000);
    assert_int_equal(a.status + b.status + d.status, 600);
    assert_int_equal(c.calls, 0);
    assert_null(rp_http_client_new(f->loop, 0));
}

static void
test_refuses_bad_arguments(void **state)
{
    struct fixture *f = *state;
    static const char *const bad_urls[] = {
        "ftp://127.0.0.1/x",           "file:///etc/passwd", "gopher://127.0.0.1/", "not a url", "",
        "dict://127.0.0.1:11211/stat",
    };
    struct outcome o = {.f = f};
    struct rp_http_call *call = (struct rp_http_call *)&o; /* must be reset to NULL */
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        struct rp_http_post p = {.url = bad_urls[i], .total_timeout_ms = 1000, .max_body = 10};
        assert_int_equal(rp_http_client_post(f->client, &p, on_done, &o, &call), -EINVAL);
        assert_null(call);
    }
    char url[128];
    url_for(f, "/ok", url, sizeof(url));
    struct rp_http_post p = {.url = url, .total_timeout_ms = 0, .max_body = 10};
    assert_int_equal(rp_http_client_post(f->client, &p, on_done, &o, NULL), -EINVAL);
    p.total_timeout_ms = 1000;
    p.connect_timeout_ms = -1;
    assert_int_equal(rp_http_client_post(f->client, &p, on_done, &o, NULL), -EINVAL);
    p.connect_timeout_ms = 0;
    const char *smuggle[] = {"X-A: 1\r\nX-B: 2", NULL};
    p.extra_headers = smuggle;
    assert_int_equal(rp_http_client_post(f->client, &p, on_done, &o, NULL), -EINVAL);
    p.extra_headers = NULL;
    p.content_type = "text/plain\r\nX-B: 2";
    assert_int_equal(rp_http_client_post(f->client, &p, on_done, &o, NULL), -EINVAL);
    p.content_type = NULL;
    p.body_len = 3; /* with no body */
    assert_int_equal(rp_http_client_post(f->client, &p, on_done, &o, NULL), -EINVAL);
    assert_int_equal(rp_http_client_in_flight(f->client), 0);
    run_for(f, 50);
    assert_int_equal(o.calls, 0);
}

/* A done callback that posts the next call, and cancels a sibling, from inside the report. */
struct chain {
    struct fixture *f;
    int left;
    int calls;
    struct rp_http_call *victim;
    struct outcome victim_outcome;
};

static void
on_chain(void *ctx, const struct rp_http_result *r)
{
    struct chain *ch = ctx;
    assert_int_equal(r->status, 200);
    ch->calls++;
    ch->f->done++;
    if (ch->victim) {
        rp_http_call_cancel(ch->victim);
        ch->victim = NULL;
    }
    if (--ch->left > 0) {
        char url[128];
        url_for(ch->f, "/ok", url, sizeof(url));
        struct rp_http_post p = {.url = url, .total_timeout_ms = 5000, .max_body = 64};
        assert_int_equal(rp_http_client_post(ch->f->client, &p, on_chain, ch, NULL), 0);
    }
}

static void
test_post_and_cancel_from_callback(void **state)
{
    struct fixture *f = *state;
    struct chain ch = {.f = f, .left = 3};
    assert_int_equal(post(f, "/slow", 1024, 5000, &ch.victim_outcome, &ch.victim), 0);
    char url[128];
    url_for(f, "/ok", url, sizeof(url));
    struct rp_http_post p = {.url = url, .total_timeout_ms = 5000, .max_body = 64};
    assert_int_equal(rp_http_client_post(f->client, &p, on_chain, &ch, NULL), 0);
    run_until(f, 3, 5000);
    assert_int_equal(ch.calls, 3);
    assert_int_equal(ch.victim_outcome.calls, 0);
    run_for(f, 50);
    assert_int_equal(ch.calls, 3);
    assert_int_equal(rp_http_client_in_flight(f->client), 0);
}

static void
test_localhost_name(void **state)
{
    struct fixture *f = *state;
    char url[128];
    snprintf(url, sizeof(url), "http://localhost:%u/ok", f->srv->port);
    struct rp_http_post p = {.url = url, .total_timeout_ms = 5000, .max_body = 64};
    struct outcome o = {.f = f};
    assert_int_equal(rp_http_client_post(f->client, &p, on_done, &o, NULL), 0);
    run_until(f, 1, 5000);
    assert_int_equal(o.error, 0);
    assert_int_equal(o.status, 200);
}

int
main(void)
{
    memset(big_body, 'x', sizeof(big_body));
    assert_int_equal(rp_http_client_global_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ok_with_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_status_is_an_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_carries_headers_and_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_total_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_http, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversize_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_before_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_calls_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_and_cancel_from_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_localhost_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_get, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    rp_http_client_global_cleanup();
    return failed;
}
