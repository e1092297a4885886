/* SPDX-License-Identifier: MIT */
#include "api/history.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/hub.h"
#include "sse/sse_frame.h"

struct rp_history_read {
    struct rp_history_read *next; /* in the queue */
    char **topics;
    size_t n_topics;
    uint64_t after, upto;
    bool tagged;
    /* Read side (the reader thread until done, then the requester). */
    size_t n_taken;      /* events framed into <bytes> */
    size_t frame_end;    /* where the last whole frame in <bytes> ends */
    struct rp_buf bytes; /* capped at RP_HISTORY_MAX_BYTES */
    uint64_t covered;
    _Atomic bool done;     /* the reader finished: the fields above are the requester's */
    _Atomic bool released; /* the requester let go: the reader may skip the work */
    _Atomic int owners;    /* the reader and the requester: the last to let go frees */
};

struct rp_history {
    struct rp_hub *hub;
    void (*wake)(void *ctx);
    void *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct rp_history_read *head, **tail;
    bool stopping;
};

static void
read_free(struct rp_history_read *r)
{
    for (size_t i = 0; i < r->n_topics; i++)
        free(r->topics[i]);
    free(r->topics);
    rp_buf_fini(&r->bytes);
    free(r);
}

struct collect {
    struct rp_history *h;
    struct rp_history_read *r;
    uint64_t expect; /* the next sequence of the log */
};

static bool
wanted(const struct rp_history_read *r, const struct rp_publish_item *it)
{
    for (size_t i = 0; i < r->n_topics; i++)
        if (strlen(r->topics[i]) == it->topic_len &&
            memcmp(r->topics[i], it->topic, it->topic_len) == 0)
            return true;
    return false;
}

/* Takes the stream's events of one batch of the log (every topic, in sequence order). */
static int
collect(void *ctx, uint32_t epoch, const struct rp_ingest_event *evs, size_t n)
{
    struct collect *k = ctx;
    struct rp_history_read *r = k->r;
    for (size_t i = 0; i < n; i++) {
        if (evs[i].seq > r->upto)
            return -ECANCELED; /* the memory window has the rest: stop here */
        /* Every committed event is in the log, so a skipped sequence (or another epoch)
         * is a loss: serve up to it, and the stream announces the rest. */
        if (evs[i].seq != k->expect || epoch != rp_hub_epoch(k->h->hub)) {
            r->covered = k->expect - 1;
            return -ECANCELED;
        }
        k->expect++;
        if (!wanted(r, &evs[i].item))
            continue;
        /* Events arrive in sequence order over every topic: frame them as they come. */
        struct rp_frame *f = rp_hub_frame(k->h->hub, &evs[i].item, evs[i].seq);
        struct iovec iov[2];
        int parts = rp_frame_iov(f, r->tagged, iov);
        int err = r->n_taken == RP_HISTORY_MAX_EVENTS ? -ENOBUFS : 0;
        for (int j = 0; j < parts && !err; j++)
            err = rp_buf_append(&r->bytes, iov[j].iov_base, iov[j].iov_len);
        rp_frame_unref(f);
        if (err) {
            /* Over a cap: what came before is whole (appends are all or nothing, and the
             * frame's first part is dropped with it); the stream announces the rest. */
            r->bytes.len = r->frame_end;
            r->covered = evs[i].seq - 1;
            return -ECANCELED;
        }
        r->frame_end = r->bytes.len;
        r->n_taken++;
    }
    return 0;
}

/* Reads (after, upto] of the log once, in sequence order (so several topics come out
 * merged), keeps the stream's topics' events and writes their frames. One scan whatever the
 * number of topics: its cost is the bytes in the range. */
static void
run(struct rp_history *h, struct rp_history_read *r)
{
    struct collect k = {h, r, r->after + 1};
    r->covered = r->upto;
    int rc = rp_hub_engine_read(h->hub, NULL, 0, r->after, SIZE_MAX, collect, &k);
    if (rc < 0 && rc != -ECANCELED) {
        RP_LOG(RP_LOG_WARN, "store",
               "msg=\"cannot read history from the event log: %s; the resume is told of the "
               "gap\"",
               strerror(-rc));
        r->covered = r->after; /* nothing read counts: the stream announces the gap */
        return;
    }
    if (k.expect - 1 < r->covered)
        r->covered = k.expect - 1; /* the log ended first: only what was read is covered */
}

static void *
reader_main(void *arg)
{
    struct rp_history *h = arg;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        while (!h->head && !h->stopping)
            pthread_cond_wait(&h->cond, &h->lock);
        struct rp_history_read *r = h->head;
        if (!r)
            break;
        h->head = r->next;
        if (!h->head)
            h->tail = &h->head;
        pthread_mutex_unlock(&h->lock);
        if (!atomic_load(&r->released))
            run(h, r);
        atomic_store(&r->done, true);
        bool wake = !atomic_load(&r->released);
        if (atomic_fetch_sub(&r->owners, 1) == 1)
            read_free(r);
        if (wake)
            h->wake(h->ctx);
        pthread_mutex_lock(&h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

struct rp_history *
rp_history_new(struct rp_hub *hub, void (*wake)(void *ctx), void *ctx)
{
    struct rp_history *h = rp_xcalloc(1, sizeof(*h));
    h->hub = hub;
    h->wake = wake;
    h->ctx = ctx;
    h->tail = &h->head;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    if (pthread_create(&h->thread, NULL, reader_main, h) != 0) {
        pthread_cond_destroy(&h->cond);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    return h;
}

void
rp_history_free(struct rp_history *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stopping = true;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

struct rp_history_read *
rp_history_start(struct rp_history *h, const char *const *topics, size_t n, uint64_t after,
                 uint64_t upto, bool tagged)
{
    struct rp_history_read *r = rp_xcalloc(1, sizeof(*r));
    r->topics = rp_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        r->topics[i] = rp_xstrdup(topics[i]);
    r->n_topics = n;
    r->after = after;
    r->upto = upto;
    r->tagged = tagged;
    rp_buf_init(&r->bytes, RP_HISTORY_MAX_BYTES);
    atomic_init(&r->done, false);
    atomic_init(&r->released, false);
    atomic_init(&r->owners, 2);
    pthread_mutex_lock(&h->lock);
    *h->tail = r;
    h->tail = &r->next;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    return r;
}

bool
rp_history_done(struct rp_history_read *r, struct rp_buf **bytes, uint64_t *covered)
{
    if (!atomic_load(&r->done))
        return false;
    *bytes = &r->bytes;
    *covered = r->covered;
    return true;
}

void
rp_history_release(void *p)
{
    struct rp_history_read *r = p;
    if (!r)
        return;
    atomic_store(&r->released, true);
    if (atomic_fetch_sub(&r->owners, 1) == 1)
        read_free(r);
}
