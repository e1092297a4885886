/* SPDX-License-Identifier: MIT */
#ifndef RP_CORE_LOGENGINE_H
#define RP_CORE_LOGENGINE_H
/*
 * The log engine: where committed events live beyond the hub's memory window. The hub
 * hands each committed batch to the engine, learns back how far appends are durable, loads
 * history at start-up and reads history older than its window. One ops table, one backend
 * per file, chosen by the composition root: the memory engine (here; durable at once, keeps
 * nothing), the disk log (store/store_disk.h), the Redis engine (cluster). Not responsible
 * for ids, fan-out or memory history: the hub keeps those in every mode.
 *
 * Rules every engine keeps (nng's transport contract, Redis's write barrier):
 *  - append never blocks its caller and is never called with a hub lock held. Batches are
 *    appended in sequence order; an engine may refuse one (queue full), never reorder.
 *  - Ownership of a batch passes to the engine only when append returns 0; on failure the
 *    caller still owns it (and may retry or free it).
 *  - An engine never calls back into the hub synchronously from an op. It reports progress
 *    by storing the durable sequence (an atomic the hub may read from any thread) and then
 *    calling the hooks' durable_advanced from its own thread, with no engine lock held.
 *  - load and read deliver events through a callback shaped for rp_hub_ingest, on the
 *    calling thread, borrowed for the call.
 * Every op may be called from any thread unless it says otherwise; close only once, after
 * every other call has returned.
 *
 * Sequences are never reused, not even after an unclean stop, although events reach
 * clients before they are durable (the hub delivers at commit). So an engine that persists
 * keeps a reservation: reserved_seq is a sequence it has made durable as "handed out up to
 * here at most". The hub hands out (commits) a sequence only when it is <= reserved_seq,
 * and at start-up continues after the recovered info's reserved_seq (rp_hub_advance_seq),
 * keeping the epoch: a client holding any id of the previous run sees a higher sequence
 * next. Events in (last_seq, reserved_seq] of an unclean stop may have reached clients and
 * are gone: the hub treats them as evicted (a resume from before reserved_seq is told of
 * the gap). The hub also hands out sequences it never appends (events it takes in from a
 * peer, a sequence it declares gone): it tells the engine (handed_out), whose reservation
 * then runs ahead of those too, and a clean close records them, so a restart never reuses
 * one; they are of the hub's <epoch>, which a log with no event of its own yet records with
 * them (else a crash would lose the epoch those ids were given in). The memory engine reserves
 * everything (UINT64_MAX) and the hub starts a new epoch, since nothing survives a restart.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rp_ingest_event;

/* fsync latency buckets (info.fsync_us): upper bounds in microseconds, then the rest. */
#define RP_LOGENGINE_FSYNC_BUCKETS 10
extern const int64_t rp_logengine_fsync_bounds_us[RP_LOGENGINE_FSYNC_BUCKETS];

/*
 * One committed batch: <n> events in increasing sequence order, all of epoch <epoch>. The
 * events' strings point into the batch's own allocation (rp_logengine_batch_new copies
 * them), so the batch can outlive the request that published it. <link> belongs to the
 * engine while it owns the batch.
 */
struct rp_logengine_batch {
    struct rp_logengine_batch *link;
    uint32_t epoch;
    size_t n;
    size_t bytes; /* the events' topic, type, id and data bytes (for queue caps) */
    struct rp_ingest_event *evs;
};

/* A copy of <evs> (<n> >= 1 events, borrowed) in one allocation; never NULL. */
struct rp_logengine_batch *rp_logengine_batch_new(uint32_t epoch, const struct rp_ingest_event *evs,
                                                  size_t n);
void rp_logengine_batch_free(struct rp_logengine_batch *b);
/* The highest sequence of <b>. */
uint64_t rp_logengine_batch_last_seq(const struct rp_logengine_batch *b);

/*
 * Receives events from load and read, oldest first, <n> >= 1 at a time, all of <epoch>:
 * exactly what rp_hub_ingest takes. Borrowed for the call. Returns 0 to go on, or a
 * negative errno that stops the walk and is returned by the op.
 */
typedef int (*rp_logengine_event_fn)(void *ctx, uint32_t epoch, const struct rp_ingest_event *evs,
                                     size_t n);

/* How the engine talks back; installed by the composition root at open. */
struct rp_logengine_hooks {
    /* The durable sequence advanced to <seq> (already stored, so rp_logengine_durable_seq
     * reads at least <seq>). From the engine's own thread, never from inside an op, no
     * engine lock held; it must not block (it wakes the workers whose publishes wait with
     * RP_WAIT_DURABLE). May be NULL. */
    void (*durable_advanced)(void *ctx, uint64_t seq);
    /* The engine entered (<err> negative errno) or left (<err> == 0) its failed state.
     * Same thread rules as durable_advanced. May be NULL. */
    void (*state_changed)(void *ctx, int err);
    void *ctx;
};

/* What an engine found at open and how it is doing now (for the hub, /readyz, metrics). */
struct rp_logengine_info {
    /* At open */
    uint32_t epoch;           /* of the newest record; 0 when the engine holds none */
    uint64_t first_seq;       /* oldest kept event, 0 if none (kept current) */
    uint64_t last_seq;        /* newest intact event, 0 if none */
    uint64_t reserved_seq;    /* the previous run handed out at most up to here */
    bool unclean;             /* the previous run did not close the engine */
    uint64_t dropped_records; /* intact records lost behind a torn or corrupt spot */
    uint64_t dropped_bytes;   /* bytes truncated at recovery */
    /* Now */
    int failed;             /* 0, or the negative errno of the failing write or fsync */
    uint64_t durable_seq;   /* every appended event up to it is durable */
    uint64_t queued_events; /* accepted, not yet durable */
    uint64_t stored_bytes;  /* on disk (or in the server) */
    uint64_t n_segments;    /* files, for engines that have them */
    uint64_t n_fsyncs;
    uint64_t fsync_ns_total; /* time spent in fsync, for the mean latency */
    uint64_t fsync_us[RP_LOGENGINE_FSYNC_BUCKETS + 1]; /* fsyncs by latency (not cumulative) */
};

struct rp_logengine;

struct rp_logengine_ops {
    const char *name;
    /* Queues <b> (sequences after every earlier batch's). 0 and the engine owns <b>; or
     * -EAGAIN (queue full: refuse the publish, retry later), -EINVAL (out of order),
     * -ESHUTDOWN (closing); the caller still owns <b> then. Never blocks. */
    int (*append)(struct rp_logengine *e, struct rp_logengine_batch *b);
    /* Every appended event with seq <= the result is durable (acquire load). */
    uint64_t (*durable_seq)(const struct rp_logengine *e);
    /* The highest sequence the hub may hand out now (acquire load). */
    uint64_t (*reserved_seq)(const struct rp_logengine *e);
    /* The hub handed out sequences up to <seq> that it does not append (events taken in,
     * sequences declared gone): the reservation must cover them as it covers appended ones,
     * and a clean close must record them. Never blocks (at most it wakes the engine's
     * thread, which raises the reservation). NULL: the engine reserves nothing. */
    void (*handed_out)(struct rp_logengine *e, uint32_t epoch, uint64_t seq);
    /* Delivers every kept event with seq > <after>, oldest first, to <fn>. Start-up only,
     * before the first append. 0 or the first negative errno (of <fn> or of reading). */
    int (*load)(struct rp_logengine *e, uint64_t after, rp_logengine_event_fn fn, void *ctx);
    /* Delivers up to <max> kept events of topic <topic> (<len> bytes; NULL: of every topic)
     * with seq > <after>, oldest first, to <fn>. Blocking I/O: never from a worker loop. 0 or
     * negative errno. */
    int (*read)(struct rp_logengine *e, const char *topic, size_t len, uint64_t after, size_t max,
                rp_logengine_event_fn fn, void *ctx);
    void (*info)(struct rp_logengine *e, struct rp_logengine_info *out);
    /* Makes every accepted batch durable if it can, stops the engine's threads, frees it.
     * NULL is fine. */
    void (*close)(struct rp_logengine *e);
};

/* Every engine embeds this as its first member. */
struct rp_logengine {
    const struct rp_logengine_ops *ops;
};

/* The memory-only engine: keeps nothing, durable at once, reserves every sequence. */
struct rp_logengine *rp_logengine_memory_new(void);

/* The ops, spelled as calls. */
int rp_logengine_append(struct rp_logengine *e, struct rp_logengine_batch *b);
uint64_t rp_logengine_durable_seq(const struct rp_logengine *e);
uint64_t rp_logengine_reserved_seq(const struct rp_logengine *e);
/* The handed_out op; a no-op for an engine without one. */
void rp_logengine_handed_out(struct rp_logengine *e, uint32_t epoch, uint64_t seq);
int rp_logengine_load(struct rp_logengine *e, uint64_t after, rp_logengine_event_fn fn, void *ctx);
int rp_logengine_read(struct rp_logengine *e, const char *topic, size_t len, uint64_t after,
                      size_t max, rp_logengine_event_fn fn, void *ctx);
void rp_logengine_info(struct rp_logengine *e, struct rp_logengine_info *out);
void rp_logengine_close(struct rp_logengine *e);

#endif
