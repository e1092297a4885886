/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of store/record and store/segment: records round-trip (with and without an
 * event type and a publisher id, empty data), every prefix of a record asks for more,
 * every single-byte change is refused, over-long fields cannot be encoded; segment names
 * are strict; the sparse index finds the right place; the scanner walks records in chunks
 * and stops at a bad one.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hub.h"
#include "crashfs.h"
#include "store/fileops.h"
#include "store/record.h"
#include "store/segment.h"

static struct rp_ingest_event
ev(const char *topic, const char *type, const char *data, size_t data_len, const char *pub_id,
   uint64_t seq)
{
    struct rp_ingest_event e = {
        .item = {.topic = topic,
                 .topic_len = strlen(topic),
                 .event = type,
                 .event_len = type ? strlen(type) : 0,
                 .data = data,
                 .data_len = data_len,
                 .pub_id = pub_id,
                 .pub_id_len = pub_id ? strlen(pub_id) : 0},
        .seq = seq,
        .wall_ms = -5 + (int64_t)seq,
    };
    return e;
}

static void
assert_same(const struct rp_ingest_event *a, const struct rp_ingest_event *b)
{
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->wall_ms, b->wall_ms);
    assert_int_equal(a->item.topic_len, b->item.topic_len);
    assert_memory_equal(a->item.topic, b->item.topic, a->item.topic_len);
    assert_int_equal(a->item.event == NULL, b->item.event == NULL);
    assert_int_equal(a->item.event_len, b->item.event_len);
    if (a->item.event_len)
        assert_memory_equal(a->item.event, b->item.event, a->item.event_len);
    assert_int_equal(a->item.pub_id == NULL, b->item.pub_id == NULL);
    assert_int_equal(a->item.pub_id_len, b->item.pub_id_len);
    if (a->item.pub_id_len)
        assert_memory_equal(a->item.pub_id, b->item.pub_id, a->item.pub_id_len);
    assert_int_equal(a->item.data_len, b->item.data_len);
    if (a->item.data_len)
        assert_memory_equal(a->item.data, b->item.data, a->item.data_len);
}

static void
test_round_trip(void **state)
{
    struct rp_ingest_event in[] = {
        ev("news/eu", "update", "line1\nline2", 11, "key-1", 1),
        ev("a", NULL, "", 0, NULL, UINT64_MAX),
        ev("t", "", "x\0y", 3, "", 77),
    };
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        size_t n = rp_record_size(&in[i]);
        assert_true(n >= RP_RECORD_HEADER);
        char *buf = malloc(n);
        assert_int_equal(rp_record_encode(0xDEADBEEF, &in[i], buf), n);
        struct rp_ingest_event out;
        uint32_t epoch = 0;
        size_t size = 0;
        const char *why = NULL;
        assert_int_equal(rp_record_decode(buf, n, RP_RECORD_MAX, &out, &epoch, &size, &why),
                         RP_RECORD_DONE);
        assert_int_equal(size, n);
        assert_int_equal(epoch, 0xDEADBEEF);
        assert_same(&in[i], &out);
        free(buf);
    }
}

static void
test_prefixes_ask_for_more_and_changes_are_refused(void **state)
{
    struct rp_ingest_event in = ev("topic/x", "ev", "hello world", 11, "p", 42);
    size_t n = rp_record_size(&in);
    unsigned char *buf = malloc(n);
    rp_record_encode(7, &in, buf);
    struct rp_ingest_event out;
    uint32_t epoch;
    size_t size;
    const char *why;
    for (size_t k = 0; k < n; k++)
        assert_int_equal(rp_record_decode(buf, k, RP_RECORD_MAX, &out, &epoch, &size, &why),
                         RP_RECORD_MORE);
    for (size_t k = 0; k < n; k++)
        for (int bit = 0; bit < 8; bit++) {
            buf[k] ^= (unsigned char)(1 << bit);
            why = NULL;
            assert_int_equal(rp_record_decode(buf, n, RP_RECORD_MAX, &out, &epoch, &size, &why),
                             RP_RECORD_ERROR);
            assert_non_null(why);
            buf[k] ^= (unsigned char)(1 << bit);
        }
    /* A record longer than the reader's cap is an error, not a wait. */
    assert_int_equal(rp_record_decode(buf, 10, n - 1, &out, &epoch, &size, &why), RP_RECORD_ERROR);
    memset(buf, 0, n);
    assert_int_equal(rp_record_decode(buf, n, RP_RECORD_MAX, &out, &epoch, &size, &why),
                     RP_RECORD_ERROR);
    free(buf);
}

static void
test_too_long_fields(void **state)
{
    char *big = calloc(1, 70000);
    memset(big, 'a', 65536);
    struct rp_ingest_event e = ev(big, NULL, "", 0, NULL, 1);
    assert_int_equal(rp_record_size(&e), 0);
    big[65535] = 0;
    e = ev(big, NULL, "", 0, NULL, 1);
    assert_int_equal(rp_record_size(&e), RP_RECORD_HEADER + 65535);
    e = ev("t", big, "", 0, NULL, 1);
    assert_int_equal(rp_record_size(&e), RP_RECORD_HEADER + 1 + 65535);
    free(big);
}

static void
test_segment_names(void **state)
{
    char name[RP_SEGMENT_NAME_MAX];
    uint64_t seq = 0;
    rp_segment_name(1, name);
    assert_string_equal(name, "00000000000000000001.seg");
    assert_true(rp_segment_parse_name(name, &seq));
    assert_int_equal(seq, 1);
    rp_segment_name(UINT64_MAX, name);
    assert_true(rp_segment_parse_name(name, &seq));
    assert_true(seq == UINT64_MAX);
    const char *bad[] = {"00000000000000000000.seg",
                         "0000000000000000001.seg",
                         "00000000000000000001.seg~",
                         "00000000000000000001.idx",
                         "99999999999999999999.seg",
                         "0000000000000000000a.seg",
                         "store.mark"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(rp_segment_parse_name(bad[i], &seq));
}

static void
test_sparse_index(void **state)
{
    struct rp_segment_index ix = {0};
    assert_int_equal(rp_segment_index_find(&ix, 100), 0);
    /* Records of 1000 bytes with seq 10, 12, 14, ...: every fifth one indexed at 4096. */
    for (uint64_t i = 0; i < 100; i++)
        rp_segment_index_add(&ix, 10 + 2 * i, i * 1000, 4096);
    assert_int_equal(ix.n, 20);
    assert_int_equal(rp_segment_index_find(&ix, 0), 0);
    assert_int_equal(rp_segment_index_find(&ix, 9), 0);
    /* seq 20 is at 5000: after 19 the wanted record is seq 20, which is indexed. */
    assert_int_equal(rp_segment_index_find(&ix, 19), 5000);
    assert_int_equal(rp_segment_index_find(&ix, 20), 5000);
    assert_int_equal(rp_segment_index_find(&ix, 28), 5000);
    assert_int_equal(rp_segment_index_find(&ix, 29), 10000);
    assert_int_equal(rp_segment_index_find(&ix, UINT64_MAX), 95000);
    rp_segment_index_cut(&ix, 10000);
    assert_int_equal(ix.n, 2);
    assert_int_equal(rp_segment_index_find(&ix, 1000), 5000);
    rp_segment_index_fini(&ix);
    rp_segment_index_fini(&ix);
}

static void
test_scanner(void **state)
{
    struct crashfs *fs = crashfs_new(1);
    const struct rp_fileops *fo = crashfs_ops(fs);
    int fd = fo->open(fo->ctx, "/d/x.seg", O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    /* 3000 records of varying size, some bigger than the scanner's chunk. */
    uint64_t off = 0;
    char *data = malloc(300000);
    memset(data, 'z', 300000);
    for (uint64_t i = 1; i <= 3000; i++) {
        size_t dl = i % 1000 == 0 ? 300000 : i % 97;
        struct rp_ingest_event e = ev("t", NULL, data, dl, NULL, i);
        char *buf = malloc(rp_record_size(&e));
        size_t n = rp_record_encode(1, &e, buf);
        assert_int_equal(fo->pwrite(fo->ctx, fd, buf, n, off), 0);
        off += n;
        free(buf);
    }
    assert_int_equal(fo->pwrite(fo->ctx, fd, "garbage!", 8, off), 0);
    struct rp_segment_scan sc;
    rp_segment_scan_init(&sc, fo, fd, 0, off + 8, RP_RECORD_MAX);
    struct rp_ingest_event e;
    uint32_t epoch;
    uint64_t rec_off, seq = 0;
    int rc;
    while ((rc = rp_segment_scan_next(&sc, &e, &epoch, &rec_off)) == 1) {
        assert_int_equal(e.seq, ++seq);
        assert_int_equal(e.item.data_len, seq % 1000 == 0 ? 300000 : seq % 97);
    }
    assert_int_equal(rc, -EBADMSG);
    assert_int_equal(seq, 3000);
    assert_int_equal(sc.off, off);
    rp_segment_scan_fini(&sc);
    /* Bounded at the end of the records: a clean end. */
    rp_segment_scan_init(&sc, fo, fd, 0, off, RP_RECORD_MAX);
    for (seq = 0; (rc = rp_segment_scan_next(&sc, &e, &epoch, &rec_off)) == 1; seq++)
        ;
    assert_int_equal(rc, 0);
    assert_int_equal(seq, 3000);
    rp_segment_scan_fini(&sc);
    free(data);
    crashfs_free(fs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_prefixes_ask_for_more_and_changes_are_refused),
        cmocka_unit_test(test_too_long_fields),
        cmocka_unit_test(test_segment_names),
        cmocka_unit_test(test_sparse_index),
        cmocka_unit_test(test_scanner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
