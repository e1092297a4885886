/* SPDX-License-Identifier: MIT */
#ifndef RP_STORE_SEGMENT_H
#define RP_STORE_SEGMENT_H
/*
 * One segment file of the disk log: its name (the first sequence it may hold, 20 digits,
 * ".seg"), its sparse index (sequence -> offset, every RP_SEGMENT_INDEX_BYTES or so, kept
 * in memory and rebuilt from the records at open), and a scanner that walks its records
 * through the file ops, validating each (record.h). Not responsible for deciding when to
 * roll, sync or drop a segment (store_disk.c). A scanner and an index belong to one thread
 * at a time; the caller locks.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hub.h"
#include "store/record.h"

struct rp_fileops;

#define RP_SEGMENT_NAME_MAX 32 /* "00000000000000000001.seg" and its NUL fit */
#define RP_SEGMENT_INDEX_BYTES 4096

/* Writes the file name of the segment starting at <first_seq> into <out>. */
void rp_segment_name(uint64_t first_seq, char out[RP_SEGMENT_NAME_MAX]);
/* True when <name> is a segment's file name; *<first_seq> set. Strict: 20 digits, ".seg". */
bool rp_segment_parse_name(const char *name, uint64_t *first_seq);

struct rp_segment_index_entry {
    uint64_t seq;
    uint64_t off;
};

/* Zeroed is an empty index. */
struct rp_segment_index {
    struct rp_segment_index_entry *e;
    size_t n, cap;
};

/* Notes the record <seq> at <off>: kept when it is the first or at least <every> bytes
 * after the last kept one. Offsets and sequences must increase. */
void rp_segment_index_add(struct rp_segment_index *ix, uint64_t seq, uint64_t off, uint64_t every);
/* Where to start reading for the first record with seq > <after>: the offset of the last
 * entry whose seq is at most <after> + 1, or 0. O(log n). */
uint64_t rp_segment_index_find(const struct rp_segment_index *ix, uint64_t after);
/* Forgets the entries at or past <off> (the file was truncated there). */
void rp_segment_index_cut(struct rp_segment_index *ix, uint64_t off);
void rp_segment_index_fini(struct rp_segment_index *ix);

/*
 * Reads a segment's records in order from <off> up to <end>, in chunks. Records are
 * borrowed until the next call. init cannot fail; fini frees the buffer.
 */
struct rp_segment_scan {
    const struct rp_fileops *fo;
    int fd;
    uint64_t off; /* file offset of buf[pos] */
    uint64_t end;
    size_t max_record;
    char *buf;
    size_t cap, len, pos;
    const char *why; /* after -EBADMSG: what was wrong at <off> */
};

void rp_segment_scan_init(struct rp_segment_scan *s, const struct rp_fileops *fo, int fd,
                          uint64_t off, uint64_t end, size_t max_record);
void rp_segment_scan_fini(struct rp_segment_scan *s);
/*
 * The next record: 1 with <ev>, *<epoch> and *<rec_off> set; 0 at <end> exactly; -EBADMSG
 * when the bytes at s->off are not a whole valid record (torn, corrupt, or cut by <end>),
 * s->why saying why; another -errno when reading failed.
 */
int rp_segment_scan_next(struct rp_segment_scan *s, struct rp_ingest_event *ev, uint32_t *epoch,
                         uint64_t *rec_off);
/* True when the next call must read the file again, which moves the buffer and so ends the
 * life of every record returned so far: a caller batching records hands them on first. */
bool rp_segment_scan_needs_read(const struct rp_segment_scan *s);

#endif
