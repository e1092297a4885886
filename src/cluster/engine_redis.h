/* SPDX-License-Identifier: MIT */
#ifndef RP_CLUSTER_ENGINE_REDIS_H
#define RP_CLUSTER_ENGINE_REDIS_H
/*
 * The Redis engine: Redis Streams as the cluster's shared log and Redis pub/sub as its
 * fan-out between nodes. Redis assigns the sequences (docs/internals/ids.md): a publish is one
 * script call that advances the counter in <prefix>meta, appends each event to its topic's
 * stream with the entry id <seq>-0 and publishes it on the topic's channel; every node takes
 * events in from the channels of the topics its clients read, filling each from its stream
 * when it begins to. Runs on a thread of its own with its own loop and two connections
 * (hiredis 0.14: a subscribed connection can do nothing else): one for commands, one for
 * pub/sub. Both reconnect with jittered backoff; while the command connection is down,
 * publishes fail at once (-ENOTCONN) and the state_changed hook says why. Not responsible
 * for the hub or waiting requests (the composition root wires those to the hooks).
 *
 * Thread rules (the log-engine contract): rp_redis_publish and rp_redis_interest never
 * block and may be called from any thread; hooks and done callbacks run on the engine's
 * thread with no engine lock held, and must not call back into the engine synchronously
 * except rp_redis_publish and rp_redis_interest.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rp_ingest_event;
struct rp_logengine_batch;
struct rp_publish_result;

struct rp_redis_config {
    const char *host; /* an address, or a Unix socket path (starting with '/') */
    int port;
    const char *prefix;         /* every key and channel starts with it ("{rp}:") */
    int64_t connect_timeout_ms; /* a connect that takes longer is abandoned and retried */
    int64_t command_timeout_ms; /* a command unanswered this long drops the connection */
    int64_t reconnect_min_ms;   /* backoff between attempts, with full jitter */
    int64_t reconnect_max_ms;
    uint64_t stream_max_len; /* about this many events kept per topic (XADD MAXLEN ~) */
    size_t queue_cap;        /* publishes queued for the engine thread at most */
    /* Redis Sentinel: when <n_sentinels> > 0, host and port are asked of these sentinels
     * ("HOST:PORT") for the primary named <master_name> at every connect, so a failover is
     * followed; host and port above are not used. */
    const char *const *sentinels;
    size_t n_sentinels;
    const char *master_name;
    /* A publish is confirmed only once this many replicas have it too (WAIT); 0: once
     * the primary has it. */
    int wait_replicas;
};

struct rp_redis_hooks {
    /*
     * Events of <topic>, in sequence order, all of <epoch>: a live one from its channel
     * (<lost_upto> 0), or a fill. A topic is filled each time its channel is subscribed
     * (interest came, or the pub/sub connection came back after a drop): the newest
     * stream_max_len events of its stream, then the live ones that arrived meanwhile, once
     * each. Events up to <lost_upto> are not in the fill and gone for this node (trimmed, or
     * older than the fill reads): a reader from before them is owed event: resync. A fill
     * may repeat events taken in before; the receiver keeps those after what it has.
     * Borrowed for the call.
     */
    void (*topic_events)(void *ctx, const char *topic, size_t topic_len, uint32_t epoch,
                         uint64_t lost_upto, const struct rp_ingest_event *evs, size_t n);
    /* A fill of <topic> is in: its events and the live ones held meanwhile went to
     * topic_events. Called for every fill, also one that brought nothing. */
    void (*filled)(void *ctx, const char *topic, size_t topic_len);
    /* The cluster's sequence reached <seq> in <epoch>: every event up to it of the topics
     * this node listens to has been passed to topic_events (or is in a fill to come). */
    void (*sequence)(void *ctx, uint32_t epoch, uint64_t seq);
    /* A publish of this node's was stored in the log of <epoch> (a new epoch: Redis lost
     * the log, and this is the first to know; the pub/sub connection may tell later). */
    void (*epoch_seen)(void *ctx, uint32_t epoch);
    /* A topic that one of this node's patterns (rp_redis_pattern_interest) matches exists
     * in the cluster: the node creates it, so the pattern's streams read it (their interest
     * then subscribes and fills it). May be called again for the same topic. */
    void (*topic_seen)(void *ctx, const char *topic, size_t topic_len);
    /* The command connection is up and the scripts loaded (<err> 0), or down (<err> < 0,
     * <why> says what failed). */
    void (*state_changed)(void *ctx, int err, const char *why);
    void *ctx;
};

/* One publish, owned by the caller; the engine uses it from rp_redis_publish returning 0
 * until it calls <done>. */
struct rp_redis_publish {
    struct rp_redis_publish *link;            /* the engine's while queued */
    struct rp_logengine_batch *batch;         /* the events; their seq and wall_ms are ignored */
    void (*done)(struct rp_redis_publish *p); /* engine thread; the engine is done with <p> */
    void *ctx;
    /* Results, set before done */
    int err;            /* 0; -ENOTCONN (Redis unreachable), -ETIMEDOUT, -EIO (refused) */
    uint32_t epoch;     /* of the events */
    uint64_t first_seq; /* the first new event's sequence (the next one if none is new) */
    /* NULL, or <batch->n> results the engine fills when it succeeds: each event's sequence,
     * and whether it is a duplicate (an earlier event of its topic with the same publisher
     * id is still in Redis, or earlier in the batch: that event's sequence; nothing is
     * published for it). */
    struct rp_publish_result *results;
    char message[320]; /* why, when err */
};

struct rp_redis;

/*
 * At start-up, before the engine: the epoch of the log in Redis and its newest sequence,
 * creating the log (a new random epoch) when Redis holds none. Blocking, for at most the
 * connect and command timeouts. 0, or -errno with <why> (<cap> bytes) saying what failed.
 */
int rp_redis_open_log(const struct rp_redis_config *config, uint32_t *epoch, uint64_t *last_seq,
                      char *why, size_t cap);
/* Starts the engine's thread, which connects in the background; NULL with errno. */
struct rp_redis *rp_redis_new(const struct rp_redis_config *config,
                              const struct rp_redis_hooks *hooks);
/* Stops the thread: queued publishes are done with -ESHUTDOWN first. NULL is fine. */
void rp_redis_free(struct rp_redis *r);
/* Queues <p>; 0, or -EAGAIN (queue full), -ENOTCONN (the command connection is down),
 * -ESHUTDOWN; <p> is the caller's again on failure. */
int rp_redis_publish(struct rp_redis *r, struct rp_redis_publish *p);
/* This node's interest in <topic> went up (<on>) or down: subscribes its channel while the
 * count is above zero. */
void rp_redis_interest(struct rp_redis *r, const char *topic, size_t len, bool on);
/* A local stream reads the pattern <filter> (`+`, `#`) (<on>), or one fewer does: while
 * the count is above zero, topics it matches that appear anywhere in the cluster are passed
 * to the topic_seen hook (their first event through Redis, or their stream already in it). */
void rp_redis_pattern_interest(struct rp_redis *r, const char *filter, size_t len, bool on);
/* The command connection is up. */
bool rp_redis_up(const struct rp_redis *r);
/* Why the command connection is down (or "connected"), into <out>. Any thread. */
void rp_redis_why(struct rp_redis *r, char *out, size_t cap);

/* What the engine has done since it started, for /metrics. */
struct rp_redis_stats {
    bool connected;            /* the command connection is up */
    bool subscribed;           /* the pub/sub connection is up */
    uint64_t reconnects;       /* connections made again after one dropped */
    uint64_t publishes;        /* publish batches confirmed */
    uint64_t publish_failures; /* batches Redis did not confirm, or the engine refused */
    uint64_t events_in;        /* events taken in, live and by fills */
    uint64_t fills;            /* topics filled from their streams (a gap closed) */
    uint64_t fills_lost;       /* fills that found part of the gap trimmed (resync owed) */
    uint64_t channels;         /* topics this node listens to */
    int64_t lag_ms; /* the newest live event: from its publish to this node taking it in */
};
/* Any thread. */
void rp_redis_stats(struct rp_redis *r, struct rp_redis_stats *out);

#endif
