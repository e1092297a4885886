/* SPDX-License-Identifier: MIT */
#include "server/cluster_node.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cluster/engine_redis.h"
#include "core/hub.h"

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

int
rp_cluster_node_start(struct rp_cluster_node *cn, const struct rp_config_values *v,
                      struct rp_hub *hub)
{
    cn->hub = hub;
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
    if (!cn->redis)
        return;
    size_t len;
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
}
