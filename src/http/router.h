/* SPDX-License-Identifier: MIT */
#ifndef RP_HTTP_ROUTER_H
#define RP_HTTP_ROUTER_H
/*
 * Method + path -> handler, from one constant table matched in one place. A miss says
 * 404 (no route has the path) or 405 with the Allow value computed from the table.
 * Not responsible for what handlers do nor for their context: handlers get an opaque
 * pointer from the caller, so this layer knows no connection or API type. Paths are
 * matched as decoded, byte for byte: no case folding, no slash merging, no trailing-slash
 * equivalence, no implicit HEAD. Pure; any thread (tables are read only).
 */
#include <stddef.h>

#include "http/http_parser.h"

/* Method bits for rp_route.methods. */
#define RP_ROUTE_METHOD(m) (1u << (m))
#define RP_ROUTE_GET RP_ROUTE_METHOD(RP_HTTP_METHOD_GET)
#define RP_ROUTE_HEAD RP_ROUTE_METHOD(RP_HTTP_METHOD_HEAD)
#define RP_ROUTE_POST RP_ROUTE_METHOD(RP_HTTP_METHOD_POST)
#define RP_ROUTE_PUT RP_ROUTE_METHOD(RP_HTTP_METHOD_PUT)
#define RP_ROUTE_DELETE RP_ROUTE_METHOD(RP_HTTP_METHOD_DELETE)
#define RP_ROUTE_OPTIONS RP_ROUTE_METHOD(RP_HTTP_METHOD_OPTIONS)

/* How a route's path is compared with a request's; <rest> is the variable part. */
enum rp_route_match {
    RP_ROUTE_EXACT = 0, /* the path is <path>; rest "" */
    RP_ROUTE_PREFIX,    /* the path starts with <path> (which ends in '/'); rest: what follows,
                           maybe "" ("/events/" matches "/events/" and "/events/a/b") */
    RP_ROUTE_SUFFIX,    /* the path is <path> rest <suffix> with a non-empty rest, which may
                           hold '/' ("/topics/" + "/events" matches "/topics/a/b/events") */
};

/*
 * A handler: <ctx> is what the caller gave rp_router_dispatch (its connection, API context,
 * ...), <rest> the path's variable part, NUL-terminated, borrowed for the call.
 */
typedef void (*rp_route_fn)(void *ctx, const struct rp_http_request *req, const char *rest);

struct rp_route {
    const char *path;
    enum rp_route_match match;
    unsigned methods; /* RP_ROUTE_GET | ...; RP_HTTP_METHOD_OTHER never matches */
    rp_route_fn handler;
    const char *suffix; /* RP_ROUTE_SUFFIX only */
};

/* A route table. Routes are tried in order: the first whose path and method match wins. */
struct rp_router {
    const struct rp_route *routes; /* borrowed, usually a static const array */
    size_t n_routes;
    unsigned extra_allow; /* methods the caller answers for every path before routing (say
                             OPTIONS); added to each 405's Allow. 0 for none */
};

/* What rp_router_match found. */
struct rp_route_hit {
    const char *rest; /* on a match: the variable part, pointing into the path, rest_len
                         bytes (NUL-terminated except for SUFFIX routes) */
    size_t rest_len;
    int status;     /* 0 on a match, else 404 or 405 */
    unsigned allow; /* on 405: the methods of the routes that have the path, + extra_allow */
};

/* A miss, ready to answer. */
struct rp_router_miss {
    int status;        /* 404 or 405 */
    char message[300]; /* 404 "no such endpoint: <path>"; 405 "<METHOD> is not allowed
                          here; use <ALLOW>" */
    char headers[64];  /* 405 "Allow: <ALLOW>\r\n"; else "" */
};

/*
 * The first route of <router> that matches <method> and <path> (decoded, NUL-terminated),
 * with <hit> filled; or NULL with <hit>->status 404 or 405 (and <hit>->allow).
 */
const struct rp_route *rp_router_match(const struct rp_router *router, enum rp_http_method method,
                                       const char *path, struct rp_route_hit *hit);
/*
 * Matches <req> and calls the route's handler with <ctx>, <req> and the NUL-terminated
 * rest; returns 0 once it has returned. On a miss calls nothing, fills <miss> and returns
 * -ENOENT (404) or -EOPNOTSUPP (405).
 */
int rp_router_dispatch(const struct rp_router *router, void *ctx, const struct rp_http_request *req,
                       struct rp_router_miss *miss);
/*
 * Writes the methods of <methods> as an Allow value ("GET, POST", in the order of enum
 * rp_http_method) into <out> of <cap> bytes; returns its length (truncated like snprintf).
 */
size_t rp_router_allow_format(unsigned methods, char *out, size_t cap);

#endif
