/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of core/uri_template: Mercure's selectors (RFC 6570 templates) against topic
 * IRIs, every operator, invalid templates refused with a reason, agreement with a
 * brute-force reference over many random templates and IRIs, and the cost limit.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/uri_template.h"
#include "uri_template_ref.h"

static bool
matches(const char *tpl, const char *iri)
{
    struct rp_uri_template *t = NULL;
    const char *why = NULL;
    if (rp_uri_template_compile(tpl, strlen(tpl), &t, &why) != 0)
        fail_msg("%s: %s", tpl, why);
    bool m = rp_uri_template_matches(t, iri, strlen(iri));
    rp_uri_template_free(t);
    return m;
}

static void
test_mercure_selectors(void **state)
{
    (void)state;
    assert_true(matches("https://example.com/books/{id}", "https://example.com/books/1"));
    assert_true(matches("https://example.com/books/{id}", "https://example.com/books/"));
    assert_false(matches("https://example.com/books/{id}", "https://example.com/books/1/reviews"));
    assert_false(matches("https://example.com/books/{id}", "https://example.com/authors/1"));
    assert_true(matches("https://example.com/{+path}", "https://example.com/books/1/reviews"));
    assert_true(matches("https://example.com/users/{id}/books/{book}",
                        "https://example.com/users/dunglas/books/42"));
    assert_true(matches("https://example.com/books{/id}", "https://example.com/books/1"));
    assert_true(matches("https://example.com/books{/id}", "https://example.com/books"));
    assert_true(matches("https://example.com/books{/id*}", "https://example.com/books/1/2"));
    assert_true(matches("https://example.com/s{?q,lang}", "https://example.com/s?q=a&lang=fr"));
    assert_false(matches("https://example.com/s{?q}", "https://example.com/s&q=a"));
    assert_true(matches("https://example.com/f{.fmt}", "https://example.com/f.json"));
    assert_true(matches("https://example.com/m{;x,y}", "https://example.com/m;x=1;y=2"));
    assert_true(matches("https://example.com/p{#frag}", "https://example.com/p#a/b"));
    assert_true(matches("{x:3}", "abc"));
    assert_true(matches("https://example.com/books/1", "https://example.com/books/1"));
    assert_false(matches("https://example.com/books/1", "https://example.com/books/12"));
    assert_true(matches("", ""));
    assert_true(matches("a%20b/{id}", "a%20b/x%2Fy"));
}

static void
test_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"{",     "a{b",   "{}",    "{+}",       "a}",   "{=x}", "{x,}",
                         "{x y}", "{.x.}", "{x:0}", "{x:12345}", "{!x}", "{|x}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rp_uri_template *t = (struct rp_uri_template *)1;
        const char *why = NULL;
        assert_int_equal(rp_uri_template_compile(bad[i], strlen(bad[i]), &t, &why), -EINVAL);
        assert_null(t);
        assert_non_null(why);
    }
    char nul[] = "a\0b";
    struct rp_uri_template *t;
    const char *why;
    assert_int_equal(rp_uri_template_compile(nul, 3, &t, &why), -EINVAL);
    char *big = malloc(RP_URI_TEMPLATE_MAX + 2);
    memset(big, 'a', RP_URI_TEMPLATE_MAX + 1);
    assert_int_equal(rp_uri_template_compile(big, RP_URI_TEMPLATE_MAX + 1, &t, &why), -EINVAL);
    free(big);
    assert_true(rp_uri_template_is_template("a/{b}", 5));
    assert_false(rp_uri_template_is_template("a/b", 3));
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Random small templates and IRIs: the automaton agrees with the reference on each. */
static void
test_against_reference(void **state)
{
    (void)state;
    static const char *pieces[] = {"a",      "b",    "/",    ".",    "?",    "&",
                                   "=",      ",",    "{x}",  "{+x}", "{/x}", "{.x}",
                                   "{?x,y}", "{&x}", "{#x}", "{;x}", "{x,y}"};
    static const char iri_chars[] = "ab/.?&=,#;:%x";
    size_t n_pieces = sizeof(pieces) / sizeof(pieces[0]);
    unsigned agreed_true = 0, total = 0;
    for (int round = 0; round < 20000; round++) {
        char tpl[128] = "";
        int np = (int)(next_rand() % 5);
        size_t tl = 0;
        for (int i = 0; i < np; i++)
            tl +=
                (size_t)snprintf(tpl + tl, sizeof(tpl) - tl, "%s", pieces[next_rand() % n_pieces]);
        char iri[16];
        size_t n = next_rand() % 10;
        for (size_t i = 0; i < n; i++)
            iri[i] = iri_chars[next_rand() % (sizeof(iri_chars) - 1)];
        iri[n] = '\0';
        struct rp_uri_template *t;
        const char *why;
        assert_int_equal(rp_uri_template_compile(tpl, strlen(tpl), &t, &why), 0);
        struct ref_tok toks[128];
        size_t nt = ref_tokens(tpl, strlen(tpl), toks);
        bool want = ref_match(toks, nt, iri, n, 0);
        bool got = rp_uri_template_matches(t, iri, n);
        if (want != got)
            fail_msg("template \"%s\" IRI \"%s\": reference %d, automaton %d", tpl, iri, want, got);
        agreed_true += want;
        total++;
        rp_uri_template_free(t);
    }
    /* The random cases exercise both answers, not just "no". */
    assert_true(agreed_true > total / 20);
}

/* Long inputs stay cheap, and past the cost cap the answer is "no match", not a hang. */
static void
test_cost(void **state)
{
    (void)state;
    char tpl[RP_URI_TEMPLATE_MAX + 1] = "";
    for (int i = 0; i < 200; i++)
        memcpy(tpl + 3 * i, "{x}", 4); /* 600 bytes and the NUL */
    char iri[4097];
    memset(iri, 'a', 4096);
    iri[4096] = '\0';
    struct rp_uri_template *t;
    const char *why;
    assert_int_equal(rp_uri_template_compile(tpl, strlen(tpl), &t, &why), 0);
    /* 200 adjacent expressions: ~1,600 live states per byte, 4,096 bytes: over the cap. */
    assert_false(rp_uri_template_matches(t, iri, 4096));
    /* Within the cap the same template matches a short IRI. */
    assert_true(rp_uri_template_matches(t, iri, 100));
    rp_uri_template_free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mercure_selectors),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
