/* SPDX-License-Identifier: MIT */
#ifndef RP_CORE_EVENTLOG_H
#define RP_CORE_EVENTLOG_H
/*
 * One topic's log: a ring of encoded frames in increasing sequence order, bounded by
 * count, bytes and age. Subscribers read it through cursors (a sequence number), so the
 * log is also every subscriber's queue: lag is measured here, in events and bytes, in
 * O(log n) without walking. Not responsible for locking: the hub serialises writers and
 * readers of one log. Pure memory; no threads of its own.
 */
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/event_id.h"

struct rp_frame;

struct rp_eventlog_limits {
    uint64_t max_count;
    uint64_t max_bytes;
    int64_t max_age_ms;
};

struct rp_eventlog_entry {
    uint64_t seq;
    uint64_t end_bytes; /* bytes appended to this log up to and including this entry */
    int64_t time_ms;    /* monotonic time of the append, for age eviction */
    int64_t wall_ms;    /* wall-clock time of the append, for users */
    struct rp_frame *frame;
};

struct rp_eventlog {
    struct rp_eventlog_entry *ring;
    uint64_t ring_cap; /* power of two, grows up to max_count */
    uint64_t head;     /* index of the oldest entry */
    uint64_t count;
    uint64_t bytes;          /* bytes of the entries kept */
    uint64_t appended_bytes; /* bytes ever appended */
    uint64_t n_appended;     /* events ever appended */
    uint64_t last_seq;       /* sequence of the newest event ever appended; 0 if none */
    uint64_t evicted_seq;    /* sequence of the newest evicted (or forgotten) event; 0 if none */
    /* A mesh node's log, once it evicted or forgot events: what per origin (NULL before,
     * and on a node alone, so a topic costs one pointer more). */
    struct rp_eventlog_origins *origins;
    struct rp_eventlog_limits limits;
};

/* For a resume from a mesh id another node framed (docs/internals/ids.md). */
struct rp_eventlog_origins {
    uint64_t own_evicted;           /* the newest of this node's own events evicted */
    struct rp_event_vector evicted; /* each other origin's newest sequence evicted */
    bool forgot; /* a range gone without its origins being known (rp_eventlog_forget) */
};

void rp_eventlog_init(struct rp_eventlog *log, const struct rp_eventlog_limits *limits);
/* Drops every entry (their frame references too). */
void rp_eventlog_fini(struct rp_eventlog *log);
/* Changes the bounds; entries over the new ones are evicted now. */
void rp_eventlog_set_limits(struct rp_eventlog *log, const struct rp_eventlog_limits *limits,
                            int64_t now_ms);
/*
 * Appends <frame> with <seq> (greater than every seq appended before), taking over the
 * caller's reference; evicts the oldest entries over the count and byte bounds (the new
 * entry itself is kept even if it alone exceeds max_bytes).
 */
void rp_eventlog_append(struct rp_eventlog *log, struct rp_frame *frame, uint64_t seq,
                        int64_t now_ms, int64_t wall_ms);
/* Evicts entries older than max_age_ms; returns how many. */
uint64_t rp_eventlog_expire(struct rp_eventlog *log, int64_t now_ms);
/* Evicts every entry (an expired session's private events); returns how many. */
uint64_t rp_eventlog_drop_all(struct rp_eventlog *log);
/* Index (0 = oldest kept) of the first entry with seq > <after>; count if none. */
uint64_t rp_eventlog_find_after(const struct rp_eventlog *log, uint64_t after);
/* The entry at index <i> (0 = oldest); borrowed until the next change of the log. */
const struct rp_eventlog_entry *rp_eventlog_at(const struct rp_eventlog *log, uint64_t i);
/*
 * Bytes appended to <log> before the entry at index <idx> (0 = oldest kept; <idx> may be
 * count): the bytes of the entries from <idx> on are appended_bytes minus this. O(1).
 */
uint64_t rp_eventlog_bytes_before(const struct rp_eventlog *log, uint64_t idx);
/*
 * Declares that events up to <seq> may have existed and are gone (a topic created again
 * after an earlier one of its name was reclaimed): a reader before <seq> sees a gap. Only
 * raises evicted_seq; the next append must still be after last_seq.
 */
void rp_eventlog_forget(struct rp_eventlog *log, uint64_t seq);
/* rp_eventlog_forget for a range of one origin's events, up to its sequence <upto> there
 * (<seq>, this log's, may be 0: readers on this node are not owed the announcement). */
void rp_eventlog_forget_origin(struct rp_eventlog *log, uint64_t seq, uint32_t origin,
                               uint64_t upto);
/*
 * True when an event evicted from <log> is one the client of a mesh id another node framed
 * may lack: it is after that id's part for its origin (<self>: this node's epoch, for its own
 * events), or its origin is not known (a forgotten range).
 */
bool rp_eventlog_vector_gap(const struct rp_eventlog *log, uint32_t self,
                            const struct rp_event_vector *floor);
/* True when events with seq > <after> were evicted, so a reader at <after> missed some. */
static inline int
rp_eventlog_has_gap(const struct rp_eventlog *log, uint64_t after)
{
    return after < log->evicted_seq;
}

#endif
