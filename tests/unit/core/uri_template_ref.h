/* SPDX-License-Identifier: MIT */
#ifndef RP_TESTS_URI_TEMPLATE_REF_H
#define RP_TESTS_URI_TEMPLATE_REF_H
/*
 * A brute-force reference for core/uri_template, written straight from RFC 6570 appendix A
 * and the module's contract: it tries every way to split the IRI between literals and
 * expressions (exponential; small inputs only). Shared by the unit test and the fuzz
 * harness; only for templates rp_uri_template_compile accepted.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct ref_tok {
    char lit; /* a literal byte, or 0 for an expression */
    char first, sep;
    int cls; /* 0 unreserved, 1 named (+ '=' ','), 2 reserved */
};

static bool
ref_in_class(int cls, char c)
{
    if (c && strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%", c))
        return true;
    if (cls == 1)
        return c == '=' || c == ',';
    return cls == 2 && c && strchr(":/?#[]@!$&'()*+,;=", c);
}

/* Tokens of <tpl> into <toks> (room for <len>); their count. */
static size_t
ref_tokens(const char *tpl, size_t len, struct ref_tok *toks)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (tpl[i] != '{') {
            toks[n++] = (struct ref_tok){tpl[i], 0, 0, 0};
            continue;
        }
        struct ref_tok t = {0, 0, ',', 0};
        switch (tpl[i + 1]) {
        case '+':
            t = (struct ref_tok){0, 0, ',', 2};
            break;
        case '#':
            t = (struct ref_tok){0, '#', ',', 2};
            break;
        case '.':
            t = (struct ref_tok){0, '.', '.', 0};
            break;
        case '/':
            t = (struct ref_tok){0, '/', '/', 0};
            break;
        case ';':
            t = (struct ref_tok){0, ';', ';', 1};
            break;
        case '?':
            t = (struct ref_tok){0, '?', '&', 1};
            break;
        case '&':
            t = (struct ref_tok){0, '&', '&', 1};
            break;
        default:
            break;
        }
        toks[n++] = t;
        while (tpl[i] != '}')
            i++;
    }
    return n;
}

static bool ref_match(const struct ref_tok *t, size_t nt, const char *s, size_t n, size_t si);

/* Values of expression <t>[0] from <j>: V (sep V)*, then the rest. */
static bool
ref_values(const struct ref_tok *t, size_t nt, const char *s, size_t n, size_t j)
{
    for (size_t k = j;; k++) {
        if (ref_match(t + 1, nt - 1, s, n, k))
            return true;
        if (k < n && s[k] == t->sep && ref_values(t, nt, s, n, k + 1))
            return true;
        if (k >= n || !ref_in_class(t->cls, s[k]))
            return false;
    }
}

static bool
ref_match(const struct ref_tok *t, size_t nt, const char *s, size_t n, size_t si)
{
    if (nt == 0)
        return si == n;
    if (t->lit)
        return si < n && s[si] == t->lit && ref_match(t + 1, nt - 1, s, n, si + 1);
    if (ref_match(t + 1, nt - 1, s, n, si))
        return true; /* every variable undefined */
    if (t->first) {
        if (si >= n || s[si] != t->first)
            return false;
        si++;
    }
    return ref_values(t, nt, s, n, si);
}

#endif
