/* SPDX-License-Identifier: MIT */
/*
 * The Redis engine against a real redis-server (started here on a Unix socket in a temporary
 * directory, without persistence): sequences and epochs from the publish script, delivery to
 * another node's interest, refusal while Redis is down and a new epoch after it comes back
 * empty, and a counter that went back refused without effect.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "base/clock.h"
#include "cluster/engine_redis.h"
#include "core/hub.h"
#include "core/logengine.h"

#define WAIT_MS 5000

static char dir[64];
static char sock[128];
static pid_t redis_pid;

static void
redis_start(void)
{
    redis_pid = fork();
    assert_true(redis_pid >= 0);
    if (redis_pid == 0) {
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--save", "",
               "--appendonly", "no", "--dir", dir, "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    int64_t deadline = rp_clock_now_ms() + WAIT_MS;
    for (;;) {
        redisContext *c = redisConnectUnix(sock);
        bool ok = c && !c->err;
        if (c)
            redisFree(c);
        if (ok)
            return;
        int status;
        if (waitpid(redis_pid, &status, WNOHANG) == redis_pid)
            fail_msg("redis-server did not start (is it installed? scripts/install-deps "
                     "--with-tests)");
        if (rp_clock_now_ms() > deadline)
            fail_msg("redis-server did not answer within %d ms", WAIT_MS);
        usleep(10000);
    }
}

static void
redis_stop(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
        redis_pid = 0;
    }
}

static redisReply *
redis_cmd(const char *fmt, ...)
{
    redisContext *c = redisConnectUnix(sock);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    assert_non_null(r);
    return r;
}

/* ---- what a node sees, filled by the engine's thread ---- */

#define MAX_SEEN 4096

struct seen {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int up;      /* the last state_changed: 1 up, -1 down, 0 none yet */
    int n_calls; /* topic_events calls */
    int n_fills; /* of which with lost_upto or more than one event */
    uint64_t last_lost;
    int n_events;
    char topics[MAX_SEEN][16];
    uint64_t seqs[MAX_SEEN];
    uint64_t losts[MAX_SEEN]; /* the lost_upto of the call that brought it */
    uint32_t epochs[MAX_SEEN];
    char types[MAX_SEEN][16];
    char datas[MAX_SEEN][16];
};

static void
on_events(void *ctx, const char *topic, size_t topic_len, uint32_t epoch, uint64_t lost_upto,
          const struct rp_ingest_event *evs, size_t n)
{
    struct seen *s = ctx;
    pthread_mutex_lock(&s->lock);
    s->n_calls++;
    if (lost_upto || n > 1) {
        s->n_fills++;
        s->last_lost = lost_upto;
    }
    for (size_t k = 0; k < n && s->n_events < MAX_SEEN; k++) {
        int i = s->n_events++;
        const struct rp_publish_item *it = &evs[k].item;
        snprintf(s->topics[i], sizeof(s->topics[i]), "%.*s", (int)topic_len, topic);
        assert_true(it->topic_len == topic_len && memcmp(it->topic, topic, topic_len) == 0);
        s->seqs[i] = evs[k].seq;
        s->losts[i] = lost_upto;
        s->epochs[i] = epoch;
        snprintf(s->types[i], sizeof(s->types[i]), "%.*s", (int)it->event_len,
                 it->event ? it->event : "");
        snprintf(s->datas[i], sizeof(s->datas[i]), "%.*s", (int)it->data_len, it->data);
    }
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void
on_state(void *ctx, int err, const char *why)
{
    (void)why;
    struct seen *s = ctx;
    pthread_mutex_lock(&s->lock);
    s->up = err ? -1 : 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Waits until <cond> holds (evaluated under the lock); false after WAIT_MS. */
#define WAIT_FOR(obj, pred)                                                                        \
    ({                                                                                             \
        struct timespec until_;                                                                    \
        clock_gettime(CLOCK_REALTIME, &until_);                                                    \
        until_.tv_sec += WAIT_MS / 1000;                                                           \
        pthread_mutex_lock(&(obj)->lock);                                                          \
        int rc_ = 0;                                                                               \
        while (!(pred) && rc_ == 0)                                                                \
            rc_ = pthread_cond_timedwait(&(obj)->cond, &(obj)->lock, &until_);                     \
        bool ok_ = (pred);                                                                         \
        pthread_mutex_unlock(&(obj)->lock);                                                        \
        ok_;                                                                                       \
    })

static struct rp_redis *
node_new(struct seen *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    struct rp_redis_config cfg = {
        .host = sock,
        .prefix = "{t}:",
        .connect_timeout_ms = 1000,
        .command_timeout_ms = 2000,
        .reconnect_min_ms = 20,
        .reconnect_max_ms = 200,
        .stream_max_len = 100,
    };
    struct rp_redis_hooks hooks = {
        .topic_events = on_events,
        .state_changed = on_state,
        .ctx = s,
    };
    struct rp_redis *r = rp_redis_new(&cfg, &hooks);
    assert_non_null(r);
    return r;
}

static void
node_free(struct rp_redis *r, struct seen *s)
{
    rp_redis_free(r);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
}

/* ---- a publish, waited for ---- */

struct pub {
    struct rp_redis_publish p;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
};

static void
pub_done(struct rp_redis_publish *p)
{
    struct pub *x = (struct pub *)p;
    pthread_mutex_lock(&x->lock);
    x->done = true;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
}

/* Publishes <n> events (topic, type, data triples) and waits; returns the publish's err,
 * or the refusal of rp_redis_publish. */
static int
publish(struct rp_redis *r, struct pub *x, size_t n, const char *const *fields)
{
    struct rp_ingest_event evs[8];
    memset(evs, 0, sizeof(evs));
    for (size_t i = 0; i < n; i++) {
        struct rp_publish_item *it = &evs[i].item;
        it->topic = fields[3 * i];
        it->topic_len = strlen(it->topic);
        it->event = fields[3 * i + 1][0] ? fields[3 * i + 1] : NULL;
        it->event_len = strlen(fields[3 * i + 1]);
        it->data = fields[3 * i + 2];
        it->data_len = strlen(it->data);
        evs[i].seq = i + 1; /* ignored by the engine */
    }
    memset(x, 0, sizeof(*x));
    pthread_mutex_init(&x->lock, NULL);
    pthread_cond_init(&x->cond, NULL);
    x->p.batch = rp_logengine_batch_new(0, evs, n);
    x->p.done = pub_done;
    int rc = rp_redis_publish(r, &x->p);
    if (rc == 0) {
        bool ok = WAIT_FOR(x, x->done);
        assert_true(ok);
        rc = x->p.err;
    }
    rp_logengine_batch_free(x->p.batch);
    pthread_mutex_destroy(&x->lock);
    pthread_cond_destroy(&x->cond);
    return rc;
}

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/rp-redis-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
    redis_start();
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    redis_stop();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void
sequences_fill_and_delivery(void **state)
{
    (void)state;
    struct seen sa, sb;
    struct rp_redis *a = node_new(&sa);
    struct rp_redis *b = node_new(&sb);
    assert_true(WAIT_FOR(&sa, sa.up == 1));
    assert_true(WAIT_FOR(&sb, sb.up == 1));

    /* Published before node b reads the topic: b gets them from the stream (a fill). */
    struct pub x;
    const char *early[] = {"news", "", "zero", "other", "", "not b's", "news", "old", "one"};
    assert_int_equal(publish(a, &x, 3, early), 0);
    uint32_t epoch = x.p.epoch;
    assert_int_not_equal(epoch, 0);
    assert_int_equal(x.p.first_seq, 1);
    rp_redis_interest(b, "news", 4, true);
    assert_true(WAIT_FOR(&sb, sb.n_fills == 1));
    pthread_mutex_lock(&sb.lock);
    assert_int_equal(sb.n_events, 2);
    assert_int_equal(sb.last_lost, 0); /* the stream holds all it was given */
    assert_int_equal(sb.seqs[0], 1);
    assert_string_equal(sb.datas[0], "zero");
    assert_int_equal(sb.seqs[1], 3);
    assert_string_equal(sb.types[1], "old");
    assert_int_equal(sb.epochs[1], epoch);
    pthread_mutex_unlock(&sb.lock);

    /* Then live, in order, only its topic. */
    const char *batch[] = {"news",         "",     "first",  "sport", "goal",
                           "ignored by b", "news", "update", "second"};
    assert_int_equal(publish(a, &x, 3, batch), 0);
    assert_int_equal(x.p.epoch, epoch);
    assert_int_equal(x.p.first_seq, 4);
    assert_true(WAIT_FOR(&sb, sb.n_events == 4));
    pthread_mutex_lock(&sb.lock);
    assert_string_equal(sb.topics[2], "news");
    assert_int_equal(sb.seqs[2], 4);
    assert_string_equal(sb.types[2], "");
    assert_string_equal(sb.datas[2], "first");
    assert_int_equal(sb.seqs[3], 6);
    assert_string_equal(sb.types[3], "update");
    assert_string_equal(sb.datas[3], "second");
    assert_int_equal(sb.epochs[3], epoch);
    pthread_mutex_unlock(&sb.lock);

    /* The streams hold the events under their sequences. */
    redisReply *rr = redis_cmd("XRANGE {t}:t:sport - +");
    assert_int_equal(rr->type, REDIS_REPLY_ARRAY);
    assert_int_equal(rr->elements, 1);
    assert_string_equal(rr->element[0]->element[0]->str, "5-0");
    freeReplyObject(rr);

    /* The next publish, from the other node, continues the same sequence. */
    const char *one[] = {"news", "", "third"};
    assert_int_equal(publish(b, &x, 1, one), 0);
    assert_int_equal(x.p.epoch, epoch);
    assert_int_equal(x.p.first_seq, 7);
    assert_true(WAIT_FOR(&sb, sb.n_events == 5));

    /* Interest gone: b no longer hears "news". */
    rp_redis_interest(b, "news", 4, false);
    usleep(100000);
    assert_int_equal(publish(a, &x, 1, one), 0);
    usleep(200000);
    pthread_mutex_lock(&sb.lock);
    assert_int_equal(sb.n_events, 5);
    pthread_mutex_unlock(&sb.lock);

    node_free(a, &sa);
    node_free(b, &sb);
}

/* A fill reads the newest stream_max_len events and says what it leaves out. */
static void
fill_says_what_it_leaves_out(void **state)
{
    (void)state;
    struct seen sa, sb;
    struct rp_redis *a = node_new(&sa);
    struct rp_redis *b = node_new(&sb);
    assert_true(WAIT_FOR(&sa, sa.up == 1));
    struct pub x;
    const char *one[] = {"long", "", "e"};
    for (int i = 0; i < 250; i++)
        assert_int_equal(publish(a, &x, 1, one), 0);
    rp_redis_interest(b, "long", 4, true);
    assert_true(WAIT_FOR(&sb, sb.n_fills == 1));
    pthread_mutex_lock(&sb.lock);
    assert_int_equal(sb.n_events, 100); /* stream_max_len */
    assert_int_equal(sb.seqs[99], 250);
    assert_int_equal(sb.seqs[0], 151);
    assert_int_equal(sb.last_lost, 150);
    pthread_mutex_unlock(&sb.lock);
    node_free(a, &sa);
    node_free(b, &sb);
}

struct publisher {
    struct rp_redis *r;
    atomic_bool stop;
    int n;
};

static void *
publisher_main(void *arg)
{
    struct publisher *pb = arg;
    const char *one[] = {"busy", "", "e"};
    while (!atomic_load(&pb->stop) && pb->n < 3000) {
        struct pub x;
        if (publish(pb->r, &x, 1, one) == 0)
            pb->n++;
    }
    return NULL;
}

/* Subscribing while the topic is being published: the fill and the live events join with
 * nothing missed and nothing twice; after the pub/sub connection is cut, the refill brings
 * what was published meanwhile, or says which older part it leaves out. */
static void
fill_joins_live_events(void **state)
{
    (void)state;
    struct seen sa, sb;
    struct rp_redis *a = node_new(&sa);
    struct rp_redis *b = node_new(&sb);
    assert_true(WAIT_FOR(&sa, sa.up == 1));
    assert_true(WAIT_FOR(&sb, sb.up == 1));
    struct publisher pb = {.r = a};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, publisher_main, &pb), 0);
    usleep(50000);
    rp_redis_interest(b, "busy", 4, true);
    usleep(100000);
    /* Cut node b's pub/sub connection while publishing goes on. */
    redisReply *rr = redis_cmd("CLIENT KILL TYPE pubsub");
    freeReplyObject(rr);
    usleep(200000);
    atomic_store(&pb.stop, true);
    pthread_join(th, NULL);
    uint64_t last = (uint64_t)pb.n;
    assert_true(WAIT_FOR(&sb, sb.n_events > 0 && sb.seqs[sb.n_events - 1] == last));
    /* Kept as a receiver keeps them (after what it has): contiguous from the first fill's
     * start to the last, each once, but for ranges a fill declared gone. */
    pthread_mutex_lock(&sb.lock);
    assert_true(sb.n_fills >= 2); /* the first, and the one after the cut */
    uint64_t have = 0, first = sb.seqs[0];
    for (int i = 0; i < sb.n_events; i++) {
        if (sb.seqs[i] <= have)
            continue; /* a refill repeats what the receiver has */
        if (have && sb.seqs[i] != have + 1 && sb.losts[i] < sb.seqs[i] - 1)
            fail_msg("missed %llu..%llu", (unsigned long long)have + 1,
                     (unsigned long long)sb.seqs[i] - 1);
        have = sb.seqs[i];
    }
    assert_int_equal(have, last);
    assert_true(first <= last);
    pthread_mutex_unlock(&sb.lock);
    node_free(a, &sa);
    node_free(b, &sb);
}

static void
down_then_new_epoch(void **state)
{
    (void)state;
    struct seen s;
    struct rp_redis *r = node_new(&s);
    assert_true(WAIT_FOR(&s, s.up == 1));
    struct pub x;
    const char *one[] = {"t", "", "before"};
    assert_int_equal(publish(r, &x, 1, one), 0);
    uint32_t old_epoch = x.p.epoch;

    redis_stop();
    assert_true(WAIT_FOR(&s, s.up == -1));
    assert_false(rp_redis_up(r));
    assert_int_equal(publish(r, &x, 1, one), -ENOTCONN);

    /* Back, empty (no persistence): the log is new, so is its epoch. */
    redis_start();
    assert_true(WAIT_FOR(&s, s.up == 1));
    assert_int_equal(publish(r, &x, 1, one), 0);
    assert_int_not_equal(x.p.epoch, old_epoch);
    assert_int_equal(x.p.first_seq, 1);
    node_free(r, &s);
}

static void
counter_gone_back_is_refused(void **state)
{
    (void)state;
    struct seen s;
    struct rp_redis *r = node_new(&s);
    assert_true(WAIT_FOR(&s, s.up == 1));
    struct pub x;
    const char *two[] = {"c", "", "1", "d", "", "2"};
    assert_int_equal(publish(r, &x, 2, two), 0);
    uint64_t first = x.p.first_seq;

    /* What a failover to a replica that missed the last increments looks like. */
    redisReply *rr = redis_cmd("HSET {t}:meta seq %llu", (unsigned long long)first - 1);
    freeReplyObject(rr);
    const char *again[] = {"d", "", "3", "c", "", "4"};
    assert_int_equal(publish(r, &x, 2, again), -EIO);
    assert_non_null(strstr(x.p.message, "REGRESSED"));
    /* Nothing of the refused batch was stored. */
    rr = redis_cmd("XLEN {t}:t:c");
    assert_int_equal(rr->integer, 1);
    freeReplyObject(rr);
    rr = redis_cmd("HGET {t}:meta seq");
    assert_int_equal(strtoull(rr->str, NULL, 10), first - 1);
    freeReplyObject(rr);
    node_free(r, &s);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sequences_fill_and_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(fill_says_what_it_leaves_out, setup, teardown),
        cmocka_unit_test_setup_teardown(fill_joins_live_events, setup, teardown),
        cmocka_unit_test_setup_teardown(down_then_new_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(counter_gone_back_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
