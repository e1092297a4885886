/* SPDX-License-Identifier: MIT */
/*
 * The disk log's mark (store.mark): the reservation that keeps sequences from being reused
 * and the clean-close flag, in two checksummed 32-byte slots written in turn (generation
 * g goes to slot g % 2, then fsync), so a torn write of one leaves the other. Writer thread
 * (and open, before the writer starts). Layout: docs/internals/store.md.
 */
#include "store/store_private.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include "base/crc32c.h"
#include "base/log.h"
#include "store/fileops.h"

#define MARK_NAME "store.mark"
#define MARK_MAGIC 0x4B4D5052u /* "RPMK" */
#define MARK_SLOT 32
#define MARK_CLEAN 1u

void
rp_store_adopt_epoch(struct rp_store_disk *s)
{
    if (!s->last_epoch)
        s->last_epoch = atomic_load_explicit(&s->handed_epoch, memory_order_acquire);
}

/* The mark: <reserved> (and <epoch>, <clean>) in slot gen % 2, then fsync. */
int
rp_store_mark_write(struct rp_store_disk *s, uint64_t reserved, bool clean)
{
    rp_store_adopt_epoch(s);
    unsigned char b[MARK_SLOT] = {0};
    uint64_t gen = ++s->mark_gen;
    uint32_t v[2] = {MARK_MAGIC, clean ? MARK_CLEAN : 0};
    memcpy(b, v, 8);
    memcpy(b + 8, &gen, 8);
    memcpy(b + 16, &reserved, 8);
    memcpy(b + 24, &s->last_epoch, 4);
    s->mark_epoch = s->last_epoch; /* so that an emptied log still knows its epoch */
    uint32_t crc = rp_crc32c(b, 28);
    memcpy(b + 28, &crc, 4);
    int rc = s->fo->pwrite(s->fo->ctx, s->mark_fd, b, sizeof(b), (gen % 2) * MARK_SLOT);
    if (rc == 0)
        rc = s->fo->fsync(s->fo->ctx, s->mark_fd);
    if (rc == 0)
        atomic_store_explicit(&s->reserved, reserved, memory_order_release);
    else
        s->mark_gen--; /* retry into the same slot: the other one holds the last good mark */
    return rc;
}

/* Reads the newer valid slot: 0 with the fields set, or -ENOENT when neither is valid. */
static int
mark_read(struct rp_store_disk *s, uint64_t *reserved, bool *clean, uint32_t *epoch)
{
    unsigned char b[2 * MARK_SLOT] = {0};
    ssize_t got = s->fo->pread(s->fo->ctx, s->mark_fd, b, sizeof(b), 0);
    if (got < 0)
        return (int)got;
    int found = -ENOENT;
    for (int i = 0; i < 2; i++) {
        unsigned char *p = b + i * MARK_SLOT;
        uint32_t magic, flags, crc;
        uint64_t gen;
        memcpy(&magic, p, 4);
        memcpy(&flags, p + 4, 4);
        memcpy(&gen, p + 8, 8);
        memcpy(&crc, p + 28, 4);
        if ((size_t)got < (size_t)(i + 1) * MARK_SLOT || magic != MARK_MAGIC ||
            crc != rp_crc32c(p, 28) || gen % 2 != (uint64_t)i || (found == 0 && gen < s->mark_gen))
            continue;
        s->mark_gen = gen;
        *clean = flags & MARK_CLEAN;
        memcpy(reserved, p + 16, 8);
        memcpy(epoch, p + 24, 4);
        found = 0;
    }
    return found;
}

/* Reads the mark (creating the file) and writes the reservation for this run. */
int
rp_store_mark_open(struct rp_store_disk *s)
{
    char path[PATH_MAX];
    rp_store_disk_path(s, MARK_NAME, path);
    s->mark_fd = s->fo->open(s->fo->ctx, path, O_RDWR | O_CREAT, 0644);
    if (s->mark_fd < 0)
        return s->mark_fd;
    uint64_t reserved = 0;
    bool clean = false;
    uint32_t epoch = 0;
    int rc = mark_read(s, &reserved, &clean, &epoch);
    if (rc && rc != -ENOENT)
        return rc;
    /* No mark but records: a log from before the mark, or one whose mark was lost. Either
     * way nobody can say it was closed cleanly. */
    s->opened.unclean = rc == 0 ? !clean : s->opened.last_seq != 0;
    if (s->opened.epoch == 0)
        s->opened.epoch = epoch;
    s->opened.reserved_seq = reserved > s->opened.last_seq ? reserved : s->opened.last_seq;
    s->last_epoch = s->opened.epoch;
    rc = rp_store_mark_write(s, s->opened.reserved_seq + s->cfg.reserve_ahead, false);
    if (rc == 0 && s->opened.unclean)
        RP_LOG(RP_LOG_WARN, "store",
               "msg=\"the log was not closed cleanly\" dir=\"%s\" last_seq=%" PRIu64
               " reserved_seq=%" PRIu64 " dropped_records=%" PRIu64 " dropped_bytes=%" PRIu64,
               s->dir, s->opened.last_seq, s->opened.reserved_seq, s->opened.dropped_records,
               s->opened.dropped_bytes);
    return rc;
}
