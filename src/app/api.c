/* SPDX-License-Identifier: MIT */
/*
 * The HTTP API: routes a request to its handler and queues the answer. Every refusal
 * says what was wrong (status + JSON message). See docs/api.md.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/conn.h"
#include "app/server.h"
#include "auth/auth_branca.h"
#include "auth/gate.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/stats.h"
#include "core/event_id.h"
#include "core/hub.h"
#include "core/pattern.h"
#include "core/topic_name.h"
#include "http/cors.h"
#include "http/publish_json.h"
#include "http/response.h"
#include "net/conncap.h"
#include "net/ratelimit.h"
#include "ops/dashboard.h"
#include "ops/metrics.h"
#include "sse/sse_frame.h"

#define QUERY_CAP 1024
#define VALUE_CAP (64 * 1024 + 1) /* a query value: may be a token (auth_max_token <= 64k) */
#define TOPICS_LIST_MAX 10000
#define EVENTS_LIMIT_DEFAULT 100
#define EVENTS_LIMIT_MAX 1000
#define EVENTS_BODY_CAP (16 * 1024 * 1024) /* a query answer stops growing past this */

struct rp_worker;
struct rp_stats *rp_worker_stats(struct rp_worker *w);

static bool
starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Copies at most <cap> - 1 bytes of <src> into <dst>; returns the length copied. */
static size_t
copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}

/* Query decoding turns '+' into a space (form encoding), but in topic filters '+' is the
 * one-level wildcard, and a space is never valid: so `?topic=a/+` means what it says. */
static char *
plus_literal(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == ' ')
            *p = '+';
    return s;
}

static void
respond_json(struct rp_conn *c, const struct rp_http_request *req, int status, struct rp_buf *b)
{
    rp_conn_respond(c, req, status, "application/json", NULL, b->data ? b->data : "", b->len);
}

static void
method_not_allowed(struct rp_conn *c, const struct rp_http_request *req, const char *allow)
{
    char msg[128], hdr[64];
    snprintf(msg, sizeof(msg), "%s is not allowed here; use %s", req->method_name, allow);
    snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
    rp_conn_error(c, req, 405, msg, hdr);
}

/* Formats "id" of <seq>, or JSON null for 0, into <b>. */
static void
json_id(struct rp_buf *b, struct rp_hub *hub, uint64_t seq)
{
    char id[RP_EVENT_ID_MAX + 1];
    if (!seq) {
        rp_buf_append_str(b, "null");
        return;
    }
    rp_hub_format_id(hub, seq, id);
    rp_buf_printf(b, "\"%s\"", id);
}

/* ---- who is asking: client address, abuse control, tokens ---- */

static bool
is_trusted_proxy(const struct rp_server *srv, const struct rp_addr_key *k)
{
    for (size_t i = 0; i < srv->n_trusted_proxies; i++)
        if (rp_addr_key_equal(&srv->trusted_proxies[i], k))
            return true;
    return false;
}

/* The client behind a trusted proxy is the right-most X-Forwarded-For address that is not
 * itself a trusted proxy (addresses further left were written by the client: not trusted). */
static void
resolve_client(struct rp_conn *c, const struct rp_http_request *req)
{
    const struct rp_server *srv = rp_conn_server(c);
    c->client_key = c->peer_key;
    if (!srv->n_trusted_proxies || !is_trusted_proxy(srv, &c->peer_key))
        return;
    const char *xff = rp_http_request_header(req, "X-Forwarded-For");
    if (!xff)
        return;
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        const char *a = start, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        struct rp_addr_key k;
        if (rp_addr_key_parse(a, (size_t)(b - a), &k) != 0)
            return; /* garbage: keep the proxy's own address */
        c->client_key = k;
        if (!is_trusted_proxy(srv, &k))
            return;
        end = start > xff ? start - 1 : xff;
    }
}

static void
retry_after_header(char *hdr, size_t cap, int64_t ms)
{
    snprintf(hdr, cap, "Retry-After: %lld\r\n",
             (long long)((ms + 999) / 1000 ? (ms + 999) / 1000 : 1));
}

/*
 * The first request of a connection: finds the client and applies the per-client limits
 * (concurrent connections, connect_rate). False when a refusal was queued.
 */
static bool
admit_connection(struct rp_conn *c, const struct rp_http_request *req)
{
    struct rp_server *srv = rp_conn_server(c);
    struct rp_stats *stats = rp_conn_stats(c);
    char hdr[64], msg[200], ip[RP_ADDR_KEY_STRLEN];
    c->admitted = true;
    resolve_client(c, req);
    if (srv->conncap) {
        int rc = rp_conncap_acquire(srv->conncap, &c->client_key);
        if (rc == -EMFILE) {
            rp_stat_add(stats, RP_STAT_ratelimit_total, 1);
            c->close_after_write = true;
            rp_conn_error(c, req, 503, "the server holds max_connections connections; retry later",
                          "Retry-After: 1\r\n");
            return false;
        }
        if (rc) {
            rp_stat_add(stats, RP_STAT_ratelimit_per_ip, 1);
            rp_addr_key_format(&c->client_key, ip, sizeof(ip));
            snprintf(msg, sizeof(msg),
                     "%s already has max_connections_per_ip (%lld) connections open", ip,
                     (long long)rp_conn_config(c)->max_connections_per_ip);
            c->close_after_write = true;
            rp_conn_error(c, req, 429, msg, "Retry-After: 1\r\n");
            return false;
        }
        c->capped = true;
    }
    if (srv->connect_limit) {
        int64_t wait = rp_ratelimit_take(srv->connect_limit, &c->client_key, rp_clock_now_ms());
        if (wait > 0) {
            rp_stat_add(stats, RP_STAT_ratelimit_connect, 1);
            retry_after_header(hdr, sizeof(hdr), wait);
            c->close_after_write = true;
            rp_conn_error(c, req, 429, "too many new connections from this address (connect_rate)",
                          hdr);
            return false;
        }
    }
    return true;
}

/* publish_rate: false when a 429 was queued. */
static bool
publish_allowed(struct rp_conn *c, const struct rp_http_request *req)
{
    struct rp_server *srv = rp_conn_server(c);
    if (!srv->publish_limit)
        return true;
    int64_t wait = rp_ratelimit_take(srv->publish_limit, &c->client_key, rp_clock_now_ms());
    if (wait <= 0)
        return true;
    char hdr[64];
    rp_stat_add(rp_conn_stats(c), RP_STAT_ratelimit_publish, 1);
    rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
    retry_after_header(hdr, sizeof(hdr), wait);
    rp_conn_error(c, req, 429, "too many publishes from this address (publish_rate)", hdr);
    return false;
}

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
 * The request's token, into the malloc'd *<out> (VALUE_CAP bytes): the Authorization
 * header's Bearer token, else the `auth` or `token` query parameter, else the auth_cookie
 * cookie. Returns its length, 0 when there is none.
 */
static size_t
find_token(struct rp_conn *c, const struct rp_http_request *req, char **out)
{
    char *tok = rp_xmalloc(VALUE_CAP);
    *out = tok;
    tok[0] = '\0';
    const char *h = rp_http_request_header(req, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        h += 7;
        while (*h == ' ')
            h++;
        return copy_str(tok, VALUE_CAP, h);
    }
    char key[QUERY_CAP];
    size_t pos = 0;
    while (rp_http_query_next(req->query, req->query_len, &pos, key, tok, VALUE_CAP) == 1) {
        if (strcmp(key, "auth") == 0 || strcmp(key, "token") == 0) {
            /* Query decoding turns '+' into a space; no token alphabet has spaces. */
            return strlen(plus_literal(tok));
        }
    }
    tok[0] = '\0';
    const char *cookie = rp_conn_config(c)->auth_cookie;
    if (cookie && *cookie)
        return find_cookie(req, cookie, tok, VALUE_CAP);
    return 0;
}

/* Answers a refused credential: 401 (with WWW-Authenticate), 403 or 503, and counts it. */
static void
refuse_auth(struct rp_conn *c, const struct rp_http_request *req, enum rp_auth_result r,
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
        retry_after_header(hdr, sizeof(hdr), retry_after_ms);
        rp_conn_error(c, req, 503, what, hdr);
    } else {
        snprintf(hdr, sizeof(hdr), "WWW-Authenticate: Bearer%s\r\n",
                 r == RP_AUTH_MISSING ? "" : " error=\"invalid_token\"");
        rp_conn_error(c, req, 401, what, hdr);
    }
}

enum verdict {
    VERDICT_PASS = 0, /* the grant covers everything asked */
    VERDICT_REFUSED,  /* an answer was queued */
    VERDICT_WAIT,     /* parked until the webhook answers */
};

/*
 * Checks that the request's token allows <action> ("read" or "publish to") on each of the
 * <n> <topics>. With auth_mode none everything passes and <grant> stays zeroed.
 */
static enum verdict
authorize(struct rp_conn *c, const struct rp_http_request *req, bool write,
          const char *const *topics, size_t n, struct rp_grant *grant)
{
    struct rp_gate *gate = rp_conn_gate(c);
    if (!gate)
        return VERDICT_PASS;
    char *token;
    size_t len = find_token(c, req, &token);
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
        rp_conn_wait_auth(c, rp_clock_now_ms() + v->auth_webhook_timeout + 1000);
        return VERDICT_WAIT;
    }
    c->auth_mark = 0; /* this request is decided; the next one starts afresh */
    if (r != RP_AUTH_OK) {
        refuse_auth(c, req, r, NULL, NULL, retry_after);
        return VERDICT_REFUSED;
    }
    for (size_t i = 0; i < n; i++) {
        size_t tlen = strlen(topics[i]);
        bool ok = write ? rp_grant_may_write(grant, topics[i], tlen)
                        : rp_grant_may_read(grant, topics[i], tlen);
        if (!ok) {
            refuse_auth(c, req, RP_AUTH_FORBIDDEN, write ? "publishing to" : "reading", topics[i],
                        0);
            rp_grant_fini(grant);
            return VERDICT_REFUSED;
        }
    }
    return VERDICT_PASS;
}

/* A random delay in [<lo_ms>, <hi_ms>], so clients told to wait do not return together. */
static int64_t
jitter_ms(int64_t lo_ms, int64_t hi_ms)
{
    static _Thread_local uint64_t state;
    if (!state)
        state = (uint64_t)rp_clock_now_ms() * 0x9e3779b97f4a7c15ULL ^ (uintptr_t)&state;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    if (hi_ms <= lo_ms)
        return lo_ms;
    return lo_ms + (int64_t)(state % (uint64_t)(hi_ms - lo_ms + 1));
}

/*
 * Reconnect-storm guard: past storm_accept_rate new streams per second (node-wide), new
 * streams get 503 with a jittered Retry-After, and for a few seconds admitted ones get a
 * jittered `retry:` (rp_conn_start_stream), so a mass reconnect spreads out. False when a
 * 503 was queued.
 */
static bool
storm_allows(struct rp_conn *c, const struct rp_http_request *req)
{
    struct rp_server *srv = rp_conn_server(c);
    if (!srv->storm_limit)
        return true;
    static const struct rp_addr_key node_key;
    int64_t now = rp_clock_now_ms();
    if (rp_ratelimit_take(srv->storm_limit, &node_key, now) == 0) {
        if (now < atomic_load(&srv->storm_until_ms)) {
            int64_t base = rp_conn_config(c)->retry > 0 ? rp_conn_config(c)->retry : 1000;
            c->retry_ms = jitter_ms(base, rp_conn_config(c)->storm_retry_max);
        }
        return true;
    }
    atomic_store(&srv->storm_until_ms, now + 5000);
    rp_stat_add(rp_conn_stats(c), RP_STAT_ratelimit_storm, 1);
    char hdr[64];
    retry_after_header(hdr, sizeof(hdr), jitter_ms(1000, rp_conn_config(c)->storm_retry_max));
    rp_conn_error(c, req, 503, "too many clients are connecting at once; retry after the delay",
                  hdr);
    return false;
}

/* Branca mode without topics in the URL: the topics the token carries, as filters. */
static size_t
branca_topics(struct rp_conn *c, const struct rp_http_request *req, char **filters, size_t max,
              int *status, char *msg, size_t msg_cap)
{
    char *token;
    size_t len = find_token(c, req, &token);
    struct rp_grant g = {0};
    size_t n = 0;
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    enum rp_auth_result r =
        len ? rp_gate_open_branca(rp_conn_gate(c), token, len, &payload, &payload_len)
            : RP_AUTH_MISSING;
    free(token);
    if (r == RP_AUTH_OK && rp_branca_read_topics(payload, payload_len, &g, msg, msg_cap) != 0)
        r = RP_AUTH_MALFORMED;
    free(payload);
    if (r != RP_AUTH_OK) {
        /* authorize() answers it, with the right status and header. */
        return 0;
    }
    if (g.n_read > max) {
        snprintf(msg, msg_cap,
                 "the token names %zu topics; a stream may read at most %zu "
                 "(max_stream_topics)",
                 g.n_read, max);
        *status = 400;
    } else {
        for (; n < g.n_read; n++)
            filters[n] = rp_xstrdup(g.read[n]);
    }
    rp_grant_fini(&g);
    return n;
}

/* ---- GET /events ---- */

static void
handle_events(struct rp_conn *c, const struct rp_http_request *req, const char *path_filter)
{
    const struct rp_config_values *v = rp_conn_config(c);
    size_t max = (size_t)v->max_stream_topics;
    char **filters = rp_xcalloc(max + 1, sizeof(char *));
    size_t n = 0;
    char last_id[160] = "";
    size_t last_id_len = 0;
    bool have_last_id = false;
    char msg[400];
    int status = 0;

    struct rp_grant grant = {0};
    char key[QUERY_CAP];
    char *value = rp_xmalloc(VALUE_CAP);
    if (path_filter && *path_filter)
        filters[n++] = rp_xstrdup(path_filter);
    size_t pos = 0;
    int r;
    while ((r = rp_http_query_next(req->query, req->query_len, &pos, key, value, VALUE_CAP)) == 1) {
        if (strcmp(key, "topic") == 0) {
            if (n == max) {
                snprintf(msg, sizeof(msg),
                         "a stream may read at most %zu topics and patterns "
                         "(max_stream_topics)",
                         max);
                status = 400;
                goto out;
            }
            filters[n++] = plus_literal(rp_xstrdup(value));
        } else if (strcmp(key, "lastEventId") == 0) {
            last_id_len = copy_str(last_id, sizeof(last_id), value);
            have_last_id = true;
        }
    }
    if (r < 0) {
        snprintf(msg, sizeof(msg),
                 "the query string is malformed (bad percent-encoding, or a name longer than %d "
                 "or a value longer than %d bytes)",
                 QUERY_CAP - 1, VALUE_CAP - 1);
        status = 400;
        goto out;
    }
    /* The header wins: a browser sends it on reconnect, with a newer id than the URL. */
    const char *hdr = rp_http_request_header(req, "Last-Event-ID");
    if (hdr && *hdr) {
        last_id_len = copy_str(last_id, sizeof(last_id), hdr);
        have_last_id = true;
    }
    struct rp_gate *gate = rp_conn_gate(c);
    if (n == 0 && gate && rp_gate_mode(rp_conn_server(c)->gate) == RP_GATE_MODE_BRANCA) {
        /* sse-server clients name no topic: the token's topics are the subscription. */
        n = branca_topics(c, req, filters, max, &status, msg, sizeof(msg));
        if (status)
            goto out;
        /* No topics: a bad token is answered as such; a good one that names no topic gets
         * the 400 below. */
        if (n == 0 && authorize(c, req, false, NULL, 0, &grant) != VERDICT_PASS)
            goto out;
    }
    if (n == 0) {
        snprintf(msg, sizeof(msg),
                 "name at least one topic: /events/{topic} or "
                 "/events?topic=a&topic=b");
        status = 400;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *bad = rp_pattern_check(filters[i], strlen(filters[i]));
        if (bad) {
            snprintf(msg, sizeof(msg), "invalid topic or pattern \"%.255s\": %s", filters[i], bad);
            status = 400;
            goto out;
        }
    }
    if (!storm_allows(c, req))
        goto out;
    if (authorize(c, req, false, (const char *const *)filters, n, &grant) != VERDICT_PASS)
        goto out;
    if (rp_conn_start_stream(c, req, (const char *const *)filters, n, have_last_id ? last_id : NULL,
                             last_id_len))
        rp_conn_stream_expires(c, grant.expires_ms);
out:
    if (status)
        rp_conn_error(c, req, status, msg, NULL);
    for (size_t i = 0; i < n; i++)
        free(filters[i]);
    free(filters);
    free(value);
    rp_grant_fini(&grant);
}

/* ---- POST /publish ---- */

static bool
json_content_type(const char *ct)
{
    if (!ct)
        return true;
    size_t len = strcspn(ct, ";");
    while (len && ct[len - 1] == ' ')
        len--;
    if (len == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return true;
    return len > 5 && strncasecmp(ct + len - 5, "+json", 5) == 0;
}

/* Publishes <items> and answers (with the ids, or with an empty 200 when not <ids>);
 * parks the connection when slow_policy block says wait. */
static void
publish(struct rp_conn *c, const struct rp_http_request *req, const struct rp_publish_item *items,
        size_t n, bool batch, bool ids)
{
    struct rp_server *srv = rp_conn_server(c);
    struct rp_stats *stats = rp_conn_stats(c);
    struct rp_publish_result res_small[16];
    struct rp_publish_result *res = n <= 16 ? res_small : rp_xcalloc(n, sizeof(*res));
    struct rp_hub_error err;
    int rc = rp_hub_publish(srv->hub, items, n, res, &err);
    if (rc == -EAGAIN && rp_conn_config(c)->block_timeout > 0) {
        if (!c->parked)
            rp_conn_park(c, rp_clock_now_ms() + rp_conn_config(c)->block_timeout);
        if (res != res_small)
            free(res);
        return;
    }
    if (rc) {
        char msg[200];
        if (batch)
            snprintf(msg, sizeof(msg), "event %zu: %s", err.index, err.message);
        else
            snprintf(msg, sizeof(msg), "%s", err.message);
        rp_stat_add(stats, RP_STAT_publish_rejected_total, 1);
        rp_conn_error(c, req, err.status, msg, rc == -EAGAIN ? "Retry-After: 1\r\n" : NULL);
        if (res != res_small)
            free(res);
        return;
    }
    uint64_t appended = 0;
    for (size_t i = 0; i < n; i++)
        appended += !res[i].duplicate;
    rp_stat_add(stats, RP_STAT_events_published, appended);
    rp_stat_add(stats, RP_STAT_publish_requests_total, 1);
    if (!ids) {
        rp_conn_respond(c, req, 200, NULL, NULL, "", 0);
        if (res != res_small)
            free(res);
        return;
    }
    struct rp_buf b;
    rp_buf_init(&b, 64 + n * 128);
    char id[RP_EVENT_ID_MAX + 1];
    if (!batch) {
        /* The hot path (one event): appends only, no printf. */
        rp_buf_append_str(&b, "{\"id\":\"");
        rp_buf_append(&b, id, rp_hub_format_id(srv->hub, res[0].seq, id));
        rp_buf_append_str(&b, "\",\"topic\":\"");
        rp_buf_append(&b, items[0].topic, items[0].topic_len);
        rp_buf_append_str(&b, res[0].duplicate ? "\",\"duplicate\":true}\n"
                                               : "\",\"duplicate\":false}\n");
    } else {
        rp_buf_append_str(&b, "{\"ids\":[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                rp_buf_append_str(&b, ",");
            json_id(&b, srv->hub, res[i].seq);
        }
        rp_buf_append_str(&b, "],\"duplicates\":[");
        bool first = true;
        for (size_t i = 0; i < n; i++) {
            if (res[i].duplicate) {
                if (!first)
                    rp_buf_append_str(&b, ",");
                rp_buf_append_u64(&b, i);
                first = false;
            }
        }
        rp_buf_append_str(&b, "]}\n");
    }
    respond_json(c, req, 200, &b);
    rp_buf_fini(&b);
    if (res != res_small)
        free(res);
}

/* Refuses a publish request: counted, and answered with <status> and <message>. */
static void
reject_publish(struct rp_conn *c, const struct rp_http_request *req, int status,
               const char *message)
{
    rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
    rp_conn_error(c, req, status, message, NULL);
}

/* The token must allow publishing to every item's topic (topics the hub will refuse as
 * invalid are left to it, so the client hears what is wrong with the name). */
static bool
may_publish(struct rp_conn *c, const struct rp_http_request *req,
            const struct rp_publish_item *items, size_t n)
{
    if (!rp_conn_gate(c))
        return true;
    char **topics = rp_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        topics[i] = rp_xstrndup(items[i].topic ? items[i].topic : "", items[i].topic_len);
    struct rp_grant grant = {0};
    enum verdict v = authorize(c, req, true, (const char *const *)topics, n, &grant);
    if (v == VERDICT_REFUSED)
        rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
    for (size_t i = 0; i < n; i++)
        free(topics[i]);
    free(topics);
    rp_grant_fini(&grant);
    return v == VERDICT_PASS;
}

static void
handle_publish_json(struct rp_conn *c, const struct rp_http_request *req, bool retry)
{
    if (!retry && !publish_allowed(c, req))
        return;
    if (!json_content_type(rp_http_request_header(req, "Content-Type"))) {
        reject_publish(c, req, 415,
                       "POST /publish takes a JSON body (Content-Type: application/json); "
                       "for raw data use POST /publish/{topic}");
        return;
    }
    struct rp_publish_batch batch;
    struct rp_publish_json_error err;
    const struct rp_config_values *v = rp_conn_config(c);
    if (rp_publish_json_parse(req->body, req->body_len, (size_t)v->max_batch, &batch, &err)) {
        reject_publish(c, req, err.status, err.message);
        return;
    }
    if (may_publish(c, req, batch.items, batch.n))
        publish(c, req, batch.items, batch.n, batch.is_array, true);
    rp_publish_batch_fini(&batch);
}

static void
handle_publish_raw(struct rp_conn *c, const struct rp_http_request *req, const char *topic,
                   bool retry)
{
    if (!retry && !publish_allowed(c, req))
        return;
    const char *ct = rp_http_request_header(req, "Content-Type");
    if (ct && strncasecmp(ct, "multipart/", 10) == 0) {
        reject_publish(c, req, 415,
                       "multipart bodies are not supported: send the data as the raw "
                       "request body");
        return;
    }
    char key[QUERY_CAP], value[QUERY_CAP], event[QUERY_CAP] = "", id[QUERY_CAP] = "";
    bool have_event = false, have_id = false;
    size_t pos = 0;
    int r;
    while ((r = rp_http_query_next(req->query, req->query_len, &pos, key, value, QUERY_CAP)) == 1) {
        if (strcmp(key, "event") == 0) {
            copy_str(event, sizeof(event), value);
            have_event = true;
        } else if (strcmp(key, "id") == 0) {
            copy_str(id, sizeof(id), value);
            have_id = true;
        }
    }
    if (r < 0) {
        rp_conn_error(c, req, 400, "the query string is malformed", NULL);
        return;
    }
    struct rp_publish_item item = {
        .topic = topic,
        .topic_len = strlen(topic),
        .event = have_event ? event : NULL,
        .event_len = strlen(event),
        .data = req->body,
        .data_len = req->body_len,
        .pub_id = have_id ? id : NULL,
        .pub_id_len = strlen(id),
    };
    if (may_publish(c, req, &item, 1))
        publish(c, req, &item, 1, false, true);
}

/*
 * POST /submit (auth_mode branca; tvdw/sse-server's publish API): the body is a Branca
 * token whose msgpack payload carries the events. The token's MAC is the authorisation.
 * Answered 200 with an empty body, as sse-server does.
 */
static void
handle_submit(struct rp_conn *c, const struct rp_http_request *req, bool retry)
{
    struct rp_gate *gate = rp_conn_gate(c);
    if (!gate || rp_gate_mode(rp_conn_server(c)->gate) != RP_GATE_MODE_BRANCA) {
        rp_conn_error(c, req, 404, "POST /submit exists with auth_mode branca only", NULL);
        return;
    }
    if (!retry && !publish_allowed(c, req))
        return;
    size_t len = req->body_len;
    while (len &&
           (req->body[len - 1] == '\n' || req->body[len - 1] == '\r' || req->body[len - 1] == ' '))
        len--;
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    enum rp_auth_result r =
        len ? rp_gate_open_branca(gate, req->body, len, &payload, &payload_len) : RP_AUTH_MISSING;
    if (r != RP_AUTH_OK) {
        rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
        refuse_auth(c, req, r, NULL, NULL, 0);
        return;
    }
    struct rp_branca_events ev;
    char why[200];
    const struct rp_config_values *v = rp_conn_config(c);
    int rc =
        rp_branca_read_events(payload, payload_len, (size_t)v->max_batch, &ev, why, sizeof(why));
    free(payload);
    if (rc) {
        char msg[300];
        snprintf(msg, sizeof(msg), "the token's payload is not a submission: %s", why);
        reject_publish(c, req, rc == -E2BIG ? 413 : 400, msg);
        return;
    }
    if (ev.n == 0) {
        rp_conn_respond(c, req, 200, NULL, NULL, "", 0);
    } else {
        publish(c, req, ev.items, ev.n, true, false);
    }
    rp_branca_events_fini(&ev);
}

/* ---- /topics ---- */

static void
topic_json(struct rp_buf *b, struct rp_hub *hub, struct rp_topic *t)
{
    size_t len;
    const char *name = rp_topic_name(t, &len);
    char uuid[RP_UUID_STR_LEN + 1];
    rp_uuid_format(rp_topic_uuid_bytes(t), uuid);
    struct rp_topic_stats st;
    rp_topic_stats(t, &st);
    rp_buf_printf(b,
                  "{\"name\":\"%.*s\",\"uuid\":\"%s\",\"subscribers\":%lld,\"events\":%llu,"
                  "\"bytes\":%llu,\"published\":%llu,\"first_id\":",
                  (int)len, name, uuid, (long long)rp_topic_subscribers(t),
                  (unsigned long long)st.count, (unsigned long long)st.bytes,
                  (unsigned long long)st.n_appended);
    json_id(b, hub, st.count ? st.first_seq : 0);
    rp_buf_append_str(b, ",\"last_id\":");
    json_id(b, hub, st.last_seq);
    rp_buf_append_str(b, "}");
}

struct list_ctx {
    struct rp_buf *b;
    struct rp_hub *hub;
    size_t n;
    const struct rp_grant *grant; /* NULL: every topic is listed */
};

static void
list_one(void *ctx, struct rp_topic *t)
{
    struct list_ctx *lc = ctx;
    if (lc->grant) {
        size_t len;
        const char *name = rp_topic_name(t, &len);
        if (!rp_grant_may_read(lc->grant, name, len))
            return;
    }
    if (lc->n >= TOPICS_LIST_MAX) {
        lc->n++;
        return;
    }
    if (lc->n++)
        rp_buf_append_str(lc->b, ",");
    topic_json(lc->b, lc->hub, t);
}

static void
handle_topics_list(struct rp_conn *c, const struct rp_http_request *req)
{
    struct rp_hub *hub = rp_conn_server(c)->hub;
    char key[QUERY_CAP], value[QUERY_CAP], pattern[QUERY_CAP] = "";
    size_t pos = 0;
    while (rp_http_query_next(req->query, req->query_len, &pos, key, value, QUERY_CAP) == 1)
        if (strcmp(key, "pattern") == 0)
            copy_str(pattern, sizeof(pattern), plus_literal(value));
    if (*pattern) {
        const char *bad = rp_pattern_check(pattern, strlen(pattern));
        if (bad) {
            char msg[300];
            snprintf(msg, sizeof(msg), "invalid pattern: %s", bad);
            rp_conn_error(c, req, 400, msg, NULL);
            return;
        }
    }
    /* With auth, a token is needed, and it lists only the topics it may read. */
    struct rp_grant grant = {0};
    if (authorize(c, req, false, NULL, 0, &grant) != VERDICT_PASS)
        return;
    struct rp_buf b;
    rp_buf_init(&b, 48 * 1024 * 1024);
    rp_buf_append_str(&b, "{\"topics\":[");
    struct list_ctx lc = {&b, hub, 0, rp_conn_gate(c) ? &grant : NULL};
    rp_hub_foreach_topic(hub, *pattern ? pattern : NULL, strlen(pattern), list_one, &lc);
    rp_buf_printf(&b, "],\"count\":%zu,\"truncated\":%s}\n", lc.n,
                  lc.n > TOPICS_LIST_MAX ? "true" : "false");
    respond_json(c, req, 200, &b);
    rp_buf_fini(&b);
    rp_grant_fini(&grant);
}

static struct rp_topic *
find_topic(struct rp_conn *c, const struct rp_http_request *req, const char *name)
{
    const char *bad = rp_topic_name_check(name, strlen(name));
    char msg[400];
    if (bad) {
        snprintf(msg, sizeof(msg), "invalid topic name \"%.255s\": %s", name, bad);
        rp_conn_error(c, req, 400, msg, NULL);
        return NULL;
    }
    struct rp_grant grant = {0};
    enum verdict verdict = authorize(c, req, false, &name, 1, &grant);
    rp_grant_fini(&grant);
    if (verdict != VERDICT_PASS)
        return NULL;
    struct rp_topic *t = rp_hub_find(rp_conn_server(c)->hub, name, strlen(name));
    if (!t) {
        snprintf(msg, sizeof(msg),
                 "no topic named \"%.255s\" (nothing was published or "
                 "subscribed to it yet)",
                 name);
        rp_conn_error(c, req, 404, msg, NULL);
    }
    return t;
}

static void
handle_topic_info(struct rp_conn *c, const struct rp_http_request *req, const char *name)
{
    struct rp_topic *t = find_topic(c, req, name);
    if (!t)
        return;
    struct rp_buf b;
    rp_buf_init(&b, 4096);
    topic_json(&b, rp_conn_server(c)->hub, t);
    rp_buf_append_str(&b, "\n");
    respond_json(c, req, 200, &b);
    rp_buf_fini(&b);
}

static void
handle_topic_events(struct rp_conn *c, const struct rp_http_request *req, const char *name)
{
    struct rp_hub *hub = rp_conn_server(c)->hub;
    char key[QUERY_CAP], value[QUERY_CAP], msg[300];
    uint64_t after = 0;
    long limit = EVENTS_LIMIT_DEFAULT;
    bool other_epoch = false;
    size_t pos = 0;
    while (rp_http_query_next(req->query, req->query_len, &pos, key, value, QUERY_CAP) == 1) {
        if (strcmp(key, "after") == 0 && *value) {
            struct rp_event_id id;
            if (rp_event_id_parse(value, strlen(value), &id) != 0) {
                snprintf(msg, sizeof(msg),
                         "after: \"%.100s\" is not an event id "
                         "(<8 hex digits>-<sequence>)",
                         value);
                rp_conn_error(c, req, 400, msg, NULL);
                return;
            }
            other_epoch = id.epoch != rp_hub_epoch(hub);
            after = other_epoch ? 0 : id.seq;
        } else if (strcmp(key, "limit") == 0) {
            char *end;
            errno = 0;
            limit = strtol(value, &end, 10);
            if (errno || *end || end == value || limit < 1 || limit > EVENTS_LIMIT_MAX) {
                snprintf(msg, sizeof(msg), "limit must be a number from 1 to %d", EVENTS_LIMIT_MAX);
                rp_conn_error(c, req, 400, msg, NULL);
                return;
            }
        }
    }
    struct rp_topic *t = find_topic(c, req, name);
    if (!t)
        return;
    struct rp_topic_entry *entries = rp_xcalloc((size_t)limit + 1, sizeof(*entries));
    size_t n = rp_topic_entries(t, after, entries, (size_t)limit + 1);
    struct rp_topic_lag lag;
    rp_topic_read(t, after, 0, NULL, NULL, 0, &lag);
    bool more = n > (size_t)limit;
    if (more)
        rp_frame_unref(entries[--n].frame);

    struct rp_buf b;
    rp_buf_init(&b, EVENTS_BODY_CAP + 8 * (size_t)RP_FRAME_ID_MAX + 1024 + 6 * 1048576);
    rp_buf_printf(&b, "{\"topic\":\"%s\",\"events\":[", name);
    for (size_t i = 0; i < n; i++) {
        struct rp_frame *f = entries[i].frame;
        if (b.len > EVENTS_BODY_CAP || b.len + 6 * (size_t)f->data_len + 1024 > b.cap) {
            /* Big events: answer with what fits; "more" says to ask again after the last. */
            for (size_t k = i; k < n; k++)
                rp_frame_unref(entries[k].frame);
            more = true;
            break;
        }
        rp_buf_append_str(&b, i ? ",{\"id\":" : "{\"id\":");
        json_id(&b, hub, entries[i].seq);
        rp_buf_append_str(&b, ",\"event\":");
        if (f->event_len) {
            rp_buf_append_str(&b, "\"");
            rp_json_escape(&b, f->buf + f->event_off, f->event_len);
            rp_buf_append_str(&b, "\"");
        } else {
            rp_buf_append_str(&b, "null");
        }
        struct rp_buf data;
        rp_buf_init(&data, (size_t)f->data_len + 1);
        rp_frame_decode_data(f, &data);
        rp_buf_append_str(&b, ",\"data\":\"");
        rp_json_escape(&b, data.data ? data.data : "", data.len);
        rp_buf_fini(&data);
        rp_buf_printf(&b, "\",\"time\":%lld}", (long long)entries[i].wall_ms);
        rp_frame_unref(f);
    }
    rp_buf_printf(&b, "],\"gap\":%s,\"more\":%s,\"last_id\":",
                  lag.gap || other_epoch ? "true" : "false", more ? "true" : "false");
    json_id(&b, hub, lag.last_seq);
    rp_buf_append_str(&b, "}\n");
    respond_json(c, req, 200, &b);
    rp_buf_fini(&b);
    free(entries);
}

/* ---- operations ---- */

static void
handle_metrics(struct rp_conn *c, const struct rp_http_request *req)
{
    bool json = strstr(req->query, "format=json") != NULL;
    struct rp_buf b;
    rp_buf_init(&b, 1024 * 1024);
    rp_server_render_metrics(rp_conn_server(c), json, &b);
    rp_conn_respond(c, req, 200, json ? "application/json" : "text/plain; version=0.0.4", NULL,
                    b.data, b.len);
    rp_buf_fini(&b);
}

static void
handle_health(struct rp_conn *c, const struct rp_http_request *req)
{
    struct rp_server *srv = rp_conn_server(c);
    bool stopping = atomic_load(&srv->stopping);
    struct rp_buf b;
    rp_buf_init(&b, 256);
    rp_buf_printf(&b, "{\"status\":\"%s\",\"uptime_seconds\":%lld,\"workers\":%u,\"pid\":%d}\n",
                  stopping ? "stopping" : "ok",
                  (long long)((rp_clock_now_ms() - srv->started_ms) / 1000), srv->n_workers,
                  (int)getpid());
    respond_json(c, req, stopping ? 503 : 200, &b);
    rp_buf_fini(&b);
}

/*
 * Readiness: whether a load balancer should send new clients here. Not while starting or
 * draining, nor while a dependency the auth mode needs (the webhook) is known to be down.
 */
static void
handle_ready(struct rp_conn *c, const struct rp_http_request *req)
{
    struct rp_server *srv = rp_conn_server(c);
    const char *why = NULL;
    struct rp_gate_report gr;
    rp_gate_report(srv->gate, &gr);
    if (!atomic_load(&srv->ready))
        why = "starting";
    else if (atomic_load(&srv->stopping))
        why = "draining";
    else if (gr.has_breaker && gr.breaker_state == RP_BREAKER_OPEN)
        why = "the auth webhook is unavailable (circuit breaker open)";
    struct rp_buf b;
    rp_buf_init(&b, 256);
    if (why)
        rp_buf_printf(&b, "{\"ready\":false,\"reason\":\"%s\"}\n", why);
    else
        rp_buf_append_str(&b, "{\"ready\":true}\n");
    respond_json(c, req, why ? 503 : 200, &b);
    rp_buf_fini(&b);
}

static void
handle_index(struct rp_conn *c, const struct rp_http_request *req)
{
    static const char body[] =
        "{\"name\":\"revenprox\",\"endpoints\":["
        "\"GET /events/{topic}\",\"GET /events?topic=a&topic=b\","
        "\"POST /publish\",\"POST /publish/{topic}\","
        "\"GET /topics\",\"GET /topics/{topic}\",\"GET /topics/{topic}/events\","
        "\"GET /metrics\",\"GET /healthz\",\"GET /readyz\",\"GET /dashboard\"]}\n";
    rp_conn_respond(c, req, 200, "application/json", NULL, body, sizeof(body) - 1);
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

void
rp_api_handle(struct rp_conn *c, const struct rp_http_request *req, bool retry)
{
    if (!c->admitted && !admit_connection(c, req))
        return;
    const char *path = req->path;
    enum rp_http_method m = req->method;
    bool get = m == RP_HTTP_METHOD_GET, post = m == RP_HTTP_METHOD_POST;
    if (m == RP_HTTP_METHOD_OPTIONS) {
        preflight(c, req);
    } else if (post && !origin_may_post(c, req)) {
        reject_publish(c, req, 403, "this Origin is not in cors_origins and may not publish");
    } else if (strcmp(path, "/events") == 0 || starts_with(path, "/events/")) {
        if (!get)
            method_not_allowed(c, req, "GET");
        else
            handle_events(c, req, path[7] == '/' ? path + 8 : NULL);
    } else if (strcmp(path, "/publish") == 0) {
        if (!post)
            method_not_allowed(c, req, "POST");
        else
            handle_publish_json(c, req, retry);
    } else if (starts_with(path, "/publish/")) {
        if (!post)
            method_not_allowed(c, req, "POST");
        else
            handle_publish_raw(c, req, path + 9, retry);
    } else if (strcmp(path, "/submit") == 0) {
        if (!post)
            method_not_allowed(c, req, "POST");
        else
            handle_submit(c, req, retry);
    } else if (strcmp(path, "/topics") == 0 || strcmp(path, "/topics/") == 0) {
        if (!get)
            method_not_allowed(c, req, "GET");
        else
            handle_topics_list(c, req);
    } else if (starts_with(path, "/topics/")) {
        if (!get) {
            method_not_allowed(c, req, "GET");
            return;
        }
        char *name = rp_xstrdup(path + 8);
        size_t len = strlen(name);
        if (len > 7 && strcmp(name + len - 7, "/events") == 0) {
            name[len - 7] = '\0';
            handle_topic_events(c, req, name);
        } else {
            handle_topic_info(c, req, name);
        }
        free(name);
    } else if (strcmp(path, "/metrics") == 0) {
        if (!get)
            method_not_allowed(c, req, "GET");
        else
            handle_metrics(c, req);
    } else if (strcmp(path, "/dashboard") == 0 || strcmp(path, "/dashboard/") == 0) {
        if (!get) {
            method_not_allowed(c, req, "GET");
        } else {
            size_t len;
            const char *page = rp_dashboard_page(&len);
            rp_conn_respond(
                c, req, 200, "text/html; charset=utf-8",
                "Cache-Control: no-cache\r\n"
                "Content-Security-Policy: default-src 'self'; script-src 'unsafe-inline'; "
                "style-src 'unsafe-inline'; img-src 'self' data:\r\n",
                page, len);
        }
    } else if (strcmp(path, "/readyz") == 0) {
        if (!get)
            method_not_allowed(c, req, "GET");
        else
            handle_ready(c, req);
    } else if (strcmp(path, "/ping") == 0) {
        /* tvdw/sse-server's liveness check: 200, empty body. */
        if (!get)
            method_not_allowed(c, req, "GET");
        else
            rp_conn_respond(c, req, 200, NULL, NULL, "", 0);
    } else if (strcmp(path, "/healthz") == 0) {
        if (!get)
            method_not_allowed(c, req, "GET");
        else
            handle_health(c, req);
    } else if (strcmp(path, "/") == 0) {
        if (!get)
            method_not_allowed(c, req, "GET");
        else
            handle_index(c, req);
    } else {
        char msg[300];
        snprintf(msg, sizeof(msg), "no such endpoint: %.200s (see GET / for the list)", path);
        rp_conn_error(c, req, 404, msg, NULL);
    }
}
