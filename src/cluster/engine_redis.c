/* SPDX-License-Identifier: MIT */
/* The Redis engine's thread: two hiredis connections on a loop of its own. */
#include "cluster/engine_redis.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "base/alloc.h"
#include "base/backoff.h"
#include "base/clock.h"
#include "base/hashmap.h"
#include "base/list.h"
#include "base/log.h"
#include "cluster/redis_loop.h"
#include "cluster/redis_msg.h"
#include "core/hub.h"
#include "core/logengine.h"
#include "core/pattern.h"
#include "loop/loop.h"
#include "loop/wakeup.h"

/*
 * One publish batch, atomically. ARGV: prefix, a proposed epoch (used only when the meta
 * hash is missing: a new log), the stream bound, n, then per event topic, type, data, wall
 * time, publisher id ('' for none) and '1' when it is another topic of the previous event's
 * update (rp_publish_item.same_update; the update's events share a group: the sequence of
 * its first, as the hub groups them). Checks before it changes anything, so a refusal has
 * no effect: a counter that went back (a failover to a replica that missed the newest
 * increments) would reuse ids, so a stream whose newest entry is not below the first new
 * sequence refuses the batch. An event whose publisher id its topic still holds (the index
 * <prefix>i:<topic> says where, the stream still has that entry), or an earlier event of the
 * batch has, is a duplicate: it takes no sequence and is not published. The index is pruned
 * of entries the stream no longer holds once it is twice the stream bound. Last, the batch's
 * newest sequence goes to every node (channel <prefix>seq, as a message with no type and no
 * data), after the events, so a node knows how far the cluster's sequence is. Returns
 * {epoch, first new sequence, {each event's sequence}, {1 for each duplicate, else 0}}.
 * Stream entries have the fields t (type), d (data), w (wall time), and i (publisher id) and
 * g (group) when set; channel messages are cluster/redis_msg.h's.
 */
static const char publish_script[] =
    "local p = ARGV[1]\n"
    "local meta = p .. 'meta'\n"
    "local n = tonumber(ARGV[4])\n"
    "local epoch = redis.call('HGET', meta, 'epoch')\n"
    "if not epoch then\n"
    "  epoch = ARGV[2]\n"
    "  redis.call('HSET', meta, 'epoch', epoch, 'seq', 0)\n"
    "end\n"
    "local first = tonumber(redis.call('HGET', meta, 'seq') or '0') + 1\n"
    "local seqs, dups, seen, next = {}, {}, {}, first\n"
    "for i = 0, n - 1 do\n"
    "  local k = 5 + i * 6\n"
    "  local topic, pid = ARGV[k], ARGV[k + 4]\n"
    "  local top = redis.call('XREVRANGE', p .. 't:' .. topic, '+', '-', 'COUNT', 1)\n"
    "  if top[1] and tonumber(string.match(top[1][1], '^(%d+)')) >= first then\n"
    "    return redis.error_reply('REGRESSED the sequence counter is behind a stream')\n"
    "  end\n"
    "  local old = nil\n"
    "  if pid ~= '' then\n"
    "    old = seen[topic .. '\\0' .. pid]\n"
    "    if not old then\n"
    "      local at = redis.call('HGET', p .. 'i:' .. topic, pid)\n"
    "      if at and redis.call('XRANGE', p .. 't:' .. topic, at .. '-0', at .. '-0')[1] then\n"
    "        old = tonumber(at)\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  if old then\n"
    "    seqs[i + 1], dups[i + 1] = old, 1\n"
    "  else\n"
    "    seqs[i + 1], dups[i + 1] = next, 0\n"
    "    if pid ~= '' then seen[topic .. '\\0' .. pid] = next end\n"
    "    next = next + 1\n"
    "  end\n"
    "end\n"
    "if next > first then redis.call('HINCRBY', meta, 'seq', next - first) end\n"
    "local group = 0\n"
    "for i = 0, n - 1 do\n"
    "  local k = 5 + i * 6\n"
    "  if ARGV[k + 5] ~= '1' then group = 0 end\n"
    "  if dups[i + 1] == 0 then\n"
    "    local topic, ty, data, wall, pid = ARGV[k], ARGV[k + 1], ARGV[k + 2], ARGV[k + 3],\n"
    "                                      ARGV[k + 4]\n"
    "    local seq = string.format('%d', seqs[i + 1])\n"
    "    if group == 0 and (ARGV[k + 5] == '1' or (i + 1 < n and ARGV[k + 11] == '1')) then\n"
    "      group = seqs[i + 1]\n"
    "    end\n"
    "    local g = string.format('%d', group)\n"
    "    local key = p .. 't:' .. topic\n"
    "    local fields = {'t', ty, 'd', data, 'w', wall}\n"
    "    if pid ~= '' then fields[#fields + 1] = 'i'; fields[#fields + 1] = pid end\n"
    "    if group ~= 0 then fields[#fields + 1] = 'g'; fields[#fields + 1] = g end\n"
    "    redis.call('XADD', key, 'MAXLEN', '~', ARGV[3], seq .. '-0', unpack(fields))\n"
    "    if pid ~= '' then\n"
    "      local idx = p .. 'i:' .. topic\n"
    "      redis.call('HSET', idx, pid, seq)\n"
    "      if redis.call('HLEN', idx) > 2 * tonumber(ARGV[3]) then\n"
    "        local oldest = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]\n"
    "        local floor = tonumber(string.match(oldest[1], '^(%d+)'))\n"
    "        local all = redis.call('HGETALL', idx)\n"
    "        for j = 1, #all, 2 do\n"
    "          if tonumber(all[j + 1]) < floor then redis.call('HDEL', idx, all[j]) end\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "    redis.call('PUBLISH', p .. 'c:' .. topic, epoch .. ':' .. seq .. ':' .. wall .. ':' ..\n"
    "               g .. ':' .. #ty .. ':' .. #pid .. ':' .. ty .. pid .. data)\n"
    "  end\n"
    "end\n"
    "if next > first then\n"
    "  redis.call('PUBLISH', p .. 'seq', epoch .. ':' .. string.format('%d', next - 1) ..\n"
    "             ':0:0:0:0:')\n"
    "end\n"
    "return {epoch, first, seqs, dups}\n";

/*
 * A topic's fill. ARGV: prefix, topic, how many events at most. Returns {epoch ('' when Redis
 * holds no log), lost_upto, the newest events newest first}. lost_upto is the newest sequence
 * the stream ever held that the reply does not (trimmed, or past the count): 0 when the
 * reply holds every event the stream was given.
 */
static const char fill_script[] =
    "local p = ARGV[1]\n"
    "local key = p .. 't:' .. ARGV[2]\n"
    "local epoch = redis.call('HGET', p .. 'meta', 'epoch') or ''\n"
    "local entries = redis.call('XREVRANGE', key, '+', '-', 'COUNT', ARGV[3])\n"
    "local lost = 0\n"
    "if redis.call('EXISTS', key) == 1 then\n"
    "  local info = redis.call('XINFO', 'STREAM', key)\n"
    "  local added, last = 0, '0-0'\n"
    "  for i = 1, #info, 2 do\n"
    "    if info[i] == 'entries-added' then added = info[i + 1] end\n"
    "    if info[i] == 'last-generated-id' then last = info[i + 1] end\n"
    "  end\n"
    "  if added > #entries then\n"
    "    if #entries > 0 then\n"
    "      lost = tonumber(string.match(entries[#entries][1], '^(%d+)')) - 1\n"
    "    else\n"
    "      lost = tonumber(string.match(last, '^(%d+)'))\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return {epoch, lost, entries}\n";

enum link_state { LINK_DOWN = 0, LINK_CONNECTING, LINK_UP };

/* One connection and its reconnect schedule. */
struct link {
    struct rp_redis *r;
    const char *name; /* "commands" or "pub/sub", for the log */
    redisAsyncContext *ac;
    enum link_state state;
    struct rp_backoff backoff;
    struct rp_loop_timer retry;   /* reconnect */
    struct rp_loop_timer timeout; /* connect or oldest command */
    bool timed_out;               /* the drop was ours: a timeout */
    bool was_up;                  /* has been up before: the next up is a reconnect */
    char host[256];               /* where it connects (or connected) last */
    int port;
};

/* A queued change of interest. */
struct interest {
    struct interest *link;
    bool on;
    bool pattern; /* <topic> is a pattern (rp_redis_pattern_interest) */
    size_t len;
    char topic[];
};

/* A live message held while its topic is being filled. */
struct held {
    struct held *next;
    size_t len;
    char body[];
};

/*
 * A pattern some local stream reads (a filter with `+` or `#`): the pub/sub connection
 * subscribes the channels its Redis glob matches (PSUBSCRIBE), so a topic that appears on
 * another node is created here when its first event passes, and its streams are scanned for
 * once the subscription stands, for the topics that appeared before. The glob matches a
 * superset (`+` becomes `*`, which also crosses levels); each topic is checked against the
 * pattern itself.
 */
struct pattern {
    long count; /* interest: subscribed while > 0 */
    char *glob; /* the glob of its topics, after <prefix>c: or <prefix>t: */
    size_t len;
    char filter[];
};

/* Live messages held at most per topic while it fills; past it they are dropped and the
 * fill, which reads the stream after them, takes them in instead. */
#define HELD_MAX 65536

/* A topic the pub/sub connection subscribes. */
struct channel {
    long count;        /* interest: subscribed while > 0 */
    bool filling;      /* subscribed, the fill not taken in yet: live messages are held */
    bool fill_sent;    /* the fill's command is out */
    unsigned fill_gen; /* which fill is current */
    struct held *held_head, *held_tail;
    size_t n_held;
    size_t len;
    char topic[];
};

struct rp_redis {
    struct rp_redis_config cfg;
    char *host, *prefix, *master_name;
    char *prefix_glob; /* the prefix with what a glob means escaped */
    char **sentinels;  /* copies of cfg.sentinels */
    struct rp_redis_hooks hooks;
    uint32_t last_epoch; /* of the last reply (engine thread) */
    char sha[41];        /* of publish_script, once loaded */
    char fill_sha[41];   /* of fill_script */

    pthread_t thread;
    struct rp_loop *loop;
    struct rp_wakeup wake;

    pthread_mutex_t lock; /* the mailbox */
    struct rp_redis_publish *queue_head, *queue_tail;
    size_t queued;
    struct interest *changes;
    bool stopping;
    atomic_bool up;
    /* For rp_redis_stats: written on the engine thread, read anywhere. */
    atomic_bool sub_up;
    _Atomic uint64_t reconnects, publishes, publish_failures, events_in, fills, fills_lost;
    _Atomic uint64_t n_channels;
    _Atomic int64_t lag_ms;

    /* engine thread only */
    struct link cmd, sub;
    struct rp_hashmap channels; /* topic -> struct channel */
    struct rp_hashmap patterns; /* filter -> struct pattern */
    struct rp_list inflight;    /* publishes sent, oldest first (struct sent) */
    char why[400];              /* why the command connection is down; written under lock */
};

/* A publish sent on the command connection, waiting for its reply. */
struct sent {
    struct rp_list node;
    struct rp_redis_publish *p; /* NULL once completed (a WAIT's answer still to come) */
    int64_t sent_ms;
    bool waiting;     /* a WAIT follows the script: it completes the publish */
    bool wait_failed; /* the WAIT could not be sent */
};

static void link_connect(struct link *l);

/* Ends <p> with <err> (and, when failed, the message made from <what> and <detail>). */
static void
complete(struct rp_redis *r, struct rp_redis_publish *p, int err, const char *what,
         const char *detail)
{
    p->err = err;
    if (err)
        snprintf(p->message, sizeof(p->message), "%s%.200s", what, detail ? detail : "");
    atomic_fetch_add_explicit(err ? &r->publish_failures : &r->publishes, 1, memory_order_relaxed);
    p->done(p);
}

/* ---- connections ---- */

static void
on_retry(struct rp_loop *loop, struct rp_loop_timer *t)
{
    (void)loop;
    struct link *l = RP_CONTAINER_OF(t, struct link, retry);
    link_connect(l);
}

static void
link_came_up(struct link *l)
{
    l->state = LINK_UP;
    rp_backoff_reset(&l->backoff);
    if (l->was_up)
        atomic_fetch_add_explicit(&l->r->reconnects, 1, memory_order_relaxed);
    l->was_up = true;
}

static void
went_down(struct link *l, const char *why)
{
    struct rp_redis *r = l->r;
    bool was_up = l->state == LINK_UP;
    l->state = LINK_DOWN;
    if (l == &r->sub)
        atomic_store(&r->sub_up, false);
    l->ac = NULL;
    rp_loop_timer_stop(r->loop, &l->timeout);
    if (l == &r->cmd) {
        atomic_store(&r->up, false);
        pthread_mutex_lock(&r->lock);
        snprintf(r->why, sizeof(r->why), "Redis at %s:%d: %s", l->host, l->port, why);
        pthread_mutex_unlock(&r->lock);
        if (was_up || l->backoff.attempt == 0) /* once per outage */
            RP_LOG(RP_LOG_WARN, "redis", "%s connection down: %s", l->name, r->why);
        if (r->hooks.state_changed)
            r->hooks.state_changed(r->hooks.ctx, -ENOTCONN, r->why);
    } else if (was_up) {
        RP_LOG(RP_LOG_WARN, "redis", "%s connection down: %s", l->name, why);
    }
    if (!r->stopping)
        rp_loop_timer_start_after(r->loop, &l->retry, rp_backoff_next(&l->backoff), on_retry);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    const char *why = l->timed_out         ? "no answer in time"
                      : status == REDIS_OK ? "closed"
                      : ac->errstr[0]      ? ac->errstr
                                           : "connection lost";
    l->timed_out = false;
    went_down(l, why);
}

static void subscribe_all(struct rp_redis *r);

static void send_pending_fills(struct rp_redis *r);
static void on_message(redisAsyncContext *ac, void *reply_v, void *priv);
static void on_pattern_reply(struct rp_redis *r, const redisReply *reply);

/* SCRIPT LOAD's answer: <priv> NULL for the publish script, non-NULL for the fill script,
 * which is loaded second; the connection is up once both are. */
static void
on_script_loaded(redisAsyncContext *ac, void *reply_v, void *priv)
{
    struct link *l = ac->data;
    struct rp_redis *r = l->r;
    redisReply *reply = reply_v;
    if (!reply)
        return; /* the connection dropped: on_disconnect handles it */
    if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
        pthread_mutex_lock(&r->lock);
        snprintf(r->why, sizeof(r->why), "loading a script failed: %s",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        pthread_mutex_unlock(&r->lock);
        RP_LOG(RP_LOG_ERROR, "redis", "%s", r->why);
        redisAsyncDisconnect(ac);
        return;
    }
    char *sha = priv ? r->fill_sha : r->sha;
    memcpy(sha, reply->str, 40);
    sha[40] = '\0';
    if (!priv)
        return;
    rp_loop_timer_stop(r->loop, &l->timeout);
    link_came_up(l);
    pthread_mutex_lock(&r->lock);
    r->why[0] = '\0';
    pthread_mutex_unlock(&r->lock);
    atomic_store(&r->up, true);
    RP_LOG(RP_LOG_INFO, "redis", "connected to Redis at %s:%d", l->host, l->port);
    if (r->hooks.state_changed)
        r->hooks.state_changed(r->hooks.ctx, 0, NULL);
    send_pending_fills(r);
}

static void
on_connect(const redisAsyncContext *cac, int status)
{
    struct link *l = cac->data;
    struct rp_redis *r = l->r;
    redisAsyncContext *ac = l->ac; /* the same context, without the callback's const */
    if (status != REDIS_OK) {
        went_down(l, cac->errstr[0] ? cac->errstr : "connect failed");
        return;
    }
    if (l == &r->cmd) {
        /* connect_timeout covers loading the script too */
        redisAsyncCommand(ac, on_script_loaded, NULL, "SCRIPT LOAD %s", publish_script);
        redisAsyncCommand(ac, on_script_loaded, r, "SCRIPT LOAD %s", fill_script);
    } else {
        rp_loop_timer_stop(r->loop, &l->timeout);
        link_came_up(l);
        atomic_store(&r->sub_up, true);
        redisAsyncCommand(ac, on_message, NULL, "SUBSCRIBE %sseq", r->prefix);
        subscribe_all(r); /* each confirmation starts the topic's fill */
    }
}

static void
on_connect_timeout(struct rp_loop *loop, struct rp_loop_timer *t)
{
    (void)loop;
    struct link *l = RP_CONTAINER_OF(t, struct link, timeout);
    if (!l->ac)
        return;
    l->timed_out = true;
    /* Not yet connected: hiredis calls the connect callback with an error on free. */
    redisAsyncContext *ac = l->ac;
    if (l->state == LINK_CONNECTING && !(ac->c.flags & REDIS_CONNECTED)) {
        l->ac = NULL;
        redisAsyncFree(ac);
        if (l->state == LINK_CONNECTING)
            went_down(l, "connect timed out");
        return;
    }
    redisAsyncFree(ac); /* connected, the script not loaded yet: on_disconnect follows */
}

static struct timeval
ms_to_tv(int64_t ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

/*
 * Asks the sentinels, in order, where the primary named master_name is. 0 with <host> and
 * *<port>, or -EHOSTUNREACH with <why>. Blocking: at most the connect and command timeouts
 * per sentinel.
 */
/* A port number: 1 to 65535, digits only; 0 when <s> is not one. */
static int
port_number(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' && v >= 1 && v <= 65535 ? (int)v : 0;
}

static int
resolve_primary(const struct rp_redis_config *cfg, char *host, size_t cap, int *port, char *why,
                size_t why_cap)
{
    snprintf(why, why_cap, "no sentinel answered for the primary '%s'", cfg->master_name);
    for (size_t i = 0; i < cfg->n_sentinels; i++) {
        const char *s = cfg->sentinels[i];
        const char *colon = strrchr(s, ':');
        if (!colon || colon == s || (size_t)(colon - s) >= 256)
            continue;
        char shost[256];
        snprintf(shost, sizeof(shost), "%.*s", (int)(colon - s), s);
        int sport = port_number(colon + 1);
        if (!sport)
            continue;
        redisContext *c = redisConnectWithTimeout(shost, sport, ms_to_tv(cfg->connect_timeout_ms));
        if (!c || c->err) {
            if (c)
                redisFree(c);
            continue;
        }
        redisSetTimeout(c, ms_to_tv(cfg->command_timeout_ms));
        redisReply *rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", cfg->master_name);
        bool ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
                  rep->element[0]->type == REDIS_REPLY_STRING &&
                  rep->element[1]->type == REDIS_REPLY_STRING && rep->element[0]->len < cap &&
                  port_number(rep->element[1]->str) != 0;
        if (ok) {
            snprintf(host, cap, "%s", rep->element[0]->str);
            *port = port_number(rep->element[1]->str);
        }
        if (rep)
            freeReplyObject(rep);
        redisFree(c);
        if (ok)
            return 0;
    }
    return -EHOSTUNREACH;
}

static void
link_connect(struct link *l)
{
    struct rp_redis *r = l->r;
    if (r->cfg.n_sentinels) {
        /* Blocking, but on the engine's own thread, bounded by the timeouts per sentinel:
         * only this engine waits. */
        char why[200];
        if (resolve_primary(&r->cfg, l->host, sizeof(l->host), &l->port, why, sizeof(why))) {
            went_down(l, why);
            return;
        }
    } else {
        snprintf(l->host, sizeof(l->host), "%s", r->host);
        l->port = r->cfg.port;
    }
    redisAsyncContext *ac =
        l->host[0] == '/' ? redisAsyncConnectUnix(l->host) : redisAsyncConnect(l->host, l->port);
    if (!ac || ac->err) {
        char why[128];
        snprintf(why, sizeof(why), "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        went_down(l, why);
        return;
    }
    ac->data = l;
    if (rp_redis_loop_attach(ac, r->loop) != 0) {
        redisAsyncFree(ac);
        went_down(l, "cannot attach to the loop");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    l->ac = ac;
    l->state = LINK_CONNECTING;
    rp_loop_timer_start_after(r->loop, &l->timeout, r->cfg.connect_timeout_ms, on_connect_timeout);
}

/* ---- pub/sub ---- */

static void
drop_held(struct channel *ch)
{
    while (ch->held_head) {
        struct held *h = ch->held_head;
        ch->held_head = h->next;
        free(h);
    }
    ch->held_tail = NULL;
    ch->n_held = 0;
}

static void
channel_free(struct channel *ch)
{
    drop_held(ch);
    free(ch);
}

/* One live event to the hook; <body> decoded already. */
static void
deliver_one(struct rp_redis *r, const struct channel *ch, const struct rp_redis_msg *m)
{
    struct rp_ingest_event ev = {
        .item = {.topic = ch->topic,
                 .topic_len = ch->len,
                 .event = m->event,
                 .event_len = m->event_len,
                 .data = m->data,
                 .data_len = m->data_len,
                 .pub_id = m->pub_id,
                 .pub_id_len = m->pub_id_len},
        .seq = m->seq,
        .wall_ms = m->wall_ms,
        .group = m->group,
    };
    atomic_fetch_add_explicit(&r->events_in, 1, memory_order_relaxed);
    atomic_store_explicit(&r->lag_ms, rp_clock_wall_ms() - m->wall_ms, memory_order_relaxed);
    if (r->hooks.topic_events)
        r->hooks.topic_events(r->hooks.ctx, ch->topic, ch->len, m->epoch, 0, &ev, 1);
}

/* What a fill's command carries back: the topic, and which fill of it this is. */
struct fill_ticket {
    unsigned gen;
    size_t len;
    char topic[];
};

static void on_filled(redisAsyncContext *ac, void *reply_v, void *priv);

static void
send_fill(struct rp_redis *r, struct channel *ch)
{
    if (r->cmd.state != LINK_UP || ch->fill_sent)
        return; /* sent when the command connection is up (send_pending_fills) */
    struct fill_ticket *t = rp_xmalloc(sizeof(*t) + ch->len);
    t->gen = ++ch->fill_gen;
    t->len = ch->len;
    memcpy(t->topic, ch->topic, ch->len);
    char count[24];
    snprintf(count, sizeof(count), "%" PRIu64, r->cfg.stream_max_len);
    if (redisAsyncCommand(r->cmd.ac, on_filled, t, "EVALSHA %s 0 %s %b %s", r->fill_sha, r->prefix,
                          ch->topic, ch->len, count) != REDIS_OK) {
        free(t);
        return;
    }
    ch->fill_sent = true;
}

static void
send_pending_fills(struct rp_redis *r)
{
    size_t pos = 0;
    struct channel *ch;
    while ((ch = rp_hashmap_next(&r->channels, &pos)))
        if (ch->filling)
            send_fill(r, ch);
}

/* Parses one stream entry ([id, [field, value, ...]]) of <ch>; false when it is not one. */
static bool
parse_entry(const redisReply *e, const struct channel *ch, struct rp_ingest_event *out)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
        return false;
    char *end;
    unsigned long long seq = strtoull(e->element[0]->str, &end, 10);
    if (seq == 0 || *end != '-')
        return false;
    memset(out, 0, sizeof(*out));
    out->item.topic = ch->topic;
    out->item.topic_len = ch->len;
    out->seq = seq;
    const redisReply *f = e->element[1];
    bool have_data = false;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || k->len != 1)
            return false;
        if (k->str[0] == 't' && v->len) {
            out->item.event = v->str;
            out->item.event_len = v->len;
        } else if (k->str[0] == 'd') {
            out->item.data = v->str;
            out->item.data_len = v->len;
            have_data = true;
        } else if (k->str[0] == 'w') {
            out->wall_ms = strtoll(v->str, NULL, 10);
        } else if (k->str[0] == 'i' && v->len) {
            out->item.pub_id = v->str;
            out->item.pub_id_len = v->len;
        } else if (k->str[0] == 'g') {
            out->group = strtoull(v->str, NULL, 10);
        }
    }
    return have_data;
}

/* The fill's answer: the stream's newest events, then the live ones held meanwhile. */
static void
on_filled(redisAsyncContext *ac, void *reply_v, void *priv)
{
    struct link *l = ac->data;
    struct rp_redis *r = l->r;
    struct fill_ticket *t = priv;
    redisReply *reply = reply_v;
    struct channel *ch = rp_hashmap_get(&r->channels, t->topic, t->len);
    bool current = ch && ch->filling && ch->fill_gen == t->gen;
    free(t);
    if (!current)
        return; /* interest went (and maybe came back: a newer fill is out) */
    ch->fill_sent = false;
    if (!reply)
        return; /* the connection dropped: sent again when it is back */
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_INTEGER ||
        reply->element[2]->type != REDIS_REPLY_ARRAY) {
        RP_LOG(RP_LOG_ERROR, "redis", "filling topic %s failed: %s", ch->topic,
               reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        return; /* retried when the command connection comes back */
    }
    const redisReply *ents = reply->element[2];
    uint32_t epoch = (uint32_t)strtoul(reply->element[0]->str, NULL, 16);
    uint64_t lost = reply->element[1]->integer > 0 ? (uint64_t)reply->element[1]->integer : 0;
    size_t n = ents->elements;
    struct rp_ingest_event *evs = rp_xcalloc(n ? n : 1, sizeof(*evs));
    size_t k = 0;
    for (size_t i = n; i-- > 0;) { /* newest first in the reply */
        if (parse_entry(ents->element[i], ch, &evs[k]))
            k++;
        else
            RP_LOG(RP_LOG_WARN, "redis", "an entry of topic %s is not an event; skipped",
                   ch->topic);
    }
    uint64_t newest = k ? evs[k - 1].seq : lost;
    atomic_fetch_add_explicit(&r->events_in, k, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->fills, 1, memory_order_relaxed);
    if (lost)
        atomic_fetch_add_explicit(&r->fills_lost, 1, memory_order_relaxed);
    if ((k || lost) && r->hooks.topic_events)
        r->hooks.topic_events(r->hooks.ctx, ch->topic, ch->len, epoch, lost, evs, k);
    free(evs);
    /* Then what arrived live since the subscription, past what the fill had. */
    ch->filling = false;
    struct held *h = ch->held_head;
    ch->held_head = ch->held_tail = NULL;
    ch->n_held = 0;
    while (h) {
        struct held *next = h->next;
        struct rp_redis_msg m;
        if (rp_redis_msg_decode(h->body, h->len, &m) == 0 && (m.epoch != epoch || m.seq > newest))
            deliver_one(r, ch, &m);
        free(h);
        h = next;
    }
    if (r->hooks.filled)
        r->hooks.filled(r->hooks.ctx, ch->topic, ch->len);
}

static void
on_message(redisAsyncContext *ac, void *reply_v, void *priv)
{
    (void)priv;
    struct link *l = ac->data;
    struct rp_redis *r = l->r;
    redisReply *reply = reply_v;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (reply->element[0]->str[0] == 'p') { /* psubscribe, pmessage, punsubscribe */
        on_pattern_reply(r, reply);
        return;
    }
    if (reply->elements != 3)
        return;
    redisReply *kind = reply->element[0], *chan = reply->element[1], *body = reply->element[2];
    if (kind->type != REDIS_REPLY_STRING || chan->type != REDIS_REPLY_STRING)
        return;
    size_t plen = strlen(r->prefix);
    if (chan->len < plen + 2 || memcmp(chan->str, r->prefix, plen) != 0)
        return;
    if (chan->len == plen + 3 && memcmp(chan->str + plen, "seq", 3) == 0) {
        struct rp_redis_msg m;
        if (strcmp(kind->str, "message") == 0 && body->type == REDIS_REPLY_STRING &&
            rp_redis_msg_decode(body->str, body->len, &m) == 0 && r->hooks.sequence)
            r->hooks.sequence(r->hooks.ctx, m.epoch, m.seq);
        return;
    }
    if (memcmp(chan->str + plen, "c:", 2) != 0)
        return;
    struct channel *ch = rp_hashmap_get(&r->channels, chan->str + plen + 2, chan->len - plen - 2);
    if (!ch || ch->count <= 0)
        return; /* interest went meanwhile */
    if (strcmp(kind->str, "subscribe") == 0) {
        /* From now on nothing published on the channel is missed: read what came before. */
        drop_held(ch);
        ch->filling = true;
        ch->fill_sent = false;
        send_fill(r, ch);
        return;
    }
    if (strcmp(kind->str, "message") != 0 || body->type != REDIS_REPLY_STRING)
        return;
    if (ch->filling) {
        if (ch->n_held >= HELD_MAX) {
            /* The fill reads the stream after these: it has them, unless trimmed (then
             * its lost_upto says so). */
            drop_held(ch);
        }
        struct held *h = rp_xmalloc(sizeof(*h) + body->len);
        h->next = NULL;
        h->len = body->len;
        memcpy(h->body, body->str, body->len);
        if (ch->held_tail)
            ch->held_tail->next = h;
        else
            ch->held_head = h;
        ch->held_tail = h;
        ch->n_held++;
        return;
    }
    struct rp_redis_msg m;
    if (rp_redis_msg_decode(body->str, body->len, &m) != 0) {
        RP_LOG(RP_LOG_WARN, "redis", "a message on %s is not an event; ignored", chan->str);
        return;
    }
    deliver_one(r, ch, &m);
}

static void
subscribe_one(struct rp_redis *r, const struct channel *ch, bool on)
{
    if (r->sub.state != LINK_UP)
        return; /* the next connect subscribes everything of interest */
    redisAsyncCommand(r->sub.ac, on ? on_message : NULL, NULL,
                      on ? "SUBSCRIBE %sc:%b" : "UNSUBSCRIBE %sc:%b", r->prefix, ch->topic,
                      ch->len);
}

static void psubscribe_one(struct rp_redis *r, const struct pattern *pt, bool on);

static void
subscribe_all(struct rp_redis *r)
{
    size_t pos = 0;
    struct channel *ch;
    while ((ch = rp_hashmap_next(&r->channels, &pos)))
        subscribe_one(r, ch, true);
    pos = 0;
    struct pattern *pt;
    while ((pt = rp_hashmap_next(&r->patterns, &pos)))
        psubscribe_one(r, pt, true);
}

/* ---- patterns ---- */

/* Appends <n> bytes of <s> to the glob <g> (<cap> bytes), escaping what a glob means. */
static size_t
glob_literal(char *g, size_t at, size_t cap, const char *s, size_t n)
{
    for (size_t i = 0; i < n && at + 2 < cap; i++) {
        if (s[i] && strchr("*?[]\\", s[i]))
            g[at++] = '\\';
        g[at++] = s[i];
    }
    return at;
}

/* The glob of the topics <filter> may match: its literal levels escaped, `+` as `*` and a
 * last `#` (with the `/` before it: `a/#` matches `a` too) as `*`. NUL-terminated, new. */
static char *
filter_glob(const char *filter, size_t len)
{
    size_t cap = 2 * len + 2, at = 0;
    char *g = rp_xmalloc(cap);
    size_t i = 0;
    while (i < len) {
        const char *slash = memchr(filter + i, '/', len - i);
        size_t end = slash ? (size_t)(slash - filter) : len;
        size_t n = end - i;
        if (n == 1 && filter[i] == '#') {
            if (at > 0 && g[at - 1] == '/')
                at--; /* `a/#` matches `a` */
            g[at++] = '*';
        } else if (n == 1 && filter[i] == '+') {
            g[at++] = '*';
        } else {
            at = glob_literal(g, at, cap, filter + i, n);
        }
        if (slash)
            g[at++] = '/';
        i = end + 1;
    }
    g[at] = '\0';
    return g;
}

static void
pattern_free(struct pattern *pt)
{
    free(pt->glob);
    free(pt);
}

/* A topic other nodes publish to, that one of this node's patterns matches: the hub creates
 * it, its matching streams attach, and that interest subscribes and fills it. */
static void
topic_appeared(struct rp_redis *r, const char *topic, size_t len)
{
    if (!r->hooks.topic_seen)
        return;
    size_t pos = 0;
    struct pattern *pt;
    while ((pt = rp_hashmap_next(&r->patterns, &pos))) {
        if (pt->count > 0 && rp_pattern_matches(pt->filter, pt->len, topic, len)) {
            r->hooks.topic_seen(r->hooks.ctx, topic, len);
            return;
        }
    }
}

/* What a SCAN for a pattern's streams carries: the pattern. */
struct scan_ticket {
    size_t len;
    char filter[];
};

static void on_scanned(redisAsyncContext *ac, void *reply_v, void *priv);

static void
send_scan(struct rp_redis *r, const struct pattern *pt, const char *cursor)
{
    if (r->cmd.state != LINK_UP)
        return; /* the pattern's next subscription scans again */
    struct scan_ticket *t = rp_xmalloc(sizeof(*t) + pt->len);
    t->len = pt->len;
    memcpy(t->filter, pt->filter, pt->len);
    if (redisAsyncCommand(r->cmd.ac, on_scanned, t, "SCAN %s MATCH %st:%s COUNT 1000", cursor,
                          r->prefix_glob, pt->glob) != REDIS_OK)
        free(t);
}

/* One page of a pattern's streams: each key names a topic. */
static void
on_scanned(redisAsyncContext *ac, void *reply_v, void *priv)
{
    struct link *l = ac->data;
    struct rp_redis *r = l->r;
    struct scan_ticket *t = priv;
    redisReply *reply = reply_v;
    struct pattern *pt = rp_hashmap_get(&r->patterns, t->filter, t->len);
    free(t);
    if (!reply || !pt || pt->count <= 0)
        return;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
        RP_LOG(RP_LOG_ERROR, "redis", "looking up the topics of pattern %s failed: %s", pt->filter,
               reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        return;
    }
    size_t plen = strlen(r->prefix);
    const redisReply *keys = reply->element[1];
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        if (k->type == REDIS_REPLY_STRING && (size_t)k->len > plen + 2)
            topic_appeared(r, k->str + plen + 2, (size_t)k->len - plen - 2);
    }
    if (strcmp(reply->element[0]->str, "0") != 0)
        send_scan(r, pt, reply->element[0]->str);
}

static void
psubscribe_one(struct rp_redis *r, const struct pattern *pt, bool on)
{
    if (r->sub.state != LINK_UP)
        return; /* the next connect subscribes every pattern of interest */
    redisAsyncCommand(r->sub.ac, on ? on_message : NULL, NULL,
                      on ? "PSUBSCRIBE %sc:%s" : "PUNSUBSCRIBE %sc:%s", r->prefix_glob, pt->glob);
}

static void
apply_pattern_interest(struct rp_redis *r, const struct interest *in)
{
    struct pattern *pt = rp_hashmap_get(&r->patterns, in->topic, in->len);
    if (!pt) {
        pt = rp_xcalloc(1, sizeof(*pt) + in->len + 1);
        pt->len = in->len;
        memcpy(pt->filter, in->topic, in->len);
        pt->glob = filter_glob(in->topic, in->len);
        rp_hashmap_put(&r->patterns, pt->filter, pt->len, pt);
    }
    long before = pt->count;
    pt->count += in->on ? 1 : -1;
    if (before <= 0 && pt->count > 0) {
        psubscribe_one(r, pt, true);
    } else if (before > 0 && pt->count <= 0) {
        psubscribe_one(r, pt, false);
        if (pt->count == 0) {
            rp_hashmap_remove(&r->patterns, pt->filter, pt->len);
            pattern_free(pt);
        }
    }
}

/* The pub/sub connection's answers for a pattern: its subscription stands (scan for the
 * topics that appeared before it), or a message on a channel it matches. */
static void
on_pattern_reply(struct rp_redis *r, const redisReply *reply)
{
    const redisReply *kind = reply->element[0];
    if (reply->elements == 3 && strcmp(kind->str, "psubscribe") == 0 &&
        reply->element[1]->type == REDIS_REPLY_STRING) {
        /* The subscription names its glob, which several patterns may share. */
        const char *prefix = r->prefix_glob;
        size_t plen = strlen(prefix);
        const redisReply *glob = reply->element[1];
        size_t pos = 0;
        struct pattern *pt;
        while ((pt = rp_hashmap_next(&r->patterns, &pos)))
            if (pt->count > 0 && (size_t)glob->len == plen + 2 + strlen(pt->glob) &&
                memcmp(glob->str, prefix, plen) == 0 && strcmp(glob->str + plen + 2, pt->glob) == 0)
                send_scan(r, pt, "0");
        return;
    }
    if (reply->elements != 4 || strcmp(kind->str, "pmessage") != 0 ||
        reply->element[2]->type != REDIS_REPLY_STRING)
        return;
    const redisReply *chan = reply->element[2];
    size_t plen = strlen(r->prefix);
    if ((size_t)chan->len <= plen + 2 || memcmp(chan->str, r->prefix, plen) != 0 ||
        memcmp(chan->str + plen, "c:", 2) != 0)
        return;
    const char *topic = chan->str + plen + 2;
    size_t len = (size_t)chan->len - plen - 2;
    const struct channel *ch = rp_hashmap_get(&r->channels, topic, len);
    if (ch && ch->count > 0)
        return; /* subscribed: its own channel's message brings the event */
    topic_appeared(r, topic, len);
}

static void
apply_interest(struct rp_redis *r, const struct interest *in)
{
    struct channel *ch = rp_hashmap_get(&r->channels, in->topic, in->len);
    if (!ch) {
        ch = rp_xcalloc(1, sizeof(*ch) + in->len + 1);
        ch->len = in->len;
        memcpy(ch->topic, in->topic, in->len);
        ch->topic[in->len] = '\0';
        rp_hashmap_put(&r->channels, ch->topic, ch->len, ch);
        atomic_fetch_add_explicit(&r->n_channels, 1, memory_order_relaxed);
    }
    long before = ch->count;
    ch->count += in->on ? 1 : -1;
    if (before <= 0 && ch->count > 0) {
        subscribe_one(r, ch, true);
    } else if (before > 0 && ch->count <= 0) {
        subscribe_one(r, ch, false);
        if (ch->count == 0) {
            rp_hashmap_remove(&r->channels, ch->topic, ch->len);
            atomic_fetch_sub_explicit(&r->n_channels, 1, memory_order_relaxed);
            channel_free(ch);
        }
    }
}

/* ---- publishing ---- */

static void arm_command_timeout(struct rp_redis *r);

/* The publish of <s> got no answer (<reply> NULL): the connection dropped or timed out. */
static void
complete_unanswered(struct link *l, struct rp_redis_publish *p)
{
    complete(l->r, p, l->timed_out ? -ETIMEDOUT : -ENOTCONN,
             l->timed_out ? "Redis did not confirm the publish in time; it may or may not "
                            "have been stored"
                          : "the connection to Redis was lost before it confirmed the "
                            "publish; it may or may not have been stored",
             NULL);
}

static void
sent_done(struct rp_redis *r, struct sent *s)
{
    rp_list_remove(&s->node);
    free(s);
    arm_command_timeout(r);
}

/* The publish script's answer: {epoch, first, {n sequences}, {n duplicate flags}}. */
static bool
publish_reply_valid(const redisReply *reply, size_t n)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4 ||
        reply->element[0]->type != REDIS_REPLY_STRING || reply->element[0]->len != 8 ||
        reply->element[1]->type != REDIS_REPLY_INTEGER || reply->element[1]->integer < 1)
        return false;
    for (int k = 2; k < 4; k++) {
        const redisReply *a = reply->element[k];
        if (a->type != REDIS_REPLY_ARRAY || a->elements != n)
            return false;
        for (size_t i = 0; i < n; i++)
            if (a->element[i]->type != REDIS_REPLY_INTEGER || a->element[i]->integer < 0 ||
                (k == 2 && a->element[i]->integer < 1))
                return false;
    }
    return true;
}

static void
on_published(redisAsyncContext *ac, void *reply_v, void *priv)
{
    struct link *l = ac->data;
    struct rp_redis *r = l->r;
    struct sent *s = priv;
    redisReply *reply = reply_v;
    struct rp_redis_publish *p = s->p;
    bool waiting = s->waiting, wait_failed = s->wait_failed;
    if (!waiting)
        sent_done(r, s);
    if (!reply) {
        complete_unanswered(l, p);
        if (waiting)
            s->p = NULL;
        return;
    }
    int err = 0;
    if (reply->type == REDIS_REPLY_ERROR) {
        complete(r, p, -EIO, "Redis refused the publish: ", reply->str);
        err = -EIO;
        /* A replica since a failover: the next connect asks the sentinels again. */
        if (strncmp(reply->str, "READONLY", 8) == 0 && r->cfg.n_sentinels)
            redisAsyncDisconnect(ac);
    } else if (!publish_reply_valid(reply, p->batch->n)) {
        complete(r, p, -EIO, "Redis answered the publish with something unexpected", NULL);
        err = -EIO;
    } else {
        p->epoch = (uint32_t)strtoul(reply->element[0]->str, NULL, 16);
        r->last_epoch = p->epoch;
        if (r->hooks.epoch_seen)
            r->hooks.epoch_seen(r->hooks.ctx, p->epoch);
        p->first_seq = (uint64_t)reply->element[1]->integer;
        for (size_t i = 0; p->results && i < p->batch->n; i++)
            p->results[i] = (struct rp_publish_result){
                .seq = (uint64_t)reply->element[2]->element[i]->integer,
                .duplicate = reply->element[3]->element[i]->integer != 0,
            };
        if (wait_failed)
            complete(r, p, -EIO, "Redis stored the publish, but its replicas could not be asked",
                     NULL);
        else if (!waiting)
            complete(r, p, 0, NULL, NULL);
    }
    if (waiting && err)
        s->p = NULL; /* the WAIT's answer only frees <s> */
}

/* redis_wait_replicas: how many replicas have the publish's events. */
static void
on_waited(redisAsyncContext *ac, void *reply_v, void *priv)
{
    struct link *l = ac->data;
    struct rp_redis *r = l->r;
    struct sent *s = priv;
    redisReply *reply = reply_v;
    struct rp_redis_publish *p = s->p;
    sent_done(r, s);
    if (!p)
        return; /* completed by the script's answer (an error) */
    if (!reply) {
        complete_unanswered(l, p);
        return;
    }
    if (reply->type == REDIS_REPLY_INTEGER && reply->integer >= r->cfg.wait_replicas) {
        complete(r, p, 0, NULL, NULL);
        return;
    }
    char what[200];
    snprintf(what, sizeof(what),
             "Redis stored the publish, but only %lld of the %d replicas asked for "
             "(redis_wait_replicas) confirmed it in time: a failover may lose it",
             reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0LL, r->cfg.wait_replicas);
    complete(r, p, -EIO, what, NULL);
}

static void
on_command_timeout(struct rp_loop *loop, struct rp_loop_timer *t)
{
    (void)loop;
    struct link *l = RP_CONTAINER_OF(t, struct link, timeout);
    if (l->state != LINK_UP || !l->ac)
        return;
    l->timed_out = true;
    /* Not redisAsyncDisconnect, which would wait for the replies: the waiting callbacks get
     * NULL now, then on_disconnect runs. */
    redisAsyncContext *ac = l->ac;
    redisAsyncFree(ac);
}

static void
arm_command_timeout(struct rp_redis *r)
{
    if (r->cmd.state != LINK_UP)
        return;
    if (rp_list_empty(&r->inflight)) {
        rp_loop_timer_stop(r->loop, &r->cmd.timeout);
        return;
    }
    struct sent *oldest = RP_CONTAINER_OF(r->inflight.next, struct sent, node);
    rp_loop_timer_start_at(r->loop, &r->cmd.timeout, oldest->sent_ms + r->cfg.command_timeout_ms,
                           on_command_timeout);
}

static void
send_publish(struct rp_redis *r, struct rp_redis_publish *p)
{
    const struct rp_logengine_batch *b = p->batch;
    size_t argc = 3 + 4 + 6 * b->n;
    const char **argv = rp_xcalloc(argc, sizeof(*argv));
    size_t *argvlen = rp_xcalloc(argc, sizeof(*argvlen));
    char(*walls)[24] = rp_xcalloc(b->n, sizeof(*walls));
    char maxlen[24], n[24];
    snprintf(maxlen, sizeof(maxlen), "%" PRIu64, r->cfg.stream_max_len);
    snprintf(n, sizeof(n), "%zu", b->n);
    size_t k = 0;
#define ARG(s, len) (argv[k] = (s), argvlen[k] = (len), k++)
    ARG("EVALSHA", 7);
    ARG(r->sha, 40);
    ARG("0", 1);
    ARG(r->prefix, strlen(r->prefix));
    /* A fresh proposal each time: when the meta hash is gone (a restart without data, a
     * flush), the new log must not get the epoch of one a client may remember. */
    char epoch_hex[9];
    uint32_t epoch = 0;
    while (epoch == 0 || epoch == r->last_epoch) {
        if (getrandom(&epoch, sizeof(epoch), 0) != (ssize_t)sizeof(epoch))
            epoch = (uint32_t)rp_clock_now_ms() ^ (uint32_t)(uintptr_t)p;
    }
    snprintf(epoch_hex, sizeof(epoch_hex), "%08" PRIx32, epoch);
    ARG(epoch_hex, 8);
    ARG(maxlen, strlen(maxlen));
    ARG(n, strlen(n));
    int64_t now = rp_clock_wall_ms();
    for (size_t i = 0; i < b->n; i++) {
        const struct rp_publish_item *it = &b->evs[i].item;
        snprintf(walls[i], sizeof(walls[i]), "%" PRId64, now);
        ARG(it->topic, it->topic_len);
        ARG(it->event ? it->event : "", it->event ? it->event_len : 0);
        ARG(it->data, it->data_len);
        ARG(walls[i], strlen(walls[i]));
        ARG(it->pub_id ? it->pub_id : "", it->pub_id ? it->pub_id_len : 0);
        ARG(it->same_update ? "1" : "0", 1);
    }
#undef ARG
    struct sent *s = rp_xcalloc(1, sizeof(*s));
    s->p = p;
    s->sent_ms = rp_clock_now_ms();
    rp_list_insert_tail(&r->inflight, &s->node);
    s->waiting = r->cfg.wait_replicas > 0;
    int rc = redisAsyncCommandArgv(r->cmd.ac, on_published, s, (int)argc, argv, argvlen);
    if (rc == REDIS_OK && s->waiting &&
        redisAsyncCommand(r->cmd.ac, on_waited, s, "WAIT %d %lld", r->cfg.wait_replicas,
                          (long long)r->cfg.command_timeout_ms / 2) != REDIS_OK) {
        s->waiting = false; /* the script's answer completes it, as unconfirmed by replicas */
        s->wait_failed = true;
    }
    free(argv);
    free(argvlen);
    free(walls);
    if (rc != REDIS_OK) {
        rp_list_remove(&s->node);
        free(s);
        complete(r, p, -ENOTCONN, "Redis is not reachable: ", r->why[0] ? r->why : "disconnecting");
        return;
    }
    if (!rp_loop_timer_active(&r->cmd.timeout))
        arm_command_timeout(r);
}

/* ---- the thread ---- */

static void
on_mail(struct rp_loop_io *io, uint32_t events)
{
    (void)events;
    struct rp_redis *r = RP_CONTAINER_OF(io, struct rp_redis, wake.io);
    rp_wakeup_drain(&r->wake);
    pthread_mutex_lock(&r->lock);
    struct rp_redis_publish *q = r->queue_head;
    r->queue_head = r->queue_tail = NULL;
    r->queued = 0;
    struct interest *changes = r->changes;
    r->changes = NULL;
    pthread_mutex_unlock(&r->lock);

    /* Interest first, in the order it came (the list is newest first). */
    struct interest *rev = NULL;
    while (changes) {
        struct interest *next = changes->link;
        changes->link = rev;
        rev = changes;
        changes = next;
    }
    while (rev) {
        struct interest *next = rev->link;
        if (rev->pattern)
            apply_pattern_interest(r, rev);
        else
            apply_interest(r, rev);
        free(rev);
        rev = next;
    }
    while (q) {
        struct rp_redis_publish *next = q->link;
        if (r->cmd.state == LINK_UP)
            send_publish(r, q);
        else
            complete(r, q, -ENOTCONN, "Redis is not reachable: ", r->why);
        q = next;
    }
}

static void *
engine_main(void *arg)
{
    struct rp_redis *r = arg;
    link_connect(&r->cmd);
    link_connect(&r->sub);
    for (;;) {
        pthread_mutex_lock(&r->lock);
        bool stop = r->stopping;
        pthread_mutex_unlock(&r->lock);
        if (stop)
            break;
        rp_loop_run_once(r->loop, -1);
    }
    /* Pending replies are failed by the disconnect callbacks (reply NULL). */
    for (struct link *l = &r->cmd; l; l = l == &r->cmd ? &r->sub : NULL) {
        rp_loop_timer_stop(r->loop, &l->retry);
        rp_loop_timer_stop(r->loop, &l->timeout);
        if (l->ac) {
            redisAsyncContext *ac = l->ac;
            l->ac = NULL;
            redisAsyncFree(ac);
        }
    }
    on_mail(&r->wake.io, 0); /* fails what was queued meanwhile */
    return NULL;
}

static void
init_link(struct rp_redis *r, struct link *l, const char *name)
{
    l->r = r;
    l->name = name;
    rp_backoff_init(&l->backoff, r->cfg.reconnect_min_ms, r->cfg.reconnect_max_ms);
}

static void
free_strings(struct rp_redis *r)
{
    free(r->host);
    free(r->prefix);
    free(r->prefix_glob);
    free(r->master_name);
    for (size_t i = 0; r->sentinels && i < r->cfg.n_sentinels; i++)
        free(r->sentinels[i]);
    free(r->sentinels);
}

struct rp_redis *
rp_redis_new(const struct rp_redis_config *config, const struct rp_redis_hooks *hooks)
{
    struct rp_redis *r = rp_xcalloc(1, sizeof(*r));
    r->cfg = *config;
    r->host = rp_xstrdup(config->host ? config->host : "127.0.0.1");
    r->prefix = rp_xstrdup(config->prefix ? config->prefix : "{rp}:");
    size_t plen = strlen(r->prefix), cap = 2 * plen + 1;
    r->prefix_glob = rp_xmalloc(cap);
    r->prefix_glob[glob_literal(r->prefix_glob, 0, cap, r->prefix, plen)] = '\0';
    r->cfg.host = r->host;
    r->cfg.prefix = r->prefix;
    if (r->cfg.connect_timeout_ms <= 0)
        r->cfg.connect_timeout_ms = 2000;
    if (r->cfg.command_timeout_ms <= 0)
        r->cfg.command_timeout_ms = 5000;
    if (r->cfg.stream_max_len == 0)
        r->cfg.stream_max_len = 1000;
    if (r->cfg.queue_cap == 0)
        r->cfg.queue_cap = 65536;
    if (hooks)
        r->hooks = *hooks;
    snprintf(r->why, sizeof(r->why), "Redis at %s:%d: not connected yet", r->host, r->cfg.port);
    r->master_name = rp_xstrdup(config->master_name ? config->master_name : "mymaster");
    r->cfg.master_name = r->master_name;
    if (config->n_sentinels) {
        r->sentinels = rp_xcalloc(config->n_sentinels, sizeof(char *));
        for (size_t i = 0; i < config->n_sentinels; i++)
            r->sentinels[i] = rp_xstrdup(config->sentinels[i]);
        r->cfg.sentinels = (const char *const *)r->sentinels;
    }
    pthread_mutex_init(&r->lock, NULL);
    rp_hashmap_init(&r->channels);
    rp_hashmap_init(&r->patterns);
    rp_list_init(&r->inflight);
    init_link(r, &r->cmd, "commands");
    init_link(r, &r->sub, "pub/sub");
    r->loop = rp_loop_new();
    int err = r->loop ? rp_wakeup_init(&r->wake, r->loop, on_mail) : -ENOMEM;
    if (err == 0)
        err = -pthread_create(&r->thread, NULL, engine_main, r);
    if (err) {
        if (r->loop)
            rp_loop_free(r->loop);
        free_strings(r);
        free(r);
        errno = -err;
        return NULL;
    }
    return r;
}

void
rp_redis_free(struct rp_redis *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_mutex_unlock(&r->lock);
    rp_wakeup_signal(&r->wake);
    pthread_join(r->thread, NULL);
    size_t pos = 0;
    struct channel *ch;
    while ((ch = rp_hashmap_next(&r->channels, &pos)))
        channel_free(ch);
    rp_hashmap_fini(&r->channels);
    pos = 0;
    struct pattern *pt;
    while ((pt = rp_hashmap_next(&r->patterns, &pos)))
        pattern_free(pt);
    rp_hashmap_fini(&r->patterns);
    rp_wakeup_fini(&r->wake, r->loop);
    rp_loop_free(r->loop);
    pthread_mutex_destroy(&r->lock);
    free_strings(r);
    free(r);
}

int
rp_redis_publish(struct rp_redis *r, struct rp_redis_publish *p)
{
    int rc = 0;
    if (!atomic_load(&r->up)) {
        rc = -ENOTCONN;
        goto refused;
    }
    pthread_mutex_lock(&r->lock);
    if (r->stopping) {
        rc = -ESHUTDOWN;
    } else if (r->queued >= r->cfg.queue_cap) {
        rc = -EAGAIN;
    } else {
        p->link = NULL;
        if (r->queue_tail)
            r->queue_tail->link = p;
        else
            r->queue_head = p;
        r->queue_tail = p;
        r->queued++;
    }
    pthread_mutex_unlock(&r->lock);
    if (rc == 0) {
        rp_wakeup_signal(&r->wake);
        return 0;
    }
refused:
    atomic_fetch_add_explicit(&r->publish_failures, 1, memory_order_relaxed);
    return rc;
}

static void
queue_interest(struct rp_redis *r, const char *topic, size_t len, bool on, bool pattern)
{
    struct interest *in = rp_xmalloc(sizeof(*in) + len);
    in->on = on;
    in->pattern = pattern;
    in->len = len;
    memcpy(in->topic, topic, len);
    pthread_mutex_lock(&r->lock);
    in->link = r->changes;
    r->changes = in;
    pthread_mutex_unlock(&r->lock);
    rp_wakeup_signal(&r->wake);
}

void
rp_redis_interest(struct rp_redis *r, const char *topic, size_t len, bool on)
{
    queue_interest(r, topic, len, on, false);
}

void
rp_redis_pattern_interest(struct rp_redis *r, const char *filter, size_t len, bool on)
{
    queue_interest(r, filter, len, on, true);
}

bool
rp_redis_up(const struct rp_redis *r)
{
    return atomic_load(&r->up);
}

void
rp_redis_why(struct rp_redis *r, char *out, size_t cap)
{
    pthread_mutex_lock(&r->lock);
    snprintf(out, cap, "%s", r->why[0] ? r->why : "connected");
    pthread_mutex_unlock(&r->lock);
}

void
rp_redis_stats(struct rp_redis *r, struct rp_redis_stats *out)
{
    *out = (struct rp_redis_stats){
        .connected = atomic_load(&r->up),
        .subscribed = atomic_load(&r->sub_up),
        .reconnects = atomic_load_explicit(&r->reconnects, memory_order_relaxed),
        .publishes = atomic_load_explicit(&r->publishes, memory_order_relaxed),
        .publish_failures = atomic_load_explicit(&r->publish_failures, memory_order_relaxed),
        .events_in = atomic_load_explicit(&r->events_in, memory_order_relaxed),
        .fills = atomic_load_explicit(&r->fills, memory_order_relaxed),
        .fills_lost = atomic_load_explicit(&r->fills_lost, memory_order_relaxed),
        .channels = atomic_load_explicit(&r->n_channels, memory_order_relaxed),
        .lag_ms = atomic_load_explicit(&r->lag_ms, memory_order_relaxed),
    };
}

/* The meta hash, read or created (the publish script creates it the same way). */
static const char open_script[] =
    "local meta = ARGV[1] .. 'meta'\n"
    "local epoch = redis.call('HGET', meta, 'epoch')\n"
    "if not epoch then\n"
    "  epoch = ARGV[2]\n"
    "  redis.call('HSET', meta, 'epoch', epoch, 'seq', 0)\n"
    "end\n"
    "return {epoch, tonumber(redis.call('HGET', meta, 'seq') or '0')}\n";

int
rp_redis_open_log(const struct rp_redis_config *config, uint32_t *epoch, uint64_t *last_seq,
                  char *why, size_t cap)
{
    const char *host = config->host ? config->host : "127.0.0.1";
    const char *prefix = config->prefix ? config->prefix : "{rp}:";
    int64_t connect_ms = config->connect_timeout_ms > 0 ? config->connect_timeout_ms : 2000;
    int64_t command_ms = config->command_timeout_ms > 0 ? config->command_timeout_ms : 5000;
    int port = config->port;
    char primary[256];
    if (config->n_sentinels) {
        struct rp_redis_config cfg = *config;
        cfg.connect_timeout_ms = connect_ms;
        cfg.command_timeout_ms = command_ms;
        if (resolve_primary(&cfg, primary, sizeof(primary), &port, why, cap))
            return -EHOSTUNREACH;
        host = primary;
    }
    redisContext *c = host[0] == '/' ? redisConnectUnixWithTimeout(host, ms_to_tv(connect_ms))
                                     : redisConnectWithTimeout(host, port, ms_to_tv(connect_ms));
    if (!c || c->err) {
        snprintf(why, cap, "cannot connect to Redis at %s:%d: %s", host, port,
                 c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return -ECONNREFUSED;
    }
    redisSetTimeout(c, ms_to_tv(command_ms));
    uint32_t proposal = 0;
    while (proposal == 0)
        if (getrandom(&proposal, sizeof(proposal), 0) != (ssize_t)sizeof(proposal))
            proposal = (uint32_t)rp_clock_wall_ms();
    char hex[9];
    snprintf(hex, sizeof(hex), "%08" PRIx32, proposal);
    redisReply *r = redisCommand(c, "EVAL %s 0 %s %s", open_script, prefix, hex);
    int rc = 0;
    if (!r) {
        snprintf(why, cap, "Redis at %s:%d did not answer: %s", host, port, c->errstr);
        rc = -ETIMEDOUT;
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
               r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len != 8 ||
               r->element[1]->type != REDIS_REPLY_INTEGER || r->element[1]->integer < 0) {
        snprintf(why, cap, "Redis at %s:%d: reading the log failed: %s", host, port,
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        rc = -EIO;
    } else {
        *epoch = (uint32_t)strtoul(r->element[0]->str, NULL, 16);
        *last_seq = (uint64_t)r->element[1]->integer;
    }
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}
