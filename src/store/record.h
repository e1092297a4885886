/* SPDX-License-Identifier: MIT */
#ifndef RP_STORE_RECORD_H
#define RP_STORE_RECORD_H
/*
 * One event as the disk log stores it: a self-checking record (length, CRC-32C, epoch,
 * sequence, wall time, topic, event type, publisher id, data). The decoder is strict and
 * treats every byte as untrusted (a torn write, bit rot, a foreign file): any field out of
 * place is an error, never a guess. Not responsible for where records live (segment.h).
 * Pure functions; any thread.
 *
 * Layout, little-endian, RP_RECORD_HEADER bytes then the strings, no padding:
 *    0 u32 len       the whole record, header included
 *    4 u32 crc       CRC-32C of bytes [8, len)
 *    8 u16 version   1
 *   10 u16 flags     bit 0: has an event type, bit 1: has a publisher id; others 0
 *   12 u32 epoch
 *   16 u64 seq       >= 1
 *   24 i64 wall_ms
 *   32 u16 topic_len >= 1     34 u16 event_len     36 u16 pub_id_len     38 u16 0
 *   40 u32 data_len
 *   44 topic, event, pub_id, data
 */
#include <stddef.h>
#include <stdint.h>

struct rp_ingest_event;

#define RP_RECORD_HEADER 44
#define RP_RECORD_VERSION 1
/* The largest record any store writes or reads: max_data's own cap plus the header and
 * strings. A length field above it is corruption, not a record to wait for. */
#define RP_RECORD_MAX ((size_t)1073741824 + RP_RECORD_HEADER + 3 * 65535)

enum rp_record_parse {
    RP_RECORD_DONE = 0, /* one record decoded */
    RP_RECORD_MORE,     /* the bytes end inside a record that may still be whole */
    RP_RECORD_ERROR,    /* not a record */
};

/* Bytes rp_record_encode writes for <ev>, or 0 when a field is too long for the format
 * (topic, type or publisher id over 65535 bytes, a record over RP_RECORD_MAX). */
size_t rp_record_size(const struct rp_ingest_event *ev);
/* Writes <ev> of <epoch> at <out> (rp_record_size(<ev>) bytes, which the caller has room
 * for); returns that size. */
size_t rp_record_encode(uint32_t epoch, const struct rp_ingest_event *ev, void *out);
/* The length, sequence and wall time of a record this process encoded (trusted bytes, at
 * least RP_RECORD_HEADER): what indexing a write needs, without a second CRC pass. */
size_t rp_record_peek(const void *p, uint64_t *seq, int64_t *wall_ms);
/*
 * Decodes the record at the start of <p> (<len> bytes, untrusted), accepting none longer
 * than <max> (at most RP_RECORD_MAX). DONE: <ev> (pointing into <p>), *<epoch> and
 * *<size> (the record's bytes) are set. MORE: the bytes end inside a record; *<size> is
 * how many it claims (0 if even its length is cut). ERROR: *<why> says what was wrong.
 */
enum rp_record_parse rp_record_decode(const void *p, size_t len, size_t max,
                                      struct rp_ingest_event *ev, uint32_t *epoch, size_t *size,
                                      const char **why);

#endif
