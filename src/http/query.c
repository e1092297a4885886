/* SPDX-License-Identifier: MIT */
#include "http/query.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/hex.h"

long
rp_query_pct_decode(const char *src, size_t n, char *dst, bool plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '%') {
            if (n - i < 3)
                return -EINVAL;
            int hi = rp_hex_value(src[i + 1]);
            int lo = rp_hex_value(src[i + 2]);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c == '\0')
            return -EILSEQ;
        dst[o++] = (char)c;
    }
    return (long)o;
}

/* Where one parameter lies in the raw query: name [start, eq), value (eq, end). */
struct span {
    size_t start, eq, end;
};

/*
 * The next parameter at or after *<pos>, which moves past it; false at the end. Empty
 * parameters ("a=1&&b=2") are skipped, and one without '=' has an empty value. Both the
 * walker and the parser split here, so they cannot disagree on what a parameter is.
 */
static bool
next_span(const char *query, size_t len, size_t *pos, struct span *s)
{
    size_t i = *pos;
    while (i < len && query[i] == '&')
        i++;
    if (i >= len) {
        *pos = len;
        return false;
    }
    size_t end = i;
    while (end < len && query[end] != '&')
        end++;
    size_t eq = i;
    while (eq < end && query[eq] != '=')
        eq++;
    *pos = end;
    *s = (struct span){i, eq, end};
    return true;
}

static const char *
span_value(const char *query, const struct span *s, size_t *len)
{
    *len = s->eq < s->end ? s->end - s->eq - 1 : 0;
    return s->eq < s->end ? query + s->eq + 1 : "";
}

/* The decoded length of <n> raw bytes, or a decoding error, without writing anything. */
static long
measure(const char *src, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++, out++) {
        if (src[i] == '%') {
            if (n - i < 3 || rp_hex_value(src[i + 1]) < 0 || rp_hex_value(src[i + 2]) < 0)
                return -EINVAL;
            if (src[i + 1] == '0' && src[i + 2] == '0')
                return -EILSEQ;
            i += 2;
        } else if (src[i] == '\0') {
            return -EILSEQ;
        }
    }
    return (long)out;
}

static int fail(struct rp_query_error *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct rp_query_error *err, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->status = 400;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return rc;
}

/* The start of a raw name for an error message: printable ASCII only, at most 40 bytes. */
static void
quote_name(char *out, size_t cap, const char *name, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < cap; i++)
        out[n++] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
    if (n < len)
        for (int k = 0; k < 3 && n + 1 < cap; k++)
            out[n++] = '.';
    out[n] = '\0';
}

static int
malformed(struct rp_query_error *err, const char *query, const struct span *s, long rc)
{
    char name[44];
    quote_name(name, sizeof(name), query + s->start, s->eq - s->start);
    return fail(err, (int)rc, "query parameter \"%s\" %s", name,
                rc == -EILSEQ ? "decodes to a NUL byte (%00)"
                              : "has a malformed percent escape (% must be followed by two "
                                "hex digits; write a literal % as %25)");
}

/* The bytes <q> needs: its params, then every name and value with their NULs. */
static int
check_all(const char *query, size_t len, const struct rp_query_limits *lim, size_t *n_params,
          size_t *n_bytes, struct rp_query_error *err)
{
    if (len > lim->max_bytes)
        return fail(err, -E2BIG, "the query string is %zu bytes; at most %zu are accepted", len,
                    lim->max_bytes);
    size_t pos = 0, n = 0, bytes = 0;
    struct span s;
    char name[44];
    while (next_span(query, len, &pos, &s)) {
        if (++n > lim->max_params)
            return fail(err, -E2BIG, "the query string has more than %zu parameters",
                        lim->max_params);
        long name_len = measure(query + s.start, s.eq - s.start);
        if (name_len < 0)
            return malformed(err, query, &s, name_len);
        quote_name(name, sizeof(name), query + s.start, s.eq - s.start);
        if ((size_t)name_len > lim->max_name)
            return fail(err, -E2BIG, "query parameter \"%s\": the name is longer than %zu bytes",
                        name, lim->max_name);
        size_t raw_len;
        const char *raw = span_value(query, &s, &raw_len);
        long value_len = measure(raw, raw_len);
        if (value_len < 0)
            return malformed(err, query, &s, value_len);
        if ((size_t)value_len > lim->max_value)
            return fail(err, -E2BIG, "query parameter \"%s\": the value is longer than %zu bytes",
                        name, lim->max_value);
        bytes += (size_t)name_len + 1 + (size_t)value_len + 1;
        if (memchr(raw, '+', raw_len))
            bytes += (size_t)value_len + 1;
    }
    *n_params = n;
    *n_bytes = bytes;
    return 0;
}

/* Decodes <n> bytes already measured into <dst>, NUL-terminates it; returns its length. */
static size_t
decode_into(char *dst, const char *src, size_t n, bool plus_space)
{
    long len = rp_query_pct_decode(src, n, dst, plus_space);
    RP_ASSERT(len >= 0);
    dst[len] = '\0';
    return (size_t)len;
}

int
rp_query_parse(struct rp_query *q, const char *query, size_t len,
               const struct rp_query_limits *limits, struct rp_query_error *err)
{
    memset(q, 0, sizeof(*q));
    size_t n = 0, bytes = 0;
    int rc = check_all(query, len, limits, &n, &bytes, err);
    if (rc || n == 0)
        return rc;
    /* Every cap holds and every escape decodes: from here nothing can fail. */
    struct rp_query_param *params = rp_xmalloc(n * sizeof(*params) + bytes);
    char *str = (char *)(params + n);
    size_t pos = 0;
    struct span s;
    for (size_t i = 0; i < n; i++) {
        bool more = next_span(query, len, &pos, &s);
        RP_ASSERT(more);
        struct rp_query_param *p = &params[i];
        p->name = str;
        p->name_len = decode_into(str, query + s.start, s.eq - s.start, true);
        str += p->name_len + 1;
        size_t raw_len;
        const char *raw = span_value(query, &s, &raw_len);
        p->value = str;
        p->value_len = decode_into(str, raw, raw_len, true);
        str += p->value_len + 1;
        p->value_plus = p->value;
        if (memchr(raw, '+', raw_len)) {
            p->value_plus = str;
            decode_into(str, raw, raw_len, false);
            str += p->value_len + 1;
        }
    }
    RP_ASSERT(str == (char *)(params + n) + bytes);
    q->params = params;
    q->n_params = n;
    q->mem = params;
    return 0;
}

void
rp_query_fini(struct rp_query *q)
{
    free(q->mem);
    memset(q, 0, sizeof(*q));
}

const struct rp_query_param *
rp_query_next_named(const struct rp_query *q, const char *name, size_t *pos)
{
    for (size_t i = *pos; i < q->n_params; i++) {
        if (strcmp(q->params[i].name, name) == 0) {
            *pos = i + 1;
            return &q->params[i];
        }
    }
    *pos = q->n_params;
    return NULL;
}

const char *
rp_query_get(const struct rp_query *q, const char *name)
{
    size_t pos = 0;
    const struct rp_query_param *p = rp_query_next_named(q, name, &pos);
    return p ? p->value : NULL;
}

const char *
rp_query_get_plus(const struct rp_query *q, const char *name)
{
    size_t pos = 0;
    const struct rp_query_param *p = rp_query_next_named(q, name, &pos);
    return p ? p->value_plus : NULL;
}

size_t
rp_query_count(const struct rp_query *q, const char *name)
{
    size_t n = 0, pos = 0;
    while (rp_query_next_named(q, name, &pos))
        n++;
    return n;
}

/* Decodes one query component into <dst> of <cap> bytes, NUL included. */
static int
decode_component(const char *src, size_t n, char *dst, size_t cap)
{
    /* Decoding never grows, but a short escape may still fit: check the exact length. */
    size_t out = 0;
    for (size_t i = 0; i < n; i++, out++)
        if (src[i] == '%' && n - i >= 3)
            i += 2;
    if (out >= cap)
        return -ENOBUFS;
    long len = rp_query_pct_decode(src, n, dst, true);
    if (len < 0)
        return -EINVAL;
    dst[len] = '\0';
    return 0;
}

int
rp_http_query_next(const char *query, size_t query_len, size_t *pos, char *key, char *value,
                   size_t cap)
{
    struct span s;
    /* next_span moves past the parameter even on error, so a caller that skips bad ones
     * cannot loop. */
    if (!next_span(query, query_len, pos, &s))
        return 0;
    /* Callers have passed a value-sized <cap> with a name-sized key buffer, which let a
     * long name overflow the key: names are capped on their own. */
    int err = decode_component(query + s.start, s.eq - s.start, key,
                               cap < RP_HTTP_QUERY_KEY_CAP ? cap : RP_HTTP_QUERY_KEY_CAP);
    if (err)
        return err;
    size_t raw_len;
    const char *raw = span_value(query, &s, &raw_len);
    err = decode_component(raw, raw_len, value, cap);
    return err ? err : 1;
}
