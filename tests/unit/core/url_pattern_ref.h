/* SPDX-License-Identifier: MIT */
#ifndef RP_TESTS_URL_PATTERN_REF_H
#define RP_TESTS_URL_PATTERN_REF_H
/*
 * A brute-force reference for one component of core/url_pattern, written from the URL
 * Pattern standard's part list and the regular expressions it generates for each part: it
 * parses the pattern character by character into parts, then tries every way to split the
 * string between them and, inside a repeated group, between its repetitions (exponential;
 * small inputs only). Shared by the unit test and the fuzz harness.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define REF_PARTS_MAX 64

struct ref_part {
    int kind; /* 0 fixed text, 1 segment (one or more bytes but the delimiter), 2 any run */
    char prefix[64], suffix[64], fixed[64];
    size_t prefix_len, suffix_len, fixed_len;
    char mod;         /* 0, '?', '+', '*' */
    bool plain_slash; /* an unescaped '/' on its own: the next group's implicit prefix */
};

static bool
ref_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static bool
ref_name_part(char c)
{
    return ref_name_start(c) || (c >= '0' && c <= '9');
}

/* Group text: plain or escaped characters up to the first special one. */
static size_t
ref_text(const char *p, size_t len, size_t *i, char *out)
{
    size_t n = 0;
    while (*i < len && n < 63) {
        char c = p[*i];
        if (c == '\\' && *i + 1 < len) {
            out[n++] = p[*i + 1];
            *i += 2;
        } else if (c == '\\' || c == '{' || c == '}' || c == '*' || c == '?' || c == '+' ||
                   c == ':' || c == '(' || c == ')' || c == '\0') {
            break;
        } else {
            out[n++] = c;
            (*i)++;
        }
    }
    return n;
}

static char
ref_mod(const char *p, size_t len, size_t *i)
{
    if (*i < len && (p[*i] == '?' || p[*i] == '+' || p[*i] == '*'))
        return p[(*i)++];
    return 0;
}

/* Skips a `:name`; false when there is none at <i>. */
static bool
ref_skip_name(const char *p, size_t len, size_t *i)
{
    if (*i + 1 >= len || p[*i] != ':' || !ref_name_start(p[*i + 1]))
        return false;
    *i += 2;
    while (*i < len && ref_name_part(p[*i]))
        (*i)++;
    return true;
}

/* The parts of <p> into <parts>; their count, or -1 for an invalid pattern. */
static int
ref_parse(const char *p, size_t len, char delim, struct ref_part *parts)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        if (n >= REF_PARTS_MAX - 1)
            return -1;
        struct ref_part *q = &parts[n];
        memset(q, 0, sizeof(*q));
        char c = p[i];
        if (c == '\\') {
            if (i + 1 == len)
                return -1;
            q->fixed[0] = p[i + 1], q->fixed_len = 1;
            i += 2;
            n++;
        } else if (c == ':' || c == '*') {
            if (c == ':' && !ref_skip_name(p, len, &i))
                return -1;
            if (c == '*')
                i++;
            q->kind = c == ':' ? 1 : 2;
            /* An unescaped '/' right before is the implicit prefix (pathname only). */
            if (delim == '/' && n > 0 && parts[n - 1].plain_slash) {
                n--;
                q = &parts[n];
                memset(q, 0, sizeof(*q));
                q->kind = c == ':' ? 1 : 2;
                q->prefix[0] = '/', q->prefix_len = 1;
            }
            q->mod = ref_mod(p, len, &i);
            n++;
        } else if (c == '{') {
            i++;
            q->prefix_len = ref_text(p, len, &i, q->prefix);
            bool named = ref_skip_name(p, len, &i), wild = false;
            if (!named && i < len && p[i] == '*')
                wild = true, i++;
            q->suffix_len = ref_text(p, len, &i, q->suffix);
            if (i == len || p[i] != '}')
                return -1;
            i++;
            q->mod = ref_mod(p, len, &i);
            if (!named && !wild) {
                memcpy(q->fixed, q->prefix, q->prefix_len);
                q->fixed_len = q->prefix_len, q->prefix_len = 0;
            } else {
                q->kind = named ? 1 : 2;
            }
            n++;
        } else if (c == '}' || c == '?' || c == '+' || c == '(' || c == ')' || c == '\0') {
            return -1;
        } else {
            q->fixed[0] = c, q->fixed_len = 1, q->plain_slash = c == '/';
            i++;
            n++;
        }
    }
    return n;
}

static bool
ref_value(const struct ref_part *q, char delim, const char *s, size_t a, size_t b)
{
    if (q->kind == 0)
        return b - a == q->fixed_len && memcmp(s + a, q->fixed, q->fixed_len) == 0;
    if (q->kind == 2)
        return true;
    if (b == a)
        return false;
    return !delim || !memchr(s + a, delim, b - a);
}

/* value (suffix prefix value)* over s[a, b). */
static bool
ref_reps(const struct ref_part *q, char delim, const char *s, size_t a, size_t b)
{
    if (ref_value(q, delim, s, a, b))
        return true;
    size_t sep = q->suffix_len + q->prefix_len;
    for (size_t d = a; d + sep <= b; d++) {
        if (!ref_value(q, delim, s, a, d))
            continue;
        if (memcmp(s + d, q->suffix, q->suffix_len) != 0 ||
            memcmp(s + d + q->suffix_len, q->prefix, q->prefix_len) != 0)
            continue;
        if (d + sep > a && ref_reps(q, delim, s, d + sep, b))
            return true;
    }
    return false;
}

static bool
ref_part_matches(const struct ref_part *q, char delim, const char *s, size_t a, size_t b)
{
    if (a == b && (q->mod == '?' || q->mod == '*'))
        return true;
    size_t pl = q->prefix_len, sl = q->suffix_len;
    if (b - a < pl + sl || memcmp(s + a, q->prefix, pl) != 0 ||
        memcmp(s + b - sl, q->suffix, sl) != 0)
        return false;
    if (q->mod == '+' || q->mod == '*')
        return ref_reps(q, delim, s, a + pl, b - sl);
    return ref_value(q, delim, s, a + pl, b - sl);
}

static bool
ref_match_from(const struct ref_part *parts, int n, int k, char delim, const char *s, size_t pos,
               size_t len)
{
    if (k == n)
        return pos == len;
    for (size_t e = pos; e <= len; e++)
        if (ref_part_matches(&parts[k], delim, s, pos, e) &&
            ref_match_from(parts, n, k + 1, delim, s, e, len))
            return true;
    return false;
}

/* 1 match, 0 none, -1 invalid pattern. */
static int
ref_component_matches(const char *p, size_t len, char delim, const char *s, size_t s_len)
{
    struct ref_part parts[REF_PARTS_MAX];
    int n = ref_parse(p, len, delim, parts);
    if (n < 0)
        return -1;
    return ref_match_from(parts, n, 0, delim, s, 0, s_len);
}

#endif
