/* SPDX-License-Identifier: MIT */
#include "http/router.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

/* Names for Allow, indexed by enum rp_http_method (OTHER has none: it is never allowed). */
static const char *const method_names[] = {
    [RP_HTTP_METHOD_GET] = "GET",       [RP_HTTP_METHOD_HEAD] = "HEAD",
    [RP_HTTP_METHOD_POST] = "POST",     [RP_HTTP_METHOD_PUT] = "PUT",
    [RP_HTTP_METHOD_DELETE] = "DELETE", [RP_HTTP_METHOD_OPTIONS] = "OPTIONS",
};
#define N_METHODS (sizeof(method_names) / sizeof(method_names[0]))

/* Whether <r> has <path>; sets <rest>/<rest_len> to its variable part when it does. */
static bool
path_matches(const struct rp_route *r, const char *path, size_t path_len, const char **rest,
             size_t *rest_len)
{
    size_t len = strlen(r->path);
    switch (r->match) {
    case RP_ROUTE_EXACT:
        if (path_len != len || memcmp(path, r->path, len) != 0)
            return false;
        *rest = path + path_len;
        *rest_len = 0;
        return true;
    case RP_ROUTE_PREFIX:
        if (path_len < len || memcmp(path, r->path, len) != 0)
            return false;
        *rest = path + len;
        *rest_len = path_len - len;
        return true;
    case RP_ROUTE_SUFFIX: {
        const char *suffix = r->suffix ? r->suffix : "";
        size_t suffix_len = strlen(suffix);
        /* The rest between them is never empty: "/topics//events" is not a topic's events. */
        if (path_len <= len + suffix_len || memcmp(path, r->path, len) != 0 ||
            memcmp(path + path_len - suffix_len, suffix, suffix_len) != 0)
            return false;
        *rest = path + len;
        *rest_len = path_len - len - suffix_len;
        return true;
    }
    }
    return false;
}

const struct rp_route *
rp_router_match(const struct rp_router *router, enum rp_http_method method, const char *path,
                struct rp_route_hit *hit)
{
    /* OTHER is bit 0: masked out of every route, so a method we cannot name never matches. */
    unsigned bit = RP_ROUTE_METHOD(method) & ~RP_ROUTE_METHOD(RP_HTTP_METHOD_OTHER);
    size_t path_len = strlen(path);
    unsigned allow = 0;
    *hit = (struct rp_route_hit){.rest = NULL, .rest_len = 0, .status = 404, .allow = 0};
    for (size_t i = 0; i < router->n_routes; i++) {
        const struct rp_route *r = &router->routes[i];
        const char *rest;
        size_t rest_len;
        if (!path_matches(r, path, path_len, &rest, &rest_len))
            continue;
        if (r->methods & bit) {
            *hit = (struct rp_route_hit){.rest = rest, .rest_len = rest_len, .status = 0};
            return r;
        }
        allow |= r->methods;
    }
    allow &= ~RP_ROUTE_METHOD(RP_HTTP_METHOD_OTHER);
    if (allow) {
        hit->status = 405;
        hit->allow = allow | router->extra_allow;
    }
    return NULL;
}

size_t
rp_router_allow_format(unsigned methods, char *out, size_t cap)
{
    size_t n = 0;
    if (cap)
        out[0] = '\0';
    for (size_t m = 0; m < N_METHODS; m++) {
        if (!method_names[m] || !(methods & RP_ROUTE_METHOD(m)))
            continue;
        int w = snprintf(out + (n < cap ? n : cap), n < cap ? cap - n : 0, "%s%s", n ? ", " : "",
                         method_names[m]);
        n += (size_t)w;
    }
    return n;
}

int
rp_router_dispatch(const struct rp_router *router, void *ctx, const struct rp_http_request *req,
                   struct rp_router_miss *miss)
{
    struct rp_route_hit hit;
    const struct rp_route *r = rp_router_match(router, req->method, req->path, &hit);
    if (r) {
        if (hit.rest[hit.rest_len] == '\0') {
            r->handler(ctx, req, hit.rest);
        } else {
            /* A SUFFIX route's rest is followed by the suffix: the handler gets a copy. */
            char *rest = rp_xstrndup(hit.rest, hit.rest_len);
            r->handler(ctx, req, rest);
            free(rest);
        }
        return 0;
    }
    miss->status = hit.status;
    miss->headers[0] = '\0';
    if (hit.status == 404) {
        snprintf(miss->message, sizeof(miss->message), "no such endpoint: %.200s", req->path);
        return -ENOENT;
    }
    char allow[48]; /* "GET, HEAD, POST, PUT, DELETE, OPTIONS" is 37 */
    rp_router_allow_format(hit.allow, allow, sizeof(allow));
    snprintf(miss->message, sizeof(miss->message), "%.32s is not allowed here; use %s",
             req->method_name, allow);
    snprintf(miss->headers, sizeof(miss->headers), "Allow: %s\r\n", allow);
    return -EOPNOTSUPP;
}
