/* SPDX-License-Identifier: MIT */
#ifndef RP_STORE_STORE_PRIVATE_H
#define RP_STORE_STORE_PRIVATE_H
/*
 * The disk log's insides, shared by store_disk.c (open, append, the writer thread, the
 * mark, retention, close) and store_scan.c (recovery, load, read). Not a public header.
 *
 * Locking: <lock> guards the queue, the segment array and each segment's size, last
 * sequence, index and refs. The writer thread alone writes files and owns <unsynced>,
 * the write buffer and the active segment's descriptor for writing; readers pread any
 * segment they hold a ref on, outside the lock. A segment dropped by retention is unlinked
 * at once and freed (descriptor closed) when its last reader lets go.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/logengine.h"
#include "store/segment.h"
#include "store/store_disk.h"

struct rp_fileops;

struct rp_store_seg {
    uint64_t first_seq; /* from the file name */
    uint64_t last_seq;  /* newest record, 0 if none */
    int64_t last_wall_ms;
    uint64_t size; /* bytes of whole records */
    int fd;
    unsigned refs; /* the array's one, plus one per reader */
    struct rp_segment_index index;
};

struct rp_store_disk {
    struct rp_logengine base;
    struct rp_store_config cfg; /* defaults filled in; cfg.dir points at <dir> */
    char *dir;
    const struct rp_fileops *fo;
    struct rp_logengine_hooks hooks;
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* Accepted and not yet written, oldest first. */
    struct rp_logengine_batch *q_head, *q_tail;
    uint64_t q_events, q_bytes; /* queued, not yet written: what append's caps count */
    int64_t q_since_ms;         /* when the queue last became non-empty (monotonic) */
    uint64_t u_events, u_bytes; /* written, not yet durable (held for a rewrite) */
    uint64_t last_accepted;     /* highest sequence append took */
    bool closing;
    struct rp_store_seg **segs; /* oldest first; the last is the active one */
    size_t n_segs, cap_segs;

    /* Writer thread only. */
    struct rp_logengine_batch *unsynced_head, *unsynced_tail;
    uint64_t synced_size; /* of the active segment: what an fsync covered */
    uint64_t synced_last; /* its newest record then */
    uint64_t last_written;
    uint32_t last_epoch, mark_epoch;
    uint64_t mark_gen;
    int mark_fd;
    int64_t last_fsync_ms, next_retry_ms, next_retention_ms;
    char *wbuf;
    size_t wcap;

    _Atomic uint64_t durable;
    _Atomic uint64_t reserved;
    _Atomic uint64_t handed; /* the hub handed out up to here without appending (handed_out) */
    _Atomic uint32_t handed_epoch; /* of those sequences: the log's epoch before its first event */
    _Atomic int failed;
    _Atomic uint64_t n_fsyncs, fsync_ns, stored_bytes, n_segments;
    _Atomic uint64_t fsync_us[RP_LOGENGINE_FSYNC_BUCKETS + 1];
    struct rp_logengine_info opened; /* what recovery found */
};

/* The path of <name> in the store's directory, into <out> (PATH_MAX bytes). */
void rp_store_disk_path(const struct rp_store_disk *s, const char *name, char *out);
/* A new segment struct for <first_seq> on <fd> (size 0, no index), one ref. */
struct rp_store_seg *rp_store_disk_seg_new(uint64_t first_seq, int fd);
/* Drops one ref of <g>; the last closes its descriptor and frees it. Under the lock. */
void rp_store_disk_seg_unref(struct rp_store_disk *s, struct rp_store_seg *g);

/* The mark (store_mark.c). write: <reserved> with the clean flag <clean>, then fsync; on
 * success reserved_seq moves. open: reads it (creating the file), fills s->opened's
 * unclean, epoch and reserved_seq, and writes this run's reservation. 0 or -errno. */
int rp_store_mark_write(struct rp_store_disk *s, uint64_t reserved, bool clean);
/* A log with no event of its own yet takes the epoch of the sequences the hub handed out
 * (handed_out), so its mark names it. Writer thread (or close). */
void rp_store_adopt_epoch(struct rp_store_disk *s);
int rp_store_mark_open(struct rp_store_disk *s);

/* Recovery at open (store_scan.c): lists and checks the segments, truncates the newest's
 * bad tail, fills s->segs and s->opened. 0 or -errno. */
int rp_store_scan_recover(struct rp_store_disk *s);
/* The load and read ops (store_scan.c). */
int rp_store_scan_load(struct rp_logengine *e, uint64_t after, rp_logengine_event_fn fn, void *ctx);
int rp_store_scan_read(struct rp_logengine *e, const char *topic, size_t len, uint64_t after,
                       size_t max, rp_logengine_event_fn fn, void *ctx);

#endif
