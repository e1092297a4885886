/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of auth/token_cache: miss -> pending -> resolve -> hit with a deep-copied
 * grant, abandon, TTLs (answer ttl capped at max_ttl, shorter negative TTL, the grant's own
 * expiry), UNAVAILABLE not cached, LRU by use, PENDING never evicted, stale-if-error
 * (allow_stale), one waiter notification per resolution, and four threads sharing the
 * cache with each token verified exactly once (run under TSan in build-tsan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pthread.h>
#include <stdatomic.h>

#include <cmocka.h>

#include "auth/token_cache.h"

#define WALL INT64_C(1700000000000)

static atomic_int n_resolved_calls;

static void
on_resolved(void *ctx)
{
    atomic_fetch_add(&n_resolved_calls, 1);
    atomic_fetch_add((atomic_int *)ctx, 1);
}

static atomic_int calls;

static struct rp_token_cache *
cache_new(size_t max, int64_t max_ttl, int64_t neg_ttl)
{
    atomic_store(&calls, 0);
    return rp_token_cache_new(max, max_ttl, neg_ttl, on_resolved, &calls);
}

static struct rp_grant
grant_for(const char *sub, int64_t expires_ms)
{
    struct rp_grant g = {0};
    g.sub = strdup(sub);
    g.expires_ms = expires_ms;
    assert_int_equal(rp_grant_add_read(&g, "news/#", 6), 0);
    assert_int_equal(rp_grant_add_write(&g, "news/today", 10), 0);
    return g;
}

static enum rp_token_cache_lookup
look(struct rp_token_cache *c, const char *tok, int64_t now, bool stale, enum rp_auth_result *r)
{
    struct rp_grant g = {0};
    enum rp_auth_result dummy;
    enum rp_token_cache_lookup l =
        rp_token_cache_lookup(c, tok, strlen(tok), now, stale, r ? r : &dummy, &g);
    rp_grant_fini(&g);
    return l;
}

static void
resolve_ok(struct rp_token_cache *c, const char *tok, int64_t now, int64_t ttl,
           int64_t grant_expires)
{
    struct rp_grant g = grant_for(tok, grant_expires);
    rp_token_cache_resolve(c, tok, strlen(tok), now, WALL + now, RP_AUTH_OK, &g, ttl);
    rp_grant_fini(&g);
}

static void
resolve_fail(struct rp_token_cache *c, const char *tok, int64_t now, enum rp_auth_result r)
{
    rp_token_cache_resolve(c, tok, strlen(tok), now, WALL + now, r, NULL, 0);
}

static void
test_miss_pending_resolve_hit(void **state)
{
    struct rp_token_cache *c = cache_new(16, 60000, 5000);
    const char *tok = "eyJhbGciOiJIUzI1NiJ9.e30.sig";
    enum rp_auth_result r = RP_AUTH__COUNT;
    struct rp_grant g = {0};

    assert_int_equal(rp_token_cache_lookup(c, tok, strlen(tok), 0, false, &r, &g),
                     RP_TOKEN_CACHE_MISS);
    assert_int_equal(look(c, tok, 1, false, NULL), RP_TOKEN_CACHE_PENDING);
    assert_int_equal(look(c, tok, 2, false, NULL), RP_TOKEN_CACHE_PENDING);
    assert_int_equal(rp_token_cache_count(c), 1);
    assert_int_equal(atomic_load(&calls), 0);

    struct rp_grant src = grant_for("alice", 0);
    rp_token_cache_resolve(c, tok, strlen(tok), 3, WALL, RP_AUTH_OK, &src, 0);
    assert_int_equal(atomic_load(&calls), 1); /* once, for two waiters */

    assert_int_equal(rp_token_cache_lookup(c, tok, strlen(tok), 4, false, &r, &g),
                     RP_TOKEN_CACHE_HIT);
    assert_int_equal(r, RP_AUTH_OK);
    assert_string_equal(g.sub, "alice");
    assert_ptr_not_equal(g.sub, src.sub);
    assert_int_equal(g.n_read, 1);
    assert_string_equal(g.read[0], "news/#");
    assert_ptr_not_equal(g.read, src.read);
    assert_int_equal(g.n_write, 1);
    assert_true(rp_grant_may_write(&g, "news/today", 10));
    rp_grant_fini(&src); /* the cache kept its own copy */
    rp_grant_fini(&g);

    assert_int_equal(rp_token_cache_lookup(c, tok, strlen(tok), 5, false, &r, &g),
                     RP_TOKEN_CACHE_HIT);
    assert_string_equal(g.sub, "alice");
    rp_grant_fini(&g);
    /* A NULL grant is allowed when only the result matters. */
    assert_int_equal(rp_token_cache_lookup(c, tok, strlen(tok), 5, false, &r, NULL),
                     RP_TOKEN_CACHE_HIT);

    /* Another token, or a prefix of this one, is another entry. */
    assert_int_equal(look(c, "other", 5, false, NULL), RP_TOKEN_CACHE_MISS);
    assert_int_equal(rp_token_cache_lookup(c, tok, 10, 5, false, &r, NULL), RP_TOKEN_CACHE_MISS);

    struct rp_token_cache_stats st;
    rp_token_cache_stats(c, &st);
    assert_int_equal(st.hits, 3);
    assert_int_equal(st.misses, 3);
    assert_int_equal(st.pending, 2);
    assert_int_equal(st.n_entries, 3);
    rp_token_cache_free(c);
}

static void
test_resolved_fn_only_with_waiters(void **state)
{
    struct rp_token_cache *c = cache_new(16, 60000, 5000);
    assert_int_equal(look(c, "a", 0, false, NULL), RP_TOKEN_CACHE_MISS);
    resolve_ok(c, "a", 1, 0, 0);
    assert_int_equal(look(c, "b", 0, false, NULL), RP_TOKEN_CACHE_MISS);
    rp_token_cache_abandon(c, "b", 1);
    assert_int_equal(atomic_load(&calls), 0);

    /* A waiter, then an abandon: one call; the waiter's next lookup takes over. */
    assert_int_equal(look(c, "b", 2, false, NULL), RP_TOKEN_CACHE_MISS);
    assert_int_equal(look(c, "b", 3, false, NULL), RP_TOKEN_CACHE_PENDING);
    rp_token_cache_abandon(c, "b", 1);
    assert_int_equal(atomic_load(&calls), 1);
    rp_token_cache_abandon(c, "b", 1); /* not PENDING any more: no-op */
    assert_int_equal(atomic_load(&calls), 1);
    assert_int_equal(look(c, "b", 4, false, NULL), RP_TOKEN_CACHE_MISS);
    assert_int_equal(look(c, "b", 5, false, NULL), RP_TOKEN_CACHE_PENDING);
    resolve_fail(c, "b", 6, RP_AUTH_BAD_SIGNATURE);
    assert_int_equal(atomic_load(&calls), 2);
    /* Abandoning a READY entry changes nothing. */
    rp_token_cache_abandon(c, "a", 1);
    assert_int_equal(look(c, "a", 7, false, NULL), RP_TOKEN_CACHE_HIT);
    assert_int_equal(atomic_load(&calls), 2);
    rp_token_cache_free(c);
}

static void
test_ttls(void **state)
{
    struct rp_token_cache *c = cache_new(16, 1000, 100);
    enum rp_auth_result r;

    /* ttl <= 0: max_ttl. */
    look(c, "max", 0, false, NULL);
    resolve_ok(c, "max", 0, 0, 0);
    assert_int_equal(look(c, "max", 999, false, NULL), RP_TOKEN_CACHE_HIT);
    assert_int_equal(look(c, "max", 1000, false, NULL), RP_TOKEN_CACHE_MISS);

    /* A longer answer ttl is capped at max_ttl; a shorter one is kept. */
    look(c, "long", 0, false, NULL);
    resolve_ok(c, "long", 0, 5000, 0);
    assert_int_equal(look(c, "long", 999, false, NULL), RP_TOKEN_CACHE_HIT);
    assert_int_equal(look(c, "long", 1000, false, NULL), RP_TOKEN_CACHE_MISS);
    look(c, "short", 0, false, NULL);
    resolve_ok(c, "short", 0, 300, 0);
    assert_int_equal(look(c, "short", 299, false, NULL), RP_TOKEN_CACHE_HIT);
    assert_int_equal(look(c, "short", 300, false, NULL), RP_TOKEN_CACHE_MISS);

    /* Negative answers live negative_ttl, and carry no grant. */
    look(c, "bad", 0, false, NULL);
    resolve_fail(c, "bad", 0, RP_AUTH_BAD_SIGNATURE);
    struct rp_grant g = {0};
    assert_int_equal(rp_token_cache_lookup(c, "bad", 3, 99, false, &r, &g), RP_TOKEN_CACHE_HIT);
    assert_int_equal(r, RP_AUTH_BAD_SIGNATURE);
    assert_null(g.sub);
    assert_null(g.read);
    assert_int_equal(look(c, "bad", 100, false, NULL), RP_TOKEN_CACHE_MISS);

    /* The grant's own expiry (wall clock) caps the entry: 200 ms left of it. */
    look(c, "exp", 0, false, NULL);
    resolve_ok(c, "exp", 0, 0, WALL + 200);
    assert_int_equal(look(c, "exp", 199, false, NULL), RP_TOKEN_CACHE_HIT);
    assert_int_equal(look(c, "exp", 200, false, NULL), RP_TOKEN_CACHE_MISS);

    /* A grant already past its expiry is not cached. */
    assert_int_equal(look(c, "past", 0, false, NULL), RP_TOKEN_CACHE_MISS);
    size_t n = rp_token_cache_count(c);
    resolve_ok(c, "past", 0, 0, WALL - 1);
    assert_int_equal(rp_token_cache_count(c), n - 1);
    assert_int_equal(look(c, "past", 1, false, NULL), RP_TOKEN_CACHE_MISS);
    rp_token_cache_free(c);
}

static void
test_negative_not_cached_without_ttl(void **state)
{
    struct rp_token_cache *c = cache_new(16, 1000, 0);
    look(c, "bad", 0, false, NULL);
    assert_int_equal(look(c, "bad", 0, false, NULL), RP_TOKEN_CACHE_PENDING);
    resolve_fail(c, "bad", 0, RP_AUTH_EXPIRED);
    assert_int_equal(atomic_load(&calls), 1);
    assert_int_equal(rp_token_cache_count(c), 0);
    assert_int_equal(look(c, "bad", 1, false, NULL), RP_TOKEN_CACHE_MISS);
    rp_token_cache_free(c);
}

static void
test_unavailable_is_an_abandon(void **state)
{
    struct rp_token_cache *c = cache_new(16, 1000, 500);
    look(c, "t", 0, false, NULL);
    assert_int_equal(look(c, "t", 0, false, NULL), RP_TOKEN_CACHE_PENDING);
    resolve_fail(c, "t", 0, RP_AUTH_UNAVAILABLE);
    assert_int_equal(atomic_load(&calls), 1);
    assert_int_equal(rp_token_cache_count(c), 0);
    assert_int_equal(look(c, "t", 1, false, NULL), RP_TOKEN_CACHE_MISS);
    /* UNAVAILABLE does not drop a READY entry either. */
    resolve_ok(c, "t", 1, 0, 0);
    resolve_fail(c, "t", 2, RP_AUTH_UNAVAILABLE);
    assert_int_equal(look(c, "t", 3, false, NULL), RP_TOKEN_CACHE_HIT);
    rp_token_cache_free(c);
}

static void
test_lru_evicts_least_recently_used(void **state)
{
    struct rp_token_cache *c = cache_new(3, 60000, 5000);
    const char *toks[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        look(c, toks[i], i, false, NULL);
        resolve_ok(c, toks[i], i, 0, 0);
    }
    /* "a" is the oldest insert, but a lookup makes it the most recently used. */
    assert_int_equal(look(c, "a", 10, false, NULL), RP_TOKEN_CACHE_HIT);
    assert_int_equal(look(c, "d", 11, false, NULL), RP_TOKEN_CACHE_MISS); /* evicts "b" */
    assert_int_equal(rp_token_cache_count(c), 3);
    assert_int_equal(look(c, "a", 12, false, NULL), RP_TOKEN_CACHE_HIT);
    assert_int_equal(look(c, "c", 13, false, NULL), RP_TOKEN_CACHE_HIT);
    struct rp_token_cache_stats st;
    rp_token_cache_stats(c, &st);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(look(c, "b", 14, false, NULL), RP_TOKEN_CACHE_MISS); /* evicts "a" */
    assert_int_equal(look(c, "c", 15, false, NULL), RP_TOKEN_CACHE_HIT);
    assert_int_equal(look(c, "a", 16, false, NULL), RP_TOKEN_CACHE_MISS); /* evicts "c" */
    assert_int_equal(rp_token_cache_count(c), 3);

    resolve_ok(c, "d", 17, 0, 0);
    resolve_ok(c, "b", 17, 0, 0);
    resolve_ok(c, "a", 17, 0, 0);

    /* Fill far past the cap: the count never exceeds it. */
    char tok[32];
    for (int i = 0; i < 200; i++) {
        snprintf(tok, sizeof(tok), "tok-%d", i);
        if (look(c, tok, 100 + i, false, NULL) == RP_TOKEN_CACHE_MISS)
            resolve_ok(c, tok, 100 + i, 0, 0);
        assert_true(rp_token_cache_count(c) <= 3);
    }
    rp_token_cache_stats(c, &st);
    assert_int_equal(st.evictions, 3 + 200);
    assert_int_equal(st.refused, 0);
    assert_int_equal(look(c, "tok-199", 400, false, NULL), RP_TOKEN_CACHE_HIT);
    assert_int_equal(look(c, "tok-196", 400, false, NULL), RP_TOKEN_CACHE_MISS);
    rp_token_cache_free(c);
}

static void
test_pending_never_evicted(void **state)
{
    struct rp_token_cache *c = cache_new(2, 60000, 5000);
    assert_int_equal(look(c, "a", 0, false, NULL), RP_TOKEN_CACHE_MISS);
    assert_int_equal(look(c, "b", 0, false, NULL), RP_TOKEN_CACHE_MISS);
    /* Every entry PENDING: "c" is a MISS but not stored, so it is never PENDING. */
    assert_int_equal(look(c, "c", 1, false, NULL), RP_TOKEN_CACHE_MISS);
    assert_int_equal(look(c, "c", 2, false, NULL), RP_TOKEN_CACHE_MISS);
    assert_int_equal(rp_token_cache_count(c), 2);
    resolve_ok(c, "c", 3, 0, 0); /* dropped: no room */
    assert_int_equal(rp_token_cache_count(c), 2);
    assert_int_equal(look(c, "a", 4, false, NULL), RP_TOKEN_CACHE_PENDING);
    assert_int_equal(look(c, "b", 4, false, NULL), RP_TOKEN_CACHE_PENDING);
    struct rp_token_cache_stats st;
    rp_token_cache_stats(c, &st);
    assert_int_equal(st.refused, 2);
    assert_int_equal(st.evictions, 0);

    /* Once "a" is READY, it is what makes room. */
    resolve_ok(c, "a", 5, 0, 0);
    assert_int_equal(look(c, "c", 6, false, NULL), RP_TOKEN_CACHE_MISS);
    assert_int_equal(look(c, "c", 7, false, NULL), RP_TOKEN_CACHE_PENDING);
    assert_int_equal(look(c, "b", 8, false, NULL), RP_TOKEN_CACHE_PENDING);
    assert_int_equal(look(c, "a", 9, false, NULL), RP_TOKEN_CACHE_MISS);
    rp_token_cache_free(c);
}

static void
test_stale_pending_is_taken_over(void **state)
{
    struct rp_token_cache *c = cache_new(4, 1000, 100);
    const int64_t max = RP_TOKEN_CACHE_PENDING_MAX_MS;
    assert_int_equal(look(c, "t", 0, false, NULL), RP_TOKEN_CACHE_MISS);
    assert_int_equal(look(c, "t", max - 1, false, NULL), RP_TOKEN_CACHE_PENDING);
    assert_int_equal(look(c, "t", max, false, NULL), RP_TOKEN_CACHE_MISS);
    assert_int_equal(look(c, "t", max + 1, false, NULL), RP_TOKEN_CACHE_PENDING);
    resolve_ok(c, "t", max + 2, 0, 0);
    assert_int_equal(atomic_load(&calls), 1);
    assert_int_equal(look(c, "t", max + 3, false, NULL), RP_TOKEN_CACHE_HIT);
    rp_token_cache_free(c);
}

static void
test_zero_ttls_share_verification_only(void **state)
{
    /* auth_cache_ttl 0: nothing is kept, but concurrent askers still wait for one verifier. */
    struct rp_token_cache *c = cache_new(4, 0, 0);
    assert_int_equal(look(c, "t", 0, false, NULL), RP_TOKEN_CACHE_MISS);
    assert_int_equal(look(c, "t", 1, false, NULL), RP_TOKEN_CACHE_PENDING);
    resolve_ok(c, "t", 2, 0, 0);
    assert_int_equal(atomic_load(&calls), 1);
    assert_int_equal(rp_token_cache_count(c), 0);
    assert_int_equal(look(c, "t", 2, false, NULL), RP_TOKEN_CACHE_MISS);
    resolve_ok(c, "t", 2, 1000, 0);
    assert_int_equal(look(c, "t", 3, false, NULL), RP_TOKEN_CACHE_MISS);
    assert_int_equal(look(c, "t", 4, false, NULL), RP_TOKEN_CACHE_PENDING);
    resolve_fail(c, "t", 5, RP_AUTH_BAD_SIGNATURE);
    assert_int_equal(atomic_load(&calls), 2);
    assert_int_equal(rp_token_cache_count(c), 0);
    rp_token_cache_free(c);
}

static void
test_allow_stale(void **state)
{
    struct rp_token_cache *c = cache_new(8, 1000, 100);
    enum rp_auth_result r;
    struct rp_grant g = {0};

    look(c, "t", 0, false, NULL);
    resolve_ok(c, "t", 0, 100, WALL + 5000); /* fresh until 100, grant valid until 5000 */
    assert_int_equal(rp_token_cache_lookup(c, "t", 1, 150, true, &r, &g), RP_TOKEN_CACHE_HIT);
    assert_int_equal(r, RP_AUTH_OK);
    assert_string_equal(g.sub, "t");
    rp_grant_fini(&g);

    /* The breaker closes: a normal lookup re-verifies; the stale answer survives meanwhile. */
    assert_int_equal(look(c, "t", 200, false, NULL), RP_TOKEN_CACHE_MISS);
    assert_int_equal(look(c, "t", 201, false, NULL), RP_TOKEN_CACHE_PENDING);
    assert_int_equal(look(c, "t", 202, true, NULL), RP_TOKEN_CACHE_HIT);
    /* The verification fails for want of the webhook: the stale entry is back. */
    rp_token_cache_abandon(c, "t", 1);
    assert_int_equal(atomic_load(&calls), 1);
    assert_int_equal(look(c, "t", 300, true, &r), RP_TOKEN_CACHE_HIT);
    assert_int_equal(r, RP_AUTH_OK);
    /* ...but never past the grant's own expiry. */
    assert_int_equal(look(c, "t", 5000, true, NULL), RP_TOKEN_CACHE_MISS);
    assert_int_equal(look(c, "t", 5001, true, NULL), RP_TOKEN_CACHE_PENDING);
    rp_token_cache_abandon(c, "t", 1);
    assert_int_equal(look(c, "t", 5002, true, NULL), RP_TOKEN_CACHE_MISS);

    /* A definite refusal replaces the stale grant. */
    look(c, "u", 0, false, NULL);
    resolve_ok(c, "u", 0, 100, 0);
    assert_int_equal(look(c, "u", 500, false, NULL), RP_TOKEN_CACHE_MISS);
    resolve_fail(c, "u", 500, RP_AUTH_REJECTED);
    assert_int_equal(look(c, "u", 550, true, &r), RP_TOKEN_CACHE_HIT);
    assert_int_equal(r, RP_AUTH_REJECTED);
    /* Expired negative entries are never served stale. */
    assert_int_equal(look(c, "u", 600, true, NULL), RP_TOKEN_CACHE_MISS);

    struct rp_token_cache_stats st;
    rp_token_cache_stats(c, &st);
    assert_int_equal(st.stale_hits, 3);
    rp_token_cache_free(c);
}

#define N_THREADS 4
#define N_TOKENS 64
#define N_ROUNDS 4000

static atomic_int verified[N_TOKENS];
static atomic_int thread_calls;

struct worker {
    struct rp_token_cache *c;
    unsigned id;
    bool wrong;
};

static void *
worker_run(void *arg)
{
    struct worker *w = arg;
    char tok[32];
    for (unsigned i = 0; i < N_ROUNDS; i++) {
        unsigned t = (w->id * 13 + i * 7) % N_TOKENS;
        snprintf(tok, sizeof(tok), "token-%u", t);
        enum rp_auth_result r;
        struct rp_grant g = {0};
        switch (rp_token_cache_lookup(w->c, tok, strlen(tok), 0, false, &r, &g)) {
        case RP_TOKEN_CACHE_MISS: {
            atomic_fetch_add(&verified[t], 1);
            struct rp_grant src = grant_for(tok, 0);
            rp_token_cache_resolve(w->c, tok, strlen(tok), 0, WALL, RP_AUTH_OK, &src, 0);
            rp_grant_fini(&src);
            break;
        }
        case RP_TOKEN_CACHE_HIT:
            if (r != RP_AUTH_OK || !g.sub || strcmp(g.sub, tok) != 0)
                w->wrong = true;
            break;
        case RP_TOKEN_CACHE_PENDING:
            break;
        }
        rp_grant_fini(&g);
    }
    return NULL;
}

static void
test_threads(void **state)
{
    struct rp_token_cache *c =
        rp_token_cache_new(N_TOKENS, 60000, 1000, on_resolved, &thread_calls);
    pthread_t th[N_THREADS];
    struct worker w[N_THREADS];
    for (unsigned i = 0; i < N_THREADS; i++) {
        w[i] = (struct worker){.c = c, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    for (unsigned i = 0; i < N_THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_false(w[i].wrong);
    }
    for (unsigned t = 0; t < N_TOKENS; t++)
        assert_int_equal(atomic_load(&verified[t]), 1);
    struct rp_token_cache_stats st;
    rp_token_cache_stats(c, &st);
    assert_int_equal(st.misses, N_TOKENS);
    assert_int_equal(st.hits + st.misses + st.pending, (uint64_t)N_THREADS * N_ROUNDS);
    assert_int_equal(st.n_entries, N_TOKENS);
    assert_true(atomic_load(&thread_calls) <= N_TOKENS);
    rp_token_cache_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_miss_pending_resolve_hit),
        cmocka_unit_test(test_resolved_fn_only_with_waiters),
        cmocka_unit_test(test_ttls),
        cmocka_unit_test(test_negative_not_cached_without_ttl),
        cmocka_unit_test(test_unavailable_is_an_abandon),
        cmocka_unit_test(test_lru_evicts_least_recently_used),
        cmocka_unit_test(test_pending_never_evicted),
        cmocka_unit_test(test_stale_pending_is_taken_over),
        cmocka_unit_test(test_zero_ttls_share_verification_only),
        cmocka_unit_test(test_allow_stale),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
