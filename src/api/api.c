/* SPDX-License-Identifier: MIT */
/*
 * The API's entry: admits a connection's first request (api/guard.h), refuses a Host it
 * does not answer for, answers CORS preflights, refuses cross-site publishes, and routes
 * by the table below to the endpoint groups (one file each). A waiting request that gave
 * up is answered here, by why it waited.
 */
#include "api/api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/endpoints.h"
#include "api/history.h"
#include "api/sessions.h"
#include "api/guard.h"
#include "auth/auth.h"
#include "base/stats.h"
#include "core/event_id.h"
#include "core/hub.h"
#include "http/cors.h"
#include "http/query.h"
#include "http/response.h"
#include "http/router.h"

size_t
rp_api_copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
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

/*
 * Health and readiness probes are answered whatever their Host: load balancers probe by
 * names the node is not told about, and the answers reveal nothing a page could misuse.
 */
static bool
is_probe(const struct rp_http_request *req)
{
    return strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/health") == 0 ||
           strcmp(req->path, "/readyz") == 0;
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
    case RP_WAIT_HISTORY:
        rp_history_release(c->pending);
        c->pending = NULL;
        rp_conn_error(c, req, 503,
                      "reading the missed events from the event log took too long; retry later",
                      "Retry-After: 1\r\n");
        break;
    case RP_WAIT_CLUSTER:
        /* The publish may still be stored: Redis answers it later, to nobody. */
        c->pending_free(c->pending);
        c->pending = NULL;
        rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
        rp_conn_error(c, req, 503,
                      "Redis did not confirm the publish within redis_timeout; it may or may not "
                      "have been stored",
                      "Retry-After: 1\r\n");
        break;
    case RP_WAIT_DURABLE:
    case RP_WAIT__COUNT:
        rp_conn_error(c, req, 503, "the event could not be confirmed in time; retry later",
                      "Retry-After: 1\r\n");
        break;
    }
}

/* ---- routes ---- */

/* What a route handler needs besides the request. */
struct call {
    struct rp_api *a;
    struct rp_conn *c;
    enum rp_conn_call why;
};

static void
events(void *ctx, const struct rp_http_request *req, const char *rest)
{
    struct call *k = ctx;
    rp_api_events(k->a, k->c, req, rest);
}

static void
publish_json(void *ctx, const struct rp_http_request *req, const char *rest)
{
    struct call *k = ctx;
    (void)rest;
    rp_api_publish_json(k->a, k->c, req, k->why);
}

static void
publish_raw(void *ctx, const struct rp_http_request *req, const char *rest)
{
    struct call *k = ctx;
    rp_api_publish_raw(k->a, k->c, req, rest, k->why);
}

static void
submit(void *ctx, const struct rp_http_request *req, const char *rest)
{
    struct call *k = ctx;
    (void)rest;
    rp_api_submit(k->a, k->c, req, k->why);
}

static void
session_send(void *ctx, const struct rp_http_request *req, const char *rest)
{
    struct call *k = ctx;
    rp_api_session_send(k->a, k->c, req, rest, k->why);
}

static void
sessions_send(void *ctx, const struct rp_http_request *req, const char *rest)
{
    struct call *k = ctx;
    (void)rest;
    rp_api_sessions_send(k->a, k->c, req, k->why);
}

static void
session_info(void *ctx, const struct rp_http_request *req, const char *rest)
{
    struct call *k = ctx;
    rp_api_session_info(k->a, k->c, req, rest);
}

static void
topic_events(void *ctx, const struct rp_http_request *req, const char *rest)
{
    struct call *k = ctx;
    rp_api_topic_events(k->a, k->c, req, rest);
}

static void
topic(void *ctx, const struct rp_http_request *req, const char *rest)
{
    struct call *k = ctx;
    if (*rest)
        rp_api_topic_info(k->a, k->c, req, rest);
    else
        rp_api_topics_list(k->a, k->c, req);
}

static void
mercure(void *ctx, const struct rp_http_request *req, const char *rest)
{
    struct call *k = ctx;
    (void)rest;
    rp_api_mercure(k->a, k->c, req, k->why);
}
static void
mercure_subscriptions(void *ctx, const struct rp_http_request *req, const char *rest)
{
    struct call *k = ctx;
    rp_api_mercure_subscriptions(k->a, k->c, req, rest ? rest : "");
}
static void
mercure_metadata(void *ctx, const struct rp_http_request *req, const char *rest)
{
    struct call *k = ctx;
    /* RFC 9728 path insertion: the document of the resource /.well-known/mercure is at
     * /.well-known/oauth-protected-resource/.well-known/mercure; the bare path serves it too. */
    if (*rest && strcmp(rest, "/.well-known/mercure") != 0) {
        rp_conn_error(k->c, req, 404, "no protected resource here by that path", NULL);
        return;
    }
    rp_api_mercure_metadata(k->a, k->c, req);
}
/* The endpoints that take only the request. */
#define PLAIN_ROUTE(name, handler)                                                                 \
    static void name(void *ctx, const struct rp_http_request *req, const char *rest)               \
    {                                                                                              \
        struct call *k = ctx;                                                                      \
        (void)rest;                                                                                \
        handler(k->a, k->c, req);                                                                  \
    }
PLAIN_ROUTE(topics_list, rp_api_topics_list)
PLAIN_ROUTE(node_metrics, rp_api_metrics)
PLAIN_ROUTE(health, rp_api_health)
PLAIN_ROUTE(health_documented, rp_api_health_documented)
PLAIN_ROUTE(ready, rp_api_ready)
PLAIN_ROUTE(dashboard, rp_api_dashboard)
PLAIN_ROUTE(ping, rp_api_ping)
PLAIN_ROUTE(home, rp_api_index)
PLAIN_ROUTE(upstreams_list, rp_api_upstreams_list)
PLAIN_ROUTE(sessions_list, rp_api_sessions_list)
#undef PLAIN_ROUTE

/* A GET route answers HEAD too: the same status and headers, no body (front/conn.c drops
 * it; a stream is not opened). */
#define GET_OR_HEAD (RP_ROUTE_GET | RP_ROUTE_HEAD)

/* Tried in order; GET / lists them for people (node.c). */
static const struct rp_route routes[] = {
    {"/events", RP_ROUTE_EXACT, GET_OR_HEAD, events, NULL},
    {"/events/", RP_ROUTE_PREFIX, GET_OR_HEAD, events, NULL},
    {"/publish", RP_ROUTE_EXACT, RP_ROUTE_POST, publish_json, NULL},
    {"/publish/", RP_ROUTE_PREFIX, RP_ROUTE_POST, publish_raw, NULL},
    {"/submit", RP_ROUTE_EXACT, RP_ROUTE_POST, submit, NULL},
    {"/topics", RP_ROUTE_EXACT, GET_OR_HEAD, topics_list, NULL},
    {"/topics/", RP_ROUTE_SUFFIX, GET_OR_HEAD, topic_events, "/events"},
    {"/topics/", RP_ROUTE_PREFIX, GET_OR_HEAD, topic, NULL},
    {"/metrics", RP_ROUTE_EXACT, GET_OR_HEAD, node_metrics, NULL},
    {"/dashboard", RP_ROUTE_EXACT, GET_OR_HEAD, dashboard, NULL},
    {"/dashboard/", RP_ROUTE_EXACT, GET_OR_HEAD, dashboard, NULL},
    {"/readyz", RP_ROUTE_EXACT, GET_OR_HEAD, ready, NULL},
    {"/ping", RP_ROUTE_EXACT, GET_OR_HEAD, ping, NULL},
    {"/healthz", RP_ROUTE_EXACT, GET_OR_HEAD, health, NULL},
    {"/health", RP_ROUTE_EXACT, GET_OR_HEAD, health_documented, NULL},
    {"/", RP_ROUTE_EXACT, GET_OR_HEAD, home, NULL},
    {"/.well-known/mercure", RP_ROUTE_EXACT, GET_OR_HEAD | RP_ROUTE_POST, mercure, NULL},
    {"/.well-known/mercure/subscriptions", RP_ROUTE_EXACT, GET_OR_HEAD, mercure_subscriptions,
     NULL},
    {"/.well-known/mercure/subscriptions/", RP_ROUTE_PREFIX, GET_OR_HEAD, mercure_subscriptions,
     NULL},
    {"/.well-known/oauth-protected-resource", RP_ROUTE_PREFIX, GET_OR_HEAD, mercure_metadata, NULL},
    {"/upstreams", RP_ROUTE_EXACT, GET_OR_HEAD, upstreams_list, NULL},
    {"/sessions/events", RP_ROUTE_EXACT, RP_ROUTE_POST, sessions_send, NULL},
    {"/sessions/", RP_ROUTE_SUFFIX, RP_ROUTE_POST, session_send, "/events"},
    {"/sessions", RP_ROUTE_EXACT, GET_OR_HEAD, sessions_list, NULL},
    {"/sessions/", RP_ROUTE_PREFIX, GET_OR_HEAD, session_info, NULL},
};
static const struct rp_router router = {routes, sizeof(routes) / sizeof(routes[0]), 0};

/* Parses the query once for every handler, then routes. */
static void
route(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req, enum rp_conn_call why)
{
    const struct rp_config_values *v = rp_conn_config(c);
    const struct rp_query_limits limits = {
        .max_bytes = (size_t)v->max_request_line,
        .max_params = (size_t)v->max_stream_topics + 8,
        .max_name = RP_API_QUERY_CAP,
        .max_value = RP_API_VALUE_CAP,
    };
    struct rp_query q = {0};
    struct rp_query_error qe;
    if (rp_query_parse(&q, req->query, req->query_len, &limits, &qe) != 0) {
        rp_conn_error(c, req, qe.status, qe.message, NULL);
        return;
    }
    a->query = &q;
    struct call k = {a, c, why};
    struct rp_router_miss miss;
    const char *up = a->node->upstream_prefix;
    size_t up_len = up ? strlen(up) : 0;
    int rc = 0;
    if (a->node->upstreams && up_len && req->path_len > up_len &&
        memcmp(req->path, up, up_len) == 0 &&
        (req->method == RP_HTTP_METHOD_GET || req->method == RP_HTTP_METHOD_HEAD))
        rp_api_upstream_stream(a, c, req, req->path + up_len); /* the configurable prefix */
    else
        rc = rp_router_dispatch(&router, &k, req, &miss);
    a->query = NULL;
    rp_query_fini(&q);
    if (rc == -ENOENT) {
        char msg[sizeof(miss.message) + 40];
        snprintf(msg, sizeof(msg), "%s (see GET / for the list)", miss.message);
        rp_conn_error(c, req, miss.status, msg, NULL);
    } else if (rc) {
        rp_conn_error(c, req, miss.status, miss.message, miss.headers);
    }
}

void
rp_api_handle(void *ctx, struct rp_conn *c, const struct rp_http_request *req,
              enum rp_conn_call call)
{
    struct rp_api *a = ctx;
    if (c->held) {
        rp_api_publish_durable(a, c, req, call);
        return;
    }
    if (call == RP_CONN_CALL_EXPIRED) {
        answer_expired(c, req);
        return;
    }
    if (!c->admitted && !rp_guard_admit(a->node->guard, c, req))
        return;
    if (!is_probe(req) && !rp_guard_host(c, req))
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
