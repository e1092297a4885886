/* SPDX-License-Identifier: MIT */
#include "server/cluster_node.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "cluster/engine_nng.h"
#include "cluster/engine_redis.h"
#include "cluster/nng_msg.h"
#include "core/hub.h"
#include "core/logengine.h"

/* redis_address: a Unix socket path, or HOST:PORT (the port after the last colon). */
static int
parse_address(const char *addr, char *host, size_t cap, int *port)
{
    if (addr[0] == '/') {
        if (strlen(addr) >= cap)
            return -EINVAL;
        snprintf(host, cap, "%s", addr);
        *port = 0;
        return 0;
    }
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || (size_t)(colon - addr) >= cap)
        return -EINVAL;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535)
        return -EINVAL;
    size_t hlen = (size_t)(colon - addr);
    if (addr[0] == '[' && hlen > 2 && addr[hlen - 1] == ']') { /* [::1]:6379 */
        memcpy(host, addr + 1, hlen - 2);
        host[hlen - 2] = '\0';
    } else {
        memcpy(host, addr, hlen);
        host[hlen] = '\0';
    }
    *port = (int)p;
    return 0;
}

static int
engine_config(const struct rp_config_values *v, char *host, size_t cap, struct rp_redis_config *out)
{
    int port = 0;
    host[0] = '\0';
    if (v->redis_sentinels.n == 0 && parse_address(v->redis_address, host, cap, &port) != 0) {
        RP_LOG(RP_LOG_ERROR, "cluster",
               "msg=\"redis_address '%s' is neither HOST:PORT nor the path of a Unix socket\"",
               v->redis_address);
        return -EINVAL;
    }
    *out = (struct rp_redis_config){
        .host = host,
        .port = port,
        .prefix = v->redis_prefix,
        .connect_timeout_ms = v->redis_timeout,
        .command_timeout_ms = v->redis_timeout,
        .reconnect_min_ms = 100,
        .reconnect_max_ms = 5000,
        .stream_max_len = (uint64_t)v->redis_max_events,
        .sentinels = (const char *const *)v->redis_sentinels.items,
        .n_sentinels = v->redis_sentinels.n,
        .master_name = v->redis_sentinel_master,
        .wait_replicas = (int)v->redis_wait_replicas,
    };
    return 0;
}

int
rp_cluster_node_open(struct rp_cluster_node *cn, const struct rp_config_values *v, uint32_t *epoch,
                     uint64_t *last_seq)
{
    memset(cn, 0, sizeof(*cn));
    atomic_init(&cn->epoch_lost, false);
    *epoch = 0;
    *last_seq = 0;
    if (v->cluster != RP_CFG_CLUSTER_REDIS)
        return 0;
    char host[256], why[320];
    struct rp_redis_config rc;
    int err = engine_config(v, host, sizeof(host), &rc);
    if (err)
        return err;
    err = rp_redis_open_log(&rc, epoch, last_seq, why, sizeof(why));
    if (err) {
        RP_LOG(RP_LOG_ERROR, "cluster",
               "msg=\"cannot start without the cluster's log: %s\" redis_address=%s", why,
               v->redis_address);
        return err;
    }
    cn->epoch = *epoch;
    RP_LOG(RP_LOG_INFO, "cluster",
           "msg=\"the cluster's log is in Redis\" redis_address=%s epoch=%08" PRIx32
           " last_seq=%" PRIu64,
           v->redis_address, *epoch, *last_seq);
    return 0;
}

/* False, once logged, when <epoch> is not the log this node serves: Redis lost it
 * (restarted without its data, flushed), so its ids can no longer be continued here. */
static bool
same_log(struct rp_cluster_node *cn, uint32_t epoch)
{
    if (epoch == cn->epoch)
        return true;
    if (!atomic_exchange(&cn->epoch_lost, true))
        RP_LOG(RP_LOG_ERROR, "cluster",
               "msg=\"Redis holds another log than the one this node serves (epoch %08" PRIx32
               ", not %08" PRIx32 "): it lost its data; publishes are refused and the node "
               "stops, to be started again in the new log\"",
               epoch, cn->epoch);
    return false;
}

static void
topic_events(void *ctx, const char *topic, size_t len, uint32_t epoch, uint64_t lost_upto,
             const struct rp_ingest_event *evs, size_t n)
{
    struct rp_cluster_node *cn = ctx;
    if (!same_log(cn, epoch))
        return;
    struct rp_hub_error err;
    int rc = rp_hub_ingest_topic(cn->hub, topic, len, evs, n, lost_upto, &err);
    if (rc)
        RP_LOG(RP_LOG_WARN, "cluster",
               "msg=\"events from the cluster not taken in: %s; readers of the topic are told "
               "(event: resync)\" topic=\"%.*s\"",
               err.message, (int)len, topic);
    if (rc && n)
        rp_hub_forget(cn->hub, topic, len, evs[n - 1].seq);
}

/* A topic one of this node's patterns matches exists in the cluster: created here, the
 * pattern's streams attach to it (rp_hub_pattern_add's topic_created announcement), and
 * their interest subscribes it in Redis and fills it. */
static void
topic_seen(void *ctx, const char *topic, size_t len)
{
    struct rp_cluster_node *cn = ctx;
    const char *why = NULL;
    if (!rp_hub_find(cn->hub, topic, len) && !rp_hub_topic(cn->hub, topic, len, &why))
        RP_LOG(RP_LOG_WARN, "cluster",
               "msg=\"a topic of the cluster that a pattern stream reads is not taken in: "
               "%s\" topic=\"%.*s\"",
               why ? why : "refused", (int)len, topic);
}

/* A topic's fill is in: its readers' streams go on. */
static void
filled(void *ctx, const char *topic, size_t len)
{
    struct rp_cluster_node *cn = ctx;
    rp_hub_topic_filled(cn->hub, topic, len);
}

static void
epoch_seen(void *ctx, uint32_t epoch)
{
    same_log(ctx, epoch);
}

/* How far the cluster's sequence is: new streams start from there. */
static void
sequence(void *ctx, uint32_t epoch, uint64_t seq)
{
    struct rp_cluster_node *cn = ctx;
    if (same_log(cn, epoch))
        rp_hub_advance_seq(cn->hub, seq);
}

/* Where the group of origin <epoch>'s last event is kept (an origin's slot is reused when
 * the table is full: at worst an update is written twice, never one skipped). */
static uint64_t *
mesh_group(struct rp_cluster_node *cn, uint32_t epoch)
{
    size_t n = sizeof(cn->mesh_groups) / sizeof(cn->mesh_groups[0]), free_slot = n;
    for (size_t i = 0; i < n; i++) {
        if (cn->mesh_groups[i].epoch == epoch)
            return &cn->mesh_groups[i].group;
        if (free_slot == n && cn->mesh_groups[i].epoch == 0)
            free_slot = i;
    }
    size_t i = free_slot < n ? free_slot : epoch % n;
    cn->mesh_groups[i].epoch = epoch;
    cn->mesh_groups[i].group = 0;
    return &cn->mesh_groups[i].group;
}

/*
 * Events of mesh origin <epoch>, taken in under this node's next sequences; a local publish
 * may take a sequence between the read and the ingest: then again. <fill>: history of one
 * topic, older than events of that origin already in, so each id names only that origin's
 * part (the hub's parts would claim later events of the other topics it reads).
 */
static void
take_in(struct rp_cluster_node *cn, uint32_t epoch, const struct rp_nng_event *evs, size_t n,
        bool fill)
{
    enum { CHUNK = 256 };
    struct rp_ingest_event in[CHUNK];
    struct rp_event_vector *parts = fill ? rp_xmalloc(CHUNK * sizeof(*parts)) : NULL;
    struct rp_hub_error err = {0};
    int rc = 0;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < CHUNK ? n - done : CHUNK;
        for (size_t i = 0; i < k; i++) {
            const struct rp_nng_event *e = &evs[done + i];
            in[i] = (struct rp_ingest_event){
                .item = {.topic = e->topic,
                         .topic_len = e->topic_len,
                         .event = e->type,
                         .event_len = e->type_len,
                         .data = e->data,
                         .data_len = e->data_len,
                         .pub_id = e->pub_id,
                         .pub_id_len = e->pub_id_len},
                .wall_ms = e->wall_ms,
                .origin = epoch,
                .origin_seq = e->seq,
            };
            if (parts) {
                parts[i] = (struct rp_event_vector){.n = 1, .part = {{epoch, e->seq}}};
                in[i].id_parts = &parts[i];
            }
        }
        uint64_t *origin_group = mesh_group(cn, epoch);
        uint64_t group = 0;
        for (int tries = 0; tries < 1000; tries++) {
            uint64_t last = rp_hub_last_seq(cn->hub);
            group = *origin_group;
            for (size_t i = 0; i < k; i++) {
                const struct rp_nng_event *e = &evs[done + i];
                in[i].seq = last + 1 + i;
                /* An update's frames share a group (its first's sequence here), so a stream
                 * over several of its topics writes it once: another topic of the update
                 * comes right after the event before it at the origin. */
                if (!fill && !(e->same_update && e->prev + 1 == e->seq && group))
                    group = in[i].seq;
                in[i].group = fill ? 0 : group;
            }
            rc = rp_hub_ingest(cn->hub, in, k, &err);
            if (rc != -ERANGE)
                break;
        }
        if (!fill)
            *origin_group = rc ? 0 : group;
        if (rc)
            RP_LOG(RP_LOG_WARN, "cluster",
                   "msg=\"events from a mesh peer not taken in: %s\" peer=%08" PRIx32, err.message,
                   epoch);
        done += k;
    }
    free(parts);
}

static void
mesh_events(void *ctx, uint32_t epoch, const struct rp_nng_event *evs, size_t n)
{
    take_in(ctx, epoch, evs, n, false);
}

/* Events of origin <epoch> are gone for <topic>: a sequence of this node's own stands for
 * them, declared gone, so every reader of the topic before it is told (event: resync); a
 * resume from an id another node framed is told when it lacks some of them. */
static void
mesh_lost(void *ctx, uint32_t epoch, const char *topic, size_t len, uint64_t upto)
{
    struct rp_cluster_node *cn = ctx;
    uint64_t seq = rp_hub_last_seq(cn->hub) + 1;
    rp_hub_advance_seq(cn->hub, seq);
    if (upto)
        rp_hub_forget_origin(cn->hub, topic, len, seq, epoch, upto);
    else
        rp_hub_forget(cn->hub, topic, len, seq);
}

/*
 * Part of <topic>'s fill from <epoch>: what it keeps of the topic after what the log had.
 * Events the log has meanwhile are skipped. A range the origin no longer keeps is marked for
 * resumes from ids other nodes framed; readers of this node are not told (its own readers
 * either had the events or started after them).
 */
static void
mesh_fill(void *ctx, uint32_t epoch, const char *topic, size_t len, const struct rp_nng_event *evs,
          size_t n, uint64_t lost_upto)
{
    struct rp_cluster_node *cn = ctx;
    if (lost_upto)
        rp_hub_forget_origin(cn->hub, topic, len, 0, epoch, lost_upto);
    struct rp_event_vector have;
    rp_hub_origins_newest(cn->hub, topic, len, &have);
    uint64_t newest = rp_event_vector_get(&have, epoch);
    size_t skip = 0;
    while (skip < n && evs[skip].seq <= newest)
        skip++;
    take_in(cn, epoch, evs + skip, n - skip, true);
}

static void
mesh_filled(void *ctx, const char *topic, size_t len)
{
    struct rp_cluster_node *cn = ctx;
    rp_hub_topic_filled(cn->hub, topic, len);
}

static void
mesh_heard(void *ctx, uint32_t epoch, uint64_t seq)
{
    struct rp_cluster_node *cn = ctx;
    rp_hub_origin_heard(cn->hub, epoch, seq);
}

static void
mesh_origin_gone(void *ctx, uint32_t epoch)
{
    struct rp_cluster_node *cn = ctx;
    rp_hub_drop_origin(cn->hub, epoch);
}

static int
start_mesh(struct rp_cluster_node *cn, const struct rp_config_values *v, struct rp_hub *hub)
{
    struct rp_nng_config nc = {
        .listen = (const char *const *)v->nng_listen_addresses.items,
        .n_listen = v->nng_listen_addresses.n,
        .peers = (const char *const *)v->nng_peer_addresses.items,
        .n_peers = v->nng_peer_addresses.n,
        .epoch = rp_hub_epoch(hub),
        .name = v->nng_listen_addresses.n ? v->nng_listen_addresses.items[0] : "",
        .reconnect_ms = v->nng_reconnect_interval,
        .heartbeat_ms = v->nng_heartbeat_interval,
        .peer_timeout_ms = v->peer_timeout,
        .gossip_ms = v->gossip_interval,
        .batch_timeout_ms = v->nng_message_batch_timeout,
        .batch_size = (size_t)v->nng_message_batch_size,
        .bloom_capacity = (uint64_t)v->bloom_filter_capacity,
        .bloom_fpr = strtod(v->bloom_filter_fpr, NULL), /* checked at load */
        .keep_events = (size_t)v->nng_keep_events,
        .max_event_bytes = (size_t)v->max_body,
        .max_interest = (size_t)v->max_topics,
    };
    struct rp_nng_hooks hooks = {
        .events = mesh_events,
        .lost = mesh_lost,
        .fill = mesh_fill,
        .filled = mesh_filled,
        .heard = mesh_heard,
        .origin_gone = mesh_origin_gone,
        .ctx = cn,
    };
    cn->nng = rp_nng_new(&nc, &hooks);
    if (!cn->nng) {
        int err = -errno;
        RP_LOG(RP_LOG_ERROR, "cluster", "msg=\"cannot start the mesh: %s\"", strerror(errno));
        return err;
    }
    /* Every local publish reaches the log engine once sequenced; the tee hands it on. */
    cn->tee = rp_nng_tee_new(cn->nng, rp_hub_engine(hub));
    rp_hub_set_engine(hub, cn->tee);
    RP_LOG(RP_LOG_INFO, "cluster",
           "msg=\"this node is in an NNG mesh\" epoch=%08" PRIx32 " peers=%zu", nc.epoch,
           nc.n_peers);
    return 0;
}

int
rp_cluster_node_start(struct rp_cluster_node *cn, const struct rp_config_values *v,
                      struct rp_hub *hub)
{
    cn->hub = hub;
    if (v->cluster == RP_CFG_CLUSTER_NNG)
        return start_mesh(cn, v, hub);
    if (v->cluster != RP_CFG_CLUSTER_REDIS)
        return 0;
    char host[256];
    struct rp_redis_config rc;
    int err = engine_config(v, host, sizeof(host), &rc);
    if (err)
        return err;
    struct rp_redis_hooks hooks = {
        .topic_events = topic_events,
        .sequence = sequence,
        .filled = filled,
        .topic_seen = topic_seen,
        .epoch_seen = epoch_seen,
        .ctx = cn,
    };
    cn->redis = rp_redis_new(&rc, &hooks);
    if (!cn->redis) {
        err = -errno;
        RP_LOG(RP_LOG_ERROR, "cluster", "msg=\"cannot start the Redis engine: %s\"",
               strerror(errno));
        return err;
    }
    return 0;
}

void
rp_cluster_node_interest(void *ctx, struct rp_topic *t, bool on)
{
    struct rp_cluster_node *cn = ctx;
    size_t len;
    if (cn->nng) {
        const char *name = rp_topic_name(t, &len);
        struct rp_event_vector have = {0};
        if (on) {
            rp_topic_set_filling(t); /* its streams wait for what the peers keep of it */
            rp_topic_origins_newest(t, &have);
        }
        rp_nng_interest(cn->nng, name, len, on, &have);
        return;
    }
    if (!cn->redis)
        return;
    const char *name = rp_topic_name(t, &len);
    if (on)
        rp_topic_set_filling(t); /* its streams wait for what Redis has of it */
    rp_redis_interest(cn->redis, name, len, on);
}

void
rp_cluster_node_pattern_interest(void *ctx, const char *pattern, size_t len, bool on)
{
    struct rp_cluster_node *cn = ctx;
    if (cn->redis)
        rp_redis_pattern_interest(cn->redis, pattern, len, on);
    if (cn->nng) /* peers forward every topic it matches; a topic new here is created */
        rp_nng_interest(cn->nng, pattern, len, on, NULL);
}

bool
rp_cluster_node_down(void *ctx, char *why, size_t cap)
{
    struct rp_cluster_node *cn = ctx;
    if (atomic_load(&cn->epoch_lost)) {
        snprintf(why, cap,
                 "Redis lost the cluster's log (its epoch changed); this node must be "
                 "restarted");
        return true;
    }
    if (!cn->redis)
        return false; /* alone, or a mesh node: it serves with or without its peers */
    if (!rp_redis_up(cn->redis)) {
        rp_redis_why(cn->redis, why, cap);
        return true;
    }
    return false;
}

void
rp_cluster_node_close(struct rp_cluster_node *cn)
{
    rp_redis_free(cn->redis);
    cn->redis = NULL;
    if (cn->tee) {
        /* The hub's own engine again (it hands what is pending to the tee first), then
         * the mesh can stop. */
        rp_hub_set_engine(cn->hub, rp_nng_tee_inner(cn->tee));
        rp_nng_free(cn->nng);
        rp_nng_tee_free(cn->tee);
        cn->tee = NULL;
        cn->nng = NULL;
    }
}
