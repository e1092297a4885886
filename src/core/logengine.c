/* SPDX-License-Identifier: MIT */
#include "core/logengine.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "core/hub.h"

const int64_t rp_logengine_fsync_bounds_us[RP_LOGENGINE_FSYNC_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000};

/* Copies <len> bytes of <s> to *<p> (NULL stays NULL) and moves *<p> past them. */
static const char *
copy_str(char **p, const char *s, size_t len)
{
    if (!s)
        return NULL;
    char *out = *p;
    if (len)
        memcpy(out, s, len);
    *p += len;
    return out;
}

struct rp_logengine_batch *
rp_logengine_batch_new(uint32_t epoch, const struct rp_ingest_event *evs, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const struct rp_publish_item *it = &evs[i].item;
        bytes += it->topic_len + it->event_len + it->data_len + it->pub_id_len;
    }
    /* One allocation: the header, the event array, then the strings, so a batch is freed
     * with one call wherever its last owner is. */
    size_t head = sizeof(struct rp_logengine_batch) + n * sizeof(struct rp_ingest_event);
    struct rp_logengine_batch *b = rp_xmalloc(head + bytes + 1);
    b->link = NULL;
    b->epoch = epoch;
    b->n = n;
    b->bytes = bytes;
    b->evs = (struct rp_ingest_event *)(void *)(b + 1);
    char *p = (char *)b + head;
    for (size_t i = 0; i < n; i++) {
        const struct rp_publish_item *it = &evs[i].item;
        struct rp_ingest_event *ev = &b->evs[i];
        *ev = (struct rp_ingest_event){0};
        ev->seq = evs[i].seq;
        ev->wall_ms = evs[i].wall_ms;
        ev->group = evs[i].group;
        ev->item.topic_len = it->topic_len;
        ev->item.topic = copy_str(&p, it->topic, it->topic_len);
        ev->item.event_len = it->event_len;
        ev->item.event = copy_str(&p, it->event, it->event_len);
        ev->item.data_len = it->data_len;
        ev->item.data = copy_str(&p, it->data ? it->data : "", it->data_len);
        ev->item.pub_id_len = it->pub_id_len;
        ev->item.pub_id = copy_str(&p, it->pub_id, it->pub_id_len);
        ev->item.same_update = it->same_update;
    }
    return b;
}

void
rp_logengine_batch_free(struct rp_logengine_batch *b)
{
    free(b);
}

uint64_t
rp_logengine_batch_last_seq(const struct rp_logengine_batch *b)
{
    return b->n ? b->evs[b->n - 1].seq : 0;
}

int
rp_logengine_append(struct rp_logengine *e, struct rp_logengine_batch *b)
{
    return e->ops->append(e, b);
}

uint64_t
rp_logengine_durable_seq(const struct rp_logengine *e)
{
    return e->ops->durable_seq(e);
}

uint64_t
rp_logengine_reserved_seq(const struct rp_logengine *e)
{
    return e->ops->reserved_seq(e);
}

void
rp_logengine_handed_out(struct rp_logengine *e, uint32_t epoch, uint64_t seq)
{
    if (e->ops->handed_out)
        e->ops->handed_out(e, epoch, seq);
}

int
rp_logengine_load(struct rp_logengine *e, uint64_t after, rp_logengine_event_fn fn, void *ctx)
{
    return e->ops->load(e, after, fn, ctx);
}

int
rp_logengine_read(struct rp_logengine *e, const char *topic, size_t len, uint64_t after, size_t max,
                  rp_logengine_event_fn fn, void *ctx)
{
    return e->ops->read(e, topic, len, after, max, fn, ctx);
}

void
rp_logengine_info(struct rp_logengine *e, struct rp_logengine_info *out)
{
    e->ops->info(e, out);
}

void
rp_logengine_close(struct rp_logengine *e)
{
    if (e)
        e->ops->close(e);
}

/* The memory engine: the hub's memory logs are all there is. */
struct memory_engine {
    struct rp_logengine base;
    _Atomic uint64_t durable;
};

static int
memory_append(struct rp_logengine *e, struct rp_logengine_batch *b)
{
    struct memory_engine *m = (struct memory_engine *)e;
    uint64_t last = rp_logengine_batch_last_seq(b);
    uint64_t prev = atomic_load_explicit(&m->durable, memory_order_relaxed);
    if (b->n == 0 || b->evs[0].seq <= prev)
        return -EINVAL;
    /* Durable at once: stored before append returns, so the caller sees it without a
     * hook call (which would be a synchronous call back into the hub). */
    atomic_store_explicit(&m->durable, last, memory_order_release);
    rp_logengine_batch_free(b);
    return 0;
}

static uint64_t
memory_durable_seq(const struct rp_logengine *e)
{
    const struct memory_engine *m = (const struct memory_engine *)e;
    return atomic_load_explicit(&m->durable, memory_order_acquire);
}

static uint64_t
memory_reserved_seq(const struct rp_logengine *e)
{
    return UINT64_MAX;
}

static int
memory_load(struct rp_logengine *e, uint64_t after, rp_logengine_event_fn fn, void *ctx)
{
    return 0;
}

static int
memory_read(struct rp_logengine *e, const char *topic, size_t len, uint64_t after, size_t max,
            rp_logengine_event_fn fn, void *ctx)
{
    return 0;
}

static void
memory_info(struct rp_logengine *e, struct rp_logengine_info *out)
{
    memset(out, 0, sizeof(*out));
    out->reserved_seq = 0; /* nothing was handed out by an earlier run that survives */
    out->durable_seq = memory_durable_seq(e);
}

static void
memory_close(struct rp_logengine *e)
{
    free(e);
}

static const struct rp_logengine_ops memory_ops = {
    .name = "memory",
    .append = memory_append,
    .durable_seq = memory_durable_seq,
    .reserved_seq = memory_reserved_seq,
    .load = memory_load,
    .read = memory_read,
    .info = memory_info,
    .close = memory_close,
};

struct rp_logengine *
rp_logengine_memory_new(void)
{
    struct memory_engine *m = rp_xcalloc(1, sizeof(*m));
    m->base.ops = &memory_ops;
    atomic_init(&m->durable, 0);
    return &m->base;
}
