/* SPDX-License-Identifier: MIT */
/*
 * Acknowledged appends per second of the disk log (store/store_disk.h) under each fsync
 * policy, on real files: <publishers> threads each append one event (100 topics, 100-byte
 * data) in sequence order, as the hub does; under `always` each then waits for durable_seq
 * to cover it, as a publish parked with RP_WAIT_DURABLE would. Under `interval` and `none`
 * a publish is answered once appended (Redis's everysec and no answer before the fsync
 * too), so those count accepted appends; the durable lag at the end is printed. The memory
 * engine is the baseline.
 *
 *   store_bench DIR [seconds-per-policy] [publishers]
 *   store_bench DIR --startup MEGABYTES
 *
 * --startup writes MEGABYTES of history (100 topics, 200-byte events, fsync none), closes,
 * and times open (recovery checks every record), a load of everything, and a read of the
 * newest 100,000 events of one topic through the index.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "core/hub.h"
#include "core/logengine.h"
#include "store/fileops.h"
#include "store/store_disk.h"

struct bench {
    struct rp_logengine *e;
    pthread_mutex_t order, ack_lock;
    pthread_cond_t acked;
    uint64_t next;
    _Atomic bool stop;
    bool wait_durable;
    _Atomic uint64_t n_acked;
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
on_durable(void *ctx, uint64_t seq)
{
    struct bench *b = ctx;
    pthread_mutex_lock(&b->ack_lock);
    pthread_cond_broadcast(&b->acked);
    pthread_mutex_unlock(&b->ack_lock);
}

static void *
publisher(void *arg)
{
    struct bench *b = arg;
    char data[100];
    memset(data, 'x', sizeof(data));
    while (!atomic_load(&b->stop)) {
        char topic[16];
        pthread_mutex_lock(&b->order);
        uint64_t seq = b->next;
        int tl = snprintf(topic, sizeof(topic), "topic%u", (unsigned)(seq % 100));
        struct rp_ingest_event ev = {
            .item = {.topic = topic, .topic_len = (size_t)tl, .data = data, .data_len = 100},
            .seq = seq,
            .wall_ms = 1,
        };
        struct rp_logengine_batch *bt = rp_logengine_batch_new(1, &ev, 1);
        int rc = rp_logengine_append(b->e, bt);
        if (rc == 0)
            b->next++;
        pthread_mutex_unlock(&b->order);
        if (rc) {
            rp_logengine_batch_free(bt);
            usleep(100);
            continue;
        }
        pthread_mutex_lock(&b->ack_lock);
        while (b->wait_durable && rp_logengine_durable_seq(b->e) < seq)
            pthread_cond_wait(&b->acked, &b->ack_lock);
        pthread_mutex_unlock(&b->ack_lock);
        atomic_fetch_add(&b->n_acked, 1);
    }
    return NULL;
}

static int
rm_entry(void *arg, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", (const char *)arg, name);
    return unlink(path) == 0 ? 0 : -errno;
}

static void
run(const char *label, struct rp_logengine *e, struct bench *b, double secs, int pubs)
{
    b->e = e;
    b->next = 1;
    b->wait_durable = strcmp(label, "always") == 0;
    atomic_store(&b->stop, false);
    atomic_store(&b->n_acked, 0);
    pthread_t th[256];
    double t0 = now_s();
    for (int i = 0; i < pubs; i++)
        pthread_create(&th[i], NULL, publisher, b);
    usleep((useconds_t)(secs * 1e6));
    atomic_store(&b->stop, true);
    for (int i = 0; i < pubs; i++)
        pthread_join(th[i], NULL);
    double dt = now_s() - t0;
    struct rp_logengine_info info;
    rp_logengine_info(e, &info);
    uint64_t n = atomic_load(&b->n_acked);
    printf("%-9s %2d publishers: %9.0f acked appends/s, durable lag %6" PRIu64 ", %6" PRIu64
           " fsyncs (%.0f appends each, mean %.3f ms)\n",
           label, pubs, (double)n / dt, b->next - 1 - info.durable_seq, info.n_fsyncs,
           info.n_fsyncs ? (double)n / (double)info.n_fsyncs : 0.0,
           info.n_fsyncs ? (double)info.fsync_ns_total / (double)info.n_fsyncs / 1e6 : 0.0);
}

static int
count_events(void *ctx, uint32_t epoch, const struct rp_ingest_event *evs, size_t n)
{
    *(uint64_t *)ctx += n;
    return 0;
}

/* Fills <dir> with <mb> MiB of history in batches of 64, through the engine itself. */
static uint64_t
fill(const char *dir, uint64_t mb)
{
    struct rp_store_config cfg = {.dir = dir, .fsync = RP_STORE_FSYNC_NONE};
    struct rp_logengine *e = NULL;
    if (rp_store_disk_open(&cfg, NULL, &e) != 0)
        return 0;
    char data[200], topics[100][16];
    memset(data, 'y', sizeof(data));
    for (int i = 0; i < 100; i++)
        snprintf(topics[i], sizeof(topics[i]), "topic%d", i);
    uint64_t seq = 1, target = mb << 20, bytes = 0;
    while (bytes < target) {
        struct rp_ingest_event evs[64];
        for (int i = 0; i < 64; i++) {
            const char *t = topics[(seq + (uint64_t)i) % 100];
            evs[i] = (struct rp_ingest_event){
                .item = {.topic = t, .topic_len = strlen(t), .data = data, .data_len = 200},
                .seq = seq + (uint64_t)i,
                .wall_ms = 1};
        }
        struct rp_logengine_batch *b = rp_logengine_batch_new(1, evs, 64);
        if (rp_logengine_append(e, b) != 0) {
            rp_logengine_batch_free(b);
            usleep(200);
            continue;
        }
        seq += 64;
        bytes += 64 * (44 + 7 + 200);
    }
    rp_logengine_close(e);
    return seq - 1;
}

static int
startup(const char *dir, uint64_t mb)
{
    uint64_t last = fill(dir, mb);
    if (!last)
        return 1;
    double t0 = now_s();
    struct rp_store_config cfg = {.dir = dir};
    struct rp_logengine *e = NULL;
    if (rp_store_disk_open(&cfg, NULL, &e) != 0)
        return 1;
    double t1 = now_s();
    uint64_t n = 0;
    rp_logengine_load(e, 0, count_events, &n);
    double t2 = now_s();
    uint64_t m = 0;
    rp_logengine_read(e, "topic7", 6, last > 10000000 ? last - 10000000 : 0, 100000, count_events,
                      &m);
    double t3 = now_s();
    struct rp_logengine_info info;
    rp_logengine_info(e, &info);
    printf("%" PRIu64 " MiB, %" PRIu64 " events in %" PRIu64 " segments: open %.3f s, "
           "load %.3f s (%.0f events/s), read of %" PRIu64 " events of one topic %.3f s "
           "(%.0f events/s)\n",
           info.stored_bytes >> 20, n, info.n_segments, t1 - t0, t2 - t1, (double)n / (t2 - t1), m,
           t3 - t2, (double)m / (t3 - t2));
    rp_logengine_close(e);
    char path[4096];
    snprintf(path, sizeof(path), "%s", dir);
    const struct rp_fileops *fo = rp_fileops_posix();
    fo->list(fo->ctx, path, rm_entry, path);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: store_bench DIR [seconds-per-policy] [publishers]\n");
        return 2;
    }
    rp_log_min_level = RP_LOG_WARN;
    if (argc > 3 && strcmp(argv[2], "--startup") == 0)
        return startup(argv[1], (uint64_t)strtoull(argv[3], NULL, 10));
    double secs = argc > 2 ? strtod(argv[2], NULL) : 3;
    int pubs = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 16;
    if (pubs < 1 || pubs > 256)
        pubs = 16;
    rp_log_min_level = RP_LOG_WARN;
    struct bench b = {0};
    pthread_mutex_init(&b.order, NULL);
    pthread_mutex_init(&b.ack_lock, NULL);
    pthread_cond_init(&b.acked, NULL);
    struct rp_logengine_hooks hooks = {.durable_advanced = on_durable, .ctx = &b};

    struct rp_logengine *mem = rp_logengine_memory_new();
    run("memory", mem, &b, secs, pubs);
    rp_logengine_close(mem);
    const char *names[] = {"always", "interval", "none"};
    const enum rp_store_fsync pol[] = {RP_STORE_FSYNC_ALWAYS, RP_STORE_FSYNC_INTERVAL,
                                       RP_STORE_FSYNC_NONE};
    for (int i = 0; i < 3; i++) {
        struct rp_store_config cfg = {.dir = argv[1], .fsync = pol[i]};
        struct rp_logengine *e = NULL;
        int rc = rp_store_disk_open(&cfg, &hooks, &e);
        if (rc) {
            fprintf(stderr, "store_bench: cannot open %s: %s\n", argv[1], strerror(-rc));
            return 1;
        }
        run(names[i], e, &b, secs, pubs);
        rp_logengine_close(e);
        const struct rp_fileops *fo = rp_fileops_posix();
        fo->list(fo->ctx, argv[1], rm_entry, argv[1]);
    }
    return 0;
}
