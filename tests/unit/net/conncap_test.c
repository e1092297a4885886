/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of net/conncap: the per-address, total and address-table caps with their
 * distinct error codes, release freeing the slot and dropping empty entries, unlimited
 * caps, trusted proxies counted in the total first and under their client later, adopted
 * connections counted past the caps, and several threads acquiring and releasing without
 * ever passing the total cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include <cmocka.h>

#include "net/addr_key.h"
#include "net/conncap.h"

static struct rp_addr_key
key(unsigned n)
{
    struct rp_addr_key k;
    char text[32];
    snprintf(text, sizeof(text), "2001:db8::%x", n);
    assert_int_equal(rp_addr_key_parse(text, strlen(text), &k), 0);
    return k;
}

static int
acquire(struct rp_conncap *cap, unsigned n)
{
    struct rp_addr_key k = key(n);
    return rp_conncap_acquire(cap, &k);
}

static void
release(struct rp_conncap *cap, unsigned n)
{
    struct rp_addr_key k = key(n);
    rp_conncap_release(cap, &k);
}

static size_t
count(struct rp_conncap *cap, unsigned n)
{
    struct rp_addr_key k = key(n);
    return rp_conncap_count(cap, &k);
}

static void
test_per_address_cap(void **state)
{
    struct rp_conncap *cap = rp_conncap_new(2, 0, 0);
    assert_int_equal(acquire(cap, 1), 0);
    assert_int_equal(acquire(cap, 1), 0);
    assert_int_equal(acquire(cap, 1), -EUSERS);
    assert_int_equal(acquire(cap, 2), 0);
    assert_int_equal(count(cap, 1), 2);
    assert_int_equal(count(cap, 2), 1);
    assert_int_equal(count(cap, 3), 0);
    assert_int_equal(rp_conncap_total(cap), 3);

    release(cap, 1);
    assert_int_equal(count(cap, 1), 1);
    assert_int_equal(acquire(cap, 1), 0);
    assert_int_equal(acquire(cap, 1), -EUSERS);
    assert_int_equal(rp_conncap_total(cap), 3);
    rp_conncap_free(cap);
}

static void
test_total_cap(void **state)
{
    struct rp_conncap *cap = rp_conncap_new(0, 3, 0);
    assert_int_equal(acquire(cap, 1), 0);
    assert_int_equal(acquire(cap, 2), 0);
    assert_int_equal(acquire(cap, 2), 0);
    assert_int_equal(acquire(cap, 4), -EMFILE);
    assert_int_equal(acquire(cap, 1), -EMFILE);
    assert_int_equal(rp_conncap_total(cap), 3);
    assert_int_equal(count(cap, 4), 0);
    assert_int_equal(rp_conncap_n_keys(cap), 2);

    release(cap, 2);
    assert_int_equal(acquire(cap, 4), 0);
    assert_int_equal(acquire(cap, 5), -EMFILE);
    assert_int_equal(rp_conncap_total(cap), 3);
    rp_conncap_free(cap);
}

static void
test_per_address_checked_before_total(void **state)
{
    struct rp_conncap *cap = rp_conncap_new(1, 1, 0);
    assert_int_equal(acquire(cap, 1), 0);
    assert_int_equal(acquire(cap, 1), -EUSERS);
    assert_int_equal(acquire(cap, 2), -EMFILE);
    rp_conncap_free(cap);
}

static void
test_release_removes_empty_entries(void **state)
{
    struct rp_conncap *cap = rp_conncap_new(0, 0, 0);
    for (unsigned i = 0; i < 100; i++) {
        assert_int_equal(acquire(cap, i), 0);
        assert_int_equal(acquire(cap, i), 0);
    }
    assert_int_equal(rp_conncap_n_keys(cap), 100);
    assert_int_equal(rp_conncap_total(cap), 200);
    for (unsigned i = 0; i < 100; i++)
        release(cap, i);
    assert_int_equal(rp_conncap_n_keys(cap), 100);
    for (unsigned i = 0; i < 100; i++)
        release(cap, i);
    assert_int_equal(rp_conncap_n_keys(cap), 0);
    assert_int_equal(rp_conncap_total(cap), 0);
    assert_int_equal(count(cap, 7), 0);
    rp_conncap_free(cap);
}

static void
test_unlimited(void **state)
{
    struct rp_conncap *cap = rp_conncap_new(0, 0, 0);
    for (unsigned i = 0; i < 5000; i++)
        assert_int_equal(acquire(cap, i % 2), 0);
    assert_int_equal(count(cap, 0), 2500);
    assert_int_equal(rp_conncap_total(cap), 5000);
    /* Freed with connections still counted: free releases the entries. */
    rp_conncap_free(cap);
    rp_conncap_free(NULL);
}

static void
test_address_table_cap(void **state)
{
    struct rp_conncap *cap = rp_conncap_new(0, 0, 2);
    assert_int_equal(acquire(cap, 1), 0);
    assert_int_equal(acquire(cap, 2), 0);
    assert_int_equal(acquire(cap, 3), -ENOSPC);
    assert_int_equal(acquire(cap, 1), 0); /* a held address still gets more */
    assert_int_equal(rp_conncap_total(cap), 3);
    assert_int_equal(rp_conncap_n_keys(cap), 2);
    release(cap, 2);
    assert_int_equal(acquire(cap, 3), 0);
    assert_int_equal(acquire(cap, 2), -ENOSPC);
    assert_int_equal(rp_conncap_total(cap), 3);
    rp_conncap_free(cap);
}

static void
test_v4_and_mapped_share_a_count(void **state)
{
    struct rp_conncap *cap = rp_conncap_new(1, 0, 0);
    struct rp_addr_key a, b;
    assert_int_equal(rp_addr_key_parse("203.0.113.9", 11, &a), 0);
    assert_int_equal(rp_addr_key_parse("::ffff:203.0.113.9", 18, &b), 0);
    assert_int_equal(rp_conncap_acquire(cap, &a), 0);
    assert_int_equal(rp_conncap_acquire(cap, &b), -EUSERS);
    rp_conncap_release(cap, &b);
    assert_int_equal(rp_conncap_count(cap, &a), 0);
    rp_conncap_free(cap);
}

static void
test_proxy_counted_in_total_then_by_client(void **state)
{
    struct rp_conncap *cap = rp_conncap_new(1, 3, 0);
    struct rp_addr_key proxy = key(9), client = key(1);
    rp_conncap_set_proxies(cap, &proxy, 1);
    assert_true(rp_conncap_is_proxy(cap, &proxy));
    assert_false(rp_conncap_is_proxy(cap, &client));
    /* Accepted from the proxy: the total only, so the proxy is not held to one. */
    assert_int_equal(rp_conncap_acquire(cap, NULL), 0);
    assert_int_equal(rp_conncap_acquire(cap, NULL), 0);
    assert_int_equal(rp_conncap_total(cap), 2);
    assert_int_equal(rp_conncap_count(cap, &proxy), 0);
    /* The first requests name the same client: the second is over its cap. */
    assert_int_equal(rp_conncap_acquire_key(cap, &client), 0);
    assert_int_equal(rp_conncap_acquire_key(cap, &client), -EUSERS);
    assert_int_equal(rp_conncap_count(cap, &client), 1);
    assert_int_equal(rp_conncap_total(cap), 2);
    assert_int_equal(rp_conncap_acquire(cap, NULL), 0);
    assert_int_equal(rp_conncap_acquire(cap, NULL), -EMFILE);
    rp_conncap_release(cap, &client);
    rp_conncap_release(cap, NULL);
    rp_conncap_release(cap, NULL);
    assert_int_equal(rp_conncap_total(cap), 0);
    assert_int_equal(rp_conncap_n_keys(cap), 0);
    rp_conncap_set_proxies(cap, NULL, 0);
    assert_false(rp_conncap_is_proxy(cap, &proxy));
    rp_conncap_free(cap);
}

static void
test_adopted_past_the_caps(void **state)
{
    struct rp_conncap *cap = rp_conncap_new(1, 2, 1);
    struct rp_addr_key a = key(1), b = key(2);
    rp_conncap_adopt(cap, &a);
    rp_conncap_adopt(cap, &a);
    rp_conncap_adopt(cap, &b);
    rp_conncap_adopt(cap, NULL);
    assert_int_equal(rp_conncap_total(cap), 4);
    assert_int_equal(rp_conncap_count(cap, &a), 2);
    assert_int_equal(rp_conncap_acquire(cap, &a), -EUSERS);
    assert_int_equal(acquire(cap, 3), -EMFILE);
    rp_conncap_release(cap, &a);
    rp_conncap_release(cap, &b);
    rp_conncap_release(cap, NULL);
    assert_int_equal(acquire(cap, 3), -ENOSPC); /* a still holds the one address slot */
    rp_conncap_release(cap, &a);
    assert_int_equal(acquire(cap, 3), 0);
    rp_conncap_free(cap);
}

#define N_THREADS 4
#define N_ROUNDS 20000
#define TOTAL_CAP 10

struct worker {
    struct rp_conncap *cap;
    unsigned id;
    unsigned ok, refused;
    bool over;
};

static void *
worker_run(void *arg)
{
    struct worker *w = arg;
    for (unsigned i = 0; i < N_ROUNDS; i++) {
        struct rp_addr_key k = key((w->id + i) % 6);
        int err = rp_conncap_acquire(w->cap, &k);
        if (err) {
            if (err != -EMFILE && err != -EUSERS)
                w->over = true;
            w->refused++;
            continue;
        }
        w->ok++;
        if (rp_conncap_total(w->cap) > TOTAL_CAP || rp_conncap_count(w->cap, &k) > 3)
            w->over = true;
        rp_conncap_release(w->cap, &k);
    }
    return NULL;
}

static void
test_threads(void **state)
{
    struct rp_conncap *cap = rp_conncap_new(3, TOTAL_CAP, 0);
    pthread_t th[N_THREADS];
    struct worker w[N_THREADS];
    for (unsigned i = 0; i < N_THREADS; i++) {
        w[i] = (struct worker){.cap = cap, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    unsigned ok = 0;
    for (unsigned i = 0; i < N_THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_false(w[i].over);
        ok += w[i].ok;
    }
    assert_true(ok > 0);
    assert_int_equal(rp_conncap_total(cap), 0);
    assert_int_equal(rp_conncap_n_keys(cap), 0);
    rp_conncap_free(cap);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_address_cap),
        cmocka_unit_test(test_total_cap),
        cmocka_unit_test(test_per_address_checked_before_total),
        cmocka_unit_test(test_release_removes_empty_entries),
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_address_table_cap),
        cmocka_unit_test(test_v4_and_mapped_share_a_count),
        cmocka_unit_test(test_proxy_counted_in_total_then_by_client),
        cmocka_unit_test(test_adopted_past_the_caps),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
