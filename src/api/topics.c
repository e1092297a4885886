/* SPDX-License-Identifier: MIT */
/* GET /topics, /topics/{name} and /topics/{name}/events: topics and their logs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/credentials.h"
#include "api/endpoints.h"
#include "http/query.h"
#include "auth/gate.h"
#include "base/alloc.h"
#include "core/event_id.h"
#include "core/pattern.h"
#include "core/topic_name.h"
#include "http/response.h"
#include "sse/sse_frame.h"

#define TOPICS_LIST_MAX 10000
#define EVENTS_LIMIT_DEFAULT 100
#define EVENTS_LIMIT_MAX 1000
#define EVENTS_BODY_CAP (16 * 1024 * 1024) /* a query answer stops growing past this */

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
    rp_api_json_id(b, hub, st.count ? st.first_seq : 0);
    rp_buf_append_str(b, ",\"last_id\":");
    rp_api_json_id(b, hub, st.last_seq);
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

void
rp_api_topics_list(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req)
{
    struct rp_hub *hub = a->node->hub;
    const char *pattern = rp_query_get_plus(a->query, "pattern");
    if (!pattern)
        pattern = "";
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
    if (rp_api_authorize(a, c, req, false, NULL, 0, &grant) != RP_VERDICT_PASS)
        return;
    struct rp_buf b;
    rp_buf_init(&b, 48 * 1024 * 1024);
    rp_buf_append_str(&b, "{\"topics\":[");
    struct list_ctx lc = {&b, hub, 0, a->gate ? &grant : NULL};
    rp_hub_foreach_topic(hub, *pattern ? pattern : NULL, strlen(pattern), list_one, &lc);
    rp_buf_printf(&b, "],\"count\":%zu,\"truncated\":%s}\n", lc.n,
                  lc.n > TOPICS_LIST_MAX ? "true" : "false");
    rp_api_respond_json(c, req, 200, &b);
    rp_buf_fini(&b);
    rp_grant_fini(&grant);
}

static struct rp_topic *
find_topic(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req, const char *name)
{
    const char *bad = rp_topic_name_check(name, strlen(name));
    char msg[400];
    if (bad) {
        snprintf(msg, sizeof(msg), "invalid topic name \"%.255s\": %s", name, bad);
        rp_conn_error(c, req, 400, msg, NULL);
        return NULL;
    }
    struct rp_grant grant = {0};
    enum rp_verdict verdict = rp_api_authorize(a, c, req, false, &name, 1, &grant);
    rp_grant_fini(&grant);
    if (verdict != RP_VERDICT_PASS)
        return NULL;
    struct rp_topic *t = rp_hub_find(a->node->hub, name, strlen(name));
    if (!t) {
        snprintf(msg, sizeof(msg),
                 "no topic named \"%.255s\" (nothing was published or "
                 "subscribed to it yet)",
                 name);
        rp_conn_error(c, req, 404, msg, NULL);
    }
    return t;
}

void
rp_api_topic_info(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                  const char *name)
{
    struct rp_topic *t = find_topic(a, c, req, name);
    if (!t)
        return;
    struct rp_buf b;
    rp_buf_init(&b, 4096);
    topic_json(&b, a->node->hub, t);
    rp_buf_append_str(&b, "\n");
    rp_api_respond_json(c, req, 200, &b);
    rp_buf_fini(&b);
}

void
rp_api_topic_events(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                    const char *name)
{
    struct rp_hub *hub = a->node->hub;
    char msg[300];
    uint64_t after = 0;
    long limit = EVENTS_LIMIT_DEFAULT;
    bool other_epoch = false;
    for (size_t i = 0; i < a->query->n_params; i++) {
        const char *key = a->query->params[i].name, *value = a->query->params[i].value;
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
    struct rp_topic *t = find_topic(a, c, req, name);
    if (!t)
        return;
    struct rp_topic_entry *entries = rp_xcalloc((size_t)limit + 1, sizeof(*entries));
    size_t n = rp_topic_entries(t, after, entries, (size_t)limit + 1);
    struct rp_topic_lag lag;
    rp_topic_lag(t, after, &lag);
    bool more = n > (size_t)limit;
    if (more)
        rp_frame_unref(entries[--n].frame);

    struct rp_buf b;
    /* Room for the page and for one event of any allowed size, JSON-escaped (6 bytes a byte
     * at worst): the first event always fits. */
    size_t one = 6 * (size_t)rp_conn_config(c)->max_data + 1024;
    rp_buf_init(&b, EVENTS_BODY_CAP + 8 * (size_t)RP_FRAME_ID_MAX +
                        (one > 6 * 1048576 ? one : 6 * 1048576));
    rp_buf_printf(&b, "{\"topic\":\"%s\",\"events\":[", name);
    for (size_t i = 0; i < n; i++) {
        struct rp_frame *f = entries[i].frame;
        if (i > 0 && (b.len > EVENTS_BODY_CAP || b.len + 6 * (size_t)f->data_len + 1024 > b.cap)) {
            /* Big events: answer with what fits, always at least one (a page of nothing
             * would say "more" forever); "more" says to ask again after the last. */
            for (size_t k = i; k < n; k++)
                rp_frame_unref(entries[k].frame);
            more = true;
            break;
        }
        rp_buf_append_str(&b, i ? ",{\"id\":" : "{\"id\":");
        rp_api_json_id(&b, hub, entries[i].seq);
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
    rp_api_json_id(&b, hub, lag.last_seq);
    rp_buf_append_str(&b, "}\n");
    rp_api_respond_json(c, req, 200, &b);
    rp_buf_fini(&b);
    free(entries);
}
