/* SPDX-License-Identifier: MIT */
#include "client/http_client.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/list.h"
#include "base/log.h"
#include "loop/loop.h"

/* Loopback is never sent through a proxy that http_proxy/https_proxy may name. */
#define LOOPBACK_NOPROXY "localhost,127.0.0.1,::1"
#define USER_AGENT "revenprox"

/*
 * One socket libcurl asked us to watch. Owned by the client. When libcurl says
 * CURL_POLL_REMOVE the record is only marked dead: an epoll batch of the current loop turn
 * may still point at it, so it is freed by the next rp_http_client_tick.
 */
struct sock {
    struct rp_loop_io io;
    struct rp_http_client *c;
    bool dead;
    struct rp_list node; /* in c->socks, or c->dead_socks once dead */
};

struct rp_http_call {
    struct rp_http_client *c;
    CURL *easy;
    struct curl_slist *headers;
    char *body; /* the request body; libcurl reads it in place */
    struct rp_buf resp;
    bool too_big;   /* the write callback refused bytes past max_body */
    bool reporting; /* its done callback is running */
    bool stream;    /* a streaming GET: bytes go to on_head/on_data, not <resp> */
    bool head_seen; /* on_head was called */
    bool aborted;   /* on_head or on_data asked to stop */
    rp_http_head_fn on_head;
    rp_http_data_fn on_data;
    int64_t started_ms;
    rp_http_client_done_fn fn;
    void *ctx;
    struct rp_list node; /* in c->calls */
    char errbuf[CURL_ERROR_SIZE];
};

struct rp_http_client {
    struct rp_loop *loop;
    CURLM *multi;
    size_t max_in_flight;
    size_t n_calls;
    struct rp_list calls;
    struct rp_list socks;
    struct rp_list dead_socks;
    bool has_deadline;
    int64_t deadline_ms;
    int dispatching; /* depth of done callbacks on the stack (free is refused there) */
    char *noproxy;
};

/* ---- process-wide libcurl state ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void
global_init_once(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
rp_http_client_global_init(void)
{
    pthread_once(&global_once, global_init_once);
    if (global_rc != CURLE_OK) {
        RP_LOG(RP_LOG_ERROR, "http_client", "msg=\"libcurl cannot initialise: %s\"",
               curl_easy_strerror(global_rc));
        return -EIO;
    }
    return 0;
}

void
rp_http_client_global_cleanup(void)
{
    if (global_rc == CURLE_OK)
        curl_global_cleanup();
}

/* ---- completions ---- */

static int
map_error(struct rp_http_call *call, CURLcode rc)
{
    long os_errno = 0;
    switch (rc) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_CONNECT:
        /* Refused, unreachable...: the connect's own errno says which. */
        if (curl_easy_getinfo(call->easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK &&
            os_errno > 0 && os_errno < 4096)
            return -(int)os_errno;
        return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return -ENXIO;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        if (call->aborted)
            return -ECANCELED;
        return call->too_big || rc == CURLE_FILESIZE_EXCEEDED ? -EMSGSIZE : -EIO;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return -EPROTO;
    default:
        return -EIO;
    }
}

static void
call_free(struct rp_http_call *call)
{
    curl_easy_cleanup(call->easy);
    curl_slist_free_all(call->headers);
    free(call->body);
    rp_buf_fini(&call->resp);
    free(call);
}

/* Takes <call> out of the multi handle and the client's accounting. */
static void
call_detach(struct rp_http_call *call)
{
    struct rp_http_client *c = call->c;
    curl_multi_remove_handle(c->multi, call->easy);
    rp_list_remove(&call->node);
    c->n_calls--;
}

static void
call_finish(struct rp_http_call *call, CURLcode rc)
{
    struct rp_http_client *c = call->c;
    long status = 0;
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
    struct rp_http_result r = {
        .status = (int)status,
        .error = map_error(call, rc),
        .body = "",
        .detail = "",
        .elapsed_ms = rp_clock_now_ms() - call->started_ms,
    };
    if (r.error == 0) {
        const char *body = rp_buf_cstr(&call->resp);
        if (body) {
            r.body = body;
            r.body_len = call->resp.len;
        }
    } else {
        r.detail = call->errbuf[0] ? call->errbuf : curl_easy_strerror(rc);
    }
    /* Detached first: the callback may post a new call in the slot this one frees. */
    call_detach(call);
    call->reporting = true;
    c->dispatching++;
    call->fn(call->ctx, &r);
    c->dispatching--;
    call_free(call);
}

/* Reports every call libcurl has finished. Runs outside libcurl, so callbacks may post and
 * cancel; a cancelled call's pending message goes with its easy handle. */
static void
report_done(struct rp_http_client *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        RP_ASSERT(priv != NULL);
        call_finish((struct rp_http_call *)(void *)priv, m->data.result);
    }
}

/* ---- libcurl's socket and timer callbacks ---- */

static void
sock_io(struct rp_loop_io *io, uint32_t events)
{
    struct sock *k = RP_CONTAINER_OF(io, struct sock, io);
    if (k->dead)
        return;
    struct rp_http_client *c = k->c;
    int bits = 0;
    if (events & RP_LOOP_READ)
        bits |= CURL_CSELECT_IN;
    if (events & RP_LOOP_WRITE)
        bits |= CURL_CSELECT_OUT;
    if (events & RP_LOOP_HUP) {
        /* Hang-up or a pending error: let libcurl read or write what it waits for, so it
         * finds the real cause (EOF, ECONNREFUSED, ECONNRESET) itself. */
        if (k->io.events & RP_LOOP_READ)
            bits |= CURL_CSELECT_IN;
        if (k->io.events & RP_LOOP_WRITE)
            bits |= CURL_CSELECT_OUT;
        if (!bits)
            bits = CURL_CSELECT_ERR;
    }
    int running;
    curl_multi_socket_action(c->multi, k->io.fd, bits, &running);
    report_done(c);
}

static int
on_socket(CURL *easy, curl_socket_t s, int what, void *clientp, void *socketp)
{
    (void)easy;
    struct rp_http_client *c = clientp;
    struct sock *k = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            rp_loop_remove(c->loop, &k->io);
            k->dead = true;
            rp_list_remove(&k->node);
            rp_list_insert_tail(&c->dead_socks, &k->node);
            curl_multi_assign(c->multi, s, NULL);
        }
        return 0;
    }
    uint32_t ev = 0;
    if (what & CURL_POLL_IN)
        ev |= RP_LOOP_READ;
    if (what & CURL_POLL_OUT)
        ev |= RP_LOOP_WRITE;
    if (k)
        return rp_loop_modify(c->loop, &k->io, ev) == 0 ? 0 : -1;
    k = rp_xcalloc(1, sizeof(*k));
    k->io.fd = s;
    k->io.fn = sock_io;
    k->c = c;
    int err = rp_loop_add(c->loop, &k->io, ev);
    if (err == -EEXIST) {
        /* A registration left from an earlier socket with the same number. */
        rp_loop_remove(c->loop, &k->io);
        err = rp_loop_add(c->loop, &k->io, ev);
    }
    if (err) {
        RP_LOG(RP_LOG_ERROR, "http_client", "msg=\"cannot watch a socket: %s\"", strerror(-err));
        free(k);
        return -1; /* libcurl then fails the transfers of this multi handle */
    }
    rp_list_insert_tail(&c->socks, &k->node);
    curl_multi_assign(c->multi, s, k);
    return 0;
}

/* libcurl asks to be called back in <timeout_ms> (-1: never). Not from here: the tick does. */
static int
on_timer(CURLM *multi, long timeout_ms, void *clientp)
{
    (void)multi;
    struct rp_http_client *c = clientp;
    if (timeout_ms < 0) {
        c->has_deadline = false;
    } else {
        c->has_deadline = true;
        c->deadline_ms = rp_clock_now_ms() + timeout_ms;
    }
    return 0;
}

/* A streaming GET's head, once: false when on_head refused it. */
static bool
stream_head(struct rp_http_call *call)
{
    if (call->head_seen)
        return true;
    call->head_seen = true;
    long status = 0;
    char *ctype = NULL;
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(call->easy, CURLINFO_CONTENT_TYPE, &ctype);
    if (call->on_head(call->ctx, (int)status, ctype ? ctype : "") != 0) {
        call->aborted = true;
        return false;
    }
    return true;
}

/* Header lines of a streaming GET: the blank line that ends a final (not 1xx) answer's
 * headers is when its head is known, before any body byte (an event stream may send none
 * for a long time). */
static size_t
on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct rp_http_call *call = userp;
    size_t n = size * nmemb;
    if ((n == 2 && data[0] == '\r' && data[1] == '\n') || (n == 1 && data[0] == '\n')) {
        long status = 0;
        curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && !stream_head(call))
            return 0; /* CURLE_WRITE_ERROR ends the transfer */
    }
    return n;
}

/* A streaming GET's body: every chunk as it arrives, after the head. */
static size_t
on_write_stream(struct rp_http_call *call, const char *data, size_t n)
{
    if (!stream_head(call))
        return 0;
    if (call->on_data(call->ctx, data, n) != 0) {
        call->aborted = true;
        return 0;
    }
    return n;
}

static size_t
on_write(char *data, size_t size, size_t nmemb, void *userp)
{
    struct rp_http_call *call = userp;
    size_t n = size * nmemb;
    if (call->stream)
        return on_write_stream(call, data, n);
    if (rp_buf_append(&call->resp, data, n) != 0) {
        call->too_big = true;
        return 0; /* CURLE_WRITE_ERROR ends the transfer */
    }
    return n;
}

/* Sockets close on exec: an upgrade starts the next process with fork and exec while calls
 * are open, and an inherited upstream connection would stay open in it for good. */
static curl_socket_t
open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)clientp;
    (void)purpose;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static void
free_dead_socks(struct rp_http_client *c)
{
    while (!rp_list_empty(&c->dead_socks)) {
        struct sock *k = RP_CONTAINER_OF(c->dead_socks.next, struct sock, node);
        rp_list_remove(&k->node);
        free(k);
    }
}

/* ---- the client ---- */

static char *
build_noproxy(void)
{
    const char *env = getenv("no_proxy");
    if (!env || !*env)
        env = getenv("NO_PROXY");
    if (!env || !*env)
        return rp_xstrdup(LOOPBACK_NOPROXY);
    size_t n = sizeof(LOOPBACK_NOPROXY) + 1 + strlen(env);
    char *s = rp_xmalloc(n);
    snprintf(s, n, "%s,%s", LOOPBACK_NOPROXY, env);
    return s;
}

struct rp_http_client *
rp_http_client_new(struct rp_loop *loop, size_t max_in_flight)
{
    if (!loop || max_in_flight == 0 || max_in_flight > LONG_MAX)
        return NULL;
    if (rp_http_client_global_init() != 0)
        return NULL;
    CURLM *multi = curl_multi_init();
    if (!multi)
        return NULL;
    struct rp_http_client *c = rp_xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->multi = multi;
    c->max_in_flight = max_in_flight;
    rp_list_init(&c->calls);
    rp_list_init(&c->socks);
    rp_list_init(&c->dead_socks);
    c->noproxy = build_noproxy();
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, c);
    /* The idle pool: enough for every call's connection to be reused. */
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)max_in_flight);
    return c;
}

void
rp_http_client_free(struct rp_http_client *c)
{
    if (!c)
        return;
    RP_ASSERT(c->dispatching == 0);
    while (!rp_list_empty(&c->calls)) {
        struct rp_http_call *call = RP_CONTAINER_OF(c->calls.next, struct rp_http_call, node);
        call_detach(call);
        call_free(call);
    }
    /* Closes the pooled connections; may still call on_socket, so <c> lives until after. */
    curl_multi_cleanup(c->multi);
    while (!rp_list_empty(&c->socks)) {
        struct sock *k = RP_CONTAINER_OF(c->socks.next, struct sock, node);
        rp_loop_remove(c->loop, &k->io);
        rp_list_remove(&k->node);
        free(k);
    }
    free_dead_socks(c);
    free(c->noproxy);
    free(c);
}

size_t
rp_http_client_in_flight(const struct rp_http_client *c)
{
    return c->n_calls;
}

/* True when <url> parses and its scheme is http or https. */
static bool
url_allowed(const char *url)
{
    CURLU *u = curl_url();
    if (!u)
        return false;
    char *scheme = NULL;
    bool ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
    curl_free(scheme);
    curl_url_cleanup(u);
    return ok;
}

/* True when <line> is one header line with no CR or LF to smuggle in another. */
static bool
header_ok(const char *line)
{
    return strchr(line, ':') && !strpbrk(line, "\r\n");
}

static int
build_headers(struct rp_http_call *call, const struct rp_http_post *p)
{
    char ct[256];
    const char *type = p->content_type ? p->content_type : "application/json";
    int n = snprintf(ct, sizeof(ct), "Content-Type: %s", type);
    if (n < 0 || (size_t)n >= sizeof(ct) || !header_ok(ct))
        return -EINVAL;
    /* "Expect:" stops libcurl waiting for a 100 Continue that webhooks rarely send. */
    const char *fixed[] = {ct, "Expect:"};
    for (size_t i = 0; i < 2; i++) {
        struct curl_slist *l = curl_slist_append(call->headers, fixed[i]);
        if (!l)
            return -ENOMEM;
        call->headers = l;
    }
    for (const char *const *h = p->extra_headers; h && *h; h++) {
        if (!header_ok(*h))
            return -EINVAL;
        struct curl_slist *l = curl_slist_append(call->headers, *h);
        if (!l)
            return -ENOMEM;
        call->headers = l;
    }
    return 0;
}

static int
configure(struct rp_http_call *call, const struct rp_http_post *p)
{
    CURL *e = call->easy;
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(e, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, p->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_NOPROXY, call->c->noproxy);
    SET(CURLOPT_USERAGENT, USER_AGENT);
    SET(CURLOPT_HTTPHEADER, call->headers);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->body_len);
    SET(CURLOPT_POSTFIELDS, call->body);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)p->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, (long)p->total_timeout_ms);
    /* A declared Content-Length past the cap fails before any byte is read. */
    SET(CURLOPT_MAXFILESIZE_LARGE,
        (curl_off_t)((uint64_t)p->max_body > (uint64_t)INT64_MAX ? INT64_MAX
                                                                 : (int64_t)p->max_body));
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, call);
    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SET(CURLOPT_ERRORBUFFER, call->errbuf);
    SET(CURLOPT_PRIVATE, call);
#undef SET
    if (rc == CURLE_UNKNOWN_OPTION || rc == CURLE_NOT_BUILT_IN)
        return -EIO;
    if (rc == CURLE_OUT_OF_MEMORY)
        return -ENOMEM;
    return rc == CURLE_OK ? 0 : -EINVAL;
}

int
rp_http_client_post(struct rp_http_client *c, const struct rp_http_post *p,
                    rp_http_client_done_fn fn, void *ctx, struct rp_http_call **out)
{
    if (out)
        *out = NULL;
    if (!p->url || !fn || p->total_timeout_ms <= 0 || p->total_timeout_ms > LONG_MAX ||
        p->connect_timeout_ms < 0 || p->connect_timeout_ms > LONG_MAX || (p->body_len && !p->body))
        return -EINVAL;
    if (c->n_calls >= c->max_in_flight)
        return -EAGAIN;
    if (!url_allowed(p->url))
        return -EINVAL;
    struct rp_http_call *call = rp_xcalloc(1, sizeof(*call));
    call->c = c;
    call->fn = fn;
    call->ctx = ctx;
    rp_buf_init(&call->resp, p->max_body);
    /* One spare byte: libcurl must see a valid pointer even for an empty body. */
    call->body = rp_xmalloc(p->body_len + 1);
    if (p->body_len)
        memcpy(call->body, p->body, p->body_len);
    call->body[p->body_len] = '\0';
    int err = -ENOMEM;
    call->easy = curl_easy_init();
    if (!call->easy)
        goto fail;
    err = build_headers(call, p);
    if (err)
        goto fail;
    err = configure(call, p);
    if (err)
        goto fail;
    call->started_ms = rp_clock_now_ms();
    /* Only arms the timer (on_timer): the transfer starts in the next tick, so <fn> can
     * never run inside this call. */
    if (curl_multi_add_handle(c->multi, call->easy) != CURLM_OK) {
        err = -EIO;
        goto fail;
    }
    rp_list_insert_tail(&c->calls, &call->node);
    c->n_calls++;
    if (out)
        *out = call;
    return 0;
fail:
    call_free(call);
    return err;
}

/* The options of a streaming GET (configure() is the POST's). */
static int
configure_get(struct rp_http_call *call, const struct rp_http_get *g)
{
    CURL *e = call->easy;
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(e, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, g->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_NOPROXY, call->c->noproxy);
    SET(CURLOPT_USERAGENT, USER_AGENT);
    SET(CURLOPT_HTTPHEADER, call->headers);
    SET(CURLOPT_HTTPGET, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)g->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, 0L);
    if (g->idle_timeout_ms > 0) {
        /* Less than a byte a second for that long (headers included): the peer is gone or
         * never answered. A live event stream sends heartbeats well within it. */
        long secs = (long)((g->idle_timeout_ms + 999) / 1000);
        SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
        SET(CURLOPT_LOW_SPEED_TIME, secs);
    }
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, call);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, call);
    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SET(CURLOPT_ERRORBUFFER, call->errbuf);
    SET(CURLOPT_PRIVATE, call);
#undef SET
    if (rc == CURLE_UNKNOWN_OPTION || rc == CURLE_NOT_BUILT_IN)
        return -EIO;
    if (rc == CURLE_OUT_OF_MEMORY)
        return -ENOMEM;
    return rc == CURLE_OK ? 0 : -EINVAL;
}

int
rp_http_client_get_stream(struct rp_http_client *c, const struct rp_http_get *g,
                          rp_http_head_fn on_head, rp_http_data_fn on_data,
                          rp_http_client_done_fn fn, void *ctx, struct rp_http_call **out)
{
    if (out)
        *out = NULL;
    if (!g->url || !on_head || !on_data || !fn || g->connect_timeout_ms < 0 ||
        g->connect_timeout_ms > LONG_MAX || g->idle_timeout_ms < 0)
        return -EINVAL;
    if (c->n_calls >= c->max_in_flight)
        return -EAGAIN;
    if (!url_allowed(g->url))
        return -EINVAL;
    struct rp_http_call *call = rp_xcalloc(1, sizeof(*call));
    call->c = c;
    call->fn = fn;
    call->ctx = ctx;
    call->stream = true;
    call->on_head = on_head;
    call->on_data = on_data;
    rp_buf_init(&call->resp, 1);
    int err = -ENOMEM;
    call->easy = curl_easy_init();
    if (!call->easy)
        goto fail;
    for (const char *const *h = g->extra_headers; h && *h; h++) {
        if (!header_ok(*h)) {
            err = -EINVAL;
            goto fail;
        }
        struct curl_slist *l = curl_slist_append(call->headers, *h);
        if (!l)
            goto fail;
        call->headers = l;
    }
    err = configure_get(call, g);
    if (err)
        goto fail;
    call->started_ms = rp_clock_now_ms();
    if (curl_multi_add_handle(c->multi, call->easy) != CURLM_OK) {
        err = -EIO;
        goto fail;
    }
    rp_list_insert_tail(&c->calls, &call->node);
    c->n_calls++;
    if (out)
        *out = call;
    return 0;
fail:
    call_free(call);
    return err;
}

int
rp_http_call_pause(struct rp_http_call *call, bool pause)
{
    CURLcode rc = curl_easy_pause(call->easy, pause ? CURLPAUSE_RECV : CURLPAUSE_CONT);
    return rc == CURLE_OK ? 0 : -EIO;
}

void
rp_http_call_cancel(struct rp_http_call *call)
{
    if (!call || call->reporting)
        return;
    call_detach(call);
    call_free(call);
}

int
rp_http_client_timeout_ms(const struct rp_http_client *c, int64_t now_ms)
{
    if (!c->has_deadline)
        return -1;
    int64_t left = c->deadline_ms - now_ms;
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

void
rp_http_client_tick(struct rp_http_client *c, int64_t now_ms)
{
    RP_ASSERT(c->dispatching == 0);
    if (c->has_deadline && now_ms >= c->deadline_ms) {
        int running;
        curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        report_done(c);
        /* Ask again rather than trust on_timer: libcurl skips the callback when its next
         * expiry is the one it last announced, which happens when our millisecond clock
         * runs the action a little before libcurl's microsecond one says it is due. */
        long ms = -1;
        if (curl_multi_timeout(c->multi, &ms) == CURLM_OK)
            on_timer(c->multi, ms, c);
    }
    /* No epoll batch is being walked here, so sockets released so far can go. */
    free_dead_socks(c);
}
