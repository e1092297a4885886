/* SPDX-License-Identifier: MIT */
#ifndef RP_CORE_HUB_H
#define RP_CORE_HUB_H
/*
 * The hub: the publish path and the topic table. A publish validates every event of a
 * batch, then under one lock assigns node-wide sequence numbers, sets the ids into the
 * already-encoded frames, appends them to their topics' logs and publishes the new
 * node-wide last sequence; then it tells each worker with subscribers of a topic that
 * the topic advanced (through hooks the server installs: the hub knows no sockets).
 * Readers (workers) read a topic's log under that topic's own lock.
 *
 * Ordering guarantee: every event with seq <= rp_hub_last_seq() is in its log. A reader
 * that delivers up to that snapshot, in seq order, never skips an event it will see later.
 *
 * Topics are reclaimed (with a QSBR domain in the config): one that no worker has
 * attached, none has a note queued for, nobody holds and whose log is empty leaves the
 * table and is freed once no thread can still be using it; max_topics bounds live topics.
 * So a thread keeps a topic pointer outside the hub lock only while it is online in the
 * domain (until its next quiescent state), or longer by attaching or holding the topic.
 * The thread that calls rp_qsbr_reclaim (housekeeping) needs no slot: frees happen there.
 * A topic created again gets a gap floor (docs/internals/hub.md): a reader resuming from
 * an id of the old one is told of a gap. Ids are never reused. Any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event_id.h"
#include "core/eventlog.h"
#include "core/logengine.h"

struct rp_frame;
struct rp_hub;
struct rp_logengine;
struct rp_qsbr;
struct rp_topic;

#define RP_HUB_MAX_WORKERS 64

enum rp_slow_policy {
    RP_SLOW_POLICY_DISCONNECT = 0,
    RP_SLOW_POLICY_DROP_OLDEST,
    RP_SLOW_POLICY_DROP_NEWEST,
    RP_SLOW_POLICY_BLOCK,
};

/* What applies to one topic; resolved once, when the topic is created. */
struct rp_topic_policy {
    struct rp_eventlog_limits history;
    enum rp_slow_policy slow;
    uint64_t lag_events;
    uint64_t lag_bytes;
};

typedef void (*rp_hub_policy_fn)(void *ctx, const char *name, size_t len,
                                 struct rp_topic_policy *out);
typedef void (*rp_hub_notify_fn)(void *ctx, unsigned worker, struct rp_topic *t);
/*
 * The interest in <t> changed: its worker mask went from 0 to non-zero (<on>) or back to 0
 * (the node gained its first local subscriber of <t>, or lost its last). Called exactly
 * once per transition, on the thread of the worker that attached or detached, with no hub
 * lock held (it may call into the hub). Calls for one topic from different workers may
 * run concurrently and arrive out of order (on from one worker before off from another):
 * count them (+1/-1, the sum is 1 while interested) or re-read rp_topic_interested().
 * <t> is borrowed for the call; a consumer that keeps it holds it (rp_topic_hold) from
 * within the call, since after an off the topic may be reclaimed.
 */
typedef void (*rp_hub_interest_fn)(void *ctx, struct rp_topic *t, bool on);

struct rp_hub_hooks {
    rp_hub_policy_fn policy_for; /* required */
    /* Per worker with subscribers of a topic a publish advanced, under the hub lock and
     * before the hub's last sequence moves past the event, so a worker that reads that
     * sequence finds the note already queued (a stream over many topics reads only the
     * topics with notes, yet still writes in sequence order). It only queues: no system
     * call, no lock but the queue's. A hook that queues <t> marks it first
     * (rp_topic_mark_pending), which keeps it from being reclaimed. May be NULL. */
    rp_hub_notify_fn topic_advanced;
    /* After the hub lock is released: wake the workers in <workers> (a bit per worker)
     * that topic_advanced queued notes for. May be NULL. */
    void (*workers_wake)(void *ctx, uint64_t workers);
    /* Per worker with a matching pattern, under the hub lock; may be NULL. A hook that
     * queues <t> holds it (rp_topic_hold) until the note is taken. */
    rp_hub_notify_fn topic_created;
    rp_hub_interest_fn topic_interest; /* cluster interest, upstream attach; may be NULL */
    /* A worker registered a pattern it had not registered (<on>), or dropped its last
     * registration of it (rp_hub_pattern_add, _remove): a cluster node listens for topics
     * it matches that appear on other nodes. Called with no hub lock held, once per
     * (pattern, worker) transition; calls from different workers may arrive out of order,
     * so count them. May be NULL. */
    void (*pattern_interest)(void *ctx, const char *pattern, size_t len, bool on);
    void *ctx;
};

struct rp_hub_config {
    uint64_t max_topics; /* live topics */
    uint64_t max_data;   /* bytes of one event's data */
    uint32_t epoch;      /* 0 = pick one at random */
    /* Where unlinked topics are retired (borrowed; outlives the topics retired to it).
     * NULL: topics are never reclaimed and live until the hub is freed. */
    struct rp_qsbr *qsbr;
    /* The sequence is a cluster's (the Redis engine assigns it; the node learns how far it
     * is a moment later): an id of this epoch past rp_hub_last_seq() is one this node has
     * not heard of yet, not an unknown one, and a resume from it waits for what follows. */
    bool shared_sequence;
    /* The node is in an NNG mesh: its ids are vectors (docs/internals/ids.md), its own part
     * first, then one part per origin it took events in from (rp_ingest_event.origin). */
    bool vector_ids;
};

/* One event to publish; everything is borrowed for the call. */
struct rp_publish_item {
    const char *topic;
    size_t topic_len;
    const char *event; /* NULL for none */
    size_t event_len;
    const char *data;
    size_t data_len;
    const char *pub_id; /* NULL for none: the publisher's idempotency key */
    size_t pub_id_len;
    /* Another topic of the previous item's update: the items' frames share a group, and a
     * stream reading several of their topics writes the update once (rp_frame.group). */
    bool same_update;
    /* Streams end after writing this event (rp_frame.ends_stream). */
    bool ends_stream;
};

/* One event sequenced elsewhere (rp_hub_ingest); borrowed for the call. */
struct rp_ingest_event {
    struct rp_publish_item item;
    uint64_t seq;    /* its sequence on this hub's epoch */
    int64_t wall_ms; /* when it was first appended (history_age counts from then) */
    uint64_t group;  /* the update it belongs to with events of other topics, as the
                      * publishing hub grouped it (rp_frame.group); 0: none */
    /* A mesh peer's event (vector_ids): the epoch of its origin and its sequence there
     * (rp_frame.origin); 0, 0 for none. Such an event's id carries the origin's part. */
    uint32_t origin;
    uint64_t origin_seq;
    /* A fill (a history taken in after later events of its origin): the other parts its id
     * carries instead of the hub's, which it leaves alone. NULL: the hub's. */
    const struct rp_event_vector *id_parts;
};

struct rp_publish_result {
    uint64_t seq;
    bool duplicate; /* an event with the same pub_id was already in the topic's log */
};

/* Why a publish was refused: the status a user sees, the message, and which event. */
struct rp_hub_error {
    int status;
    char message[160];
    size_t index;
};

struct rp_hub *rp_hub_new(const struct rp_hub_config *config, const struct rp_hub_hooks *hooks);
void rp_hub_free(struct rp_hub *hub);
uint32_t rp_hub_epoch(const struct rp_hub *hub);
/* The config's shared_sequence. */
bool rp_hub_shared_sequence(const struct rp_hub *hub);
/* The node-wide sequence of the newest event in any log (acquire). */
uint64_t rp_hub_last_seq(const struct rp_hub *hub);
/* Formats the id of <seq> on this hub (RP_EVENT_ID_MAX + 1 bytes); returns its length. Its
 * own part only: with vector_ids, what a frame carries is rp_hub_format_position's. */
size_t rp_hub_format_id(const struct rp_hub *hub, uint64_t seq, char *out);
/* The config's vector_ids. */
bool rp_hub_vector_ids(const struct rp_hub *hub);
/*
 * Where a stream that starts now starts (vector_ids), read at once: the last sequence into
 * *<seq>; into <floor> (may be NULL) that as the node's own part, then per other origin the
 * newest sequence taken in or heard of (rp_hub_origin_heard), whichever is later: what a
 * live stream does not want; into <id> (may be NULL; RP_EVENT_VECTOR_MAX + 1 bytes) the id a
 * frame of that sequence carries (`<epoch>-0` and the parts before the first event).
 */
void rp_hub_position(struct rp_hub *hub, uint64_t *seq, struct rp_event_vector *floor, char *id);
/* Origin <epoch> said it had sequenced up to <seq> (a mesh peer's hello or heartbeat): its
 * events up to there were published before any stream that starts from now on. */
void rp_hub_origin_heard(struct rp_hub *hub, uint32_t epoch, uint64_t seq);
/* Origin <epoch> is gone for good (a peer that came back under a new epoch): later ids no
 * longer carry its part; a client's id that still does resumes the others normally. */
void rp_hub_drop_origin(struct rp_hub *hub, uint32_t epoch);

/*
 * Publishes <n> events all or nothing, for a public publisher. 0 and <out>[i] filled; or
 * -EINVAL (400/413/422: bad topic, event type, data), -EPERM (403: a topic under
 * RP_TOPIC_SYSTEM_PREFIX, which only the server publishes to), -EAGAIN (a topic's slow
 * subscribers block publishers; nothing was appended: retry later; the workers of the
 * blocking topic are asked to report their cursors again), -ENOSPC (503: too many topics),
 * -EIO (507 on a full disk, else 503: the log engine cannot write), -EBUSY (503: the log
 * engine is behind; retry shortly), -EOPNOTSUPP (503: the sequence is a cluster's, so only
 * the cluster may sequence: see shared_sequence), with <err> filled.
 */
int rp_hub_publish(struct rp_hub *hub, const struct rp_publish_item *items, size_t n,
                   struct rp_publish_result *out, struct rp_hub_error *err);
/* What rp_hub_publish (<system>: rp_hub_publish_system) checks before it sequences
 * anything, for a publish that another engine sequences (the cluster): 0, or -EINVAL /
 * -EPERM with <err> filled as it would be. */
int rp_hub_check(const struct rp_hub *hub, const struct rp_publish_item *items, size_t n,
                 bool system, struct rp_hub_error *err);
/* rp_hub_publish for the server's own feeds: topics under RP_TOPIC_SYSTEM_PREFIX are
 * allowed (any other topic too). Never exposed to a request. */
int rp_hub_publish_system(struct rp_hub *hub, const struct rp_publish_item *items, size_t n,
                          struct rp_publish_result *out, struct rp_hub_error *err);
/*
 * Appends <n> events that were sequenced elsewhere (the process an upgrade took over from,
 * the disk log, a cluster peer, an upstream), all or nothing, each with the <seq> and
 * <wall_ms> it was first given; ids are <seq> on this hub's epoch. Sequences must increase
 * and the first must be after rp_hub_last_seq(). Topics under RP_TOPIC_SYSTEM_PREFIX are
 * allowed, publisher ids are not deduplicated and slow_policy block does not hold ingest
 * back (the events exist already). Like a publish, it stores the new last sequence and then
 * wakes the workers with subscribers, so it may run while the node serves. 0; or -EINVAL
 * (400/413: an invalid event), -ERANGE (409: a sequence not increasing, or not after the
 * last), -ENOSPC (503: too many topics), with <err> (may be NULL) filled.
 */
int rp_hub_ingest(struct rp_hub *hub, const struct rp_ingest_event *evs, size_t n,
                  struct rp_hub_error *err);
/*
 * rp_hub_ingest for an engine that assigns the sequences of a whole cluster (the Redis
 * engine): a node takes in only the topics its clients read, and fills a topic it begins to
 * read from the shared log, so one topic's events may come after the node has taken in later
 * sequences of other topics. All <n> events are of <topic> (<len> bytes), increasing; those at
 * or before the topic's newest event are skipped (a fill repeats what the topic has), the
 * others appended, possibly before rp_hub_last_seq(), which moves up to the newest if it is
 * behind. Events up to <lost_upto> (0: none) are declared gone for the topic first when that
 * is past what it has (the shared log trimmed them): a reader resuming from before is told
 * (event: resync). Wakes the workers with subscribers like rp_hub_ingest. 0; or -EINVAL
 * (400/413: an invalid event, or one of another topic), -ERANGE (409: not increasing),
 * -ENOSPC (503: too many topics), with <err> (may be NULL) filled.
 */
int rp_hub_ingest_topic(struct rp_hub *hub, const char *topic, size_t len,
                        const struct rp_ingest_event *evs, size_t n, uint64_t lost_upto,
                        struct rp_hub_error *err);
/*
 * A shared sequence: the cluster engine begins to fill <t>'s log (its first reader came):
 * streams that read <t> write nothing until rp_hub_topic_filled, so a stream over several
 * topics never writes a later event of one before an earlier one of <t> the fill brings.
 * Call while <t> is safe (the interest hook).
 */
void rp_topic_set_filling(struct rp_topic *t);
bool rp_topic_filling(const struct rp_topic *t);
/* The fill of <topic> is in (after its rp_hub_ingest_topic): its streams go on; they are
 * told as if it advanced. A no-op for a topic that does not exist. Any thread. */
void rp_hub_topic_filled(struct rp_hub *hub, const char *topic, size_t len);
/*
 * Continues the node-wide sequence after <last_seq> when it is ahead of the hub's (events
 * up to it were sequenced elsewhere and may all be gone: an upgrade, a peer), and stores it
 * as the last sequence; never moves back. No event is appended and nobody is woken.
 */
void rp_hub_advance_seq(struct rp_hub *hub, uint64_t last_seq);
/*
 * The log engine that keeps what this hub commits (core/logengine.h); NULL (the default):
 * memory only. From then on every published batch is handed to it in sequence order,
 * after the hub lock is released and never on a path that waits for the disk; events
 * taken in by rp_hub_ingest are not (they come from an engine, or were appended by the
 * process an upgrade took over from), but it is told their sequences and those
 * rp_hub_advance_seq skips to (handed_out), so that its reservation covers them. A publish
 * is refused instead of sequenced while the engine is failed (rp_hub_engine_state), its
 * queue is full, or its reservation does not cover the new sequences: see rp_hub_publish.
 * Set it while nothing publishes (at start, or with the workers quiesced for an upgrade);
 * setting NULL hands over what is pending first. Not owned.
 */
void rp_hub_set_engine(struct rp_hub *hub, struct rp_logengine *engine);
struct rp_logengine *rp_hub_engine(const struct rp_hub *hub);
/* The engine's state_changed hook: <err> < 0 refuses publishes until it is called with 0. */
void rp_hub_engine_state(struct rp_hub *hub, int err);
/* The engine's failed state as last reported: a negative errno, or 0. */
int rp_hub_engine_error(const struct rp_hub *hub);
/* The engine's durable_advanced hook: hands over batches it refused while its queue was
 * full. Any thread, no lock held. */
void rp_hub_engine_progress(struct rp_hub *hub);
/*
 * Reads history older than the memory window from the engine (rp_logengine_read, same
 * arguments): blocking I/O, never from a worker loop. -ENOENT without an engine. Setting
 * another engine waits for reads in progress.
 */
int rp_hub_engine_read(struct rp_hub *hub, const char *topic, size_t len, uint64_t after,
                       size_t max, rp_logengine_event_fn fn, void *ctx);
/* The sequence up to which rp_hub_forget_all made events gone for every topic (0: none). */
uint64_t rp_hub_lost_seq(struct rp_hub *hub);
/* The frame the hub would make for <it> as event <seq> (history read from the engine). */
struct rp_frame *rp_hub_frame(const struct rp_hub *hub, const struct rp_publish_item *it,
                              uint64_t seq);
/* Hands every pending batch to the engine now. Any thread, no hub lock held. */
void rp_hub_engine_drain(struct rp_hub *hub);
/*
 * Events up to <seq> are gone for every topic, existing or created later: an unclean stop
 * lost what a previous run sequenced after its last durable event, some of which may have
 * reached clients. A reader resuming from before <seq> is told of a gap (event: resync).
 */
void rp_hub_forget_all(struct rp_hub *hub, uint64_t seq);
/*
 * Events up to <seq> are not in memory, though the engine may keep them: every topic, old
 * and new, counts them as evicted from its window, so a resume from before <seq> is a gap
 * that the engine's history serves when it can (start-up loads only the newest history).
 */
void rp_hub_memory_floor(struct rp_hub *hub, uint64_t seq);

/*
 * What an upgrade hands over besides the events, so that a resume from before them is still
 * told of the gap: the gap floors of reclaimed topics (by slot of a hash that is the same in
 * every process) and each topic's evicted sequence. rp_hub_foreach_floor calls <fn> for every
 * non-zero floor, under the hub lock; rp_hub_raise_floor and rp_hub_forget only ever raise
 * (rp_hub_forget: the topic's log, or the floor its name will start from when created).
 */
typedef void (*rp_hub_floor_fn)(void *ctx, uint32_t slot, uint64_t seq);
void rp_hub_foreach_floor(struct rp_hub *hub, rp_hub_floor_fn fn, void *ctx);
void rp_hub_raise_floor(struct rp_hub *hub, uint32_t slot, uint64_t seq);
void rp_hub_forget(struct rp_hub *hub, const char *name, size_t len, uint64_t seq);
/* rp_hub_forget for events of mesh origin <origin> up to its sequence <upto>: a resume
 * from an id another node framed is told when it lacks some (rp_topic_vector_gap); <seq>
 * (0: none) as for rp_hub_forget. */
void rp_hub_forget_origin(struct rp_hub *hub, const char *name, size_t len, uint64_t seq,
                          uint32_t origin, uint64_t upto);
/* Per origin, the newest sequence there of its events in the log of <name> (none if the
 * topic does not exist); O(events kept) under the hub lock. */
void rp_hub_origins_newest(struct rp_hub *hub, const char *name, size_t len,
                           struct rp_event_vector *out);
/* Evicts every event of the topic <name> now, if it exists (an expired session's private
 * events: nobody is owed them), so reclamation can free it. A reader behind is told of the
 * gap as for any eviction. */
void rp_hub_drop(struct rp_hub *hub, const char *name, size_t len);
/* Events and bytes kept in all logs (for metrics; O(topics)). */
void rp_hub_log_totals(struct rp_hub *hub, uint64_t *events, uint64_t *bytes);
/* Evicts events past their age from every log; returns how many. */
uint64_t rp_hub_expire(struct rp_hub *hub, int64_t now_ms);
/*
 * Unlinks every topic that can go (see the top of this file) and retires it to the
 * config's QSBR domain; returns how many. Starts a new epoch first, so topics looked up
 * since the last call go on a later one. Housekeeping calls it once a second after
 * rp_hub_expire, then rp_qsbr_reclaim to free what is past its grace period. O(topics)
 * under the hub lock. 0 without a domain.
 */
size_t rp_hub_reclaim(struct rp_hub *hub);
/* Topics reclaimed since the hub was created (a counter for metrics). */
uint64_t rp_hub_topics_reclaimed(const struct rp_hub *hub);

/* The topic named <name>, created with an empty log if needed (at max_topics, after trying
 * to reclaim a few others); NULL with *<why> set when the name is invalid or the topic
 * table is full. Borrowed until the caller's next quiescent state. */
struct rp_topic *rp_hub_topic(struct rp_hub *hub, const char *name, size_t len, const char **why);
/* The topic named <name> if it exists, else NULL. Borrowed until the caller's next
 * quiescent state. */
struct rp_topic *rp_hub_find(struct rp_hub *hub, const char *name, size_t len);
/* Calls <fn> for each topic that existed at the call (all, or those <pattern> matches when
 * not NULL), without the hub lock: the table is copied first, so a long walk never holds
 * publishing up. Each topic is borrowed until the caller's next quiescent state (a topic
 * reclaimed meanwhile is still valid memory, with an empty log). */
void rp_hub_foreach_topic(struct rp_hub *hub, const char *pattern, size_t pattern_len,
                          void (*fn)(void *ctx, struct rp_topic *t), void *ctx);
uint64_t rp_hub_topic_count(struct rp_hub *hub);
/*
 * Sets max_topics. Lowering it below the live topics removes none: they stay until
 * reclamation frees them, and while the count is at or over the cap a new topic is created
 * only in place of one reclaimed for it (the count never grows). So an upgrade adopts every
 * handed-over topic under a hub created without a cap, then sets the configured one.
 */
void rp_hub_set_max_topics(struct rp_hub *hub, uint64_t max_topics);

/*
 * Registers <pattern> (a checked filter with wildcards) for <worker>: topics created
 * afterwards that it matches are announced with the topic_created hook. Then calls <fn>
 * for every topic it matched when it was registered (taken under the same lock, so no
 * topic falls between; <fn> itself runs after the lock is released, so it may attach).
 */
void rp_hub_pattern_add(struct rp_hub *hub, const char *pattern, size_t len, unsigned worker,
                        void (*fn)(void *ctx, struct rp_topic *t), void *ctx);
void rp_hub_pattern_remove(struct rp_hub *hub, const char *pattern, size_t len, unsigned worker);

/* A worker gains its first subscriber of <t> (attach) or loses its last (detach). The
 * first attach and the last detach of all workers call the topic_interest hook. */
void rp_topic_attach(struct rp_topic *t, unsigned worker);
void rp_topic_detach(struct rp_topic *t, unsigned worker);
/* True while some worker has <t> attached (its worker mask is not 0). */
bool rp_topic_interested(const struct rp_topic *t);
/*
 * Keeps <t> from being reclaimed until the matching rp_topic_release, so a pointer can be
 * kept past quiescent states (a queued note, a cluster subscription). Call it while <t> is
 * safe: from a hub hook, or before the caller's next quiescent state after the hub handed
 * it out. After the release <t> stays valid until the caller's next quiescent state.
 */
void rp_topic_hold(struct rp_topic *t);
void rp_topic_release(struct rp_topic *t);
void rp_topic_count_subscribers(struct rp_topic *t, int64_t delta);
/* Wake-up coalescing: true when <t> was not yet pending for <worker> (so the caller
 * queues it); the worker clears the mark before it reads the topic. A pending topic is
 * not reclaimed; after clearing, the worker may use it until its next quiescent state. */
bool rp_topic_mark_pending(struct rp_topic *t, unsigned worker);
void rp_topic_clear_pending(struct rp_topic *t, unsigned worker);
/* slow_policy block: <worker> reports the lowest cursor of its live subscribers of <t>
 * (UINT64_MAX for none). Publishing to <t> waits (-EAGAIN) while appending would put that
 * cursor over the lag limit or evict an event after it. A no-op for other policies. */
void rp_topic_report_cursor(struct rp_topic *t, unsigned worker, uint64_t cursor);
/* Like rp_topic_report_cursor, but only ever lowers the worker's report. */
void rp_topic_lower_cursor(struct rp_topic *t, unsigned worker, uint64_t cursor);

const char *rp_topic_name(const struct rp_topic *t, size_t *len);
const uint8_t *rp_topic_uuid_bytes(const struct rp_topic *t);
const struct rp_topic_policy *rp_topic_policy(const struct rp_topic *t);
uint64_t rp_topic_last_seq(const struct rp_topic *t);
int64_t rp_topic_subscribers(const struct rp_topic *t);

/* What a reader at some cursor has not been sent yet. */
struct rp_topic_lag {
    uint64_t events;
    uint64_t bytes;
    bool gap;           /* events after the cursor were already evicted */
    uint64_t first_seq; /* oldest kept event, 0 if the log is empty */
    uint64_t last_seq;  /* newest event, 0 if none ever */
    /* Newest event known gone: evicted, or (a topic created again) of the earlier topic of
     * this name; may exceed last_seq. A reader before it missed events. */
    uint64_t evicted_seq;
};

/*
 * Takes references to up to <max> frames with seq in (<after>, <upto>], oldest first,
 * into <frames>/<seqs>; returns how many. Fills <lag> (may be NULL) for <after>.
 */
size_t rp_topic_read(struct rp_topic *t, uint64_t after, uint64_t upto, struct rp_frame **frames,
                     uint64_t *seqs, size_t max, struct rp_topic_lag *lag);
/*
 * For a stream resuming from a mesh id another node framed (<floor>, its parts): true when
 * something gone from <t> is an event the id lacks (rp_eventlog_vector_gap); *<evicted>: the
 * sequence past which <t> keeps everything, where its read starts.
 */
bool rp_topic_vector_gap(struct rp_topic *t, const struct rp_event_vector *floor,
                         uint64_t *evicted);
/* Per mesh origin, the newest sequence there of its events in <t>'s log. O(events kept). */
void rp_topic_origins_newest(struct rp_topic *t, struct rp_event_vector *out);
/* Fills <out> for a reader of <t> at cursor <after> (rp_topic_read reading nothing). */
void rp_topic_lag(struct rp_topic *t, uint64_t after, struct rp_topic_lag *out);
/* The sequence after which at most <events> events and <bytes> bytes remain. */
uint64_t rp_topic_seq_keeping(struct rp_topic *t, uint64_t events, uint64_t bytes);
/* The newest sequence <s> such that the events in (<after>, <s>] are at most <events> in
 * number and <bytes> in size (at least one event when any exists after <after>). */
uint64_t rp_topic_seq_within(struct rp_topic *t, uint64_t after, uint64_t events, uint64_t bytes);

/* A copy of one log entry for the query API. */
struct rp_topic_entry {
    uint64_t seq;
    int64_t wall_ms;
    struct rp_frame *frame; /* a reference the caller drops */
};
/* Stats of a topic's log, read under its lock. */
struct rp_topic_stats {
    uint64_t count, bytes, first_seq, last_seq, n_appended;
    uint64_t evicted_seq; /* events up to it are gone (a resume from before it is told) */
};
void rp_topic_stats(struct rp_topic *t, struct rp_topic_stats *out);
/* The seq of the newest event of <t>'s memory window with this publisher id, or 0. */
uint64_t rp_topic_find_pub_id(struct rp_topic *t, const char *id, size_t len);
/* Up to <max> entries with seq > <after>; returns how many. */
size_t rp_topic_entries(struct rp_topic *t, uint64_t after, struct rp_topic_entry *out, size_t max);

#endif
