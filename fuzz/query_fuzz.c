/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for http/query. The first byte picks small caps; the rest is a query
 * string. It is parsed under generous caps and under the small ones, and checked against a
 * reference decoder written here the plain way, and against the allocation-free walker
 * (rp_http_query_next): all three must agree on which parameters there are and what they
 * decode to, or that the query is malformed. Every accepted query must satisfy the header's
 * contract (caps, lengths, '+' kept only in value_plus, first-wins lookups); every refused
 * one must say so with a 400 and a printable message.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int
hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * The reference: decodes <n> bytes of <s> into <out>, '+' as space when <plus_space>;
 * returns the length, or -1 when malformed (bad escape, or a NUL raw or decoded).
 */
static long
ref_decode(const unsigned char *s, size_t n, char *out, bool plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c == 0)
            return -1;
        out[o++] = (char)c;
    }
    return (long)o;
}

/* One parameter as the reference sees it. */
struct ref_param {
    const unsigned char *name, *value;
    size_t name_len, value_len;
};

/* Splits <q> on '&' (skipping empty parts) and each part at its first '='. */
static size_t
ref_split(const unsigned char *q, size_t len, struct ref_param *out, size_t cap)
{
    size_t n = 0, i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && q[end] != '&')
            end++;
        if (end > i) {
            CHECK(n < cap);
            size_t eq = i;
            while (eq < end && q[eq] != '=')
                eq++;
            out[n].name = q + i;
            out[n].name_len = eq - i;
            out[n].value = eq < end ? q + eq + 1 : q + end;
            out[n].value_len = eq < end ? end - eq - 1 : 0;
            n++;
        }
        i = end + 1;
    }
    return n;
}

static void
check_refused(int rc, const struct rp_query *q, const struct rp_query_error *err)
{
    CHECK(rc == -EINVAL || rc == -EILSEQ || rc == -E2BIG);
    CHECK(err->status == 400);
    size_t len = strlen(err->message);
    CHECK(len > 0 && len < sizeof(err->message));
    for (size_t i = 0; i < len; i++)
        CHECK(err->message[i] >= 0x20 && err->message[i] < 0x7f);
    CHECK(q->n_params == 0 && q->params == NULL && q->mem == NULL);
}

/* The contract of an accepted query, under <lim>. */
static void
check_accepted(const struct rp_query *q, const struct rp_query_limits *lim)
{
    CHECK(q->n_params <= lim->max_params);
    CHECK((q->n_params == 0) == (q->params == NULL));
    for (size_t i = 0; i < q->n_params; i++) {
        const struct rp_query_param *p = &q->params[i];
        CHECK(strlen(p->name) == p->name_len && p->name_len <= lim->max_name);
        CHECK(strlen(p->value) == p->value_len && p->value_len <= lim->max_value);
        CHECK(strlen(p->value_plus) == p->value_len);
        for (size_t k = 0; k < p->value_len; k++)
            CHECK(p->value[k] == p->value_plus[k] ||
                  (p->value[k] == ' ' && p->value_plus[k] == '+'));
        /* A lookup finds the first parameter of that name. */
        size_t first = 0;
        while (strcmp(q->params[first].name, p->name) != 0)
            first++;
        CHECK(rp_query_get(q, p->name) == q->params[first].value);
        CHECK(rp_query_get_plus(q, p->name) == q->params[first].value_plus);
        if (i == first) {
            size_t pos = 0, count = 0;
            const struct rp_query_param *it;
            while ((it = rp_query_next_named(q, p->name, &pos)) != NULL) {
                CHECK(it >= q->params && it < q->params + q->n_params);
                CHECK(strcmp(it->name, p->name) == 0);
                count++;
            }
            CHECK(count == rp_query_count(q, p->name));
        }
    }
}

/* The parse under generous caps must match the reference exactly. */
static void
check_against_reference(const unsigned char *s, size_t len, int rc, const struct rp_query *q)
{
    struct ref_param *ref = calloc(len / 2 + 1, sizeof(*ref));
    char *a = malloc(len + 1), *b = malloc(len + 1);
    CHECK(ref && a && b);
    size_t n = ref_split(s, len, ref, len / 2 + 1);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++)
        ok = ref_decode(ref[i].name, ref[i].name_len, a, true) >= 0 &&
             ref_decode(ref[i].value, ref[i].value_len, a, true) >= 0;
    CHECK(ok == (rc == 0));
    if (ok) {
        CHECK(q->n_params == n);
        for (size_t i = 0; i < n; i++) {
            const struct rp_query_param *p = &q->params[i];
            long nl = ref_decode(ref[i].name, ref[i].name_len, a, true);
            CHECK((size_t)nl == p->name_len && memcmp(a, p->name, p->name_len) == 0);
            long vl = ref_decode(ref[i].value, ref[i].value_len, a, true);
            long pl = ref_decode(ref[i].value, ref[i].value_len, b, false);
            CHECK((size_t)vl == p->value_len && (size_t)pl == p->value_len);
            CHECK(memcmp(a, p->value, p->value_len) == 0);
            CHECK(memcmp(b, p->value_plus, p->value_len) == 0);
        }
    }
    free(ref);
    free(a);
    free(b);
}

/* The walker sees the same parameters; a bad one is reported and skipped. */
static void
check_against_walker(const char *s, size_t len, int rc, const struct rp_query *q)
{
    char *key = malloc(len + 1), *value = malloc(len + 1);
    CHECK(key && value);
    size_t pos = 0, n = 0, bad = 0;
    int r;
    while ((r = rp_http_query_next(s, len, &pos, key, value, len + 1)) != 0) {
        CHECK(r == 1 || r == -EINVAL);
        CHECK(pos <= len);
        if (r < 0) {
            bad++;
            continue;
        }
        if (rc == 0) {
            CHECK(n < q->n_params);
            CHECK(strcmp(key, q->params[n].name) == 0);
            CHECK(strcmp(value, q->params[n].value) == 0);
        }
        n++;
    }
    CHECK((bad == 0) == (rc == 0));
    if (rc == 0)
        CHECK(n == q->n_params);
    free(key);
    free(value);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned sel = data[0];
    const char *s = (const char *)data + 1;
    size_t len = size - 1;

    const struct rp_query_limits wide = {len, len + 1, len, len};
    struct rp_query q;
    struct rp_query_error err = {0};
    int rc = rp_query_parse(&q, s, len, &wide, &err);
    /* Under generous caps only malformed escapes or NULs are refused. */
    if (rc)
        check_refused(rc, &q, &err);
    else
        check_accepted(&q, &wide);
    CHECK(rc != -E2BIG);
    check_against_reference((const unsigned char *)s, len, rc, &q);
    check_against_walker(s, len, rc, &q);

    /* Small caps from the first byte: accepted means within them and the same as wide. */
    const struct rp_query_limits small = {
        .max_bytes = 8 + (sel & 3) * 24,
        .max_params = 1 + (sel >> 2 & 3),
        .max_name = (sel >> 4 & 3) * 3,
        .max_value = (sel >> 6 & 3) * 5,
    };
    struct rp_query t;
    struct rp_query_error terr = {0};
    int trc = rp_query_parse(&t, s, len, &small, &terr);
    if (trc) {
        check_refused(trc, &t, &terr);
    } else {
        check_accepted(&t, &small);
        CHECK(rc == 0 && t.n_params == q.n_params);
        for (size_t i = 0; i < t.n_params; i++) {
            CHECK(strcmp(t.params[i].name, q.params[i].name) == 0);
            CHECK(strcmp(t.params[i].value_plus, q.params[i].value_plus) == 0);
        }
    }
    /* A malformed query stays malformed under any caps (or hits a cap first). */
    if (rc)
        CHECK(trc != 0);
    rp_query_fini(&t);
    rp_query_fini(&q);
    return 0;
}
