/* SPDX-License-Identifier: MIT */
#include "client/upstream.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/backoff.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/list.h"
#include "base/log.h"
#include "client/http_client.h"
#include "core/hub.h"
#include "core/topic_name.h"
#include "loop/wakeup.h"
#include "sse/sse_frame.h"
#include "sse/sse_parser.h"

#define MAX_HEADERS 40
#define EACH(pos, head) for (struct rp_list *pos = (head)->next; pos != (head); pos = pos->next)
#define PUB_ID_MAX 128       /* the hub's limit of a publisher id */
#define HELD_RETRY_MS 5      /* a publish the hub held back (block, engine busy) */
#define STABLE_MS 30000      /* streaming this long (or one event) resets the backoff */
#define RECOVER_LOOKBACK 256 /* newest events searched for the upstream id at start */
#define RETRY_FLOOR_MS 100   /* the shortest reconnect delay an upstream's retry: sets */
#define FRESH_GRACE_MS 2000  /* an upstream opened for a reader that has not attached yet */

struct up;
/* What the parser and the HTTP call call back with: stable for the upstream's life. */
struct feed_ctx {
    struct rp_upstream_pool *pool;
    struct up *u;
};

/* One upstream URL. Owned by the pool; created by rp_upstream_open (any thread, under the
 * pool lock) and freed only by its shard's thread, under the pool lock. Fields below
 * `owner` are touched only on the shard's thread; those above are fixed after creation or
 * atomic; <last_error> and <last_id_copy> are written under the pool lock. */
struct up {
    struct rp_list node; /* in pool->ups */
    const struct rp_upstream_def *def;
    char *topic;
    size_t topic_len;
    char *url;
    char *auth_header; /* "Authorization: ..." with forward_auth, else NULL */
    unsigned shard;
    atomic_bool always;
    _Atomic int state;
    atomic_uint_fast64_t reconnects, events_in, events_refused, bytes_in;
    _Atomic int64_t last_event_ms;
    char last_error[160];
    char last_id_copy[PUB_ID_MAX + 1];
    /* owner */
    struct feed_ctx fctx;
    struct rp_http_call *call;
    struct rp_sse_parser *parser;
    struct rp_backoff backoff;
    int64_t due_ms;             /* backoff: when to connect again */
    int64_t unwanted_ms;        /* when it was last found unwanted (0: wanted) */
    int64_t streaming_ms;       /* when streaming began */
    uint64_t connects;          /* connections started */
    uint64_t events_at_connect; /* events_in when the current connection started */
    bool recovered;             /* the last upstream id was looked up in the hub's log */
    bool stop_reason_set;       /* a reason for leaving streaming was recorded already */
    bool held;                  /* a publish was held back: <held_ev> waits, the call is paused */
    bool saw_origin;            /* the upstream sent origin-id fields: it is a RevenProx */
    struct rp_buf held_rest;    /* bytes of the chunk after the held event */
    char *held_type, *held_data, *held_id;
    size_t held_type_len, held_data_len, held_id_len;
};

struct rp_upstream_shard {
    struct rp_upstream_pool *pool;
    unsigned id;
    struct rp_loop *loop;
    struct rp_http_client *client;
    struct rp_wakeup wake;
};

struct rp_upstream_pool {
    struct rp_upstream_config config;
    struct rp_upstream_def *defs;
    struct rp_hub *hub;
    unsigned n_shards;
    pthread_mutex_t lock;
    struct rp_list ups;
    size_t n_ups;
    struct rp_upstream_shard **shards; /* attached shards, NULL until attached */
    atomic_bool *kicked;               /* per shard: interest changed, look again */
    /* Counters of upstreams already closed (under <lock>), so the metrics never go back. */
    uint64_t closed_reconnects, closed_events, closed_refused, closed_bytes;
};

const char *
rp_upstream_state_name(enum rp_upstream_state s)
{
    static const char *const names[] = {"idle", "connecting", "streaming", "backoff", "failed"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

/* ---- definitions ---- */

static char **
copy_strs(const char *const *src, size_t n)
{
    char **out = rp_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out[i] = rp_xstrdup(src[i]);
    return out;
}

static void
free_strs(const char *const *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free((void *)(uintptr_t)v[i]);
    free((void *)(uintptr_t)v);
}

static bool
header_line_ok(const char *h)
{
    const char *colon = strchr(h, ':');
    return colon && colon != h && !strpbrk(h, "\r\n");
}

static int
check_def(const struct rp_upstream_def *d, char *err)
{
    if (!d->name || rp_topic_name_check(d->name, strlen(d->name)) || strchr(d->name, '/') ||
        rp_topic_name_is_system(d->name, strlen(d->name))) {
        snprintf(err, 160, "upstream name '%.40s' must be one topic segment (a-z A-Z 0-9 - _ .)",
                 d->name ? d->name : "");
        return -1;
    }
    if (!d->base_url ||
        (strncmp(d->base_url, "http://", 7) && strncmp(d->base_url, "https://", 8))) {
        snprintf(err, 160, "upstream %.40s: the URL must start with http:// or https://", d->name);
        return -1;
    }
    for (size_t i = 0; i < d->n_headers; i++)
        if (!header_line_ok(d->headers[i])) {
            snprintf(err, 160, "upstream %.40s: header '%.40s' is not 'Name: value'", d->name,
                     d->headers[i]);
            return -1;
        }
    return 0;
}

static int refuse(struct rp_upstream_refusal *why, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
refuse(struct rp_upstream_refusal *why, int status, const char *fmt, ...)
{
    why->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->message, sizeof(why->message), fmt, ap);
    va_end(ap);
    return -1;
}

static int open_up(struct rp_upstream_pool *pool, const char *name, size_t name_len,
                   const char *path, size_t path_len, const char *authorization, char *topic,
                   bool *by_type, struct rp_upstream_refusal *why, bool always);

struct rp_upstream_pool *
rp_upstream_pool_new(const struct rp_upstream_config *config, struct rp_hub *hub, unsigned n_shards,
                     char *err)
{
    RP_ASSERT(n_shards > 0);
    for (size_t i = 0; i < config->n_defs; i++) {
        if (check_def(&config->defs[i], err))
            return NULL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(config->defs[i].name, config->defs[j].name) == 0) {
                snprintf(err, 160, "upstream %.40s is defined twice", config->defs[i].name);
                return NULL;
            }
    }
    struct rp_upstream_pool *pool = rp_xcalloc(1, sizeof(*pool));
    pool->config = *config;
    pool->hub = hub;
    pool->n_shards = n_shards;
    pool->defs = rp_xcalloc(config->n_defs + 1, sizeof(*pool->defs));
    for (size_t i = 0; i < config->n_defs; i++) {
        const struct rp_upstream_def *d = &config->defs[i];
        struct rp_upstream_def *c = &pool->defs[i];
        *c = *d;
        c->name = rp_xstrdup(d->name);
        size_t ul = strlen(d->base_url);
        while (ul > 0 && d->base_url[ul - 1] == '/')
            ul--;
        char *u = rp_xmalloc(ul + 1);
        memcpy(u, d->base_url, ul);
        u[ul] = '\0';
        c->base_url = u;
        c->headers = (const char *const *)copy_strs(d->headers, d->n_headers);
        c->always = (const char *const *)copy_strs(d->always, d->n_always);
    }
    pool->config.defs = pool->defs;
    pthread_mutex_init(&pool->lock, NULL);
    rp_list_init(&pool->ups);
    pool->shards = rp_xcalloc(n_shards, sizeof(*pool->shards));
    pool->kicked = rp_xcalloc(n_shards, sizeof(*pool->kicked));
    for (unsigned i = 0; i < n_shards; i++)
        atomic_init(&pool->kicked[i], false);
    /* `always` feeds exist from the start; their shards connect them once attached. */
    for (size_t i = 0; i < config->n_defs; i++) {
        const struct rp_upstream_def *d = &pool->defs[i];
        for (size_t j = 0; j < d->n_always; j++) {
            char topic[RP_TOPIC_NAME_MAX + 1];
            bool by_type;
            struct rp_upstream_refusal why;
            if (d->forward_auth ||
                open_up(pool, d->name, strlen(d->name), d->always[j], strlen(d->always[j]), NULL,
                        topic, &by_type, &why, true) != 0) {
                if (d->forward_auth)
                    snprintf(why.message, sizeof(why.message),
                             "cannot be always: it forwards each client's credentials");
                char msg[sizeof(why.message)];
                memcpy(msg, why.message, sizeof(msg));
                refuse(&why, 0, "upstream %s: always path '%s': %s", d->name, d->always[j], msg);
                memcpy(err, why.message, 159);
                err[159] = '\0';
                rp_upstream_pool_free(pool);
                return NULL;
            }
        }
    }
    return pool;
}

bool
rp_upstream_pool_enabled(const struct rp_upstream_pool *pool)
{
    return pool && pool->config.n_defs > 0;
}

/* A held event that will not be published after all (the transfer ended or stopped): the
 * next connection resumes from the last event published, so the upstream sends it again. */
static void
held_abandon(struct up *u)
{
    if (u->held && u->parser)
        rp_sse_parser_set_last_id(u->parser, u->last_id_copy, strlen(u->last_id_copy));
}

static void
held_clear(struct up *u)
{
    RP_FREE(u->held_type);
    RP_FREE(u->held_data);
    RP_FREE(u->held_id);
    u->held = false;
    rp_buf_fini(&u->held_rest);
}

static void
up_free(struct up *u)
{
    rp_http_call_cancel(u->call);
    rp_sse_parser_free(u->parser);
    held_clear(u);
    free(u->topic);
    free(u->url);
    free(u->auth_header);
    free(u);
}

void
rp_upstream_pool_free(struct rp_upstream_pool *pool)
{
    if (!pool)
        return;
    while (!rp_list_empty(&pool->ups)) {
        struct up *u = RP_CONTAINER_OF(pool->ups.next, struct up, node);
        rp_list_remove(&u->node);
        up_free(u);
    }
    for (size_t i = 0; i < pool->config.n_defs; i++) {
        struct rp_upstream_def *d = &pool->defs[i];
        free((void *)(uintptr_t)d->name);
        free((void *)(uintptr_t)d->base_url);
        free_strs(d->headers, d->n_headers);
        free_strs(d->always, d->n_always);
    }
    free(pool->defs);
    free(pool->shards);
    free(pool->kicked);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

/* ---- finding an upstream ---- */

static void
kick(struct rp_upstream_pool *pool, unsigned shard)
{
    atomic_store(&pool->kicked[shard], true);
    struct rp_upstream_shard *s = pool->shards[shard];
    if (s)
        rp_wakeup_signal(&s->wake);
}

/* Under the pool lock. */
static struct up *
find_topic(struct rp_upstream_pool *pool, const char *name, size_t len)
{
    EACH(n, &pool->ups)
    {
        struct up *u = RP_CONTAINER_OF(n, struct up, node);
        if (u->topic_len == len && memcmp(u->topic, name, len) == 0)
            return u;
    }
    return NULL;
}

static const struct rp_upstream_def *find_def(struct rp_upstream_pool *pool, const char *name,
                                              size_t len);

void
rp_upstream_interest(void *ctx, struct rp_topic *t, bool on)
{
    /* The shard reads the topics again: transitions may arrive out of order. */
    struct rp_upstream_pool *pool = ctx;
    if (!pool || pool->config.n_defs == 0)
        return;
    size_t len;
    const char *name = rp_topic_name(t, &len);
    pthread_mutex_lock(&pool->lock);
    struct up *u = find_topic(pool, name, len);
    if (!u) {
        /* A typed topic <topic>/<type> of a by_type upstream. */
        const char *slash = memrchr(name, '/', len);
        if (slash) {
            u = find_topic(pool, name, (size_t)(slash - name));
            if (u && !u->def->by_type)
                u = NULL;
        }
    }
    if (u)
        kick(pool, u->shard);
    pthread_mutex_unlock(&pool->lock);
    if (u || !on)
        return;
    /*
     * A reader of an upstream's topic that no upstream feeds yet: one that came by
     * /events, or a stream an upgrade handed over. The topic names the upstream URL, except
     * with by_type (a typed topic is ambiguous) or forward_auth (no credential here).
     */
    const char *slash = memchr(name, '/', len);
    size_t name_len = slash ? (size_t)(slash - name) : len;
    const struct rp_upstream_def *d = find_def(pool, name, name_len);
    if (!d || d->by_type || d->forward_auth)
        return;
    char topic[RP_TOPIC_NAME_MAX + 1];
    bool by_type;
    struct rp_upstream_refusal why;
    const char *path = slash ? slash + 1 : "";
    size_t path_len = slash ? len - name_len - 1 : 0;
    open_up(pool, name, name_len, path, path_len, NULL, topic, &by_type, &why, false);
}

static uint32_t
hash_str(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a: spreads topics over shards, no more */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static const struct rp_upstream_def *
find_def(struct rp_upstream_pool *pool, const char *name, size_t len)
{
    for (size_t i = 0; i < pool->config.n_defs; i++) {
        const struct rp_upstream_def *d = &pool->defs[i];
        if (strlen(d->name) == len && memcmp(d->name, name, len) == 0)
            return d;
    }
    return NULL;
}

static int
open_up(struct rp_upstream_pool *pool, const char *name, size_t name_len, const char *path,
        size_t path_len, const char *authorization, char *topic, bool *by_type,
        struct rp_upstream_refusal *why, bool always)
{
    char nm[64];
    snprintf(nm, sizeof(nm), "%.*s", (int)(name_len < 60 ? name_len : 60), name);
    const struct rp_upstream_def *d = pool ? find_def(pool, name, name_len) : NULL;
    if (!d)
        return refuse(why, 404, "no upstream is named \"%s\" (see GET /upstreams)", nm);
    /* The topic: <name>[/<path>][/_a<SHA-256 of the credential, 128 bits>]: a hash that nobody
     * can match with another credential, though the topic's name is public (GET /topics). */
    char hashseg[40] = "";
    if (d->forward_auth) {
        if (!authorization || !*authorization)
            return refuse(why, 401,
                          "upstream %s forwards the client's credentials: send an "
                          "Authorization header",
                          nm);
        unsigned char md[SHA256_DIGEST_LENGTH];
        SHA256((const unsigned char *)authorization, strlen(authorization), md);
        memcpy(hashseg, "/_a", 3);
        for (int i = 0; i < 16; i++)
            snprintf(hashseg + 3 + 2 * i, 3, "%02x", md[i]);
    }
    int n = snprintf(topic, RP_TOPIC_NAME_MAX + 1, "%s%s%.*s%s", d->name, path_len ? "/" : "",
                     (int)path_len, path, hashseg);
    if (n < 0 || n > RP_TOPIC_NAME_MAX - (d->by_type ? 32 : 0))
        return refuse(why, 400, "the upstream path of %s is too long for a topic name", nm);
    const char *bad = rp_topic_name_check(topic, (size_t)n);
    if (bad)
        return refuse(why, 400, "invalid upstream path: %s", bad);
    *by_type = d->by_type;
    pthread_mutex_lock(&pool->lock);
    struct up *u = find_topic(pool, topic, (size_t)n);
    int rc = 0;
    if (u && u->auth_header && strcmp(u->auth_header + strlen("Authorization: "), authorization)) {
        rc = refuse(why, 409, "upstream %s: another credential has this topic", nm);
        goto out;
    }
    if (u) {
        if (always)
            atomic_store(&u->always, true);
        if (atomic_load(&u->state) == RP_UPSTREAM_STATE_FAILED) {
            rc = refuse(why, 502, "upstream %s failed: %s", nm, u->last_error);
        }
        goto out;
    }
    if (pool->n_ups >= pool->config.max_upstreams) {
        rc = refuse(why, 503, "too many upstream URLs are open (upstream_max); %s is not", nm);
        goto out;
    }
    u = rp_xcalloc(1, sizeof(*u));
    u->def = d;
    u->topic = rp_xstrdup(topic);
    u->topic_len = (size_t)n;
    size_t ul = strlen(d->base_url) + 1 + path_len + 1;
    u->url = rp_xmalloc(ul);
    snprintf(u->url, ul, "%s%s%.*s", d->base_url, path_len ? "/" : "", (int)path_len, path);
    if (d->forward_auth) {
        size_t al = strlen(authorization) + 32;
        u->auth_header = rp_xmalloc(al);
        snprintf(u->auth_header, al, "Authorization: %s", authorization);
        if (strpbrk(authorization, "\r\n")) {
            up_free(u);
            rc = refuse(why, 400, "invalid Authorization header for %s", nm);
            goto out;
        }
    }
    u->shard = hash_str(topic, (size_t)n) % pool->n_shards;
    atomic_init(&u->always, always);
    atomic_init(&u->state, RP_UPSTREAM_STATE_IDLE);
    rp_backoff_init(&u->backoff, pool->config.retry_min_ms, pool->config.retry_max_ms);
    rp_list_insert_tail(&pool->ups, &u->node);
    pool->n_ups++;
    kick(pool, u->shard);
out:
    pthread_mutex_unlock(&pool->lock);
    return rc;
}

int
rp_upstream_open(struct rp_upstream_pool *pool, const char *name, size_t name_len, const char *path,
                 size_t path_len, const char *authorization, char *topic, bool *by_type,
                 struct rp_upstream_refusal *why)
{
    return open_up(pool, name, name_len, path, path_len, authorization, topic, by_type, why, false);
}

/* ---- what /upstreams and /metrics show ---- */

static int64_t
clients_of(struct rp_upstream_pool *pool, const struct up *u)
{
    struct rp_topic *t = rp_hub_find(pool->hub, u->topic, u->topic_len);
    return t ? rp_topic_subscribers(t) : 0;
}

void
rp_upstream_foreach(struct rp_upstream_pool *pool,
                    void (*fn)(void *ctx, const struct rp_upstream_info *u), void *ctx)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    EACH(n, &pool->ups)
    {
        struct up *u = RP_CONTAINER_OF(n, struct up, node);
        struct rp_upstream_info info = {
            .name = u->def->name,
            .url = u->url,
            .topic = u->topic,
            .state = (enum rp_upstream_state)atomic_load(&u->state),
            .always = atomic_load(&u->always),
            .reconnects = atomic_load(&u->reconnects),
            .events_in = atomic_load(&u->events_in),
            .events_refused = atomic_load(&u->events_refused),
            .bytes_in = atomic_load(&u->bytes_in),
            .last_event_ms = atomic_load(&u->last_event_ms),
            .clients = clients_of(pool, u),
            .last_id = u->last_id_copy,
            .last_error = u->last_error,
        };
        fn(ctx, &info);
    }
    pthread_mutex_unlock(&pool->lock);
}

/* Appends <s> to <b> as the inside of a JSON string. */
static void
json_chars(struct rp_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            rp_buf_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            rp_buf_printf(b, "\\u%04x", ch);
        else
            rp_buf_append(b, s, 1);
    }
}

struct totals {
    uint64_t by_state[5];
    uint64_t reconnects, events, refused, bytes;
};

/* Under the pool lock: the counters of every upstream, closed ones included. */
static void
sum_up(struct rp_upstream_pool *pool, struct totals *t)
{
    *t = (struct totals){.reconnects = pool->closed_reconnects,
                         .events = pool->closed_events,
                         .refused = pool->closed_refused,
                         .bytes = pool->closed_bytes};
    EACH(n, &pool->ups)
    {
        struct up *u = RP_CONTAINER_OF(n, struct up, node);
        int s = atomic_load(&u->state);
        if (s >= 0 && s < 5)
            t->by_state[s]++;
        t->reconnects += atomic_load(&u->reconnects);
        t->events += atomic_load(&u->events_in);
        t->refused += atomic_load(&u->events_refused);
        t->bytes += atomic_load(&u->bytes_in);
    }
}

void
rp_upstream_metrics(struct rp_upstream_pool *pool, struct rp_buf *out)
{
    if (!rp_upstream_pool_enabled(pool))
        return;
    struct totals t;
    pthread_mutex_lock(&pool->lock);
    sum_up(pool, &t);
    rp_buf_append_str(out, "# HELP revenprox_upstreams Upstream URLs open, by state.\n"
                           "# TYPE revenprox_upstreams gauge\n");
    for (int s = 0; s < 5; s++)
        rp_buf_printf(out, "revenprox_upstreams{state=\"%s\"} %llu\n",
                      rp_upstream_state_name((enum rp_upstream_state)s),
                      (unsigned long long)t.by_state[s]);
    rp_buf_printf(out,
                  "# HELP revenprox_upstream_reconnects_total Upstream connections started after "
                  "an upstream's first.\n"
                  "# TYPE revenprox_upstream_reconnects_total counter\n"
                  "revenprox_upstream_reconnects_total %llu\n"
                  "# HELP revenprox_upstream_events_total Events published from upstreams.\n"
                  "# TYPE revenprox_upstream_events_total counter\n"
                  "revenprox_upstream_events_total %llu\n"
                  "# HELP revenprox_upstream_events_refused_total Upstream events the hub "
                  "refused (too large, bad type).\n"
                  "# TYPE revenprox_upstream_events_refused_total counter\n"
                  "revenprox_upstream_events_refused_total %llu\n"
                  "# HELP revenprox_upstream_bytes_total Bytes read from upstreams.\n"
                  "# TYPE revenprox_upstream_bytes_total counter\n"
                  "revenprox_upstream_bytes_total %llu\n",
                  (unsigned long long)t.reconnects, (unsigned long long)t.events,
                  (unsigned long long)t.refused, (unsigned long long)t.bytes);
    pthread_mutex_unlock(&pool->lock);
}

void
rp_upstream_metrics_json(struct rp_upstream_pool *pool, struct rp_buf *out)
{
    if (!rp_upstream_pool_enabled(pool)) {
        rp_buf_append_str(out, "null");
        return;
    }
    struct totals t;
    pthread_mutex_lock(&pool->lock);
    sum_up(pool, &t);
    rp_buf_append_str(out, "{\"states\":{");
    for (int s = 0; s < 5; s++)
        rp_buf_printf(out, "%s\"%s\":%llu", s ? "," : "",
                      rp_upstream_state_name((enum rp_upstream_state)s),
                      (unsigned long long)t.by_state[s]);
    rp_buf_printf(out,
                  "},\"reconnects\":%llu,\"events_in\":%llu,\"events_refused\":%llu,"
                  "\"bytes_in\":%llu,\"list\":[",
                  (unsigned long long)t.reconnects, (unsigned long long)t.events,
                  (unsigned long long)t.refused, (unsigned long long)t.bytes);
    size_t i = 0;
    EACH(n, &pool->ups)
    {
        struct up *u = RP_CONTAINER_OF(n, struct up, node);
        rp_buf_append_str(out, i++ ? ",{\"name\":\"" : "{\"name\":\"");
        json_chars(out, u->def->name);
        rp_buf_append_str(out, "\",\"topic\":\"");
        json_chars(out, u->topic);
        rp_buf_append_str(out, "\",\"url\":\"");
        json_chars(out, u->url);
        rp_buf_printf(out,
                      "\",\"state\":\"%s\",\"clients\":%lld,\"reconnects\":%llu,"
                      "\"events_in\":%llu,\"events_refused\":%llu,\"bytes_in\":%llu,"
                      "\"last_event_ms\":%lld,\"last_error\":\"",
                      rp_upstream_state_name((enum rp_upstream_state)atomic_load(&u->state)),
                      (long long)clients_of(pool, u),
                      (unsigned long long)atomic_load(&u->reconnects),
                      (unsigned long long)atomic_load(&u->events_in),
                      (unsigned long long)atomic_load(&u->events_refused),
                      (unsigned long long)atomic_load(&u->bytes_in),
                      (long long)atomic_load(&u->last_event_ms));
        json_chars(out, u->last_error);
        rp_buf_append_str(out, "\"}");
    }
    rp_buf_append_str(out, "]}");
    pthread_mutex_unlock(&pool->lock);
}

/* ---- one upstream's life, on its shard ---- */

static void
set_state(struct up *u, enum rp_upstream_state s)
{
    atomic_store(&u->state, s);
}

static void set_error(struct rp_upstream_pool *pool, struct up *u, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_error(struct rp_upstream_pool *pool, struct up *u, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&pool->lock);
    memcpy(u->last_error, msg, sizeof(msg));
    pthread_mutex_unlock(&pool->lock);
    u->stop_reason_set = true;
    RP_LOG(RP_LOG_WARN, "upstream", "url=\"%s\" msg=\"%s\"", u->url, msg);
}

static void
remember_id(struct rp_upstream_pool *pool, struct up *u)
{
    size_t len;
    const char *id = rp_sse_parser_last_id(u->parser, &len);
    pthread_mutex_lock(&pool->lock);
    snprintf(u->last_id_copy, sizeof(u->last_id_copy), "%.*s",
             (int)(len > PUB_ID_MAX ? PUB_ID_MAX : len), id);
    pthread_mutex_unlock(&pool->lock);
}

/* The newest upstream id kept with <t>'s events, if newer than *<best_seq>. */
static void
newest_pub_id(struct rp_topic *t, uint64_t *best_seq, char *out)
{
    uint64_t after = rp_topic_seq_keeping(t, RECOVER_LOOKBACK, UINT64_MAX);
    struct rp_topic_entry e[RECOVER_LOOKBACK];
    size_t n = rp_topic_entries(t, after, e, RECOVER_LOOKBACK);
    for (size_t i = 0; i < n; i++) {
        const struct rp_frame *f = e[i].frame;
        const char *pid = f->buf + f->pub_id_off;
        if (f->pub_id_len > 1 && pid[0] == RP_FRAME_ORIGIN_MARK && e[i].seq > *best_seq) {
            *best_seq = e[i].seq;
            memcpy(out, pid + 1, f->pub_id_len - 1);
            out[f->pub_id_len - 1] = '\0';
        }
        rp_frame_unref(e[i].frame);
    }
}

struct recover_ctx {
    uint64_t seq;
    char id[PUB_ID_MAX + 1];
};

static void
recover_typed(void *ctx, struct rp_topic *t)
{
    struct recover_ctx *r = ctx;
    newest_pub_id(t, &r->seq, r->id);
}

/*
 * The first connection of an upstream in this process resumes from the newest upstream id
 * its topic's log keeps (loaded from the disk log at start): a restarted node neither
 * misses what its upstream published meanwhile nor takes an event twice.
 */
static void
recover_last_id(struct rp_upstream_pool *pool, struct up *u)
{
    u->recovered = true;
    struct recover_ctx r = {0};
    struct rp_topic *t = rp_hub_find(pool->hub, u->topic, u->topic_len);
    if (t)
        newest_pub_id(t, &r.seq, r.id);
    if (u->def->by_type) {
        char pattern[RP_TOPIC_NAME_MAX + 3];
        int n = snprintf(pattern, sizeof(pattern), "%s/+", u->topic);
        rp_hub_foreach_topic(pool->hub, pattern, (size_t)n, recover_typed, &r);
    }
    if (r.seq)
        rp_sse_parser_set_last_id(u->parser, r.id, strlen(r.id));
}

/* Publishes one upstream event; 0, or -EAGAIN when the hub holds it back (retry later). */
static int
publish(struct rp_upstream_pool *pool, struct up *u, const char *type, size_t type_len,
        const char *data, size_t data_len, const char *id, size_t id_len)
{
    char topic[RP_TOPIC_NAME_MAX + 1];
    size_t tlen = u->topic_len;
    memcpy(topic, u->topic, tlen);
    bool plain = type_len == 7 && memcmp(type, "message", 7) == 0;
    if (u->def->by_type) {
        /* <topic>/<type>, the type's bytes outside a topic name's alphabet as `_`. */
        topic[tlen++] = '/';
        for (size_t i = 0; i < type_len && i < 32; i++) {
            char ch = type[i];
            bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
            topic[tlen++] = ok ? ch : '_';
        }
        if (topic[tlen - 1] == '.')
            topic[tlen - 1] = '_'; /* never a `.` or `..` segment */
    }
    struct rp_publish_item it = {
        .topic = topic,
        .topic_len = tlen,
        .event = plain ? NULL : type,
        .event_len = plain ? 0 : type_len,
        .data = data,
        .data_len = data_len,
        .pub_id = id_len > 1 && id_len <= PUB_ID_MAX ? id : NULL,
        .pub_id_len = id_len > 1 && id_len <= PUB_ID_MAX ? id_len : 0,
    };
    struct rp_publish_result res;
    struct rp_hub_error err;
    int rc = rp_hub_publish_system(pool->hub, &it, 1, &res, &err);
    if (rc == -EAGAIN || rc == -EBUSY || rc == -ENOSPC || rc == -EIO)
        return -EAGAIN;
    if (rc) {
        atomic_fetch_add(&u->events_refused, 1);
        RP_LOG(RP_LOG_WARN, "upstream", "url=\"%s\" msg=\"event refused: %s\"", u->url,
               err.message);
        return 0;
    }
    if (!res.duplicate) {
        atomic_fetch_add_explicit(&u->events_in, 1, memory_order_relaxed);
        atomic_store_explicit(&u->last_event_ms, rp_clock_wall_ms(), memory_order_relaxed);
    }
    return 0;
}

static char *
dup_bytes(const char *p, size_t n)
{
    char *s = rp_xmalloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static int
on_event(void *ctx, const struct rp_sse_event *ev)
{
    struct feed_ctx *f = ctx;
    struct up *u = f->u;
    /*
     * The event's publisher id: the marked id it had at the top of the chain (the origin-id
     * field of a RevenProx upstream), else the upstream's own id. So a chain of proxies
     * recognises an event it already has even when a middle one restarted and sent it again
     * under a new id of its own.
     */
    char pid[PUB_ID_MAX + 1];
    size_t id_len = 0;
    const char *src = ev->origin_id_len ? ev->origin_id : ev->has_id ? ev->last_id : NULL;
    size_t src_len = ev->origin_id_len ? ev->origin_id_len : ev->has_id ? ev->last_id_len : 0;
    if (src && src_len > 0 && src_len < PUB_ID_MAX) {
        pid[0] = RP_FRAME_ORIGIN_MARK;
        memcpy(pid + 1, src, src_len);
        id_len = src_len + 1;
    }
    const char *id = id_len ? pid : NULL;
    if (ev->origin_id_len)
        u->saw_origin = true;
    if (!ev->origin_id_len && u->saw_origin && ev->type_len == 6 &&
        memcmp(ev->type, "resync", 6) == 0) {
        /*
         * A RevenProx upstream announcing a gap in its own ids (it restarted uncleanly): the
         * events it may have lost come again from its own upstream, and those we have are
         * recognised by their origin ids. A gap its upstream announced carries an origin id
         * and is passed on.
         */
        RP_LOG(RP_LOG_INFO, "upstream",
               "url=\"%s\" msg=\"upstream restarted; its gap is "
               "covered by origin ids\"",
               u->url);
        if (ev->has_id)
            remember_id(f->pool, u);
        return 0;
    }
    if (publish(f->pool, u, ev->type, ev->type_len, ev->data, ev->data_len, id, id_len) != 0) {
        u->held = true;
        u->held_type = dup_bytes(ev->type, ev->type_len);
        u->held_type_len = ev->type_len;
        u->held_data = dup_bytes(ev->data, ev->data_len);
        u->held_data_len = ev->data_len;
        u->held_id = id ? dup_bytes(id, id_len) : NULL;
        u->held_id_len = id_len;
        return 1; /* stop this feed: the rest of the chunk waits with it */
    }
    if (ev->has_id)
        remember_id(f->pool, u);
    return 0;
}

static int
on_retry(void *ctx, uint64_t retry_ms)
{
    struct feed_ctx *f = ctx;
    /* The upstream's own reconnection time, as browsers honour it; but not under
     * RETRY_FLOOR_MS, so that `retry: 0` and a stream that ends at once cannot make us
     * hammer it. */
    int64_t ms = retry_ms > 3600000 ? 3600000 : (int64_t)retry_ms;
    if (ms < RETRY_FLOOR_MS)
        ms = RETRY_FLOOR_MS;
    int64_t max = f->pool->config.retry_max_ms > ms ? f->pool->config.retry_max_ms : ms;
    unsigned attempt = f->u->backoff.attempt;
    rp_backoff_init(&f->u->backoff, ms, max);
    f->u->backoff.attempt = attempt;
    return 0;
}

/* Feeds <len> bytes; false when the stream must end (a parse error, recorded). */
static bool
feed(struct rp_upstream_pool *pool, struct up *u, const char *data, size_t len)
{
    while (len > 0) {
        size_t used = 0;
        enum rp_sse_parse_result r = rp_sse_parser_feed(u->parser, data, len, &used);
        if (r == RP_SSE_PARSE_ERROR) {
            set_error(pool, u, "upstream stream refused: %s (upstream_max_line, max_data)",
                      rp_sse_parser_error(u->parser));
            return false;
        }
        if (r == RP_SSE_PARSE_DONE) {
            /* An event was held back: keep the rest, pause the transfer. */
            rp_buf_init(&u->held_rest, len - used + 1);
            rp_buf_append(&u->held_rest, data + used, len - used);
            rp_http_call_pause(u->call, true);
            return true;
        }
        return true;
    }
    return true;
}

static int
on_head(void *ctx, int status, const char *content_type)
{
    struct feed_ctx *f = ctx;
    struct up *u = f->u;
    size_t tl = strlen("text/event-stream");
    if (status != 200) {
        set_error(f->pool, u, "upstream answered HTTP %d", status);
        return 1;
    }
    if (strncasecmp(content_type, "text/event-stream", tl) != 0 ||
        (content_type[tl] && content_type[tl] != ';' && content_type[tl] != ' ')) {
        set_error(f->pool, u,
                  "upstream answered 200 with Content-Type \"%.60s\", not text/event-stream",
                  content_type);
        return 1;
    }
    set_state(u, RP_UPSTREAM_STATE_STREAMING);
    u->streaming_ms = rp_clock_now_ms();
    RP_LOG(RP_LOG_INFO, "upstream", "url=\"%s\" msg=\"streaming\"", u->url);
    return 0;
}

static int
on_data(void *ctx, const char *data, size_t len)
{
    struct feed_ctx *f = ctx;
    atomic_fetch_add_explicit(&f->u->bytes_in, len, memory_order_relaxed);
    return feed(f->pool, f->u, data, len) ? 0 : 1;
}

/*
 * <u> stopped for good: its readers are told so (`event: upstream-failed`, with the
 * upstream's name, topic, state and reason) and their streams end after it, instead of
 * staying open on a feed that will not come back. A browser's EventSource then reconnects
 * and gets the 502 that stops it.
 */
static void
announce_failed(struct rp_upstream_pool *pool, struct up *u)
{
    static const char type[] = "upstream-failed";
    char reason[sizeof(u->last_error)];
    pthread_mutex_lock(&pool->lock);
    memcpy(reason, u->last_error, sizeof(reason));
    pthread_mutex_unlock(&pool->lock);
    struct rp_buf b;
    rp_buf_init(&b, 4096);
    rp_buf_append_str(&b, "{\"upstream\":\"");
    json_chars(&b, u->def->name);
    rp_buf_append_str(&b, "\",\"topic\":\"");
    json_chars(&b, u->topic);
    rp_buf_append_str(&b, "\",\"state\":\"failed\",\"reason\":\"");
    json_chars(&b, reason);
    rp_buf_append_str(&b, "\"}");
    struct rp_publish_item it = {
        .topic = u->topic,
        .topic_len = u->topic_len,
        .event = type,
        .event_len = sizeof(type) - 1,
        .data = b.data,
        .data_len = b.len,
        .ends_stream = true,
    };
    struct rp_publish_result res;
    struct rp_hub_error err;
    if (rp_hub_publish_system(pool->hub, &it, 1, &res, &err) != 0)
        RP_LOG(RP_LOG_WARN, "upstream", "url=\"%s\" msg=\"cannot announce the failure: %s\"",
               u->url, err.message);
    rp_buf_fini(&b);
}

static bool
status_retryable(int status)
{
    return status == 0 || status >= 500 || status == 429 || status == 408;
}

static void
on_done(void *ctx, const struct rp_http_result *r)
{
    struct feed_ctx *f = ctx;
    struct rp_upstream_pool *pool = f->pool;
    struct up *u = f->u;
    u->call = NULL;
    held_abandon(u);
    held_clear(u);
    int64_t now = rp_clock_now_ms();
    int state = atomic_load(&u->state);
    bool fatal = false;
    if (state == RP_UPSTREAM_STATE_CONNECTING) {
        /* No body byte arrived, or on_head refused the answer. */
        if (r->status == 204) {
            set_error(pool, u, "upstream answered 204 No Content: it asks us to stop");
            fatal = true;
        } else if (r->status != 0 && r->status != 200) {
            if (!u->stop_reason_set)
                set_error(pool, u, "upstream answered HTTP %d", r->status);
            fatal = !status_retryable(r->status);
        } else if (r->status == 200 && u->stop_reason_set) {
            fatal = true; /* wrong content type */
        } else if (!u->stop_reason_set) {
            set_error(pool, u, "cannot reach the upstream: %.120s", r->detail);
        }
    } else if (!u->stop_reason_set) {
        set_error(pool, u, "upstream stream ended: %.120s",
                  r->error ? r->detail : "closed by the upstream");
    }
    remember_id(pool, u);
    if (fatal) {
        set_state(u, RP_UPSTREAM_STATE_FAILED);
        announce_failed(pool, u);
        return;
    }
    if (state == RP_UPSTREAM_STATE_STREAMING &&
        (now - u->streaming_ms >= STABLE_MS || atomic_load(&u->events_in) > u->events_at_connect))
        rp_backoff_reset(&u->backoff);
    int64_t delay = rp_backoff_next(&u->backoff);
    u->due_ms = now + delay;
    set_state(u, RP_UPSTREAM_STATE_BACKOFF);
}

static void
connect_up(struct rp_upstream_shard *s, struct up *u)
{
    struct rp_upstream_pool *pool = s->pool;
    if (!u->parser) {
        struct rp_sse_limits lim = {.max_line = pool->config.max_line,
                                    .max_event = pool->config.max_event};
        u->fctx = (struct feed_ctx){pool, u};
        u->parser = rp_sse_parser_new(&lim, on_event, on_retry, &u->fctx);
    }
    if (!u->recovered)
        recover_last_id(pool, u);
    /* A new stream; the parser keeps the latest id, which goes up as Last-Event-ID. */
    rp_sse_parser_restart(u->parser);

    const char *hdrs[MAX_HEADERS + 6];
    size_t n = 0;
    hdrs[n++] = "Accept: text/event-stream";
    hdrs[n++] = "Cache-Control: no-cache";
    for (size_t i = 0; i < u->def->n_headers && i < MAX_HEADERS; i++)
        hdrs[n++] = u->def->headers[i];
    if (u->auth_header)
        hdrs[n++] = u->auth_header;
    char lei[PUB_ID_MAX + 32];
    size_t id_len;
    const char *id = rp_sse_parser_last_id(u->parser, &id_len);
    if (id_len) {
        snprintf(lei, sizeof(lei), "Last-Event-ID: %s", id);
        hdrs[n++] = lei;
    }
    hdrs[n] = NULL;
    struct rp_http_get g = {
        .url = u->url,
        .extra_headers = hdrs,
        .connect_timeout_ms = pool->config.connect_timeout_ms,
        .idle_timeout_ms = pool->config.read_timeout_ms,
    };
    u->stop_reason_set = false;
    u->events_at_connect = atomic_load(&u->events_in);
    if (u->connects++ > 0)
        atomic_fetch_add(&u->reconnects, 1);
    int err =
        rp_http_client_get_stream(s->client, &g, on_head, on_data, on_done, &u->fctx, &u->call);
    if (err) {
        set_error(pool, u, "cannot start the upstream request: %s", strerror(-err));
        u->due_ms = rp_clock_now_ms() + rp_backoff_next(&u->backoff);
        set_state(u, RP_UPSTREAM_STATE_BACKOFF);
        return;
    }
    RP_LOG(RP_LOG_INFO, "upstream", "url=\"%s\" last_event_id=\"%s\" msg=\"connecting\"", u->url,
           id_len ? id : "");
    set_state(u, RP_UPSTREAM_STATE_CONNECTING);
}

/* Retries the held event, then the rest of its chunk; resumes the transfer once all went. */
static void
retry_held(struct rp_upstream_shard *s, struct up *u)
{
    struct rp_upstream_pool *pool = s->pool;
    if (publish(pool, u, u->held_type, u->held_type_len, u->held_data, u->held_data_len, u->held_id,
                u->held_id_len) != 0)
        return;
    if (u->held_id)
        remember_id(pool, u);
    RP_FREE(u->held_type);
    RP_FREE(u->held_data);
    RP_FREE(u->held_id);
    u->held = false;
    struct rp_buf rest = u->held_rest;
    memset(&u->held_rest, 0, sizeof(u->held_rest));
    bool ok = feed(pool, u, rest.data ? rest.data : "", rest.len);
    rp_buf_fini(&rest);
    if (!ok) {
        rp_http_call_cancel(u->call);
        u->call = NULL;
        u->due_ms = rp_clock_now_ms() + rp_backoff_next(&u->backoff);
        set_state(u, RP_UPSTREAM_STATE_BACKOFF);
        return;
    }
    if (!u->held)
        rp_http_call_pause(u->call, false);
}

static void
typed_interest(void *ctx, struct rp_topic *t)
{
    bool *found = ctx;
    if (rp_topic_interested(t))
        *found = true;
}

/* True when a local reader wants <u>'s events. */
static bool
wanted(struct rp_upstream_pool *pool, struct up *u)
{
    if (atomic_load(&u->always))
        return true;
    struct rp_topic *t = rp_hub_find(pool->hub, u->topic, u->topic_len);
    if (t && rp_topic_interested(t))
        return true;
    if (!u->def->by_type)
        return false;
    bool found = false;
    char pattern[RP_TOPIC_NAME_MAX + 3];
    int n = snprintf(pattern, sizeof(pattern), "%s/+", u->topic);
    rp_hub_foreach_topic(pool->hub, pattern, (size_t)n, typed_interest, &found);
    return found;
}

/* One look at <u>: returns when it next needs one (INT64_MAX: only when kicked or when its
 * call reports). Sets *<gone> when <u> was freed. */
static int64_t
step(struct rp_upstream_shard *s, struct up *u, int64_t now, bool look, bool *gone)
{
    struct rp_upstream_pool *pool = s->pool;
    *gone = false;
    if (look) {
        if (wanted(pool, u))
            u->unwanted_ms = 0;
        else if (!u->unwanted_ms)
            u->unwanted_ms = now;
    }
    int state = atomic_load(&u->state);
    int64_t end = INT64_MAX;
    if (u->unwanted_ms) {
        /* One never connected waits a little for the reader whose request opened it. */
        int64_t idle = pool->config.idle_ms;
        end = u->unwanted_ms + (u->connects == 0 && idle < FRESH_GRACE_MS ? FRESH_GRACE_MS : idle);
        if (now >= end) {
            /* Nobody wanted it for upstream_idle: disconnect and forget it. */
            pthread_mutex_lock(&pool->lock);
            rp_list_remove(&u->node);
            pool->n_ups--;
            pool->closed_reconnects += atomic_load(&u->reconnects);
            pool->closed_events += atomic_load(&u->events_in);
            pool->closed_refused += atomic_load(&u->events_refused);
            pool->closed_bytes += atomic_load(&u->bytes_in);
            pthread_mutex_unlock(&pool->lock);
            RP_LOG(RP_LOG_INFO, "upstream", "url=\"%s\" msg=\"closed: no reader\"", u->url);
            up_free(u);
            *gone = true;
            return INT64_MAX;
        }
        /* Never connected for nobody; a connection made goes on until <end>. */
        if (state == RP_UPSTREAM_STATE_IDLE || state == RP_UPSTREAM_STATE_FAILED)
            return end;
    }
    int64_t next = INT64_MAX;
    switch (state) {
    case RP_UPSTREAM_STATE_IDLE:
        connect_up(s, u);
        break;
    case RP_UPSTREAM_STATE_BACKOFF:
        if (now >= u->due_ms)
            connect_up(s, u);
        else
            next = u->due_ms;
        break;
    case RP_UPSTREAM_STATE_STREAMING:
        if (u->held) {
            retry_held(s, u);
            if (u->held)
                next = now + HELD_RETRY_MS;
        }
        break;
    default:
        break;
    }
    if (atomic_load(&u->state) == RP_UPSTREAM_STATE_BACKOFF && u->due_ms < next)
        next = u->due_ms;
    return next < end ? next : end;
}

int64_t
rp_upstream_shard_run(struct rp_upstream_shard *s, int64_t now)
{
    struct rp_upstream_pool *pool = s->pool;
    rp_http_client_tick(s->client, now);
    bool look = atomic_exchange(&pool->kicked[s->id], false);
    int64_t next = INT64_MAX;
    /* Snapshot this shard's upstreams: only this thread frees them. */
    struct up *mine[256];
    size_t n = 0;
    bool more = false;
    pthread_mutex_lock(&pool->lock);
    EACH(it, &pool->ups)
    {
        struct up *u = RP_CONTAINER_OF(it, struct up, node);
        if (u->shard != s->id)
            continue;
        if (n == sizeof(mine) / sizeof(mine[0])) {
            more = true;
            break;
        }
        mine[n++] = u;
    }
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i < n; i++) {
        bool gone;
        int64_t due = step(s, mine[i], now, look, &gone);
        if (due < next)
            next = due;
    }
    if (more) {
        atomic_store(&pool->kicked[s->id], true);
        next = now + 1;
    }
    int t = rp_http_client_timeout_ms(s->client, now);
    int64_t in = next == INT64_MAX ? -1 : (next > now ? next - now : 0);
    if (t >= 0 && (in < 0 || t < in))
        in = t;
    return in;
}

static void
on_kick(struct rp_loop_io *io, uint32_t events)
{
    (void)events;
    struct rp_upstream_shard *s = RP_CONTAINER_OF(io, struct rp_upstream_shard, wake.io);
    rp_wakeup_drain(&s->wake); /* the before-sleep run looks at the kicked upstreams */
}

struct rp_upstream_shard *
rp_upstream_shard_attach(struct rp_upstream_pool *pool, unsigned id, struct rp_loop *loop)
{
    if (!rp_upstream_pool_enabled(pool) || id >= pool->n_shards)
        return NULL;
    struct rp_upstream_shard *s = rp_xcalloc(1, sizeof(*s));
    s->pool = pool;
    s->id = id;
    s->loop = loop;
    size_t cap = pool->config.max_upstreams ? pool->config.max_upstreams : 1;
    s->client = rp_http_client_new(loop, cap);
    if (!s->client || rp_wakeup_init(&s->wake, loop, on_kick) != 0) {
        rp_http_client_free(s->client);
        free(s);
        return NULL;
    }
    pthread_mutex_lock(&pool->lock);
    pool->shards[id] = s;
    pthread_mutex_unlock(&pool->lock);
    atomic_store(&pool->kicked[id], true);
    return s;
}

void
rp_upstream_shard_detach(struct rp_upstream_shard *s)
{
    if (!s)
        return;
    struct rp_upstream_pool *pool = s->pool;
    pthread_mutex_lock(&pool->lock);
    pool->shards[s->id] = NULL;
    EACH(it, &pool->ups)
    {
        struct up *u = RP_CONTAINER_OF(it, struct up, node);
        if (u->shard == s->id) {
            rp_http_call_cancel(u->call);
            u->call = NULL;
            held_abandon(u);
            held_clear(u);
            atomic_store(&u->state, RP_UPSTREAM_STATE_IDLE);
        }
    }
    pthread_mutex_unlock(&pool->lock);
    rp_wakeup_fini(&s->wake, s->loop);
    rp_http_client_free(s->client);
    free(s);
}
