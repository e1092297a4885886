/* SPDX-License-Identifier: MIT */
/* GET {upstream_prefix}{name}/{path}: a stream of an upstream's topic; GET /upstreams. */
#include <stdio.h>
#include <string.h>

#include "http/query.h"
#include "sse/sse_frame.h"

#include "api/endpoints.h"
#include "base/buf.h"
#include "client/upstream.h"
#include "core/event_id.h"
#include "core/topic_name.h"
#include "http/response.h"

#define SCAN_CHUNK 256

/*
 * A RevenProx below this one that restarted resumes with the origin id it kept (the
 * origin-id of the last event it took from us, sse/sse_frame.h): our id of the newest event
 * of <topic> with that origin id, into <out>; false when none is in memory.
 */
static bool
our_id_of_origin(struct rp_hub *hub, const char *topic, const char *origin, char *out)
{
    struct rp_topic *t = rp_hub_find(hub, topic, strlen(topic));
    size_t olen = strlen(origin);
    if (!t || olen == 0 || olen >= 128)
        return false;
    uint64_t after = 0, found = 0;
    struct rp_topic_entry e[SCAN_CHUNK];
    size_t n;
    while ((n = rp_topic_entries(t, after, e, SCAN_CHUNK)) > 0) {
        for (size_t i = 0; i < n; i++) {
            const struct rp_frame *f = e[i].frame;
            const char *pid = f->buf + f->pub_id_off;
            if (f->pub_id_len == olen + 1 && pid[0] == RP_FRAME_ORIGIN_MARK &&
                memcmp(pid + 1, origin, olen) == 0)
                found = e[i].seq;
            after = e[i].seq;
            rp_frame_unref(e[i].frame);
        }
    }
    if (!found)
        return false;
    rp_hub_format_id(hub, found, out);
    return true;
}

void
rp_api_upstream_stream(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                       const char *rest)
{
    const char *slash = strchr(rest, '/');
    size_t name_len = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *path = slash ? slash + 1 : "";
    size_t path_len = strlen(path);
    while (path_len > 0 && path[path_len - 1] == '/')
        path_len--; /* /upstream/cms/feed/ is /upstream/cms/feed */
    if (name_len == 0) {
        rp_conn_error(c, req, 404, "name an upstream: GET {upstream_prefix}{name}/{path}", NULL);
        return;
    }
    char topic[RP_TOPIC_NAME_MAX + 1];
    bool by_type = false;
    struct rp_upstream_refusal why;
    /* Opening only registers it: it connects once a reader attaches (a HEAD attaches none). */
    if (rp_upstream_open(a->node->upstreams, rest, name_len, path, path_len,
                         rp_http_request_header(req, "Authorization"), topic, &by_type,
                         &why) != 0) {
        rp_conn_error(c, req, why.status, why.message, NULL);
        return;
    }
    char typed[RP_TOPIC_NAME_MAX + 3];
    snprintf(typed, sizeof(typed), "%s/+", topic);
    const char *filters[2] = {topic, typed};
    /* A resume from an origin id (a proxy below that restarted) becomes one from ours. */
    const char *lei = rp_http_request_header(req, "Last-Event-ID");
    if (!lei || !*lei)
        lei = rp_query_get(a->query, "lastEventId");
    char ours[RP_EVENT_ID_MAX + 1];
    bool mapped = lei && *lei && our_id_of_origin(a->node->hub, topic, lei, ours);
    /* The stream is an ordinary one on the local topic: our ids, resume, auth, policies. */
    rp_api_events_for(a, c, req, filters, by_type ? 2 : 1, mapped ? ours : NULL);
}

struct list_ctx {
    struct rp_buf *b;
    size_t n;
};

static void
json_str(struct rp_buf *b, const char *key, const char *s)
{
    rp_buf_printf(b, ",\"%s\":\"", key);
    rp_json_escape(b, s, strlen(s));
    rp_buf_append_str(b, "\"");
}

static void
one(void *ctx, const struct rp_upstream_info *u)
{
    struct list_ctx *lc = ctx;
    struct rp_buf *b = lc->b;
    rp_buf_append_str(b, lc->n++ ? ",{" : "{");
    rp_buf_append_str(b, "\"name\":\"");
    rp_json_escape(b, u->name, strlen(u->name));
    rp_buf_append_str(b, "\"");
    json_str(b, "url", u->url);
    json_str(b, "topic", u->topic);
    json_str(b, "state", rp_upstream_state_name(u->state));
    rp_buf_printf(b,
                  ",\"always\":%s,\"clients\":%lld,\"reconnects\":%llu,\"events_in\":%llu,"
                  "\"events_refused\":%llu,\"bytes_in\":%llu,\"last_event_ms\":%lld",
                  u->always ? "true" : "false", (long long)u->clients,
                  (unsigned long long)u->reconnects, (unsigned long long)u->events_in,
                  (unsigned long long)u->events_refused, (unsigned long long)u->bytes_in,
                  (long long)u->last_event_ms);
    json_str(b, "last_id", u->last_id);
    json_str(b, "last_error", u->last_error);
    rp_buf_append_str(b, "}");
}

void
rp_api_upstreams_list(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req)
{
    struct rp_buf b;
    rp_buf_init(&b, 16 * 1024 * 1024);
    rp_buf_append_str(&b, "{\"upstreams\":[");
    struct list_ctx lc = {&b, 0};
    rp_upstream_foreach(a->node->upstreams, one, &lc);
    rp_buf_append_str(&b, "]}\n");
    rp_api_respond_json(c, req, 200, &b);
    rp_buf_fini(&b);
}
