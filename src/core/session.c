/* SPDX-License-Identifier: MIT */
#include "core/session.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/alloc.h"
#include "base/hashmap.h"
#include "base/list.h"

/*
 * One session. Kept small: a disconnected session with no events is this struct, its
 * owner string, its topic names and a hash slot (docs/benchmarks.md measures it).
 */
struct session {
    char id[RP_SESSION_ID_LEN]; /* the hash key (not NUL-terminated) */
    uint32_t n_streams;
    uint32_t n_topics;
    char *owner;
    char **topics;
    struct rp_list node; /* in the disconnected list while n_streams == 0 */
    int64_t created_ms;
    int64_t disconnected_ms;
    uint64_t last_seq;
    uint64_t n_buffered;
    uint64_t buffered_bytes;
};

struct rp_session_table {
    pthread_mutex_t lock;
    struct rp_session_config cfg;
    struct rp_hashmap by_id;
    /* Disconnected sessions, oldest disconnect first: a detach appends (times come from one
     * clock and only grow, except across a restore, which inserts in order). */
    struct rp_list disconnected;
    uint64_t n_connected, n_disconnected, buffered_bytes;
    uint64_t created, resumes, expiries, hijacks_refused;
    bool dirty;
};

#define HEADER "revenprox-sessions 1\n"

static void
session_free(struct session *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->n_topics; i++)
        free(s->topics[i]);
    free(s->topics);
    free(s->owner);
    free(s);
}

static void
set_topics(struct session *s, const char *const *topics, size_t n)
{
    for (uint32_t i = 0; i < s->n_topics; i++)
        free(s->topics[i]);
    free(s->topics);
    s->topics = n ? rp_xcalloc(n, sizeof(char *)) : NULL;
    for (size_t i = 0; i < n; i++)
        s->topics[i] = rp_xstrdup(topics[i]);
    s->n_topics = (uint32_t)n;
}

static void
copy_out(const struct session *s, struct rp_session_info *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->id, s->id, RP_SESSION_ID_LEN);
    out->owner = rp_xstrdup(s->owner);
    out->topics = rp_xcalloc(s->n_topics + 1, sizeof(char *));
    for (uint32_t i = 0; i < s->n_topics; i++)
        out->topics[i] = rp_xstrdup(s->topics[i]);
    out->n_topics = s->n_topics;
    out->n_streams = s->n_streams;
    out->created_ms = s->created_ms;
    out->disconnected_ms = s->n_streams ? 0 : s->disconnected_ms;
    out->last_seq = s->last_seq;
    out->n_buffered = s->n_buffered;
    out->buffered_bytes = s->buffered_bytes;
}

void
rp_session_info_fini(struct rp_session_info *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_topics; i++)
        free(s->topics[i]);
    free(s->topics);
    free(s->owner);
    memset(s, 0, sizeof(*s));
}

struct rp_session_table *
rp_session_table_new(const struct rp_session_config *cfg)
{
    struct rp_session_table *t = rp_xcalloc(1, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    t->cfg = *cfg;
    rp_hashmap_init(&t->by_id);
    rp_list_init(&t->disconnected);
    return t;
}

void
rp_session_table_free(struct rp_session_table *t)
{
    if (!t)
        return;
    size_t pos = 0;
    struct session *s;
    while ((s = rp_hashmap_next(&t->by_id, &pos)) != NULL)
        session_free(s);
    rp_hashmap_fini(&t->by_id);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

void
rp_session_table_configure(struct rp_session_table *t, const struct rp_session_config *cfg)
{
    pthread_mutex_lock(&t->lock);
    t->cfg = *cfg;
    pthread_mutex_unlock(&t->lock);
}

bool
rp_session_is_topic(const char *name, size_t len)
{
    size_t sp = sizeof(RP_SESSION_TOPIC_PREFIX) - 1;
    return len > sp && memcmp(name, RP_SESSION_TOPIC_PREFIX, sp) == 0;
}

bool
rp_session_id_valid(const char *id, size_t len)
{
    if (len != RP_SESSION_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

static struct session *
find(struct rp_session_table *t, const char *id)
{
    size_t len = strnlen(id, RP_SESSION_ID_LEN + 1);
    if (!rp_session_id_valid(id, len))
        return NULL;
    return rp_hashmap_get(&t->by_id, id, RP_SESSION_ID_LEN);
}

/* The session leaves the table; the caller frees it. Under the lock. */
static void
unlink_session(struct rp_session_table *t, struct session *s)
{
    rp_hashmap_remove(&t->by_id, s->id, RP_SESSION_ID_LEN);
    if (s->n_streams) {
        t->n_connected--;
    } else {
        rp_list_remove(&s->node);
        t->n_disconnected--;
        t->buffered_bytes -= s->buffered_bytes;
    }
    t->dirty = true;
}

int
rp_session_create(struct rp_session_table *t, const char *owner, const char *const *topics,
                  size_t n_topics, int64_t now_ms, char *id_out)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[RP_SESSION_ID_LEN / 2];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -EIO;
    struct session *s = rp_xcalloc(1, sizeof(*s));
    for (size_t i = 0; i < sizeof(raw); i++) {
        s->id[2 * i] = hex[raw[i] >> 4];
        s->id[2 * i + 1] = hex[raw[i] & 15];
    }
    s->owner = rp_xstrdup(owner ? owner : "");
    set_topics(s, topics, n_topics);
    s->n_streams = 1;
    s->created_ms = now_ms;
    rp_list_init(&s->node);
    memcpy(id_out, s->id, RP_SESSION_ID_LEN);
    id_out[RP_SESSION_ID_LEN] = '\0';
    pthread_mutex_lock(&t->lock);
    /* 128 random bits do not collide; were they to, the older session is not replaced. */
    if (rp_hashmap_get(&t->by_id, s->id, RP_SESSION_ID_LEN)) {
        pthread_mutex_unlock(&t->lock);
        session_free(s);
        return -EIO;
    }
    rp_hashmap_put(&t->by_id, s->id, RP_SESSION_ID_LEN, s);
    t->n_connected++;
    t->created++;
    t->dirty = true;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

static int
check_owner(struct rp_session_table *t, const struct session *s, const char *owner)
{
    if (strcmp(s->owner, owner ? owner : "") == 0)
        return 0;
    t->hijacks_refused++;
    return -EPERM;
}

int
rp_session_attach(struct rp_session_table *t, const char *id, const char *owner,
                  const char *const *topics, size_t n_topics, struct rp_session_info *out)
{
    pthread_mutex_lock(&t->lock);
    struct session *s = find(t, id);
    int rc = !s ? -ENOENT : check_owner(t, s, owner);
    if (rc) {
        pthread_mutex_unlock(&t->lock);
        return rc;
    }
    if (out)
        copy_out(s, out);
    if (topics)
        set_topics(s, topics, n_topics);
    if (s->n_streams++ == 0) {
        rp_list_remove(&s->node);
        rp_list_init(&s->node);
        t->n_disconnected--;
        t->n_connected++;
        t->buffered_bytes -= s->buffered_bytes;
        s->n_buffered = 0;
        s->buffered_bytes = 0;
    }
    t->resumes++;
    t->dirty = true;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

int
rp_session_adopt(struct rp_session_table *t, const char *id)
{
    pthread_mutex_lock(&t->lock);
    struct session *s = find(t, id);
    if (s && s->n_streams++ == 0) {
        rp_list_remove(&s->node);
        t->n_disconnected--;
        t->n_connected++;
        t->buffered_bytes -= s->buffered_bytes;
        s->n_buffered = 0;
        s->buffered_bytes = 0;
    }
    if (s)
        t->dirty = true;
    pthread_mutex_unlock(&t->lock);
    return s ? 0 : -ENOENT;
}

int
rp_session_peek(struct rp_session_table *t, const char *id, const char *owner,
                struct rp_session_info *out)
{
    pthread_mutex_lock(&t->lock);
    struct session *s = find(t, id);
    int rc = -ENOENT;
    if (s) {
        /* Not counted as a hijack here: the attach that follows counts it once. */
        rc = strcmp(s->owner, owner ? owner : "") == 0 ? 0 : -EPERM;
        if (!rc)
            copy_out(s, out);
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

/* Puts <s> on the disconnected list in order of <disconnected_ms> (from the tail: it is
 * almost always the newest). Under the lock. */
static void
insert_disconnected(struct rp_session_table *t, struct session *s)
{
    struct rp_list *pos = t->disconnected.prev;
    while (pos != &t->disconnected) {
        const struct session *o = RP_CONTAINER_OF(pos, struct session, node);
        if (o->disconnected_ms <= s->disconnected_ms)
            break;
        pos = pos->prev;
    }
    rp_list_insert_after(pos, &s->node);
    t->n_disconnected++;
}

void
rp_session_detach(struct rp_session_table *t, const char *id, uint64_t last_seq, int64_t now_ms)
{
    pthread_mutex_lock(&t->lock);
    struct session *s = find(t, id);
    if (s && s->n_streams) {
        if (last_seq > s->last_seq)
            s->last_seq = last_seq;
        if (--s->n_streams == 0) {
            t->n_connected--;
            s->disconnected_ms = now_ms;
            insert_disconnected(t, s);
        }
        t->dirty = true;
    }
    pthread_mutex_unlock(&t->lock);
}

int
rp_session_note_send(struct rp_session_table *t, const char *id, uint64_t bytes,
                     void (*expired)(void *ctx, const char *id), void *ctx)
{
    pthread_mutex_lock(&t->lock);
    struct session *s = find(t, id);
    int rc = 0;
    if (!s) {
        rc = -ENOENT;
    } else if (s->n_streams == 0) {
        if (s->n_buffered >= t->cfg.buffer) {
            char sid[RP_SESSION_ID_LEN + 1];
            memcpy(sid, s->id, RP_SESSION_ID_LEN);
            sid[RP_SESSION_ID_LEN] = '\0';
            unlink_session(t, s);
            session_free(s);
            t->expiries++;
            if (expired)
                expired(ctx, sid);
            rc = -ENOSPC;
        } else {
            s->n_buffered++;
            s->buffered_bytes += bytes;
            t->buffered_bytes += bytes;
            t->dirty = true;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int
rp_session_get(struct rp_session_table *t, const char *id, struct rp_session_info *out)
{
    pthread_mutex_lock(&t->lock);
    struct session *s = find(t, id);
    if (s)
        copy_out(s, out);
    pthread_mutex_unlock(&t->lock);
    return s ? 0 : -ENOENT;
}

size_t
rp_session_owned_by(struct rp_session_table *t, const char *owner,
                    char (*ids)[RP_SESSION_ID_LEN + 1], size_t max)
{
    size_t n = 0, pos = 0;
    struct session *s;
    pthread_mutex_lock(&t->lock);
    while ((s = rp_hashmap_next(&t->by_id, &pos)) != NULL) {
        if (strcmp(s->owner, owner) != 0)
            continue;
        if (n < max) {
            memcpy(ids[n], s->id, RP_SESSION_ID_LEN);
            ids[n][RP_SESSION_ID_LEN] = '\0';
        }
        n++;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t
rp_session_sweep(struct rp_session_table *t, int64_t now_ms,
                 void (*expired)(void *ctx, const char *id), void *ctx)
{
    size_t n = 0;
    char sid[RP_SESSION_ID_LEN + 1];
    sid[RP_SESSION_ID_LEN] = '\0';
    pthread_mutex_lock(&t->lock);
    while (!rp_list_empty(&t->disconnected)) {
        struct session *s = RP_CONTAINER_OF(t->disconnected.next, struct session, node);
        if (s->disconnected_ms + t->cfg.ttl_ms > now_ms)
            break; /* the rest disconnected later */
        memcpy(sid, s->id, RP_SESSION_ID_LEN);
        unlink_session(t, s);
        session_free(s);
        t->expiries++;
        n++;
        if (expired)
            expired(ctx, sid);
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

void
rp_session_totals(struct rp_session_table *t, struct rp_session_totals *out)
{
    pthread_mutex_lock(&t->lock);
    *out = (struct rp_session_totals){
        .connected = t->n_connected,
        .disconnected = t->n_disconnected,
        .buffered_bytes = t->buffered_bytes,
        .created = t->created,
        .resumes = t->resumes,
        .expiries = t->expiries,
        .hijacks_refused = t->hijacks_refused,
    };
    pthread_mutex_unlock(&t->lock);
}

size_t
rp_session_count(struct rp_session_table *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->by_id.count;
    pthread_mutex_unlock(&t->lock);
    return n;
}

/* ---- persistence ---- */

/* The owner may hold any byte (a user agent): space, '%' and bytes outside printable ASCII
 * are written as %XX. */
static void
append_escaped(struct rp_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= ' ' || *p == '%' || *p >= 0x7f) {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rp_buf_append(b, e, 3);
        } else {
            rp_buf_append(b, p, 1);
        }
    }
}

bool
rp_session_table_encode(struct rp_session_table *t, bool force, struct rp_buf *out)
{
    pthread_mutex_lock(&t->lock);
    bool changed = t->dirty;
    t->dirty = false;
    if (!changed && !force) {
        pthread_mutex_unlock(&t->lock);
        return false;
    }
    rp_buf_append_str(out, HEADER);
    size_t pos = 0;
    struct session *s;
    while ((s = rp_hashmap_next(&t->by_id, &pos)) != NULL) {
        rp_buf_append(out, s->id, RP_SESSION_ID_LEN);
        rp_buf_printf(out, " %" PRId64 " %" PRId64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " ",
                      s->created_ms, s->n_streams ? (int64_t)0 : s->disconnected_ms, s->last_seq,
                      s->n_buffered, s->buffered_bytes);
        rp_buf_append_str(out, "="); /* the owner may be empty: the field never is */
        append_escaped(out, s->owner);
        rp_buf_printf(out, " %" PRIu32, s->n_topics);
        for (uint32_t i = 0; i < s->n_topics; i++) {
            rp_buf_append_str(out, " ");
            append_escaped(out, s->topics[i]);
        }
        rp_buf_append_str(out, "\n");
    }
    pthread_mutex_unlock(&t->lock);
    return changed;
}

void
rp_session_table_mark_dirty(struct rp_session_table *t)
{
    pthread_mutex_lock(&t->lock);
    t->dirty = true;
    pthread_mutex_unlock(&t->lock);
}

/* The next space-separated field of the line [*p, end), unescaped into a malloc'd string;
 * NULL when there is none or an escape is bad. */
static char *
next_field(const char **p, const char *end)
{
    const char *s = *p;
    if (s >= end || *s == ' ')
        return NULL;
    const char *e = memchr(s, ' ', (size_t)(end - s));
    if (!e)
        e = end;
    char *out = rp_xmalloc((size_t)(e - s) + 1);
    size_t n = 0;
    for (const char *q = s; q < e; q++) {
        if (*q != '%') {
            /* What the encoder escapes is never written raw: such a line is not ours. */
            if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f) {
                free(out);
                return NULL;
            }
            out[n++] = *q;
            continue;
        }
        unsigned v = 0;
        for (int k = 1; k <= 2; k++) {
            char c = q + k < e ? q[k] : '\0';
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                : 16;
            if (d == 16 || (k == 1 && c == '\0')) {
                free(out);
                return NULL;
            }
            v = v * 16 + d;
        }
        if (v == 0) {
            free(out);
            return NULL;
        }
        out[n++] = (char)v;
        q += 2;
    }
    out[n] = '\0';
    *p = e < end ? e + 1 : e;
    return out;
}

static bool
next_u64(const char **p, const char *end, uint64_t *v)
{
    char *f = next_field(p, end);
    if (!f)
        return false;
    char *stop;
    errno = 0;
    unsigned long long x = strtoull(f, &stop, 10);
    bool ok = *f >= '0' && *f <= '9' && *stop == '\0' && errno == 0;
    free(f);
    *v = x;
    return ok;
}

#define MAX_RESTORED_TOPICS 4096

/* One line [p, end) into a new session; NULL when it does not parse. */
static struct session *
parse_line(const char *p, const char *end)
{
    if (end - p < RP_SESSION_ID_LEN + 1 || !rp_session_id_valid(p, RP_SESSION_ID_LEN) ||
        p[RP_SESSION_ID_LEN] != ' ')
        return NULL;
    struct session *s = rp_xcalloc(1, sizeof(*s));
    rp_list_init(&s->node);
    memcpy(s->id, p, RP_SESSION_ID_LEN);
    p += RP_SESSION_ID_LEN + 1;
    uint64_t created, disc, n_topics;
    if (!next_u64(&p, end, &created) || !next_u64(&p, end, &disc) ||
        !next_u64(&p, end, &s->last_seq) || !next_u64(&p, end, &s->n_buffered) ||
        !next_u64(&p, end, &s->buffered_bytes) || !(s->owner = next_field(&p, end)) ||
        s->owner[0] != '=' || !next_u64(&p, end, &n_topics) || n_topics > MAX_RESTORED_TOPICS ||
        created > INT64_MAX || disc > INT64_MAX)
        goto fail;
    memmove(s->owner, s->owner + 1, strlen(s->owner));
    s->created_ms = (int64_t)created;
    s->topics = rp_xcalloc(n_topics + 1, sizeof(char *));
    for (uint64_t i = 0; i < n_topics; i++) {
        if (!(s->topics[i] = next_field(&p, end)))
            goto fail;
        s->n_topics++;
    }
    if (p != end)
        goto fail;
    return s;
fail:
    session_free(s);
    return NULL;
}

int
rp_session_table_decode(struct rp_session_table *t, const char *data, size_t len, int64_t now_ms)
{
    size_t hl = strlen(HEADER);
    if (len < hl || memcmp(data, HEADER, hl) != 0)
        return -EINVAL;
    const char *p = data + hl, *end = data + len;
    int n = 0;
    pthread_mutex_lock(&t->lock);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        struct session *s = parse_line(p, le);
        p = nl ? nl + 1 : end;
        if (!s)
            continue;
        if (rp_hashmap_get(&t->by_id, s->id, RP_SESSION_ID_LEN)) {
            session_free(s);
            continue;
        }
        /* Every restored session is disconnected, from now: the clients could not come
         * back while the server was down, so the downtime does not count against them. */
        s->disconnected_ms = now_ms;
        rp_hashmap_put(&t->by_id, s->id, RP_SESSION_ID_LEN, s);
        insert_disconnected(t, s);
        t->buffered_bytes += s->buffered_bytes;
        n++;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}
