/* SPDX-License-Identifier: MIT */
#ifndef RP_STORE_STORE_DISK_H
#define RP_STORE_STORE_DISK_H
/*
 * The disk log: a log engine (core/logengine.h) that keeps every committed event in
 * append-only segment files of one directory, written by a thread of its own. Appends from
 * any thread go to a bounded queue (full: refused, never blocking); the writer batches
 * them into few writes and syncs by policy:
 *   always    one fsync after each group of writes, covering every append queued before it
 *             (group commit); durable_seq moves after the fsync. Loses nothing acknowledged.
 *   interval  fsync at least every fsync_interval_ms while something is unsynced (and
 *             early at queue_events or queue_bytes unsynced); durable_seq moves after
 *             each fsync. A power loss can lose what was written in
 *             the last interval (never what durable_seq covered); a process crash loses
 *             nothing written.
 *   none      durable_seq moves after the write, before any fsync: a process crash loses
 *             nothing written, a power loss whatever the kernel had not flushed (~30 s).
 * At open it recovers: every segment's records are checked, a torn or corrupt tail of the
 * newest is truncated at the first bad record (the count of records and bytes lost is in
 * the info and the log), sequences continue. The reservation that keeps sequences from
 * being reused (core/logengine.h) lives in <dir>/store.mark, two checksummed 32-byte slots
 * written in turn, so a torn write of one leaves the other. Retention drops whole oldest
 * segments, on the writer thread. A failed write or fsync puts the engine in a failed
 * state (info.failed, the state_changed hook); the batches stay queued, the file is cut
 * back to what was whole, and the writer retries every retry_ms until the disk takes them
 * again. Not responsible for ids, topics' memory windows or deciding when a publish is
 * answered (the hub and the API). Layout: docs/internals/store.md.
 */
#include <stdint.h>

struct rp_fileops;
struct rp_logengine;
struct rp_logengine_hooks;

enum rp_store_fsync {
    RP_STORE_FSYNC_ALWAYS = 0,
    RP_STORE_FSYNC_INTERVAL,
    RP_STORE_FSYNC_NONE,
};

/* Zero means the default for every number. */
struct rp_store_config {
    const char *dir; /* must exist; borrowed for the call */
    enum rp_store_fsync fsync;
    uint32_t fsync_interval_ms; /* 1000 */
    uint64_t segment_bytes;     /* a segment is rolled past this size; 64 MiB */
    uint64_t queue_events;      /* accepted, not yet written (and unsynced); 65536 */
    uint64_t queue_bytes;       /* the same in bytes; 64 MiB */
    uint64_t retain_segments;   /* 0: no limit */
    uint64_t retain_bytes;      /* 0: no limit */
    uint64_t retain_events;     /* by sequences from a segment's first to the newest; 0: none */
    int64_t retain_age_ms;      /* by the newest record's wall time; 0: no limit */
    uint64_t reserve_ahead;     /* sequences reserved per mark write; 1 << 20 */
    uint32_t retry_ms;          /* after a failed write or fsync; 200 */
    /* interval and none: the writer lets a queue that is still small gather appends this
     * long before it writes (one wake-up and one write for many publishes, which answer at
     * the append and so never wait for it); always writes at once. 2; -1 for none. */
    int32_t linger_ms;
    uint64_t max_record;              /* longest record read back; RP_RECORD_MAX */
    const struct rp_fileops *fileops; /* NULL: rp_fileops_posix(); borrowed, outlives */
};

/*
 * Opens (recovering) or creates the log in <config>->dir and starts its writer. 0 with
 * *<out> set (rp_logengine_close frees it), or -errno: the directory cannot be listed or
 * a segment or the mark cannot be opened, read or written (logged). <hooks> is copied;
 * NULL for none.
 */
int rp_store_disk_open(const struct rp_store_config *config, const struct rp_logengine_hooks *hooks,
                       struct rp_logengine **out);

#endif
