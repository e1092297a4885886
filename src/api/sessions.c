/* SPDX-License-Identifier: MIT */
/*
 * Sessions (docs/sessions.md): a stream that asks for one (?session=new, or session_always)
 * or presents one (X-SSE-Session, ?session=<id>, the session cookie) reads the session's
 * topics plus its private topic RP_SESSION_TOPIC_PREFIX<id>; POST /sessions/{id}/events and
 * POST /sessions/events send to sessions; GET /sessions/{id} and GET /sessions describe
 * them. The table itself is core/session; this file binds it to HTTP: owners, cookies,
 * the `connected` event, and the answers.
 */
#include "api/sessions.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/credentials.h"
#include "api/endpoints.h"
#include "auth/auth.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/stats.h"
#include "core/event_id.h"
#include "core/logengine.h"
#include "core/pattern.h"
#include "core/session.h"
#include "http/publish_json.h"
#include "http/query.h"
#include "http/response.h"

#define TOPIC_LEN (sizeof(RP_SESSION_TOPIC_PREFIX) - 1 + RP_SESSION_ID_LEN)
#define OWNER_CAP 512
#define MAX_TARGETS 1000      /* sessions one bulk send may name or reach */
#define DURABLE_WAIT_MS 10000 /* as a publish under fsync always */
#define SESSION_HEADER "X-SSE-Session"

/* What a session stream's connection holds: freed when the connection is. */
struct conn_session {
    struct rp_session_table *table;
    char id[RP_SESSION_ID_LEN + 1];
    int64_t expires_ms; /* the token's expiry, for a request run again after a wait */
};

static void
session_end(void *p, uint64_t last_seq)
{
    struct conn_session *cs = p;
    rp_session_detach(cs->table, cs->id, last_seq, rp_clock_wall_ms());
    free(cs);
}

static void
topic_of(const char *id, char *out)
{
    snprintf(out, TOPIC_LEN + 1, "%s%s", RP_SESSION_TOPIC_PREFIX, id);
}

/* The value of cookie <name> in the Cookie header, into <out>; its length or 0. */
static size_t
cookie_value(const struct rp_http_request *req, const char *name, char *out, size_t cap)
{
    const char *h = rp_http_request_header(req, "Cookie");
    size_t name_len = strlen(name);
    while (h && *h && name_len) {
        while (*h == ' ' || *h == ';')
            h++;
        const char *end = strchr(h, ';');
        size_t len = end ? (size_t)(end - h) : strlen(h);
        if (len > name_len && h[name_len] == '=' && memcmp(h, name, name_len) == 0) {
            size_t vlen = len - name_len - 1;
            while (vlen && h[name_len + vlen] == ' ')
                vlen--;
            if (vlen == 0 || vlen >= cap)
                return 0;
            memcpy(out, h + name_len + 1, vlen);
            out[vlen] = '\0';
            return vlen;
        }
        h = end;
    }
    return 0;
}

/* The session id the request presents (header, then query, then cookie) into <id>
 * (RP_API_VALUE_CAP bytes would be too many: ids are short, longer values are cut and so
 * unknown); true when one is presented, valid or not. */
static bool
presented_id(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req, char *id,
             size_t cap, bool *by_cookie)
{
    *by_cookie = false;
    const char *h = rp_http_request_header(req, SESSION_HEADER);
    if (h && *h) {
        rp_api_copy_str(id, cap, h);
        return true;
    }
    const char *q = rp_query_get(a->query, "session");
    if (q && *q && strcmp(q, "new") != 0) {
        rp_api_copy_str(id, cap, q);
        return true;
    }
    const char *name = rp_conn_config(c)->session_cookie;
    *by_cookie = name && *name && cookie_value(req, name, id, cap) > 0;
    return *by_cookie;
}

bool
rp_api_session_wanted(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req)
{
    if (!a->node->sessions)
        return false;
    if (c->session || rp_conn_config(c)->session_always)
        return true;
    const char *q = rp_query_get(a->query, "session");
    if (q && *q)
        return true;
    const char *h = rp_http_request_header(req, SESSION_HEADER);
    return h && *h;
}

/* Whom a session is bound to: the token's subject with auth, else session_binding. */
static void
owner_of(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
         const struct rp_grant *g, char *out, size_t cap)
{
    if (a->gate && g->sub) {
        snprintf(out, cap, "sub:%s", g->sub);
        return;
    }
    switch ((int)rp_conn_config(c)->session_binding) {
    case RP_CFG_SESSION_BINDING_ADDRESS: {
        char ip[RP_ADDR_KEY_STRLEN];
        rp_addr_key_format(&c->client_key, ip, sizeof(ip));
        snprintf(out, cap, "ip:%s", ip);
        break;
    }
    case RP_CFG_SESSION_BINDING_USER_AGENT: {
        const char *ua = rp_http_request_header(req, "User-Agent");
        snprintf(out, cap, "ua:%.400s", ua ? ua : "");
        break;
    }
    default:
        out[0] = '\0';
        break;
    }
}

static void
cookie_header(const struct rp_config_values *v, const char *id, struct rp_buf *out)
{
    if (!v->session_cookie || !*v->session_cookie)
        return;
    static const char *const samesite[] = {"Lax", "Strict", "None"};
    int ss = (int)v->session_cookie_samesite;
    rp_buf_printf(out, "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=%s%s\r\n", v->session_cookie,
                  id, samesite[ss >= 0 && ss < 3 ? ss : 0],
                  v->session_cookie_secure ? "; Secure" : "");
}

/* The `connected` event (and, for a session that had expired, `resync`): no id line, so
 * they never move the client's Last-Event-ID. */
static void
opening_events(const char *id, char *const *topics, size_t n, bool resumed, const char *expired,
               struct rp_buf *out)
{
    rp_buf_append_str(out, "event: connected\ndata: {\"sessionId\":\"");
    rp_buf_append_str(out, id);
    rp_buf_append_str(out, "\",\"topics\":[");
    for (size_t i = 0; i < n; i++) {
        rp_buf_append_str(out, i ? ",\"" : "\"");
        rp_json_escape(out, topics[i], strlen(topics[i]));
        rp_buf_append_str(out, "\"");
    }
    rp_buf_printf(out, "],\"time\":%lld,\"resumed\":%s}\n\n", (long long)rp_clock_wall_ms(),
                  resumed ? "true" : "false");
    if (!expired)
        return;
    /* Only an id of the right form is echoed: the presented value is the client's. */
    bool known_form = rp_session_id_valid(expired, strlen(expired));
    rp_buf_printf(out,
                  "event: resync\ndata: {\"reason\":\"session_expired\",\"previous\":%s%s%s,"
                  "\"sessionId\":\"%s\"}\n\n",
                  known_form ? "\"" : "", known_form ? expired : "null", known_form ? "\"" : "",
                  id);
}

static void
set_filters(char **filters, size_t *n, char *const *topics, size_t n_topics)
{
    for (size_t i = 0; i < *n; i++)
        free(filters[i]);
    for (size_t i = 0; i < n_topics; i++)
        filters[i] = rp_xstrdup(topics[i]);
    *n = n_topics;
}

/* A stream whose request waited (a history read) runs again: the session is attached
 * already; its filters and opening events are made again from the table. */
static enum rp_verdict
begin_again(struct rp_api *a, struct rp_conn *c, char **filters, size_t *n,
            struct rp_api_session_start *out)
{
    struct conn_session *cs = c->session;
    struct rp_session_info info;
    if (rp_session_get(a->node->sessions, cs->id, &info) != 0)
        return RP_VERDICT_REFUSED; /* cannot happen while attached */
    set_filters(filters, n, info.topics, info.n_topics);
    topic_of(cs->id, out->topic);
    filters[(*n)++] = rp_xstrdup(out->topic);
    cookie_header(rp_conn_config(c), cs->id, &out->headers);
    opening_events(cs->id, info.topics, info.n_topics, true, NULL, &out->opening);
    out->expires_ms = cs->expires_ms;
    rp_session_info_fini(&info);
    return RP_VERDICT_PASS;
}

enum rp_verdict
rp_api_session_begin(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                     char **filters, size_t *n, size_t max, bool have_last_id,
                     struct rp_api_session_start *out)
{
    struct rp_session_table *t = a->node->sessions;
    const struct rp_config_values *v = rp_conn_config(c);
    rp_buf_init(&out->headers, 1024);
    rp_buf_init(&out->opening, 16384);
    if (c->session)
        return begin_again(a, c, filters, n, out);

    struct rp_grant grant = {0};
    if (a->gate) {
        enum rp_verdict vd = rp_api_authorize(a, c, req, false, NULL, 0, &grant);
        if (vd != RP_VERDICT_PASS)
            return vd;
    }
    char owner[OWNER_CAP];
    owner_of(a, c, req, &grant, owner, sizeof(owner));

    char presented[RP_SESSION_ID_LEN + 2] = "";
    bool by_cookie;
    bool has_id = presented_id(a, c, req, presented, sizeof(presented), &by_cookie);
    struct rp_session_info info = {0};
    int rc = has_id ? rp_session_peek(t, presented, owner, &info) : -ENOENT;
    enum rp_verdict verdict = RP_VERDICT_REFUSED;
    if (rc == -EPERM && by_cookie) {
        /* A cookie the browser sent by itself under ?session=new: perhaps another client's
         * (counted, untouched), perhaps this client's from before its address changed.
         * Either way it asked for a session: it gets a new one, not a stream it cannot
         * open again (an EventSource gives up on a 403). */
        rp_session_attach(t, presented, owner, NULL, 0, NULL);
        has_id = false;
        rc = -ENOENT;
    }
    if (rc == -EPERM) {
        /* Counted once, by the attach; the session is not changed. */
        rp_session_attach(t, presented, owner, NULL, 0, NULL);
        rp_conn_error(c, req, 403,
                      "this session belongs to another client: open a new one with ?session=new",
                      NULL);
        goto out;
    }
    bool resumed = rc == 0;
    if (resumed && *n == 0) {
        if (info.n_topics > max) {
            rp_conn_error(c, req, 400,
                          "the session reads more topics than max_stream_topics allows", NULL);
            goto out;
        }
        set_filters(filters, n, info.topics, info.n_topics);
    }
    /* The stream's topics (the session's own aside) must be readable with the token. */
    for (size_t i = 0; a->gate && i < *n; i++) {
        if (!rp_grant_may_read(&grant, filters[i], strlen(filters[i]))) {
            rp_api_refuse_auth(c, req, RP_AUTH_FORBIDDEN, "reading", filters[i], 0);
            goto out;
        }
    }
    char id[RP_SESSION_ID_LEN + 1];
    if (resumed) {
        rc = rp_session_attach(t, presented, owner, (const char *const *)filters, *n, NULL);
        resumed = rc == 0; /* it may have expired since the peek */
    }
    if (resumed) {
        memcpy(id, presented, sizeof(id));
        /* A client that lost its Last-Event-ID (a new page) resumes where its last stream
         * stopped. */
        if (!have_last_id && info.last_seq)
            out->resume_from = info.last_seq;
    } else if (rp_session_create(t, owner, (const char *const *)filters, *n, rp_clock_wall_ms(),
                                 id) != 0) {
        rp_conn_error(c, req, 503, "cannot make a session id (no randomness); retry later",
                      "Retry-After: 1\r\n");
        goto out;
    }
    struct conn_session *cs = rp_xcalloc(1, sizeof(*cs));
    cs->table = t;
    memcpy(cs->id, id, sizeof(cs->id));
    c->session = cs;
    c->session_end = session_end;
    bool expired = has_id && !resumed;
    opening_events(id, filters, *n, resumed, expired ? presented : NULL, &out->opening);
    cookie_header(v, id, &out->headers);
    topic_of(id, out->topic);
    filters[(*n)++] = rp_xstrdup(out->topic);
    out->expires_ms = grant.expires_ms;
    cs->expires_ms = grant.expires_ms;
    verdict = RP_VERDICT_PASS;
out:
    rp_session_info_fini(&info);
    rp_grant_fini(&grant);
    return verdict;
}

void
rp_api_session_start_fini(struct rp_api_session_start *s)
{
    rp_buf_fini(&s->headers);
    rp_buf_fini(&s->opening);
}

void
rp_api_session_abandon(struct rp_conn *c)
{
    if (!c->session)
        return;
    c->session_end(c->session, 0);
    c->session = NULL;
    c->session_end = NULL;
}

bool
rp_api_filter_reaches_sessions(const char *filter)
{
    static const char probe[] = RP_SESSION_TOPIC_PREFIX "00000000000000000000000000000000";
    size_t sp = sizeof(RP_SESSION_TOPIC_PREFIX) - 1;
    return strncmp(filter, RP_SESSION_TOPIC_PREFIX, sp) == 0 ||
           rp_pattern_matches(filter, strlen(filter), probe, sizeof(probe) - 1);
}

void
rp_api_stream_adopted(void *ctx, struct rp_conn *c, const struct rp_stream_state *st)
{
    struct rp_api *a = ctx;
    size_t sp = sizeof(RP_SESSION_TOPIC_PREFIX) - 1;
    for (size_t i = 0; a->node->sessions && !c->session && i < st->n_filters; i++) {
        const char *f = st->filters[i];
        if (!rp_session_is_topic(f, strlen(f)) || rp_session_adopt(a->node->sessions, f + sp))
            continue;
        struct conn_session *cs = rp_xcalloc(1, sizeof(*cs));
        cs->table = a->node->sessions;
        rp_api_copy_str(cs->id, sizeof(cs->id), f + sp);
        c->session = cs;
        c->session_end = session_end;
    }
}

/* ---- sends ---- */

/* The events of a send: a JSON body as /publish takes it, without "topic" (the URL names the
 * session), or the raw body as data with ?event= and ?id=. */
struct send_body {
    struct rp_publish_batch batch;
    struct rp_publish_item raw;
    struct rp_publish_item *items;
    size_t n;
    bool is_array;
};

static bool
json_body(const struct rp_http_request *req)
{
    const char *ct = rp_http_request_header(req, "Content-Type");
    if (!ct)
        return false;
    size_t len = strcspn(ct, ";");
    while (len && ct[len - 1] == ' ')
        len--;
    return (len == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
           (len > 5 && strncasecmp(ct + len - 5, "+json", 5) == 0);
}

static bool
parse_send(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
           struct send_body *b)
{
    memset(b, 0, sizeof(*b));
    if (json_body(req)) {
        struct rp_publish_json_error err;
        if (rp_publish_json_parse_targeted(req->body, req->body_len,
                                           (size_t)rp_conn_config(c)->max_batch, &b->batch, &err)) {
            rp_api_reject_publish(c, req, err.status, err.message);
            return false;
        }
        b->items = b->batch.items;
        b->n = b->batch.n;
        b->is_array = b->batch.is_array;
        return true;
    }
    const char *event = rp_query_get(a->query, "event");
    const char *id = rp_query_get(a->query, "id");
    b->raw = (struct rp_publish_item){
        .event = event,
        .event_len = event ? strlen(event) : 0,
        .data = req->body,
        .data_len = req->body_len,
        .pub_id = id,
        .pub_id_len = id ? strlen(id) : 0,
    };
    b->items = &b->raw;
    b->n = 1;
    return true;
}

static void
send_body_fini(struct send_body *b)
{
    if (b->items == b->batch.items)
        rp_publish_batch_fini(&b->batch);
}

/* A session expired for being sent too much: its private events go with it. */
static void
forget_topic(void *ctx, const char *id)
{
    struct rp_hub *hub = ctx;
    char topic[TOPIC_LEN + 1];
    topic_of(id, topic);
    rp_hub_drop(hub, topic, TOPIC_LEN);
}

/* Sends <b> to session <id>: 0 and the sequences into <seqs>; -ENOENT (unknown, expired, or
 * expired now with a full buffer: *<full> then); another error with <err> filled. */
static int
send_to(struct rp_api *a, const char *id, const struct send_body *b, uint64_t *seqs, bool *full,
        struct rp_hub_error *err)
{
    struct rp_hub *hub = a->node->hub;
    char topic[TOPIC_LEN + 1];
    topic_of(id, topic);
    *full = false;
    for (size_t i = 0; i < b->n; i++) {
        int rc =
            rp_session_note_send(a->node->sessions, id, b->items[i].data_len, forget_topic, hub);
        if (rc) {
            *full = rc == -ENOSPC;
            return -ENOENT;
        }
    }
    struct rp_publish_item small[8];
    struct rp_publish_item *items = b->n <= 8 ? small : rp_xcalloc(b->n, sizeof(*items));
    struct rp_publish_result rs[8];
    struct rp_publish_result *res = b->n <= 8 ? rs : rp_xcalloc(b->n, sizeof(*res));
    for (size_t i = 0; i < b->n; i++) {
        items[i] = b->items[i];
        items[i].topic = topic;
        items[i].topic_len = TOPIC_LEN;
    }
    int rc = rp_hub_publish_system(hub, items, b->n, res, err);
    for (size_t i = 0; !rc && i < b->n; i++)
        seqs[i] = res[i].seq;
    if (items != small)
        free(items);
    if (res != rs)
        free(res);
    return rc;
}

/* The answer waits until the log made <newest> durable (fsync always), as a publish's. */
static void
hold_until_durable(struct rp_api *a, struct rp_conn *c, uint64_t newest)
{
    if (!a->node->wait_durable)
        return;
    struct rp_logengine *engine = rp_hub_engine(a->node->hub);
    if (engine && rp_logengine_durable_seq(engine) < newest)
        rp_conn_hold_answer(c, newest, rp_clock_now_ms() + DURABLE_WAIT_MS);
}

/* With auth, the token must allow writing to each session's private topic (the publisher
 * key does; so does a write claim such as `_revenprox/session/#`). */
static bool
may_send(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
         char (*ids)[RP_SESSION_ID_LEN + 1], size_t n, bool all)
{
    if (!a->gate)
        return true;
    size_t m = all ? 1 : n;
    char **topics = rp_xcalloc(m ? m : 1, sizeof(char *));
    for (size_t i = 0; i < m; i++) {
        topics[i] = rp_xmalloc(TOPIC_LEN + 1);
        if (all)
            snprintf(topics[i], TOPIC_LEN + 1, "%s#", RP_SESSION_TOPIC_PREFIX);
        else
            topic_of(ids[i], topics[i]);
    }
    struct rp_grant grant = {0};
    enum rp_verdict v = rp_api_authorize(a, c, req, true, (const char *const *)topics, m, &grant);
    for (size_t i = 0; i < m; i++)
        free(topics[i]);
    free(topics);
    rp_grant_fini(&grant);
    return v == RP_VERDICT_PASS;
}

static void
not_found(struct rp_conn *c, const struct rp_http_request *req, const char *id, bool full)
{
    char msg[200];
    snprintf(msg, sizeof(msg),
             full ? "session %.40s expired: more than session_buffer events waited for it"
                  : "no session %.40s: it never existed or has expired",
             id);
    rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
    rp_conn_error(c, req, 404, msg, NULL);
}

static void
refuse_send(struct rp_conn *c, const struct rp_http_request *req, int rc,
            const struct rp_hub_error *err)
{
    bool retry = rc == -EAGAIN || rc == -EBUSY || rc == -EIO;
    rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
    rp_conn_error(c, req, err->status ? err->status : 503, err->message,
                  retry ? "Retry-After: 1\r\n" : NULL);
}

static void
append_ids(struct rp_buf *b, struct rp_hub *hub, const uint64_t *seqs, size_t n, bool array)
{
    if (!array) {
        rp_buf_append_str(b, "\"id\":");
        rp_api_json_id(b, hub, seqs[0]);
        return;
    }
    rp_buf_append_str(b, "\"ids\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            rp_buf_append_str(b, ",");
        rp_api_json_id(b, hub, seqs[i]);
    }
    rp_buf_append_str(b, "]");
}

void
rp_api_session_send(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                    const char *id, enum rp_conn_call call)
{
    (void)call;
    if (!a->node->sessions) {
        rp_conn_error(c, req, 404, "sessions are not enabled on this node", NULL);
        return;
    }
    char ids[1][RP_SESSION_ID_LEN + 1];
    rp_api_copy_str(ids[0], sizeof(ids[0]), id);
    if (!rp_session_id_valid(id, strlen(id))) {
        not_found(c, req, id, false);
        return;
    }
    if (!may_send(a, c, req, ids, 1, false))
        return;
    struct send_body b;
    if (!parse_send(a, c, req, &b))
        return;
    uint64_t *seqs = rp_xcalloc(b.n, sizeof(uint64_t));
    struct rp_hub_error err = {0};
    bool full;
    int rc = send_to(a, id, &b, seqs, &full, &err);
    if (rc == -ENOENT) {
        not_found(c, req, id, full);
    } else if (rc) {
        refuse_send(c, req, rc, &err);
    } else {
        rp_stat_add(rp_conn_stats(c), RP_STAT_events_published, b.n);
        rp_stat_add(rp_conn_stats(c), RP_STAT_publish_requests_total, 1);
        struct rp_buf out;
        rp_buf_init(&out, 256 + b.n * 40);
        rp_buf_printf(&out, "{\"session\":\"%s\",", id);
        append_ids(&out, a->node->hub, seqs, b.n, b.is_array);
        rp_buf_append_str(&out, "}\n");
        rp_api_respond_json(c, req, 200, &out);
        hold_until_durable(a, c, seqs[b.n - 1]);
        rp_buf_fini(&out);
    }
    free(seqs);
    send_body_fini(&b);
}

/* The sessions a bulk request names: ?session=a&session=b, or every session of ?subject=. */
static size_t
bulk_targets(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
             char (*ids)[RP_SESSION_ID_LEN + 1], bool *by_subject)
{
    const char *subject = rp_query_get(a->query, "subject");
    *by_subject = subject != NULL;
    if (subject) {
        char owner[OWNER_CAP];
        snprintf(owner, sizeof(owner), "sub:%s", subject);
        size_t n = rp_session_owned_by(a->node->sessions, owner, ids, MAX_TARGETS);
        return n < MAX_TARGETS ? n : MAX_TARGETS;
    }
    size_t n = 0, pos = 0;
    const struct rp_query_param *p;
    while (n < MAX_TARGETS && (p = rp_query_next_named(a->query, "session", &pos)) != NULL)
        rp_api_copy_str(ids[n++], RP_SESSION_ID_LEN + 1, p->value);
    (void)c;
    (void)req;
    return n;
}

void
rp_api_sessions_send(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                     enum rp_conn_call call)
{
    (void)call;
    if (!a->node->sessions) {
        rp_conn_error(c, req, 404, "sessions are not enabled on this node", NULL);
        return;
    }
    char(*ids)[RP_SESSION_ID_LEN + 1] = rp_xcalloc(MAX_TARGETS, sizeof(*ids));
    bool by_subject;
    size_t n = bulk_targets(a, c, req, ids, &by_subject);
    struct send_body b = {0};
    uint64_t *seqs = NULL;
    struct rp_buf out = {0};
    if (!by_subject && n == 0) {
        rp_api_reject_publish(c, req, 400,
                              "name the sessions: ?session=<id>&session=<id>, or ?subject=<sub>");
        goto done;
    }
    if (!may_send(a, c, req, ids, n, by_subject) || !parse_send(a, c, req, &b))
        goto done;
    seqs = rp_xcalloc(b.n, sizeof(uint64_t));
    rp_buf_init(&out, 1024 + n * (RP_SESSION_ID_LEN + 40 + b.n * 32));
    struct rp_buf missing;
    rp_buf_init(&missing, 64 + n * (RP_SESSION_ID_LEN + 4));
    rp_buf_append_str(&out, "{\"sent\":[");
    size_t sent = 0, events = 0;
    for (size_t i = 0; i < n; i++) {
        struct rp_hub_error err = {0};
        bool full;
        int rc = rp_session_id_valid(ids[i], strlen(ids[i]))
                     ? send_to(a, ids[i], &b, seqs, &full, &err)
                     : -ENOENT;
        if (rc == -ENOENT) {
            rp_buf_append_str(&missing, missing.len ? ",\"" : "\"");
            rp_json_escape(&missing, ids[i], strlen(ids[i]));
            rp_buf_append_str(&missing, "\"");
            continue;
        }
        if (rc) {
            /* Sessions already sent to keep their events: say which. */
            struct rp_hub_error told = {.status = err.status};
            snprintf(told.message, sizeof(told.message), "%.80s (sent to %zu of %zu before)",
                     err.message, sent, n);
            rp_buf_fini(&missing);
            refuse_send(c, req, rc, &told);
            goto done;
        }
        rp_buf_printf(&out, "%s{\"session\":\"%s\",", sent ? "," : "", ids[i]);
        append_ids(&out, a->node->hub, seqs, b.n, b.is_array);
        rp_buf_append_str(&out, "}");
        sent++;
        events += b.n;
    }
    rp_buf_append_str(&out, "],\"not_found\":[");
    rp_buf_append(&out, missing.data, missing.len);
    rp_buf_append_str(&out, "]}\n");
    rp_buf_fini(&missing);
    if (sent == 0) {
        rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
        rp_conn_respond(c, req, 404, "application/json", NULL, out.data, out.len);
        goto done;
    }
    rp_stat_add(rp_conn_stats(c), RP_STAT_events_published, events);
    rp_stat_add(rp_conn_stats(c), RP_STAT_publish_requests_total, 1);
    rp_api_respond_json(c, req, 200, &out);
    hold_until_durable(a, c, rp_hub_last_seq(a->node->hub));
done:
    rp_buf_fini(&out);
    free(seqs);
    send_body_fini(&b);
    free(ids);
}

/* ---- admin ---- */

static void
describe(struct rp_buf *b, struct rp_hub *hub, const struct rp_session_info *s, int64_t ttl_ms)
{
    rp_buf_printf(b, "{\"id\":\"%s\",\"state\":\"%s\",\"subject\":", s->id,
                  s->n_streams ? "connected" : "disconnected");
    if (strncmp(s->owner, "sub:", 4) == 0) {
        rp_buf_append_str(b, "\"");
        rp_json_escape(b, s->owner + 4, strlen(s->owner + 4));
        rp_buf_append_str(b, "\"");
    } else {
        rp_buf_append_str(b, "null");
    }
    rp_buf_append_str(b, ",\"binding\":\"");
    size_t colon = strcspn(s->owner, ":");
    rp_json_escape(b, s->owner, s->owner[colon] ? colon : 0);
    rp_buf_append_str(b, "\",\"topics\":[");
    for (size_t i = 0; i < s->n_topics; i++) {
        rp_buf_append_str(b, i ? ",\"" : "\"");
        rp_json_escape(b, s->topics[i], strlen(s->topics[i]));
        rp_buf_append_str(b, "\"");
    }
    rp_buf_printf(b, "],\"streams\":%u,\"created\":%lld,", s->n_streams, (long long)s->created_ms);
    if (s->n_streams)
        rp_buf_append_str(b, "\"disconnected_since\":null,\"expires\":null,");
    else
        rp_buf_printf(b, "\"disconnected_since\":%lld,\"expires\":%lld,",
                      (long long)s->disconnected_ms, (long long)(s->disconnected_ms + ttl_ms));
    rp_buf_printf(b, "\"buffered_events\":%llu,\"buffered_bytes\":%llu,\"last_event_id\":",
                  (unsigned long long)s->n_buffered, (unsigned long long)s->buffered_bytes);
    rp_api_json_id(b, hub, s->last_seq);
    rp_buf_append_str(b, "}");
}

void
rp_api_session_info(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                    const char *id)
{
    if (!a->node->sessions) {
        rp_conn_error(c, req, 404, "sessions are not enabled on this node", NULL);
        return;
    }
    char ids[1][RP_SESSION_ID_LEN + 1];
    rp_api_copy_str(ids[0], sizeof(ids[0]), id);
    if (!may_send(a, c, req, ids, 1, !rp_session_id_valid(id, strlen(id))))
        return;
    struct rp_session_info s;
    if (rp_session_get(a->node->sessions, id, &s) != 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "no session %.40s: it never existed or has expired", id);
        rp_conn_error(c, req, 404, msg, NULL);
        return;
    }
    struct rp_buf b;
    rp_buf_init(&b, 4096 + s.n_topics * 300);
    describe(&b, a->node->hub, &s, rp_conn_config(c)->session_ttl);
    rp_buf_append_str(&b, "\n");
    rp_api_respond_json(c, req, 200, &b);
    rp_buf_fini(&b);
    rp_session_info_fini(&s);
}

void
rp_api_sessions_list(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req)
{
    if (!a->node->sessions) {
        rp_conn_error(c, req, 404, "sessions are not enabled on this node", NULL);
        return;
    }
    const char *subject = rp_query_get(a->query, "subject");
    if (!subject) {
        rp_conn_error(c, req, 400, "name the subject: GET /sessions?subject=<sub>", NULL);
        return;
    }
    if (!may_send(a, c, req, NULL, 0, true))
        return;
    char(*ids)[RP_SESSION_ID_LEN + 1] = rp_xcalloc(MAX_TARGETS, sizeof(*ids));
    bool by_subject;
    size_t n = bulk_targets(a, c, req, ids, &by_subject);
    struct rp_buf b;
    rp_buf_init(&b, 4096 + n * 1024);
    rp_buf_append_str(&b, "{\"sessions\":[");
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        struct rp_session_info s;
        if (rp_session_get(a->node->sessions, ids[i], &s) != 0)
            continue; /* expired meanwhile */
        if (shown++)
            rp_buf_append_str(&b, ",");
        describe(&b, a->node->hub, &s, rp_conn_config(c)->session_ttl);
        rp_session_info_fini(&s);
    }
    rp_buf_append_str(&b, "]}\n");
    rp_api_respond_json(c, req, 200, &b);
    rp_buf_fini(&b);
    free(ids);
}
