/* SPDX-License-Identifier: MIT */
#ifndef RP_CLUSTER_ENGINE_NNG_H
#define RP_CLUSTER_ENGINE_NNG_H
/*
 * The NNG mesh: nodes with no shared service, each the origin of its own publishes
 * (docs/internals/ids.md, docs/cluster.md). One nng pair1 socket in polyamorous mode listens
 * on this node's addresses and dials every peer; each connection is a pipe, a message is
 * sent to one chosen pipe and a received one names its pipe. Over it, per peer (named by the
 * epoch of its log, which its hello carries):
 *
 *  - interest: the topics this node's readers want, as incremental adds and removes, the
 *    whole set on every new connection, and a Bloom snapshot every gossip interval;
 *  - events: each local publish (handed over by the tee engine below once the hub sequenced
 *    it) goes to the peers whose filter says maybe and whose exact table confirms, batched,
 *    each event with <prev>, the sequence of the previous event sent (or meant) to that peer;
 *  - gaps: a receiver whose next event's prev is not the last one it took in (or whose
 *    peer's heartbeat names a later chain) holds what follows, asks the origin for the range
 *    and takes in the answer first; what the origin no longer keeps (or a range unanswered
 *    while the origin stays silent past peer_timeout) is reported lost;
 *  - heartbeats: a peer silent for peer_timeout is marked down; nng redials every
 *    reconnect interval.
 *
 * Runs on a thread of its own with its own loop, like the Redis engine. Thread rules: the
 * rp_nng_* calls never block and may be called from any thread; hooks run on the engine's
 * thread with no engine lock held and must not call back into the engine synchronously.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rp_logengine;
struct rp_nng_event;

struct rp_nng_config {
    const char *const *listen; /* tcp://HOST:PORT (* for any) or ipc:///path */
    size_t n_listen;
    const char *const *peers; /* the same forms; a host name dials each of its addresses */
    size_t n_peers;
    uint32_t epoch;   /* this node's log: names it to its peers */
    const char *name; /* for logs and the peers' metrics (the first listen address) */
    int64_t reconnect_ms, heartbeat_ms, peer_timeout_ms, gossip_ms, batch_timeout_ms;
    size_t batch_size; /* events per message */
    uint64_t bloom_capacity;
    double bloom_fpr;
    size_t keep_events; /* own events kept to answer gap requests */
    size_t keep_bytes;
    /* Limits on what a peer may send (0: the defaults): the largest event's data, which
     * sizes the largest message taken from a connection, and the names one peer may read. */
    size_t max_event_bytes;
    size_t max_interest;
};

struct rp_nng_hooks {
    /* Events of origin <epoch>, in its order, each once: take them in. Borrowed. */
    void (*events)(void *ctx, uint32_t epoch, const struct rp_nng_event *evs, size_t n);
    /* Events of origin <epoch> up to its sequence <upto> (0: a range not known) that this
     * node's readers of <topic> may have wanted are gone (the origin no longer keeps them,
     * or stayed unreachable): its readers are owed event: resync. Called once per topic
     * this node reads. */
    void (*lost)(void *ctx, uint32_t epoch, const char *topic, size_t len, uint64_t upto);
    /* Part of <topic>'s fill from origin <epoch> (rp_nng_interest): what the origin keeps
     * of it after what this node had, in its order; events up to <lost_upto> (0: none) may
     * be gone. History, older than events of that origin already taken in. Borrowed. */
    void (*fill)(void *ctx, uint32_t epoch, const char *topic, size_t len,
                 const struct rp_nng_event *evs, size_t n, uint64_t lost_upto);
    /* Every peer asked answered <topic>'s fill (or stayed silent past peer_timeout). */
    void (*filled)(void *ctx, const char *topic, size_t len);
    /* Origin <epoch> says it has sequenced up to <seq> (its hello, its heartbeats). */
    void (*heard)(void *ctx, uint32_t epoch, uint64_t seq);
    /* Origin <epoch> is gone for good: a peer of the same name came back under a new one. */
    void (*origin_gone)(void *ctx, uint32_t epoch);
    void *ctx;
};

struct rp_nng;

/* Starts the engine's thread, listening and dialing; NULL with errno (an address nng
 * refuses: EINVAL, with the reason logged). */
struct rp_nng *rp_nng_new(const struct rp_nng_config *config, const struct rp_nng_hooks *hooks);
/* Stops the thread and closes the socket. NULL is fine. */
void rp_nng_free(struct rp_nng *m);
/*
 * This node's interest in <topic> went up (<on>) or down; counted, so concurrent and
 * out-of-order calls of the hub's interest hook add up. When it starts, each connected peer
 * is asked for what it keeps of <topic> after <have>'s part for it (per origin, the newest
 * sequence this node's log of <topic> holds; NULL: none), and forwards <topic> from then
 * on; the answers come through the fill hook, then filled once all are in.
 */
struct rp_event_vector;
void rp_nng_interest(struct rp_nng *m, const char *topic, size_t len, bool on,
                     const struct rp_event_vector *have);

/*
 * A log engine for the hub that hands every batch to <inner> (NULL: keep nothing, durable
 * at once, like the memory engine) and, once <inner> took it, a copy to the mesh to forward.
 * Only local publishes reach a log engine (rp_hub_ingest does not), so the mesh forwards
 * exactly the events this node is the origin of. rp_nng_tee_free after the hub no longer
 * uses it; it does not close <inner>.
 */
struct rp_logengine *rp_nng_tee_new(struct rp_nng *m, struct rp_logengine *inner);
struct rp_logengine *rp_nng_tee_inner(struct rp_logengine *tee);
void rp_nng_tee_free(struct rp_logengine *tee);

/* One peer as this node sees it, for /metrics. */
struct rp_nng_peer_stats {
    uint32_t epoch;
    char name[64];
    bool connected;       /* a connection is up and its hello came */
    bool down;            /* silent past peer_timeout */
    uint64_t reconnects;  /* connections made again after the last one dropped */
    uint64_t events_in;   /* its events taken in */
    uint64_t events_out;  /* this node's events sent to it */
    uint64_t gaps_filled; /* ranges asked of it and answered */
    uint64_t gaps_lost;   /* ranges it no longer kept (readers told to resync) */
    int64_t lag_ms;       /* the newest event taken in: from its publish to now */
    uint64_t interest;    /* topics and patterns it reads */
};
/* Up to <cap> peers into <out>; returns how many there are. Any thread. */
size_t rp_nng_stats(struct rp_nng *m, struct rp_nng_peer_stats *out, size_t cap);
/* Appends the per-peer metrics to <out>: Prometheus lines (revenprox_mesh_peer_*{peer=...}),
 * or, with <json>, a "mesh" member spliced into the JSON object <out> ends with. */
struct rp_buf;
void rp_nng_metrics(struct rp_nng *m, bool json, struct rp_buf *out);

#endif
