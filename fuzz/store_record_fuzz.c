/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the disk log's decoders with the input as the bytes of a segment file: the
 * record decoder (store/record.h), the chunked segment scanner (store/segment.h) and
 * recovery at open (store/store_disk.h over the crash-simulating layer). A record that
 * decodes re-encodes to exactly its bytes (the format has one spelling); the scanner, the
 * first byte choosing a tiny or a large cap, stops where a plain decode loop stops; open
 * keeps exactly that valid prefix (with sequences increasing), truncates the file there,
 * counts the rest as dropped, and loads exactly those records. Aborts on any broken
 * invariant; overreads and leaks are the sanitizers' to find.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "core/hub.h"
#include "core/logengine.h"
#include "crashfs.h"
#include "store/fileops.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/store_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define SEG "/d/00000000000000000001.seg"

/* Decodes records from the start of <p> as recovery accepts them (sequences increasing);
 * returns where the valid prefix ends, with the count and last sequence. */
static size_t
valid_prefix(const uint8_t *p, size_t len, size_t max, uint64_t *n, uint64_t *last)
{
    size_t off = 0;
    *n = *last = 0;
    for (;;) {
        struct rp_ingest_event ev;
        uint32_t epoch;
        size_t size = 0;
        const char *why = NULL;
        enum rp_record_parse r =
            rp_record_decode(p + off, len - off, max, &ev, &epoch, &size, &why);
        if (r == RP_RECORD_ERROR)
            CHECK(why != NULL);
        if (r == RP_RECORD_MORE)
            CHECK(size == 0 || size > len - off);
        if (r != RP_RECORD_DONE || ev.seq <= *last)
            return off;
        CHECK(size >= RP_RECORD_HEADER && size <= len - off && size <= max);
        CHECK(ev.item.topic_len > 0 && ev.seq > 0);
        /* One spelling: encoding what was decoded gives back the same bytes. */
        CHECK(rp_record_size(&ev) == size);
        uint8_t *again = malloc(size);
        CHECK(rp_record_encode(epoch, &ev, again) == size);
        CHECK(memcmp(again, p + off, size) == 0);
        free(again);
        off += size;
        *last = ev.seq;
        (*n)++;
    }
}

/* The scanner agrees with the plain loop on where the records end. */
static void
check_scanner(struct crashfs *fs, size_t len, size_t max, size_t prefix)
{
    const struct rp_fileops *fo = crashfs_ops(fs);
    int fd = fo->open(fo->ctx, SEG, O_RDONLY, 0);
    CHECK(fd >= 0);
    struct rp_segment_scan sc;
    rp_segment_scan_init(&sc, fo, fd, 0, len, max);
    struct rp_ingest_event ev;
    uint32_t epoch;
    uint64_t off, last = 0, good = 0;
    int rc;
    while ((rc = rp_segment_scan_next(&sc, &ev, &epoch, &off)) == 1 && ev.seq > last) {
        CHECK(off == good);
        last = ev.seq;
        good = sc.off;
    }
    CHECK(rc == 1 || rc == 0 || rc == -EBADMSG);
    CHECK(good == prefix);
    rp_segment_scan_fini(&sc);
    fo->close(fo->ctx, fd);
}

struct count {
    uint64_t n, last;
};

static int
count_loaded(void *ctx, uint32_t epoch, const struct rp_ingest_event *evs, size_t n)
{
    struct count *c = ctx;
    for (size_t i = 0; i < n; i++) {
        CHECK(evs[i].seq > c->last);
        c->last = evs[i].seq;
        c->n++;
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_log_min_level = (enum rp_log_level)(RP_LOG_ERROR + 1);
    if (size == 0)
        return 0;
    size_t max = data[0] & 1 ? 4096 : RP_RECORD_MAX;
    const uint8_t *p = data + 1;
    size_t len = size - 1;
    uint64_t n, last;
    size_t prefix = valid_prefix(p, len, max, &n, &last);

    struct crashfs *fs = crashfs_new(1);
    crashfs_put(fs, SEG, p, len);
    check_scanner(fs, len, max, prefix);

    struct rp_store_config cfg = {
        .dir = "/d", .fileops = crashfs_ops(fs), .fsync = RP_STORE_FSYNC_NONE, .max_record = max};
    struct rp_logengine *e = NULL;
    CHECK(rp_store_disk_open(&cfg, NULL, &e) == 0);
    struct rp_logengine_info info;
    rp_logengine_info(e, &info);
    CHECK(info.last_seq == last);
    CHECK(info.dropped_bytes == len - prefix);
    CHECK(info.dropped_records <= (len - prefix) / RP_RECORD_HEADER);
    struct count c = {0};
    CHECK(rp_logengine_load(e, 0, count_loaded, &c) == 0);
    CHECK(c.n == n && c.last == last);
    rp_logengine_close(e);
    size_t now_len = 0;
    char *now = crashfs_get(fs, SEG, &now_len);
    /* The newest segment is cut back to its valid prefix (or removed if nothing was). */
    CHECK(now != NULL && now_len == prefix && (prefix == 0 || memcmp(now, p, prefix) == 0));
    free(now);
    crashfs_free(fs);
    return 0;
}
