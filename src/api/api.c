/* SPDX-License-Identifier: MIT */
/*
 * The API's entry: admits a connection's first request (api/guard.h), answers CORS
 * preflights, refuses cross-site publishes, and routes by the table below to the endpoint
 * groups (one file each). A waiting request that gave up is answered here, by why it waited.
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include "api/endpoints.h"
#include "api/guard.h"
#include "auth/auth.h"
#include "base/stats.h"
#include "core/event_id.h"
#include "core/hub.h"
#include "http/cors.h"
#include "http/response.h"

size_t
rp_api_copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}

char *
rp_api_plus_literal(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == ' ')
            *p = '+';
    return s;
}

void
rp_api_respond_json(struct rp_conn *c, const struct rp_http_request *req, int status,
                    struct rp_buf *b)
{
    rp_conn_respond(c, req, status, "application/json", NULL, b->data ? b->data : "", b->len);
}

void
rp_api_json_id(struct rp_buf *b, struct rp_hub *hub, uint64_t seq)
{
    char id[RP_EVENT_ID_MAX + 1];
    if (!seq) {
        rp_buf_append_str(b, "null");
        return;
    }
    rp_hub_format_id(hub, seq, id);
    rp_buf_printf(b, "\"%s\"", id);
}

static void
preflight(struct rp_conn *c, const struct rp_http_request *req)
{
    const char *origin = rp_http_request_header(req, "Origin");
    if (!origin || !rp_cors_allowed(rp_conn_cors(c), origin)) {
        rp_conn_error(c, req, 403,
                      origin ? "this Origin is not in cors_origins"
                             : "a preflight request needs an Origin header",
                      NULL);
        return;
    }
    struct rp_buf h;
    rp_buf_init(&h, 4096);
    rp_cors_preflight_headers(rp_conn_cors(c), origin,
                              rp_http_request_header(req, "Access-Control-Request-Headers"), &h);
    /* rp_conn_respond adds the Allow-Origin lines itself; keep only the preflight ones. */
    const char *p = strstr(rp_buf_cstr(&h), "Access-Control-Allow-Methods");
    rp_conn_respond(c, req, 204, NULL, p, "", 0);
    rp_buf_fini(&h);
}

/*
 * A browser sends Origin with every cross-site POST and sends simple ones (text/plain)
 * without a preflight, so CORS alone would let any page publish. A POST carrying an
 * Origin must come from an allowed origin or from this server's own (Host) origin.
 */
static bool
origin_may_post(struct rp_conn *c, const struct rp_http_request *req)
{
    const char *origin = rp_http_request_header(req, "Origin");
    if (!origin || rp_cors_allowed(rp_conn_cors(c), origin))
        return true;
    const char *host = rp_http_request_header(req, "Host");
    const char *sep = strstr(origin, "://");
    return host && sep && strcmp(sep + 3, host) == 0;
}

/* A waiting request whose deadline passed: why it gave up, by what it waited for. */
static void
answer_expired(struct rp_conn *c, const struct rp_http_request *req)
{
    switch (c->wait_kind) {
    case RP_WAIT_BLOCK:
        rp_stat_add(rp_conn_stats(c), RP_STAT_publish_block_timeouts, 1);
        rp_conn_error(c, req, 503,
                      "a slow subscriber blocks this topic (slow_policy block) and did not catch "
                      "up within block_timeout; retry later",
                      "Retry-After: 1\r\n");
        break;
    case RP_WAIT_AUTH:
        rp_stat_auth_failure(rp_conn_stats(c), RP_AUTH_UNAVAILABLE);
        rp_conn_error(c, req, 503,
                      "the auth webhook did not answer within auth_webhook_timeout; retry later",
                      "Retry-After: 1\r\n");
        break;
    case RP_WAIT_DURABLE:
    case RP_WAIT_CLUSTER:
    case RP_WAIT__COUNT:
        rp_conn_error(c, req, 503, "the event could not be confirmed in time; retry later",
                      "Retry-After: 1\r\n");
        break;
    }
}

/* ---- routes ---- */

enum route_match {
    ROUTE_EXACT = 0, /* the path itself (and with a trailing slash when <slash>) */
    ROUTE_PREFIX,    /* <path>/<rest>, the rest possibly empty (the handler says what is missing) */
};

typedef void (*route_fn)(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                         const char *rest, enum rp_conn_call call);

struct route {
    const char *path;
    enum route_match match;
    bool slash; /* EXACT: "<path>/" matches too */
    enum rp_http_method method;
    route_fn fn;
};

static void
events(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req, const char *rest,
       enum rp_conn_call call)
{
    (void)call;
    rp_api_events(a, c, req, rest);
}

static void
publish_json(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
             const char *rest, enum rp_conn_call call)
{
    (void)rest;
    rp_api_publish_json(a, c, req, call);
}

static void
publish_raw(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
            const char *rest, enum rp_conn_call call)
{
    rp_api_publish_raw(a, c, req, rest, call);
}

static void
submit(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req, const char *rest,
       enum rp_conn_call call)
{
    (void)rest;
    rp_api_submit(a, c, req, call);
}

static void
topics(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req, const char *rest,
       enum rp_conn_call call)
{
    (void)call;
    if (rest)
        rp_api_topic(a, c, req, rest);
    else
        rp_api_topics_list(a, c, req);
}

#define NODE_ROUTE(name, handler)                                                                  \
    static void name(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,       \
                     const char *rest, enum rp_conn_call call)                                     \
    {                                                                                              \
        (void)rest;                                                                                \
        (void)call;                                                                                \
        handler(a, c, req);                                                                        \
    }
NODE_ROUTE(route_metrics, rp_api_metrics)
NODE_ROUTE(health, rp_api_health)
NODE_ROUTE(ready, rp_api_ready)
NODE_ROUTE(dashboard, rp_api_dashboard)
NODE_ROUTE(ping, rp_api_ping)
NODE_ROUTE(home, rp_api_index)
#undef NODE_ROUTE

static const struct route routes[] = {
    {"/events", ROUTE_EXACT, false, RP_HTTP_METHOD_GET, events},
    {"/events", ROUTE_PREFIX, false, RP_HTTP_METHOD_GET, events},
    {"/publish", ROUTE_EXACT, false, RP_HTTP_METHOD_POST, publish_json},
    {"/publish", ROUTE_PREFIX, false, RP_HTTP_METHOD_POST, publish_raw},
    {"/submit", ROUTE_EXACT, false, RP_HTTP_METHOD_POST, submit},
    {"/topics", ROUTE_EXACT, true, RP_HTTP_METHOD_GET, topics},
    {"/topics", ROUTE_PREFIX, false, RP_HTTP_METHOD_GET, topics},
    {"/metrics", ROUTE_EXACT, false, RP_HTTP_METHOD_GET, route_metrics},
    {"/dashboard", ROUTE_EXACT, true, RP_HTTP_METHOD_GET, dashboard},
    {"/readyz", ROUTE_EXACT, false, RP_HTTP_METHOD_GET, ready},
    {"/ping", ROUTE_EXACT, false, RP_HTTP_METHOD_GET, ping},
    {"/healthz", ROUTE_EXACT, false, RP_HTTP_METHOD_GET, health},
    {"/", ROUTE_EXACT, false, RP_HTTP_METHOD_GET, home},
};

/* Whether <r> matches <path>; *<rest> is what follows "<path>/" for a PREFIX route. */
static bool
route_matches(const struct route *r, const char *path, const char **rest)
{
    size_t n = strlen(r->path);
    *rest = NULL;
    if (strncmp(path, r->path, n) != 0)
        return false;
    if (r->match == ROUTE_EXACT)
        return path[n] == '\0' || (r->slash && path[n] == '/' && path[n + 1] == '\0');
    if (path[n] != '/')
        return false;
    *rest = path + n + 1;
    return true;
}

static void
route(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
      enum rp_conn_call call)
{
    const struct route *allowed = NULL;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const char *rest;
        if (!route_matches(&routes[i], req->path, &rest))
            continue;
        if (routes[i].method == req->method) {
            routes[i].fn(a, c, req, rest, call);
            return;
        }
        allowed = &routes[i];
    }
    char msg[300], hdr[64];
    if (allowed) {
        /* Every path takes one method today; the table says which. */
        const char *allow = allowed->method == RP_HTTP_METHOD_GET ? "GET" : "POST";
        snprintf(msg, sizeof(msg), "%s is not allowed here; use %s", req->method_name, allow);
        snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
        rp_conn_error(c, req, 405, msg, hdr);
        return;
    }
    snprintf(msg, sizeof(msg), "no such endpoint: %.200s (see GET / for the list)", req->path);
    rp_conn_error(c, req, 404, msg, NULL);
}

void
rp_api_handle(void *ctx, struct rp_conn *c, const struct rp_http_request *req,
              enum rp_conn_call call)
{
    struct rp_api *a = ctx;
    if (call == RP_CONN_CALL_EXPIRED) {
        answer_expired(c, req);
        return;
    }
    if (!c->admitted && !rp_guard_admit(a->node->guard, c, req))
        return;
    if (req->method == RP_HTTP_METHOD_OPTIONS) {
        preflight(c, req);
    } else if (req->method == RP_HTTP_METHOD_POST && !origin_may_post(c, req)) {
        rp_api_reject_publish(c, req, 403,
                              "this Origin is not in cors_origins and may not publish");
    } else {
        route(a, c, req, call);
    }
}
