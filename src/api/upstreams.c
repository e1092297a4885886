/* SPDX-License-Identifier: MIT */
/* GET {upstream_prefix}{name}/{path}: a stream of an upstream's topic; GET /upstreams. */
#include <stdio.h>
#include <string.h>

#include "api/endpoints.h"
#include "base/buf.h"
#include "client/upstream.h"
#include "core/topic_name.h"
#include "http/response.h"

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
    /* The stream is an ordinary one on the local topic: our ids, resume, auth, policies. */
    rp_api_events_for(a, c, req, filters, by_type ? 2 : 1);
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
