/* SPDX-License-Identifier: MIT */
#include "server/log_store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/hub.h"
#include "store/store_disk.h"

#define SAME_VALUE(cfg, lib) _Static_assert((int)(cfg) == (int)(lib), #cfg " != " #lib)
SAME_VALUE(RP_CFG_FSYNC_ALWAYS, RP_STORE_FSYNC_ALWAYS);
SAME_VALUE(RP_CFG_FSYNC_INTERVAL, RP_STORE_FSYNC_INTERVAL);
SAME_VALUE(RP_CFG_FSYNC_NONE, RP_STORE_FSYNC_NONE);

/* mkdir -p, mode 0750 for what it creates. */
static int
make_dir(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0750) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* Takes <dir>/store.lock (flock: released by the kernel when the process dies). */
static int
lock_dir(const char *dir, int *out)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/store.lock", dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno == EWOULDBLOCK ? -EBUSY : -errno;
        close(fd);
        return err;
    }
    *out = fd;
    return 0;
}

int
rp_log_store_open(struct rp_log_store *ls, const struct rp_config_values *v,
                  const struct rp_logengine_hooks *hooks)
{
    *ls = (struct rp_log_store){.lock_fd = -1};
    if (!v->data_dir || !*v->data_dir) {
        RP_LOG(RP_LOG_INFO, "store",
               "msg=\"data_dir is empty: history is kept in memory only and a restart starts a "
               "new epoch\"");
        return 0;
    }
    int rc = make_dir(v->data_dir);
    if (rc) {
        RP_LOG(RP_LOG_ERROR, "store", "msg=\"cannot create data_dir: %s\" dir=\"%s\"",
               strerror(-rc), v->data_dir);
        return rc;
    }
    rc = lock_dir(v->data_dir, &ls->lock_fd);
    if (rc) {
        RP_LOG(RP_LOG_ERROR, "store", "msg=\"%s\" dir=\"%s\"",
               rc == -EBUSY ? "data_dir is in use by another RevenProx process (store.lock is "
                              "held); give each process its own data_dir"
                            : strerror(-rc),
               v->data_dir);
        return rc;
    }
    struct rp_store_config sc = {
        .dir = v->data_dir,
        .fsync = (enum rp_store_fsync)v->fsync,
        .fsync_interval_ms = (uint32_t)v->fsync_interval,
        .retain_bytes = (uint64_t)v->data_max_bytes,
        .retain_events = (uint64_t)v->data_max_events,
        .retain_age_ms = v->data_max_age,
    };
    rc = rp_store_disk_open(&sc, hooks, &ls->engine);
    if (rc) {
        RP_LOG(RP_LOG_ERROR, "store", "msg=\"cannot open the event log: %s\" dir=\"%s\"",
               strerror(-rc), v->data_dir);
        close(ls->lock_fd);
        ls->lock_fd = -1;
        return rc;
    }
    ls->dir = rp_xstrdup(v->data_dir);
    ls->wait_durable = v->fsync == RP_CFG_FSYNC_ALWAYS;
    ls->load_bytes = (uint64_t)v->data_load_bytes;
    rp_logengine_info(ls->engine, &ls->opened);
    const struct rp_logengine_info *i = &ls->opened;
    RP_LOG(i->dropped_records || i->dropped_bytes ? RP_LOG_WARN : RP_LOG_INFO, "store",
           "msg=\"event log opened\" dir=\"%s\" fsync=%s epoch=%08x first_seq=%" PRIu64
           " last_seq=%" PRIu64 " reserved_seq=%" PRIu64 " segments=%" PRIu64 " bytes=%" PRIu64
           " clean=%s records_dropped=%" PRIu64 " bytes_dropped=%" PRIu64,
           v->data_dir, rp_config_choice("fsync", v->fsync), i->epoch, i->first_seq, i->last_seq,
           i->reserved_seq, i->n_segments, i->stored_bytes, i->unclean ? "no" : "yes",
           i->dropped_records, i->dropped_bytes);
    return 0;
}

uint32_t
rp_log_store_epoch(const struct rp_log_store *ls)
{
    return ls->engine ? ls->opened.epoch : 0;
}

/* Feeding the hub at start-up. */
struct loader {
    struct rp_hub *hub;
    uint64_t prev;      /* the last sequence taken in */
    uint64_t events;    /* taken in */
    uint64_t skipped;   /* refused by the hub (over this run's max_data, ...) or of another epoch */
    uint64_t gaps;      /* ranges the sequence skipped */
    uint64_t max_chunk; /* events handed to the hub in one call */
};

/* Hands <n> events (consecutive sequences) to the hub; one at a time if the batch is
 * refused, so one event this run no longer takes (max_data lowered) costs only itself. */
static void
ingest(struct loader *l, const struct rp_ingest_event *evs, size_t n)
{
    if (n == 0)
        return;
    struct rp_hub_error err;
    if (rp_hub_ingest(l->hub, evs, n, &err) == 0) {
        l->events += n;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (rp_hub_ingest(l->hub, &evs[i], 1, &err) == 0) {
            l->events++;
            continue;
        }
        l->skipped++;
        rp_hub_forget(l->hub, evs[i].item.topic, evs[i].item.topic_len, evs[i].seq);
        RP_LOG(RP_LOG_WARN, "store",
               "msg=\"a stored event is not taken back: %s; readers from before it are told "
               "(event: resync)\" seq=%" PRIu64,
               err.message, evs[i].seq);
    }
}

static int
load_event(void *ctx, uint32_t epoch, const struct rp_ingest_event *evs, size_t n)
{
    struct loader *l = ctx;
    if (epoch != rp_hub_epoch(l->hub)) {
        l->skipped += n;
        return 0;
    }
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = evs[i].seq;
        if (l->prev && seq != l->prev + 1) {
            /* Every committed event is appended, so a skipped range was lost (an unclean
             * stop) or refused by the log: gone for every topic. */
            ingest(l, evs + start, i - start);
            start = i;
            rp_hub_forget_all(l->hub, seq - 1);
            l->gaps++;
        }
        l->prev = seq;
    }
    ingest(l, evs + start, n - start);
    return 0;
}

int
rp_log_store_load(struct rp_log_store *ls, struct rp_hub *hub)
{
    if (!ls->engine)
        return 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* Events before the oldest kept one were dropped by retention: any topic may have had
     * some, so a reader from before it is told. */
    const struct rp_logengine_info *i = &ls->opened;
    if (i->first_seq > 1)
        rp_hub_forget_all(hub, i->first_seq - 1);
    /* Start-up takes only the newest data_load_bytes into memory, so the time to listen does
     * not grow with the log: memory starts about that much before the end (sequences are
     * spread evenly enough over the bytes for an estimate); older resumes read the disk. */
    uint64_t after = 0, most = ls->load_bytes;
    if (i->stored_bytes > most && i->last_seq > i->first_seq) {
        long double part = (long double)(i->stored_bytes - most) / i->stored_bytes;
        after = i->first_seq + (uint64_t)(part * (long double)(i->last_seq - i->first_seq));
        rp_hub_memory_floor(hub, after);
    }
    struct loader l = {.hub = hub};
    int rc = rp_logengine_load(ls->engine, after, load_event, &l);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    if (rc) {
        RP_LOG(RP_LOG_ERROR, "store", "msg=\"cannot read the event log: %s\" dir=\"%s\"",
               strerror(-rc), ls->dir);
        return rc;
    }
    RP_LOG(RP_LOG_INFO, "store",
           "msg=\"history loaded\" events=%" PRIu64 " skipped=%" PRIu64 " gaps=%" PRIu64
           " from_seq=%" PRIu64 " ms=%ld",
           l.events, l.skipped, l.gaps, after + 1, ms);
    return 0;
}

void
rp_log_store_attach(struct rp_log_store *ls, struct rp_hub *hub, bool nothing_lost)
{
    if (!ls->engine)
        return;
    uint64_t reserved = ls->opened.reserved_seq, last = rp_hub_last_seq(hub);
    if (reserved > last && !nothing_lost) {
        /* An unclean stop: the previous run may have sent clients events up to its
         * reservation that never reached the disk. */
        if (ls->opened.unclean)
            RP_LOG(RP_LOG_WARN, "store",
                   "msg=\"the previous run did not stop cleanly: events after the last one on "
                   "disk may have reached clients and are gone; clients resuming from before "
                   "them are told (event: resync)\" last_seq=%" PRIu64 " reserved_seq=%" PRIu64,
                   last, reserved);
        rp_hub_forget_all(hub, reserved);
    }
    rp_hub_advance_seq(hub, reserved);
    rp_hub_set_engine(hub, ls->engine);
}

int
rp_log_store_close(struct rp_log_store *ls, struct rp_hub *hub, int timeout_ms)
{
    if (!ls->engine)
        return 0;
    if (hub) {
        rp_hub_set_engine(hub, NULL);
        /* Every sequence the hub gave out, taken-in events' too, so that the next run (or
         * an upgrade's successor) goes on after them: their ids reached clients. */
        rp_logengine_handed_out(ls->engine, rp_hub_epoch(hub), rp_hub_last_seq(hub));
    }
    /* The engine makes what it accepted durable at close; waiting first lets a failing
     * disk be told apart (and logged) from a clean close. */
    struct rp_logengine_info info;
    for (int waited = 0;; waited += 10) {
        rp_logengine_info(ls->engine, &info);
        if (info.queued_events == 0 || waited >= timeout_ms)
            break;
        struct timespec ms10 = {0, 10 * 1000 * 1000};
        nanosleep(&ms10, NULL);
    }
    int rc = info.queued_events ? -EIO : 0;
    rp_logengine_close(ls->engine);
    ls->engine = NULL;
    if (ls->lock_fd >= 0)
        close(ls->lock_fd);
    ls->lock_fd = -1;
    RP_FREE(ls->dir);
    return rc;
}
