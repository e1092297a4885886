/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of core/url_pattern: Mercure 1.0 selectors (URL patterns) against topic IRIs,
 * component by component, invalid patterns refused with a reason, one component's matcher
 * in agreement with a brute-force reference over many random patterns and strings, and the
 * cost limit.
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

#include "core/url_pattern.h"
#include "url_pattern_ref.h"

static bool
matches(const char *pat, const char *iri)
{
    struct rp_url_pattern *p = NULL;
    const char *why = NULL;
    if (rp_url_pattern_compile(pat, strlen(pat), &p, &why) != 0)
        fail_msg("%s: %s", pat, why);
    bool m = rp_url_pattern_matches(p, iri, strlen(iri));
    rp_url_pattern_free(p);
    return m;
}

static void
test_mercure_selectors(void **state)
{
    (void)state;
    const char *book = "https://example.com/books/:id";
    assert_true(matches(book, "https://example.com/books/1"));
    assert_true(matches(book, "https://example.com/books/urn:isbn:1"));
    assert_false(matches(book, "https://example.com/books/"));
    assert_false(matches(book, "https://example.com/books/1/reviews"));
    assert_false(matches(book, "https://example.com/authors/1"));
    assert_false(matches(book, "http://example.com/books/1"));
    assert_false(matches(book, "https://example.org/books/1"));
    assert_false(matches(book, "https://example.com:8443/books/1"));
    /* Omitted search and hash match anything; the default port is no port. */
    assert_true(matches(book, "https://example.com/books/1?page=2#top"));
    assert_true(matches(book, "https://example.com:443/books/1"));
    assert_true(matches("https://example.com:443/books/:id", "https://example.com/books/1"));
    assert_true(matches("https://example.com:*/books/:id", "https://example.com:8443/books/1"));
    /* Protocol and hostname compare case-insensitively, the path does not. */
    assert_true(matches("HTTPS://Example.COM/books/:id", "https://EXAMPLE.com/books/1"));
    assert_false(matches(book, "https://example.com/Books/1"));
    /* Modifiers, with the pathname's implicit '/' prefix. */
    assert_true(matches("https://example.com/books/:id?", "https://example.com/books"));
    assert_true(matches("https://example.com/books/:id?", "https://example.com/books/1"));
    assert_false(matches("https://example.com/books/:id?", "https://example.com/books/1/2"));
    assert_true(matches("https://example.com/books/:id+", "https://example.com/books/1/2/3"));
    assert_false(matches("https://example.com/books/:id+", "https://example.com/books"));
    assert_true(matches("https://example.com/books/:id*", "https://example.com/books"));
    assert_true(matches("https://example.com/books/*", "https://example.com/books/1/reviews/2"));
    assert_true(matches("https://example.com/books/*", "https://example.com/books/"));
    assert_false(matches("https://example.com/books/*", "https://example.com/books"));
    assert_true(matches("https://example.com/books{/:id}?", "https://example.com/books"));
    assert_true(matches("https://example.com/books/:id.json", "https://example.com/books/1.json"));
    assert_false(matches("https://example.com/books/:id.json", "https://example.com/books/1"));
    assert_true(matches("https://example.com/{books}?", "https://example.com/"));
    /* Hostname wildcards: a named group is one label, `*` any run. */
    assert_true(matches("https://:sub.example.com/*", "https://api.example.com/x"));
    assert_false(matches("https://:sub.example.com/*", "https://a.b.example.com/x"));
    assert_true(matches("https://*.example.com/*", "https://a.b.example.com/x"));
    assert_false(matches("https://*.example.com/*", "https://example.com/x"));
    assert_true(matches("*://example.com/books/:id", "http://example.com/books/1"));
    /* Search and hash when given. */
    assert_true(matches("https://example.com/s?q=:term", "https://example.com/s?q=abc"));
    assert_false(matches("https://example.com/s?q=:term", "https://example.com/s?lang=fr"));
    assert_false(matches("https://example.com/s?q=:term", "https://example.com/s"));
    assert_true(matches("https://example.com/p#:frag", "https://example.com/p#a"));
    /* An escaped '?' is part of the path, not the search. */
    assert_false(matches("https://example.com/p\\?x", "https://example.com/p?x"));
    /* A host without a path: the path is '/'. */
    assert_true(matches("https://example.com", "https://example.com/"));
    assert_true(matches("https://example.com", "https://example.com"));
    assert_false(matches("https://example.com", "https://example.com/books/1"));
    /* Userinfo, omitted: anything. */
    assert_true(matches(book, "https://user:pw@example.com/books/1"));
    /* Not a URL: no match. */
    assert_false(matches(book, "books/1"));
    assert_false(matches(book, ""));
}

static void
test_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "https://example.com/books/(\\d+)", /* a regexp group */
        "https://example.com/books/:id(\\d+)",
        "example.com/books/1", /* not absolute */
        "/books/:id",
        "https://example.com/books/{:id", /* unclosed */
        "https://example.com/books}",
        "https://example.com/a+b",     /* a stray modifier */
        "https://example.com/books/:", /* ':' without a name */
        "https://example.com/books\\",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rp_url_pattern *p = (struct rp_url_pattern *)1;
        const char *why = NULL;
        if (rp_url_pattern_compile(bad[i], strlen(bad[i]), &p, &why) != -EINVAL)
            fail_msg("accepted: %s", bad[i]);
        assert_null(p);
        assert_non_null(why);
    }
    struct rp_url_pattern *p;
    const char *why;
    assert_int_equal(rp_url_pattern_compile("https://example.com/(x)", 23, &p, &why), -EINVAL);
    assert_non_null(strstr(why, "regular-expression"));
    char nul[] = "https://a/\0b";
    assert_int_equal(rp_url_pattern_compile(nul, sizeof(nul) - 1, &p, &why), -EINVAL);
    char *big = malloc(RP_URL_PATTERN_MAX + 2);
    memcpy(big, "https://", 8);
    memset(big + 8, 'a', RP_URL_PATTERN_MAX - 7);
    assert_int_equal(rp_url_pattern_compile(big, RP_URL_PATTERN_MAX + 1, &p, &why), -EINVAL);
    free(big);
    /* Escapes make the special characters literal. */
    assert_true(matches("https://example.com/a\\+b\\(c\\)", "https://example.com/a+b(c)"));
    assert_true(matches("https://example.com/a\\:b", "https://example.com/a:b"));
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

/* Random small component patterns and strings: the automaton agrees with the reference on
 * each, for the pathname ('/'), hostname ('.') and the other components (no delimiter),
 * including which patterns are invalid. */
static void
test_against_reference(void **state)
{
    (void)state;
    static const char *pieces[] = {"a",   "b",     "/",    ".",      ":x", ":y", "*",
                                   "?",   "+",     "{",    "}",      "{/", "\\", "\\*",
                                   "/:x", "{a:x}", "{/*}", "{.:y.}", "{b}"};
    static const char str_chars[] = "ab/.";
    static const char delims[] = {'/', '.', 0};
    size_t n_pieces = sizeof(pieces) / sizeof(pieces[0]);
    unsigned agreed_true = 0, valid = 0, total = 0;
    for (int round = 0; round < 60000; round++) {
        char pat[128] = "";
        int np = 1 + (int)(next_rand() % 5);
        size_t pl = 0;
        for (int i = 0; i < np; i++)
            pl +=
                (size_t)snprintf(pat + pl, sizeof(pat) - pl, "%s", pieces[next_rand() % n_pieces]);
        char s[16];
        size_t n = next_rand() % 9;
        for (size_t i = 0; i < n; i++)
            s[i] = str_chars[next_rand() % (sizeof(str_chars) - 1)];
        s[n] = '\0';
        char delim = delims[next_rand() % 3];
        int want = ref_component_matches(pat, pl, delim, s, n);
        int got = rp_url_pattern_component_matches(pat, pl, delim, s, n);
        if (want != (got == -EINVAL ? -1 : got))
            fail_msg("pattern \"%s\" delimiter '%c' string \"%s\": reference %d, automaton %d", pat,
                     delim ? delim : '0', s, want, got);
        agreed_true += want == 1;
        valid += want >= 0;
        total++;
    }
    /* The random cases exercise every answer, not just "invalid" or "no". */
    assert_true(valid > total / 5);
    assert_true(agreed_true > total / 50);
}

/* Long inputs stay cheap, and past the cost cap the answer is "no match", not a hang. */
static void
test_cost(void **state)
{
    (void)state;
    char pat[RP_URL_PATTERN_MAX + 1] = "https://example.com/";
    size_t pl = strlen(pat);
    for (int i = 0; i < 150; i++) {
        memcpy(pat + pl, "*a", 3);
        pl += 2;
    }
    size_t len = 20 + 8000;
    char *iri = malloc(len + 1);
    memcpy(iri, "https://example.com/", 20);
    memset(iri + 20, 'a', 8000);
    iri[len] = '\0';
    struct rp_url_pattern *p;
    const char *why;
    assert_int_equal(rp_url_pattern_compile(pat, pl, &p, &why), 0);
    /* 150 wildcards: hundreds of live states per byte over 8,000 bytes: over the cap. */
    assert_false(rp_url_pattern_matches(p, iri, len));
    /* Within the cap the same pattern matches a shorter IRI. */
    assert_true(rp_url_pattern_matches(p, iri, 20 + 300));
    rp_url_pattern_free(p);
    free(iri);
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
