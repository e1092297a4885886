/* SPDX-License-Identifier: MIT */
/*
 * Differential fuzzing of core/pattern. The input is `filter NUL topic` (no NUL: the whole
 * input is both). rp_pattern_check is compared with a reference validator, and for a
 * valid filter and a valid topic name rp_pattern_matches is compared with a reference
 * matcher that first splits both into levels. Aborts on any disagreement.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pattern.h"
#include "core/topic_name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LEVELS 256

struct level {
    const char *p;
    size_t len;
};

static size_t
split(const char *s, size_t len, struct level *out)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '/')
            continue;
        out[n++] = (struct level){s + start, i - start};
        start = i + 1;
    }
    return n;
}

static bool
is_level(const struct level *l, const char *s)
{
    return l->len == strlen(s) && memcmp(l->p, s, l->len) == 0;
}

static bool
ref_valid(const char *s, size_t len)
{
    if (len < 1 || len > 255)
        return false;
    struct level lv[MAX_LEVELS];
    size_t n = split(s, len, lv);
    for (size_t i = 0; i < n; i++) {
        if (is_level(&lv[i], "+"))
            continue;
        if (is_level(&lv[i], "#")) {
            if (i + 1 != n)
                return false;
            continue;
        }
        if (lv[i].len == 0 || is_level(&lv[i], ".") || is_level(&lv[i], ".."))
            return false;
        for (size_t k = 0; k < lv[i].len; k++) {
            char c = lv[i].p[k];
            if (c == '\0' || !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-_.",
                                     c))
                return false;
        }
    }
    return true;
}

static bool
ref_match(const struct level *f, size_t nf, const struct level *t, size_t nt)
{
    if (nf == 0)
        return nt == 0;
    if (is_level(&f[0], "#"))
        return true;
    if (nt == 0)
        return false;
    if (!is_level(&f[0], "+") && (f[0].len != t[0].len || memcmp(f[0].p, t[0].p, t[0].len)))
        return false;
    return ref_match(f + 1, nf - 1, t + 1, nt - 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *filter = (const char *)data, *topic = filter;
    size_t filter_len = size, topic_len = size;
    const uint8_t *nul = memchr(data, '\0', size);
    if (nul) {
        filter_len = (size_t)(nul - data);
        topic = (const char *)nul + 1;
        topic_len = size - filter_len - 1;
    }
    bool valid = rp_pattern_check(filter, filter_len) == NULL;
    if (valid != ref_valid(filter, filter_len))
        abort();
    if (!valid)
        return 0;
    bool wild = memchr(filter, '+', filter_len) || memchr(filter, '#', filter_len);
    if (rp_pattern_has_wildcard(filter, filter_len) != wild)
        abort();
    /* A filter without wildcards is a topic name, and the other way round. */
    if (!wild && rp_topic_name_check(filter, filter_len) != NULL)
        abort();
    if (rp_topic_name_check(topic, topic_len) != NULL)
        return 0;
    struct level f[MAX_LEVELS], t[MAX_LEVELS];
    size_t nf = split(filter, filter_len, f), nt = split(topic, topic_len, t);
    /* Private topics (sessions', Mercure's private updates) are not reached by a leading
     * wildcard (core/pattern.h). */
    size_t sp = strlen("_revenprox/session/"), mp = strlen("_revenprox/mercure/p/");
    bool hidden = (filter[0] == '#' || filter[0] == '+') &&
                  ((topic_len >= sp && memcmp(topic, "_revenprox/session/", sp) == 0) ||
                   (topic_len >= mp && memcmp(topic, "_revenprox/mercure/p/", mp) == 0));
    if (rp_pattern_matches(filter, filter_len, topic, topic_len) !=
        (!hidden && ref_match(f, nf, t, nt)))
        abort();
    return 0;
}
