/* SPDX-License-Identifier: MIT */
/*
 * The HTTP API: routes a request to its handler and queues the answer. Every refusal
 * says what was wrong (status + JSON message). See docs/api.md.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/conn.h"
#include "app/server.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/stats.h"
#include "core/event_id.h"
#include "core/hub.h"
#include "core/pattern.h"
#include "core/topic_name.h"
#include "http/publish_json.h"
#include "http/response.h"
#include "ops/metrics.h"
#include "sse/sse_frame.h"

#define QUERY_CAP 1024
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

/* ---- GET /events ---- */

static void
handle_events(struct rp_conn *c, const struct rp_http_request *req, const char *path_filter)
{
    const struct rp_config_values *v = &rp_conn_server(c)->cfg->v;
    size_t max = (size_t)v->max_stream_topics;
    char **filters = rp_xcalloc(max + 1, sizeof(char *));
    size_t n = 0;
    char last_id[160] = "";
    size_t last_id_len = 0;
    bool have_last_id = false;
    char msg[400];
    int status = 0;

    if (path_filter && *path_filter)
        filters[n++] = rp_xstrdup(path_filter);
    char key[QUERY_CAP], value[QUERY_CAP];
    size_t pos = 0;
    int r;
    while ((r = rp_http_query_next(req->query, req->query_len, &pos, key, value, QUERY_CAP)) == 1) {
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
                 "the query string is malformed (bad percent-encoding or "
                 "a parameter longer than %d bytes)",
                 QUERY_CAP - 1);
        status = 400;
        goto out;
    }
    /* The header wins: a browser sends it on reconnect, with a newer id than the URL. */
    const char *hdr = rp_http_request_header(req, "Last-Event-ID");
    if (hdr && *hdr) {
        last_id_len = copy_str(last_id, sizeof(last_id), hdr);
        have_last_id = true;
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
    rp_conn_start_stream(c, req, (const char *const *)filters, n, have_last_id ? last_id : NULL,
                         last_id_len);
out:
    if (status)
        rp_conn_error(c, req, status, msg, NULL);
    for (size_t i = 0; i < n; i++)
        free(filters[i]);
    free(filters);
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

/* Publishes <items> and answers; parks the connection when slow_policy block says wait. */
static void
publish(struct rp_conn *c, const struct rp_http_request *req, const struct rp_publish_item *items,
        size_t n, bool batch)
{
    struct rp_server *srv = rp_conn_server(c);
    struct rp_stats *stats = rp_conn_stats(c);
    struct rp_publish_result res_small[16];
    struct rp_publish_result *res = n <= 16 ? res_small : rp_xcalloc(n, sizeof(*res));
    struct rp_hub_error err;
    int rc = rp_hub_publish(srv->hub, items, n, res, &err);
    if (rc == -EAGAIN && srv->cfg->v.block_timeout > 0) {
        if (!c->parked)
            rp_conn_park(c, rp_clock_now_ms() + srv->cfg->v.block_timeout);
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
    struct rp_buf b;
    rp_buf_init(&b, 64 + n * 128);
    uint64_t appended = 0;
    for (size_t i = 0; i < n; i++)
        appended += !res[i].duplicate;
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
    rp_stat_add(stats, RP_STAT_events_published, appended);
    rp_stat_add(stats, RP_STAT_publish_requests_total, 1);
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

static void
handle_publish_json(struct rp_conn *c, const struct rp_http_request *req)
{
    if (!json_content_type(rp_http_request_header(req, "Content-Type"))) {
        reject_publish(c, req, 415,
                       "POST /publish takes a JSON body (Content-Type: application/json); "
                       "for raw data use POST /publish/{topic}");
        return;
    }
    struct rp_publish_batch batch;
    struct rp_publish_json_error err;
    const struct rp_config_values *v = &rp_conn_server(c)->cfg->v;
    if (rp_publish_json_parse(req->body, req->body_len, (size_t)v->max_batch, &batch, &err)) {
        reject_publish(c, req, err.status, err.message);
        return;
    }
    publish(c, req, batch.items, batch.n, batch.is_array);
    rp_publish_batch_fini(&batch);
}

static void
handle_publish_raw(struct rp_conn *c, const struct rp_http_request *req, const char *topic)
{
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
    publish(c, req, &item, 1, false);
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
};

static void
list_one(void *ctx, struct rp_topic *t)
{
    struct list_ctx *lc = ctx;
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
    struct rp_buf b;
    rp_buf_init(&b, 48 * 1024 * 1024);
    rp_buf_append_str(&b, "{\"topics\":[");
    struct list_ctx lc = {&b, hub, 0};
    rp_hub_foreach_topic(hub, *pattern ? pattern : NULL, strlen(pattern), list_one, &lc);
    rp_buf_printf(&b, "],\"count\":%zu,\"truncated\":%s}\n", lc.n,
                  lc.n > TOPICS_LIST_MAX ? "true" : "false");
    respond_json(c, req, 200, &b);
    rp_buf_fini(&b);
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
    struct rp_server *srv = rp_conn_server(c);
    bool json = strstr(req->query, "format=json") != NULL;
    struct rp_stats **stats = rp_xcalloc(srv->n_workers, sizeof(*stats));
    for (unsigned i = 0; i < srv->n_workers; i++)
        stats[i] = rp_worker_stats(srv->workers[i]);
    struct rp_metrics_node node = {
        .topics = rp_hub_topic_count(srv->hub),
        .last_seq = rp_hub_last_seq(srv->hub),
        .uptime_s = (rp_clock_now_ms() - srv->started_ms) / 1000,
        .workers = srv->n_workers,
    };
    struct rp_buf b;
    rp_buf_init(&b, 1024 * 1024);
    rp_metrics_render(stats, srv->n_workers, &node, json, &b);
    rp_conn_respond(c, req, 200, json ? "application/json" : "text/plain; version=0.0.4", NULL,
                    b.data, b.len);
    rp_buf_fini(&b);
    free(stats);
}

static void
handle_health(struct rp_conn *c, const struct rp_http_request *req)
{
    struct rp_server *srv = rp_conn_server(c);
    bool stopping = atomic_load(&srv->stopping);
    struct rp_buf b;
    rp_buf_init(&b, 256);
    rp_buf_printf(&b, "{\"status\":\"%s\",\"uptime_seconds\":%lld,\"workers\":%u}\n",
                  stopping ? "stopping" : "ok",
                  (long long)((rp_clock_now_ms() - srv->started_ms) / 1000), srv->n_workers);
    respond_json(c, req, stopping ? 503 : 200, &b);
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
        "\"GET /metrics\",\"GET /healthz\"]}\n";
    rp_conn_respond(c, req, 200, "application/json", NULL, body, sizeof(body) - 1);
}

static void
preflight(struct rp_conn *c, const struct rp_http_request *req)
{
    struct rp_server *srv = rp_conn_server(c);
    const char *origin = rp_http_request_header(req, "Origin");
    if (!origin || !rp_cors_allowed(&srv->cors, origin)) {
        rp_conn_error(c, req, 403,
                      origin ? "this Origin is not in cors_origins"
                             : "a preflight request needs an Origin header",
                      NULL);
        return;
    }
    struct rp_buf h;
    rp_buf_init(&h, 4096);
    rp_cors_preflight_headers(&srv->cors, origin,
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
    if (!origin || rp_cors_allowed(&rp_conn_server(c)->cors, origin))
        return true;
    const char *host = rp_http_request_header(req, "Host");
    const char *sep = strstr(origin, "://");
    return host && sep && strcmp(sep + 3, host) == 0;
}

void
rp_api_handle(struct rp_conn *c, const struct rp_http_request *req, bool retry)
{
    (void)retry;
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
            handle_publish_json(c, req);
    } else if (starts_with(path, "/publish/")) {
        if (!post)
            method_not_allowed(c, req, "POST");
        else
            handle_publish_raw(c, req, path + 9);
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
