/* SPDX-License-Identifier: MIT */
/*
 * The Mercure hub at /.well-known/mercure (docs/mercure.md): POST publishes an update (a
 * form), GET subscribes with topic selectors. A Mercure topic IRI lives in the hub as
 * _revenprox/mercure/{u,p}/<base64url(IRI)>, public and private apart, so a stream's
 * filters, computed once from its selectors and its token, are all the hub needs: the
 * delivery path is the own API's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <jansson.h>

#include "api/endpoints.h"
#include "api/guard.h"
#include "api/history.h"
#include "auth/auth_jwt.h"
#include "auth/claims.h"
#include "base/alloc.h"
#include "base/b64url.h"
#include "base/clock.h"
#include "base/stats.h"
#include "core/event_id.h"
#include "core/logengine.h"
#include "core/pattern.h"
#include "core/topic_name.h"
#include "core/uri_template.h"
#include "core/url_pattern.h"
#include "http/cors.h"
#include "http/publish_form.h"
#include "http/query.h"
#include "http/response.h"
#include "sse/sse_frame.h"

/* The answer to a publish whose supplied id one of its topics already has: a publisher
 * retrying after a lost answer learns that the update is stored. */
#define DUPLICATE_ID                                                                               \
    "an update with this \"id\" was already published to this topic and is stored; a retry "       \
    "need not be sent again"
#define PREFIX_PUBLIC RP_TOPIC_SYSTEM_PREFIX "mercure/u/"
#define PREFIX_PRIVATE RP_TOPIC_MERCURE_PRIVATE_PREFIX
#define PREFIX_LEN (sizeof(PREFIX_PUBLIC) - 1)
/* The longest IRI whose encoded name fits RP_TOPIC_NAME_MAX. */
#define IRI_MAX ((RP_TOPIC_NAME_MAX - PREFIX_LEN) * 3 / 4)
#define IRI_MAX_DOC 175 /* IRI_MAX as text, for messages */
#define STR_(x) #x
#define STR(x) STR_(x)
/* The cookies a token may come in: protocol 0.x (Symfony's), then the 1.0 drafts'. */
static const char *const cookie_names[] = {"mercureAuthorization", "mercureAccessToken",
                                           "__Secure-mercure_access_token"};
/* RFC 6750 challenges: no token, a refused token, a token that does not allow it. */
#define CHALLENGE "WWW-Authenticate: Bearer realm=\"mercure\"\r\n"
#define CHALLENGE_INVALID "WWW-Authenticate: Bearer realm=\"mercure\", error=\"invalid_token\"\r\n"
#define CHALLENGE_SCOPE                                                                            \
    "WWW-Authenticate: Bearer realm=\"mercure\", error=\"insufficient_scope\"\r\n"

_Static_assert(sizeof(PREFIX_PUBLIC) == sizeof(PREFIX_PRIVATE), "prefixes of one length");
_Static_assert(IRI_MAX == IRI_MAX_DOC, "IRI_MAX_DOC follows IRI_MAX");

/* The hub topic of <iri>, public or private, into <out> (RP_TOPIC_NAME_MAX + 1 bytes);
 * its length, or 0 when the IRI is too long to be named. */
static size_t
hub_name(const char *iri, size_t len, bool is_private, char *out)
{
    if (len == 0 || len > IRI_MAX)
        return 0;
    memcpy(out, is_private ? PREFIX_PRIVATE : PREFIX_PUBLIC, PREFIX_LEN);
    size_t n = PREFIX_LEN + rp_b64url_encode((const unsigned char *)iri, len, out + PREFIX_LEN);
    out[n] = '\0';
    return n;
}

/* The value of cookie <name>, borrowed from the header into *<out>; its length or 0. */
static size_t
find_cookie(const struct rp_http_request *req, const char *name, const char **out)
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
            *out = v;
            return vlen;
        }
        h = end;
    }
    return 0;
}

/* The request's token: the Authorization header's Bearer token, else the `access_token`
 * (1.0) or `authorization` (0.x) query parameter, else a cookie of cookie_names. Borrowed;
 * its length or 0. */
/* The protocol versions the endpoint speaks (mercure_protocol). */
static bool
speaks_0x(const struct rp_conn *c)
{
    return rp_conn_config(c)->mercure_protocol != RP_CFG_MERCURE_PROTOCOL_1_0;
}

static bool
speaks_1x(const struct rp_conn *c)
{
    return rp_conn_config(c)->mercure_protocol != RP_CFG_MERCURE_PROTOCOL_0_X;
}

static size_t
find_token(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req, const char **out)
{
    const char *h = rp_http_request_header(req, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        *out = h + 7;
        return strlen(h + 7);
    }
    /* Each source belongs to a version: 1.0's first, then 0.x's, cookie after parameter. */
    static const char *const params[] = {"access_token", "authorization"};
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        if (i == 0 ? !speaks_1x(c) : !speaks_0x(c))
            continue;
        const char *q = rp_query_get_plus(a->query, params[i]);
        if (q && *q) {
            *out = q;
            return strlen(q);
        }
    }
    for (size_t i = 0; i < sizeof(cookie_names) / sizeof(cookie_names[0]); i++) {
        if (i == 0 ? !speaks_0x(c) : !speaks_1x(c))
            continue;
        size_t len = find_cookie(req, cookie_names[i], out);
        if (len)
            return len;
    }
    return 0;
}

/* A 1.0 access token (one with authorization_details) must name this hub's resource
 * identifier in `aud` when mercure_resource is set; 0.x tokens carry no audience. */
static bool
audience_ok(const struct rp_conn *c, const json_t *claims)
{
    const char *want = rp_conn_config(c)->mercure_resource;
    if (!want || !*want || !json_object_get(claims, "authorization_details"))
        return true;
    const json_t *aud = json_object_get(claims, "aud");
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    const json_t *v;
    json_array_foreach (aud, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
            return true;
    }
    return false;
}

/*
 * Verifies the request's token into <m>: 1 with a verified token, 0 without a token, -1
 * when a token was refused (a 401 was queued).
 */
static bool
issuer_ok(struct rp_conn *c, const json_t *claims)
{
    const struct rp_config_list *l = &rp_conn_config(c)->mercure_issuers;
    if (l->n == 0)
        return true;
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    for (size_t i = 0; iss && i < l->n; i++)
        if (strcmp(iss, l->items[i]) == 0)
            return true;
    return false;
}

static int
authenticate(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
             struct rp_claims_mercure *m, bool subscriber)
{
    /* Subscribers' tokens may have keys of their own (mercure_subscriber_jwt_*). */
    const struct rp_jwt_keys *keys = subscriber && a->node->mercure_subscriber_keys
                                         ? a->node->mercure_subscriber_keys
                                         : a->node->mercure_keys;
    memset(m, 0, sizeof(*m));
    const char *tok = NULL;
    size_t len = find_token(a, c, req, &tok);
    if (len == 0)
        return 0;
    enum rp_auth_result r = RP_AUTH_UNKNOWN_KEY;
    if (keys) {
        struct rp_grant g = {0};
        json_t *claims = NULL;
        bool at_jwt;
        r = rp_jwt_verify_claims(keys, tok, len, rp_clock_wall_ms(), NULL, &g, &claims, &at_jwt);
        if (r == RP_AUTH_OK)
            r = rp_claims_mercure_read(claims, m);
        if (r == RP_AUTH_OK && !audience_ok(c, claims))
            r = RP_AUTH_BAD_AUDIENCE;
        if (r == RP_AUTH_OK && !issuer_ok(c, claims))
            r = RP_AUTH_BAD_ISSUER;
        /* 1.0: authorization_details come only in an access token (typ at+jwt), so an ID
         * token or another JWT signed with the same key grants nothing by them. */
        if (r == RP_AUTH_OK && json_object_get(claims, "authorization_details") && !at_jwt)
            r = RP_AUTH_MALFORMED;
        if (r != RP_AUTH_OK)
            rp_claims_mercure_fini(m);
        if (r == RP_AUTH_OK)
            m->expires_ms = g.expires_ms;
        json_decref(claims);
        rp_grant_fini(&g);
    }
    if (r == RP_AUTH_OK)
        return 1;
    rp_stat_auth_failure(rp_conn_stats(c), r);
    char msg[200];
    snprintf(msg, sizeof(msg), "invalid Mercure token (%s)%s", rp_auth_result_name(r),
             keys ? "" : ": the hub has no mercure_jwt_secret or key file");
    rp_conn_error(c, req, 401, msg, CHALLENGE_INVALID);
    return -1;
}

/* ---- publishing ---- */

/* A valid token that does not allow the publish: 403, insufficient_scope. */
static void
forbid(struct rp_conn *c, const struct rp_http_request *req, const char *msg)
{
    rp_stat_auth_failure(rp_conn_stats(c), RP_AUTH_FORBIDDEN);
    rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
    rp_conn_error(c, req, 403, msg, CHALLENGE_SCOPE);
}

/* An update's events are in (here or, in a cluster, in Redis): 200 with its id (the
 * supplied one, else its first event's), or 409 when another publish took its supplied id
 * between the check and this one. */
static void
answer_update(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
              const struct rp_publish_item *items, size_t n, const struct rp_publish_result *res,
              void *ctx)
{
    (void)ctx;
    struct rp_stats *stats = rp_conn_stats(c);
    uint64_t newest = 0, appended = 0;
    for (size_t i = 0; i < n; i++) {
        appended += !res[i].duplicate;
        if (res[i].seq > newest)
            newest = res[i].seq;
    }
    rp_stat_add(stats, RP_STAT_events_published, appended);
    rp_stat_add(stats, RP_STAT_publish_requests_total, 1);
    if (items[0].pub_id && n != appended) {
        rp_api_reject_publish(c, req, 409, DUPLICATE_ID);
        return;
    }
    char id[RP_EVENT_ID_MAX + 1];
    size_t id_len = rp_hub_format_id(a->node->hub, res[0].seq, id);
    if (items[0].pub_id) /* the supplied id is the update's id */
        rp_conn_respond(c, req, 200, "text/plain; charset=utf-8", NULL, items[0].pub_id + 1,
                        items[0].pub_id_len - 1);
    else
        rp_conn_respond(c, req, 200, "text/plain; charset=utf-8", NULL, id, id_len);
    rp_api_hold_until_durable(a, c, newest);
}

/* Publishes the update's <n> events all or nothing and answers with the first one's id. */
static void
publish_items(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
              const struct rp_publish_item *items, size_t n, enum rp_conn_call call)
{
    if (a->node->redis) {
        /* The topics are the server's namespace: the Mercure endpoint authorised them. */
        rp_api_publish_cluster(a, c, req, items, n, true, answer_update, NULL);
        return;
    }
    struct rp_stats *stats = rp_conn_stats(c);
    struct rp_publish_result *res = rp_xcalloc(n, sizeof(*res));
    struct rp_hub_error err;
    int rc = rp_hub_publish_system(a->node->hub, items, n, res, &err);
    if (rc == -EAGAIN && rp_conn_config(c)->block_timeout > 0) {
        if (call == RP_CONN_CALL_NEW)
            rp_stat_add(stats, RP_STAT_publish_blocked_total, 1);
        rp_conn_wait(c, RP_WAIT_BLOCK, rp_clock_now_ms() + rp_conn_config(c)->block_timeout);
    } else if (rc) {
        rp_stat_add(stats, RP_STAT_publish_rejected_total, 1);
        bool retry = rc == -EAGAIN || rc == -EBUSY || rc == -EIO;
        rp_conn_error(c, req, err.status, err.message, retry ? "Retry-After: 1\r\n" : NULL);
    } else {
        answer_update(a, c, req, items, n, res, NULL);
    }
    free(res);
}

/* A supplied id comes back in a Last-Event-ID header and goes out in an `id:` line: visible
 * ASCII only (no space, control character or byte above 0x7e), at most 128 bytes. */
static bool
supplied_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > 128)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7f)
            return false;
    return true;
}

static void
publish(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
        enum rp_conn_call call)
{
    if (call == RP_CONN_CALL_NEW && !rp_guard_publish(a->node->guard, c, req))
        return;
    if (!rp_publish_form_content_type(rp_http_request_header(req, "Content-Type"))) {
        rp_api_reject_publish(c, req, 415,
                              "a Mercure update is an application/x-www-form-urlencoded form");
        return;
    }
    const struct rp_config_values *v = rp_conn_config(c);
    struct rp_publish_form f;
    struct rp_publish_form_error ferr;
    struct rp_claims_mercure m;
    struct rp_publish_item *items = NULL;
    char(*names)[RP_TOPIC_NAME_MAX + 1] = NULL;
    char *marked = NULL;
    char msg[400];
    int auth = -1;
    if (rp_publish_form_parse(req->body, req->body_len, (size_t)v->max_batch, &f, &ferr)) {
        rp_api_reject_publish(c, req, ferr.status, ferr.message);
        goto out;
    }
    if (f.n_topics > 1 && !speaks_0x(c)) {
        rp_api_reject_publish(c, req, 400,
                              "a Mercure 1.0 update has exactly one topic (mercure_protocol 1.0)");
        goto out;
    }
    auth = authenticate(a, c, req, &m, false);
    if (auth < 0)
        goto out;
    if (auth == 0) {
        rp_stat_auth_failure(rp_conn_stats(c), RP_AUTH_MISSING);
        rp_conn_error(c, req, 401, "publishing needs a Mercure token with a mercure.publish claim",
                      CHALLENGE);
        goto out;
    }
    if (!m.has_publish) {
        forbid(c, req, "the token has no mercure.publish claim");
        goto out;
    }
    if (f.id && !supplied_id_valid(f.id, f.id_len)) {
        rp_api_reject_publish(c, req, 400,
                              "an \"id\" is 1 to 128 visible ASCII characters (no space, no "
                              "control character), so that it can come back as Last-Event-ID");
        goto out;
    }
    if (f.id) {
        /* The supplied id is the SSE id: the frame carries it after the hub's mark. */
        marked = rp_xmalloc(f.id_len + 1);
        marked[0] = RP_FRAME_SSE_ID_MARK;
        memcpy(marked + 1, f.id, f.id_len);
    }
    items = rp_xcalloc(f.n_topics, sizeof(*items));
    names = rp_xcalloc(f.n_topics, sizeof(*names));
    for (size_t i = 0; i < f.n_topics; i++) {
        if (!rp_claims_selectors_match(m.publish, m.n_publish, f.topics[i], f.topic_lens[i])) {
            snprintf(msg, sizeof(msg), "the token may not publish to \"%.300s\"", f.topics[i]);
            forbid(c, req, msg);
            goto out;
        }
        size_t len = hub_name(f.topics[i], f.topic_lens[i], f.is_private, names[i]);
        if (!len) {
            snprintf(msg, sizeof(msg), "a topic may be at most %zu bytes long", (size_t)IRI_MAX);
            rp_api_reject_publish(c, req, 400, msg);
            goto out;
        }
        items[i] = (struct rp_publish_item){
            .topic = names[i],
            .topic_len = len,
            .event = f.type,
            .event_len = f.type_len,
            .data = f.data,
            .data_len = f.data_len,
            .pub_id = marked,
            .pub_id_len = marked ? f.id_len + 1 : 0,
            .same_update = i > 0, /* written once to a stream that reads several of them */
        };
    }
    /* Not when run again (after a wait for the cluster, the update may be in this node's
     * hub by now: it is this update); a publish refuses a taken id anyway. */
    for (size_t i = 0; marked && call == RP_CONN_CALL_NEW && i < f.n_topics; i++) {
        struct rp_topic *t = rp_hub_find(a->node->hub, names[i], strlen(names[i]));
        if (t && rp_topic_find_pub_id(t, marked, f.id_len + 1)) {
            rp_api_reject_publish(c, req, 409, DUPLICATE_ID);
            goto out;
        }
    }
    publish_items(a, c, req, items, f.n_topics, call);
out:
    free(marked);
    free(items);
    free(names);
    if (auth > 0)
        rp_claims_mercure_fini(&m);
    rp_publish_form_fini(&f);
}

/* ---- subscribing ---- */

/* What a query parameter is: `topic` (0.x: `*`, an IRI, a URI template), `match` or
 * `matchExact` (1.0: `*` or an exact topic), `matchURLPattern`, another name in the
 * reserved `match` namespace, or no selector. */
enum selector {
    SELECTOR_NONE = 0,
    SELECTOR_TOPIC,
    SELECTOR_EXACT,
    SELECTOR_URLPATTERN,
    SELECTOR_UNKNOWN,
};

static enum selector
selector_of(const char *name)
{
    if (strcmp(name, "topic") == 0)
        return SELECTOR_TOPIC;
    if (strncasecmp(name, "match", 5) != 0)
        return SELECTOR_NONE;
    if (strcmp(name, "match") == 0 || strcmp(name, "matchExact") == 0)
        return SELECTOR_EXACT;
    if (strcmp(name, "matchURLPattern") == 0)
        return SELECTOR_URLPATTERN;
    return SELECTOR_UNKNOWN;
}

static bool
has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x20 || b == 0x7f)
            return true;
        /* C1 controls, U+0080..U+009F: 0xC2 0x80..0x9F in UTF-8. */
        if (b == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] <= 0x9f &&
            (unsigned char)s[i + 1] >= 0x80)
            return true;
    }
    return false;
}

struct filters {
    char **list;
    size_t n, cap;
};

/* Adds the hub topic (or pattern) <name> once; false when the stream's cap is reached. */
static bool
add_filter(struct filters *fl, const char *name)
{
    for (size_t i = 0; i < fl->n; i++)
        if (strcmp(fl->list[i], name) == 0)
            return true;
    if (fl->n == fl->cap)
        return false;
    fl->list[fl->n++] = rp_xstrdup(name);
    return true;
}

/* The filters for selector <sel>, public and (from the token's subscribe list) private. */
static bool
selector_filters(struct filters *fl, const char *sel, size_t len, const struct rp_claims_mercure *m)
{
    char name[RP_TOPIC_NAME_MAX + 1];
    bool all_private = m->has_subscribe && rp_claims_selectors_all(m->subscribe, m->n_subscribe);
    if (strcmp(sel, "*") == 0) {
        if (!add_filter(fl, PREFIX_PUBLIC "#"))
            return false;
        if (all_private)
            return add_filter(fl, PREFIX_PRIVATE "#");
        for (size_t i = 0; m->has_subscribe && i < m->n_subscribe; i++) {
            const char *c = m->subscribe[i];
            if (strchr(c, '{') || c[0] == RP_CLAIMS_URL_PATTERN_MARK)
                continue; /* a pattern: the accept filter decides (see subscribe) */
            if (hub_name(c, strlen(c), true, name) && !add_filter(fl, name))
                return false;
        }
        return true;
    }
    hub_name(sel, len, false, name);
    if (!add_filter(fl, name))
        return false;
    if (all_private ||
        (m->has_subscribe && rp_claims_selectors_match(m->subscribe, m->n_subscribe, sel, len))) {
        hub_name(sel, len, true, name);
        return add_filter(fl, name);
    }
    return true;
}

/*
 * What a stream with URI-template selectors links: it registers the patterns of every
 * public (and, with a subscribe grant, every private) Mercure topic, and this decides once
 * per hub topic, from the IRI its name encodes, whether one of the stream's selectors
 * matches it and, for a private topic, whether the token's grant covers it. Owned by the
 * stream.
 */
struct accept_ctx {
    char **exact; /* the other selectors: `*` or a topic, byte for byte */
    size_t n_exact;
    struct rp_uri_template **tpls;
    size_t n_tpls;
    struct rp_url_pattern **pats; /* matchURLPattern selectors */
    size_t n_pats;
    struct rp_claims_mercure claims; /* zeroed without a token */
    /* mercure_subscriptions: the stream's entry among the active subscriptions (NULL until
     * the stream started), and the hub its events go to. */
    struct subscription *sub;
    struct rp_hub *hub;
};

/* ---- active subscriptions ---- */

#define SUBS_PREFIX "/.well-known/mercure/subscriptions"

/*
 * One connected subscriber's subscription (mercure_subscriptions): its id, its selectors as
 * given and the token's `mercure.payload`. The list is the process's (one node), read by
 * the subscriptions API and written when a stream starts and ends, on any worker.
 */
struct subscription {
    struct subscription *prev, *next;
    char subscriber[9 + RP_UUID_STR_LEN + 1]; /* urn:uuid:<v4> */
    char **topics;
    size_t n_topics;
    char *payload; /* compact JSON, or NULL */
};

static pthread_mutex_t subs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct subscription *subs_head;

/* <s> percent-encoded (all but RFC 3986 unreserved characters) onto <out>. */
static void
pct_encode(struct rp_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
            b == '-' || b == '.' || b == '_' || b == '~') {
            rp_buf_append(out, &s[i], 1);
        } else {
            char e[3] = {'%', hex[b >> 4], hex[b & 15]};
            rp_buf_append(out, e, 3);
        }
    }
}

/* The IRI of <sub>'s subscription to selector <topic> onto <out>. */
static void
subscription_iri(struct rp_buf *out, const struct subscription *sub, const char *topic)
{
    rp_buf_append_str(out, SUBS_PREFIX "/");
    pct_encode(out, topic, strlen(topic));
    rp_buf_append_str(out, "/");
    pct_encode(out, sub->subscriber, strlen(sub->subscriber));
}

/* The JSON-LD object of <sub>'s subscription to <topic> (without a closing brace). */
static void
subscription_json(struct rp_buf *out, const struct subscription *sub, const char *topic,
                  bool active)
{
    struct rp_buf iri;
    rp_buf_init(&iri, 4096);
    subscription_iri(&iri, sub, topic);
    rp_buf_append_str(out, "{\"id\":\"");
    rp_json_escape(out, iri.data, iri.len);
    rp_buf_append_str(out, "\",\"type\":\"Subscription\",\"topic\":\"");
    rp_json_escape(out, topic, strlen(topic));
    rp_buf_append_str(out, "\",\"subscriber\":\"");
    rp_json_escape(out, sub->subscriber, strlen(sub->subscriber));
    rp_buf_printf(out, "\",\"active\":%s,\"payload\":%s", active ? "true" : "false",
                  sub->payload ? sub->payload : "null");
    rp_buf_fini(&iri);
}

/* Publishes the private update of each of <sub>'s selectors: connected or gone. A
 * subscription IRI longer than a topic may be is skipped. */
static void
subscription_events(struct rp_hub *hub, const struct subscription *sub, bool active)
{
    for (size_t i = 0; i < sub->n_topics; i++) {
        struct rp_buf iri, data;
        rp_buf_init(&iri, 4096);
        rp_buf_init(&data, 16384);
        subscription_iri(&iri, sub, sub->topics[i]);
        char name[RP_TOPIC_NAME_MAX + 1];
        size_t len = hub_name(iri.data, iri.len, true, name);
        if (len) {
            rp_buf_append_str(&data, "{\"@context\":\"https://mercure.rocks/\",");
            struct rp_buf obj;
            rp_buf_init(&obj, 16384);
            subscription_json(&obj, sub, sub->topics[i], active);
            rp_buf_append(&data, obj.data + 1, obj.len - 1); /* after its '{' */
            rp_buf_append_str(&data, "}");
            rp_buf_fini(&obj);
            struct rp_publish_item it = {
                .topic = name, .topic_len = len, .data = data.data, .data_len = data.len};
            struct rp_publish_result res;
            struct rp_hub_error err;
            (void)rp_hub_publish_system(hub, &it, 1, &res, &err); /* best effort */
        }
        rp_buf_fini(&iri);
        rp_buf_fini(&data);
    }
}

/* Registers the subscription of a started stream (selectors <fl>, the token's payload) and
 * announces it; the stream's end (accept_free) withdraws it. */
static void
subscription_start(struct accept_ctx *x, struct rp_hub *hub, const char *const *topics, size_t n,
                   const char *payload)
{
    struct subscription *sub = rp_xcalloc(1, sizeof(*sub));
    uint8_t u[16] = {0};
    if (getrandom(u, sizeof(u), GRND_NONBLOCK) != (ssize_t)sizeof(u)) {
        /* No entropy yet: unique in this process is enough for a subscriber id. */
        static _Atomic uint64_t counter;
        uint64_t a = (uint64_t)rp_clock_wall_ms(), b = ++counter;
        memcpy(u, &a, 8);
        memcpy(u + 8, &b, 8);
    }
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    char uuid[RP_UUID_STR_LEN + 1];
    rp_uuid_format(u, uuid);
    snprintf(sub->subscriber, sizeof(sub->subscriber), "urn:uuid:%s", uuid);
    sub->topics = rp_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        sub->topics[i] = rp_xstrdup(topics[i]);
    sub->n_topics = n;
    sub->payload = payload ? rp_xstrdup(payload) : NULL;
    pthread_mutex_lock(&subs_lock);
    sub->next = subs_head;
    if (subs_head)
        subs_head->prev = sub;
    subs_head = sub;
    pthread_mutex_unlock(&subs_lock);
    x->sub = sub;
    x->hub = hub;
    subscription_events(hub, sub, true);
}

static void
subscription_end(struct accept_ctx *x)
{
    struct subscription *sub = x->sub;
    pthread_mutex_lock(&subs_lock);
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        subs_head = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    pthread_mutex_unlock(&subs_lock);
    subscription_events(x->hub, sub, false);
    for (size_t i = 0; i < sub->n_topics; i++)
        free(sub->topics[i]);
    free(sub->topics);
    free(sub->payload);
    free(sub);
    x->sub = NULL;
}

static void
accept_free(void *ctx)
{
    struct accept_ctx *x = ctx;
    if (!x)
        return;
    if (x->sub)
        subscription_end(x);
    for (size_t i = 0; i < x->n_exact; i++)
        free(x->exact[i]);
    free(x->exact);
    for (size_t i = 0; i < x->n_tpls; i++)
        rp_uri_template_free(x->tpls[i]);
    free(x->tpls);
    for (size_t i = 0; i < x->n_pats; i++)
        rp_url_pattern_free(x->pats[i]);
    free(x->pats);
    rp_claims_mercure_fini(&x->claims);
    free(x);
}

static bool
accept_topic(void *ctx, const char *name, size_t len)
{
    const struct accept_ctx *x = ctx;
    bool is_private;
    if (len <= PREFIX_LEN || len > RP_TOPIC_NAME_MAX)
        return false;
    if (memcmp(name, PREFIX_PUBLIC, PREFIX_LEN) == 0)
        is_private = false;
    else if (memcmp(name, PREFIX_PRIVATE, PREFIX_LEN) == 0)
        is_private = true;
    else
        return false;
    const char *enc = name + PREFIX_LEN;
    size_t enc_len = len - PREFIX_LEN;
    if (!rp_b64url_valid(enc, enc_len))
        return false;
    char iri[RP_TOPIC_NAME_MAX];
    size_t n = rp_b64url_decode(enc, enc_len, (unsigned char *)iri);
    bool selected = false;
    for (size_t i = 0; !selected && i < x->n_exact; i++)
        selected = strcmp(x->exact[i], "*") == 0 ||
                   (strlen(x->exact[i]) == n && memcmp(x->exact[i], iri, n) == 0);
    for (size_t i = 0; !selected && i < x->n_tpls; i++)
        selected = rp_uri_template_matches(x->tpls[i], iri, n);
    for (size_t i = 0; !selected && i < x->n_pats; i++)
        selected = rp_url_pattern_matches(x->pats[i], iri, n);
    if (!selected || !is_private)
        return selected;
    return x->claims.has_subscribe &&
           rp_claims_selectors_match(x->claims.subscribe, x->claims.n_subscribe, iri, n);
}

/* How long a resume waits for its history to be read from the log engine. */
#define HISTORY_WAIT_MS 30000

/*
 * Whether a resume after <seq> must read history from the log engine first, as the own
 * API's does (api/events.c): a stream of exact topics only (patterns are left to the memory
 * window and resync), one of which no longer keeps in memory what came after <seq>, while
 * the disk log holds all of it durably. Then (<seq>, *<upto>] is what to read.
 */
struct find_supplied {
    const char *marked;
    size_t len;
    uint64_t seq;
};

static void
find_supplied_in(void *ctx, struct rp_topic *t)
{
    struct find_supplied *fs = ctx;
    uint64_t seq = rp_topic_find_pub_id(t, fs->marked, fs->len);
    if (seq > fs->seq)
        fs->seq = seq;
}

/* The hub position of the update a publisher gave the id <last>, among the topics the
 * stream reads (the newest such event their memory windows keep), or 0. */
static uint64_t
supplied_id_seq(struct rp_hub *hub, const struct filters *fl, const char *last)
{
    size_t len = strlen(last);
    if (!supplied_id_valid(last, len))
        return 0;
    char marked[129];
    marked[0] = RP_FRAME_SSE_ID_MARK;
    memcpy(marked + 1, last, len);
    struct find_supplied fs = {marked, len + 1, 0};
    for (size_t i = 0; i < fl->n; i++) {
        size_t n = strlen(fl->list[i]);
        if (rp_pattern_has_wildcard(fl->list[i], n)) {
            rp_hub_foreach_topic(hub, fl->list[i], n, find_supplied_in, &fs);
        } else {
            struct rp_topic *t = rp_hub_find(hub, fl->list[i], n);
            if (t)
                find_supplied_in(&fs, t);
        }
    }
    return fs.seq;
}

static bool
history_needed(struct rp_api *a, const struct filters *fl, uint64_t seq, uint64_t *upto)
{
    struct rp_hub *hub = a->node->hub;
    struct rp_logengine *engine = rp_hub_engine(hub);
    if (!a->node->history || !engine || seq >= rp_hub_last_seq(hub) || rp_hub_lost_seq(hub) > seq)
        return false;
    uint64_t need = 0;
    for (size_t i = 0; i < fl->n; i++) {
        size_t len = strlen(fl->list[i]);
        if (rp_pattern_has_wildcard(fl->list[i], len))
            return false;
        struct rp_topic *t = rp_hub_find(hub, fl->list[i], len);
        if (!t)
            continue;
        struct rp_topic_lag lag;
        rp_topic_lag(t, seq, &lag);
        if (lag.gap && lag.evicted_seq > need)
            need = lag.evicted_seq;
    }
    if (!need)
        return false;
    struct rp_logengine_info info;
    rp_logengine_info(engine, &info);
    if (info.first_seq == 0 || info.first_seq > seq + 1 || need > info.durable_seq)
        return false;
    *upto = need;
    return true;
}

static void
subscribe(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req)
{
    const struct rp_config_values *v = rp_conn_config(c);
    struct rp_claims_mercure m;
    struct filters fl = {rp_xcalloc((size_t)v->max_stream_topics + 1, sizeof(char *)), 0,
                         (size_t)v->max_stream_topics};
    char msg[400];
    int auth = 0;
    size_t n_selectors = 0;
    struct accept_ctx *x = NULL; /* with pattern selectors or pattern grants only */
    bool reads_all = false;      /* a `*` selector */
    for (size_t i = 0; i < a->query->n_params; i++) {
        const struct rp_query_param *p = &a->query->params[i];
        enum selector kind = selector_of(p->name);
        if (kind == SELECTOR_NONE)
            continue;
        const char *bad = NULL;
        struct rp_uri_template *tpl = NULL;
        if (kind == SELECTOR_TOPIC && !speaks_0x(c))
            bad = "this hub speaks Mercure 1.0 only (mercure_protocol): select with match";
        else if (kind != SELECTOR_TOPIC && !speaks_1x(c))
            bad = "this hub speaks Mercure 0.x only (mercure_protocol): select with topic";
        else if (kind == SELECTOR_UNKNOWN)
            bad = "unknown matcher type (match, matchExact or topic)";
        else if (has_control(p->value, p->value_len))
            bad = "a topic selector must not contain control characters";
        else if (kind == SELECTOR_URLPATTERN) {
            struct rp_url_pattern *pat = NULL;
            if (rp_url_pattern_compile(p->value, p->value_len, &pat, &bad) == 0) {
                if (!x)
                    x = rp_xcalloc(1, sizeof(*x));
                x->pats = rp_xrealloc(x->pats, (x->n_pats + 1) * sizeof(*x->pats));
                x->pats[x->n_pats++] = pat;
            }
        } else if (kind == SELECTOR_TOPIC && rp_uri_template_is_template(p->value, p->value_len)) {
            if (rp_uri_template_compile(p->value, p->value_len, &tpl, &bad) == 0) {
                if (!x)
                    x = rp_xcalloc(1, sizeof(*x));
                x->tpls = rp_xrealloc(x->tpls, (x->n_tpls + 1) * sizeof(*x->tpls));
                x->tpls[x->n_tpls++] = tpl;
            }
        } else if (p->value_len == 0 || p->value_len > IRI_MAX)
            bad = "a topic selector must be 1 to " STR(IRI_MAX_DOC) " bytes long";
        reads_all |= kind != SELECTOR_URLPATTERN && strcmp(p->value, "*") == 0;
        if (bad) {
            snprintf(msg, sizeof(msg), "%s: %.32s=\"%.200s\"", bad, p->name, p->value);
            rp_conn_error(c, req, 400, msg, NULL);
            goto out;
        }
        n_selectors++;
    }
    if (n_selectors == 0) {
        rp_conn_error(c, req, 400,
                      "missing \"topic\" or \"match\" parameter: name at least one selector", NULL);
        goto out;
    }
    auth = authenticate(a, c, req, &m, true);
    if (auth < 0)
        goto out;
    if (auth == 0 && !v->mercure_anonymous) {
        rp_stat_auth_failure(rp_conn_stats(c), RP_AUTH_MISSING);
        rp_conn_error(c, req, 401,
                      "subscribing needs a Mercure token (this hub does not allow anonymous "
                      "subscribers: mercure_anonymous = false)",
                      CHALLENGE);
        goto out;
    }
    /* Active subscriptions: the stream's end is told by its accept context's release. */
    if (!x && v->mercure_subscriptions)
        x = rp_xcalloc(1, sizeof(*x));
    /* `*` with a subscribe grant of patterns (URI templates, URL patterns): which private
     * topics it may read is decided per topic, by the accept filter. */
    for (size_t i = 0; reads_all && !x && auth > 0 && i < m.n_subscribe; i++)
        if (strchr(m.subscribe[i], '{') || m.subscribe[i][0] == RP_CLAIMS_URL_PATTERN_MARK)
            x = rp_xcalloc(1, sizeof(*x));
    bool too_many = false;
    for (size_t i = 0; i < a->query->n_params && !too_many; i++) {
        const struct rp_query_param *p = &a->query->params[i];
        enum selector kind = selector_of(p->name);
        if (kind == SELECTOR_NONE || kind == SELECTOR_URLPATTERN)
            continue; /* the patterns below and the accept filter */
        if (kind == SELECTOR_TOPIC && rp_uri_template_is_template(p->value, p->value_len))
            continue; /* the patterns below and the accept filter */
        too_many = !selector_filters(&fl, p->value, p->value_len, &m);
        if (x) {
            x->exact = rp_xrealloc(x->exact, (x->n_exact + 1) * sizeof(*x->exact));
            x->exact[x->n_exact++] = rp_xstrdup(p->value);
        }
    }
    if (x && !too_many) {
        too_many = !add_filter(&fl, PREFIX_PUBLIC "#");
        if (auth > 0 && m.n_subscribe && !too_many)
            too_many = !add_filter(&fl, PREFIX_PRIVATE "#");
    }
    if (too_many) {
        snprintf(msg, sizeof(msg), "a subscription may read at most %zu topics (max_stream_topics)",
                 fl.cap);
        rp_conn_error(c, req, 400, msg, NULL);
        goto out;
    }
    if (req->method == RP_HTTP_METHOD_HEAD) {
        rp_conn_respond(c, req, 200, "text/event-stream; charset=utf-8",
                        "Cache-Control: no-store\r\n", "", 0);
        goto out;
    }
    if (!rp_guard_stream(a->node->guard, c, req))
        goto out;
    /* The header wins: a browser sends it on reconnect, with a newer id than the URL. Then
     * 0.x's lastEventID, then 1.0's last_event_id. */
    const char *last = rp_http_request_header(req, "Last-Event-ID");
    if ((!last || !*last) && speaks_0x(c))
        last = rp_query_get(a->query, "lastEventID");
    if ((!last || !*last) && speaks_1x(c))
        last = rp_query_get(a->query, "last_event_id");
    if (last && !*last)
        last = NULL;
    struct rp_conn_stream_opts opts = {.untagged = true};
    bool had_token = auth > 0;
    int64_t expires_ms = had_token ? m.expires_ms : 0;
    if (x) {
        if (auth > 0) {
            x->claims = m; /* the stream owns the grant from here on */
            auth = 0;
        }
        opts.accept = accept_topic;
        opts.accept_ctx = x;
        opts.accept_free = accept_free;
        x = NULL;
    }
    /* A resume answers where it starts (both versions' header names): the id asked for when
     * this hub can resume right after it, else `earliest`, everything the logs keep (an id of
     * another epoch, from another hub, or none this hub gave). */
    char hdr[256 + 2 * RP_EVENT_VECTOR_MAX];
    char id[RP_EVENT_VECTOR_MAX + 1] = "earliest";
    size_t id_len = 0;
    bool mesh = rp_hub_vector_ids(a->node->hub);
    if (last) {
        struct rp_hub *hub = a->node->hub;
        struct rp_event_id eid;
        struct rp_event_vector vec;
        uint64_t supplied = 0;
        if (mesh && strcmp(last, "earliest") != 0 &&
            rp_event_vector_parse(last, strlen(last), &vec) == 0)
            /* A mesh id: the stream resumes from it on any node, per origin. */
            id_len = (size_t)snprintf(id, sizeof(id), "%s", last);
        else if (strcmp(last, "earliest") != 0 &&
                 rp_event_id_parse(last, strlen(last), &eid) == 0 &&
                 eid.epoch == rp_hub_epoch(hub) && eid.seq <= rp_hub_last_seq(hub))
            id_len = rp_hub_format_id(hub, eid.seq, id);
        else if (strcmp(last, "earliest") != 0 && (supplied = supplied_id_seq(hub, &fl, last)))
            id_len = rp_hub_format_id(hub, supplied, id);
        else
            opts.from_start = true;
        /* The header answers the id asked for: a supplied id as the publisher gave it. */
        const char *answer = supplied ? last : id;
        /* A cross-origin fetch-based client may read them (EventSource cannot anyway). */
        const char *origin = rp_http_request_header(req, "Origin");
        bool expose = origin && rp_cors_allowed(rp_conn_cors(c), origin);
        snprintf(hdr, sizeof(hdr), "%s%s%s%s%s%s%s", speaks_0x(c) ? "Last-Event-ID: " : "",
                 speaks_0x(c) ? answer : "", speaks_0x(c) ? "\r\n" : "",
                 speaks_1x(c) ? "Mercure-Last-Event-ID: " : "", speaks_1x(c) ? answer : "",
                 speaks_1x(c) ? "\r\n" : "",
                 expose ? "Access-Control-Expose-Headers: Last-Event-ID, Mercure-Last-Event-ID\r\n"
                        : "");
        opts.extra_headers = hdr;
    }
    /* A resume older than the memory window reads the disk log first (RP_WAIT_HISTORY);
     * re-run once the read is done, the stream starts with its frames in front and goes on
     * after what it covered. */
    struct rp_buf *replay = NULL;
    if (c->pending) {
        uint64_t covered;
        if (!rp_history_done(c->pending, &replay, &covered)) {
            accept_free(opts.accept_ctx);
            rp_conn_wait(c, RP_WAIT_HISTORY, 0); /* keeps its first deadline */
            goto out;
        }
        id_len = rp_hub_format_id(a->node->hub, covered, id);
    } else if (id_len && !mesh) { /* a mesh node's disk log lacks what peers sent it */
        struct rp_event_id eid;
        uint64_t upto;
        rp_event_id_parse(id, id_len, &eid);
        if (history_needed(a, &fl, eid.seq, &upto)) {
            accept_free(opts.accept_ctx);
            c->pending = rp_history_start(a->node->history, (const char *const *)fl.list, fl.n,
                                          eid.seq, upto, false);
            c->pending_free = rp_history_release;
            rp_conn_wait(c, RP_WAIT_HISTORY, rp_clock_now_ms() + HISTORY_WAIT_MS);
            goto out;
        }
    }
    struct accept_ctx *owned = opts.accept_ctx;
    bool started = rp_conn_start_stream_opts(
        c, req, (const char *const *)fl.list, fl.n, id_len ? id : NULL, id_len,
        replay ? replay->data : NULL, replay ? replay->len : 0, &opts);
    if (started && owned && v->mercure_subscriptions) {
        /* The stream owns <owned> until the end of this loop turn at least. */
        const char **sel = rp_xcalloc(a->query->n_params + 1, sizeof(char *));
        size_t n_sel = 0;
        for (size_t i = 0; i < a->query->n_params; i++)
            if (selector_of(a->query->params[i].name) != SELECTOR_NONE)
                sel[n_sel++] = a->query->params[i].value;
        subscription_start(owned, a->node->hub, sel, n_sel, owned->claims.payload);
        free((void *)sel);
    }
    if (c->pending) {
        rp_history_release(c->pending);
        c->pending = NULL;
    }
    if (started && had_token)
        rp_conn_schedule_expiry(c, expires_ms);
out:
    accept_free(x);
    if (auth > 0)
        rp_claims_mercure_fini(&m);
    for (size_t i = 0; i < fl.n; i++)
        free(fl.list[i]);
    free(fl.list);
}

void
rp_api_mercure_metadata(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req)
{
    (void)a;
    const struct rp_config_values *v = rp_conn_config(c);
    if (!v->mercure) {
        rp_conn_error(c, req, 404, "the Mercure hub is off here (mercure = false)", NULL);
        return;
    }
    /* RFC 9728: the resource, how a token may be presented (the cookie is Mercure's own
     * method), and the algorithms tokens are checked with. */
    json_t *doc = json_object();
    const char *host = rp_http_request_header(req, "Host");
    char derived[512];
    const char *resource = v->mercure_resource;
    if (!resource || !*resource) {
        snprintf(derived, sizeof(derived), "http://%.400s/.well-known/mercure", host ? host : "");
        resource = derived;
    }
    json_object_set_new(doc, "resource", json_string(resource));
    json_t *methods = json_array();
    json_array_append_new(methods, json_string("header"));
    if (speaks_1x(c))
        json_array_append_new(methods, json_string("query"));
    json_object_set_new(doc, "bearer_methods_supported", methods);
    json_object_set_new(doc, "mercure_cookie_supported", json_true());
    json_t *algs = json_array();
    json_array_append_new(algs, json_string("HS256"));
    json_array_append_new(algs, json_string("ES256"));
    json_array_append_new(algs, json_string("RS256"));
    json_array_append_new(algs, json_string("EdDSA"));
    json_object_set_new(doc, "resource_signing_alg_values_supported", algs);
    if (v->mercure_issuers.n) {
        json_t *servers = json_array();
        for (size_t i = 0; i < v->mercure_issuers.n; i++)
            json_array_append_new(servers, json_string(v->mercure_issuers.items[i]));
        json_object_set_new(doc, "authorization_servers", servers);
    }
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    rp_conn_respond(c, req, 200, "application/json", "Cache-Control: max-age=300\r\n", text,
                    strlen(text));
    free(text);
}

void
rp_api_mercure(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
               enum rp_conn_call call)
{
    if (!rp_conn_config(c)->mercure) {
        rp_conn_error(c, req, 404, "the Mercure hub is off here (mercure = false)", NULL);
        return;
    }
    if (req->method == RP_HTTP_METHOD_POST)
        publish(a, c, req, call);
    else
        subscribe(a, c, req);
}

/* One path segment of the subscriptions API, percent-decoded into <out> (cap bytes). */
static bool
path_segment(const char *s, size_t n, char *out, size_t cap)
{
    if (n == 0 || n >= cap)
        return false;
    long len = rp_query_pct_decode(s, n, out, false);
    if (len <= 0 || memchr(out, '\0', (size_t)len))
        return false;
    out[len] = '\0';
    return true;
}

void
rp_api_mercure_subscriptions(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                             const char *rest)
{
    const struct rp_config_values *v = rp_conn_config(c);
    if (!v->mercure || !v->mercure_subscriptions) {
        rp_conn_error(c, req, 404,
                      "active subscriptions are off here (mercure = true and "
                      "mercure_subscriptions = true turn them on)",
                      NULL);
        return;
    }
    /* "", or "<topic>" or "<topic>/<subscriber>", percent-encoded: read from the raw
     * target, since the routed path is already decoded (a topic IRI holds slashes). */
    char raw[2048] = "";
    if (*rest) {
        size_t plen = strlen(SUBS_PREFIX "/");
        const char *t = req->target;
        size_t tn = strcspn(t, "?#");
        if (tn <= plen || tn - plen >= sizeof(raw) || strncmp(t, SUBS_PREFIX "/", plen) != 0) {
            rp_conn_error(c, req, 404, "no such subscriptions resource", NULL);
            return;
        }
        memcpy(raw, t + plen, tn - plen);
        raw[tn - plen] = '\0';
    }
    rest = raw;
    char topic[1024], subscriber[1024];
    bool by_topic = false, by_subscriber = false;
    if (*rest) {
        const char *slash = strchr(rest, '/');
        size_t tn = slash ? (size_t)(slash - rest) : strlen(rest);
        by_topic = path_segment(rest, tn, topic, sizeof(topic));
        by_subscriber =
            slash && path_segment(slash + 1, strlen(slash + 1), subscriber, sizeof(subscriber));
        if (!by_topic || (slash && !by_subscriber) || (slash && strchr(slash + 1, '/'))) {
            rp_conn_error(c, req, 404,
                          "no such subscriptions resource: " SUBS_PREFIX
                          "[/<topic>[/<subscriber>]], each percent-encoded",
                          NULL);
            return;
        }
    }
    struct rp_claims_mercure m;
    int auth = authenticate(a, c, req, &m, true);
    if (auth < 0)
        return;
    if (auth == 0) {
        rp_stat_auth_failure(rp_conn_stats(c), RP_AUTH_MISSING);
        rp_conn_error(c, req, 401, "the subscriptions API needs a Mercure token", CHALLENGE);
        return;
    }
    /* The newest id first: a subscription that starts or ends after it is announced after
     * it, so a client reading the list then the updates from there misses no change. */
    struct rp_hub *hub = a->node->hub;
    uint64_t newest = rp_hub_last_seq(hub);
    struct rp_buf list, iri;
    rp_buf_init(&list, 1u << 24);
    rp_buf_init(&iri, 4096);
    size_t found = 0;
    pthread_mutex_lock(&subs_lock);
    for (const struct subscription *sub = subs_head; sub; sub = sub->next) {
        if (by_subscriber && strcmp(sub->subscriber, subscriber) != 0)
            continue;
        for (size_t i = 0; i < sub->n_topics; i++) {
            if (by_topic && strcmp(sub->topics[i], topic) != 0)
                continue;
            /* Listed only when the token may receive that subscription's updates. */
            iri.len = 0;
            subscription_iri(&iri, sub, sub->topics[i]);
            if (!m.has_subscribe ||
                !rp_claims_selectors_match(m.subscribe, m.n_subscribe, iri.data, iri.len))
                continue;
            if (found++)
                rp_buf_append_str(&list, ",");
            subscription_json(&list, sub, sub->topics[i], true);
            rp_buf_append_str(&list, "}");
            if (by_subscriber)
                break; /* one resource (a selector given twice is one subscription) */
        }
        if (by_subscriber && found)
            break;
    }
    pthread_mutex_unlock(&subs_lock);
    rp_buf_fini(&iri);
    char last[RP_EVENT_ID_MAX + 1] = "earliest";
    if (newest)
        rp_hub_format_id(hub, newest, last);
    struct rp_buf out;
    rp_buf_init(&out, (1u << 24) + 4096);
    rp_buf_append_str(&out, "{\"@context\":\"https://mercure.rocks/\",");
    if (by_subscriber) {
        if (found == 0) {
            rp_conn_error(c, req, 404, "no such active subscription (or the token may not see it)",
                          NULL);
            goto out;
        }
        rp_buf_append(&out, list.data + 1, list.len - 2); /* the object's members */
    } else {
        rp_buf_append_str(&out, "\"id\":\"" SUBS_PREFIX);
        if (*rest) {
            rp_buf_append_str(&out, "/");
            rp_json_escape(&out, rest, strlen(rest));
        }
        rp_buf_append_str(&out, "\",\"type\":\"Subscriptions\",\"subscriptions\":[");
        rp_buf_append(&out, list.data, list.len);
        rp_buf_append_str(&out, "]");
    }
    rp_buf_printf(&out, ",\"lastEventID\":\"%s\"}", last);
    rp_conn_respond(c, req, 200, "application/ld+json", "Cache-Control: no-store\r\n", out.data,
                    out.len);
out:
    rp_buf_fini(&out);
    rp_buf_fini(&list);
    rp_claims_mercure_fini(&m);
}
