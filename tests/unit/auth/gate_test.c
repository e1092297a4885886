/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of auth/gate, where every auth mode is decided, seen as the API sees it: the
 * result for a token and the topics its grant covers. Mode none; jwt with HS256 tokens
 * minted by auth_jwt's own signer (claims -> grant, expired, bad signature, missing, too
 * large, the publisher key); branca (rp_gate_open_branca and verify); jwt+webhook against
 * a tiny webhook on 127.0.0.1 run by this test in a thread (JWTs are decided locally and
 * never reach it; other tokens wait for its answer; a webhook that cannot be reached gives
 * 503-style UNAVAILABLE and opens the breaker); configuration errors; and rp_gate_report.
 * The gate's webhook calls run on our loop, driven turn by turn as a worker drives it.
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/auth.h"
#include "auth/auth_branca.h"
#include "auth/auth_jwt.h"
#include "auth/gate.h"
#include "base/clock.h"
#include "base/diag.h"
#include "base/stats.h"
#include "loop/loop.h"

static const char SECRET[] = "a gate test HS256 secret of 40 bytes....";
static const char OTHER_SECRET[] = "another HS256 secret, 40 bytes long.....";
static const char BRANCA_HEX[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char OTHER_BRANCA_HEX[] =
    "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
#define MAX_TOKEN 2048

/* ---- a webhook on loopback: one thread, one connection at a time ---- */

struct hook {
    int lfd;
    unsigned port;
    pthread_t thread;
    atomic_bool stop;
    atomic_int requests;
    const char *answer; /* the JSON body of every 200 answer */
    pthread_mutex_t lock;
    char last_body[4096];
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

/* Reads one request (head and Content-Length body) into <buf>; the body's offset in
 * *<body>, or 0 when the peer closed first. */
static size_t
read_request(int fd, char *buf, size_t cap, size_t *body)
{
    size_t len = 0, want = 0;
    for (;;) {
        if (len == cap - 1)
            return 0;
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            return 0;
        len += (size_t)n;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        *body = (size_t)(end - buf) + 4;
        for (char *p = buf; p < end && !want; p++)
            if (strncasecmp(p, "\r\nContent-Length:", 17) == 0)
                want = strtoul(p + 17, NULL, 10);
        if (len >= *body + want)
            return len;
    }
}

static void
serve(struct hook *h, int fd)
{
    char req[8192];
    size_t body = 0;
    size_t len = read_request(fd, req, sizeof(req), &body);
    if (len == 0)
        return;
    atomic_fetch_add(&h->requests, 1);
    pthread_mutex_lock(&h->lock);
    snprintf(h->last_body, sizeof(h->last_body), "%s", req + body);
    pthread_mutex_unlock(&h->lock);
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     "%zu\r\nConnection: close\r\n\r\n",
                     strlen(h->answer));
    send_all(fd, head, (size_t)n);
    send_all(fd, h->answer, strlen(h->answer));
}

static void *
hook_main(void *arg)
{
    struct hook *h = arg;
    while (!atomic_load(&h->stop)) {
        struct pollfd p = {.fd = h->lfd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(h->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        serve(h, fd);
        close(fd);
    }
    return NULL;
}

/* A socket bound to an ephemeral 127.0.0.1 port; its port in *<port>. */
static int
bind_loopback(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static struct hook *
hook_start(const char *answer)
{
    struct hook *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    h->answer = answer;
    h->lfd = bind_loopback(&h->port);
    assert_int_equal(listen(h->lfd, 16), 0);
    pthread_mutex_init(&h->lock, NULL);
    assert_int_equal(pthread_create(&h->thread, NULL, hook_main, h), 0);
    return h;
}

static void
hook_stop(struct hook *h)
{
    atomic_store(&h->stop, true);
    pthread_join(h->thread, NULL);
    close(h->lfd);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* ---- the gate under test ---- */

struct fixture {
    struct rp_loop *loop;
    struct rp_stats stats;
    struct rp_gate_shared *sh;
    struct rp_gate *g;
    int woken;
};

static void
on_wake(void *ctx)
{
    struct fixture *f = ctx;
    f->woken++;
}

static void
on_wake_all(void *ctx)
{
    (void)ctx;
}

/* The auth settings' defaults (settings.def) in <mode>; tests change what they need. */
static struct rp_gate_config
config_for(enum rp_gate_mode mode)
{
    return (struct rp_gate_config){
        .mode = mode,
        .jwt_secret = SECRET,
        .jwt_audience = "",
        .jwt_issuer = "",
        .publisher_key = "",
        .max_token = MAX_TOKEN,
        .webhook_connect_timeout_ms = 1000,
        .webhook_timeout_ms = 3000,
        .cache_ttl_ms = 60000,
        .cache_negative_ttl_ms = 5000,
        .cache_size = 64,
        .breaker_failures = 5,
        .breaker_error_rate_pct = 50,
        .breaker_min_calls = 20,
        .breaker_window_ms = 10000,
        .breaker_open_ms = 30000,
        .breaker_probes = 1,
        .branca_key_hex = BRANCA_HEX,
    };
}

static struct fixture *
gate_up(const struct rp_gate_config *cfg)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    struct rp_diag err = {{0}};
    if (rp_gate_shared_new(cfg, on_wake_all, f, &f->sh, &err) != 0)
        fail_msg("rp_gate_shared_new: %s", err.msg);
    f->loop = rp_loop_new();
    assert_non_null(f->loop);
    f->g = rp_gate_new(f->sh, f->loop, &f->stats, on_wake, f);
    assert_non_null(f->g);
    return f;
}

static void
gate_down(struct fixture *f)
{
    rp_gate_free(f->g);
    rp_gate_shared_free(f->sh);
    rp_loop_free(f->loop);
    free(f);
}

/* What the API gets for one ask. */
struct verdict {
    enum rp_gate_status status;
    enum rp_auth_result result;
    struct rp_grant grant;
    int64_t retry_after_ms;
};

static void
ask_mark(struct fixture *f, const char *token, const char *action, uint64_t *mark,
         struct verdict *v)
{
    static const char *const topics[] = {"chat/room1"};
    memset(v, 0, sizeof(*v));
    struct rp_gate_ask a = {
        .token = token,
        .token_len = token ? strlen(token) : 0,
        .topics = topics,
        .n_topics = 1,
        .ip = "203.0.113.7",
        .user_agent = "gate-test",
        .action = action,
        .wait_mark = mark,
    };
    v->status = rp_gate_verify(f->g, &a, &v->grant, &v->result, &v->retry_after_ms);
}

static void
ask(struct fixture *f, const char *token, struct verdict *v)
{
    uint64_t mark = 0;
    ask_mark(f, token, "subscribe", &mark, v);
}

/* Expects a final refusal for <token> with <why>, and a grant that allows nothing. */
static void
expect_refused(struct fixture *f, const char *token, enum rp_auth_result why)
{
    struct verdict v;
    ask(f, token, &v);
    assert_int_equal(v.status, RP_GATE_DONE);
    if (v.result != why)
        fail_msg("expected %s, got %s", rp_auth_result_name(why), rp_auth_result_name(v.result));
    assert_false(rp_grant_may_read(&v.grant, "chat/room1", 10));
    assert_false(rp_grant_may_write(&v.grant, "chat/room1", 10));
    rp_grant_fini(&v.grant);
}

/* Loop turns, as a worker runs them, until the gate woke us or <max_ms> passed. */
static void
run_until_woken(struct fixture *f, int64_t max_ms)
{
    int64_t end = rp_clock_now_ms() + max_ms;
    int before = f->woken;
    while (f->woken == before) {
        int64_t now = rp_clock_now_ms();
        if (now >= end)
            fail_msg("the gate did not wake its worker within %lld ms", (long long)max_ms);
        rp_gate_tick(f->g, now);
        if (f->woken != before)
            break;
        int t = rp_gate_timeout_ms(f->g, now);
        if (t < 0 || t > end - now)
            t = (int)(end - now);
        assert_true(rp_loop_run_once(f->loop, t) >= 0);
    }
}

/* An HS256 token signed with <secret> over <claims> (a printf format). */
static char *mint(const char *secret, const char *claims, ...)
    __attribute__((format(printf, 2, 3)));

static char *
mint(const char *secret, const char *claims, ...)
{
    char json[4096];
    struct rp_diag err;
    va_list ap;
    va_start(ap, claims);
    vsnprintf(json, sizeof(json), claims, ap);
    va_end(ap);
    char *token = NULL;
    if (rp_jwt_sign(secret, NULL, NULL, json, &token, &err) != 0)
        fail_msg("rp_jwt_sign: %s", err.msg);
    return token;
}

/* Changes one character of <token>'s signature (not the last, which carries spare bits). */
static void
tamper(char *token)
{
    char *c = token + strlen(token) - 2;
    *c = *c == 'A' ? 'B' : 'A';
}

static long long
now_s(void)
{
    return (long long)time(NULL);
}

/* ---- mode none ---- */

static void
test_none_lets_everything_through(void **state)
{
    struct rp_gate_config cfg = config_for(RP_GATE_MODE_NONE);
    struct fixture *f = gate_up(&cfg);
    const char *tokens[] = {"anything", "not.even.a-jwt", "x"};
    for (size_t i = 0; i < 3; i++) {
        struct verdict v;
        ask(f, tokens[i], &v);
        assert_int_equal(v.status, RP_GATE_DONE);
        assert_int_equal(v.result, RP_AUTH_OK);
        assert_true(rp_grant_may_read(&v.grant, "#", 1));
        assert_true(rp_grant_may_read(&v.grant, "chat/+", 6));
        assert_true(rp_grant_may_write(&v.grant, "any/topic/at/all", 16));
        rp_grant_fini(&v.grant);
    }
    assert_int_equal(rp_gate_mode(f->sh), RP_GATE_MODE_NONE);
    gate_down(f);
}

/* ---- mode jwt ---- */

static void
test_jwt_claims_become_the_grant(void **state)
{
    struct rp_gate_config cfg = config_for(RP_GATE_MODE_JWT);
    struct fixture *f = gate_up(&cfg);
    char *token = mint(SECRET,
                       "{\"sub\":\"user-7\",\"exp\":%lld,\"read\":[\"chat/#\",\"news/+\"],"
                       "\"write\":[\"chat/room1\"]}",
                       now_s() + 3600);
    for (int round = 0; round < 2; round++) { /* the second is answered from the cache */
        struct verdict v;
        ask(f, token, &v);
        assert_int_equal(v.status, RP_GATE_DONE);
        assert_int_equal(v.result, RP_AUTH_OK);
        assert_string_equal(v.grant.sub, "user-7");
        assert_true(rp_grant_may_read(&v.grant, "chat/room1", 10));
        assert_true(rp_grant_may_read(&v.grant, "chat/+", 6));
        assert_true(rp_grant_may_read(&v.grant, "news/today", 10));
        assert_false(rp_grant_may_read(&v.grant, "news/a/b", 8));
        assert_false(rp_grant_may_read(&v.grant, "#", 1));
        assert_true(rp_grant_may_write(&v.grant, "chat/room1", 10));
        assert_false(rp_grant_may_write(&v.grant, "chat/room2", 10));
        rp_grant_fini(&v.grant);
    }
    free(token);

    /* Read-only: a token without a write claim may publish nowhere. */
    token = mint(SECRET, "{\"exp\":%lld,\"read\":[\"a/b\"]}", now_s() + 60);
    struct verdict v;
    ask(f, token, &v);
    assert_int_equal(v.result, RP_AUTH_OK);
    assert_true(rp_grant_may_read(&v.grant, "a/b", 3));
    assert_false(rp_grant_may_write(&v.grant, "a/b", 3));
    rp_grant_fini(&v.grant);
    free(token);
    gate_down(f);
}

static void
test_jwt_refusals(void **state)
{
    struct rp_gate_config cfg = config_for(RP_GATE_MODE_JWT);
    struct fixture *f = gate_up(&cfg);

    char *token = mint(SECRET, "{\"exp\":%lld,\"read\":[\"#\"]}", now_s() - 3600);
    expect_refused(f, token, RP_AUTH_EXPIRED);
    free(token);

    token = mint(OTHER_SECRET, "{\"exp\":%lld,\"read\":[\"#\"]}", now_s() + 3600);
    expect_refused(f, token, RP_AUTH_BAD_SIGNATURE);
    free(token);

    /* A good token with one byte of its signature changed. */
    token = mint(SECRET, "{\"exp\":%lld,\"read\":[\"#\"]}", now_s() + 3600);
    tamper(token);
    expect_refused(f, token, RP_AUTH_BAD_SIGNATURE);
    free(token);

    expect_refused(f, NULL, RP_AUTH_MISSING);
    expect_refused(f, "", RP_AUTH_MISSING);
    expect_refused(f, "not-a-jwt", RP_AUTH_MALFORMED);

    /* Longer than auth_max_token, even when it would verify. */
    char pad[1601];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    token = mint(SECRET, "{\"exp\":%lld,\"pad\":\"%s\"}", now_s() + 3600, pad);
    assert_true(strlen(token) > MAX_TOKEN);
    expect_refused(f, token, RP_AUTH_TOO_LARGE);
    free(token);
    gate_down(f);
}

static void
test_publisher_key_may_write_everything(void **state)
{
    struct rp_gate_config cfg = config_for(RP_GATE_MODE_JWT);
    cfg.publisher_key = "backend-publisher-key-0123456789";
    struct fixture *f = gate_up(&cfg);
    struct verdict v;
    ask(f, "backend-publisher-key-0123456789", &v);
    assert_int_equal(v.result, RP_AUTH_OK);
    assert_true(rp_grant_may_write(&v.grant, "any/topic", 9));
    assert_false(rp_grant_may_read(&v.grant, "any/topic", 9));
    rp_grant_fini(&v.grant);
    /* A prefix of the key is just a malformed token. */
    expect_refused(f, "backend-publisher-key", RP_AUTH_MALFORMED);
    gate_down(f);
}

/* ---- mode branca ---- */

/* msgpack {"topics": [<topic>]} for a one-topic subscribe payload (fixmap, fixstr, fixarray). */
static size_t
topics_payload(const char *topic, uint8_t *out)
{
    size_t n = 0, len = strlen(topic);
    assert_true(len < 32);
    out[n++] = 0x81;
    out[n++] = 0xa6;
    memcpy(out + n, "topics", 6);
    n += 6;
    out[n++] = 0x91;
    out[n++] = (uint8_t)(0xa0 | len);
    memcpy(out + n, topic, len);
    return n + len;
}

static char *
branca_token(const char *key_hex, const uint8_t *payload, size_t len, uint32_t timestamp)
{
    uint8_t key[RP_BRANCA_KEY_LEN];
    assert_int_equal(rp_branca_key_parse(key_hex, strlen(key_hex), key), 0);
    char *token = NULL;
    assert_int_equal(rp_branca_encode(key, payload, len, timestamp, &token), 0);
    return token;
}

static void
test_branca(void **state)
{
    struct rp_gate_config cfg = config_for(RP_GATE_MODE_BRANCA);
    cfg.branca_ttl_ms = 60000;
    struct fixture *f = gate_up(&cfg);
    uint8_t payload[64];
    size_t len = topics_payload("news/#", payload);

    char *token = branca_token(BRANCA_HEX, payload, len, (uint32_t)now_s());
    uint8_t *opened = NULL;
    size_t opened_len = 0;
    assert_int_equal(rp_gate_open_branca(f->g, token, strlen(token), &opened, &opened_len),
                     RP_AUTH_OK);
    assert_int_equal(opened_len, len);
    assert_memory_equal(opened, payload, len);
    free(opened);
    struct verdict v;
    ask(f, token, &v);
    assert_int_equal(v.result, RP_AUTH_OK);
    assert_true(rp_grant_may_read(&v.grant, "news/today", 10));
    assert_false(rp_grant_may_read(&v.grant, "chat/room1", 10));
    assert_false(rp_grant_may_write(&v.grant, "news/today", 10));
    rp_grant_fini(&v.grant);
    assert_int_equal(rp_gate_open_branca(f->g, token, MAX_TOKEN + 1, &opened, &opened_len),
                     RP_AUTH_TOO_LARGE);
    assert_null(opened);
    free(token);

    /* Another key, an old token (ttl 60 s), and a payload that names no topics. */
    token = branca_token(OTHER_BRANCA_HEX, payload, len, (uint32_t)now_s());
    expect_refused(f, token, RP_AUTH_BAD_SIGNATURE);
    free(token);
    token = branca_token(BRANCA_HEX, payload, len, (uint32_t)(now_s() - 3600));
    expect_refused(f, token, RP_AUTH_EXPIRED);
    free(token);
    token = branca_token(BRANCA_HEX, (const uint8_t *)"\xc0", 1, (uint32_t)now_s());
    expect_refused(f, token, RP_AUTH_MALFORMED);
    free(token);
    expect_refused(f, "not base62!", RP_AUTH_MALFORMED);
    gate_down(f);

    /* Outside branca mode there is nothing to open. */
    cfg = config_for(RP_GATE_MODE_JWT);
    f = gate_up(&cfg);
    token = branca_token(BRANCA_HEX, payload, len, (uint32_t)now_s());
    assert_int_equal(rp_gate_open_branca(f->g, token, strlen(token), &opened, &opened_len),
                     RP_AUTH_MALFORMED);
    assert_null(opened);
    free(token);
    gate_down(f);
}

/* ---- mode jwt+webhook ---- */

static void
webhook_url(char *url, size_t cap, unsigned port)
{
    snprintf(url, cap, "http://127.0.0.1:%u/auth", port);
}

static void
test_jwt_webhook_decides_jwts_locally(void **state)
{
    struct hook *h = hook_start("{\"valid\":true,\"read\":[\"#\"],\"write\":[\"#\"]}");
    char url[64];
    webhook_url(url, sizeof(url), h->port);
    struct rp_gate_config cfg = config_for(RP_GATE_MODE_JWT_WEBHOOK);
    cfg.webhook_url = url;
    struct fixture *f = gate_up(&cfg);

    char *token = mint(SECRET, "{\"exp\":%lld,\"read\":[\"chat/#\"]}", now_s() + 3600);
    struct verdict v;
    ask(f, token, &v);
    assert_int_equal(v.status, RP_GATE_DONE);
    assert_int_equal(v.result, RP_AUTH_OK);
    assert_true(rp_grant_may_read(&v.grant, "chat/x", 6));
    assert_false(rp_grant_may_read(&v.grant, "news/x", 6)); /* not the webhook's "#" */
    rp_grant_fini(&v.grant);
    free(token);

    /* A JWT for our key that fails is refused here, not handed to the webhook. */
    token = mint(SECRET, "{\"exp\":%lld,\"read\":[\"#\"]}", now_s() - 3600);
    expect_refused(f, token, RP_AUTH_EXPIRED);
    free(token);
    token = mint(SECRET, "{\"exp\":%lld,\"read\":[\"#\"]}", now_s() + 3600);
    tamper(token);
    expect_refused(f, token, RP_AUTH_BAD_SIGNATURE);
    free(token);
    expect_refused(f, NULL, RP_AUTH_MISSING);

    assert_int_equal(atomic_load(&h->requests), 0);
    gate_down(f);
    hook_stop(h);
}

static void
test_jwt_webhook_asks_the_webhook_for_other_tokens(void **state)
{
    struct hook *h = hook_start("{\"valid\":true,\"sub\":\"app-user\",\"read\":[\"hook/#\"],"
                                "\"write\":[\"hook/in\"]}");
    char url[64];
    webhook_url(url, sizeof(url), h->port);
    struct rp_gate_config cfg = config_for(RP_GATE_MODE_JWT_WEBHOOK);
    cfg.webhook_url = url;
    struct fixture *f = gate_up(&cfg);

    uint64_t mark = 0;
    struct verdict v;
    ask_mark(f, "opaque-session-token", "publish", &mark, &v);
    assert_int_equal(v.status, RP_GATE_WAIT);
    run_until_woken(f, 5000);
    assert_int_equal(atomic_load(&h->requests), 1);
    pthread_mutex_lock(&h->lock);
    assert_non_null(strstr(h->last_body, "\"token\":\"opaque-session-token\""));
    assert_non_null(strstr(h->last_body, "\"action\":\"publish\""));
    assert_non_null(strstr(h->last_body, "\"chat/room1\""));
    pthread_mutex_unlock(&h->lock);

    ask_mark(f, "opaque-session-token", "publish", &mark, &v);
    assert_int_equal(v.status, RP_GATE_DONE);
    assert_int_equal(v.result, RP_AUTH_OK);
    assert_string_equal(v.grant.sub, "app-user");
    assert_true(rp_grant_may_read(&v.grant, "hook/a", 6));
    assert_true(rp_grant_may_write(&v.grant, "hook/in", 7));
    assert_false(rp_grant_may_write(&v.grant, "hook/out", 8));
    rp_grant_fini(&v.grant);

    /* Asked again later, the answer comes from the cache: one webhook call per token. */
    ask(f, "opaque-session-token", &v);
    assert_int_equal(v.result, RP_AUTH_OK);
    rp_grant_fini(&v.grant);
    assert_int_equal(atomic_load(&h->requests), 1);

    struct rp_gate_report r;
    rp_gate_report(f->sh, &r);
    assert_true(r.has_breaker);
    assert_int_equal(r.breaker_state, RP_BREAKER_CLOSED);
    assert_int_equal(r.cache_entries, 1);
    gate_down(f);
    hook_stop(h);
}

static void
test_jwt_webhook_unreachable(void **state)
{
    unsigned port;
    close(bind_loopback(&port)); /* nobody listens there now */
    char url[64];
    webhook_url(url, sizeof(url), port);
    struct rp_gate_config cfg = config_for(RP_GATE_MODE_JWT_WEBHOOK);
    cfg.webhook_url = url;
    cfg.breaker_failures = 1;
    struct fixture *f = gate_up(&cfg);

    uint64_t mark = 0;
    struct verdict v;
    ask_mark(f, "opaque-token", "subscribe", &mark, &v);
    assert_int_equal(v.status, RP_GATE_WAIT);
    run_until_woken(f, 5000);
    /* Woken after the call failed: unavailable, come back later (the breaker decides when). */
    ask_mark(f, "opaque-token", "subscribe", &mark, &v);
    assert_int_equal(v.status, RP_GATE_DONE);
    assert_int_equal(v.result, RP_AUTH_UNAVAILABLE);
    assert_true(v.retry_after_ms > 0);
    assert_false(rp_grant_may_read(&v.grant, "chat/room1", 10));

    /* One failure opened the breaker: new tokens are not sent, and a JWT still works. */
    struct rp_gate_report r;
    rp_gate_report(f->sh, &r);
    assert_true(r.has_breaker);
    assert_int_equal(r.breaker_state, RP_BREAKER_OPEN);
    assert_int_equal(r.breaker_transitions[RP_BREAKER_OPEN], 1);
    ask(f, "another-opaque-token", &v);
    assert_int_equal(v.status, RP_GATE_DONE);
    assert_int_equal(v.result, RP_AUTH_UNAVAILABLE);
    assert_true(v.retry_after_ms > 0);
    char *token = mint(SECRET, "{\"exp\":%lld,\"read\":[\"chat/#\"]}", now_s() + 3600);
    ask(f, token, &v);
    assert_int_equal(v.result, RP_AUTH_OK);
    rp_grant_fini(&v.grant);
    free(token);
    gate_down(f);
}

/* ---- configuration errors and the report ---- */

static void
expect_config_error(const struct rp_gate_config *cfg, const char *want)
{
    struct rp_gate_shared *sh = (struct rp_gate_shared *)1;
    struct rp_diag err = {{0}};
    assert_int_equal(rp_gate_shared_new(cfg, on_wake_all, NULL, &sh, &err), -EINVAL);
    if (!strstr(err.msg, want))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
}

static void
test_config_errors(void **state)
{
    struct rp_gate_config cfg = config_for(RP_GATE_MODE_JWT);
    cfg.jwt_secret = "";
    expect_config_error(&cfg, "auth_mode jwt needs a key");
    cfg = config_for(RP_GATE_MODE_WEBHOOK);
    cfg.webhook_url = "ftp://example.invalid/";
    expect_config_error(&cfg, "auth_mode webhook needs auth_webhook_url");
    cfg = config_for(RP_GATE_MODE_JWT_WEBHOOK);
    expect_config_error(&cfg, "auth_mode jwt+webhook needs auth_webhook_url");
    cfg = config_for(RP_GATE_MODE_BRANCA);
    cfg.branca_key_hex = "abcd";
    expect_config_error(&cfg, "auth_mode branca needs sse_secret");
}

static void
test_report(void **state)
{
    struct rp_gate_report r;
    memset(&r, 0xff, sizeof(r));
    rp_gate_report(NULL, &r); /* auth_mode none: the server has no shared part */
    assert_false(r.has_breaker);
    assert_int_equal(r.cache_entries, 0);

    struct rp_gate_config cfg = config_for(RP_GATE_MODE_JWT);
    struct fixture *f = gate_up(&cfg);
    rp_gate_report(f->sh, &r);
    assert_false(r.has_breaker);
    assert_int_equal(r.cache_entries, 0);
    char *token = mint(SECRET, "{\"exp\":%lld,\"read\":[\"a/b\"]}", now_s() + 3600);
    struct verdict v;
    ask(f, token, &v);
    assert_int_equal(v.result, RP_AUTH_OK);
    rp_grant_fini(&v.grant);
    free(token);
    expect_refused(f, "not-a-jwt", RP_AUTH_MALFORMED); /* refusals are not kept */
    rp_gate_report(f->sh, &r);
    assert_false(r.has_breaker);
    assert_int_equal(r.cache_entries, 1);
    gate_down(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none_lets_everything_through),
        cmocka_unit_test(test_jwt_claims_become_the_grant),
        cmocka_unit_test(test_jwt_refusals),
        cmocka_unit_test(test_publisher_key_may_write_everything),
        cmocka_unit_test(test_branca),
        cmocka_unit_test(test_jwt_webhook_decides_jwts_locally),
        cmocka_unit_test(test_jwt_webhook_asks_the_webhook_for_other_tokens),
        cmocka_unit_test(test_jwt_webhook_unreachable),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
