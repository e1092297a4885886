/* SPDX-License-Identifier: MIT */
/*
 * The disk log's write side: open, append, the writer thread, retention, close. The read
 * side is store_scan.c, the mark store_mark.c; the shared state and its locking are in
 * store_private.h.
 *
 * Writer loop, one turn:
 *   wait  until appends are queued (and no retry is pending), a timer is due
 *         (interval fsync, retry, retention) or close is asked
 *   take  the whole queue: one turn writes every batch queued meanwhile (group commit)
 *   write batches in few pwrites; a batch never spans segments (roll before it)
 *   sync  by policy; durable_seq moves, then durable_advanced is called
 *   mark  raise the reservation before it runs low
 *   trim  retention, at most once a second
 * A failed write or fsync cuts the active file back to what is whole, puts the batches
 * back at the front of the queue, and is retried after retry_ms: nothing accepted is
 * dropped, and nothing already durable is touched.
 */
#include "store/store_disk.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "core/hub.h"
#include "store/fileops.h"
#include "store/record.h"
#include "store/store_private.h"

#define WRITE_CHUNK ((size_t)1 << 20)
#define RETENTION_EVERY_MS 1000
/* A queue this big is written at once, lingering or not. */
#define LINGER_EVENTS 4096
#define LINGER_BYTES (1u << 20)

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
rp_store_disk_path(const struct rp_store_disk *s, const char *name, char *out)
{
    snprintf(out, PATH_MAX, "%s/%s", s->dir, name);
}

struct rp_store_seg *
rp_store_disk_seg_new(uint64_t first_seq, int fd)
{
    struct rp_store_seg *g = rp_xcalloc(1, sizeof(*g));
    g->first_seq = first_seq;
    g->fd = fd;
    g->refs = 1;
    return g;
}

void
rp_store_disk_seg_unref(struct rp_store_disk *s, struct rp_store_seg *g)
{
    if (--g->refs > 0)
        return;
    s->fo->close(s->fo->ctx, g->fd);
    rp_segment_index_fini(&g->index);
    free(g);
}

static struct rp_store_seg *
active(const struct rp_store_disk *s)
{
    return s->n_segs ? s->segs[s->n_segs - 1] : NULL;
}

static void
enter_failed(struct rp_store_disk *s, int err)
{
    s->next_retry_ms = rp_clock_now_ms() + s->cfg.retry_ms;
    if (atomic_exchange(&s->failed, err) != 0)
        return;
    RP_LOG(RP_LOG_ERROR, "store", "msg=\"cannot write the log; retrying\" dir=\"%s\" err=\"%s\"",
           s->dir, strerror(-err));
    if (s->hooks.state_changed)
        s->hooks.state_changed(s->hooks.ctx, err);
}

static void
leave_failed(struct rp_store_disk *s)
{
    if (atomic_exchange(&s->failed, 0) == 0)
        return;
    RP_LOG(RP_LOG_INFO, "store", "msg=\"the log is written again\" dir=\"%s\"", s->dir);
    if (s->hooks.state_changed)
        s->hooks.state_changed(s->hooks.ctx, 0);
}

static void
count_list(const struct rp_logengine_batch *list, uint64_t *events, uint64_t *bytes)
{
    *events = *bytes = 0;
    for (; list; list = list->link) {
        *events += list->n;
        *bytes += list->bytes;
    }
}

/* Frees the durable batches of <list> and moves durable_seq. */
static void
made_durable(struct rp_store_disk *s, struct rp_logengine_batch *list)
{
    uint64_t events = 0, bytes = 0, last = 0;
    while (list) {
        struct rp_logengine_batch *next = list->link;
        events += list->n;
        bytes += list->bytes;
        last = rp_logengine_batch_last_seq(list);
        rp_logengine_batch_free(list);
        list = next;
    }
    if (!events)
        return;
    if (s->cfg.fsync != RP_STORE_FSYNC_NONE) {
        pthread_mutex_lock(&s->lock);
        s->u_events -= events;
        s->u_bytes -= bytes;
        pthread_mutex_unlock(&s->lock);
    }
    atomic_store_explicit(&s->durable, last, memory_order_release);
    if (s->hooks.durable_advanced)
        s->hooks.durable_advanced(s->hooks.ctx, last);
}

/* Puts <list> (the oldest accepted batches) back at the front of the queue; <written>:
 * they come from the unsynced list, so their room moves back to the queue. */
static void
requeue(struct rp_store_disk *s, struct rp_logengine_batch *list, bool written)
{
    if (!list)
        return;
    struct rp_logengine_batch *tail = list;
    while (tail->link)
        tail = tail->link;
    uint64_t events, bytes;
    count_list(list, &events, &bytes);
    pthread_mutex_lock(&s->lock);
    if (written) {
        s->u_events -= events;
        s->u_bytes -= bytes;
        s->q_events += events;
        s->q_bytes += bytes;
    }
    tail->link = s->q_head;
    s->q_head = list;
    if (!s->q_tail)
        s->q_tail = tail;
    pthread_mutex_unlock(&s->lock);
}

/* fsyncs the active segment; everything written so far becomes durable. */
static int
sync_active(struct rp_store_disk *s)
{
    struct rp_store_seg *g = active(s);
    if (!g || !s->unsynced_head)
        return 0;
    int64_t t0 = now_ns();
    int rc = s->fo->fsync(s->fo->ctx, g->fd);
    int64_t took = now_ns() - t0;
    atomic_fetch_add(&s->fsync_ns, (uint64_t)took);
    atomic_fetch_add(&s->n_fsyncs, 1);
    size_t b = 0;
    while (b < RP_LOGENGINE_FSYNC_BUCKETS && took / 1000 > rp_logengine_fsync_bounds_us[b])
        b++;
    atomic_fetch_add(&s->fsync_us[b], 1);
    s->last_fsync_ms = rp_clock_now_ms();
    if (rc)
        return rc;
    s->synced_size = g->size;
    s->synced_last = g->last_seq;
    struct rp_logengine_batch *list = s->unsynced_head;
    s->unsynced_head = s->unsynced_tail = NULL;
    made_durable(s, list);
    return 0;
}

/*
 * After a failed fsync nothing unsynced can be trusted (Linux may have dropped the dirty
 * pages and marked them clean): cut the file back to the last fsync and write those
 * batches again later.
 */
static void
rewind_unsynced(struct rp_store_disk *s)
{
    struct rp_store_seg *g = active(s);
    if (!g || !s->unsynced_head)
        return;
    s->fo->truncate(s->fo->ctx, g->fd, s->synced_size);
    pthread_mutex_lock(&s->lock);
    atomic_fetch_sub(&s->stored_bytes, g->size - s->synced_size);
    g->size = s->synced_size;
    rp_segment_index_cut(&g->index, g->size);
    g->last_seq = s->synced_last;
    pthread_mutex_unlock(&s->lock);
    s->last_written = g->last_seq;
    struct rp_logengine_batch *list = s->unsynced_head;
    s->unsynced_head = s->unsynced_tail = NULL;
    requeue(s, list, true);
}

/* Seals the active segment and starts one named <first_seq>. */
static int
roll(struct rp_store_disk *s, uint64_t first_seq)
{
    int rc = 0;
    if (s->cfg.fsync != RP_STORE_FSYNC_NONE)
        rc = sync_active(s); /* unsynced bytes never span two files */
    if (rc)
        return rc;
    char name[RP_SEGMENT_NAME_MAX], path[PATH_MAX];
    rp_segment_name(first_seq, name);
    rp_store_disk_path(s, name, path);
    /* A file of that name can only be an empty leftover of a roll that failed later:
     * every record in the log has a smaller sequence. */
    int fd = s->fo->open(s->fo->ctx, path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return fd;
    rc = s->fo->sync_dir(s->fo->ctx, s->dir);
    if (rc) {
        s->fo->close(s->fo->ctx, fd);
        return rc;
    }
    struct rp_store_seg *g = rp_store_disk_seg_new(first_seq, fd);
    pthread_mutex_lock(&s->lock);
    if (s->n_segs == s->cap_segs) {
        s->cap_segs = s->cap_segs ? s->cap_segs * 2 : 16;
        s->segs = rp_xrealloc(s->segs, s->cap_segs * sizeof(*s->segs));
    }
    s->segs[s->n_segs++] = g;
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(&s->n_segments, 1);
    s->synced_size = 0;
    s->synced_last = 0;
    s->next_retention_ms = 0;
    return 0;
}

static size_t
batch_size(const struct rp_logengine_batch *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        n += rp_record_size(&b->evs[i]);
    return n;
}

/* Encodes <b> at the end of the write buffer. */
static void
encode_batch(struct rp_store_disk *s, const struct rp_logengine_batch *b, size_t *len)
{
    size_t need = *len + batch_size(b);
    if (need > s->wcap) {
        s->wcap = need > 2 * s->wcap ? need : 2 * s->wcap;
        s->wbuf = rp_xrealloc(s->wbuf, s->wcap);
    }
    for (size_t i = 0; i < b->n; i++)
        *len += rp_record_encode(b->epoch, &b->evs[i], s->wbuf + *len);
}

/* Indexes the <len> bytes of records at the start of the write buffer, just written at
 * the end of <g>, and grows <g> by them. Under the lock. */
static void
commit_written(struct rp_store_disk *s, struct rp_store_seg *g, size_t len)
{
    for (size_t p = 0; p < len;) {
        uint64_t seq;
        int64_t wall_ms;
        size_t size = rp_record_peek(s->wbuf + p, &seq, &wall_ms);
        rp_segment_index_add(&g->index, seq, g->size + p, RP_SEGMENT_INDEX_BYTES);
        g->last_seq = seq;
        g->last_wall_ms = wall_ms;
        p += size;
    }
    g->size += len;
}

/*
 * Writes the batches of <list> in order. 0 when all were written; otherwise the unwritten
 * ones are back in the queue, the file is cut back to its last whole record, and the error
 * is returned.
 */
static int
write_batches(struct rp_store_disk *s, struct rp_logengine_batch *list)
{
    int rc = 0;
    while (list) {
        struct rp_store_seg *g = active(s);
        size_t first_size = batch_size(list);
        if (!g || (g->size > 0 && g->size + first_size > s->cfg.segment_bytes))
            rc = roll(s, list->evs[0].seq);
        if (rc)
            break;
        g = active(s);
        /* Gather batches into one write, stopping before one that would need a roll. */
        size_t len = 0;
        struct rp_logengine_batch *end = list, *last = NULL;
        while (end && (len == 0 || (len < WRITE_CHUNK &&
                                    g->size + len + batch_size(end) <= s->cfg.segment_bytes))) {
            encode_batch(s, end, &len);
            last = end;
            end = end->link;
        }
        rc = s->fo->pwrite(s->fo->ctx, g->fd, s->wbuf, len, g->size);
        if (rc) {
            s->fo->truncate(s->fo->ctx, g->fd, g->size);
            break;
        }
        last->link = NULL;
        uint64_t events, bytes;
        count_list(list, &events, &bytes);
        pthread_mutex_lock(&s->lock);
        commit_written(s, g, len);
        /* Queue room is released at the write: under interval the unsynced batches are
         * bounded by an early fsync instead, or one interval's appends would have to fit
         * in the queue (it capped interval at queue_events appends a second). */
        s->q_events -= events;
        s->q_bytes -= bytes;
        if (s->cfg.fsync != RP_STORE_FSYNC_NONE) {
            s->u_events += events;
            s->u_bytes += bytes;
        }
        pthread_mutex_unlock(&s->lock);
        atomic_fetch_add(&s->stored_bytes, len);
        s->last_written = g->last_seq;
        s->last_epoch = last->epoch;
        if (s->cfg.fsync == RP_STORE_FSYNC_NONE) {
            made_durable(s, list);
        } else {
            if (s->unsynced_tail)
                s->unsynced_tail->link = list;
            else
                s->unsynced_head = list;
            s->unsynced_tail = last;
        }
        list = end;
    }
    requeue(s, list, false);
    return rc;
}

/* The highest sequence this run or the one before may have handed out that the
 * reservation must stay ahead of: written, handed out without an append (events the hub
 * took in), or reserved by the previous run. */
static uint64_t
high_seq(struct rp_store_disk *s)
{
    uint64_t high =
        s->last_written > s->opened.reserved_seq ? s->last_written : s->opened.reserved_seq;
    uint64_t handed = atomic_load_explicit(&s->handed, memory_order_acquire);
    return handed > high ? handed : high;
}

/* The reservation is within half of what the hub handed out without appending: the writer
 * must raise it even with nothing queued. Under the lock (handed_out signals under it). */
static bool
reserve_due(const struct rp_store_disk *s)
{
    uint64_t handed = atomic_load_explicit(&s->handed, memory_order_acquire);
    return handed + s->cfg.reserve_ahead / 2 > atomic_load(&s->reserved);
}

/* Raises the reservation before the hub can reach it: a mark write per reserve_ahead / 2
 * sequences, so its fsync is lost in the noise. */
static int
maybe_reserve(struct rp_store_disk *s)
{
    uint64_t r = atomic_load_explicit(&s->reserved, memory_order_relaxed);
    uint64_t high = high_seq(s);
    rp_store_adopt_epoch(s);
    if (high + s->cfg.reserve_ahead / 2 <= r && s->mark_epoch == s->last_epoch)
        return 0;
    return rp_store_mark_write(s, high + s->cfg.reserve_ahead, false);
}

/* Drops whole oldest segments past the retention limits; never the active one. */
static void
retention(struct rp_store_disk *s)
{
    int64_t now = rp_clock_wall_ms();
    uint64_t dropped[64];
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    while (s->n_segs > 1 && n < 64) {
        struct rp_store_seg *g = s->segs[0];
        uint64_t total = atomic_load(&s->stored_bytes);
        uint64_t newest = s->segs[s->n_segs - 1]->last_seq;
        uint64_t events = newest >= g->first_seq ? newest - g->first_seq + 1 : 0;
        bool drop = (s->cfg.retain_segments && s->n_segs > s->cfg.retain_segments) ||
                    (s->cfg.retain_bytes && total > s->cfg.retain_bytes) ||
                    (s->cfg.retain_events && events > s->cfg.retain_events) ||
                    (s->cfg.retain_age_ms && g->last_wall_ms < now - s->cfg.retain_age_ms);
        if (!drop)
            break;
        memmove(s->segs, s->segs + 1, (s->n_segs - 1) * sizeof(*s->segs));
        s->n_segs--;
        atomic_fetch_sub(&s->stored_bytes, g->size);
        dropped[n++] = g->first_seq;
        rp_store_disk_seg_unref(s, g); /* a reader still holding it keeps it until it lets go */
    }
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        char name[RP_SEGMENT_NAME_MAX], path[PATH_MAX];
        rp_segment_name(dropped[i], name);
        rp_store_disk_path(s, name, path);
        int rc = s->fo->unlink(s->fo->ctx, path);
        RP_LOG(rc ? RP_LOG_WARN : RP_LOG_INFO, "store",
               "msg=\"retention dropped a segment\" segment=%s err=%d", name, rc);
        /* Counted down only once the file is gone, so the count says what is on disk. */
        atomic_fetch_sub(&s->n_segments, 1);
    }
}

static bool
sync_due(struct rp_store_disk *s, int64_t now, bool closing)
{
    if (!s->unsynced_head)
        return false;
    pthread_mutex_lock(&s->lock);
    bool full = s->u_events >= s->cfg.queue_events || s->u_bytes >= s->cfg.queue_bytes;
    pthread_mutex_unlock(&s->lock);
    return closing || full || s->cfg.fsync == RP_STORE_FSYNC_ALWAYS ||
           now - s->last_fsync_ms >= (int64_t)s->cfg.fsync_interval_ms;
}

/* When the writer must wake up without an append: the next timer. */
static int64_t
next_timer(const struct rp_store_disk *s)
{
    int64_t t = s->next_retention_ms;
    if (atomic_load(&s->failed) && s->next_retry_ms < t)
        t = s->next_retry_ms;
    if (s->unsynced_head && s->last_fsync_ms + (int64_t)s->cfg.fsync_interval_ms < t)
        t = s->last_fsync_ms + (int64_t)s->cfg.fsync_interval_ms;
    return t;
}

/* Waits for work; returns the batches to write (the whole queue) and *<closing>. */
static struct rp_logengine_batch *
wait_for_work(struct rp_store_disk *s, bool *closing)
{
    pthread_mutex_lock(&s->lock);
    for (;;) {
        int64_t now = rp_clock_now_ms();
        bool retry_wait = atomic_load(&s->failed) && now < s->next_retry_ms;
        /* A small queue lingers (appends meanwhile do not wake us: it is not empty). */
        int64_t ripe = s->q_since_ms + s->cfg.linger_ms;
        bool linger =
            s->q_head && now < ripe && s->q_events < LINGER_EVENTS && s->q_bytes < LINGER_BYTES;
        if ((s->q_head && !retry_wait && !linger) || (reserve_due(s) && !retry_wait) ||
            s->closing || now >= next_timer(s))
            break;
        /* The condvar runs on CLOCK_MONOTONIC (set at init), like rp_clock_now_ms. */
        int64_t at = next_timer(s);
        if (linger && !retry_wait && ripe < at)
            at = ripe;
        struct timespec ts = {.tv_sec = at / 1000, .tv_nsec = (at % 1000) * 1000000};
        pthread_cond_timedwait(&s->wake, &s->lock, &ts);
    }
    *closing = s->closing;
    struct rp_logengine_batch *list = NULL;
    if (!atomic_load(&s->failed) || rp_clock_now_ms() >= s->next_retry_ms || s->closing) {
        list = s->q_head;
        s->q_head = s->q_tail = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    return list;
}

/* One turn: write what was taken, sync by policy, reserve ahead. 0 or the first error. */
static int
writer_turn(struct rp_store_disk *s, struct rp_logengine_batch *list, bool closing)
{
    bool was_failed = atomic_load(&s->failed) != 0;
    int rc = write_batches(s, list);
    if (rc == 0 && sync_due(s, rp_clock_now_ms(), closing))
        rc = sync_active(s);
    if (rc == 0)
        rc = maybe_reserve(s);
    if (rc) {
        rewind_unsynced(s);
        enter_failed(s, rc);
    } else if (was_failed) {
        leave_failed(s);
    }
    return rc;
}

static void *
writer_main(void *arg)
{
    struct rp_store_disk *s = arg;
    bool retried_at_close = false;
    for (;;) {
        bool closing;
        struct rp_logengine_batch *list = wait_for_work(s, &closing);
        int rc = writer_turn(s, list, closing);
        if (rp_clock_now_ms() >= s->next_retention_ms) {
            retention(s);
            s->next_retention_ms = rp_clock_now_ms() + RETENTION_EVERY_MS;
        }
        if (!closing)
            continue;
        pthread_mutex_lock(&s->lock);
        bool drained = !s->q_head;
        pthread_mutex_unlock(&s->lock);
        /* At close a failing disk gets one more try, not a retry loop that hangs the stop. */
        if (rc == 0 && drained && !s->unsynced_head)
            break;
        if (rc && retried_at_close)
            break;
        retried_at_close = rc != 0;
    }
    /* Under none nothing was synced: the clean mark must not claim data the kernel still
     * holds, so every segment is synced first (cheap for those with nothing dirty). */
    if (s->cfg.fsync == RP_STORE_FSYNC_NONE && !atomic_load(&s->failed))
        for (size_t i = 0; i < s->n_segs; i++)
            if (s->fo->fsync(s->fo->ctx, s->segs[i]->fd) != 0)
                atomic_store(&s->failed, -EIO);
    /* A clean close leaves no gap after the last record, but never gives back a sequence
     * a client may hold: what an unclean stop before this run reserved (the hub of this
     * run went on after it) or what this run handed out without an append (events taken
     * in from a peer). The next run goes on after it; a resume from inside is told. */
    uint64_t keep = high_seq(s);
    if (!atomic_load(&s->failed) && rp_store_mark_write(s, keep, true) != 0)
        RP_LOG(RP_LOG_WARN, "store", "msg=\"cannot mark the log closed\" dir=\"%s\"", s->dir);
    return NULL;
}

static bool
append_valid(const struct rp_store_disk *s, const struct rp_logengine_batch *b)
{
    if (b->n == 0)
        return false;
    for (size_t i = 0; i < b->n; i++) {
        size_t size = rp_record_size(&b->evs[i]);
        if (size == 0 || size > s->cfg.max_record || b->evs[i].item.topic_len == 0 ||
            b->evs[i].seq == 0 || (i > 0 && b->evs[i].seq <= b->evs[i - 1].seq))
            return false;
    }
    return true;
}

static int
disk_append(struct rp_logengine *e, struct rp_logengine_batch *b)
{
    struct rp_store_disk *s = (struct rp_store_disk *)e;
    if (!append_valid(s, b))
        return -EINVAL;
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    if (s->closing)
        rc = -ESHUTDOWN;
    else if (b->evs[0].seq <= s->last_accepted)
        rc = -EINVAL;
    else if (s->q_events > 0 && (s->q_events + b->n > s->cfg.queue_events ||
                                 s->q_bytes + b->bytes > s->cfg.queue_bytes))
        rc = -EAGAIN; /* an empty queue takes any batch, or a big one could never go in */
    if (rc == 0) {
        b->link = NULL;
        bool was_empty = !s->q_head;
        if (was_empty)
            s->q_since_ms = rp_clock_now_ms();
        if (s->q_tail)
            s->q_tail->link = b;
        else
            s->q_head = b;
        s->q_tail = b;
        s->q_events += b->n;
        s->q_bytes += b->bytes;
        s->last_accepted = rp_logengine_batch_last_seq(b);
        /* The writer drains the whole queue per turn, so it sleeps only on an empty one
         * (or on a timer, when failed): wake it for the first batch only. */
        if (was_empty)
            pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static uint64_t
disk_durable_seq(const struct rp_logengine *e)
{
    const struct rp_store_disk *s = (const struct rp_store_disk *)e;
    return atomic_load_explicit(&s->durable, memory_order_acquire);
}

static uint64_t
disk_reserved_seq(const struct rp_logengine *e)
{
    const struct rp_store_disk *s = (const struct rp_store_disk *)e;
    return atomic_load_explicit(&s->reserved, memory_order_acquire);
}

static void
disk_handed_out(struct rp_logengine *e, uint32_t epoch, uint64_t seq)
{
    struct rp_store_disk *s = (struct rp_store_disk *)e;
    /* The first sequences of a log with no event of its own yet: its mark must name their
     * epoch at once, so the writer is woken. */
    bool new_epoch = atomic_exchange(&s->handed_epoch, epoch) != epoch;
    uint64_t prev = atomic_load_explicit(&s->handed, memory_order_relaxed);
    while (seq > prev && !atomic_compare_exchange_weak_explicit(
                             &s->handed, &prev, seq, memory_order_release, memory_order_relaxed))
        ;
    /* The writer raises the reservation; it is woken only when that is due (a taken-in
     * batch costs an atomic otherwise). It checks under the lock, so no wake-up is lost. */
    if (!new_epoch &&
        seq + s->cfg.reserve_ahead / 2 <= atomic_load_explicit(&s->reserved, memory_order_acquire))
        return;
    pthread_mutex_lock(&s->lock);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

static void
disk_info(struct rp_logengine *e, struct rp_logengine_info *out)
{
    struct rp_store_disk *s = (struct rp_store_disk *)e;
    *out = s->opened;
    out->failed = atomic_load(&s->failed);
    out->durable_seq = disk_durable_seq(e);
    pthread_mutex_lock(&s->lock);
    out->queued_events = s->q_events + s->u_events;
    /* Retention moves the oldest kept event. */
    out->first_seq = s->n_segs && s->segs[0]->index.n ? s->segs[0]->index.e[0].seq : 0;
    pthread_mutex_unlock(&s->lock);
    out->stored_bytes = atomic_load(&s->stored_bytes);
    out->n_segments = atomic_load(&s->n_segments);
    out->n_fsyncs = atomic_load(&s->n_fsyncs);
    out->fsync_ns_total = atomic_load(&s->fsync_ns);
    for (size_t b = 0; b <= RP_LOGENGINE_FSYNC_BUCKETS; b++)
        out->fsync_us[b] = atomic_load(&s->fsync_us[b]);
}

static void
disk_close(struct rp_logengine *e)
{
    struct rp_store_disk *s = (struct rp_store_disk *)e;
    if (s->thread_started) {
        pthread_mutex_lock(&s->lock);
        s->closing = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    uint64_t lost = 0;
    for (struct rp_logengine_batch *b = s->q_head, *next; b; b = next) {
        next = b->link;
        lost += b->n;
        rp_logengine_batch_free(b);
    }
    for (struct rp_logengine_batch *b = s->unsynced_head, *next; b; b = next) {
        next = b->link;
        lost += b->n;
        rp_logengine_batch_free(b);
    }
    if (lost)
        RP_LOG(RP_LOG_ERROR, "store",
               "msg=\"closed with events not durable\" dir=\"%s\" events=%" PRIu64, s->dir, lost);
    for (size_t i = 0; i < s->n_segs; i++)
        rp_store_disk_seg_unref(s, s->segs[i]);
    if (s->mark_fd >= 0)
        s->fo->close(s->fo->ctx, s->mark_fd);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s->segs);
    free(s->wbuf);
    free(s->dir);
    free(s);
}

static const struct rp_logengine_ops disk_ops = {
    .name = "disk",
    .append = disk_append,
    .durable_seq = disk_durable_seq,
    .reserved_seq = disk_reserved_seq,
    .handed_out = disk_handed_out,
    .load = rp_store_scan_load,
    .read = rp_store_scan_read,
    .info = disk_info,
    .close = disk_close,
};

static void
fill_defaults(struct rp_store_config *c)
{
    if (!c->fsync_interval_ms)
        c->fsync_interval_ms = 1000;
    if (!c->segment_bytes)
        c->segment_bytes = (uint64_t)64 << 20;
    if (!c->queue_events)
        c->queue_events = 65536;
    if (!c->queue_bytes)
        c->queue_bytes = (uint64_t)64 << 20;
    if (!c->reserve_ahead)
        c->reserve_ahead = (uint64_t)1 << 20;
    if (!c->retry_ms)
        c->retry_ms = 200;
    if (c->fsync == RP_STORE_FSYNC_ALWAYS || c->linger_ms < 0)
        c->linger_ms = 0;
    else if (!c->linger_ms)
        c->linger_ms = 2;
    if (!c->max_record || c->max_record > RP_RECORD_MAX)
        c->max_record = RP_RECORD_MAX;
    if (!c->fileops)
        c->fileops = rp_fileops_posix();
}

static int
start(struct rp_store_disk *s)
{
    int rc = rp_store_scan_recover(s);
    if (rc == 0)
        rc = rp_store_mark_open(s);
    if (rc)
        return rc;
    uint64_t bytes = 0;
    for (size_t i = 0; i < s->n_segs; i++)
        bytes += s->segs[i]->size;
    atomic_store(&s->stored_bytes, bytes);
    atomic_store(&s->n_segments, s->n_segs);
    atomic_store(&s->durable, s->opened.last_seq);
    s->last_written = s->last_accepted = s->opened.last_seq;
    if (active(s)) {
        s->synced_size = active(s)->size;
        s->synced_last = active(s)->last_seq;
    }
    s->last_fsync_ms = rp_clock_now_ms();
    rc = -pthread_create(&s->thread, NULL, writer_main, s);
    s->thread_started = rc == 0;
    return rc;
}

int
rp_store_disk_open(const struct rp_store_config *config, const struct rp_logengine_hooks *hooks,
                   struct rp_logengine **out)
{
    struct rp_store_disk *s = rp_xcalloc(1, sizeof(*s));
    s->base.ops = &disk_ops;
    s->cfg = *config;
    fill_defaults(&s->cfg);
    s->dir = rp_xstrdup(config->dir);
    s->cfg.dir = s->dir;
    s->fo = s->cfg.fileops;
    s->mark_fd = -1;
    if (hooks)
        s->hooks = *hooks;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    int rc = start(s);
    if (rc) {
        RP_LOG(RP_LOG_ERROR, "store", "msg=\"cannot open the log\" dir=\"%s\" err=\"%s\"", s->dir,
               strerror(-rc));
        disk_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}
