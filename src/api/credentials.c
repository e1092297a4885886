/* SPDX-License-Identifier: MIT */
/*
 * Credentials: finding a request's token (header, query, cookie), asking the worker's gate
 * about it, checking the grant against the topics asked for, and answering a refusal.
 */
#include "api/credentials.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/endpoints.h"
#include "api/guard.h"
#include "auth/gate.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/stats.h"

/* The value of cookie <name> in the request's Cookie header, copied into <out>; its length,
 * or 0 when absent (or longer than <cap> - 1). */
static size_t
find_cookie(const struct rp_http_request *req, const char *name, char *out, size_t cap)
{
    const char *h = rp_http_request_header(req, "Cookie");
    size_t name_len = strlen(name);
    while (h && *h) {
        while (*h == ' ' || *h == ';')
            h++;
        const char *end = strchr(h, ';');
        size_t len = end ? (size_t)(end - h) : strlen(h);
        if (len > name_len && h[name_len] == '=' && memcmp(h, name, name_len) == 0) {
            const char *v = h + name_len + 1;
            size_t vlen = len - name_len - 1;
            while (vlen && v[vlen - 1] == ' ')
                vlen--;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            if (vlen == 0 || vlen >= cap)
                return 0;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return vlen;
        }
        h = end;
    }
    return 0;
}

/*
 * The request's token, into the malloc'd *<out> (RP_API_VALUE_CAP bytes): the Authorization
 * header's Bearer token, else the `auth` or `token` query parameter, else the auth_cookie
 * cookie. Returns its length, 0 when there is none.
 */
size_t
rp_api_find_token(struct rp_conn *c, const struct rp_http_request *req,
                  const struct rp_query *query, char **out)
{
    char *tok = rp_xmalloc(RP_API_VALUE_CAP);
    *out = tok;
    tok[0] = '\0';
    const char *h = rp_http_request_header(req, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        h += 7;
        while (*h == ' ')
            h++;
        return rp_api_copy_str(tok, RP_API_VALUE_CAP, h);
    }
    for (size_t i = 0; query && i < query->n_params; i++) {
        const struct rp_query_param *p = &query->params[i];
        /* '+' kept: no token alphabet has spaces, some have '+'. */
        if (strcmp(p->name, "auth") == 0 || strcmp(p->name, "token") == 0)
            return rp_api_copy_str(tok, RP_API_VALUE_CAP, p->value_plus);
    }
    const char *cookie = rp_conn_config(c)->auth_cookie;
    if (cookie && *cookie)
        return find_cookie(req, cookie, tok, RP_API_VALUE_CAP);
    return 0;
}

/* Answers a refused credential: 401 (with WWW-Authenticate), 403 or 503, and counts it. */
void
rp_api_refuse_auth(struct rp_conn *c, const struct rp_http_request *req, enum rp_auth_result r,
                   const char *action, const char *topic, int64_t retry_after_ms)
{
    char msg[400], hdr[128];
    const char *what = NULL;
    int status = 401;
    rp_stat_auth_failure(rp_conn_stats(c), r);
    switch (r) {
    case RP_AUTH_MISSING:
        what = "a token is required: send Authorization: Bearer <token>, or ?auth=<token>";
        break;
    case RP_AUTH_TOO_LARGE:
        what = "the token is longer than auth_max_token";
        break;
    case RP_AUTH_MALFORMED:
        what = "the token is malformed";
        break;
    case RP_AUTH_BAD_ALG:
        what = "the token's algorithm does not match a configured key (alg none is never "
               "accepted)";
        break;
    case RP_AUTH_UNKNOWN_KEY:
        what = "no configured key has the token's kid";
        break;
    case RP_AUTH_BAD_SIGNATURE:
        what = "the token's signature does not verify";
        break;
    case RP_AUTH_EXPIRED:
        what = "the token has expired";
        break;
    case RP_AUTH_NOT_YET_VALID:
        what = "the token is not valid yet (nbf or iat is in the future)";
        break;
    case RP_AUTH_BAD_AUDIENCE:
        what = "the token's aud does not name this server (auth_jwt_audience)";
        break;
    case RP_AUTH_BAD_ISSUER:
        what = "the token's iss is not auth_jwt_issuer";
        break;
    case RP_AUTH_REJECTED:
        what = "the application's webhook rejected the token";
        break;
    case RP_AUTH_FORBIDDEN:
        status = 403;
        break;
    case RP_AUTH_UNAVAILABLE:
        status = 503;
        what = "the auth webhook is unavailable; retry later";
        break;
    case RP_AUTH_OK:
    case RP_AUTH__COUNT:
        what = "refused";
        break;
    }
    if (status == 403) {
        snprintf(msg, sizeof(msg), "the token does not allow %s topic \"%.255s\"", action,
                 topic ? topic : "");
        rp_conn_error(c, req, 403, msg, NULL);
    } else if (status == 503) {
        rp_guard_retry_after(hdr, sizeof(hdr), retry_after_ms);
        rp_conn_error(c, req, 503, what, hdr);
    } else {
        snprintf(hdr, sizeof(hdr), "WWW-Authenticate: Bearer%s\r\n",
                 r == RP_AUTH_MISSING ? "" : " error=\"invalid_token\"");
        rp_conn_error(c, req, 401, what, hdr);
    }
}

/*
 * Checks that the request's token allows <action> ("read" or "publish to") on each of the
 * <n> <topics>. With auth_mode none everything passes and <grant> stays zeroed.
 */
enum rp_verdict
rp_api_authorize(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req, bool write,
                 const char *const *topics, size_t n, struct rp_grant *grant)
{
    struct rp_gate *gate = a->gate;
    if (!gate)
        return RP_VERDICT_PASS;
    char *token;
    size_t len = rp_api_find_token(c, req, a->query, &token);
    const char *ua = rp_http_request_header(req, "User-Agent");
    char ip[RP_ADDR_KEY_STRLEN];
    rp_addr_key_format(&c->client_key, ip, sizeof(ip));
    struct rp_gate_ask ask = {
        .token = token,
        .token_len = len,
        .topics = topics,
        .n_topics = n,
        .ip = ip,
        .user_agent = ua ? ua : "",
        .action = write ? "publish" : "subscribe",
        .wait_mark = &c->auth_mark,
    };
    enum rp_auth_result r;
    int64_t retry_after = 0;
    enum rp_gate_status st = rp_gate_verify(gate, &ask, grant, &r, &retry_after);
    free(token);
    if (st == RP_GATE_WAIT) {
        const struct rp_config_values *v = rp_conn_config(c);
        rp_conn_wait(c, RP_WAIT_AUTH, rp_clock_now_ms() + v->auth_webhook_timeout + 1000);
        return RP_VERDICT_WAIT;
    }
    c->auth_mark = 0; /* this request is decided; the next one starts afresh */
    if (r != RP_AUTH_OK) {
        rp_api_refuse_auth(c, req, r, NULL, NULL, retry_after);
        return RP_VERDICT_REFUSED;
    }
    for (size_t i = 0; i < n; i++) {
        size_t tlen = strlen(topics[i]);
        bool ok = write ? rp_grant_may_write(grant, topics[i], tlen)
                        : rp_grant_may_read(grant, topics[i], tlen);
        if (!ok) {
            rp_api_refuse_auth(c, req, RP_AUTH_FORBIDDEN, write ? "publishing to" : "reading",
                               topics[i], 0);
            rp_grant_fini(grant);
            return RP_VERDICT_REFUSED;
        }
    }
    return RP_VERDICT_PASS;
}
