/* SPDX-License-Identifier: MIT */
#include "core/pattern.h"

#include <string.h>

#include "core/topic_name.h"

/*
 * Filters are walked one level at a time, without copying or splitting: a level is the
 * bytes up to the next `/` or the end.
 */

static bool
is_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

/* One past the last byte of the level that starts at <start>. */
static size_t
level_end(const char *s, size_t len, size_t start)
{
    if (start >= len)
        return len;
    const char *slash = memchr(s + start, '/', len - start);
    return slash ? (size_t)(slash - s) : len;
}

static const char *
check_level(const char *lvl, size_t len, bool last)
{
    if (len == 0)
        return "filter contains an empty level (leading, trailing or double '/')";
    if (len == 1 && lvl[0] == '#')
        return last ? NULL : "'#' must be the last level of a filter";
    if (len == 1 && lvl[0] == '+')
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)lvl[i];
        if (c == '+' || c == '#')
            return "a wildcard must fill a whole level ('a+/b' and 'a/b#' are invalid)";
        if (!is_name_char(c))
            return "filter contains a character outside a-z A-Z 0-9 - _ . / + #";
    }
    if (len == 1 && lvl[0] == '.')
        return "filter contains a '.' level";
    if (len == 2 && lvl[0] == '.' && lvl[1] == '.')
        return "filter contains a '..' level";
    return NULL;
}

const char *
rp_pattern_check(const char *filter, size_t len)
{
    if (len == 0)
        return "filter is empty";
    if (len > RP_TOPIC_NAME_MAX)
        return "filter is longer than 255 bytes";
    size_t i = 0;
    for (;;) {
        size_t end = level_end(filter, len, i);
        const char *bad = check_level(filter + i, end - i, end == len);
        if (bad)
            return bad;
        if (end == len)
            return NULL;
        i = end + 1;
    }
}

bool
rp_pattern_has_wildcard(const char *filter, size_t len)
{
    return len && (memchr(filter, '+', len) || memchr(filter, '#', len));
}

bool
rp_pattern_matches(const char *filter, size_t filter_len, const char *topic, size_t topic_len)
{
    size_t fi = 0, ti = 0;
    /* Private topics (sessions', Mercure's private updates) are reached only by a filter
     * that names their prefix: one that starts with a wildcard (`#`, `+/...`) does not
     * match them (as MQTT keeps `$` topics from `#`). */
    if (filter_len && (filter[0] == '#' || filter[0] == '+') &&
        rp_topic_name_is_private(topic, topic_len))
        return false;
    bool topic_done = false;
    for (;;) {
        size_t fe = level_end(filter, filter_len, fi);
        /* `#` covers what is left of the topic, including nothing: `a/#` matches `a`. */
        if (fe - fi == 1 && filter[fi] == '#')
            return true;
        if (topic_done)
            return false;
        size_t te = level_end(topic, topic_len, ti);
        bool plus = fe - fi == 1 && filter[fi] == '+';
        if (!plus && (fe - fi != te - ti || memcmp(filter + fi, topic + ti, te - ti) != 0))
            return false;
        if (fe == filter_len)
            return te == topic_len;
        fi = fe + 1;
        if (te == topic_len)
            topic_done = true;
        else
            ti = te + 1;
    }
}

bool
rp_pattern_covers(const char *outer, size_t outer_len, const char *inner, size_t inner_len)
{
    /* Topics have at least one level, so a lone `#` means exactly what `+/#` means. */
    if (inner_len == 1 && inner[0] == '#')
        return rp_pattern_covers(outer, outer_len, "+/#", 3);
    size_t oi = 0, ii = 0;
    for (;;) {
        size_t oe = level_end(outer, outer_len, oi);
        bool o_hash = oe - oi == 1 && outer[oi] == '#';
        if (o_hash)
            return true; /* what is left of any topic, including nothing */
        if (ii > inner_len)
            return false; /* <inner>'s topics end here, <outer>'s go on */
        size_t ie = level_end(inner, inner_len, ii);
        bool i_hash = ie - ii == 1 && inner[ii] == '#';
        bool o_plus = oe - oi == 1 && outer[oi] == '+';
        if (i_hash)
            return false; /* only `#` covers any depth */
        if (!o_plus && (oe - oi != ie - ii || memcmp(outer + oi, inner + ii, ie - ii) != 0))
            return false; /* a literal covers only itself, not `+` */
        if (oe == outer_len)
            return ie == inner_len;
        oi = oe + 1;
        ii = ie == inner_len ? inner_len + 1 : ie + 1;
    }
}
