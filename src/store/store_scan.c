/* SPDX-License-Identifier: MIT */
/*
 * The disk log's read side: recovery at open, then load and read. Recovery checks every
 * record of every segment (lengths, CRC, sequences increasing across files), so bit rot in
 * an old segment is found at start-up rather than by a reader; what follows the first bad
 * record of a segment is dropped (the newest segment's file is truncated there, since the
 * writer appends to it; older files are left as they are, for inspection, and read only
 * up to that point), and the intact records lost behind it are counted.
 */
#include "store/store_private.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "store/fileops.h"

/* Records delivered to a callback at once (rp_hub_ingest takes them as one batch). */
#define DELIVER_BATCH 256
/* Past this, a dropped tail's intact records are not counted (its bytes still are). */
#define COUNT_TAIL_MAX ((uint64_t)64 << 20)

struct names {
    uint64_t *seqs;
    size_t n, cap;
};

static int
collect_name(void *arg, const char *name)
{
    struct names *nm = arg;
    uint64_t seq;
    if (!rp_segment_parse_name(name, &seq))
        return 0;
    if (nm->n == nm->cap) {
        nm->cap = nm->cap ? nm->cap * 2 : 16;
        nm->seqs = rp_xrealloc(nm->seqs, nm->cap * sizeof(*nm->seqs));
    }
    nm->seqs[nm->n++] = seq;
    return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * Counts the intact records in [<from>, <end>) of <fd> that a truncation at <from> loses:
 * a record is intact when it decodes at some offset and its sequence is after <last>. One
 * byte at a time past anything else, so it finds records behind a corrupt one.
 */
static uint64_t
count_intact(struct rp_store_disk *s, int fd, uint64_t from, uint64_t end, uint64_t last)
{
    if (end - from > COUNT_TAIL_MAX)
        return 0;
    size_t n = (size_t)(end - from);
    char *buf = rp_xmalloc(n ? n : 1);
    size_t got = 0;
    while (got < n) {
        ssize_t r = s->fo->pread(s->fo->ctx, fd, buf + got, n - got, from + got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    uint64_t count = 0;
    for (size_t p = 1; p + RP_RECORD_HEADER <= got;) {
        struct rp_ingest_event ev;
        uint32_t epoch;
        size_t size;
        const char *why;
        if (rp_record_decode(buf + p, got - p, s->cfg.max_record, &ev, &epoch, &size, &why) ==
                RP_RECORD_DONE &&
            ev.seq > last) {
            count++;
            last = ev.seq;
            p += size;
        } else {
            p++;
        }
    }
    free(buf);
    return count;
}

/*
 * Checks <g>'s records (<file_size> bytes) after *<prev_last>, building its index. A bad
 * record ends the segment there; the newest segment's file is cut back to it.
 */
static int
check_segment(struct rp_store_disk *s, struct rp_store_seg *g, uint64_t file_size,
              uint64_t *prev_last, bool newest)
{
    struct rp_segment_scan sc;
    rp_segment_scan_init(&sc, s->fo, g->fd, 0, file_size, s->cfg.max_record);
    struct rp_ingest_event ev;
    uint32_t epoch;
    uint64_t off, good = 0;
    const char *why = NULL;
    int rc;
    while ((rc = rp_segment_scan_next(&sc, &ev, &epoch, &off)) == 1) {
        if (ev.seq < g->first_seq || ev.seq <= *prev_last) {
            why = "sequence not after the previous record";
            break;
        }
        rp_segment_index_add(&g->index, ev.seq, off, RP_SEGMENT_INDEX_BYTES);
        g->last_seq = *prev_last = ev.seq;
        g->last_wall_ms = ev.wall_ms;
        s->opened.epoch = epoch;
        good = sc.off;
    }
    if (rc == -EBADMSG)
        why = sc.why;
    rp_segment_scan_fini(&sc);
    if (rc < 0 && rc != -EBADMSG)
        return rc;
    g->size = good;
    if (good == file_size)
        return 0;
    uint64_t lost = count_intact(s, g->fd, good, file_size, *prev_last);
    s->opened.dropped_records += lost;
    s->opened.dropped_bytes += file_size - good;
    char name[RP_SEGMENT_NAME_MAX];
    rp_segment_name(g->first_seq, name);
    RP_LOG(RP_LOG_WARN, "store",
           "msg=\"dropped a torn or corrupt tail\" segment=%s offset=%" PRIu64 " bytes=%" PRIu64
           " intact_records=%" PRIu64 " why=\"%s\"",
           name, good, file_size - good, lost, why ? why : "?");
    if (!newest)
        return 0;
    rc = s->fo->truncate(s->fo->ctx, g->fd, good);
    if (rc == 0)
        rc = s->fo->fsync(s->fo->ctx, g->fd);
    return rc;
}

static void
push_seg(struct rp_store_disk *s, struct rp_store_seg *g)
{
    if (s->n_segs == s->cap_segs) {
        s->cap_segs = s->cap_segs ? s->cap_segs * 2 : 16;
        s->segs = rp_xrealloc(s->segs, s->cap_segs * sizeof(*s->segs));
    }
    s->segs[s->n_segs++] = g;
}

/* Opens and checks the segment <first_seq>; *<out> is NULL when it held nothing and was
 * removed (an older segment with no valid record is of no use to anyone). */
static int
recover_one(struct rp_store_disk *s, uint64_t first_seq, bool newest, uint64_t *prev_last,
            struct rp_store_seg **out)
{
    char name[RP_SEGMENT_NAME_MAX], path[PATH_MAX];
    rp_segment_name(first_seq, name);
    rp_store_disk_path(s, name, path);
    *out = NULL;
    int fd = s->fo->open(s->fo->ctx, path, O_RDWR, 0);
    if (fd < 0)
        return fd;
    uint64_t size = 0;
    int rc = s->fo->size(s->fo->ctx, fd, &size);
    struct rp_store_seg *g = rp_store_disk_seg_new(first_seq, fd);
    if (rc == 0)
        rc = check_segment(s, g, size, prev_last, newest);
    if (rc == 0 && (g->last_seq != 0 || newest)) {
        *out = g;
        return 0;
    }
    if (rc == 0) {
        RP_LOG(RP_LOG_WARN, "store", "msg=\"removed a segment with no valid record\" segment=%s",
               name);
        rc = s->fo->unlink(s->fo->ctx, path);
    }
    s->fo->close(s->fo->ctx, g->fd);
    rp_segment_index_fini(&g->index);
    free(g);
    return rc;
}

int
rp_store_scan_recover(struct rp_store_disk *s)
{
    struct names nm = {0};
    int rc = s->fo->list(s->fo->ctx, s->dir, collect_name, &nm);
    if (rc == 0 && nm.n > 0)
        qsort(nm.seqs, nm.n, sizeof(*nm.seqs), cmp_u64);
    uint64_t prev_last = 0;
    for (size_t i = 0; rc == 0 && i < nm.n; i++) {
        struct rp_store_seg *g;
        rc = recover_one(s, nm.seqs[i], i + 1 == nm.n, &prev_last, &g);
        if (rc == 0 && g) {
            if (g->last_seq && g->index.n && s->opened.first_seq == 0)
                s->opened.first_seq = g->index.e[0].seq;
            push_seg(s, g);
        }
    }
    free(nm.seqs);
    if (rc) {
        RP_LOG(RP_LOG_ERROR, "store", "msg=\"cannot recover the log\" dir=\"%s\" err=%d", s->dir,
               rc);
        return rc;
    }
    s->opened.last_seq = prev_last;
    return 0;
}

/* One walk's state: where it delivers, what it wants, the batch being gathered. */
struct walk {
    const char *topic; /* NULL: every topic */
    size_t topic_len;
    uint64_t after;
    size_t left;
    rp_logengine_event_fn fn;
    void *ctx;
    struct rp_ingest_event evs[DELIVER_BATCH];
    size_t n;
    uint32_t epoch;
};

static int
flush(struct walk *w)
{
    int rc = w->n ? w->fn(w->ctx, w->epoch, w->evs, w->n) : 0;
    w->n = 0;
    return rc;
}

static bool
wanted(const struct walk *w, const struct rp_ingest_event *ev)
{
    return ev->seq > w->after &&
           (!w->topic || (ev->item.topic_len == w->topic_len &&
                          memcmp(ev->item.topic, w->topic, w->topic_len) == 0));
}

/* Delivers the wanted records of [<start>, <end>) of <g>. */
static int
walk_segment(struct rp_store_disk *s, struct rp_store_seg *g, uint64_t start, uint64_t end,
             struct walk *w)
{
    struct rp_segment_scan sc;
    rp_segment_scan_init(&sc, s->fo, g->fd, start, end, s->cfg.max_record);
    int rc = 0;
    while (w->left > 0) {
        /* Records point into the scanner's buffer: hand them on before it moves. */
        if (rp_segment_scan_needs_read(&sc) && (rc = flush(w)) != 0)
            break;
        struct rp_ingest_event ev;
        uint32_t epoch;
        uint64_t off;
        rc = rp_segment_scan_next(&sc, &ev, &epoch, &off);
        if (rc <= 0)
            break;
        rc = 0;
        if (!wanted(w, &ev))
            continue;
        if ((w->n == DELIVER_BATCH || (w->n && epoch != w->epoch)) && (rc = flush(w)) != 0)
            break;
        w->epoch = epoch;
        w->evs[w->n++] = ev;
        w->left--;
    }
    if (rc == 0)
        rc = flush(w);
    if (rc == -EBADMSG)
        RP_LOG(RP_LOG_ERROR, "store", "msg=\"a record changed on disk since start-up\" why=\"%s\"",
               sc.why);
    rp_segment_scan_fini(&sc);
    return rc;
}

/* The first segment that may hold a record after <after>: the last one starting at or
 * before <after> + 1, or the first. Under the lock. */
static size_t
find_seg(const struct rp_store_disk *s, uint64_t after)
{
    size_t lo = 0, hi = s->n_segs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->segs[mid]->first_seq <= after || s->segs[mid]->first_seq - after == 1)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : 0;
}

static int
walk(struct rp_store_disk *s, struct walk *w)
{
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    size_t i = find_seg(s, w->after);
    while (rc == 0 && w->left > 0 && i < s->n_segs) {
        struct rp_store_seg *g = s->segs[i];
        uint64_t first = g->first_seq, end = g->size;
        uint64_t start = rp_segment_index_find(&g->index, w->after);
        g->refs++;
        pthread_mutex_unlock(&s->lock);
        rc = walk_segment(s, g, start, end, w);
        pthread_mutex_lock(&s->lock);
        rp_store_disk_seg_unref(s, g);
        /* The array may have changed meanwhile (a roll, retention): find the next anew. */
        for (i = 0; i < s->n_segs && s->segs[i]->first_seq <= first; i++)
            ;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int
rp_store_scan_load(struct rp_logengine *e, uint64_t after, rp_logengine_event_fn fn, void *ctx)
{
    struct walk *w = rp_xcalloc(1, sizeof(*w));
    *w = (struct walk){.after = after, .left = SIZE_MAX, .fn = fn, .ctx = ctx};
    int rc = walk((struct rp_store_disk *)e, w);
    free(w);
    return rc;
}

int
rp_store_scan_read(struct rp_logengine *e, const char *topic, size_t len, uint64_t after,
                   size_t max, rp_logengine_event_fn fn, void *ctx)
{
    struct walk *w = rp_xcalloc(1, sizeof(*w));
    *w = (struct walk){
        .topic = topic, .topic_len = len, .after = after, .left = max, .fn = fn, .ctx = ctx};
    int rc = walk((struct rp_store_disk *)e, w);
    free(w);
    return rc;
}
