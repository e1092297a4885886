/* SPDX-License-Identifier: MIT */
/* The interest snapshot's Bloom filter: no false negatives, and a measured false-positive
 * rate near the one it was sized for. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/bloom.h"

/* Fills a filter sized for <n> at <fpr> with n topics, then asks n others. */
static double
measured_rate(uint64_t n, double fpr)
{
    struct rp_bloom b;
    char key[64];
    assert_int_equal(rp_bloom_init(&b, n, fpr), 0);
    for (uint64_t i = 0; i < n; i++) {
        int len = snprintf(key, sizeof(key), "room/%llu/chat", (unsigned long long)i);
        rp_bloom_add(&b, key, (size_t)len);
    }
    for (uint64_t i = 0; i < n; i++) {
        int len = snprintf(key, sizeof(key), "room/%llu/chat", (unsigned long long)i);
        assert_true(rp_bloom_maybe(&b, key, (size_t)len)); /* never a false "no" */
    }
    uint64_t yes = 0;
    for (uint64_t i = 0; i < n; i++) {
        int len = snprintf(key, sizeof(key), "other/%llu", (unsigned long long)i);
        yes += rp_bloom_maybe(&b, key, (size_t)len);
    }
    rp_bloom_fini(&b);
    return (double)yes / (double)n;
}

static void
rate_near_target(void **state)
{
    (void)state;
    const double targets[] = {0.1, 0.01, 0.001};
    for (size_t i = 0; i < 3; i++) {
        double r = measured_rate(100000, targets[i]);
        print_message("fpr %.3f: measured %.5f\n", targets[i], r);
        assert_true(r <= targets[i] * 1.3);
        assert_true(r >= targets[i] * 0.5); /* sized, not grossly oversized */
    }
}

static void
empty_and_copied(void **state)
{
    (void)state;
    struct rp_bloom b, c;
    assert_int_equal(rp_bloom_init(&b, 1000, 0.01), 0);
    assert_false(rp_bloom_maybe(&b, "a", 1));
    rp_bloom_add(&b, "chat/a", 6);
    assert_true(rp_bloom_maybe(&b, "chat/a", 6));
    /* What a peer rebuilds from the snapshot answers the same. */
    assert_int_equal(rp_bloom_init_from(&c, b.bits, b.n_bits, b.hashes), 0);
    assert_true(rp_bloom_maybe(&c, "chat/a", 6));
    assert_false(rp_bloom_maybe(&c, "chat/b", 6));
    rp_bloom_clear(&b);
    assert_false(rp_bloom_maybe(&b, "chat/a", 6));
    rp_bloom_fini(&b);
    rp_bloom_fini(&c);
    assert_int_equal(rp_bloom_init(&b, 0, 0.01), -EINVAL);
    assert_int_equal(rp_bloom_init(&b, 10, 1.5), -EINVAL);
    uint8_t bits[8] = {0};
    assert_int_equal(rp_bloom_init_from(&c, bits, 12, 3), -EINVAL);
    assert_int_equal(rp_bloom_init_from(&c, bits, 64, 0), -EINVAL);
}

static void
sized_by_the_formula(void **state)
{
    (void)state;
    struct rp_bloom b;
    /* 1,000,000 at 0.01: about 9.6 bits and 7 hashes per entry (1.2 MB). */
    assert_int_equal(rp_bloom_init(&b, 1000000, 0.01), 0);
    assert_true(b.n_bits >= 9585000 && b.n_bits <= 9586000);
    assert_int_equal(b.hashes, 7);
    rp_bloom_fini(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rate_near_target),
        cmocka_unit_test(empty_and_copied),
        cmocka_unit_test(sized_by_the_formula),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
