/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of base/hashmap: get/put/replace/remove, keys compared by length and bytes,
 * growth, tombstone reuse under churn (checked against a plain array as the model), and
 * iteration that sees each live value exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/hashmap.h"

#define N_KEYS 5000

/* Keys must outlive their entries: one static table holds them all. */
static char keys[N_KEYS][16];
static int values[N_KEYS];

static int
setup_keys(void **state)
{
    for (int i = 0; i < N_KEYS; i++) {
        snprintf(keys[i], sizeof(keys[i]), "key-%d", i);
        values[i] = i;
    }
    return 0;
}

static void
put(struct rp_hashmap *m, int i)
{
    rp_hashmap_put(m, keys[i], strlen(keys[i]), &values[i]);
}

static void *
get(const struct rp_hashmap *m, int i)
{
    return rp_hashmap_get(m, keys[i], strlen(keys[i]));
}

static void
test_empty_map(void **state)
{
    struct rp_hashmap m;
    rp_hashmap_init(&m);
    assert_null(rp_hashmap_get(&m, "a", 1));
    assert_null(rp_hashmap_remove(&m, "a", 1));
    size_t pos = 0;
    assert_null(rp_hashmap_next(&m, &pos));
    assert_int_equal(m.count, 0);
    rp_hashmap_fini(&m);
    rp_hashmap_fini(&m);
}

static void
test_put_get_replace_remove(void **state)
{
    struct rp_hashmap m;
    rp_hashmap_init(&m);
    int a = 1, b = 2, c = 3;
    rp_hashmap_put(&m, "alpha", 5, &a);
    rp_hashmap_put(&m, "beta", 4, &b);
    assert_ptr_equal(rp_hashmap_get(&m, "alpha", 5), &a);
    assert_ptr_equal(rp_hashmap_get(&m, "beta", 4), &b);
    assert_null(rp_hashmap_get(&m, "gamma", 5));
    assert_int_equal(m.count, 2);

    rp_hashmap_put(&m, "alpha", 5, &c); /* replace: count unchanged */
    assert_ptr_equal(rp_hashmap_get(&m, "alpha", 5), &c);
    assert_int_equal(m.count, 2);

    assert_ptr_equal(rp_hashmap_remove(&m, "alpha", 5), &c);
    assert_null(rp_hashmap_get(&m, "alpha", 5));
    assert_null(rp_hashmap_remove(&m, "alpha", 5));
    assert_ptr_equal(rp_hashmap_get(&m, "beta", 4), &b);
    assert_int_equal(m.count, 1);

    rp_hashmap_put(&m, "alpha", 5, &a); /* back after removal */
    assert_ptr_equal(rp_hashmap_get(&m, "alpha", 5), &a);
    assert_int_equal(m.count, 2);
    rp_hashmap_fini(&m);
    assert_int_equal(m.count, 0);
    assert_null(m.slots);
}

static void
test_keys_are_bytes_with_length(void **state)
{
    struct rp_hashmap m;
    rp_hashmap_init(&m);
    int v[5];
    rp_hashmap_put(&m, "ab", 2, &v[0]);
    rp_hashmap_put(&m, "abc", 3, &v[1]);
    rp_hashmap_put(&m, "a\0c", 3, &v[2]);
    rp_hashmap_put(&m, "a\0d", 3, &v[3]);
    rp_hashmap_put(&m, "", 0, &v[4]);
    assert_int_equal(m.count, 5);
    assert_ptr_equal(rp_hashmap_get(&m, "abc", 2), &v[0]); /* a prefix by length */
    assert_ptr_equal(rp_hashmap_get(&m, "abc", 3), &v[1]);
    assert_ptr_equal(rp_hashmap_get(&m, "a\0c", 3), &v[2]);
    assert_ptr_equal(rp_hashmap_get(&m, "a\0d", 3), &v[3]);
    assert_ptr_equal(rp_hashmap_get(&m, "", 0), &v[4]);
    assert_null(rp_hashmap_get(&m, "a", 1));
    assert_null(rp_hashmap_get(&m, "ABC", 3));
    rp_hashmap_fini(&m);
}

static void
test_many_keys(void **state)
{
    struct rp_hashmap m;
    rp_hashmap_init(&m);
    for (int i = 0; i < N_KEYS; i++)
        put(&m, i);
    assert_int_equal(m.count, N_KEYS);
    /* At most half full, and a power of two. */
    assert_true(m.n_slots >= 2 * (size_t)N_KEYS);
    assert_int_equal(m.n_slots & (m.n_slots - 1), 0);
    for (int i = 0; i < N_KEYS; i++)
        assert_ptr_equal(get(&m, i), &values[i]);
    for (int i = 0; i < N_KEYS; i += 2)
        assert_ptr_equal(rp_hashmap_remove(&m, keys[i], strlen(keys[i])), &values[i]);
    assert_int_equal(m.count, N_KEYS / 2);
    for (int i = 0; i < N_KEYS; i++) {
        if (i % 2)
            assert_ptr_equal(get(&m, i), &values[i]);
        else
            assert_null(get(&m, i));
    }
    rp_hashmap_fini(&m);
}

static void
test_iteration_sees_each_once(void **state)
{
    struct rp_hashmap m;
    rp_hashmap_init(&m);
    for (int i = 0; i < 1000; i++)
        put(&m, i);
    for (int i = 0; i < 1000; i += 3)
        rp_hashmap_remove(&m, keys[i], strlen(keys[i]));
    int seen[1000] = {0};
    size_t pos = 0, n = 0;
    int *v;
    while ((v = rp_hashmap_next(&m, &pos)) != NULL) {
        assert_true(v >= values && v < values + 1000);
        seen[*v]++;
        n++;
    }
    assert_int_equal(n, m.count);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(seen[i], i % 3 ? 1 : 0);
    rp_hashmap_fini(&m);
}

static uint64_t
xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void
test_churn_against_model(void **state)
{
    /* Random put/remove over a small key set: tombstones pile up and must be recycled
     * (or rehashed away) without losing keys or filling the table. */
    struct rp_hashmap m;
    rp_hashmap_init(&m);
    bool model[64] = {false};
    size_t n_model = 0;
    uint64_t rng = 42;
    for (int step = 0; step < 200000; step++) {
        int k = (int)(xorshift(&rng) % 64);
        if (xorshift(&rng) % 2) {
            put(&m, k);
            n_model += !model[k];
            model[k] = true;
        } else {
            void *v = rp_hashmap_remove(&m, keys[k], strlen(keys[k]));
            assert_ptr_equal(v, model[k] ? &values[k] : NULL);
            n_model -= model[k];
            model[k] = false;
        }
        assert_int_equal(m.count, n_model);
        assert_true((m.count + m.tombstones) * 2 <= m.n_slots);
    }
    for (int k = 0; k < 64; k++)
        assert_ptr_equal(get(&m, k), model[k] ? &values[k] : NULL);
    /* The table stays sized for 64 live keys, not for every insert ever made. */
    assert_true(m.n_slots <= 256);
    rp_hashmap_fini(&m);
}

static void
test_distinct_keys_after_churn(void **state)
{
    /* Fresh keys with removal each time: only tombstones accumulate. */
    struct rp_hashmap m;
    rp_hashmap_init(&m);
    put(&m, 0);
    for (int i = 1; i < N_KEYS; i++) {
        put(&m, i);
        assert_ptr_equal(rp_hashmap_remove(&m, keys[i], strlen(keys[i])), &values[i]);
    }
    assert_int_equal(m.count, 1);
    assert_ptr_equal(get(&m, 0), &values[0]);
    assert_true(m.n_slots <= 16);
    rp_hashmap_fini(&m);
}

static void
test_hash_bytes(void **state)
{
    uint64_t h1 = rp_hash_bytes("hello", 5);
    assert_true(h1 == rp_hash_bytes("hello", 5));
    assert_true(h1 != rp_hash_bytes("hellp", 5));
    assert_true(h1 != rp_hash_bytes("hello", 4));
    assert_true(rp_hash_bytes("", 0) != rp_hash_bytes("\0", 1));
    /* Every length through two 8-byte blocks, so the tail code sees each case. */
    char buf[24];
    memset(buf, 'x', sizeof(buf));
    uint64_t prev = rp_hash_bytes(buf, 0);
    for (size_t n = 1; n <= sizeof(buf); n++) {
        uint64_t h = rp_hash_bytes(buf, n);
        assert_true(h != prev);
        prev = h;
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_map),
        cmocka_unit_test(test_put_get_replace_remove),
        cmocka_unit_test(test_keys_are_bytes_with_length),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_iteration_sees_each_once),
        cmocka_unit_test(test_churn_against_model),
        cmocka_unit_test(test_distinct_keys_after_churn),
        cmocka_unit_test(test_hash_bytes),
    };
    return cmocka_run_group_tests(tests, setup_keys, NULL);
}
