/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of store/store_scan, recovery at open: the newest segment cut at every byte
 * of its last records, a byte flipped in each of them, garbage or zeros appended, a
 * segment deleted (interior or newest), an older segment corrupted, the mark lost or torn.
 * Each time open succeeds, reports what it dropped, loads exactly the intact records,
 * never lowers the reservation below what was handed out, and the log goes on.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/log.h"
#include "core/hub.h"
#include "core/logengine.h"
#include "crashfs.h"
#include "store/fileops.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/store_disk.h"

#define DIR "/d"
#define N_RECORDS 200

/* The files of a cleanly closed log of N_RECORDS records over several segments. */
struct image {
    char *names[64];
    char *data[64];
    size_t len[64];
    size_t n;
};

static const struct rp_store_config base_cfg = {.segment_bytes = 2048};

static struct rp_logengine *
open_on(struct crashfs *fs)
{
    struct rp_store_config cfg = base_cfg;
    cfg.dir = DIR;
    cfg.fileops = crashfs_ops(fs);
    struct rp_logengine *e = NULL;
    assert_int_equal(rp_store_disk_open(&cfg, NULL, &e), 0);
    return e;
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000};
    nanosleep(&ts, NULL);
}

static void
append_wait(struct rp_logengine *e, uint64_t seq)
{
    char data[24];
    int dl = snprintf(data, sizeof(data), "d%llu", (unsigned long long)seq);
    struct rp_ingest_event ev = {
        .item = {.topic = "t", .topic_len = 1, .data = data, .data_len = (size_t)dl},
        .seq = seq,
        .wall_ms = (int64_t)seq,
    };
    assert_int_equal(rp_logengine_append(e, rp_logengine_batch_new(9, &ev, 1)), 0);
    for (int i = 0; i < 5000 && rp_logengine_durable_seq(e) < seq; i++)
        sleep_ms(1);
    assert_true(rp_logengine_durable_seq(e) >= seq);
}

static int
keep_name(void *arg, const char *name)
{
    struct image *im = arg;
    im->names[im->n++] = strdup(name);
    return 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
make_image(struct image *im)
{
    struct crashfs *fs = crashfs_new(1);
    struct rp_logengine *e = open_on(fs);
    for (uint64_t s = 1; s <= N_RECORDS; s++)
        append_wait(e, s);
    rp_logengine_close(e);
    memset(im, 0, sizeof(*im));
    const struct rp_fileops *fo = crashfs_ops(fs);
    assert_int_equal(fo->list(fo->ctx, DIR, keep_name, im), 0);
    qsort(im->names, im->n, sizeof(im->names[0]), cmp_str);
    for (size_t i = 0; i < im->n; i++) {
        char path[128];
        snprintf(path, sizeof(path), DIR "/%s", im->names[i]);
        im->data[i] = crashfs_get(fs, path, &im->len[i]);
    }
    crashfs_free(fs);
    assert_true(im->n >= 4); /* store.mark sorts last, after three segments or more */
    assert_string_equal(im->names[im->n - 1], "store.mark");
}

static void
free_image(struct image *im)
{
    for (size_t i = 0; i < im->n; i++) {
        free(im->names[i]);
        free(im->data[i]);
    }
}

/* A layer holding <im>, with file <which> replaced by <data> (<len>; NULL: removed). */
static struct crashfs *
restore(const struct image *im, size_t which, const char *data, size_t len)
{
    struct crashfs *fs = crashfs_new(2);
    for (size_t i = 0; i < im->n; i++) {
        char path[128];
        snprintf(path, sizeof(path), DIR "/%s", im->names[i]);
        if (i != which)
            crashfs_put(fs, path, im->data[i], im->len[i]);
        else if (data)
            crashfs_put(fs, path, data, len);
    }
    return fs;
}

struct loaded {
    uint64_t first, last, n;
    bool bad;
};

static int
check_each(void *ctx, uint32_t epoch, const struct rp_ingest_event *evs, size_t n)
{
    struct loaded *l = ctx;
    for (size_t i = 0; i < n; i++) {
        char want[24];
        int wl = snprintf(want, sizeof(want), "d%llu", (unsigned long long)evs[i].seq);
        if (epoch != 9 || evs[i].item.data_len != (size_t)wl ||
            memcmp(evs[i].item.data, want, (size_t)wl) != 0 || evs[i].seq <= l->last)
            l->bad = true;
        if (!l->first)
            l->first = evs[i].seq;
        l->last = evs[i].seq;
        l->n++;
    }
    return 0;
}

static struct loaded
load(struct rp_logengine *e)
{
    struct loaded l = {0};
    assert_int_equal(rp_logengine_load(e, 0, check_each, &l), 0);
    assert_false(l.bad);
    return l;
}

/* The end offsets of the records of <data>. */
static size_t
record_ends(const char *data, size_t len, size_t *ends, size_t cap)
{
    size_t n = 0;
    for (size_t p = 0; p < len && n < cap;) {
        struct rp_ingest_event ev;
        uint32_t epoch;
        size_t size;
        const char *why;
        assert_int_equal(
            rp_record_decode(data + p, len - p, RP_RECORD_MAX, &ev, &epoch, &size, &why),
            RP_RECORD_DONE);
        p += size;
        ends[n++] = p;
    }
    return n;
}

/* Opens <fs>, checks what recovery reports and loads, then that the log goes on. */
static void
expect(struct crashfs *fs, uint64_t last, uint64_t dropped_records, uint64_t dropped_bytes,
       uint64_t reserved_at_least)
{
    struct rp_logengine *e = open_on(fs);
    struct rp_logengine_info info;
    rp_logengine_info(e, &info);
    assert_int_equal(info.last_seq, last);
    assert_int_equal(info.dropped_records, dropped_records);
    assert_int_equal(info.dropped_bytes, dropped_bytes);
    assert_true(info.reserved_seq >= reserved_at_least);
    struct loaded l = load(e);
    assert_int_equal(l.last, last);
    append_wait(e, info.reserved_seq + 1);
    rp_logengine_close(e);
    e = open_on(fs);
    rp_logengine_info(e, &info);
    assert_int_equal(info.dropped_bytes, 0);
    assert_int_equal(load(e).last, info.last_seq);
    rp_logengine_close(e);
    crashfs_free(fs);
}

static void
test_cut_at_every_byte_of_the_last_records(void **state)
{
    struct image im;
    make_image(&im);
    size_t newest = im.n - 2, ends[256];
    size_t n = record_ends(im.data[newest], im.len[newest], ends, 256);
    assert_true(n >= 4);
    uint64_t last_in_newest = N_RECORDS;
    for (size_t cut = ends[n - 4]; cut < im.len[newest]; cut++) {
        size_t whole = 0;
        while (whole < n && ends[whole] <= cut)
            whole++;
        uint64_t last = last_in_newest - (n - whole);
        expect(restore(&im, newest, im.data[newest], cut), last, 0, cut - ends[whole - 1],
               N_RECORDS);
    }
    free_image(&im);
}

static void
test_flip_a_byte_of_the_last_records(void **state)
{
    struct image im;
    make_image(&im);
    size_t newest = im.n - 2, ends[256];
    size_t n = record_ends(im.data[newest], im.len[newest], ends, 256);
    char *copy = malloc(im.len[newest]);
    for (size_t pos = ends[n - 3]; pos < im.len[newest]; pos++) {
        memcpy(copy, im.data[newest], im.len[newest]);
        copy[pos] ^= 0x40;
        bool in_last = pos >= ends[n - 2];
        uint64_t start = in_last ? ends[n - 2] : ends[n - 3];
        expect(restore(&im, newest, copy, im.len[newest]), N_RECORDS - (in_last ? 1 : 2),
               in_last ? 0 : 1, im.len[newest] - start, N_RECORDS);
    }
    free(copy);
    free_image(&im);
}

static void
test_garbage_and_zeros_appended(void **state)
{
    struct image im;
    make_image(&im);
    size_t newest = im.n - 2;
    size_t len = im.len[newest];
    char *copy = malloc(len + 4096);
    memcpy(copy, im.data[newest], len);
    uint32_t x = 7;
    for (size_t extra = 1; extra < 300; extra += 13) {
        for (size_t i = 0; i < extra; i++) {
            x = x * 1103515245u + 12345u;
            copy[len + i] = (char)(x >> 16);
        }
        expect(restore(&im, newest, copy, len + extra), N_RECORDS, 0, extra, N_RECORDS);
        memset(copy + len, 0, extra); /* a size extended before its data was written */
        expect(restore(&im, newest, copy, len + extra), N_RECORDS, 0, extra, N_RECORDS);
    }
    free(copy);
    free_image(&im);
}

static void
test_deleted_segments(void **state)
{
    struct image im;
    make_image(&im);
    /* An interior segment: its records are gone, the others load around the hole. */
    struct crashfs *fs = restore(&im, 1, NULL, 0);
    struct rp_logengine *e = open_on(fs);
    struct rp_logengine_info info;
    rp_logengine_info(e, &info);
    assert_int_equal(info.last_seq, N_RECORDS);
    size_t ends[256];
    size_t in_hole = record_ends(im.data[1], im.len[1], ends, 256);
    struct loaded l = load(e);
    assert_int_equal(l.n, N_RECORDS - in_hole);
    rp_logengine_close(e);
    crashfs_free(fs);
    /* The newest: the log ends earlier, but the reservation still covers what was. */
    size_t newest = im.n - 2;
    size_t in_newest = record_ends(im.data[newest], im.len[newest], ends, 256);
    expect(restore(&im, newest, NULL, 0), N_RECORDS - in_newest, 0, 0, N_RECORDS);
    free_image(&im);
}

static void
test_corrupt_older_segment(void **state)
{
    struct image im;
    make_image(&im);
    size_t ends[256];
    size_t n = record_ends(im.data[0], im.len[0], ends, 256);
    char *copy = malloc(im.len[0]);
    memcpy(copy, im.data[0], im.len[0]);
    copy[ends[4] + 20] ^= 1; /* inside the sixth record */
    struct crashfs *fs = restore(&im, 0, copy, im.len[0]);
    struct rp_logengine *e = open_on(fs);
    struct rp_logengine_info info;
    rp_logengine_info(e, &info);
    assert_int_equal(info.last_seq, N_RECORDS);
    assert_int_equal(info.dropped_records, n - 6);
    assert_int_equal(info.dropped_bytes, im.len[0] - ends[4]);
    struct loaded l = load(e);
    assert_int_equal(l.n, N_RECORDS - (n - 5));
    rp_logengine_close(e);
    /* The older file is left as it was, for inspection. */
    size_t len;
    char *now = crashfs_get(fs, DIR "/00000000000000000001.seg", &len);
    assert_int_equal(len, im.len[0]);
    free(now);
    crashfs_free(fs);
    free(copy);
    free_image(&im);
}

static void
test_mark_lost_or_torn(void **state)
{
    struct image im;
    make_image(&im);
    size_t mark = im.n - 1;
    /* Lost: unclean, and the sequence goes on after the last record. */
    struct crashfs *fs = restore(&im, mark, NULL, 0);
    struct rp_logengine *e = open_on(fs);
    struct rp_logengine_info info;
    rp_logengine_info(e, &info);
    assert_true(info.unclean);
    assert_int_equal(info.reserved_seq, N_RECORDS);
    rp_logengine_close(e);
    crashfs_free(fs);
    /* One slot torn: the other one still counts (unclean, as it predates the close). */
    for (size_t slot = 0; slot < 2; slot++) {
        char copy[64];
        assert_int_equal(im.len[mark], 64);
        memcpy(copy, im.data[mark], 64);
        copy[slot * 32 + 17] ^= 0x10;
        fs = restore(&im, mark, copy, 64);
        e = open_on(fs);
        rp_logengine_info(e, &info);
        assert_int_equal(info.last_seq, N_RECORDS);
        assert_true(info.reserved_seq >= N_RECORDS);
        rp_logengine_close(e);
        crashfs_free(fs);
    }
    free_image(&im);
}

int
main(void)
{
    /* Recovery logs what it drops by design; a failing assertion says enough. */
    rp_log_min_level = (enum rp_log_level)(RP_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut_at_every_byte_of_the_last_records),
        cmocka_unit_test(test_flip_a_byte_of_the_last_records),
        cmocka_unit_test(test_garbage_and_zeros_appended),
        cmocka_unit_test(test_deleted_segments),
        cmocka_unit_test(test_corrupt_older_segment),
        cmocka_unit_test(test_mark_lost_or_torn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
