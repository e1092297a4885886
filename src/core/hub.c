/* SPDX-License-Identifier: MIT */
#include "core/hub.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/clock.h"
#include "base/hashmap.h"
#include "base/qsbr.h"
#include "base/utf8.h"
#include "core/event_id.h"
#include "core/hub_private.h"
#include "core/logengine.h"
#include "core/pattern.h"
#include "core/session.h"
#include "core/topic_name.h"
#include "sse/sse_frame.h"

/* Locks and reclamation: core/hub_private.h. */
#define SMALL_BATCH 16
/* Topics looked at per topic creation that finds the table full (under the hub lock, a few
 * microseconds). 32 let one publish in a million through to a 503 with 10,000 live topics
 * of which 7,000 were under a second old; 128 makes a window with nothing to free unlikely
 * enough that a steady churn below the cap is never refused. */
#define CAP_SCAN 128

struct pattern_reg {
    char *pattern;
    size_t len;
    unsigned worker;
    uint64_t refs;
};

/* The hub's critical sections are a few hundred nanoseconds: spinning a little before
 * sleeping beats a futex sleep and a context switch when two workers publish at once. */
static void
short_lock_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
}

struct rp_hub *
rp_hub_new(const struct rp_hub_config *config, const struct rp_hub_hooks *hooks)
{
    RP_ASSERT(hooks->policy_for);
    struct rp_hub *hub = rp_xcalloc(1, sizeof(*hub));
    short_lock_init(&hub->lock);
    hub->config = *config;
    hub->hooks = *hooks;
    rp_hashmap_init(&hub->topics);
    while (hub->config.epoch == 0) {
        uint32_t e = 0;
        if (getrandom(&e, sizeof(e), 0) != (ssize_t)sizeof(e))
            e = (uint32_t)rp_clock_wall_ms();
        hub->config.epoch = e;
    }
    hub->next_seq = 1;
    atomic_init(&hub->last_seq, 0);
    hub->qsbr = config->qsbr;
    if (hub->qsbr)
        hub->floor = rp_xcalloc(FLOOR_SLOTS, sizeof(*hub->floor));
    atomic_init(&hub->n_reclaimed, 0);
    rp_hub_engine_init(hub);
    return hub;
}

void
rp_hub_free(struct rp_hub *hub)
{
    if (!hub)
        return;
    size_t pos = 0;
    struct rp_topic *t;
    while ((t = rp_hashmap_next(&hub->topics, &pos)) != NULL)
        topic_free(t);
    rp_hashmap_fini(&hub->topics);
    free(hub->floor);
    for (size_t i = 0; i < hub->n_patterns; i++)
        free(hub->patterns[i].pattern);
    free(hub->patterns);
    rp_hub_engine_fini(hub);
    pthread_mutex_destroy(&hub->lock);
    free(hub);
}

uint32_t
rp_hub_epoch(const struct rp_hub *hub)
{
    return hub->config.epoch;
}

bool
rp_hub_shared_sequence(const struct rp_hub *hub)
{
    return hub->config.shared_sequence;
}

uint64_t
rp_hub_last_seq(const struct rp_hub *hub)
{
    /* seq_cst pairs with rp_topic_attach: a subscriber that registers, then reads this,
     * and a publisher that stores this, then reads the worker mask, cannot both miss. */
    return atomic_load(&hub->last_seq);
}

size_t
rp_hub_format_id(const struct rp_hub *hub, uint64_t seq, char *out)
{
    struct rp_event_id id = {.epoch = hub->config.epoch, .seq = seq};
    return rp_event_id_format(&id, out);
}

bool
rp_hub_vector_ids(const struct rp_hub *hub)
{
    return hub->config.vector_ids;
}

/* Under hub->lock: the id a frame of <seq> carries, its own part then the other origins'
 * (RP_EVENT_VECTOR_MAX + 1 bytes). */
static size_t
frame_id(const struct rp_hub *hub, uint64_t seq, char *out)
{
    size_t n = rp_hub_format_id(hub, seq, out);
    if (hub->origins_len) {
        memcpy(out + n, hub->origins_text, hub->origins_len + 1);
        n += hub->origins_len;
    }
    return n;
}

/* Under hub->lock: the other parts of <v> as ids end with them (".<epoch>-<seq>" each). */
static size_t
format_parts(const struct rp_event_vector *v, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++) {
        out[n++] = '.';
        n += rp_event_id_format(&v->part[i], out + n);
    }
    out[n] = '\0';
    return n;
}

void
rp_hub_position(struct rp_hub *hub, uint64_t *seq, struct rp_event_vector *floor, char *id)
{
    pthread_mutex_lock(&hub->lock);
    *seq = hub->next_seq - 1;
    if (id)
        frame_id(hub, *seq, id);
    if (floor) {
        floor->n = 1;
        floor->part[0] = (struct rp_event_id){.epoch = hub->config.epoch, .seq = *seq};
        for (size_t i = 0; i < hub->origins.n && floor->n < RP_EVENT_ID_PARTS_MAX; i++)
            floor->part[floor->n++] = hub->origins.part[i];
        for (size_t i = 0; i < hub->heard.n; i++) {
            const struct rp_event_id *h = &hub->heard.part[i];
            if (h->seq > rp_event_vector_get(floor, h->epoch))
                rp_event_vector_set(floor, h->epoch, h->seq); /* full: the stream skips less */
        }
    }
    pthread_mutex_unlock(&hub->lock);
}

void
rp_hub_origin_heard(struct rp_hub *hub, uint32_t epoch, uint64_t seq)
{
    pthread_mutex_lock(&hub->lock);
    if (seq > rp_event_vector_get(&hub->heard, epoch))
        rp_event_vector_set(&hub->heard, epoch, seq); /* full: not noted, never wrong */
    pthread_mutex_unlock(&hub->lock);
}

void
rp_hub_drop_origin(struct rp_hub *hub, uint32_t epoch)
{
    pthread_mutex_lock(&hub->lock);
    struct rp_event_vector *v = &hub->origins;
    for (size_t i = 0; i < v->n; i++) {
        if (v->part[i].epoch == epoch) {
            memmove(&v->part[i], &v->part[i + 1], (v->n - i - 1) * sizeof(v->part[0]));
            v->n--;
            hub->origins_len = format_parts(v, hub->origins_text);
            break;
        }
    }
    v = &hub->heard;
    for (size_t i = 0; i < v->n; i++) {
        if (v->part[i].epoch == epoch) {
            v->part[i] = v->part[--v->n];
            break;
        }
    }
    pthread_mutex_unlock(&hub->lock);
}

/* Called with hub->lock held. Announces the new topic to workers with a matching pattern. */
static struct rp_topic *
topic_create(struct rp_hub *hub, const char *name, size_t len)
{
    struct rp_topic *t = rp_xcalloc(1, sizeof(*t));
    t->hub = hub;
    t->name = rp_xstrndup(name, len);
    t->name_len = len;
    rp_topic_uuid(name, len, t->uuid);
    short_lock_init(&t->lock);
    hub->hooks.policy_for(hub->hooks.ctx, name, len, &t->policy);
    rp_eventlog_init(&t->log, &t->policy.history);
    /* A topic of this name may have been reclaimed with events a reader has not seen:
     * the gap is announced to readers before it (and, on a hash collision, to a few
     * readers for whom it is not one). */
    if (hub->floor && !rp_session_is_topic(name, len))
        rp_eventlog_forget(&t->log, hub->floor[floor_slot(name, len)]);
    rp_eventlog_forget(&t->log,
                       hub->lost_seq > hub->memory_floor ? hub->lost_seq : hub->memory_floor);
    if (t->policy.slow == RP_SLOW_POLICY_BLOCK) {
        t->worker_cursor = rp_xcalloc(1, sizeof(*t->worker_cursor));
        for (unsigned w = 0; w < RP_HUB_MAX_WORKERS; w++)
            atomic_init(&t->worker_cursor->c[w], UINT64_MAX);
    }
    rp_hashmap_put(&hub->topics, t->name, t->name_len, t);
    for (size_t i = 0; i < hub->n_patterns; i++) {
        struct pattern_reg *r = &hub->patterns[i];
        if (hub->hooks.topic_created && rp_pattern_matches(r->pattern, r->len, name, len))
            hub->hooks.topic_created(hub->hooks.ctx, r->worker, t);
    }
    return t;
}

/* Called with hub->lock held: <t> is handed to the caller, which may use it until its
 * next quiescent state (and, within a batch, until the critical section ends). */
static struct rp_topic *
hand_out(struct rp_hub *hub, struct rp_topic *t)
{
    if (hub->qsbr) {
        t->handed_out = rp_qsbr_epoch(hub->qsbr);
        t->gen = hub->gen;
    }
    return t;
}

/* Called with hub->lock held. */
static struct rp_topic *
topic_get(struct rp_hub *hub, const char *name, size_t len, const char **why)
{
    struct rp_topic *t = rp_hashmap_get(&hub->topics, name, len);
    if (t)
        return hand_out(hub, t);
    /* max_topics bounds live topics: at the cap, look a bounded way further for some that
     * are not (their last reader left, their log expired) before refusing. */
    if (hub->topics.count >= hub->config.max_topics &&
        rp_hub_reclaim_scan(hub, CAP_SCAN, NULL) == 0) {
        *why = "the node keeps as many topics as max_topics allows";
        return NULL;
    }
    return hand_out(hub, topic_create(hub, name, len));
}

struct rp_topic *
rp_hub_topic(struct rp_hub *hub, const char *name, size_t len, const char **why)
{
    const char *bad = rp_topic_name_check(name, len);
    if (bad) {
        *why = bad;
        return NULL;
    }
    hub_lock(hub);
    struct rp_topic *t = topic_get(hub, name, len, why);
    pthread_mutex_unlock(&hub->lock);
    return t;
}

struct rp_topic *
rp_hub_find(struct rp_hub *hub, const char *name, size_t len)
{
    hub_lock(hub);
    struct rp_topic *t = rp_hashmap_get(&hub->topics, name, len);
    if (t)
        hand_out(hub, t);
    pthread_mutex_unlock(&hub->lock);
    return t;
}

uint64_t
rp_hub_topic_count(struct rp_hub *hub)
{
    hub_lock(hub);
    uint64_t n = hub->topics.count;
    pthread_mutex_unlock(&hub->lock);
    return n;
}

void
rp_hub_set_max_topics(struct rp_hub *hub, uint64_t max_topics)
{
    hub_lock(hub);
    hub->config.max_topics = max_topics;
    pthread_mutex_unlock(&hub->lock);
}

void
rp_hub_foreach_topic(struct rp_hub *hub, const char *pattern, size_t pattern_len,
                     void (*fn)(void *ctx, struct rp_topic *t), void *ctx)
{
    /* The table is copied under the lock (a pointer a topic) and walked after it: a
     * listing of 100,000 topics, their stats and JSON, must not stall every publish. */
    hub_lock(hub);
    size_t n = 0, pos = 0;
    struct rp_topic **all = rp_xmalloc((hub->topics.count + 1) * sizeof(*all));
    struct rp_topic *t;
    while ((t = rp_hashmap_next(&hub->topics, &pos)) != NULL)
        all[n++] = hand_out(hub, t);
    pthread_mutex_unlock(&hub->lock);
    for (size_t i = 0; i < n; i++)
        if (!pattern || rp_pattern_matches(pattern, pattern_len, all[i]->name, all[i]->name_len))
            fn(ctx, all[i]);
    free(all);
}

static int
fail(struct rp_hub_error *err, int status, size_t index, const char *what, const char *detail)
{
    err->status = status;
    err->index = index;
    snprintf(err->message, sizeof(err->message), "%s%s", what, detail ? detail : "");
    return -EINVAL;
}

/* Every check of item <i> that needs no lock, so a bad batch is refused before anything
 * is touched. <system>: names under the system prefix are allowed. */
static int
validate_item(const struct rp_hub *hub, const struct rp_publish_item *it, size_t i, bool system,
              struct rp_hub_error *err)
{
    const char *bad = rp_topic_name_check(it->topic, it->topic_len);
    if (bad)
        return fail(err, 400, i, "invalid topic name: ", bad);
    if (!system && rp_topic_name_is_system(it->topic, it->topic_len)) {
        fail(err, 403, i,
             "topic names under " RP_TOPIC_SYSTEM_PREFIX " are reserved for the server", NULL);
        return -EPERM;
    }
    if (it->event && (bad = rp_frame_check_event(it->event, it->event_len)) != NULL)
        return fail(err, 400, i, "invalid event type: ", bad);
    if (it->event && !rp_utf8_valid(it->event, it->event_len, NULL))
        return fail(err, 400, i, "invalid event type: ", "not valid UTF-8");
    if (it->data_len > hub->config.max_data)
        return fail(err, 413, i, "data is larger than max_data", NULL);
    if (!rp_utf8_valid(it->data, it->data_len, NULL))
        return fail(err, 400, i, "data is not valid UTF-8", NULL);
    /* A Mercure id's mark (system publishes only) is not one of its 128 bytes. */
    size_t id_max = 128 + (system && it->pub_id && it->pub_id[0] == RP_FRAME_SSE_ID_MARK);
    if (it->pub_id && (it->pub_id_len == 0 || it->pub_id_len > id_max))
        return fail(err, 400, i, "id must be 1 to 128 bytes", NULL);
    if (!system && it->pub_id && it->pub_id[0] == RP_FRAME_ORIGIN_MARK)
        return fail(err, 400, i, "id must not start with the byte 0x1e (the server's upstream ids)",
                    NULL);
    if (!system && it->pub_id && it->pub_id[0] == RP_FRAME_SSE_ID_MARK)
        return fail(err, 400, i, "id must not start with the byte 0x1f (the server's Mercure ids)",
                    NULL);
    return 0;
}

/* Called with t->lock held: the seq of an event of <t> with this publisher id, or 0. */
static uint64_t
find_pub_id(const struct rp_topic *t, const char *id, size_t len)
{
    for (uint64_t i = t->log.count; i-- > 0;) {
        const struct rp_eventlog_entry *e = rp_eventlog_at(&t->log, i);
        const struct rp_frame *f = e->frame;
        if (f->pub_id_len == len && memcmp(f->buf + f->pub_id_off, id, len) == 0)
            return e->seq;
    }
    return 0;
}

uint64_t
rp_topic_find_pub_id(struct rp_topic *t, const char *id, size_t len)
{
    pthread_mutex_lock(&t->lock);
    uint64_t seq = find_pub_id(t, id, len);
    pthread_mutex_unlock(&t->lock);
    return seq;
}

/*
 * slow_policy block: true when appending the batch's events for topics[i] (items i.. with
 * that topic, consecutive or not) would put the slowest live subscriber over its lag
 * limit or evict an event it has not read. Takes the topic's lock.
 */
static bool
publish_would_block(struct rp_topic **topics, struct rp_frame **frames, size_t i, size_t n)
{
    struct rp_topic *t = topics[i];
    uint64_t k = 0, add_bytes = 0;
    for (size_t j = i; j < n; j++) {
        if (topics[j] == t) {
            k++;
            add_bytes += rp_frame_size(frames[j]);
        }
    }
    uint64_t min = UINT64_MAX;
    uint64_t mask = atomic_load(&t->workers);
    for (unsigned w = 0; mask; w++, mask >>= 1) {
        uint64_t c = (mask & 1) ? atomic_load(&t->worker_cursor->c[w]) : UINT64_MAX;
        if (c < min)
            min = c;
    }
    if (min == UINT64_MAX)
        return false;
    bool block = false;
    pthread_mutex_lock(&t->lock);
    const struct rp_eventlog *log = &t->log;
    uint64_t idx = rp_eventlog_find_after(log, min);
    uint64_t unread = log->count - idx;
    uint64_t unread_bytes = log->appended_bytes - rp_eventlog_bytes_before(log, idx);
    if (unread &&
        (unread + k > t->policy.lag_events || unread_bytes + add_bytes > t->policy.lag_bytes))
        block = true;
    /* Would the append evict an unread event (by count or by bytes)? */
    uint64_t over =
        log->count + k > log->limits.max_count ? log->count + k - log->limits.max_count : 0;
    if (over && over > idx)
        block = true;
    if (log->bytes + add_bytes > log->limits.max_bytes && unread && idx == 0)
        block = true;
    pthread_mutex_unlock(&t->lock);
    return block;
}

/*
 * Queues a note for each worker with subscribers of a topic of <topics>. <out> (NULL:
 * every event was appended) marks duplicates, which advanced nothing. Returns the workers
 * to wake once the hub lock is released. A publish calls it twice:
 * - under the hub lock, after the topics' last_seq and before the hub's: a worker that
 *   reads the hub's sequence finds the notes of every event up to it queued (the order
 *   of a stream over many topics depends on it, see topic_advanced);
 * - after storing the hub's sequence, for a worker that attached meanwhile: seq_cst pairs
 *   with rp_topic_attach, so a stream that registers, then reads the hub's sequence, and
 *   this publish cannot both miss (the topic's pending mark makes a second note to the
 *   same worker free until it is taken).
 */
static uint64_t
note_advanced(struct rp_hub *hub, struct rp_topic *const *topics,
              const struct rp_publish_result *out, size_t n)
{
    if (!hub->hooks.topic_advanced)
        return 0;
    /* A run of events of one topic notes once; compare with the last topic noted, not
     * the previous item, or an event after a duplicate of its topic notes nobody. */
    const struct rp_topic *noted = NULL;
    uint64_t woken = 0;
    for (size_t i = 0; i < n; i++) {
        if ((out && out[i].duplicate) || topics[i] == noted)
            continue;
        noted = topics[i];
        uint64_t mask = atomic_load(&topics[i]->workers);
        woken |= mask;
        for (unsigned w = 0; mask; w++, mask >>= 1)
            if (mask & 1)
                hub->hooks.topic_advanced(hub->hooks.ctx, w, topics[i]);
    }
    return woken;
}

static void
wake_workers(struct rp_hub *hub, uint64_t workers)
{
    if (workers && hub->hooks.workers_wake)
        hub->hooks.workers_wake(hub->hooks.ctx, workers);
}

/* A batch's frames and topics: small batches (nearly every publish) keep them on the
 * stack. Frames still set at the end (not taken by a log) are dropped. */
struct batch {
    struct rp_frame **frames;
    struct rp_topic **topics;
    struct rp_frame *frames_small[SMALL_BATCH];
    struct rp_topic *topics_small[SMALL_BATCH];
};

static inline void
batch_init(struct batch *b, size_t n)
{
    b->frames = n <= SMALL_BATCH ? b->frames_small : rp_xmalloc(n * sizeof(*b->frames));
    b->topics = n <= SMALL_BATCH ? b->topics_small : rp_xmalloc(n * sizeof(*b->topics));
    memset(b->frames, 0, n * sizeof(*b->frames));
    memset(b->topics, 0, n * sizeof(*b->topics));
}

static inline void
batch_fini(struct batch *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rp_frame_unref(b->frames[i]);
    if (b->frames != b->frames_small)
        free(b->frames);
    if (b->topics != b->topics_small)
        free(b->topics);
}

/* The frame of one event, id line left to fill. */
static struct rp_frame *
encode_item(const struct rp_hub *hub, const struct rp_publish_item *it)
{
    struct rp_frame_spec spec = {
        .topic = it->topic,
        .topic_len = it->topic_len,
        .event = it->event,
        .event_len = it->event ? it->event_len : 0,
        .data = it->data,
        .data_len = it->data_len,
        .pub_id = it->pub_id,
        .pub_id_len = it->pub_id ? it->pub_id_len : 0,
        .ends_stream = it->ends_stream,
        .id_room = hub->config.vector_ids ? RP_EVENT_VECTOR_MAX : 0,
    };
    return rp_frame_encode(&spec);
}

struct rp_frame *
rp_hub_frame(const struct rp_hub *hub, const struct rp_publish_item *it, uint64_t seq)
{
    struct rp_frame *f = encode_item(hub, it);
    char id[RP_EVENT_ID_MAX + 1];
    size_t id_len = rp_hub_format_id(hub, seq, id);
    rp_frame_set_id(f, id, id_len);
    return f;
}

static int
publish(struct rp_hub *hub, const struct rp_publish_item *items, size_t n, bool system,
        struct rp_publish_result *out, struct rp_hub_error *err)
{
    if (hub->config.shared_sequence) {
        /* The cluster hands out the sequences: one of ours could name another event. */
        fail(err, 503, 0,
             "events are sequenced by the cluster (cluster = redis) and this publish does not "
             "go through it",
             NULL);
        return -EOPNOTSUPP;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = validate_item(hub, &items[i], i, system, err);
    if (rc)
        return rc;

    /* Encoding is the costly part; it happens before the lock. */
    struct batch bm;
    batch_init(&bm, n);
    struct rp_frame **frames = bm.frames;
    struct rp_topic **topics = bm.topics;
    for (size_t i = 0; i < n; i++) {
        const struct rp_publish_item *it = &items[i];
        frames[i] = encode_item(hub, it);
    }

    int64_t now = rp_clock_now_ms(), wall = rp_clock_wall_ms();
    struct rp_logengine_batch *kept = rp_hub_engine_batch(hub, items, n, wall);
    struct rp_topic *blocked = NULL;
    uint64_t woken = 0;
    hub_lock(hub);
    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;
        topics[i] = topic_get(hub, items[i].topic, items[i].topic_len, &why);
        if (!topics[i]) {
            fail(err, 503, i, "cannot create topic: ", why);
            rc = -ENOSPC;
            goto unlock;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (topics[i]->worker_cursor && (i == 0 || topics[i] != topics[i - 1]) &&
            publish_would_block(topics, frames, i, n)) {
            fail(err, 503, i,
                 "a slow subscriber of this topic blocks publishing (slow_policy block)", NULL);
            rc = -EAGAIN;
            blocked = topics[i];
            goto unlock;
        }
    }
    if ((rc = rp_hub_engine_refuses(hub, n, err)) != 0)
        goto unlock;
    uint64_t group = 0;
    for (size_t i = 0; i < n; i++) {
        struct rp_topic *t = topics[i];
        if (!items[i].same_update)
            group = 0; /* an update of its own starts */
        pthread_mutex_lock(&t->lock);
        uint64_t dup = items[i].pub_id ? find_pub_id(t, items[i].pub_id, items[i].pub_id_len) : 0;
        if (dup) {
            out[i] = (struct rp_publish_result){.seq = dup, .duplicate = true};
        } else {
            uint64_t seq = hub->next_seq++;
            char id[RP_EVENT_VECTOR_MAX + 1];
            size_t id_len = frame_id(hub, seq, id);
            rp_frame_set_id(frames[i], id, id_len);
            frames[i]->appended_ms = now;
            if (!group && (items[i].same_update || (i + 1 < n && items[i + 1].same_update)))
                group = seq; /* sequences of one batch are consecutive: copies are adjacent */
            frames[i]->group = group;
            rp_eventlog_append(&t->log, frames[i], seq, now, wall);
            frames[i] = NULL; /* the log owns it now */
            atomic_store_explicit(&t->last_seq, seq, memory_order_release);
            out[i] = (struct rp_publish_result){.seq = seq, .duplicate = false};
            if (kept)
                kept->evs[i].seq = seq;
        }
        pthread_mutex_unlock(&t->lock);
    }
    if (kept) {
        rp_hub_engine_queue(hub, kept);
        kept = NULL;
    }
    woken = note_advanced(hub, topics, out, n);
    atomic_store(&hub->last_seq, hub->next_seq - 1);
unlock:
    /* A refused publish asks the workers to report their cursors again: one that caught
     * up since its last report lets the retry through. */
    if (blocked)
        woken = note_advanced(hub, &blocked, NULL, 1);
    pthread_mutex_unlock(&hub->lock);
    if (rc == 0)
        woken |= note_advanced(hub, topics, out, n);
    wake_workers(hub, woken);
    batch_fini(&bm, n);
    if (kept)
        rp_logengine_batch_free(kept); /* refused: nothing was sequenced */
    else if (rc == 0 && hub->engine)
        rp_hub_engine_drain(hub);
    return rc;
}

int
rp_hub_check(const struct rp_hub *hub, const struct rp_publish_item *items, size_t n, bool system,
             struct rp_hub_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = validate_item(hub, &items[i], i, system, err);
        if (rc)
            return rc;
    }
    return 0;
}

int
rp_hub_publish(struct rp_hub *hub, const struct rp_publish_item *items, size_t n,
               struct rp_publish_result *out, struct rp_hub_error *err)
{
    return publish(hub, items, n, false, out, err);
}

int
rp_hub_publish_system(struct rp_hub *hub, const struct rp_publish_item *items, size_t n,
                      struct rp_publish_result *out, struct rp_hub_error *err)
{
    return publish(hub, items, n, true, out, err);
}

/*
 * Under hub->lock, with vector_ids: a peer's event moves its origin's part first, so its own
 * id and every later one carry it; a fill's names the parts it was given instead.
 */
static void
set_vector_id(struct rp_hub *hub, struct rp_frame *f, const struct rp_ingest_event *ev)
{
    char id[RP_EVENT_VECTOR_MAX + 1];
    size_t n;
    if (ev->id_parts) {
        RP_ASSERT(ev->id_parts->n < RP_EVENT_ID_PARTS_MAX);
        n = rp_hub_format_id(hub, ev->seq, id);
        n += format_parts(ev->id_parts, id + n);
    } else {
        /* The node's own part comes first: room for 15 others (the mesh admits no more). */
        bool known = rp_event_vector_get(&hub->origins, ev->origin) != 0;
        if (ev->origin && (known || hub->origins.n < RP_EVENT_ID_PARTS_MAX - 1)) {
            rp_event_vector_set(&hub->origins, ev->origin, ev->origin_seq);
            hub->origins_len = format_parts(&hub->origins, hub->origins_text);
        }
        n = frame_id(hub, ev->seq, id);
    }
    rp_frame_set_id(f, id, n);
}

/*
 * rp_hub_ingest and rp_hub_ingest_topic: <one_topic> NULL takes in a batch after the node's
 * last sequence; else every event is of <one_topic> and the batch goes after that topic's
 * newest event, with events up to <lost_upto> declared gone for it first.
 */
static int
ingest(struct rp_hub *hub, const struct rp_ingest_event *evs, size_t n, const char *one_topic,
       size_t one_len, uint64_t lost_upto, struct rp_hub_error *err)
{
    struct rp_hub_error scratch;
    if (!err)
        err = &scratch;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = validate_item(hub, &evs[i].item, i, true, err);
        if (rc == 0 && i > 0 && evs[i].seq <= evs[i - 1].seq) {
            fail(err, 409, i, "sequence numbers of an ingested batch must increase", NULL);
            rc = -ERANGE;
        }
        if (rc == 0 && one_topic &&
            (evs[i].item.topic_len != one_len ||
             memcmp(evs[i].item.topic, one_topic, one_len) != 0)) {
            fail(err, 400, i, "every event of a topic's batch must be of that topic", NULL);
            rc = -EINVAL;
        }
    }
    if (rc || n == 0)
        return rc;

    struct batch bm;
    batch_init(&bm, n);
    struct rp_frame **frames = bm.frames;
    struct rp_topic **topics = bm.topics;
    for (size_t i = 0; i < n; i++) {
        frames[i] = encode_item(hub, &evs[i].item);
        frames[i]->group = evs[i].group;
        frames[i]->origin = evs[i].origin;
        frames[i]->origin_seq = evs[i].origin_seq;
        if (!hub->config.vector_ids) {
            char id[RP_EVENT_ID_MAX + 1];
            size_t id_len = rp_hub_format_id(hub, evs[i].seq, id);
            rp_frame_set_id(frames[i], id, id_len);
        }
    }
    uint64_t woken = 0;
    int64_t now = rp_clock_now_ms(), wall = rp_clock_wall_ms();
    hub_lock(hub);
    if (!one_topic && evs[0].seq < hub->next_seq) {
        fail(err, 409, 0, "sequence is not after the node's last", NULL);
        rc = -ERANGE;
        goto unlock;
    }
    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;
        topics[i] = i > 0 && one_topic
                        ? topics[0]
                        : topic_get(hub, evs[i].item.topic, evs[i].item.topic_len, &why);
        if (!topics[i]) {
            fail(err, 503, i, "cannot create topic: ", why);
            rc = -ENOSPC;
            goto unlock;
        }
    }
    size_t skip = 0;
    if (one_topic) {
        /* A fill repeats what the topic has: keep what comes after it. Its gone range
         * counts only past what the topic has (what it has is whole). */
        struct rp_topic *t = topics[0];
        pthread_mutex_lock(&t->lock);
        uint64_t newest = atomic_load_explicit(&t->last_seq, memory_order_relaxed);
        while (skip < n && evs[skip].seq <= newest)
            skip++;
        if (lost_upto > newest)
            rp_eventlog_forget(&t->log, lost_upto);
        pthread_mutex_unlock(&t->lock);
        if (skip == n)
            goto unlock; /* nothing new: no note, nobody woken */
    }
    for (size_t i = skip; i < n; i++) {
        struct rp_topic *t = topics[i];
        if (hub->config.vector_ids)
            set_vector_id(hub, frames[i], &evs[i]);
        /* Keep the event's age: history_age counts from its first append. */
        int64_t age = wall > evs[i].wall_ms ? wall - evs[i].wall_ms : 0;
        pthread_mutex_lock(&t->lock);
        frames[i]->appended_ms = now - age;
        rp_eventlog_append(&t->log, frames[i], evs[i].seq, now - age, evs[i].wall_ms);
        frames[i] = NULL; /* the log owns it now */
        atomic_store_explicit(&t->last_seq, evs[i].seq, memory_order_release);
        pthread_mutex_unlock(&t->lock);
    }
    /* A topic's fill may lie wholly before the node's last sequence. */
    bool advances = evs[n - 1].seq >= hub->next_seq;
    if (advances)
        hub->next_seq = evs[n - 1].seq + 1;
    woken = note_advanced(hub, topics + skip, NULL, n - skip);
    if (advances)
        atomic_store(&hub->last_seq, evs[n - 1].seq);
unlock:
    pthread_mutex_unlock(&hub->lock);
    if (rc == 0 && skip < n)
        woken |= note_advanced(hub, topics + skip, NULL, n - skip);
    wake_workers(hub, woken);
    batch_fini(&bm, n);
    return rc;
}

int
rp_hub_ingest(struct rp_hub *hub, const struct rp_ingest_event *evs, size_t n,
              struct rp_hub_error *err)
{
    int rc = ingest(hub, evs, n, NULL, 0, 0, err);
    if (rc == 0 && n)
        rp_hub_engine_handed_out(hub, evs[n - 1].seq);
    return rc;
}

int
rp_hub_ingest_topic(struct rp_hub *hub, const char *topic, size_t len,
                    const struct rp_ingest_event *evs, size_t n, uint64_t lost_upto,
                    struct rp_hub_error *err)
{
    return ingest(hub, evs, n, topic, len, lost_upto, err);
}

void
rp_topic_set_filling(struct rp_topic *t)
{
    atomic_store(&t->filling, true);
}

bool
rp_topic_filling(const struct rp_topic *t)
{
    return atomic_load_explicit(&t->filling, memory_order_acquire);
}

void
rp_hub_topic_filled(struct rp_hub *hub, const char *topic, size_t len)
{
    uint64_t woken = 0;
    hub_lock(hub);
    struct rp_topic *t = rp_hashmap_get(&hub->topics, topic, len);
    if (t && atomic_exchange(&t->filling, false))
        woken = note_advanced(hub, &t, NULL, 1);
    pthread_mutex_unlock(&hub->lock);
    wake_workers(hub, woken);
}

void
rp_hub_advance_seq(struct rp_hub *hub, uint64_t last_seq)
{
    hub_lock(hub);
    if (last_seq >= hub->next_seq) {
        hub->next_seq = last_seq + 1;
        atomic_store(&hub->last_seq, last_seq);
    }
    pthread_mutex_unlock(&hub->lock);
    rp_hub_engine_handed_out(hub, last_seq);
}

struct log_totals {
    uint64_t events, bytes;
};

static void
add_log_totals(void *ctx, struct rp_topic *t)
{
    struct log_totals *lt = ctx;
    struct rp_topic_stats st;
    rp_topic_stats(t, &st);
    lt->events += st.count;
    lt->bytes += st.bytes;
}

void
rp_hub_log_totals(struct rp_hub *hub, uint64_t *events, uint64_t *bytes)
{
    struct log_totals lt = {0, 0};
    rp_hub_foreach_topic(hub, NULL, 0, add_log_totals, &lt);
    *events = lt.events;
    *bytes = lt.bytes;
}

uint64_t
rp_hub_expire(struct rp_hub *hub, int64_t now_ms)
{
    uint64_t n = 0;
    hub_lock(hub);
    size_t pos = 0;
    struct rp_topic *t;
    while ((t = rp_hashmap_next(&hub->topics, &pos)) != NULL) {
        pthread_mutex_lock(&t->lock);
        n += rp_eventlog_expire(&t->log, now_ms);
        pthread_mutex_unlock(&t->lock);
    }
    pthread_mutex_unlock(&hub->lock);
    return n;
}

void
rp_hub_pattern_add(struct rp_hub *hub, const char *pattern, size_t len, unsigned worker,
                   void (*fn)(void *ctx, struct rp_topic *t), void *ctx)
{
    hub_lock(hub);
    struct pattern_reg *r = NULL;
    for (size_t i = 0; i < hub->n_patterns && !r; i++)
        if (hub->patterns[i].worker == worker && hub->patterns[i].len == len &&
            memcmp(hub->patterns[i].pattern, pattern, len) == 0)
            r = &hub->patterns[i];
    bool registered = !r;
    if (!r) {
        if (hub->n_patterns == hub->patterns_cap) {
            hub->patterns_cap = hub->patterns_cap ? hub->patterns_cap * 2 : 8;
            hub->patterns = rp_xrealloc(hub->patterns, hub->patterns_cap * sizeof(*r));
        }
        r = &hub->patterns[hub->n_patterns++];
        *r = (struct pattern_reg){rp_xstrndup(pattern, len), len, worker, 0};
    }
    r->refs++;
    /* Collected under the lock, called after it: <fn> attaches, and the topic_interest
     * hook it may fire must run without the hub lock. */
    struct rp_topic *small[SMALL_BATCH], **matched = small;
    size_t n = 0, cap = SMALL_BATCH;
    size_t pos = 0;
    struct rp_topic *t;
    while ((t = rp_hashmap_next(&hub->topics, &pos)) != NULL) {
        if (!rp_pattern_matches(pattern, len, t->name, t->name_len))
            continue;
        hand_out(hub, t);
        if (n == cap) {
            cap *= 2;
            struct rp_topic **grown = rp_xmalloc(cap * sizeof(*grown));
            memcpy(grown, matched, n * sizeof(*grown));
            if (matched != small)
                free(matched);
            matched = grown;
        }
        matched[n++] = t;
    }
    pthread_mutex_unlock(&hub->lock);
    if (registered && hub->hooks.pattern_interest)
        hub->hooks.pattern_interest(hub->hooks.ctx, pattern, len, true);
    for (size_t i = 0; i < n; i++)
        fn(ctx, matched[i]);
    if (matched != small)
        free(matched);
}

void
rp_hub_pattern_remove(struct rp_hub *hub, const char *pattern, size_t len, unsigned worker)
{
    hub_lock(hub);
    bool dropped = false;
    for (size_t i = 0; i < hub->n_patterns; i++) {
        struct pattern_reg *r = &hub->patterns[i];
        if (r->worker == worker && r->len == len && memcmp(r->pattern, pattern, len) == 0) {
            if (--r->refs == 0) {
                free(r->pattern);
                *r = hub->patterns[--hub->n_patterns];
                dropped = true;
            }
            break;
        }
    }
    pthread_mutex_unlock(&hub->lock);
    if (dropped && hub->hooks.pattern_interest)
        hub->hooks.pattern_interest(hub->hooks.ctx, pattern, len, false);
}
