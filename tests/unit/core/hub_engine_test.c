/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the hub's side of the log engine (core/hub_engine.c) against a recording
 * engine: committed events reach it in sequence order, duplicates left out, from many
 * publishing threads at once; a full queue, a failed engine and a reservation that is
 * behind refuse publishes before anything is sequenced, with the status a user sees; what
 * the engine refused is handed over again, in order, once it has room; sequences handed out
 * without an append (taken in, skipped) are told to the engine; rp_hub_forget_all makes a
 * gap for old and new topics.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hub.h"
#include "core/logengine.h"

/* The recording engine. */
struct rec_engine {
    struct rp_logengine base;
    pthread_mutex_t lock;
    uint64_t *seqs; /* every appended event's sequence, in append order */
    size_t n, cap;
    uint32_t epoch;
    int refuse; /* the next <refuse> appends get -EAGAIN */
    _Atomic uint64_t reserved;
    _Atomic uint64_t handed; /* the newest handed_out */
};

static int
rec_append(struct rp_logengine *e, struct rp_logengine_batch *b)
{
    struct rec_engine *r = (struct rec_engine *)e;
    pthread_mutex_lock(&r->lock);
    if (r->refuse > 0) {
        r->refuse--;
        pthread_mutex_unlock(&r->lock);
        return -EAGAIN;
    }
    r->epoch = b->epoch;
    for (size_t i = 0; i < b->n; i++) {
        if (r->n == r->cap) {
            r->cap = r->cap ? 2 * r->cap : 1024;
            r->seqs = realloc(r->seqs, r->cap * sizeof(*r->seqs));
        }
        r->seqs[r->n++] = b->evs[i].seq;
    }
    pthread_mutex_unlock(&r->lock);
    rp_logengine_batch_free(b);
    return 0;
}

static uint64_t
rec_durable(const struct rp_logengine *e)
{
    (void)e;
    return 0;
}

static uint64_t
rec_reserved(const struct rp_logengine *e)
{
    return atomic_load(&((const struct rec_engine *)e)->reserved);
}

static void
rec_handed_out(struct rp_logengine *e, uint32_t epoch, uint64_t seq)
{
    atomic_store(&((struct rec_engine *)e)->handed, seq);
}

static const struct rp_logengine_ops rec_ops = {
    .name = "recording",
    .append = rec_append,
    .durable_seq = rec_durable,
    .reserved_seq = rec_reserved,
    .handed_out = rec_handed_out,
};

static void
policy_for(void *ctx, const char *name, size_t len, struct rp_topic_policy *out)
{
    (void)ctx;
    (void)name;
    (void)len;
    *out = (struct rp_topic_policy){
        .history = {.max_count = 100000, .max_bytes = 1 << 30, .max_age_ms = 3600000},
        .lag_events = 1000,
        .lag_bytes = 1 << 20,
    };
}

struct fixture {
    struct rp_hub *hub;
    struct rec_engine eng;
};

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct rp_hub_config config = {.max_topics = 1000, .max_data = 1 << 20, .epoch = 77};
    struct rp_hub_hooks hooks = {.policy_for = policy_for};
    fx->hub = rp_hub_new(&config, &hooks);
    fx->eng.base.ops = &rec_ops;
    pthread_mutex_init(&fx->eng.lock, NULL);
    atomic_init(&fx->eng.reserved, UINT64_MAX);
    rp_hub_set_engine(fx->hub, &fx->eng.base);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    rp_hub_set_engine(fx->hub, NULL);
    rp_hub_free(fx->hub);
    free(fx->eng.seqs);
    pthread_mutex_destroy(&fx->eng.lock);
    free(fx);
    return 0;
}

static int
publish(struct rp_hub *hub, const char *topic, const char *data, const char *pub_id,
        struct rp_hub_error *err)
{
    struct rp_publish_item it = {
        .topic = topic,
        .topic_len = strlen(topic),
        .data = data,
        .data_len = strlen(data),
        .pub_id = pub_id,
        .pub_id_len = pub_id ? strlen(pub_id) : 0,
    };
    struct rp_publish_result res;
    struct rp_hub_error scratch;
    return rp_hub_publish(hub, &it, 1, &res, err ? err : &scratch);
}

static void
test_appends_in_order_without_duplicates(void **state)
{
    struct fixture *fx = *state;
    struct rp_publish_item items[3] = {
        {.topic = "a", .topic_len = 1, .data = "1", .data_len = 1, .pub_id = "k", .pub_id_len = 1},
        {.topic = "b", .topic_len = 1, .data = "2", .data_len = 1},
        {.topic = "a", .topic_len = 1, .data = "3", .data_len = 1},
    };
    struct rp_publish_result res[3];
    struct rp_hub_error err;
    assert_int_equal(rp_hub_publish(fx->hub, items, 3, res, &err), 0);
    /* The same publisher id again: a duplicate, not appended to the engine either. */
    assert_int_equal(publish(fx->hub, "a", "1", "k", NULL), 0);
    assert_int_equal(publish(fx->hub, "c", "4", NULL, NULL), 0);
    assert_int_equal(fx->eng.n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(fx->eng.seqs[i], i + 1);
    assert_int_equal(fx->eng.epoch, 77);
}

static void
test_full_queue_refuses_then_hands_over_in_order(void **state)
{
    struct fixture *fx = *state;
    struct rp_hub_error err;
    assert_int_equal(publish(fx->hub, "a", "1", NULL, NULL), 0);
    fx->eng.refuse = 1;
    /* Sequenced and delivered (it is in the hub); the engine takes it later. */
    assert_int_equal(publish(fx->hub, "a", "2", NULL, NULL), 0);
    assert_int_equal(fx->eng.n, 1);
    /* While the engine is behind, publishes are refused before sequencing. */
    assert_int_equal(publish(fx->hub, "a", "3", NULL, &err), -EBUSY);
    assert_int_equal(err.status, 503);
    assert_non_null(strstr(err.message, "behind"));
    assert_int_equal(rp_hub_last_seq(fx->hub), 2);
    rp_hub_engine_progress(fx->hub); /* the engine's durable hook */
    assert_int_equal(fx->eng.n, 2);
    assert_int_equal(publish(fx->hub, "a", "3", NULL, NULL), 0);
    assert_int_equal(fx->eng.n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(fx->eng.seqs[i], i + 1);
}

static void
test_failed_engine_refuses_with_status(void **state)
{
    struct fixture *fx = *state;
    struct rp_hub_error err;
    rp_hub_engine_state(fx->hub, -ENOSPC);
    assert_int_equal(rp_hub_engine_error(fx->hub), -ENOSPC);
    assert_int_equal(publish(fx->hub, "a", "1", NULL, &err), -EIO);
    assert_int_equal(err.status, 507);
    assert_non_null(strstr(err.message, "No space left on device"));
    rp_hub_engine_state(fx->hub, -EIO);
    assert_int_equal(publish(fx->hub, "a", "1", NULL, &err), -EIO);
    assert_int_equal(err.status, 503);
    assert_int_equal(rp_hub_last_seq(fx->hub), 0);
    assert_int_equal(fx->eng.n, 0);
    rp_hub_engine_state(fx->hub, 0);
    assert_int_equal(publish(fx->hub, "a", "1", NULL, NULL), 0);
    assert_int_equal(fx->eng.n, 1);
}

static void
test_reservation_behind_refuses(void **state)
{
    struct fixture *fx = *state;
    struct rp_hub_error err;
    atomic_store(&fx->eng.reserved, 2);
    assert_int_equal(publish(fx->hub, "a", "1", NULL, NULL), 0);
    assert_int_equal(publish(fx->hub, "a", "2", NULL, NULL), 0);
    assert_int_equal(publish(fx->hub, "a", "3", NULL, &err), -EBUSY);
    assert_int_equal(err.status, 503);
    assert_int_equal(rp_hub_last_seq(fx->hub), 2);
    atomic_store(&fx->eng.reserved, 10);
    assert_int_equal(publish(fx->hub, "a", "3", NULL, NULL), 0);
    assert_int_equal(rp_hub_last_seq(fx->hub), 3);
}

/* Sequences the hub hands out without appending (taken in, skipped) reach the engine, so
 * that its reservation can cover them; published ones are appended instead. */
static void
test_taken_in_sequences_reach_the_engine(void **state)
{
    struct fixture *fx = *state;
    struct rp_ingest_event evs[3];
    for (size_t i = 0; i < 3; i++)
        evs[i] = (struct rp_ingest_event){
            .item = {.topic = "peer", .topic_len = 4, .data = "x", .data_len = 1},
            .seq = 1 + i,
        };
    struct rp_hub_error err;
    assert_int_equal(rp_hub_ingest(fx->hub, evs, 3, &err), 0);
    assert_int_equal(atomic_load(&fx->eng.handed), 3);
    assert_int_equal(fx->eng.n, 0); /* taken in, not appended */
    rp_hub_advance_seq(fx->hub, 10);
    assert_int_equal(atomic_load(&fx->eng.handed), 10);
    assert_int_equal(publish(fx->hub, "a", "1", NULL, NULL), 0);
    assert_int_equal(fx->eng.n, 1);
    assert_int_equal(fx->eng.seqs[0], 11);
    /* A refused ingest hands nothing out. */
    evs[0].seq = 5;
    assert_int_equal(rp_hub_ingest(fx->hub, evs, 1, &err), -ERANGE);
    assert_int_equal(atomic_load(&fx->eng.handed), 10);
}

struct publisher {
    struct rp_hub *hub;
    int id;
};

static void *
publisher_main(void *arg)
{
    struct publisher *p = arg;
    char topic[16];
    snprintf(topic, sizeof(topic), "t%d", p->id);
    for (int i = 0; i < 2000; i++)
        if (publish(p->hub, topic, "x", NULL, NULL) != 0)
            return (void *)1;
    return NULL;
}

static void
test_many_publishers_append_in_sequence_order(void **state)
{
    struct fixture *fx = *state;
    pthread_t th[4];
    struct publisher ps[4];
    for (int i = 0; i < 4; i++) {
        ps[i] = (struct publisher){fx->hub, i};
        assert_int_equal(pthread_create(&th[i], NULL, publisher_main, &ps[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        assert_null(rc);
    }
    assert_int_equal(fx->eng.n, 8000);
    for (size_t i = 0; i < 8000; i++)
        assert_int_equal(fx->eng.seqs[i], i + 1);
}

static void
test_forget_all_is_a_gap_for_old_and_new_topics(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(publish(fx->hub, "old", "1", NULL, NULL), 0);
    rp_hub_advance_seq(fx->hub, 100);
    rp_hub_forget_all(fx->hub, 100);
    assert_int_equal(rp_hub_lost_seq(fx->hub), 100);
    const char *why;
    struct rp_topic_lag lag;
    rp_topic_lag(rp_hub_topic(fx->hub, "old", 3, &why), 1, &lag);
    assert_true(lag.gap); /* events 2..100 may have been of this topic */
    rp_topic_lag(rp_hub_topic(fx->hub, "new", 3, &why), 50, &lag);
    assert_true(lag.gap);
    rp_topic_lag(rp_hub_topic(fx->hub, "new", 3, &why), 100, &lag);
    assert_false(lag.gap); /* a reader that saw everything up to the loss missed nothing */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_appends_in_order_without_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_refuses_then_hands_over_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_engine_refuses_with_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reservation_behind_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_taken_in_sequences_reach_the_engine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_publishers_append_in_sequence_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forget_all_is_a_gap_for_old_and_new_topics, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
