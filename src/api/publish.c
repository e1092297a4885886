/* SPDX-License-Identifier: MIT */
/* POST /publish (a JSON event or batch) and POST /publish/{topic} (the raw body as data). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/credentials.h"
#include "api/endpoints.h"
#include "http/query.h"
#include "api/guard.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/list.h"
#include "base/stats.h"
#include "core/event_id.h"
#include "cluster/engine_redis.h"
#include "core/logengine.h"
#include "http/publish_json.h"
#include "http/response.h"

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

/* How long a publish under fsync always waits for its events to become durable. */
#define DURABLE_WAIT_MS 10000

/* fsync always: the answer just queued waits until the log has made <newest> durable. */
void
rp_api_hold_until_durable(struct rp_api *a, struct rp_conn *c, uint64_t newest)
{
    if (!a->node->wait_durable)
        return;
    struct rp_logengine *engine = rp_hub_engine(a->node->hub);
    if (engine && rp_logengine_durable_seq(engine) < newest)
        rp_conn_hold_answer(c, newest, rp_clock_now_ms() + DURABLE_WAIT_MS);
}

/* Answers a publish whose events got <res> (with the ids, or an empty 200 when not <ids>)
 * and counts it. */
static void
answer_published(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                 const struct rp_publish_item *items, size_t n, bool batch, bool ids,
                 const struct rp_publish_result *res)
{
    struct rp_hub *hub = a->node->hub;
    struct rp_stats *stats = rp_conn_stats(c);
    uint64_t appended = 0, newest = 0;
    for (size_t i = 0; i < n; i++) {
        appended += !res[i].duplicate;
        if (res[i].seq > newest)
            newest = res[i].seq; /* a duplicate's original may not be durable yet either */
    }
    rp_stat_add(stats, RP_STAT_events_published, appended);
    rp_stat_add(stats, RP_STAT_publish_requests_total, 1);
    if (!ids) {
        rp_conn_respond(c, req, 200, NULL, NULL, "", 0);
        rp_api_hold_until_durable(a, c, newest);
        return;
    }
    struct rp_buf b;
    rp_buf_init(&b, 64 + n * 128);
    char id[RP_EVENT_ID_MAX + 1];
    if (!batch) {
        /* The hot path (one event): appends only, no printf. */
        rp_buf_append_str(&b, "{\"id\":\"");
        rp_buf_append(&b, id, rp_hub_format_id(hub, res[0].seq, id));
        rp_buf_append_str(&b, "\",\"topic\":\"");
        rp_buf_append(&b, items[0].topic, items[0].topic_len);
        rp_buf_append_str(&b, res[0].duplicate ? "\",\"duplicate\":true}\n"
                                               : "\",\"duplicate\":false}\n");
    } else {
        rp_buf_append_str(&b, "{\"ids\":[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                rp_buf_append_str(&b, ",");
            rp_api_json_id(&b, hub, res[i].seq);
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
    rp_api_respond_json(c, req, 200, &b);
    rp_api_hold_until_durable(a, c, newest);
    rp_buf_fini(&b);
}

/* ---- publishing through the cluster (cluster = redis) ---- */

/* The own API's answer form, for rp_api_publish_cluster. */
struct answer_form {
    bool batch, ids;
};

static void
answered_own(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
             const struct rp_publish_item *items, size_t n, const struct rp_publish_result *res,
             void *ctx)
{
    const struct answer_form *form = ctx;
    answer_published(a, c, req, items, n, form->batch, form->ids, res);
}

/* A publish sent to Redis: shared by the waiting request and the engine's thread, freed by
 * whichever lets go last. */
struct cluster_publish {
    struct rp_redis_publish p;
    atomic_int refs;
    atomic_bool done;
    const struct rp_api_node *node;
};

static void
cluster_publish_unref(struct cluster_publish *cp)
{
    if (atomic_fetch_sub(&cp->refs, 1) == 1) {
        rp_logengine_batch_free(cp->p.batch);
        free(cp->p.results);
        free(cp);
    }
}

/* On the engine's thread: Redis answered (or the connection dropped). */
static void
cluster_publish_done(struct rp_redis_publish *p)
{
    struct cluster_publish *cp = RP_CONTAINER_OF(p, struct cluster_publish, p);
    const struct rp_api_node *node = cp->node;
    atomic_store(&cp->done, true);
    cluster_publish_unref(cp);
    node->wake_waiting(node->wake_ctx);
}

static void
cluster_publish_release(void *pending)
{
    cluster_publish_unref(pending);
}

void
rp_api_publish_cluster(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                       const struct rp_publish_item *items, size_t n, bool system,
                       rp_api_published_fn answered, void *ctx)
{
    const struct rp_api_node *node = a->node;
    struct cluster_publish *cp = c->pending;
    char msg[400];
    if (cp) {
        if (!atomic_load(&cp->done)) {
            rp_conn_wait(c, RP_WAIT_CLUSTER, 0); /* keeps its first deadline */
            return;
        }
        c->pending = NULL;
        if (cp->p.err) {
            snprintf(msg, sizeof(msg), "%s", cp->p.message);
            rp_api_reject_publish(c, req, 503, msg);
        } else if (cp->p.epoch != rp_hub_epoch(node->hub)) {
            snprintf(msg, sizeof(msg),
                     "Redis stored the events in a new log (it lost the one this node serves: "
                     "epoch %08x, not %08x); this node must be restarted",
                     cp->p.epoch, rp_hub_epoch(node->hub));
            rp_api_reject_publish(c, req, 503, msg);
        } else {
            answered(a, c, req, items, n, cp->p.results, ctx);
        }
        cluster_publish_unref(cp);
        return;
    }
    char why[240];
    if (node->cluster_down(node->cluster_ctx, why, sizeof(why))) {
        snprintf(msg, sizeof(msg), "the cluster cannot take publishes now: %s", why);
        rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
        rp_conn_error(c, req, 503, msg, "Retry-After: 1\r\n");
        return;
    }
    struct rp_hub_error err;
    if (rp_hub_check(node->hub, items, n, system, &err)) {
        if (n > 1)
            snprintf(msg, sizeof(msg), "event %zu: %s", err.index, err.message);
        else
            snprintf(msg, sizeof(msg), "%s", err.message);
        rp_api_reject_publish(c, req, err.status, msg);
        return;
    }
    struct rp_ingest_event *evs = rp_xcalloc(n, sizeof(*evs));
    for (size_t i = 0; i < n; i++)
        evs[i] = (struct rp_ingest_event){.item = items[i], .seq = i + 1};
    cp = rp_xcalloc(1, sizeof(*cp));
    cp->p.batch = rp_logengine_batch_new(0, evs, n);
    free(evs);
    cp->p.results = rp_xcalloc(n, sizeof(*cp->p.results));
    cp->p.done = cluster_publish_done;
    cp->node = node;
    atomic_init(&cp->refs, 2); /* the request's, the engine's */
    atomic_init(&cp->done, false);
    int rc = rp_redis_publish(node->redis, &cp->p);
    if (rc) {
        rp_logengine_batch_free(cp->p.batch);
        free(cp->p.results);
        free(cp);
        snprintf(msg, sizeof(msg), "the cluster cannot take publishes now: %s",
                 rc == -EAGAIN ? "too many publishes wait for Redis" : "Redis is not reachable");
        rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
        rp_conn_error(c, req, 503, msg, "Retry-After: 1\r\n");
        return;
    }
    c->pending = cp;
    c->pending_free = cluster_publish_release;
    rp_conn_wait(c, RP_WAIT_CLUSTER, rp_clock_now_ms() + node->cluster_timeout_ms);
}

/* Publishes <items> and answers (with the ids, or with an empty 200 when not <ids>);
 * parks the connection when slow_policy block says wait, or while the cluster confirms. */
void
rp_api_publish_items(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                     const struct rp_publish_item *items, size_t n, bool batch, bool ids,
                     enum rp_conn_call call)
{
    if (a->node->redis) {
        struct answer_form form = {batch, ids};
        rp_api_publish_cluster(a, c, req, items, n, false, answered_own, &form);
        return;
    }
    struct rp_hub *hub = a->node->hub;
    struct rp_stats *stats = rp_conn_stats(c);
    struct rp_publish_result res_small[16];
    struct rp_publish_result *res = n <= 16 ? res_small : rp_xcalloc(n, sizeof(*res));
    struct rp_hub_error err;
    int rc = rp_hub_publish(hub, items, n, res, &err);
    if (rc == -EAGAIN && rp_conn_config(c)->block_timeout > 0) {
        if (call == RP_CONN_CALL_NEW)
            rp_stat_add(stats, RP_STAT_publish_blocked_total, 1);
        rp_conn_wait(c, RP_WAIT_BLOCK, rp_clock_now_ms() + rp_conn_config(c)->block_timeout);
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
        bool retry = rc == -EAGAIN || rc == -EBUSY || rc == -EIO;
        rp_conn_error(c, req, err.status, msg, retry ? "Retry-After: 1\r\n" : NULL);
        if (res != res_small)
            free(res);
        return;
    }
    answer_published(a, c, req, items, n, batch, ids, res);
    if (res != res_small)
        free(res);
}

void
rp_api_publish_durable(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                       enum rp_conn_call call)
{
    struct rp_logengine *engine = rp_hub_engine(a->node->hub);
    if (!engine || rp_logengine_durable_seq(engine) >= c->held_seq) {
        rp_conn_release_answer(c);
        return;
    }
    int failed = rp_hub_engine_error(a->node->hub);
    if (call == RP_CONN_CALL_RETRY && !failed) {
        rp_conn_wait(c, RP_WAIT_DURABLE, 0); /* keeps its first deadline */
        return;
    }
    rp_conn_drop_answer(c);
    rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
    char id[RP_EVENT_ID_MAX + 1], why[96];
    rp_hub_format_id(a->node->hub, c->held_seq, id);
    if (failed)
        snprintf(why, sizeof(why), "cannot write (%s)", strerror(-failed));
    else
        snprintf(why, sizeof(why), "did not make it durable within %d s", DURABLE_WAIT_MS / 1000);
    char msg[400];
    snprintf(msg, sizeof(msg),
             "the event log %s: this publish's events (up to id %s) were delivered to "
             "subscribers but may not survive a crash; publishing them again with the same "
             "publisher id is safe",
             why, id);
    rp_conn_error(c, req, 503, msg, "Retry-After: 1\r\n");
}

/* Refuses a publish request: counted, and answered with <status> and <message>. */
void
rp_api_reject_publish(struct rp_conn *c, const struct rp_http_request *req, int status,
                      const char *message)
{
    rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
    rp_conn_error(c, req, status, message, NULL);
}

/* The token must allow publishing to every item's topic (topics the hub will refuse as
 * invalid are left to it, so the client hears what is wrong with the name). */
static bool
may_publish(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
            const struct rp_publish_item *items, size_t n)
{
    if (!a->gate)
        return true;
    char **topics = rp_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        topics[i] = rp_xstrndup(items[i].topic ? items[i].topic : "", items[i].topic_len);
    struct rp_grant grant = {0};
    enum rp_verdict v = rp_api_authorize(a, c, req, true, (const char *const *)topics, n, &grant);
    if (v == RP_VERDICT_REFUSED)
        rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
    for (size_t i = 0; i < n; i++)
        free(topics[i]);
    free(topics);
    rp_grant_fini(&grant);
    return v == RP_VERDICT_PASS;
}

void
rp_api_publish_json(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                    enum rp_conn_call call)
{
    if (call == RP_CONN_CALL_NEW && !rp_guard_publish(a->node->guard, c, req))
        return;
    if (!json_content_type(rp_http_request_header(req, "Content-Type"))) {
        rp_api_reject_publish(c, req, 415,
                              "POST /publish takes a JSON body (Content-Type: application/json); "
                              "for raw data use POST /publish/{topic}");
        return;
    }
    struct rp_publish_batch batch;
    struct rp_publish_json_error err;
    const struct rp_config_values *v = rp_conn_config(c);
    if (rp_publish_json_parse(req->body, req->body_len, (size_t)v->max_batch, &batch, &err)) {
        rp_api_reject_publish(c, req, err.status, err.message);
        return;
    }
    if (may_publish(a, c, req, batch.items, batch.n))
        rp_api_publish_items(a, c, req, batch.items, batch.n, batch.is_array, true, call);
    rp_publish_batch_fini(&batch);
}

void
rp_api_publish_raw(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                   const char *topic, enum rp_conn_call call)
{
    if (call == RP_CONN_CALL_NEW && !rp_guard_publish(a->node->guard, c, req))
        return;
    const char *ct = rp_http_request_header(req, "Content-Type");
    if (ct && strncasecmp(ct, "multipart/", 10) == 0) {
        rp_api_reject_publish(c, req, 415,
                              "multipart bodies are not supported: send the data as the raw "
                              "request body");
        return;
    }
    const char *event = rp_query_get(a->query, "event");
    const char *id = rp_query_get(a->query, "id");
    struct rp_publish_item item = {
        .topic = topic,
        .topic_len = strlen(topic),
        .event = event,
        .event_len = event ? strlen(event) : 0,
        .data = req->body,
        .data_len = req->body_len,
        .pub_id = id,
        .pub_id_len = id ? strlen(id) : 0,
    };
    if (may_publish(a, c, req, &item, 1))
        rp_api_publish_items(a, c, req, &item, 1, false, true, call);
}
