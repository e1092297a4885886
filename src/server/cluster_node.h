/* SPDX-License-Identifier: MIT */
#ifndef RP_SERVER_CLUSTER_NODE_H
#define RP_SERVER_CLUSTER_NODE_H
/*
 * This node in a Redis cluster (cluster = redis, docs/cluster.md), as the composition root
 * runs it: the log and its epoch are Redis's, so the hub is created on that epoch and
 * continues after its sequence; events reach the hub from the Redis engine's thread (live,
 * or a topic's fill) through rp_hub_ingest_topic; the hub's interest hook decides which
 * topics the engine listens to; publishes go to Redis from the API (api/publish.c) and are
 * answered when Redis confirms them. Main thread for open/start/close; the hooks run on the
 * engine's thread.
 *
 * Or in an NNG mesh (cluster = nng): the node keeps its own log and epoch, as alone; the
 * hub's log engine is wrapped so each local publish also goes to the mesh, which forwards it
 * to the peers that read its topic; peers' events are taken in with rp_hub_ingest under this
 * node's next sequences.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct rp_hub;
struct rp_logengine;
struct rp_nng;
struct rp_redis;
struct rp_topic;

struct rp_cluster_node {
    struct rp_redis *redis;   /* NULL when the node is alone */
    struct rp_nng *nng;       /* NULL unless cluster = nng */
    struct rp_logengine *tee; /* the hub's engine while the mesh runs */
    struct rp_hub *hub;
    uint32_t epoch;         /* of the log this node serves (the hub's) */
    atomic_bool epoch_lost; /* Redis answered with another epoch: that log is gone */
    /* The mesh thread's: per origin, the group of its last event taken in (an update's
     * other topics follow it). */
    struct {
        uint32_t epoch;
        uint64_t group;
    } mesh_groups[16];
};

/*
 * With cluster = redis: reads (or creates) the log in Redis, for the hub's epoch and first
 * sequence. 0 with *<epoch> and *<last_seq> set; 0 with *<epoch> 0 when the node is alone;
 * or -errno, logged (Redis cannot be reached: the node does not start).
 */
int rp_cluster_node_open(struct rp_cluster_node *cn, const struct rp_config_values *v,
                         uint32_t *epoch, uint64_t *last_seq);
/* Starts the Redis engine or the mesh, feeding <hub> (for the mesh: after the hub's own log
 * engine is attached); 0 or -errno (logged). A no-op when alone. */
int rp_cluster_node_start(struct rp_cluster_node *cn, const struct rp_config_values *v,
                          struct rp_hub *hub);
/* The hub's topic_interest hook, when in a cluster. */
void rp_cluster_node_interest(void *ctx, struct rp_topic *t, bool on);
/* The hub's pattern_interest hook, when in a cluster. */
void rp_cluster_node_pattern_interest(void *ctx, const char *pattern, size_t len, bool on);
/* Why publishes cannot go to the cluster now (into <why>), or false when they can. Any
 * thread. */
bool rp_cluster_node_down(void *ctx, char *why, size_t cap);
/* Stops the engine (before the hub and the workers go; NULL-safe when alone). */
void rp_cluster_node_close(struct rp_cluster_node *cn);

#endif
