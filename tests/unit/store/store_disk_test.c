/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of store/store_disk, the write side: appends come back after a clean reopen
 * and the sequence continues without a gap; segments roll and a read from the middle seeks
 * by the index; crashes at every fsync under each policy (over the crash-simulating layer)
 * keep every event acknowledged as durable, load nothing after the last intact record and
 * never reuse a sequence; group commit from several threads (real files) needs far fewer
 * fsyncs than appends, with durable_seq monotonic; retention drops whole segments; ENOSPC
 * puts the engine in a failed state it reports and leaves when the disk takes writes again;
 * sequences the hub takes in without appending them move the reservation and are recorded
 * at a clean close.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "core/hub.h"
#include "core/logengine.h"
#include "crashfs.h"
#include "store/fileops.h"
#include "store/store_disk.h"

#define DIR "/d"

struct harness {
    struct crashfs *fs;
    struct rp_logengine *e;
    _Atomic uint64_t acked; /* the highest durable_advanced */
    _Atomic int state;      /* the last state_changed */
    _Atomic unsigned n_state_calls;
    _Atomic bool non_monotonic;
};

static void
on_durable(void *ctx, uint64_t seq)
{
    struct harness *h = ctx;
    uint64_t prev = atomic_load(&h->acked);
    if (seq < prev)
        atomic_store(&h->non_monotonic, true);
    atomic_store(&h->acked, seq);
}

static void
on_state(void *ctx, int err)
{
    struct harness *h = ctx;
    atomic_store(&h->state, err);
    atomic_fetch_add(&h->n_state_calls, 1);
}

static int
hopen(struct harness *h, const struct rp_store_config *extra)
{
    struct rp_store_config cfg = extra ? *extra : (struct rp_store_config){0};
    cfg.dir = DIR;
    if (!cfg.fileops)
        cfg.fileops = crashfs_ops(h->fs);
    struct rp_logengine_hooks hooks = {
        .durable_advanced = on_durable, .state_changed = on_state, .ctx = h};
    atomic_store(&h->acked, 0);
    h->e = NULL;
    return rp_store_disk_open(&cfg, &hooks, &h->e);
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* The event of sequence <seq>: topic t<seq % 3>, data d<seq>. */
static struct rp_logengine_batch *
batch(uint64_t first, size_t n, int64_t wall_ms)
{
    struct rp_ingest_event evs[64];
    char topics[64][8], data[64][24];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = first + i;
        snprintf(topics[i], sizeof(topics[i]), "t%u", (unsigned)(seq % 3));
        int dl = snprintf(data[i], sizeof(data[i]), "d%llu", (unsigned long long)seq);
        evs[i] = (struct rp_ingest_event){
            .item = {.topic = topics[i],
                     .topic_len = strlen(topics[i]),
                     .data = data[i],
                     .data_len = (size_t)dl,
                     .event = seq % 2 ? "ev" : NULL,
                     .event_len = seq % 2 ? 2 : 0},
            .seq = seq,
            .wall_ms = wall_ms ? wall_ms : (int64_t)seq,
        };
    }
    return rp_logengine_batch_new(5, evs, n);
}

/* Appends [first, first + n), retrying while the queue is full; 0 or the refusal. */
static int
append(struct harness *h, uint64_t first, size_t n)
{
    struct rp_logengine_batch *b = batch(first, n, 0);
    for (int tries = 0; tries < 5000; tries++) {
        int rc = rp_logengine_append(h->e, b);
        if (rc == 0)
            return 0;
        if (rc != -EAGAIN) {
            rp_logengine_batch_free(b);
            return rc;
        }
        sleep_ms(1);
    }
    rp_logengine_batch_free(b);
    return -EAGAIN;
}

static bool
wait_durable(struct harness *h, uint64_t seq)
{
    for (int i = 0; i < 5000; i++) {
        if (rp_logengine_durable_seq(h->e) >= seq)
            return true;
        sleep_ms(1);
    }
    return false;
}

struct loaded {
    uint64_t *seqs;
    size_t n, cap;
    bool bad_content;
};

static int
collect(void *ctx, uint32_t epoch, const struct rp_ingest_event *evs, size_t n)
{
    struct loaded *l = ctx;
    for (size_t i = 0; i < n; i++) {
        char want[24];
        int wl = snprintf(want, sizeof(want), "d%llu", (unsigned long long)evs[i].seq);
        if (epoch != 5 || evs[i].item.data_len != (size_t)wl ||
            memcmp(evs[i].item.data, want, (size_t)wl) != 0 ||
            (evs[i].seq % 2 ? evs[i].item.event == NULL : evs[i].item.event != NULL))
            l->bad_content = true;
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 1024;
            l->seqs = realloc(l->seqs, l->cap * sizeof(*l->seqs));
        }
        l->seqs[l->n++] = evs[i].seq;
    }
    return 0;
}

/* Loads everything and checks it is 1..n in order with the right content. */
static void
assert_loads_exactly(struct rp_logengine *e, uint64_t first, uint64_t last)
{
    struct loaded l = {0};
    assert_int_equal(rp_logengine_load(e, 0, collect, &l), 0);
    assert_false(l.bad_content);
    assert_int_equal(l.n, last >= first ? last - first + 1 : 0);
    for (size_t i = 0; i < l.n; i++)
        assert_int_equal(l.seqs[i], first + i);
    free(l.seqs);
}

static void
test_append_close_reopen(void **state)
{
    struct harness h = {.fs = crashfs_new(1)};
    assert_int_equal(hopen(&h, NULL), 0);
    struct rp_logengine_info info;
    rp_logengine_info(h.e, &info);
    assert_int_equal(info.last_seq, 0);
    assert_false(info.unclean);
    assert_true(rp_logengine_reserved_seq(h.e) >= 1000);
    for (uint64_t s = 1; s <= 1000; s += 10)
        assert_int_equal(append(&h, s, 10), 0);
    assert_true(wait_durable(&h, 1000));
    assert_int_equal(append(&h, 1000, 1), -EINVAL); /* not after the last */
    rp_logengine_close(h.e);

    assert_int_equal(hopen(&h, NULL), 0);
    rp_logengine_info(h.e, &info);
    assert_int_equal(info.last_seq, 1000);
    assert_int_equal(info.first_seq, 1);
    assert_int_equal(info.epoch, 5);
    assert_false(info.unclean);
    assert_int_equal(info.reserved_seq, 1000); /* clean: the sequence goes on without a gap */
    assert_int_equal(info.durable_seq, 1000);
    assert_loads_exactly(h.e, 1, 1000);
    /* Load after a point, and a topic's history after a point, up to a count. */
    struct loaded l = {0};
    assert_int_equal(rp_logengine_load(h.e, 990, collect, &l), 0);
    assert_int_equal(l.n, 10);
    l.n = 0;
    assert_int_equal(rp_logengine_read(h.e, "t1", 2, 500, 4, collect, &l), 0);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.seqs[0], 502);
    assert_int_equal(l.seqs[3], 511);
    free(l.seqs);
    assert_int_equal(append(&h, 1001, 5), 0);
    assert_true(wait_durable(&h, 1005));
    rp_logengine_close(h.e);
    crashfs_free(h.fs);
}

static void
test_segments_roll_and_reads_seek(void **state)
{
    struct harness h = {.fs = crashfs_new(2)};
    struct rp_store_config cfg = {.segment_bytes = 4096};
    assert_int_equal(hopen(&h, &cfg), 0);
    for (uint64_t s = 1; s <= 3000; s += 3)
        assert_int_equal(append(&h, s, 3), 0);
    assert_true(wait_durable(&h, 3000));
    struct rp_logengine_info info;
    rp_logengine_info(h.e, &info);
    assert_true(info.n_segments > 30);
    /* Reads from anywhere find the right first record, across segment edges. */
    for (uint64_t after = 0; after < 3000; after += 97) {
        struct loaded l = {0};
        assert_int_equal(rp_logengine_read(h.e, "t0", 2, after, 20, collect, &l), 0);
        assert_false(l.bad_content);
        assert_true(l.n > 0);
        uint64_t first = after + 1;
        while (first % 3 != 0)
            first++;
        assert_int_equal(l.seqs[0], first);
        for (size_t i = 1; i < l.n; i++)
            assert_int_equal(l.seqs[i], l.seqs[i - 1] + 3);
        free(l.seqs);
    }
    rp_logengine_close(h.e);
    assert_int_equal(hopen(&h, &cfg), 0);
    assert_loads_exactly(h.e, 1, 3000);
    rp_logengine_close(h.e);
    crashfs_free(h.fs);
}

/*
 * One crash: append (never past the reservation, as the hub does) until the <crash_at>th
 * fsync from now crashes the layer, close, apply <fate> to what was not synced, reopen.
 */
static void
crash_run(enum rp_store_fsync policy, uint32_t seed, unsigned crash_at, enum crashfs_fate fate)
{
    struct harness h = {.fs = crashfs_new(seed)};
    struct rp_store_config cfg = {.fsync = policy,
                                  .fsync_interval_ms = 2,
                                  .segment_bytes = 2048,
                                  .reserve_ahead = 64,
                                  .retry_ms = 1};
    assert_int_equal(hopen(&h, &cfg), 0);
    crashfs_crash_at_sync(h.fs, crash_at);
    uint64_t next = 1, handed = 0;
    for (int waits = 0; !crashfs_crashed(h.fs) && next < 2000 && waits < 2000;) {
        size_t n = 1 + next % 5;
        if (next + n - 1 > rp_logengine_reserved_seq(h.e)) {
            sleep_ms(1);
            waits++;
            continue;
        }
        if (append(&h, next, n) != 0)
            break;
        handed = next + n - 1;
        next += n;
    }
    uint64_t acked = rp_logengine_durable_seq(h.e);
    rp_logengine_close(h.e);
    crashfs_reboot(h.fs, fate);

    assert_int_equal(hopen(&h, &cfg), 0);
    struct rp_logengine_info info;
    rp_logengine_info(h.e, &info);
    /* Every acknowledged append survived; nothing was made up; no sequence is reused. */
    assert_true(info.last_seq >= acked);
    assert_true(info.last_seq <= handed);
    assert_true(info.reserved_seq >= handed);
    assert_true(rp_logengine_reserved_seq(h.e) > info.reserved_seq);
    assert_loads_exactly(h.e, 1, info.last_seq);
    /* A clean close without appends keeps what the unclean stop had reserved. */
    uint64_t reserved = info.reserved_seq;
    rp_logengine_close(h.e);
    assert_int_equal(hopen(&h, &cfg), 0);
    rp_logengine_info(h.e, &info);
    assert_false(info.unclean);
    assert_int_equal(info.reserved_seq, reserved);
    /* The log goes on after the reservation, as the hub would continue it. */
    uint64_t first = info.reserved_seq + 1;
    assert_int_equal(append(&h, first, 3), 0);
    assert_true(wait_durable(&h, first + 2));
    rp_logengine_close(h.e);
    assert_int_equal(hopen(&h, &cfg), 0);
    rp_logengine_info(h.e, &info);
    assert_false(info.unclean);
    assert_int_equal(info.last_seq, first + 2);
    rp_logengine_close(h.e);
    crashfs_free(h.fs);
}

static void
test_crash_at_every_sync(void **state)
{
    const enum crashfs_fate fates[] = {CRASHFS_DROP, CRASHFS_RANDOM, CRASHFS_KEEP};
    for (unsigned at = 1; at <= 12; at++)
        for (size_t f = 0; f < 3; f++) {
            crash_run(RP_STORE_FSYNC_ALWAYS, at * 7 + (unsigned)f, at, fates[f]);
            crash_run(RP_STORE_FSYNC_INTERVAL, at * 11 + (unsigned)f, at, fates[f]);
        }
    /* none: durable means written, which survives a process crash, not a power loss. */
    for (unsigned at = 1; at <= 6; at++)
        crash_run(RP_STORE_FSYNC_NONE, at, at, CRASHFS_KEEP);
}

static void
test_enospc_fails_then_recovers(void **state)
{
    struct harness h = {.fs = crashfs_new(3)};
    struct rp_store_config cfg = {.retry_ms = 5, .queue_events = 60};
    assert_int_equal(hopen(&h, &cfg), 0);
    for (uint64_t s = 1; s <= 100; s += 10)
        assert_int_equal(append(&h, s, 10), 0);
    assert_true(wait_durable(&h, 100));

    crashfs_fail_writes(h.fs, -ENOSPC);
    for (uint64_t s = 101; s <= 150; s += 5)
        assert_int_equal(append(&h, s, 5), 0);
    struct rp_logengine_info info;
    for (int i = 0; i < 2000; i++) {
        rp_logengine_info(h.e, &info);
        /* The hook runs on the writer thread just after the state flips: wait for both. */
        if (info.failed && atomic_load(&h.state))
            break;
        sleep_ms(1);
    }
    assert_int_equal(info.failed, -ENOSPC);
    assert_int_equal(atomic_load(&h.state), -ENOSPC);
    /* The queue keeps what it accepted; past its cap, appends are refused at once. */
    struct rp_logengine_batch *b = batch(151, 20, 0);
    assert_int_equal(rp_logengine_append(h.e, b), -EAGAIN);
    rp_logengine_batch_free(b);
    sleep_ms(30);
    assert_int_equal(rp_logengine_durable_seq(h.e), 100);
    rp_logengine_info(h.e, &info);
    assert_int_equal(info.queued_events, 50);

    crashfs_fail_writes(h.fs, 0);
    assert_true(wait_durable(&h, 150));
    for (int i = 0; i < 2000 && atomic_load(&h.state) != 0; i++)
        sleep_ms(1);
    assert_int_equal(atomic_load(&h.state), 0);
    rp_logengine_info(h.e, &info);
    assert_int_equal(info.failed, 0);
    assert_int_equal(info.queued_events, 0);
    rp_logengine_close(h.e);
    /* Half-written records of the failed attempts left nothing behind. */
    assert_int_equal(hopen(&h, &cfg), 0);
    rp_logengine_info(h.e, &info);
    assert_int_equal(info.dropped_bytes, 0);
    assert_false(info.unclean);
    assert_loads_exactly(h.e, 1, 150);
    rp_logengine_close(h.e);
    crashfs_free(h.fs);
}

static void
test_retention_drops_whole_segments(void **state)
{
    struct harness h = {.fs = crashfs_new(4)};
    struct rp_store_config cfg = {.segment_bytes = 1024, .retain_segments = 3};
    assert_int_equal(hopen(&h, &cfg), 0);
    for (uint64_t s = 1; s <= 600; s += 4)
        assert_int_equal(append(&h, s, 4), 0);
    assert_true(wait_durable(&h, 600));
    struct rp_logengine_info info;
    for (int i = 0; i < 2000; i++) {
        rp_logengine_info(h.e, &info);
        if (info.n_segments <= 3)
            break;
        sleep_ms(1);
    }
    assert_int_equal(info.n_segments, 3);
    size_t len;
    assert_null(crashfs_get(h.fs, DIR "/00000000000000000001.seg", &len));
    struct loaded l = {0};
    assert_int_equal(rp_logengine_load(h.e, 0, collect, &l), 0);
    assert_true(l.seqs[0] > 1);
    assert_int_equal(l.seqs[l.n - 1], 600);
    for (size_t i = 1; i < l.n; i++)
        assert_int_equal(l.seqs[i], l.seqs[i - 1] + 1);
    assert_true(info.stored_bytes > 0 && info.stored_bytes <= 3 * 1024);
    free(l.seqs);
    rp_logengine_close(h.e);
    crashfs_free(h.fs);

    /* By age: segments whose newest record is older than retain_age_ms go. */
    h = (struct harness){.fs = crashfs_new(5)};
    cfg = (struct rp_store_config){.segment_bytes = 1024, .retain_age_ms = 60000};
    assert_int_equal(hopen(&h, &cfg), 0);
    struct rp_logengine_batch *b;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000;
    for (uint64_t s = 1; s <= 200; s += 4) {
        b = batch(s, 4, s <= 100 ? now - 3600000 : now);
        assert_int_equal(rp_logengine_append(h.e, b), 0);
        assert_true(wait_durable(&h, s + 3));
    }
    for (int i = 0; i < 3000; i++) {
        l = (struct loaded){0};
        assert_int_equal(rp_logengine_load(h.e, 0, collect, &l), 0);
        uint64_t first = l.seqs[0];
        free(l.seqs);
        if (first > 60)
            break;
        sleep_ms(1);
    }
    l = (struct loaded){0};
    assert_int_equal(rp_logengine_load(h.e, 0, collect, &l), 0);
    assert_true(l.seqs[0] > 60 && l.seqs[0] <= 101); /* old-only segments went, whole */
    free(l.seqs);
    rp_logengine_close(h.e);
    crashfs_free(h.fs);

    /* By bytes: the oldest go until the rest fit (the active segment always stays). */
    h = (struct harness){.fs = crashfs_new(8)};
    cfg = (struct rp_store_config){.segment_bytes = 1024, .retain_bytes = 2500};
    assert_int_equal(hopen(&h, &cfg), 0);
    for (uint64_t s = 1; s <= 400; s += 4)
        assert_int_equal(append(&h, s, 4), 0);
    assert_true(wait_durable(&h, 400));
    for (int i = 0; i < 2000; i++) {
        rp_logengine_info(h.e, &info);
        if (info.stored_bytes <= 2500)
            break;
        sleep_ms(1);
    }
    assert_true(info.stored_bytes <= 2500 && info.n_segments >= 2);
    assert_true(info.first_seq > 1);
    rp_logengine_close(h.e);
    crashfs_free(h.fs);

    /* By events: the oldest go until the rest hold at most retain_events. */
    h = (struct harness){.fs = crashfs_new(9)};
    cfg = (struct rp_store_config){.segment_bytes = 1024, .retain_events = 100};
    assert_int_equal(hopen(&h, &cfg), 0);
    for (uint64_t s = 1; s <= 400; s += 4)
        assert_int_equal(append(&h, s, 4), 0);
    assert_true(wait_durable(&h, 400));
    for (int i = 0; i < 2000; i++) {
        rp_logengine_info(h.e, &info);
        if (info.first_seq > 300)
            break;
        sleep_ms(1);
    }
    l = (struct loaded){0};
    assert_int_equal(rp_logengine_load(h.e, 0, collect, &l), 0);
    assert_true(l.n <= 100 && l.n >= 20); /* whole segments of about 20 events each */
    assert_int_equal(l.seqs[l.n - 1], 400);
    for (size_t i = 1; i < l.n; i++)
        assert_int_equal(l.seqs[i], l.seqs[i - 1] + 1);
    free(l.seqs);
    rp_logengine_close(h.e);
    crashfs_free(h.fs);
}

static void
policy_for(void *ctx, const char *name, size_t len, struct rp_topic_policy *out)
{
    memset(out, 0, sizeof(*out));
    out->history = (struct rp_eventlog_limits){
        .max_count = 100000, .max_bytes = UINT64_MAX, .max_age_ms = INT64_MAX / 4};
}

static int
ingest(void *ctx, uint32_t epoch, const struct rp_ingest_event *evs, size_t n)
{
    struct rp_hub_error err;
    return rp_hub_ingest(ctx, evs, n, &err);
}

/* What load delivers is exactly what the hub's ingest takes, batch for batch. */
static void
test_load_feeds_the_hub(void **state)
{
    struct harness h = {.fs = crashfs_new(6)};
    assert_int_equal(hopen(&h, NULL), 0);
    for (uint64_t s = 1; s <= 300; s += 6)
        assert_int_equal(append(&h, s, 6), 0);
    assert_true(wait_durable(&h, 300));
    rp_logengine_close(h.e);
    assert_int_equal(hopen(&h, NULL), 0);
    struct rp_logengine_info info;
    rp_logengine_info(h.e, &info);
    struct rp_hub_config hc = {.max_topics = 100, .max_data = 1 << 20, .epoch = info.epoch};
    struct rp_hub_hooks hooks = {.policy_for = policy_for};
    struct rp_hub *hub = rp_hub_new(&hc, &hooks);
    assert_int_equal(rp_logengine_load(h.e, 0, ingest, hub), 0);
    assert_int_equal(rp_hub_epoch(hub), 5);
    assert_int_equal(rp_hub_last_seq(hub), 300);
    struct rp_topic *t = rp_hub_find(hub, "t1", 2);
    assert_non_null(t);
    struct rp_topic_stats st;
    rp_topic_stats(t, &st);
    assert_int_equal(st.count, 100);
    assert_int_equal(st.first_seq, 1);
    assert_int_equal(st.last_seq, 298);
    rp_hub_advance_seq(hub, info.reserved_seq);
    assert_int_equal(rp_hub_last_seq(hub), 300);
    rp_hub_free(hub);
    rp_logengine_close(h.e);
    crashfs_free(h.fs);
}

/* Polls until the reservation is at least <seq>. */
static bool
wait_reserved(struct rp_logengine *e, uint64_t seq)
{
    for (int i = 0; i < 5000; i++) {
        if (rp_logengine_reserved_seq(e) >= seq)
            return true;
        sleep_ms(1);
    }
    return false;
}

/* Publishes one event of topic <topic>, retrying while the reservation is behind. */
static int
publish_one(struct rp_hub *hub, const char *topic, uint64_t *seq)
{
    struct rp_publish_item it = {
        .topic = topic, .topic_len = strlen(topic), .data = "local", .data_len = 5};
    struct rp_publish_result res;
    struct rp_hub_error err;
    int rc = -EBUSY;
    for (int tries = 0; tries < 5000 && rc == -EBUSY; tries++) {
        rc = rp_hub_publish(hub, &it, 1, &res, &err);
        if (rc == -EBUSY)
            sleep_ms(1);
    }
    *seq = res.seq;
    return rc;
}

/* Takes in <n> events after the hub's last sequence, as a mesh node takes in a peer's. */
static void
ingest_many(struct rp_hub *hub, size_t n)
{
    for (size_t done = 0; done < n; done += 16) {
        struct rp_ingest_event evs[16];
        uint64_t last = rp_hub_last_seq(hub);
        for (size_t i = 0; i < 16; i++)
            evs[i] = (struct rp_ingest_event){
                .item = {.topic = "peer", .topic_len = 4, .data = "x", .data_len = 1},
                .seq = last + 1 + i,
                .wall_ms = 1,
            };
        struct rp_hub_error err;
        assert_int_equal(rp_hub_ingest(hub, evs, 16, &err), 0);
    }
}

/*
 * A node that takes in far more events than its reservation (a mesh peer's) and then
 * publishes: the reservation followed the hub's sequence, so the publish is not refused;
 * a clean close records the sequences taken in after the last appended one, and after a
 * crash the reservation covers them, so a restart never hands one out again.
 */
static void
test_taken_in_sequences_are_reserved(void **state)
{
    struct harness h = {.fs = crashfs_new(21)};
    struct rp_store_config cfg = {.reserve_ahead = 64, .retry_ms = 1};
    assert_int_equal(hopen(&h, &cfg), 0);
    struct rp_hub_config hc = {.max_topics = 100, .max_data = 1 << 20, .epoch = 5};
    struct rp_hub_hooks hooks = {.policy_for = policy_for};
    struct rp_hub *hub = rp_hub_new(&hc, &hooks);
    rp_hub_set_engine(hub, h.e);

    ingest_many(hub, 1024); /* 16 reservations' worth */
    uint64_t seq = 0;
    assert_int_equal(publish_one(hub, "own", &seq), 0);
    assert_int_equal(seq, 1025);
    assert_true(wait_durable(&h, 1025));
    assert_true(wait_reserved(h.e, 1025 + 32));
    /* Taken in after the last append: a clean close records them. */
    ingest_many(hub, 16);
    assert_int_equal(rp_hub_last_seq(hub), 1041);
    rp_hub_set_engine(hub, NULL);
    rp_logengine_close(h.e);

    assert_int_equal(hopen(&h, &cfg), 0);
    struct rp_logengine_info info;
    rp_logengine_info(h.e, &info);
    assert_false(info.unclean);
    assert_int_equal(info.last_seq, 1025);
    assert_int_equal(info.reserved_seq, 1041); /* the next run goes on after every one */

    /* Taken in past the reservation, then the process dies: the raised reservation is on
     * disk before the crash. */
    rp_hub_set_engine(hub, h.e);
    ingest_many(hub, 512);
    uint64_t last = rp_hub_last_seq(hub);
    assert_true(wait_reserved(h.e, last + 32));
    crashfs_crash_at_sync(h.fs, 1); /* the close's mark never reaches the disk */
    rp_hub_set_engine(hub, NULL);
    rp_logengine_close(h.e);
    crashfs_reboot(h.fs, CRASHFS_DROP);
    assert_int_equal(hopen(&h, &cfg), 0);
    rp_logengine_info(h.e, &info);
    assert_true(info.unclean);
    assert_int_equal(info.last_seq, 1025);
    assert_true(info.reserved_seq >= last);
    rp_logengine_close(h.e);
    rp_hub_free(hub);
    crashfs_free(h.fs);
}

/* A log that only took events in (a mesh node with no publish of its own) names their epoch:
 * after a crash its next run goes on in that epoch, after every id it gave. */
static void
test_taken_in_only_keeps_the_epoch(void **state)
{
    struct harness h = {.fs = crashfs_new(23)};
    struct rp_store_config cfg = {.reserve_ahead = 64, .retry_ms = 1};
    assert_int_equal(hopen(&h, &cfg), 0);
    struct rp_hub_config hc = {.max_topics = 100, .max_data = 1 << 20, .epoch = 0x5eed};
    struct rp_hub_hooks hooks = {.policy_for = policy_for};
    struct rp_hub *hub = rp_hub_new(&hc, &hooks);
    rp_hub_set_engine(hub, h.e);
    ingest_many(hub, 100);
    assert_true(wait_reserved(h.e, 100 + 32));
    crashfs_crash_at_sync(h.fs, 1);
    rp_hub_set_engine(hub, NULL);
    rp_logengine_close(h.e);
    crashfs_reboot(h.fs, CRASHFS_DROP);
    assert_int_equal(hopen(&h, &cfg), 0);
    struct rp_logengine_info info;
    rp_logengine_info(h.e, &info);
    assert_int_equal(info.epoch, 0x5eed);
    assert_true(info.reserved_seq >= 100);
    rp_logengine_close(h.e);
    rp_hub_free(hub);
    crashfs_free(h.fs);
}

static void
test_interval_and_none(void **state)
{
    struct harness h = {.fs = crashfs_new(7)};
    struct rp_store_config cfg = {.fsync = RP_STORE_FSYNC_INTERVAL, .fsync_interval_ms = 2000};
    assert_int_equal(hopen(&h, &cfg), 0);
    assert_int_equal(append(&h, 1, 10), 0);
    sleep_ms(50);
    /* Written, not yet synced: not durable under interval. */
    assert_int_equal(rp_logengine_durable_seq(h.e), 0);
    struct rp_logengine_info info;
    rp_logengine_info(h.e, &info);
    assert_int_equal(info.queued_events, 10);
    assert_true(wait_durable(&h, 10));
    rp_logengine_info(h.e, &info);
    assert_int_equal(info.n_fsyncs, 1);
    assert_int_equal(info.queued_events, 0);
    rp_logengine_close(h.e);

    cfg = (struct rp_store_config){.fsync = RP_STORE_FSYNC_NONE};
    assert_int_equal(hopen(&h, &cfg), 0);
    assert_int_equal(append(&h, 11, 10), 0);
    assert_true(wait_durable(&h, 20));
    rp_logengine_info(h.e, &info);
    assert_int_equal(info.n_fsyncs, 0);
    rp_logengine_close(h.e);
    /* A power loss right after a clean close loses nothing, under none too. */
    crashfs_reboot(h.fs, CRASHFS_DROP);
    assert_int_equal(hopen(&h, &cfg), 0);
    rp_logengine_info(h.e, &info);
    assert_false(info.unclean);
    assert_loads_exactly(h.e, 1, 20);
    rp_logengine_close(h.e);
    crashfs_free(h.fs);
}

/* Readers walk segments (holding references) while the writer rolls and retention drops. */
struct reader_arg {
    struct harness *h;
    _Atomic bool *stop;
    bool bad;
    uint64_t reads;
};

static int
check_order(void *ctx, uint32_t epoch, const struct rp_ingest_event *evs, size_t n)
{
    uint64_t *last = ctx;
    for (size_t i = 0; i < n; i++) {
        if (evs[i].seq <= *last)
            return -EPROTO;
        *last = evs[i].seq;
    }
    return 0;
}

static void *
reader_main(void *arg)
{
    struct reader_arg *r = arg;
    while (!atomic_load(r->stop)) {
        uint64_t last = 0, durable = rp_logengine_durable_seq(r->h->e);
        uint64_t after = durable > 100 ? durable - 100 : 0;
        if (rp_logengine_read(r->h->e, "t2", 2, after, 50, check_order, &last) != 0 ||
            rp_logengine_load(r->h->e, 0, check_order, &(uint64_t){0}) != 0)
            r->bad = true;
        r->reads++;
    }
    return NULL;
}

static void
test_reads_during_rolls_and_retention(void **state)
{
    struct harness h = {.fs = crashfs_new(9)};
    struct rp_store_config cfg = {.segment_bytes = 1024, .retain_segments = 3};
    assert_int_equal(hopen(&h, &cfg), 0);
    _Atomic bool stop = false;
    struct reader_arg r[2] = {{.h = &h, .stop = &stop}, {.h = &h, .stop = &stop}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, reader_main, &r[i]);
    for (uint64_t s = 1; s <= 3000; s += 2)
        assert_int_equal(append(&h, s, 2), 0);
    assert_true(wait_durable(&h, 3000));
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_false(r[i].bad);
        assert_true(r[i].reads > 0);
    }
    rp_logengine_close(h.e);
    crashfs_free(h.fs);
}

/* Group commit over real files: threads append (in sequence order, as the hub does) while
 * the writer syncs; one fsync covers many appends. */
struct gc_shared {
    struct harness *h;
    pthread_mutex_t order;
    uint64_t next;
    unsigned per_thread;
};

static void *
gc_thread(void *arg)
{
    struct gc_shared *g = arg;
    for (unsigned i = 0; i < g->per_thread;) {
        pthread_mutex_lock(&g->order);
        struct rp_logengine_batch *b = batch(g->next, 1, 0);
        int rc = rp_logengine_append(g->h->e, b);
        if (rc == 0)
            g->next++;
        pthread_mutex_unlock(&g->order);
        if (rc == 0) {
            i++;
        } else {
            assert_int_equal(rc, -EAGAIN);
            rp_logengine_batch_free(b);
            sleep_ms(1);
        }
    }
    return NULL;
}

static int
rm_entry(void *arg, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", (const char *)arg, name);
    return unlink(path) == 0 ? 0 : -errno;
}

static void
test_group_commit_from_threads(void **state)
{
    char dir[] = "/tmp/rp-store-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct harness h = {0};
    struct rp_store_config cfg = {
        .fsync = RP_STORE_FSYNC_ALWAYS, .fileops = rp_fileops_posix(), .queue_events = 4096};
    cfg.dir = dir;
    struct rp_logengine_hooks hooks = {.durable_advanced = on_durable, .ctx = &h};
    assert_int_equal(rp_store_disk_open(&cfg, &hooks, &h.e), 0);
    struct gc_shared g = {.h = &h, .next = 1, .per_thread = 2500};
    pthread_mutex_init(&g.order, NULL);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, gc_thread, &g);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_true(wait_durable(&h, 10000));
    assert_false(atomic_load(&h.non_monotonic));
    assert_int_equal(atomic_load(&h.acked), 10000);
    struct rp_logengine_info info;
    rp_logengine_info(h.e, &info);
    print_message("group commit: 10000 appends from 4 threads, %llu fsyncs\n",
                  (unsigned long long)info.n_fsyncs);
    assert_true(info.n_fsyncs < 10000 / 4);
    rp_logengine_close(h.e);
    assert_int_equal(rp_store_disk_open(&cfg, NULL, &h.e), 0);
    assert_loads_exactly(h.e, 1, 10000);
    rp_logengine_close(h.e);
    pthread_mutex_destroy(&g.order);
    const struct rp_fileops *fo = rp_fileops_posix();
    assert_int_equal(fo->list(fo->ctx, dir, rm_entry, dir), 0);
    assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
    /* The crashes log by design; a failing assertion says enough. */
    rp_log_min_level = (enum rp_log_level)(RP_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_close_reopen),
        cmocka_unit_test(test_segments_roll_and_reads_seek),
        cmocka_unit_test(test_crash_at_every_sync),
        cmocka_unit_test(test_enospc_fails_then_recovers),
        cmocka_unit_test(test_retention_drops_whole_segments),
        cmocka_unit_test(test_load_feeds_the_hub),
        cmocka_unit_test(test_taken_in_sequences_are_reserved),
        cmocka_unit_test(test_taken_in_only_keeps_the_epoch),
        cmocka_unit_test(test_interval_and_none),
        cmocka_unit_test(test_reads_during_rolls_and_retention),
        cmocka_unit_test(test_group_commit_from_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
