/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of core/pattern: hand-written cases, then a differential test against a
 * reference matcher that works on split levels, over exhaustive small inputs and
 * thousands of generated filter/topic pairs (fixed PRNG seed, so failures reproduce).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/pattern.h"

static bool
matches(const char *filter, const char *topic)
{
    assert_null(rp_pattern_check(filter, strlen(filter)));
    return rp_pattern_matches(filter, strlen(filter), topic, strlen(topic));
}

static const char *
check(const char *filter)
{
    return rp_pattern_check(filter, strlen(filter));
}

struct match_case {
    const char *filter;
    const char *topic;
    bool want;
};

static void
test_match_cases(void **state)
{
    static const struct match_case cases[] = {
        {"a/b", "a/b", true},
        {"a/b", "a", false},
        {"a/b", "a/b/c", false},
        {"a/b", "a/c", false},
        {"a", "ab", false},
        {"ab", "a", false},
        {"a", "a/b", false},
        {"+", "a", true},
        {"+", "a/b", false},
        {"+/+", "a/b", true},
        {"+/+", "a", false},
        {"+/+", "a/b/c", false},
        {"a/+", "a/b", true},
        {"a/+", "a", false},
        {"a/+", "a/b/c", false},
        {"a/+", "b/a", false},
        {"a/+/c", "a/b/c", true},
        {"a/+/c", "a/xyz/c", true},
        {"a/+/c", "a/b/d", false},
        {"a/+/c", "a/c", false},
        {"+/b", "a/b", true},
        {"+/b", "a/c", false},
        {"#", "a", true},
        {"#", "a/b/c", true},
        {"a/#", "a", true},
        {"a/#", "a/b", true},
        {"a/#", "a/b/c", true},
        {"a/#", "b", false},
        {"a/#", "ab", false},
        {"a/#", "ab/c", false},
        {"a/b/#", "a/b", true},
        {"a/b/#", "a", false},
        {"a/b/#", "a/b/c/d", true},
        {"a/b/#", "a/c/b", false},
        {"+/#", "a", true},
        {"+/#", "a/b/c", true},
        {"+/b/#", "x/b", true},
        {"+/b/#", "x/b/c", true},
        {"+/b/#", "x/c", false},
        {"+/b/#", "x", false},
        {"+/+/#", "a", false},
        {"+/+/#", "a/b", true},
        {"a.b/c", "a.b/c", true},
        {"A", "a", false},
        {"x/+/+/y", "x/1/2/y", true},
        {"x/+/+/y", "x/1/y", false},
        /* Sessions' private topics: reached by name, never by a leading wildcard. */
        {"#", "_revenprox/session/0123", false},
        {"+/session/#", "_revenprox/session/0123", false},
        {"#", "_revenprox/metrics", true},
        {"_revenprox/#", "_revenprox/session/0123", true},
        {"_revenprox/session/0123", "_revenprox/session/0123", true},
        /* Mercure's private updates likewise; its public ones are not private. */
        {"#", "_revenprox/mercure/p/aHR0cHM", false},
        {"+/mercure/p/+", "_revenprox/mercure/p/aHR0cHM", false},
        {"_revenprox/mercure/p/#", "_revenprox/mercure/p/aHR0cHM", true},
        {"#", "_revenprox/mercure/u/aHR0cHM", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct match_case *c = &cases[i];
        if (matches(c->filter, c->topic) != c->want)
            fail_msg("'%s' vs '%s': expected %s", c->filter, c->topic,
                     c->want ? "match" : "no match");
    }
}

static void
test_only_len_bytes_are_read(void **state)
{
    /* "a/b" as the first 3 bytes of longer buffers. */
    assert_true(rp_pattern_matches("a/b/#", 3, "a/bc", 3));
    assert_false(rp_pattern_matches("a/b", 3, "a/bc", 4));
    assert_true(rp_pattern_matches("a/#", 3, "a/b", 1));
}

static void
test_check_valid(void **state)
{
    static const char *const valid[] = {"a",   "#",   "+",         "a/#", "+/+/#",  "a/+/b",
                                        "+/#", "+/+", "a.b/-_/Z9", "...", "a/b/c/d"};
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        const char *why = check(valid[i]);
        if (why)
            fail_msg("'%s' should be valid, got: %s", valid[i], why);
    }
}

static void
test_check_invalid(void **state)
{
    static const struct {
        const char *filter;
        const char *why;
    } cases[] = {
        {"a/#/b", "'#' must be the last level of a filter"},
        {"#/a", "'#' must be the last level of a filter"},
        {"a#", "a wildcard must fill a whole level ('a+/b' and 'a/b#' are invalid)"},
        {"#a", "a wildcard must fill a whole level ('a+/b' and 'a/b#' are invalid)"},
        {"a+/b", "a wildcard must fill a whole level ('a+/b' and 'a/b#' are invalid)"},
        {"a/+b", "a wildcard must fill a whole level ('a+/b' and 'a/b#' are invalid)"},
        {"++", "a wildcard must fill a whole level ('a+/b' and 'a/b#' are invalid)"},
        {"##", "a wildcard must fill a whole level ('a+/b' and 'a/b#' are invalid)"},
        {"+#", "a wildcard must fill a whole level ('a+/b' and 'a/b#' are invalid)"},
        {"a//b", "filter contains an empty level (leading, trailing or double '/')"},
        {"/a", "filter contains an empty level (leading, trailing or double '/')"},
        {"a/", "filter contains an empty level (leading, trailing or double '/')"},
        {"/", "filter contains an empty level (leading, trailing or double '/')"},
        {"+/", "filter contains an empty level (leading, trailing or double '/')"},
        {".", "filter contains a '.' level"},
        {"+/..", "filter contains a '..' level"},
        {"a b", "filter contains a character outside a-z A-Z 0-9 - _ . / + #"},
        {"a/\xc3\xa9", "filter contains a character outside a-z A-Z 0-9 - _ . / + #"},
        {"", "filter is empty"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why = check(cases[i].filter);
        if (!why)
            fail_msg("'%s' should be invalid", cases[i].filter);
        assert_string_equal(why, cases[i].why);
    }
    assert_non_null(rp_pattern_check("a\0b", 3));
    char longf[258];
    memset(longf, 'a', sizeof(longf));
    assert_null(rp_pattern_check(longf, 255));
    assert_string_equal(rp_pattern_check(longf, 256), "filter is longer than 255 bytes");
}

static void
test_has_wildcard(void **state)
{
    assert_true(rp_pattern_has_wildcard("a/+", 3));
    assert_true(rp_pattern_has_wildcard("#", 1));
    assert_true(rp_pattern_has_wildcard("+/b/#", 5));
    assert_false(rp_pattern_has_wildcard("a/b", 3));
    assert_false(rp_pattern_has_wildcard("a/b/+", 3)); /* only <len> bytes */
    assert_false(rp_pattern_has_wildcard("", 0));
}

/* --- Reference model: split into levels, then match level lists recursively. --- */

#define MAX_LEVELS 8
#define MAX_TEXT 64

struct levels {
    size_t n;
    char level[MAX_LEVELS][MAX_TEXT];
};

static void
split(const char *s, struct levels *out)
{
    out->n = 0;
    const char *p = s;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        assert_true(out->n < MAX_LEVELS && len < MAX_TEXT);
        memcpy(out->level[out->n], p, len);
        out->level[out->n][len] = '\0';
        out->n++;
        if (!slash)
            return;
        p = slash + 1;
    }
}

static bool
ref_match_levels(const struct levels *f, size_t fi, const struct levels *t, size_t ti)
{
    if (fi == f->n)
        return ti == t->n;
    if (strcmp(f->level[fi], "#") == 0)
        return true;
    if (ti == t->n)
        return false;
    if (strcmp(f->level[fi], "+") != 0 && strcmp(f->level[fi], t->level[ti]) != 0)
        return false;
    return ref_match_levels(f, fi + 1, t, ti + 1);
}

static bool
ref_match(const char *filter, const char *topic)
{
    struct levels f, t;
    split(filter, &f);
    split(topic, &t);
    if ((filter[0] == '#' || filter[0] == '+') &&
        (strncmp(topic, "_revenprox/session/", strlen("_revenprox/session/")) == 0 ||
         strncmp(topic, "_revenprox/mercure/p/", strlen("_revenprox/mercure/p/")) == 0))
        return false; /* private topics (core/pattern.h) */
    return ref_match_levels(&f, 0, &t, 0);
}

/* Validity over the small alphabets used below (no `.` levels, no bad bytes). */
static bool
ref_valid(const char *filter)
{
    struct levels f;
    split(filter, &f);
    for (size_t i = 0; i < f.n; i++) {
        const char *l = f.level[i];
        if (l[0] == '\0')
            return false;
        if (strcmp(l, "#") == 0 && i + 1 != f.n)
            return false;
        if ((strchr(l, '+') || strchr(l, '#')) && strlen(l) != 1)
            return false;
    }
    return true;
}

static void
join(char *out, size_t cap, const char *const *alphabet, const unsigned *pick, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "/" : "", alphabet[pick[i]]);
    assert_true(len < cap);
}

static void
compare(const char *filter, const char *topic, size_t *n_match)
{
    bool want = ref_match(filter, topic);
    bool got = rp_pattern_matches(filter, strlen(filter), topic, strlen(topic));
    if (want != got)
        fail_msg("'%s' vs '%s': reference says %d, rp_pattern_matches says %d", filter, topic, want,
                 got);
    *n_match += got;
}

static const char *const filter_alpha[] = {"a", "b", "ab", "+", "#", "a+", "#b", ""};
static const char *const topic_alpha[] = {"a", "b", "ab"};
#define N_FILTER_ALPHA (sizeof(filter_alpha) / sizeof(filter_alpha[0]))
#define N_TOPIC_ALPHA (sizeof(topic_alpha) / sizeof(topic_alpha[0]))

static void
test_exhaustive_small(void **state)
{
    /* Every filter of 1..3 levels of {a, b, +, #} against every topic of 1..3 levels of
     * {a, b}: 52 x 14 pairs. */
    static const char *const fa[] = {"a", "b", "+", "#"};
    static const char *const ta[] = {"a", "b"};
    size_t n_pairs = 0, n_match = 0;
    for (size_t nf = 1; nf <= 3; nf++) {
        unsigned fp[3] = {0};
        for (;;) {
            char filter[MAX_TEXT];
            join(filter, sizeof(filter), fa, fp, nf);
            bool valid = rp_pattern_check(filter, strlen(filter)) == NULL;
            assert_int_equal(valid, ref_valid(filter));
            for (size_t nt = 1; valid && nt <= 3; nt++) {
                unsigned tp[3] = {0};
                for (;;) {
                    char topic[MAX_TEXT];
                    join(topic, sizeof(topic), ta, tp, nt);
                    compare(filter, topic, &n_match);
                    n_pairs++;
                    size_t k = 0;
                    while (k < nt && ++tp[k] == 2)
                        tp[k++] = 0;
                    if (k == nt)
                        break;
                }
            }
            size_t k = 0;
            while (k < nf && ++fp[k] == 4)
                fp[k++] = 0;
            if (k == nf)
                break;
        }
    }
    /* Valid filters: `#` only last, so 4 + 3*4 + 3*3*4 of 1, 2 and 3 levels. */
    assert_int_equal(n_pairs, (4 + 12 + 36) * 14);
    assert_true(n_match > 0 && n_match < n_pairs);
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
test_differential_random(void **state)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    size_t n_valid = 0, n_invalid = 0, n_match = 0, n_pairs = 0;
    for (int round = 0; round < 20000; round++) {
        unsigned fp[6], tp[6];
        size_t nf = 1 + xorshift(&seed) % 6, nt = 1 + xorshift(&seed) % 6;
        for (size_t i = 0; i < nf; i++)
            fp[i] = (unsigned)(xorshift(&seed) % N_FILTER_ALPHA);
        for (size_t i = 0; i < nt; i++)
            tp[i] = (unsigned)(xorshift(&seed) % N_TOPIC_ALPHA);
        char filter[MAX_TEXT], topic[MAX_TEXT];
        join(filter, sizeof(filter), filter_alpha, fp, nf);
        join(topic, sizeof(topic), topic_alpha, tp, nt);
        bool valid = rp_pattern_check(filter, strlen(filter)) == NULL;
        if (valid != ref_valid(filter))
            fail_msg("'%s': reference validity %d, rp_pattern_check %d", filter, ref_valid(filter),
                     valid);
        if (!valid) {
            n_invalid++;
            continue;
        }
        n_valid++;
        bool wild = strchr(filter, '+') || strchr(filter, '#');
        assert_int_equal(rp_pattern_has_wildcard(filter, strlen(filter)), wild);
        compare(filter, topic, &n_match);
        n_pairs++;
    }
    /* The generator must exercise both sides of every question, or the test proves little. */
    assert_true(n_valid > 2000 && n_invalid > 2000);
    assert_true(n_match > 200 && n_match < n_pairs - 200);
}

/* Reference for rp_pattern_covers: <outer> covers <inner> when no topic of 1..4 levels over
 * {a, b, c} matches <inner> but not <outer> (filters have at most 3 levels of {a, b, +, #},
 * so `c` stands for every other level and a 4th level tells `#` from a fixed depth). */
static bool
ref_covers(const char *outer, const char *inner)
{
    static const char *const ta[] = {"a", "b", "c"};
    for (size_t nt = 1; nt <= 4; nt++) {
        unsigned tp[4] = {0};
        for (;;) {
            char topic[MAX_TEXT];
            join(topic, sizeof(topic), ta, tp, nt);
            if (ref_match(inner, topic) && !ref_match(outer, topic))
                return false;
            size_t k = 0;
            while (k < nt && ++tp[k] == 3)
                tp[k++] = 0;
            if (k == nt)
                break;
        }
    }
    return true;
}

/* Every valid filter of 1..3 levels of {a, b, +, #}, into <out>; returns the count. */
static size_t
all_small_filters(char out[][MAX_TEXT], size_t cap)
{
    static const char *const fa[] = {"a", "b", "+", "#"};
    size_t n = 0;
    for (size_t nf = 1; nf <= 3; nf++) {
        unsigned fp[3] = {0};
        for (;;) {
            char filter[MAX_TEXT];
            join(filter, sizeof(filter), fa, fp, nf);
            if (ref_valid(filter)) {
                assert_true(n < cap);
                memcpy(out[n++], filter, MAX_TEXT);
            }
            size_t k = 0;
            while (k < nf && ++fp[k] == 4)
                fp[k++] = 0;
            if (k == nf)
                break;
        }
    }
    return n;
}

static void
test_covers_exhaustive(void **state)
{
    static char filters[64][MAX_TEXT];
    size_t n = all_small_filters(filters, 64);
    assert_int_equal(n, 52);
    size_t n_covers = 0;
    for (size_t o = 0; o < n; o++) {
        for (size_t i = 0; i < n; i++) {
            bool want = ref_covers(filters[o], filters[i]);
            bool got =
                rp_pattern_covers(filters[o], strlen(filters[o]), filters[i], strlen(filters[i]));
            if (want != got)
                fail_msg("does '%s' cover '%s'? reference says %d, rp_pattern_covers %d",
                         filters[o], filters[i], want, got);
            n_covers += got;
        }
    }
    assert_true(n_covers > n && n_covers < n * n / 2);
}

static void
test_covers_cases(void **state)
{
    struct {
        const char *outer, *inner;
        bool covers;
    } cases[] = {
        {"#", "a/b/c", true},        {"a/#", "a", true},           {"a/#", "a/+/c", true},
        {"a/+", "a/b", true},        {"a/+", "a/#", false},        {"a/b", "a/+", false},
        {"a/+/c", "a/b/c", true},    {"a", "a/b", false},          {"a/b", "a", false},
        {"news/+", "news/uk", true}, {"news/uk", "news/uk", true}, {"news/uk", "news/us", false},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
        assert_int_equal(rp_pattern_covers(cases[k].outer, strlen(cases[k].outer), cases[k].inner,
                                           strlen(cases[k].inner)),
                         cases[k].covers);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_cases),         cmocka_unit_test(test_only_len_bytes_are_read),
        cmocka_unit_test(test_check_valid),         cmocka_unit_test(test_check_invalid),
        cmocka_unit_test(test_has_wildcard),        cmocka_unit_test(test_exhaustive_small),
        cmocka_unit_test(test_differential_random), cmocka_unit_test(test_covers_exhaustive),
        cmocka_unit_test(test_covers_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
