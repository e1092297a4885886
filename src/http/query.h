/* SPDX-License-Identifier: MIT */
#ifndef RP_HTTP_QUERY_H
#define RP_HTTP_QUERY_H
/*
 * Query strings (`a=1&topic=x&topic=y`): parsed once per request into a bounded list of
 * percent-decoded (name, value) pairs, with the caps given by the caller. Each value is
 * kept twice when it must be: form-decoded ('+' is a space) and with '+' literal (topic
 * filters, where '+' is the wildcard, and tokens). Also the percent decoder of paths.
 * Not responsible for what a parameter means or for its own limits (a topic's length is
 * the topic's business). Pure; any thread.
 */
#include <stdbool.h>
#include <stddef.h>

/* Caps of one query; every one is checked before anything is allocated. */
struct rp_query_limits {
    size_t max_bytes;  /* raw bytes of the whole query (after '?') */
    size_t max_params; /* parameters; "a=1&&b" has 2 (empty ones do not count) */
    size_t max_name;   /* decoded bytes of one name */
    size_t max_value;  /* decoded bytes of one value (a token may need 64 KiB) */
};

/* One parameter. Strings are NUL-terminated and hold no NUL (a decoded %00 is refused). */
struct rp_query_param {
    const char *name; /* percent-decoded, '+' as space */
    size_t name_len;
    const char *value;      /* percent-decoded, '+' as space; "" for `a` and `a=` */
    const char *value_plus; /* the same with '+' kept as '+' ('%2B' is '+' in both) */
    size_t value_len;       /* of both */
};

/* A parsed query. Zeroed is a valid empty query; read params, never write them. */
struct rp_query {
    const struct rp_query_param *params; /* in the order of the query string */
    size_t n_params;
    void *mem; /* the one allocation holding params and strings */
};

/* Why a query was refused: the status to answer (400) and what was wrong, for the client. */
struct rp_query_error {
    int status;
    char message[200];
};

/*
 * Parses the <len> bytes of <query> (no leading '?'; NULs inside <len> are malformed) into
 * <q>, under <limits>. 0, or -EINVAL (malformed percent escape or a decoded NUL) or
 * -E2BIG (over a cap) with <err> filled and <q> empty. Nothing of <query> is kept; free
 * <q> with rp_query_fini in both cases.
 */
int rp_query_parse(struct rp_query *q, const char *query, size_t len,
                   const struct rp_query_limits *limits, struct rp_query_error *err);
/* Frees what <q> holds and leaves it empty. Accepts a zeroed or empty query. */
void rp_query_fini(struct rp_query *q);

/*
 * The value of the first parameter named <name> (exact bytes, case-sensitive), form-
 * decoded; "" when it has no value, NULL when absent. Borrowed from <q>.
 */
const char *rp_query_get(const struct rp_query *q, const char *name);
/* As rp_query_get, with '+' kept literal: for topic filters and tokens. */
const char *rp_query_get_plus(const struct rp_query *q, const char *name);
/*
 * Iterates over the parameters named <name> in query order: start with *<pos> = 0; each
 * call returns the next one (borrowed from <q>) or NULL at the end.
 */
const struct rp_query_param *rp_query_next_named(const struct rp_query *q, const char *name,
                                                 size_t *pos);
/* How many parameters are named <name>. */
size_t rp_query_count(const struct rp_query *q, const char *name);

/*
 * Percent-decodes the <n> bytes at <src> into <dst>, which has room for <n> bytes (decoding
 * never grows; no NUL is written). '+' becomes a space only when <plus_space>. Returns the
 * decoded length, -EINVAL for a malformed escape, or -EILSEQ for a NUL byte, decoded or raw.
 */
long rp_query_pct_decode(const char *src, size_t n, char *dst, bool plus_space);

/* The most bytes rp_http_query_next writes to a <key>, NUL included, whatever its <cap>. */
#define RP_HTTP_QUERY_KEY_CAP 1024

/*
 * Walks a query string without allocating: start with *<pos> = 0; returns 1 and fills
 * <key>/<value> (both percent-decoded, '+' as space, NUL-terminated, at most <cap> bytes
 * each including the NUL, and <key> at most RP_HTTP_QUERY_KEY_CAP) for each parameter, 0 at
 * the end, -EINVAL when a parameter is malformed (bad percent escape, decoded NUL) or
 * -ENOBUFS when it does not fit; the walk then goes on after it. Prefer rp_query_parse;
 * this stays for callers of old.
 */
int rp_http_query_next(const char *query, size_t query_len, size_t *pos, char *key, char *value,
                       size_t cap);

#endif
