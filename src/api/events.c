/* SPDX-License-Identifier: MIT */
/* GET /events/{filter} and GET /events?topic=a&topic=b: an event stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/credentials.h"
#include "api/endpoints.h"
#include "http/query.h"
#include "api/guard.h"
#include "api/sessions.h"
#include "auth/gate.h"
#include "base/alloc.h"
#include "api/history.h"
#include "base/clock.h"
#include "core/event_id.h"
#include "core/hub.h"
#include "core/pattern.h"

/* How long a resume waits for its history to be read from the event log. */
#define HISTORY_WAIT_MS 30000

/*
 * Whether a resume from <id> must read history from the log engine first: some topic it
 * names no longer keeps in memory what came after the cursor, while the disk log still
 * holds all of it durably and nothing after the cursor was lost. Then (<after>, <upto>] is
 * what to read. Patterns are left to the memory window (and resync), and so is a mesh node:
 * its disk log holds only its own publishes, not what it took in from peers.
 */
static bool
history_needed(struct rp_api *a, char *const *filters, size_t n, const char *id, size_t len,
               uint64_t *after, uint64_t *upto)
{
    struct rp_hub *hub = a->node->hub;
    struct rp_logengine *engine = rp_hub_engine(hub);
    struct rp_event_id eid;
    if (!a->node->history || !engine || rp_hub_vector_ids(hub) ||
        rp_event_id_parse(id, len, &eid) != 0 || eid.epoch != rp_hub_epoch(hub) ||
        eid.seq >= rp_hub_last_seq(hub) || rp_hub_lost_seq(hub) > eid.seq)
        return false;
    uint64_t need = 0;
    for (size_t i = 0; i < n; i++) {
        size_t flen = strlen(filters[i]);
        if (rp_pattern_has_wildcard(filters[i], flen))
            continue;
        const char *why = NULL;
        struct rp_topic *t = rp_hub_topic(hub, filters[i], flen, &why);
        if (!t)
            continue;
        struct rp_topic_lag lag;
        rp_topic_lag(t, eid.seq, &lag);
        if (lag.gap && lag.evicted_seq > need)
            need = lag.evicted_seq;
    }
    if (!need)
        return false;
    struct rp_logengine_info info;
    rp_logengine_info(engine, &info);
    if (info.first_seq == 0 || info.first_seq > eid.seq + 1 || need > info.durable_seq)
        return false;
    *after = eid.seq;
    *upto = need;
    return true;
}

/* A history read started on an earlier call is done: the stream starts with its frames. */
static bool
start_after_history(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                    char *const *filters, size_t n, struct rp_api_session_start *ss)
{
    struct rp_buf *bytes;
    uint64_t covered;
    if (!rp_history_done(c->pending, &bytes, &covered)) {
        rp_conn_wait(c, RP_WAIT_HISTORY, 0); /* keeps its first deadline */
        return false;
    }
    /* The stream goes on after what the read covered (the client's own id when it covered
     * nothing: the same epoch and sequence). */
    char id[RP_EVENT_ID_MAX + 1];
    size_t id_len = rp_hub_format_id(a->node->hub, covered, id);
    bool ok;
    if (ss) {
        rp_buf_append(&ss->opening, bytes->data, bytes->len);
        ok = rp_conn_start_stream_headers(c, req, (const char *const *)filters, n, id, id_len,
                                          rp_buf_cstr(&ss->headers), ss->opening.data,
                                          ss->opening.len);
    } else {
        ok = rp_conn_start_stream_with(c, req, (const char *const *)filters, n, id, id_len,
                                       bytes->data, bytes->len);
    }
    rp_history_release(c->pending);
    c->pending = NULL;
    return ok;
}

static bool
has_filter(char *const *filters, size_t n, const char *filter)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(filters[i], filter) == 0)
            return true;
    return false;
}

void
rp_api_events(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
              const char *path_filter)
{
    const char *pre[1] = {path_filter};
    rp_api_events_for(a, c, req, pre, path_filter && *path_filter ? 1 : 0, NULL);
}

void
rp_api_events_for(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                  const char *const *pre, size_t n_pre, const char *last_id_override)
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
    for (size_t i = 0; i < n_pre && n < max; i++)
        filters[n++] = rp_xstrdup(pre[i]);
    bool session = rp_api_session_wanted(a, c, req);
    struct rp_api_session_start ss = {0};
    bool have_ss = false;
    size_t pos = 0;
    const struct rp_query_param *p;
    /* '+' is the one-level wildcard in a filter, not a form-encoded space. */
    while ((p = rp_query_next_named(a->query, "topic", &pos)) != NULL) {
        if (has_filter(filters, n, p->value_plus))
            continue; /* the same filter twice reads the same events once */
        if (n == max) {
            snprintf(msg, sizeof(msg),
                     "a stream may read at most %zu topics and patterns (max_stream_topics)", max);
            status = 400;
            goto out;
        }
        filters[n++] = rp_xstrdup(p->value_plus);
    }
    const char *from = rp_query_get(a->query, "lastEventId");
    if (from) {
        last_id_len = rp_api_copy_str(last_id, sizeof(last_id), from);
        have_last_id = true;
    }
    /* The header wins: a browser sends it on reconnect, with a newer id than the URL. */
    const char *hdr = rp_http_request_header(req, "Last-Event-ID");
    if (hdr && *hdr) {
        last_id_len = rp_api_copy_str(last_id, sizeof(last_id), hdr);
        have_last_id = true;
    }
    if (last_id_override) {
        last_id_len = rp_api_copy_str(last_id, sizeof(last_id), last_id_override);
        have_last_id = true;
    }
    struct rp_gate *gate = a->gate;
    if (n == 0 && !session && gate && rp_gate_mode(a->node->gate) == RP_GATE_MODE_BRANCA) {
        /* sse-server clients name no topic: the token's topics are the subscription. */
        n = rp_api_branca_topics(a, c, req, filters, max, &status, msg, sizeof(msg));
        if (status)
            goto out;
        /* No topics: a bad token is answered as such; a good one that names no topic gets
         * the 400 below. */
        if (n == 0 && rp_api_authorize(a, c, req, false, NULL, 0, &grant) != RP_VERDICT_PASS)
            goto out;
    }
    if (n == 0 && !session) {
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
        if (rp_api_filter_reaches_sessions(filters[i])) {
            snprintf(msg, sizeof(msg),
                     "\"%.255s\" names sessions' private topics: a session's events are read "
                     "through its session (?session=, X-SSE-Session or its cookie)",
                     filters[i]);
            status = 403;
            goto out;
        }
    }
    if (req->method == RP_HTTP_METHOD_HEAD) {
        /* What a GET would start, without starting it. */
        rp_conn_respond(c, req, 200, "text/event-stream; charset=utf-8",
                        "Cache-Control: no-store\r\n", "", 0);
        goto out;
    }
    if (!rp_guard_stream(a->node->guard, c, req))
        goto out;
    if (session) {
        /* The token is checked there; the stream still ends when it expires. */
        have_ss = true;
        if (rp_api_session_begin(a, c, req, filters, &n, max, have_last_id, &ss) != RP_VERDICT_PASS)
            goto out;
        grant.expires_ms = ss.expires_ms;
        if (!have_last_id && ss.resume_from) {
            last_id_len = rp_hub_format_id(a->node->hub, ss.resume_from, last_id);
            have_last_id = true;
        }
    } else if (rp_api_authorize(a, c, req, false, (const char *const *)filters, n, &grant) !=
               RP_VERDICT_PASS) {
        goto out;
    }
    uint64_t after = 0, upto = 0;
    if (c->pending) {
        if (start_after_history(a, c, req, filters, n, session ? &ss : NULL))
            rp_conn_schedule_expiry(c, grant.expires_ms);
        else if (session && !c->pending)
            rp_api_session_abandon(c);
        goto out;
    }
    if (have_last_id && history_needed(a, filters, n, last_id, last_id_len, &after, &upto)) {
        bool tagged = n > 1 || rp_pattern_has_wildcard(filters[0], strlen(filters[0]));
        c->pending = rp_history_start(a->node->history, (const char *const *)filters, n, after,
                                      upto, tagged);
        c->pending_free = rp_history_release;
        rp_conn_wait(c, RP_WAIT_HISTORY, rp_clock_now_ms() + HISTORY_WAIT_MS);
        goto out;
    }
    if (session) {
        if (!rp_conn_start_stream_headers(
                c, req, (const char *const *)filters, n, have_last_id ? last_id : NULL, last_id_len,
                rp_buf_cstr(&ss.headers), ss.opening.data, ss.opening.len))
            rp_api_session_abandon(c);
        else
            rp_conn_schedule_expiry(c, grant.expires_ms);
    } else if (rp_conn_start_stream(c, req, (const char *const *)filters, n,
                                    have_last_id ? last_id : NULL, last_id_len)) {
        rp_conn_schedule_expiry(c, grant.expires_ms);
    }
out:
    if (have_ss)
        rp_api_session_start_fini(&ss);
    if (status)
        rp_conn_error(c, req, status, msg, NULL);
    for (size_t i = 0; i < n; i++)
        free(filters[i]);
    free(filters);
    rp_grant_fini(&grant);
}
