/* SPDX-License-Identifier: MIT */
/*
 * The NNG mesh engine (engine_nng.h). Everything that changes state runs on the engine's
 * thread and loop: nng is integrated through the socket's pollable receive descriptor
 * (NNG_OPT_RECVFD) and non-blocking sends, not through aio callbacks, because aio callbacks
 * run on nng's own threads and every peer table, chain and held message would then need a
 * lock; with the descriptor the only cross-thread paths are the mailbox (publishes, interest,
 * pipe events from nng's notify callbacks) and the stats snapshot, each under one mutex.
 *
 * Peer state machine (per origin epoch):
 *
 *   unknown --hello on a pipe--> connected --last pipe removed--> disconnected
 *      connected|disconnected --silent past peer_timeout--> down (still routed to: the chain
 *      goes on, so after the heal the receiver sees the gap and asks for it)
 *   receive side: chain unknown --first heartbeat or event--> in step --prev ahead--> gap
 *      (what follows is held, the range asked of the origin) --answer--> in step
 */
#include "cluster/engine_nng.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/hashmap.h"
#include "base/list.h"
#include "base/log.h"
#include "cluster/bloom.h"
#include "cluster/nng_msg.h"
#include "core/event_id.h"
#include "core/hub.h"
#include "core/logengine.h"
#include "core/pattern.h"
#include "loop/loop.h"
#include "loop/wakeup.h"

enum {
    MAX_PEERS = 64,
    /* Ids carry this node's part and one per other origin, 16 at most (ids.md). */
    MAX_ORIGINS = RP_EVENT_ID_PARTS_MAX - 1,
    MAX_PIPES = 256,
    HELD_CAP = 4096,         /* messages held behind a gap per peer; more are dropped */
    HELD_BYTES = 16 << 20,   /* and their bytes (at least one largest message) */
    OUT_BYTES = 1 << 20,     /* a batch is sent once it is this large, whatever its count */
    MSG_CAP = 256 << 20,     /* the largest message built */
    ANSWER_EVENTS = 10000,   /* events in one gap answer; the receiver asks for the rest */
    ANSWER_BYTES = 16 << 20, /* bytes in one gap answer */
    INTEREST_PER_MSG = 1000, /* names in one interest message */
    RECV_PER_TURN = 1024,    /* messages read before the loop turns again */
    TICK_MS = 100,           /* heartbeats, timeouts and gossip are checked this often */
    CLOSE_WAIT_MS = 2000,    /* longest wait for nng to close the socket at stop */
    REFUSED_LOG_MS = 1000,   /* refusals of what a connection sent: one log line this often */
};

struct held {
    struct held *next;
    nng_msg *msg;
};

struct peer {
    uint32_t epoch;
    char name[64];
    nng_pipe pipe; /* where this node sends to it; valid while n_pipes > 0 */
    unsigned n_pipes;
    bool ever_connected, down;
    int64_t heard_ms;
    /* What it reads: names (topics and patterns) owning their keys, and its snapshot. */
    struct rp_hashmap interest;
    size_t n_patterns;
    struct rp_bloom bloom; /* bits NULL until its first snapshot */
    /* Sending: the chain and the open batch. */
    uint64_t send_chain;
    struct rp_buf out;
    size_t out_n;
    /* Receiving. */
    bool chain_known, gap;
    uint64_t recv_chain, gap_upto;
    int64_t gap_asked_ms;
    struct held *held, *held_tail;
    size_t n_held, held_bytes;
    /* For /metrics */
    uint64_t reconnects, events_in, events_out, gaps_filled, gaps_lost;
    int64_t last_wall_ms;
};

struct pipe_ent {
    nng_pipe pipe;
    struct peer *peer; /* NULL until its hello */
    int64_t added_ms;
};

struct local_name {
    size_t len;
    int count;
    char name[]; /* NUL-terminated */
};

struct mail_interest {
    struct mail_interest *next;
    bool on;
    struct rp_event_vector have; /* on: per origin, the newest the topic's log holds */
    size_t len;
    char name[];
};

/* A topic's fill under way: the peers asked that have not answered. */
struct fill {
    struct fill *next;
    uint32_t waiting[MAX_PEERS];
    size_t n_waiting;
    int64_t asked_ms;
    size_t len;
    char name[];
};

struct mail_pipe {
    struct mail_pipe *next;
    nng_pipe pipe;
    bool added;
};

/* What a connection sent that was refused, for the log. */
enum refusal {
    REFUSED_MALFORMED = 0,
    REFUSED_BEFORE_HELLO,
    REFUSED_OTHER_EPOCH,
    REFUSED_SNAPSHOT,
    REFUSED_INTEREST,
    REFUSED_NO_HELLO,
    REFUSED_N,
};

static const char *const refusal_names[REFUSED_N] = {
    "a malformed message",
    "a message before its hello",
    "a message under another epoch than its hello's",
    "a snapshot larger than this node's own",
    "interest past max_topics names",
    "no hello while the connections are full",
};

/* Own events kept for gap answers: the published batches, oldest first. */
struct kept {
    struct kept *next;
    struct rp_logengine_batch *b;
};

struct rp_nng {
    struct rp_nng_config cfg;
    struct rp_nng_hooks hooks;
    char **strings;
    size_t n_strings;
    nng_socket sock;
    pthread_t thread;
    struct rp_loop *loop;
    struct rp_wakeup wake;
    struct rp_loop_io recv_io;
    struct rp_loop_timer tick, flush;

    pthread_mutex_t lock; /* the mailbox, stopping, closing and the stats snapshot */
    bool stopping;
    bool closed; /* the socket's close returned */
    pthread_cond_t closed_cv;
    struct rp_logengine_batch *pub_head, *pub_tail;
    struct mail_interest *int_head, *int_tail;
    struct mail_pipe *pipe_head, *pipe_tail;
    struct rp_nng_peer_stats stats[MAX_PEERS];
    size_t n_stats;

    /* Engine thread only */
    struct peer *peers[MAX_PEERS];
    size_t n_peers;
    struct pipe_ent pipes[MAX_PIPES];
    size_t n_pipes;
    uint32_t gone[MAX_PIPES]; /* ids of pipes removed lately (a ring): their late messages */
    size_t n_gone;
    struct rp_hashmap local; /* name -> struct local_name */
    struct fill *fills;
    struct kept *kept, *kept_tail;
    size_t kept_events, kept_bytes;
    uint64_t kept_lost_upto; /* own events up to it were dropped from <kept> */
    uint64_t last_own_seq;
    uint64_t generation;
    int64_t next_heartbeat_ms, next_gossip_ms;
    struct rp_buf msg; /* scratch for building one message */
    /* What a connection may send: nng refuses a larger message; a larger snapshot is
     * dropped (see set_receive_limits). Refusals are counted and logged at most once a
     * second per kind. */
    size_t recv_max;
    uint32_t bloom_bits_max;
    uint64_t n_refused[REFUSED_N];
    int64_t refused_log_ms[REFUSED_N];
};

/* ---- sending ---- */

static void
send_to_pipe(struct rp_nng *m, nng_pipe p, const struct rp_buf *b)
{
    nng_msg *msg;
    if (nng_msg_alloc(&msg, 0) != 0)
        return;
    if (nng_msg_append(msg, b->data, b->len) != 0) {
        nng_msg_free(msg);
        return;
    }
    nng_msg_set_pipe(msg, p);
    /* Non-blocking: a full queue drops the message; a lost event shows as a gap in the
     * receiver's chain, a lost interest change is repaired by the next snapshot. */
    if (nng_sendmsg(m->sock, msg, NNG_FLAG_NONBLOCK) != 0)
        nng_msg_free(msg);
}

static void
send_to(struct rp_nng *m, struct peer *p, const struct rp_buf *b)
{
    if (p->n_pipes)
        send_to_pipe(m, p->pipe, b);
}

static void
flush_peer(struct rp_nng *m, struct peer *p)
{
    if (!p->out_n)
        return;
    rp_nng_msg_set_count(&p->out, p->out_n);
    send_to(m, p, &p->out);
    p->events_out += p->out_n;
    p->out.len = 0;
    p->out_n = 0;
}

static void
flush_all(struct rp_nng *m)
{
    for (size_t i = 0; i < m->n_peers; i++)
        flush_peer(m, m->peers[i]);
}

static void
on_flush(struct rp_loop *loop, struct rp_loop_timer *t)
{
    (void)loop;
    flush_all(RP_CONTAINER_OF(t, struct rp_nng, flush));
}

/* ---- interest ---- */

static bool
peer_wants(const struct peer *p, const char *topic, size_t len)
{
    if (p->n_patterns == 0 && p->bloom.bits && !rp_bloom_maybe(&p->bloom, topic, len))
        return false; /* certain: the snapshot and every add since say no */
    if (rp_hashmap_get(&p->interest, topic, len))
        return true;
    if (p->n_patterns == 0)
        return false;
    size_t pos = 0;
    struct local_name *n;
    while ((n = rp_hashmap_next(&p->interest, &pos)))
        if (rp_pattern_has_wildcard(n->name, n->len) &&
            rp_pattern_matches(n->name, n->len, topic, len))
            return true;
    return false;
}

static void
peer_add_name(struct peer *p, const char *name, size_t len)
{
    if (rp_hashmap_get(&p->interest, name, len))
        return;
    struct local_name *n = rp_xmalloc(sizeof(*n) + len + 1);
    n->len = len;
    n->count = 1;
    memcpy(n->name, name, len);
    n->name[len] = '\0';
    rp_hashmap_put(&p->interest, n->name, len, n);
    if (rp_pattern_has_wildcard(name, len))
        p->n_patterns++;
    if (p->bloom.bits)
        rp_bloom_add(&p->bloom, name, len);
}

static void
peer_remove_name(struct peer *p, const char *name, size_t len)
{
    struct local_name *n = rp_hashmap_remove(&p->interest, name, len);
    if (!n)
        return;
    if (rp_pattern_has_wildcard(n->name, n->len))
        p->n_patterns--;
    free(n);
}

static void
peer_clear_interest(struct peer *p)
{
    size_t pos = 0;
    struct local_name *n;
    while ((n = rp_hashmap_next(&p->interest, &pos)))
        free(n);
    rp_hashmap_fini(&p->interest);
    rp_hashmap_init(&p->interest);
    p->n_patterns = 0;
    rp_bloom_fini(&p->bloom);
}

/* Sends this node's whole interest to pipe <pp>, then its snapshot. */
static void
send_all_interest(struct rp_nng *m, nng_pipe pp)
{
    const char *names[INTEREST_PER_MSG];
    size_t lens[INTEREST_PER_MSG], n = 0, pos = 0;
    struct local_name *ln;
    for (;;) {
        ln = rp_hashmap_next(&m->local, &pos);
        if (ln) {
            names[n] = ln->name;
            lens[n++] = ln->len;
        }
        if (n && (n == INTEREST_PER_MSG || !ln)) {
            m->msg.len = 0;
            if (rp_nng_msg_interest(&m->msg, m->cfg.epoch, true, names, lens, n) == 0)
                send_to_pipe(m, pp, &m->msg);
            n = 0;
        }
        if (!ln)
            break;
    }
}

static void
send_snapshot(struct rp_nng *m, struct peer *only)
{
    struct rp_bloom b;
    if (rp_bloom_init(&b, m->cfg.bloom_capacity, m->cfg.bloom_fpr) != 0)
        return;
    size_t pos = 0;
    struct local_name *ln;
    while ((ln = rp_hashmap_next(&m->local, &pos)))
        rp_bloom_add(&b, ln->name, ln->len);
    m->msg.len = 0;
    if (rp_nng_msg_bloom(&m->msg, m->cfg.epoch, ++m->generation, b.hashes, b.n_bits, b.bits) == 0) {
        for (size_t i = 0; i < m->n_peers; i++)
            if (!only || m->peers[i] == only)
                send_to(m, m->peers[i], &m->msg);
    }
    rp_bloom_fini(&b);
}

static struct fill *
find_fill(struct rp_nng *m, const char *name, size_t len)
{
    for (struct fill *f = m->fills; f; f = f->next)
        if (f->len == len && memcmp(f->name, name, len) == 0)
            return f;
    return NULL;
}

/* Once no peer asked for <f> is left to answer, the topic's readers go on. */
static void
fill_check(struct rp_nng *m, struct fill *f)
{
    if (f->n_waiting)
        return;
    struct fill **pp = &m->fills;
    while (*pp != f)
        pp = &(*pp)->next;
    *pp = f->next;
    m->hooks.filled(m->hooks.ctx, f->name, f->len);
    free(f);
}

static void
fill_answered(struct rp_nng *m, struct fill *f, uint32_t epoch)
{
    for (size_t i = 0; i < f->n_waiting; i++) {
        if (f->waiting[i] == epoch) {
            f->waiting[i] = f->waiting[--f->n_waiting];
            break;
        }
    }
    fill_check(m, f);
}

/*
 * A topic this node begins to read: each connected peer is asked for what it keeps of it
 * (after what the topic's log has of that peer), which also adds it to what the peer
 * forwards here; a pipe whose hello has not come gets a plain add (its whole set went out
 * when it was added).
 */
static void
start_fill(struct rp_nng *m, const struct mail_interest *mi)
{
    struct fill *f = rp_xcalloc(1, sizeof(*f) + mi->len + 1);
    f->len = mi->len;
    memcpy(f->name, mi->name, mi->len);
    f->asked_ms = rp_clock_now_ms();
    for (size_t i = 0; i < m->n_pipes; i++) {
        struct peer *p = m->pipes[i].peer;
        m->msg.len = 0;
        if (!p) {
            const char *name = mi->name;
            if (rp_nng_msg_interest(&m->msg, m->cfg.epoch, true, &name, &mi->len, 1) == 0)
                send_to_pipe(m, m->pipes[i].pipe, &m->msg);
            continue;
        }
        if (nng_pipe_id(p->pipe) != nng_pipe_id(m->pipes[i].pipe))
            continue; /* one request per peer, on the pipe its events come on */
        uint64_t after = rp_event_vector_get(&mi->have, p->epoch);
        if (rp_nng_msg_fill_request(&m->msg, m->cfg.epoch, after, mi->name, mi->len) == 0) {
            send_to_pipe(m, p->pipe, &m->msg);
            f->waiting[f->n_waiting++] = p->epoch;
        }
    }
    f->next = m->fills;
    m->fills = f;
    fill_check(m, f); /* nobody to ask: done at once */
}

static void
apply_interest(struct rp_nng *m, struct mail_interest *mi)
{
    struct local_name *n = rp_hashmap_get(&m->local, mi->name, mi->len);
    if (mi->on) {
        if (n) {
            n->count++;
            /* Interest that only grew: nothing to fill, unless a fill is under way. */
            if (!rp_pattern_has_wildcard(mi->name, mi->len) && !find_fill(m, mi->name, mi->len))
                m->hooks.filled(m->hooks.ctx, mi->name, mi->len);
            return;
        }
        n = rp_xmalloc(sizeof(*n) + mi->len + 1);
        n->len = mi->len;
        n->count = 1;
        memcpy(n->name, mi->name, mi->len);
        n->name[mi->len] = '\0';
        rp_hashmap_put(&m->local, n->name, n->len, n);
    } else {
        if (!n || --n->count > 0)
            return;
        rp_hashmap_remove(&m->local, mi->name, mi->len);
        free(n);
    }
    if (mi->on && !rp_pattern_has_wildcard(mi->name, mi->len)) {
        start_fill(m, mi);
        return;
    }
    const char *name = mi->name;
    m->msg.len = 0;
    if (rp_nng_msg_interest(&m->msg, m->cfg.epoch, mi->on, &name, &mi->len, 1) != 0)
        return;
    /* Every pipe, also one whose hello has not come yet (its whole set went out when it was
     * added, before this change); a peer with two pipes gets it twice, which a set absorbs. */
    for (size_t i = 0; i < m->n_pipes; i++)
        send_to_pipe(m, m->pipes[i].pipe, &m->msg);
}

/* ---- own events: forwarding and keeping for gap answers ---- */

static void
keep_trim(struct rp_nng *m)
{
    while (m->kept && m->kept != m->kept_tail &&
           (m->kept_events > m->cfg.keep_events || m->kept_bytes > m->cfg.keep_bytes)) {
        struct kept *k = m->kept;
        m->kept = k->next;
        m->kept_events -= k->b->n;
        m->kept_bytes -= k->b->bytes;
        m->kept_lost_upto = rp_logengine_batch_last_seq(k->b);
        rp_logengine_batch_free(k->b);
        free(k);
    }
}

/* A published event as the mesh sends it, after <prev> (borrowed from <e>). */
static struct rp_nng_event
wire_event(const struct rp_ingest_event *e, uint64_t prev)
{
    const struct rp_publish_item *it = &e->item;
    return (struct rp_nng_event){
        .seq = e->seq,
        .prev = prev,
        .wall_ms = e->wall_ms,
        .topic = it->topic,
        .topic_len = it->topic_len,
        .type = it->event,
        .type_len = it->event ? it->event_len : 0,
        .data = it->data,
        .data_len = it->data_len,
        .pub_id = it->pub_id_len ? it->pub_id : NULL,
        .pub_id_len = it->pub_id_len,
        .same_update = it->same_update,
    };
}

static void
forward(struct rp_nng *m, struct rp_logengine_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct rp_ingest_event *e = &b->evs[i];
        const struct rp_publish_item *it = &e->item;
        m->last_own_seq = e->seq;
        for (size_t j = 0; j < m->n_peers; j++) {
            struct peer *p = m->peers[j];
            if (!peer_wants(p, it->topic, it->topic_len))
                continue;
            if (p->out_n == 0 && rp_nng_msg_events(&p->out, m->cfg.epoch, 0) != 0)
                continue;
            struct rp_nng_event ev = wire_event(e, p->send_chain);
            size_t mark = p->out.len;
            if (rp_nng_msg_event(&p->out, &ev) != 0) {
                p->out.len = mark;
                if (p->out_n == 0)
                    p->out.len = 0;
                continue;
            }
            /* The chain advances even when the peer is unreachable: after the heal its
             * next event or heartbeat names the range it missed. */
            p->send_chain = e->seq;
            if (++p->out_n >= m->cfg.batch_size || p->out.len >= OUT_BYTES ||
                p->out_n >= RP_NNG_BATCH_MAX)
                flush_peer(m, p);
        }
    }
    struct kept *k = rp_xmalloc(sizeof(*k));
    k->next = NULL;
    k->b = b;
    if (m->kept_tail)
        m->kept_tail->next = k;
    else
        m->kept = k;
    m->kept_tail = k;
    m->kept_events += b->n;
    m->kept_bytes += b->bytes;
    keep_trim(m);
}

/* Answers <p>'s request for this node's events in (after, upto] that it reads. */
static void
answer_gap(struct rp_nng *m, struct peer *p, uint64_t after, uint64_t upto)
{
    if (upto > m->last_own_seq)
        upto = m->last_own_seq;
    if (upto <= after)
        return;
    uint64_t lost = m->kept_lost_upto > after ? m->kept_lost_upto : after;
    if (lost > upto)
        lost = upto;
    /* Count what fits first, so the answer's upto is exact when it is cut short. */
    size_t n = 0, bytes = 0;
    uint64_t end = upto;
    for (struct kept *k = m->kept; k && end == upto; k = k->next) {
        for (size_t i = 0; i < k->b->n; i++) {
            const struct rp_ingest_event *e = &k->b->evs[i];
            if (e->seq <= lost || e->seq > upto || !peer_wants(p, e->item.topic, e->item.topic_len))
                continue;
            if (n == ANSWER_EVENTS || bytes + e->item.data_len > ANSWER_BYTES) {
                end = e->seq - 1;
                break;
            }
            n++;
            bytes += e->item.data_len + e->item.topic_len + 64;
        }
    }
    m->msg.len = 0;
    if (end <= after || rp_nng_msg_gap_answer(&m->msg, m->cfg.epoch, after, end, lost, n) != 0)
        return;
    uint64_t prev = lost;
    for (struct kept *k = m->kept; k; k = k->next) {
        for (size_t i = 0; i < k->b->n; i++) {
            const struct rp_ingest_event *e = &k->b->evs[i];
            if (e->seq <= lost || e->seq > end || !peer_wants(p, e->item.topic, e->item.topic_len))
                continue;
            struct rp_nng_event ev = wire_event(e, prev);
            if (rp_nng_msg_event(&m->msg, &ev) != 0)
                return;
            prev = e->seq;
        }
    }
    send_to(m, p, &m->msg);
}

/*
 * Answers <p>'s fill of <topic>: what this node keeps of it after <after>, the newest that
 * fit in one message; then forwards <topic> to <p> from now on. The batch open for <p> goes
 * first, so every event of this node <p> gets before the answer is older than its history.
 */
static void
answer_fill(struct rp_nng *m, struct peer *p, uint64_t after, const char *topic, size_t len)
{
    flush_peer(m, p);
    uint64_t lost = m->kept_lost_upto > after ? m->kept_lost_upto : after;
    const struct rp_ingest_event **evs = NULL;
    size_t n = 0, cap = 0;
    for (struct kept *k = m->kept; k; k = k->next) {
        for (size_t i = 0; i < k->b->n; i++) {
            const struct rp_ingest_event *e = &k->b->evs[i];
            if (e->seq <= lost || e->item.topic_len != len ||
                memcmp(e->item.topic, topic, len) != 0)
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                evs = rp_xrealloc(evs, cap * sizeof(*evs));
            }
            evs[n++] = e;
        }
    }
    /* The newest that fit; what is cut off the front counts as gone. */
    size_t first = n, bytes = 0;
    while (first > 0 && n - first < ANSWER_EVENTS) {
        const struct rp_ingest_event *e = evs[first - 1];
        size_t size = e->item.data_len + e->item.topic_len + 64;
        if (bytes + size > ANSWER_BYTES)
            break;
        bytes += size;
        first--;
    }
    if (first > 0)
        lost = evs[first - 1]->seq;
    m->msg.len = 0;
    int err = rp_nng_msg_fill_answer(&m->msg, m->cfg.epoch, after, lost, topic, len, n - first);
    uint64_t prev = lost;
    for (size_t i = first; i < n && !err; i++) {
        const struct rp_ingest_event *e = evs[i];
        struct rp_nng_event ev = wire_event(e, prev);
        err = rp_nng_msg_event(&m->msg, &ev);
        prev = e->seq;
    }
    free(evs);
    if (!err)
        send_to(m, p, &m->msg);
    peer_add_name(p, topic, len);
}

/* ---- peers ---- */

static struct peer *
find_peer(struct rp_nng *m, uint32_t epoch)
{
    for (size_t i = 0; i < m->n_peers; i++)
        if (m->peers[i]->epoch == epoch)
            return m->peers[i];
    return NULL;
}

static struct pipe_ent *
find_pipe(struct rp_nng *m, nng_pipe pp)
{
    for (size_t i = 0; i < m->n_pipes; i++)
        if (nng_pipe_id(m->pipes[i].pipe) == nng_pipe_id(pp))
            return &m->pipes[i];
    return NULL;
}

/*
 * What connection <pp> sent was refused (<why>): whatever reaches the listen address can
 * send, so each kind is counted, and logged with the sender's address at most once a second.
 */
static void
refused(struct rp_nng *m, nng_pipe pp, enum refusal why)
{
    m->n_refused[why]++;
    int64_t now = rp_clock_now_ms();
    if (m->refused_log_ms[why] && now - m->refused_log_ms[why] < REFUSED_LOG_MS)
        return;
    m->refused_log_ms[why] = now;
    char addr[INET6_ADDRSTRLEN + 8] = "?";
    nng_sockaddr sa;
    if (nng_pipe_get_addr(pp, NNG_OPT_REMADDR, &sa) == 0) {
        char ip[INET6_ADDRSTRLEN];
        if (sa.s_family == NNG_AF_INET && inet_ntop(AF_INET, &sa.s_in.sa_addr, ip, sizeof(ip)))
            snprintf(addr, sizeof(addr), "%s:%u", ip, ntohs(sa.s_in.sa_port));
        else if (sa.s_family == NNG_AF_INET6 &&
                 inet_ntop(AF_INET6, sa.s_in6.sa_addr, ip, sizeof(ip)))
            snprintf(addr, sizeof(addr), "[%s]:%u", ip, ntohs(sa.s_in6.sa_port));
    }
    RP_LOG(RP_LOG_WARN, "cluster",
           "msg=\"refused what a mesh connection sent: %s\" from=%s total=%" PRIu64,
           refusal_names[why], addr, m->n_refused[why]);
}

static void
publish_stats(struct rp_nng *m)
{
    int64_t now = rp_clock_wall_ms();
    pthread_mutex_lock(&m->lock);
    m->n_stats = m->n_peers;
    for (size_t i = 0; i < m->n_peers; i++) {
        const struct peer *p = m->peers[i];
        struct rp_nng_peer_stats *s = &m->stats[i];
        s->epoch = p->epoch;
        snprintf(s->name, sizeof(s->name), "%s", p->name);
        s->connected = p->n_pipes > 0;
        s->down = p->down;
        s->reconnects = p->reconnects;
        s->events_in = p->events_in;
        s->events_out = p->events_out;
        s->gaps_filled = p->gaps_filled;
        s->gaps_lost = p->gaps_lost;
        s->lag_ms = p->last_wall_ms ? now - p->last_wall_ms : 0;
        s->interest = p->interest.count;
    }
    pthread_mutex_unlock(&m->lock);
}

static void
ask_gap(struct rp_nng *m, struct peer *p, uint64_t upto)
{
    p->gap = true;
    p->gap_upto = upto;
    p->gap_asked_ms = rp_clock_now_ms();
    m->msg.len = 0;
    if (rp_nng_msg_gap_request(&m->msg, m->cfg.epoch, p->recv_chain, upto) == 0)
        send_to(m, p, &m->msg);
    RP_LOG(RP_LOG_DEBUG, "cluster",
           "msg=\"a gap in a peer's events: asking for it\" peer=%08" PRIx32 " after=%" PRIu64
           " upto=%" PRIu64,
           p->epoch, p->recv_chain, upto);
}

/* Hands <n> events of <p> to the hub and counts them. */
static void
deliver(struct rp_nng *m, struct peer *p, const struct rp_nng_event *evs, size_t n)
{
    if (!n)
        return;
    m->hooks.events(m->hooks.ctx, p->epoch, evs, n);
    p->events_in += n;
    p->last_wall_ms = evs[n - 1].wall_ms;
}

static void
held_push(struct rp_nng *m, struct peer *p, nng_msg *msg)
{
    size_t len = nng_msg_len(msg);
    size_t cap = m->recv_max > HELD_BYTES ? m->recv_max : HELD_BYTES;
    if (p->n_held >= HELD_CAP || p->held_bytes + len > cap) {
        nng_msg_free(msg); /* the chain shows it again once the gap is in */
        return;
    }
    p->held_bytes += len;
    struct held *h = rp_xmalloc(sizeof(*h));
    h->next = NULL;
    h->msg = msg;
    if (p->held_tail)
        p->held_tail->next = h;
    else
        p->held = h;
    p->held_tail = h;
    p->n_held++;
}

/*
 * Takes in the events of <msg> (an EVENTS message of <p>, decoded as <dm>) that are after
 * the chain; true when it is done with <msg>, false when a gap stopped it (the caller holds
 * <msg>: its events up to the gap are in, and are skipped when it is read again).
 */
static bool
take_events(struct rp_nng *m, struct peer *p, struct rp_nng_msg *dm)
{
    struct rp_nng_event evs[256];
    size_t n = 0;
    struct rp_nng_event ev;
    while (rp_nng_msg_next_event(dm, &ev)) {
        if (!p->chain_known) {
            p->chain_known = true;
            p->recv_chain = ev.prev; /* first contact since this node started */
        }
        if (ev.seq <= p->recv_chain)
            continue; /* already in (a held message read again) */
        if (ev.prev > p->recv_chain) {
            deliver(m, p, evs, n);
            ask_gap(m, p, ev.prev);
            return false;
        }
        evs[n++] = ev;
        p->recv_chain = ev.seq;
        if (n == sizeof(evs) / sizeof(evs[0])) {
            deliver(m, p, evs, n);
            n = 0;
        }
    }
    deliver(m, p, evs, n);
    return true;
}

static void on_fill_answer(struct rp_nng *m, struct peer *p, struct rp_nng_msg *dm);

/* After a gap closed: the held messages, in order, until one finds another gap. */
static void
drain_held(struct rp_nng *m, struct peer *p)
{
    while (p->held && !p->gap) {
        struct held *h = p->held;
        struct rp_nng_msg dm;
        bool done = true;
        if (rp_nng_msg_decode(nng_msg_body(h->msg), nng_msg_len(h->msg), &dm) == 0) {
            if (dm.type == RP_NNG_FILL_ANSWER)
                on_fill_answer(m, p, &dm);
            else
                done = take_events(m, p, &dm);
        }
        if (!done)
            return;
        p->held = h->next;
        if (!p->held)
            p->held_tail = NULL;
        p->n_held--;
        p->held_bytes -= nng_msg_len(h->msg);
        nng_msg_free(h->msg);
        free(h);
    }
}

/* Events of <p> in (recv_chain, upto] are gone: every local reader may have missed some. */
static void
report_lost(struct rp_nng *m, struct peer *p, uint64_t upto)
{
    p->gaps_lost++;
    RP_LOG(RP_LOG_WARN, "cluster",
           "msg=\"a peer's events are gone before this node got them; readers are told "
           "(event: resync)\" peer=%08" PRIx32 " after=%" PRIu64 " upto=%" PRIu64,
           p->epoch, p->recv_chain, upto);
    size_t pos = 0;
    struct local_name *ln;
    while ((ln = rp_hashmap_next(&m->local, &pos)))
        m->hooks.lost(m->hooks.ctx, p->epoch, ln->name, ln->len, upto);
}

/* A part of a topic's fill from <p> (decoded as <dm>): to the hub, then one answer less. */
static void
on_fill_answer(struct rp_nng *m, struct peer *p, struct rp_nng_msg *dm)
{
    uint64_t lost = dm->lost_upto > dm->after ? dm->lost_upto : 0;
    if (lost)
        p->gaps_lost++;
    struct rp_nng_event evs[256];
    size_t n = 0, total = 0;
    struct rp_nng_event ev;
    while (rp_nng_msg_next_event(dm, &ev)) {
        evs[n++] = ev;
        if (n == sizeof(evs) / sizeof(evs[0])) {
            m->hooks.fill(m->hooks.ctx, p->epoch, dm->name, dm->name_len, evs, n, lost);
            total += n;
            lost = 0;
            n = 0;
        }
    }
    if (n || lost)
        m->hooks.fill(m->hooks.ctx, p->epoch, dm->name, dm->name_len, evs, n, lost);
    p->events_in += total + n;
    struct fill *f = find_fill(m, dm->name, dm->name_len);
    if (f)
        fill_answered(m, f, p->epoch);
}

/* <p> cannot answer the fills it was asked for (it went away): what it had is owed. */
static void
fills_give_up(struct rp_nng *m, struct peer *p)
{
    struct fill *f = m->fills;
    while (f) {
        struct fill *next = f->next;
        for (size_t i = 0; i < f->n_waiting; i++) {
            if (f->waiting[i] == p->epoch) {
                m->hooks.lost(m->hooks.ctx, p->epoch, f->name, f->len, 0);
                fill_answered(m, f, p->epoch);
                break;
            }
        }
        f = next;
    }
}

static void
on_answer(struct rp_nng *m, struct peer *p, struct rp_nng_msg *dm)
{
    if (!p->gap || dm->after != p->recv_chain)
        return; /* an answer to an earlier request, already superseded */
    if (dm->lost_upto > dm->after)
        report_lost(m, p, dm->lost_upto);
    else
        p->gaps_filled++;
    p->recv_chain = dm->lost_upto;
    take_events(m, p, dm); /* prevs inside an answer follow it: never a gap */
    p->recv_chain = dm->upto;
    p->gap = false;
    if (dm->upto < p->gap_upto)
        ask_gap(m, p, p->gap_upto); /* the answer was cut short: the rest */
    else
        drain_held(m, p);
}

static void
free_peer(struct peer *p)
{
    peer_clear_interest(p);
    rp_hashmap_fini(&p->interest);
    rp_buf_fini(&p->out);
    while (p->held) {
        struct held *h = p->held;
        p->held = h->next;
        nng_msg_free(h->msg);
        free(h);
    }
    free(p);
}

/*
 * A peer says hello under a new epoch with the name of one that is not connected: that node
 * restarted without its log, so the old epoch's events are never coming again: it goes,
 * and ids stop carrying its part. A name with a wildcard host (a listen address on "*")
 * names no node.
 */
static void
forget_restarted(struct rp_nng *m, uint32_t epoch, const char *name, size_t len)
{
    if (!name || len == 0 || memchr(name, '*', len))
        return;
    for (size_t i = 0; i < m->n_peers; i++) {
        struct peer *q = m->peers[i];
        if (q->epoch == epoch || q->n_pipes || strlen(q->name) != len ||
            memcmp(q->name, name, len) != 0)
            continue;
        RP_LOG(RP_LOG_INFO, "cluster",
               "msg=\"mesh peer restarted under a new epoch: the old one is forgotten\" "
               "old=%08" PRIx32 " new=%08" PRIx32 " name=%s",
               q->epoch, epoch, q->name);
        fills_give_up(m, q);
        m->hooks.origin_gone(m->hooks.ctx, q->epoch);
        m->peers[i--] = m->peers[--m->n_peers];
        free_peer(q);
    }
}

static void
on_hello(struct rp_nng *m, struct pipe_ent *pe, const struct rp_nng_msg *dm)
{
    if (dm->epoch == m->cfg.epoch) {
        /* This node dialed itself (a peer address that is its own): stop that dialer. */
        nng_dialer d = nng_pipe_dialer(pe->pipe);
        if (nng_dialer_id(d) > 0)
            nng_dialer_close(d);
        nng_pipe_close(pe->pipe);
        return;
    }
    struct peer *p = find_peer(m, dm->epoch);
    if (!p) {
        forget_restarted(m, dm->epoch, dm->name, dm->name_len);
        if (m->n_peers >= MAX_ORIGINS) {
            RP_LOG(RP_LOG_ERROR, "cluster",
                   "msg=\"a mesh holds at most %d nodes (an id carries a part per node): this "
                   "peer is refused\" peer=%08" PRIx32 " name=%.*s",
                   MAX_ORIGINS + 1, dm->epoch, (int)dm->name_len, dm->name ? dm->name : "");
            nng_pipe_close(pe->pipe);
            return;
        }
        p = rp_xcalloc(1, sizeof(*p));
        p->epoch = dm->epoch;
        rp_hashmap_init(&p->interest);
        rp_buf_init(&p->out, MSG_CAP);
        m->peers[m->n_peers++] = p;
    }
    snprintf(p->name, sizeof(p->name), "%.*s", (int)dm->name_len, dm->name ? dm->name : "");
    pe->peer = p;
    m->hooks.heard(m->hooks.ctx, p->epoch, dm->last_seq);
    p->heard_ms = rp_clock_now_ms();
    p->down = false;
    if (p->n_pipes++ == 0) {
        p->pipe = pe->pipe;
        if (p->ever_connected)
            p->reconnects++;
        p->ever_connected = true;
        peer_clear_interest(p); /* its whole set follows on this connection */
        RP_LOG(RP_LOG_INFO, "cluster", "msg=\"mesh peer connected\" peer=%08" PRIx32 " name=%s",
               p->epoch, p->name);
    }
    /* Tell it where its chain of this node's events stands, so a range it missed while
     * apart is asked for at once; and ask again for a range it never answered. */
    flush_peer(m, p);
    m->msg.len = 0;
    if (rp_nng_msg_heartbeat(&m->msg, m->cfg.epoch, m->last_own_seq, p->send_chain) == 0)
        send_to(m, p, &m->msg);
    if (p->gap)
        ask_gap(m, p, p->gap_upto);
}

static void pipe_added(struct rp_nng *m, nng_pipe pp);

static bool
pipe_gone(const struct rp_nng *m, nng_pipe pp)
{
    uint32_t id = (uint32_t)nng_pipe_id(pp);
    size_t n = m->n_gone < MAX_PIPES ? m->n_gone : MAX_PIPES;
    for (size_t i = 0; i < n; i++)
        if (m->gone[i] == id)
            return true;
    return false;
}

static void
on_message(struct rp_nng *m, nng_msg *msg)
{
    nng_pipe pp = nng_msg_get_pipe(msg);
    struct pipe_ent *pe = find_pipe(m, pp);
    if (!pe && !pipe_gone(m, pp)) {
        /* Its first message can come before nng's notice that it was added. */
        pipe_added(m, pp);
        pe = find_pipe(m, pp);
    }
    struct rp_nng_msg dm;
    if (!pe) {
        nng_msg_free(msg);
        return;
    }
    if (rp_nng_msg_decode(nng_msg_body(msg), nng_msg_len(msg), &dm) != 0) {
        refused(m, pp, REFUSED_MALFORMED);
        nng_msg_free(msg);
        return;
    }
    if (dm.type == RP_NNG_HELLO) {
        on_hello(m, pe, &dm);
        nng_msg_free(msg);
        return;
    }
    struct peer *p = pe->peer;
    if (!p || p->epoch != dm.epoch) {
        /* nothing before its hello; a sender names itself truly */
        refused(m, pp, p ? REFUSED_OTHER_EPOCH : REFUSED_BEFORE_HELLO);
        nng_msg_free(msg);
        return;
    }
    p->heard_ms = rp_clock_now_ms();
    if (p->down) {
        p->down = false;
        RP_LOG(RP_LOG_INFO, "cluster", "msg=\"mesh peer heard again\" peer=%08" PRIx32, p->epoch);
    }
    const char *name;
    size_t len;
    switch (dm.type) {
    case RP_NNG_INTEREST_ADD: {
        /* A peer reads at most max_topics names (its hub holds no more): past it, memory
         * a connection could take without end. */
        bool over = false;
        while (rp_nng_msg_next_name(&dm, &name, &len)) {
            if (p->interest.count >= m->cfg.max_interest &&
                !rp_hashmap_get(&p->interest, name, len)) {
                over = true;
                continue;
            }
            peer_add_name(p, name, len);
        }
        if (over)
            refused(m, pp, REFUSED_INTEREST);
        break;
    }
    case RP_NNG_INTEREST_REMOVE:
        while (rp_nng_msg_next_name(&dm, &name, &len))
            peer_remove_name(p, name, len);
        break;
    case RP_NNG_BLOOM: {
        if (dm.bits > m->bloom_bits_max) {
            refused(m, pp, REFUSED_SNAPSHOT);
            break;
        }
        rp_bloom_fini(&p->bloom);
        if (rp_bloom_init_from(&p->bloom, dm.bitmap, dm.bits, dm.hashes) != 0)
            break;
        /* Anti-entropy: a name the snapshot certainly lacks was removed in a message that
         * was lost. */
        size_t pos = 0;
        struct local_name *n;
        char *stale[64];
        size_t n_stale = 0;
        while ((n = rp_hashmap_next(&p->interest, &pos)) && n_stale < 64)
            if (!rp_bloom_maybe(&p->bloom, n->name, n->len))
                stale[n_stale++] = n->name;
        for (size_t i = 0; i < n_stale; i++)
            peer_remove_name(p, stale[i], strlen(stale[i]));
        break;
    }
    case RP_NNG_EVENTS:
        if (p->gap || !take_events(m, p, &dm)) {
            held_push(m, p, msg);
            return;
        }
        break;
    case RP_NNG_GAP_REQUEST:
        answer_gap(m, p, dm.after, dm.upto);
        break;
    case RP_NNG_GAP_ANSWER:
        on_answer(m, p, &dm);
        break;
    case RP_NNG_FILL_REQUEST:
        /* A fill adds its topic to what the peer reads: the same bound as an add. */
        if (p->interest.count >= m->cfg.max_interest &&
            !rp_hashmap_get(&p->interest, dm.name, dm.name_len)) {
            refused(m, pp, REFUSED_INTEREST);
            break;
        }
        answer_fill(m, p, dm.after, dm.name, dm.name_len);
        break;
    case RP_NNG_FILL_ANSWER:
        /* History of its events, held like them behind a gap: it follows what came first. */
        if (p->gap) {
            held_push(m, p, msg);
            return;
        }
        on_fill_answer(m, p, &dm);
        break;
    case RP_NNG_HEARTBEAT:
        m->hooks.heard(m->hooks.ctx, p->epoch, dm.last_seq);
        if (!p->chain_known) {
            p->chain_known = true;
            p->recv_chain = dm.chain;
        } else if (!p->gap && dm.chain > p->recv_chain) {
            ask_gap(m, p, dm.chain);
        }
        break;
    default:
        break;
    }
    nng_msg_free(msg);
}

static void
on_recv(struct rp_loop_io *io, uint32_t events)
{
    (void)events;
    struct rp_nng *m = RP_CONTAINER_OF(io, struct rp_nng, recv_io);
    for (int i = 0; i < RECV_PER_TURN; i++) {
        nng_msg *msg;
        if (nng_recvmsg(m->sock, &msg, NNG_FLAG_NONBLOCK) != 0)
            break;
        on_message(m, msg);
    }
    publish_stats(m);
}

static void
pipe_added(struct rp_nng *m, nng_pipe pp)
{
    if (find_pipe(m, pp) || pipe_gone(m, pp))
        return; /* taken up already by its first message, or gone already */
    int64_t now = rp_clock_now_ms();
    if (m->n_pipes == MAX_PIPES) {
        /* Full: the oldest connection that never said hello makes room (connections that
         * only hold a slot must not keep a peer out), else the new one is refused. */
        struct pipe_ent *old = NULL;
        for (size_t i = 0; i < m->n_pipes; i++)
            if (!m->pipes[i].peer && (!old || m->pipes[i].added_ms < old->added_ms))
                old = &m->pipes[i];
        if (!old) {
            nng_pipe_close(pp);
            return;
        }
        refused(m, old->pipe, REFUSED_NO_HELLO);
        m->gone[m->n_gone++ % MAX_PIPES] = (uint32_t)nng_pipe_id(old->pipe);
        nng_pipe_close(old->pipe);
        *old = m->pipes[--m->n_pipes];
    }
    m->pipes[m->n_pipes++] = (struct pipe_ent){.pipe = pp, .added_ms = now};
    m->msg.len = 0;
    const char *name = m->cfg.name ? m->cfg.name : "";
    size_t len = strlen(name);
    if (rp_nng_msg_hello(&m->msg, m->cfg.epoch, m->last_own_seq, name,
                         len > RP_NNG_NAME_MAX ? RP_NNG_NAME_MAX : len) == 0)
        send_to_pipe(m, pp, &m->msg);
    send_all_interest(m, pp);
}

static void
pipe_removed(struct rp_nng *m, nng_pipe pp)
{
    m->gone[m->n_gone++ % MAX_PIPES] = (uint32_t)nng_pipe_id(pp);
    struct pipe_ent *pe = find_pipe(m, pp);
    if (!pe)
        return;
    struct peer *p = pe->peer;
    *pe = m->pipes[--m->n_pipes];
    if (!p)
        return;
    if (--p->n_pipes == 0) {
        RP_LOG(RP_LOG_INFO, "cluster", "msg=\"mesh peer disconnected; redialing\" peer=%08" PRIx32,
               p->epoch);
        fills_give_up(m, p);
        return;
    }
    if (nng_pipe_id(p->pipe) == nng_pipe_id(pp)) {
        for (size_t i = 0; i < m->n_pipes; i++)
            if (m->pipes[i].peer == p) {
                p->pipe = m->pipes[i].pipe;
                break;
            }
    }
}

/* nng's thread: only the mailbox. */
static void
on_pipe_event(nng_pipe pp, nng_pipe_ev ev, void *arg)
{
    struct rp_nng *m = arg;
    struct mail_pipe *mp = rp_xmalloc(sizeof(*mp));
    mp->next = NULL;
    mp->pipe = pp;
    mp->added = ev == NNG_PIPE_EV_ADD_POST;
    pthread_mutex_lock(&m->lock);
    if (m->pipe_tail)
        m->pipe_tail->next = mp;
    else
        m->pipe_head = mp;
    m->pipe_tail = mp;
    pthread_mutex_unlock(&m->lock);
    rp_wakeup_signal(&m->wake);
}

static void
on_mail(struct rp_loop_io *io, uint32_t events)
{
    (void)events;
    struct rp_nng *m = RP_CONTAINER_OF(io, struct rp_nng, wake.io);
    rp_wakeup_drain(&m->wake);
    pthread_mutex_lock(&m->lock);
    struct rp_logengine_batch *pubs = m->pub_head;
    struct mail_interest *ints = m->int_head;
    struct mail_pipe *pipes = m->pipe_head;
    m->pub_head = m->pub_tail = NULL;
    m->int_head = m->int_tail = NULL;
    m->pipe_head = m->pipe_tail = NULL;
    pthread_mutex_unlock(&m->lock);

    while (pipes) {
        struct mail_pipe *next = pipes->next;
        if (pipes->added)
            pipe_added(m, pipes->pipe);
        else
            pipe_removed(m, pipes->pipe);
        free(pipes);
        pipes = next;
    }
    while (ints) {
        struct mail_interest *next = ints->next;
        apply_interest(m, ints);
        free(ints);
        ints = next;
    }
    while (pubs) {
        struct rp_logengine_batch *next = pubs->link;
        pubs->link = NULL;
        forward(m, pubs);
        pubs = next;
    }
    if (m->cfg.batch_timeout_ms <= 0)
        flush_all(m);
    else if (!rp_loop_timer_active(&m->flush))
        rp_loop_timer_start_after(m->loop, &m->flush, m->cfg.batch_timeout_ms, on_flush);
    publish_stats(m);
}

static void
on_tick(struct rp_loop *loop, struct rp_loop_timer *t)
{
    struct rp_nng *m = RP_CONTAINER_OF(t, struct rp_nng, tick);
    int64_t now = rp_clock_now_ms();
    bool beat = now >= m->next_heartbeat_ms;
    if (beat)
        m->next_heartbeat_ms = now + m->cfg.heartbeat_ms;
    for (size_t i = 0; i < m->n_peers; i++) {
        struct peer *p = m->peers[i];
        if (beat) {
            flush_peer(m, p); /* the heartbeat's chain must not run ahead of the events */
            m->msg.len = 0;
            if (rp_nng_msg_heartbeat(&m->msg, m->cfg.epoch, m->last_own_seq, p->send_chain) == 0)
                send_to(m, p, &m->msg);
        }
        bool silent = now - p->heard_ms > m->cfg.peer_timeout_ms;
        if (silent && !p->down) {
            p->down = true;
            RP_LOG(RP_LOG_WARN, "cluster",
                   "msg=\"mesh peer silent past peer_timeout: marked down\" peer=%08" PRIx32
                   " name=%s",
                   p->epoch, p->name);
        }
        if (p->gap && silent) {
            /* The origin stays unreachable: what it had for this node's readers is owed
             * to them as a resync, and the events held behind the gap go on. */
            report_lost(m, p, p->gap_upto);
            p->recv_chain = p->gap_upto;
            p->gap = false;
            drain_held(m, p);
        } else if (p->gap && now - p->gap_asked_ms >= m->cfg.reconnect_ms) {
            ask_gap(m, p, p->gap_upto);
        }
    }
    for (size_t i = 0; i < m->n_peers; i++) {
        struct peer *p = m->peers[i];
        if (now - p->heard_ms > m->cfg.peer_timeout_ms)
            fills_give_up(m, p); /* silent: its answers are not coming */
    }
    if (now >= m->next_gossip_ms) {
        m->next_gossip_ms = now + m->cfg.gossip_ms;
        send_snapshot(m, NULL);
    }
    publish_stats(m);
    rp_loop_timer_start_after(loop, t, TICK_MS, on_tick);
}

static void *
engine_main(void *arg)
{
    struct rp_nng *m = arg;
    rp_loop_timer_start_after(m->loop, &m->tick, TICK_MS, on_tick);
    for (;;) {
        pthread_mutex_lock(&m->lock);
        bool stop = m->stopping;
        pthread_mutex_unlock(&m->lock);
        if (stop)
            break;
        rp_loop_run_once(m->loop, -1);
    }
    rp_loop_timer_stop(m->loop, &m->tick);
    rp_loop_timer_stop(m->loop, &m->flush);
    flush_all(m);
    return NULL;
}

/* ---- set-up ---- */

static char *
keep_string(struct rp_nng *m, const char *s)
{
    m->strings = rp_xrealloc(m->strings, (m->n_strings + 1) * sizeof(char *));
    return m->strings[m->n_strings++] = rp_xstrdup(s);
}

/* nng reads "tcp://:PORT" as every interface; the documented form says "*". */
static void
listen_url(const char *addr, char *out, size_t cap)
{
    if (strncmp(addr, "tcp://*:", 8) == 0)
        snprintf(out, cap, "tcp://:%s", addr + 8);
    else
        snprintf(out, cap, "%s", addr);
}

/* Dials <addr>; a tcp host name is resolved here and each of its addresses dialed, so a
 * DNS name standing for several nodes is a peer per address. */
static int
dial_peer(struct rp_nng *m, const char *addr)
{
    char host[256], url[320];
    const char *port;
    if (strncmp(addr, "tcp://", 6) == 0 && (port = strrchr(addr + 6, ':')) &&
        (size_t)(port - addr - 6) < sizeof(host)) {
        size_t hlen = (size_t)(port - addr - 6);
        memcpy(host, addr + 6, hlen);
        host[hlen] = '\0';
        char *h = host;
        if (h[0] == '[' && hlen > 2 && h[hlen - 1] == ']') {
            h[hlen - 1] = '\0';
            h++;
        }
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        if (getaddrinfo(h, port + 1, &hints, &res) == 0) {
            int dialed = 0;
            for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                char ip[64];
                if (getnameinfo(ai->ai_addr, ai->ai_addrlen, ip, sizeof(ip), NULL, 0,
                                NI_NUMERICHOST) != 0)
                    continue;
                snprintf(url, sizeof(url),
                         ai->ai_family == AF_INET6 ? "tcp://[%s]%s" : "tcp://%s%s", ip, port);
                int rv = nng_dial(m->sock, url, NULL, NNG_FLAG_NONBLOCK);
                if (rv == 0)
                    dialed++;
                else
                    RP_LOG(RP_LOG_WARN, "cluster", "msg=\"cannot dial a mesh peer: %s\" peer=%s",
                           nng_strerror(rv), url);
            }
            freeaddrinfo(res);
            if (dialed)
                return 0;
        }
    }
    int rv = nng_dial(m->sock, addr, NULL, NNG_FLAG_NONBLOCK);
    if (rv) {
        RP_LOG(RP_LOG_ERROR, "cluster", "msg=\"cannot dial a mesh peer: %s\" peer=%s",
               nng_strerror(rv), addr);
        return -EINVAL;
    }
    return 0;
}

/*
 * The largest message an honest peer with this node's settings sends: a batch (flushed once
 * past OUT_BYTES, so one event more), a gap answer (ANSWER_BYTES of data, ANSWER_EVENTS
 * entries at most 400 bytes besides), a snapshot of this node's size, an interest message.
 * nng allocates a message whole from its length prefix, so what a connection can make this
 * node hold is this much, not MSG_CAP.
 */
static void
set_receive_limits(struct rp_nng *m)
{
    struct rp_bloom b;
    m->bloom_bits_max = rp_bloom_init(&b, m->cfg.bloom_capacity, m->cfg.bloom_fpr) == 0
                            ? b.n_bits
                            : RP_NNG_BLOOM_BITS_MAX;
    rp_bloom_fini(&b);
    size_t max = (size_t)OUT_BYTES + 1024 + m->cfg.max_event_bytes;
    size_t answer = (size_t)ANSWER_BYTES + (size_t)ANSWER_EVENTS * 400;
    size_t bloom = m->bloom_bits_max / 8 + 64;
    size_t interest = (size_t)INTEREST_PER_MSG * (RP_NNG_NAME_MAX + 2) + 64;
    if (answer > max)
        max = answer;
    if (bloom > max)
        max = bloom;
    if (interest > max)
        max = interest;
    m->recv_max = max + 64 < (size_t)MSG_CAP ? max + 64 : (size_t)MSG_CAP;
}

static int
open_socket(struct rp_nng *m)
{
    int rv = nng_pair1_open_poly(&m->sock);
    if (rv)
        return -ENOMEM;
    nng_socket_set_ms(m->sock, NNG_OPT_RECONNMINT, m->cfg.reconnect_ms);
    nng_socket_set_ms(m->sock, NNG_OPT_RECONNMAXT, m->cfg.reconnect_ms);
    nng_socket_set_int(m->sock, NNG_OPT_RECVBUF, 1024);
    nng_socket_set_int(m->sock, NNG_OPT_SENDBUF, 1024);
    nng_socket_set_size(m->sock, NNG_OPT_RECVMAXSZ, m->recv_max);
    /* The receive descriptor before any listen or dial: nng creates it on first use and
     * writes it from its own threads once messages arrive, so it must exist (and be seen to
     * exist) before a connection can bring one. */
    int fd;
    if (nng_socket_get_int(m->sock, NNG_OPT_RECVFD, &fd) != 0)
        return -EIO;
    m->recv_io.fd = fd;
    m->recv_io.fn = on_recv;
    nng_pipe_notify(m->sock, NNG_PIPE_EV_ADD_POST, on_pipe_event, m);
    nng_pipe_notify(m->sock, NNG_PIPE_EV_REM_POST, on_pipe_event, m);
    for (size_t i = 0; i < m->cfg.n_listen; i++) {
        char url[320];
        listen_url(m->cfg.listen[i], url, sizeof(url));
        rv = nng_listen(m->sock, url, NULL, 0);
        if (rv) {
            RP_LOG(RP_LOG_ERROR, "cluster", "msg=\"cannot listen for mesh peers: %s\" address=%s",
                   nng_strerror(rv), m->cfg.listen[i]);
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < m->cfg.n_peers; i++)
        if (dial_peer(m, m->cfg.peers[i]) != 0)
            return -EINVAL;
    return rp_loop_add(m->loop, &m->recv_io, RP_LOOP_READ);
}

static void
free_engine(struct rp_nng *m)
{
    for (size_t i = 0; i < m->n_peers; i++)
        free_peer(m->peers[i]);
    size_t pos = 0;
    struct local_name *ln;
    while ((ln = rp_hashmap_next(&m->local, &pos)))
        free(ln);
    rp_hashmap_fini(&m->local);
    while (m->kept) {
        struct kept *k = m->kept;
        m->kept = k->next;
        rp_logengine_batch_free(k->b);
        free(k);
    }
    while (m->fills) {
        struct fill *f = m->fills;
        m->fills = f->next;
        free(f);
    }
    while (m->pub_head) {
        struct rp_logengine_batch *b = m->pub_head;
        m->pub_head = b->link;
        rp_logengine_batch_free(b);
    }
    while (m->int_head) {
        struct mail_interest *mi = m->int_head;
        m->int_head = mi->next;
        free(mi);
    }
    while (m->pipe_head) {
        struct mail_pipe *mp = m->pipe_head;
        m->pipe_head = mp->next;
        free(mp);
    }
    rp_buf_fini(&m->msg);
    for (size_t i = 0; i < m->n_strings; i++)
        free(m->strings[i]);
    free(m->strings);
    pthread_cond_destroy(&m->closed_cv);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

struct rp_nng *
rp_nng_new(const struct rp_nng_config *config, const struct rp_nng_hooks *hooks)
{
    struct rp_nng *m = rp_xcalloc(1, sizeof(*m));
    m->cfg = *config;
    m->hooks = *hooks;
    const char **listen = rp_xcalloc(config->n_listen + 1, sizeof(char *));
    const char **peers = rp_xcalloc(config->n_peers + 1, sizeof(char *));
    for (size_t i = 0; i < config->n_listen; i++)
        listen[i] = keep_string(m, config->listen[i]);
    for (size_t i = 0; i < config->n_peers; i++)
        peers[i] = keep_string(m, config->peers[i]);
    m->cfg.listen = listen;
    m->cfg.peers = peers;
    m->cfg.name = keep_string(m, config->name ? config->name : "");
    if (m->cfg.batch_size == 0)
        m->cfg.batch_size = 100;
    if (m->cfg.keep_events == 0)
        m->cfg.keep_events = 100000;
    if (m->cfg.keep_bytes == 0)
        m->cfg.keep_bytes = 64u << 20;
    if (m->cfg.max_event_bytes == 0)
        m->cfg.max_event_bytes = 4u << 20;
    if (m->cfg.max_interest == 0)
        m->cfg.max_interest = 100000;
    set_receive_limits(m);
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->closed_cv, NULL);
    rp_hashmap_init(&m->local);
    rp_buf_init(&m->msg, MSG_CAP);
    int err = -ENOMEM;
    m->loop = rp_loop_new();
    if (m->loop)
        err = rp_wakeup_init(&m->wake, m->loop, on_mail);
    bool sock_open = false;
    if (!err) {
        err = open_socket(m);
        sock_open = true;
    }
    if (!err)
        err = -pthread_create(&m->thread, NULL, engine_main, m);
    if (err) {
        if (sock_open)
            nng_close(m->sock);
        if (m->loop) {
            rp_wakeup_fini(&m->wake, m->loop);
            rp_loop_free(m->loop);
        }
        free(listen);
        free(peers);
        free_engine(m);
        errno = -err;
        return NULL;
    }
    free(listen);
    free(peers);
    m->cfg.listen = NULL;
    m->cfg.peers = NULL;
    return m;
}

static void *
closer_main(void *arg)
{
    struct rp_nng *m = arg;
    nng_close(m->sock); /* after the last notify: pipe events may still arrive until here */
    pthread_mutex_lock(&m->lock);
    m->closed = true;
    pthread_cond_signal(&m->closed_cv);
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

/*
 * Closes the socket, waiting at most CLOSE_WAIT_MS. libnng 1.5's close now and then waits
 * for good on a pipe being torn down (seen about once in ten stops of a three-node mesh): a
 * stop must not hang on it, so the close runs on a thread of its own and, when it does not
 * return in time, false is returned and the thread is left to the process's exit.
 */
static bool
close_socket(struct rp_nng *m)
{
    pthread_t t;
    if (pthread_create(&t, NULL, closer_main, m) != 0) {
        nng_close(m->sock);
        return true;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += CLOSE_WAIT_MS / 1000;
    pthread_mutex_lock(&m->lock);
    while (!m->closed)
        if (pthread_cond_timedwait(&m->closed_cv, &m->lock, &until) != 0)
            break;
    bool closed = m->closed;
    pthread_mutex_unlock(&m->lock);
    if (closed)
        pthread_join(t, NULL);
    else
        pthread_detach(t);
    return closed;
}

void
rp_nng_free(struct rp_nng *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->stopping = true;
    pthread_mutex_unlock(&m->lock);
    rp_wakeup_signal(&m->wake);
    pthread_join(m->thread, NULL);
    rp_loop_remove(m->loop, &m->recv_io);
    /* Messages held behind a gap go before the socket: nng's close waits for them. */
    for (size_t i = 0; i < m->n_peers; i++) {
        struct peer *p = m->peers[i];
        while (p->held) {
            struct held *h = p->held;
            p->held = h->next;
            nng_msg_free(h->msg);
            free(h);
        }
        p->held_tail = NULL;
        p->n_held = 0;
        p->held_bytes = 0;
    }
    if (!close_socket(m)) {
        /* nng's close did not return: it still may call the pipe hook, so the engine is
         * left to the process's exit instead of freed under it. */
        RP_LOG(RP_LOG_WARN, "cluster",
               "msg=\"the mesh socket did not close within %d ms; left to the process's exit\"",
               CLOSE_WAIT_MS);
        return;
    }
    rp_wakeup_fini(&m->wake, m->loop);
    rp_loop_free(m->loop);
    free_engine(m);
}

void
rp_nng_interest(struct rp_nng *m, const char *topic, size_t len, bool on,
                const struct rp_event_vector *have)
{
    if (!m || len == 0 || len > RP_NNG_NAME_MAX)
        return;
    struct mail_interest *mi = rp_xmalloc(sizeof(*mi) + len + 1);
    mi->next = NULL;
    mi->on = on;
    mi->have.n = 0;
    if (have)
        mi->have = *have;
    mi->len = len;
    memcpy(mi->name, topic, len);
    mi->name[len] = '\0';
    pthread_mutex_lock(&m->lock);
    if (m->int_tail)
        m->int_tail->next = mi;
    else
        m->int_head = mi;
    m->int_tail = mi;
    pthread_mutex_unlock(&m->lock);
    rp_wakeup_signal(&m->wake);
}

size_t
rp_nng_stats(struct rp_nng *m, struct rp_nng_peer_stats *out, size_t cap)
{
    if (!m)
        return 0;
    pthread_mutex_lock(&m->lock);
    size_t n = m->n_stats;
    memcpy(out, m->stats, (n < cap ? n : cap) * sizeof(*out));
    pthread_mutex_unlock(&m->lock);
    return n;
}

static const struct {
    const char *name, *type, *help;
} peer_metrics[] = {
    {"connected", "gauge", "1 while a connection to the peer is up"},
    {"down", "gauge", "1 while the peer has been silent past peer_timeout"},
    {"reconnects_total", "counter", "Connections to the peer made again after one dropped"},
    {"events_in_total", "counter", "The peer's events taken in"},
    {"events_out_total", "counter", "This node's events sent to the peer"},
    {"gaps_filled_total", "counter", "Ranges of the peer's events fetched after a gap"},
    {"gaps_lost_total", "counter",
     "Ranges the peer no longer had (its readers here were told to resync)"},
    {"lag_ms", "gauge", "The newest event taken in from the peer: from its publish to now"},
    {"interest", "gauge", "Topics and patterns the peer reads"},
};

static uint64_t
peer_value(const struct rp_nng_peer_stats *s, size_t i)
{
    switch (i) {
    case 0:
        return s->connected;
    case 1:
        return s->down;
    case 2:
        return s->reconnects;
    case 3:
        return s->events_in;
    case 4:
        return s->events_out;
    case 5:
        return s->gaps_filled;
    case 6:
        return s->gaps_lost;
    case 7:
        return s->lag_ms > 0 ? (uint64_t)s->lag_ms : 0;
    default:
        return s->interest;
    }
}

void
rp_nng_metrics(struct rp_nng *m, bool json, struct rp_buf *out)
{
    struct rp_nng_peer_stats st[MAX_PEERS];
    size_t n = rp_nng_stats(m, st, MAX_PEERS);
    if (n > MAX_PEERS)
        n = MAX_PEERS;
    size_t nm = sizeof(peer_metrics) / sizeof(peer_metrics[0]);
    if (!json) {
        for (size_t i = 0; i < nm; i++) {
            rp_buf_printf(out,
                          "# HELP revenprox_mesh_peer_%s %s.\n# TYPE revenprox_mesh_peer_%s %s\n",
                          peer_metrics[i].name, peer_metrics[i].help, peer_metrics[i].name,
                          peer_metrics[i].type);
            for (size_t j = 0; j < n; j++)
                rp_buf_printf(out, "revenprox_mesh_peer_%s{peer=\"%08" PRIx32 "\"} %" PRIu64 "\n",
                              peer_metrics[i].name, st[j].epoch, peer_value(&st[j], i));
        }
        return;
    }
    /* Splice before the closing brace of the object already rendered. */
    size_t end = out->len;
    while (end > 0 && out->data[end - 1] != '}')
        end--;
    if (end == 0)
        return;
    struct rp_buf tail;
    rp_buf_init(&tail, out->len - end + 1);
    rp_buf_append(&tail, out->data + end, out->len - end);
    out->len = end - 1;
    rp_buf_append_str(out, ",\"mesh\":{\"peers\":[");
    for (size_t j = 0; j < n; j++) {
        rp_buf_printf(out, "%s{\"peer\":\"%08" PRIx32 "\"", j ? "," : "", st[j].epoch);
        for (size_t i = 0; i < nm; i++) {
            const char *name = peer_metrics[i].name;
            size_t len = strlen(name);
            if (len > 6 && strcmp(name + len - 6, "_total") == 0)
                len -= 6;
            rp_buf_printf(out, ",\"%.*s\":%" PRIu64, (int)len, name, peer_value(&st[j], i));
        }
        rp_buf_append_str(out, "}");
    }
    rp_buf_append_str(out, "]}}");
    rp_buf_append(out, tail.data, tail.len);
    rp_buf_fini(&tail);
}

/* ---- the tee engine ---- */

struct tee {
    struct rp_logengine base;
    struct rp_logengine *inner;
    bool owns_inner;
    struct rp_nng *mesh;
};

static int
tee_append(struct rp_logengine *e, struct rp_logengine_batch *b)
{
    struct tee *t = (struct tee *)e;
    struct rp_logengine_batch *copy = rp_logengine_batch_new(b->epoch, b->evs, b->n);
    int err = rp_logengine_append(t->inner, b);
    if (err) {
        rp_logengine_batch_free(copy);
        return err;
    }
    struct rp_nng *m = t->mesh;
    copy->link = NULL;
    pthread_mutex_lock(&m->lock);
    if (m->pub_tail)
        m->pub_tail->link = copy;
    else
        m->pub_head = copy;
    m->pub_tail = copy;
    pthread_mutex_unlock(&m->lock);
    rp_wakeup_signal(&m->wake);
    return 0;
}

static uint64_t
tee_durable_seq(const struct rp_logengine *e)
{
    return rp_logengine_durable_seq(((const struct tee *)e)->inner);
}

static uint64_t
tee_reserved_seq(const struct rp_logengine *e)
{
    return rp_logengine_reserved_seq(((const struct tee *)e)->inner);
}

static void
tee_handed_out(struct rp_logengine *e, uint32_t epoch, uint64_t seq)
{
    rp_logengine_handed_out(((struct tee *)e)->inner, epoch, seq);
}

static int
tee_load(struct rp_logengine *e, uint64_t after, rp_logengine_event_fn fn, void *ctx)
{
    return rp_logengine_load(((struct tee *)e)->inner, after, fn, ctx);
}

static int
tee_read(struct rp_logengine *e, const char *topic, size_t len, uint64_t after, size_t max,
         rp_logengine_event_fn fn, void *ctx)
{
    return rp_logengine_read(((struct tee *)e)->inner, topic, len, after, max, fn, ctx);
}

static void
tee_info(struct rp_logengine *e, struct rp_logengine_info *out)
{
    rp_logengine_info(((struct tee *)e)->inner, out);
}

static void
tee_close(struct rp_logengine *e)
{
    rp_nng_tee_free(e);
}

static const struct rp_logengine_ops tee_ops = {
    .name = "mesh",
    .append = tee_append,
    .durable_seq = tee_durable_seq,
    .reserved_seq = tee_reserved_seq,
    .handed_out = tee_handed_out,
    .load = tee_load,
    .read = tee_read,
    .info = tee_info,
    .close = tee_close,
};

struct rp_logengine *
rp_nng_tee_new(struct rp_nng *m, struct rp_logengine *inner)
{
    struct tee *t = rp_xcalloc(1, sizeof(*t));
    t->base.ops = &tee_ops;
    t->mesh = m;
    t->inner = inner ? inner : rp_logengine_memory_new();
    t->owns_inner = !inner;
    return &t->base;
}

struct rp_logengine *
rp_nng_tee_inner(struct rp_logengine *e)
{
    struct tee *t = (struct tee *)e;
    return t->owns_inner ? NULL : t->inner;
}

void
rp_nng_tee_free(struct rp_logengine *e)
{
    struct tee *t = (struct tee *)e;
    if (!t)
        return;
    if (t->owns_inner)
        rp_logengine_close(t->inner);
    free(t);
}
