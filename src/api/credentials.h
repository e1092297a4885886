/* SPDX-License-Identifier: MIT */
#ifndef RP_API_CREDENTIALS_H
#define RP_API_CREDENTIALS_H
/*
 * Who may do what: a request's token, checked by the worker's gate, and the grant it gives
 * checked against the topics a request reads or publishes to. Worker thread only.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "auth/auth.h"
#include "http/query.h"

enum rp_verdict {
    RP_VERDICT_PASS = 0, /* the grant covers everything asked */
    RP_VERDICT_REFUSED,  /* an answer was queued */
    RP_VERDICT_WAIT,     /* waits until the webhook answers (RP_WAIT_AUTH) */
};

/*
 * The request's token, into the malloc'd *<out> (the caller frees it): the Authorization
 * header's Bearer token, else the `auth` or `token` query parameter, else the auth_cookie
 * cookie. Returns its length, 0 when there is none.
 */
size_t rp_api_find_token(struct rp_conn *c, const struct rp_http_request *req,
                         const struct rp_query *query, char **out);
/*
 * Checks that the request's token allows reading (or, with <write>, publishing to) each of
 * the <n> <topics>. With auth_mode none everything passes and <grant> stays zeroed; on
 * PASS the caller finishes <grant> (rp_grant_fini).
 */
enum rp_verdict rp_api_authorize(struct rp_api *a, struct rp_conn *c,
                                 const struct rp_http_request *req, bool write,
                                 const char *const *topics, size_t n, struct rp_grant *grant);
/* Answers a refused credential: 401 (with WWW-Authenticate), 403 (<action> on <topic>) or
 * 503 (Retry-After from <retry_after_ms>), and counts it. */
void rp_api_refuse_auth(struct rp_conn *c, const struct rp_http_request *req, enum rp_auth_result r,
                        const char *action, const char *topic, int64_t retry_after_ms);

#endif
