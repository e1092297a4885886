/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of base/qsbr: an object retired while a slot is online waits until that
 * slot goes offline or passes a quiescent state; slots that are offline, or came online
 * after the retire, hold nothing back; stamps pass once every slot moved past them; slots
 * are bounded and reusable; the domain frees what is left. A threaded test (run it under
 * TSan and ASan) swaps a shared object under readers that go on- and offline the way
 * workers do, with a reclaimer freeing concurrently: no reader ever sees a freed object.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/qsbr.h"

static atomic_int n_freed;

static void
count_free(void *ptr)
{
    (void)ptr;
    atomic_fetch_add(&n_freed, 1);
}

static int
reset(void **state)
{
    (void)state;
    atomic_store(&n_freed, 0);
    return 0;
}

static int obj[8]; /* retired "objects": only their addresses matter */

static void
test_no_slot_frees_at_once(void **state)
{
    (void)state;
    struct rp_qsbr *q = rp_qsbr_new(4);
    rp_qsbr_retire(q, &obj[0], count_free);
    assert_int_equal(rp_qsbr_pending(q), 1);
    assert_int_equal(rp_qsbr_reclaim(q), 1);
    assert_int_equal(atomic_load(&n_freed), 1);
    assert_int_equal(rp_qsbr_pending(q), 0);
    assert_int_equal(rp_qsbr_reclaim(q), 0);
    rp_qsbr_free(q);
}

static void
test_online_slot_holds_until_quiescent(void **state)
{
    (void)state;
    struct rp_qsbr *q = rp_qsbr_new(4);
    struct rp_qsbr_slot *a = rp_qsbr_register(q), *b = rp_qsbr_register(q);
    assert_non_null(a);
    assert_non_null(b);
    rp_qsbr_online(a);
    rp_qsbr_retire(q, &obj[0], count_free);
    /* b is offline: it holds nothing back. a may hold obj[0]. */
    assert_int_equal(rp_qsbr_reclaim(q), 0);
    /* b comes online after the retire: it cannot have found obj[0]. */
    rp_qsbr_online(b);
    assert_int_equal(rp_qsbr_reclaim(q), 0);
    rp_qsbr_quiescent(a);
    assert_int_equal(rp_qsbr_reclaim(q), 1);

    /* Offline releases too; an object retired later waits for both again. */
    rp_qsbr_retire(q, &obj[1], count_free);
    rp_qsbr_offline(a);
    assert_int_equal(rp_qsbr_reclaim(q), 0); /* b is still online since before */
    rp_qsbr_online(b);
    assert_int_equal(rp_qsbr_reclaim(q), 1);

    /* Objects are freed oldest first, each once its own grace period is over. */
    rp_qsbr_retire(q, &obj[2], count_free);
    rp_qsbr_quiescent(b);
    rp_qsbr_retire(q, &obj[3], count_free);
    assert_int_equal(rp_qsbr_reclaim(q), 1);
    assert_int_equal(rp_qsbr_pending(q), 1);
    rp_qsbr_offline(b);
    assert_int_equal(rp_qsbr_reclaim(q), 1);
    assert_int_equal(atomic_load(&n_freed), 4);
    rp_qsbr_unregister(a);
    rp_qsbr_unregister(b);
    rp_qsbr_free(q);
}

static void
test_stamps_pass_after_every_slot_moved_on(void **state)
{
    (void)state;
    struct rp_qsbr *q = rp_qsbr_new(4);
    struct rp_qsbr_slot *a = rp_qsbr_register(q), *b = rp_qsbr_register(q);
    rp_qsbr_online(a);
    uint64_t stamp = rp_qsbr_epoch(q); /* a may hold what was handed out now */
    assert_false(rp_qsbr_passed(q, stamp));
    rp_qsbr_quiescent(a); /* same epoch: a might have looked it up again since */
    assert_false(rp_qsbr_passed(q, stamp));
    assert_int_equal(rp_qsbr_advance(q), stamp);
    assert_int_equal(rp_qsbr_epoch(q), stamp + 1);
    assert_false(rp_qsbr_passed(q, stamp));
    rp_qsbr_online(b); /* came online in the new epoch */
    assert_false(rp_qsbr_passed(q, stamp));
    rp_qsbr_quiescent(a);
    assert_true(rp_qsbr_passed(q, stamp));
    assert_false(rp_qsbr_passed(q, stamp + 1));
    rp_qsbr_offline(a);
    rp_qsbr_offline(b);
    assert_true(rp_qsbr_passed(q, stamp + 1)); /* everyone offline */
    rp_qsbr_unregister(a);
    rp_qsbr_unregister(b);
    rp_qsbr_free(q);
}

static void
test_slots_are_bounded_and_reused(void **state)
{
    (void)state;
    struct rp_qsbr *q = rp_qsbr_new(2);
    struct rp_qsbr_slot *a = rp_qsbr_register(q), *b = rp_qsbr_register(q);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(rp_qsbr_register(q));
    rp_qsbr_unregister(a);
    struct rp_qsbr_slot *c = rp_qsbr_register(q);
    assert_ptr_equal(c, a);
    /* A slot given back and taken again starts offline. */
    rp_qsbr_retire(q, &obj[0], count_free);
    assert_int_equal(rp_qsbr_reclaim(q), 1);
    rp_qsbr_unregister(NULL);
    rp_qsbr_unregister(b);
    rp_qsbr_unregister(c);
    rp_qsbr_free(q);
}

static void
test_free_frees_what_is_left(void **state)
{
    (void)state;
    struct rp_qsbr *q = rp_qsbr_new(1);
    struct rp_qsbr_slot *a = rp_qsbr_register(q);
    rp_qsbr_online(a);
    for (int i = 0; i < 8; i++)
        rp_qsbr_retire(q, &obj[i], count_free);
    assert_int_equal(rp_qsbr_reclaim(q), 0);
    rp_qsbr_offline(a);
    rp_qsbr_unregister(a);
    rp_qsbr_free(q);
    assert_int_equal(atomic_load(&n_freed), 8);
    rp_qsbr_free(NULL);
}

/* --- Threaded: readers as workers, a writer swapping the object, a reclaimer. --- */

#define N_READERS 3
#define N_SWAPS 20000
#define MAGIC 0x5eed5eedu

struct thing {
    unsigned magic;
    unsigned serial;
};

struct shared {
    struct rp_qsbr *q;
    _Atomic(struct thing *) current;
    atomic_bool done;
    atomic_long reads;
    atomic_int bad;
};

static void
free_thing(void *ptr)
{
    struct thing *t = ptr;
    t->magic = 0; /* a reader that still saw it would notice (and TSan reports the race) */
    free(t);
    atomic_fetch_add(&n_freed, 1);
}

static void *
reader_main(void *arg)
{
    struct shared *sh = arg;
    struct rp_qsbr_slot *slot = rp_qsbr_register(sh->q);
    assert_non_null(slot);
    unsigned turn = 0;
    while (!atomic_load(&sh->done)) {
        rp_qsbr_online(slot); /* the start of a loop turn */
        struct thing *t = atomic_load(&sh->current);
        /* Hold it for a while, across other loads, as a worker holds a topic. */
        for (int i = 0; i < 8; i++) {
            if (t->magic != MAGIC)
                atomic_fetch_add(&sh->bad, 1);
            sched_yield();
        }
        atomic_fetch_add(&sh->reads, 1);
        if (++turn % 4 == 0) {
            rp_qsbr_offline(slot); /* about to sleep */
            sched_yield();
        }
    }
    rp_qsbr_offline(slot);
    rp_qsbr_unregister(slot);
    return NULL;
}

static void *
writer_main(void *arg)
{
    struct shared *sh = arg;
    while (atomic_load(&sh->reads) < N_READERS)
        sched_yield(); /* the readers are running */
    for (unsigned i = 1; i <= N_SWAPS; i++) {
        if (i % 16 == 0)
            sched_yield();
        struct thing *t = malloc(sizeof(*t));
        *t = (struct thing){MAGIC, i};
        struct thing *old = atomic_exchange(&sh->current, t);
        rp_qsbr_retire(sh->q, old, free_thing);
    }
    return NULL;
}

static void *
reclaimer_main(void *arg)
{
    struct shared *sh = arg;
    while (!atomic_load(&sh->done)) {
        rp_qsbr_reclaim(sh->q);
        sched_yield();
    }
    return NULL;
}

static void
test_threaded_readers_never_see_freed_objects(void **state)
{
    (void)state;
    static struct shared sh;
    memset(&sh, 0, sizeof(sh));
    sh.q = rp_qsbr_new(N_READERS + 1);
    struct thing *first = malloc(sizeof(*first));
    *first = (struct thing){MAGIC, 0};
    atomic_init(&sh.current, first);
    pthread_t readers[N_READERS], writer, reclaimer;
    for (int i = 0; i < N_READERS; i++)
        assert_int_equal(pthread_create(&readers[i], NULL, reader_main, &sh), 0);
    assert_int_equal(pthread_create(&reclaimer, NULL, reclaimer_main, &sh), 0);
    assert_int_equal(pthread_create(&writer, NULL, writer_main, &sh), 0);
    pthread_join(writer, NULL);
    long reads = atomic_load(&sh.reads);
    while (atomic_load(&sh.reads) < reads + 1000)
        sched_yield(); /* and read after the last swap too */
    atomic_store(&sh.done, true);
    for (int i = 0; i < N_READERS; i++)
        pthread_join(readers[i], NULL);
    pthread_join(reclaimer, NULL);
    assert_int_equal(atomic_load(&sh.bad), 0);
    /* Every slot is offline now: everything retired goes. */
    rp_qsbr_reclaim(sh.q);
    assert_int_equal(rp_qsbr_pending(sh.q), 0);
    assert_int_equal(atomic_load(&n_freed), N_SWAPS);
    free_thing(atomic_load(&sh.current));
    rp_qsbr_free(sh.q);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_no_slot_frees_at_once, reset),
        cmocka_unit_test_setup(test_online_slot_holds_until_quiescent, reset),
        cmocka_unit_test_setup(test_stamps_pass_after_every_slot_moved_on, reset),
        cmocka_unit_test_setup(test_slots_are_bounded_and_reused, reset),
        cmocka_unit_test_setup(test_free_frees_what_is_left, reset),
        cmocka_unit_test_setup(test_threaded_readers_never_see_freed_objects, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
