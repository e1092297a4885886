/* SPDX-License-Identifier: MIT */
/*
 * URL patterns: the pattern string is tokenized and split into components as the URL
 * Pattern standard's constructor-string parser does; each component's parts (fixed text,
 * segment and full wildcards, groups with a prefix, a suffix and a modifier) compile into a
 * Thompson automaton matched by simulating all its states at once (a Pike VM without
 * captures): linear in the IRI for a given pattern, with a hard cost cap, and no recursion.
 */
#include "core/url_pattern.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

/* ---- tokens ---- */

enum tok_type {
    T_CHAR = 0, /* a literal byte */
    T_ESCAPED,  /* `\x`: the literal byte x */
    T_NAME,     /* `:name` */
    T_ASTERISK, /* `*` */
    T_MOD,      /* `?` or `+` */
    T_OPEN,     /* `{` */
    T_CLOSE,    /* `}` */
    T_END,
};

struct tok {
    uint8_t type;
    char c;         /* the byte of T_CHAR, T_ESCAPED, T_MOD */
    uint32_t at, n; /* where in the string (the whole token), its length */
};

static bool
name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static bool
name_part(unsigned char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

/*
 * Tokenizes <s> into <t> (room for len + 1 tokens). <strict>: a ':' that starts no name is an
 * error (a component); else it is a literal (the whole string, where "https:" is one).
 * Returns the number of tokens (the last is T_END), or 0 with *<why> set.
 */
static size_t
tokenize(const char *s, size_t len, bool strict, struct tok *t, const char **why)
{
    size_t n = 0, i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        struct tok k = {T_CHAR, (char)c, (uint32_t)i, 1};
        if (c == '\0') {
            *why = "a NUL in a URL pattern";
            return 0;
        } else if (c == '(' || c == ')') {
            *why = "regular-expression groups \"(...)\" in URL patterns are not supported";
            return 0;
        } else if (c == '\\') {
            if (i + 1 == len) {
                *why = "a URL pattern ends with '\\'";
                return 0;
            }
            k = (struct tok){T_ESCAPED, s[i + 1], (uint32_t)i, 2};
        } else if (c == ':' && i + 1 < len && name_start((unsigned char)s[i + 1])) {
            size_t j = i + 1;
            while (j < len && name_part((unsigned char)s[j]))
                j++;
            k = (struct tok){T_NAME, 0, (uint32_t)i, (uint32_t)(j - i)};
        } else if (c == ':' && strict) {
            *why = "':' in a URL pattern component starts a group name (escape it as \\:)";
            return 0;
        } else if (c == '*') {
            k.type = T_ASTERISK;
        } else if (c == '?' || c == '+') {
            k.type = T_MOD;
        } else if (c == '{') {
            k.type = T_OPEN;
        } else if (c == '}') {
            k.type = T_CLOSE;
        }
        t[n++] = k;
        i += k.n;
    }
    t[n++] = (struct tok){T_END, 0, (uint32_t)len, 0};
    return n;
}

/* ---- automaton ---- */

enum node_op {
    OP_CHAR = 0, /* one byte equal to <c>, then <x> */
    OP_NOT,      /* one byte other than <c> (any byte when <c> is 0), then <x> */
    OP_SPLIT,    /* no input: go on at <x> and at <y> */
    OP_JMP,      /* no input: go on at <x> */
    OP_MATCH,
};

struct node {
    uint8_t op;
    uint8_t c;
    uint32_t x, y;
};

struct prog {
    struct node *nodes;
    uint32_t n, cap;
};

static uint32_t
emit(struct prog *b, uint8_t op, uint8_t c, uint32_t x, uint32_t y)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->nodes = rp_xrealloc(b->nodes, b->cap * sizeof(*b->nodes));
    }
    b->nodes[b->n] = (struct node){op, c, x, y};
    return b->n++;
}

static unsigned char
lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static void
emit_text(struct prog *b, const char *s, size_t n, bool fold)
{
    for (size_t i = 0; i < n; i++)
        emit(b, OP_CHAR, fold ? lower((unsigned char)s[i]) : (unsigned char)s[i], b->n + 1, 0);
}

enum value_kind {
    V_FIXED = 0, /* the group's text */
    V_SEGMENT,   /* one or more bytes other than the delimiter */
    V_FULL,      /* any run of bytes */
};

struct part {
    const char *prefix, *suffix, *fixed;
    size_t prefix_len, suffix_len, fixed_len;
    uint8_t kind;
    char mod; /* 0, '?', '*' or '+' */
};

struct compiler {
    struct prog *b;
    char delim;
    bool fold;
};

static void
emit_value(struct compiler *cp, const struct part *p)
{
    struct prog *b = cp->b;
    if (p->kind == V_FIXED) {
        emit_text(b, p->fixed, p->fixed_len, cp->fold);
    } else if (p->kind == V_SEGMENT) {
        uint32_t l = emit(b, OP_NOT, (uint8_t)cp->delim, b->n + 1, 0);
        emit(b, OP_SPLIT, 0, l, b->n + 1);
    } else {
        uint32_t l = emit(b, OP_SPLIT, 0, b->n + 1, 0);
        emit(b, OP_NOT, 0, b->n + 1, 0);
        emit(b, OP_JMP, 0, l, 0);
        b->nodes[l].y = b->n;
    }
}

/*
 * prefix value suffix, with the modifier: `?` the whole optional; `+` prefix value
 * (suffix prefix value)* suffix; `*` that, optional (the standard's regular expressions
 * for a part, as a regular language).
 */
static void
emit_part(struct compiler *cp, const struct part *p)
{
    struct prog *b = cp->b;
    uint32_t opt = UINT32_MAX;
    if (p->mod == '?' || p->mod == '*')
        opt = emit(b, OP_SPLIT, 0, b->n + 1, 0);
    emit_text(b, p->prefix, p->prefix_len, cp->fold);
    emit_value(cp, p);
    if (p->mod == '+' || p->mod == '*') {
        uint32_t loop = emit(b, OP_SPLIT, 0, b->n + 1, 0);
        emit_text(b, p->suffix, p->suffix_len, cp->fold);
        emit_text(b, p->prefix, p->prefix_len, cp->fold);
        emit_value(cp, p);
        emit(b, OP_JMP, 0, loop, 0);
        b->nodes[loop].y = b->n;
    }
    emit_text(b, p->suffix, p->suffix_len, cp->fold);
    if (opt != UINT32_MAX)
        b->nodes[opt].y = b->n;
}

static bool
take(const struct tok *t, size_t *i, uint8_t type)
{
    if (t[*i].type != type)
        return false;
    (*i)++;
    return true;
}

static char
take_modifier(const struct tok *t, size_t *i)
{
    if (t[*i].type == T_MOD || t[*i].type == T_ASTERISK)
        return t[(*i)++].c;
    return 0;
}

/* Consumes fixed text (T_CHAR, T_ESCAPED) into <buf>; returns its length. */
static size_t
take_text(const struct tok *t, size_t *i, char *buf)
{
    size_t n = 0;
    while (t[*i].type == T_CHAR || t[*i].type == T_ESCAPED)
        buf[n++] = t[(*i)++].c;
    return n;
}

/*
 * Compiles one component's pattern <s> into <b> (ending with OP_MATCH): the standard's
 * "parse a pattern string", with '/' as the prefix code point when <delim> is '/'.
 */
static int
compile_component(const char *s, size_t len, char delim, bool fold, struct prog *b,
                  const char **why)
{
    struct tok *t = rp_xcalloc(len + 1, sizeof(*t));
    char *pending = rp_xmalloc(len + 1), *pre = rp_xmalloc(len + 1), *suf = rp_xmalloc(len + 1);
    struct compiler cp = {b, delim, fold};
    size_t n_pending = 0, i = 0;
    int rc = -EINVAL;
    if (tokenize(s, len, true, t, why) == 0)
        goto out;
    for (;;) {
        size_t at = i;
        bool ch = take(t, &i, T_CHAR);
        bool name = take(t, &i, T_NAME);
        bool wild = !name && take(t, &i, T_ASTERISK);
        if (name || wild) {
            struct part p = {.kind = name ? V_SEGMENT : V_FULL};
            char c = ch ? t[at].c : 0;
            if (ch && (delim != '/' || c != '/'))
                pending[n_pending++] = c;
            else if (ch)
                p.prefix = pre, pre[0] = c, p.prefix_len = 1;
            emit_text(b, pending, n_pending, fold);
            n_pending = 0;
            p.mod = take_modifier(t, &i);
            emit_part(&cp, &p);
            continue;
        }
        if (ch || take(t, &i, T_ESCAPED)) {
            pending[n_pending++] = t[i - 1].c;
            continue;
        }
        if (take(t, &i, T_OPEN)) {
            struct part p = {.prefix = pre, .suffix = suf};
            p.prefix_len = take_text(t, &i, pre);
            name = take(t, &i, T_NAME);
            wild = !name && take(t, &i, T_ASTERISK);
            p.suffix_len = take_text(t, &i, suf);
            if (!take(t, &i, T_CLOSE)) {
                *why = "a '{' group of a URL pattern is not closed with '}'";
                goto out;
            }
            p.mod = take_modifier(t, &i);
            emit_text(b, pending, n_pending, fold);
            n_pending = 0;
            if (!name && !wild) { /* `{text}`: fixed text, maybe with a modifier */
                p.kind = V_FIXED, p.fixed = pre, p.fixed_len = p.prefix_len, p.prefix_len = 0;
            } else {
                p.kind = name ? V_SEGMENT : V_FULL;
            }
            emit_part(&cp, &p);
            continue;
        }
        emit_text(b, pending, n_pending, fold);
        if (t[i].type != T_END) {
            *why = t[i].type == T_MOD || t[i].type == T_ASTERISK
                       ? "a modifier ('?', '+', '*') of a URL pattern follows no group "
                         "(escape it with '\\')"
                       : "an unexpected '{', '}' or name in a URL pattern";
            goto out;
        }
        break;
    }
    emit(b, OP_MATCH, 0, 0, 0);
    rc = 0;
out:
    free(t);
    free(pending);
    free(pre);
    free(suf);
    return rc;
}

struct state_list {
    uint32_t *pcs;
    uint32_t n;
};

/* Adds <pc> and every node reachable from it without input to <l>; <mark>/<gen> dedupe.
 * Returns the nodes visited (the cost). */
static uint32_t
add_state(const struct prog *p, struct state_list *l, uint32_t *mark, uint32_t gen, uint32_t *stack,
          uint32_t pc)
{
    uint32_t sp = 0, visited = 0;
    stack[sp++] = pc;
    while (sp) {
        pc = stack[--sp];
        if (mark[pc] == gen)
            continue;
        mark[pc] = gen;
        visited++;
        const struct node *n = &p->nodes[pc];
        if (n->op == OP_SPLIT) {
            stack[sp++] = n->y; /* each edge is pushed at most once per closure */
            stack[sp++] = n->x;
        } else if (n->op == OP_JMP) {
            stack[sp++] = n->x;
        } else {
            l->pcs[l->n++] = pc;
        }
    }
    return visited;
}

/* Runs <p> over <s>; adds the steps taken to *<cost> and stops past the cap. */
static bool
run(const struct prog *p, const char *s, size_t len, uint64_t *cost)
{
    uint32_t m = p->n;
    /* At most two out-edges per node, so a closure pushes at most 2m + 1 entries. */
    uint32_t *mark = rp_xcalloc(m, sizeof(uint32_t));
    uint32_t *stack = rp_xcalloc(2 * (size_t)m + 1, sizeof(uint32_t));
    struct state_list cur = {rp_xcalloc(m, sizeof(uint32_t)), 0};
    struct state_list next = {rp_xcalloc(m, sizeof(uint32_t)), 0};
    uint32_t gen = 1;
    *cost += add_state(p, &cur, mark, gen, stack, 0);
    bool matched = false;
    for (size_t i = 0;; i++) {
        if (*cost > RP_URL_PATTERN_COST_MAX)
            break;
        if (i == len) {
            for (uint32_t k = 0; k < cur.n; k++)
                matched |= p->nodes[cur.pcs[k]].op == OP_MATCH;
            break;
        }
        if (cur.n == 0)
            break;
        unsigned char c = (unsigned char)s[i];
        next.n = 0;
        gen++;
        for (uint32_t k = 0; k < cur.n; k++) {
            const struct node *n = &p->nodes[cur.pcs[k]];
            bool step =
                (n->op == OP_CHAR && n->c == c) || (n->op == OP_NOT && (n->c == 0 || n->c != c));
            if (step)
                *cost += add_state(p, &next, mark, gen, stack, n->x);
        }
        *cost += cur.n;
        struct state_list tmp = cur;
        cur = next;
        next = tmp;
    }
    free(mark);
    free(stack);
    free(cur.pcs);
    free(next.pcs);
    return matched && *cost <= RP_URL_PATTERN_COST_MAX;
}

int
rp_url_pattern_component_matches(const char *pat, size_t len, char delim, const char *s,
                                 size_t s_len)
{
    struct prog b = {0};
    const char *why;
    if (len > RP_URL_PATTERN_MAX || compile_component(pat, len, delim, false, &b, &why) != 0) {
        free(b.nodes);
        return -EINVAL;
    }
    uint64_t cost = 0;
    bool m = run(&b, s, s_len, &cost);
    free(b.nodes);
    return m;
}

/* ---- whole patterns and URLs ---- */

enum component {
    C_PROTOCOL = 0,
    C_USERNAME,
    C_PASSWORD,
    C_HOSTNAME,
    C_PORT,
    C_PATHNAME,
    C_SEARCH,
    C_HASH,
    C__COUNT,
};

struct rp_url_pattern {
    struct prog comp[C__COUNT];
};

struct span {
    const char *s;
    size_t n;
    bool set;
};

static bool
is_char(const struct tok *t, char c)
{
    return t->type == T_CHAR && t->c == c;
}

/* The standard's search prefix: a '?' that is not the modifier of the token before it. */
static bool
search_prefix(const struct tok *t, size_t i)
{
    if (t[i].type != T_MOD || t[i].c != '?')
        return false;
    if (i == 0)
        return true;
    uint8_t prev = t[i - 1].type;
    return prev != T_NAME && prev != T_ASTERISK && prev != T_CLOSE;
}

static struct span
span_of(const char *pat, const struct tok *t, size_t from, size_t to)
{
    return (struct span){pat + t[from].at, t[to].at - t[from].at, true};
}

/* Splits the pattern string into its components (the constructor-string parser). */
static int
split_pattern(const char *pat, size_t len, struct span *c, bool *opaque, const char **why)
{
    struct tok *t = rp_xcalloc(len + 1, sizeof(*t));
    int rc = -EINVAL;
    size_t n = tokenize(pat, len, false, t, why);
    if (n == 0)
        goto out;
    size_t i = 0;
    int depth = 0;
    for (; t[i].type != T_END; i++) {
        depth += t[i].type == T_OPEN ? 1 : t[i].type == T_CLOSE ? -1 : 0;
        if (depth == 0 && is_char(&t[i], ':'))
            break;
    }
    if (t[i].type == T_END || i == 0) {
        *why = "a URL pattern is an absolute URL pattern (scheme://host/path)";
        goto out;
    }
    c[C_PROTOCOL] = span_of(pat, t, 0, i);
    i++;
    size_t path_at;
    *opaque = !(is_char(&t[i], '/') && is_char(&t[i + 1], '/'));
    if (!*opaque) {
        size_t a = i + 2, e = a, at = SIZE_MAX;
        for (depth = 0; t[e].type != T_END; e++) {
            depth += t[e].type == T_OPEN ? 1 : t[e].type == T_CLOSE ? -1 : 0;
            if (depth == 0 && (is_char(&t[e], '/') || is_char(&t[e], '#') || search_prefix(t, e)))
                break;
            if (depth == 0 && is_char(&t[e], '@'))
                at = e;
        }
        size_t h = a;
        if (at != SIZE_MAX) {
            size_t k = a;
            while (k < at && !is_char(&t[k], ':'))
                k++;
            c[C_USERNAME] = span_of(pat, t, a, k);
            if (k < at)
                c[C_PASSWORD] = span_of(pat, t, k + 1, at);
            h = at + 1;
        }
        size_t k = h;
        bool bracket = false;
        for (depth = 0; k < e; k++) {
            depth += t[k].type == T_OPEN ? 1 : t[k].type == T_CLOSE ? -1 : 0;
            bracket = is_char(&t[k], '[') ? true : is_char(&t[k], ']') ? false : bracket;
            if (depth == 0 && !bracket && is_char(&t[k], ':'))
                break;
        }
        c[C_HOSTNAME] = span_of(pat, t, h, k);
        c[C_PORT] = k < e ? span_of(pat, t, k + 1, e) : (struct span){"", 0, true};
        path_at = e;
    } else {
        path_at = i;
    }
    /* pathname [? search] [# hash] */
    size_t e = path_at;
    for (depth = 0; t[e].type != T_END; e++) {
        depth += t[e].type == T_OPEN ? 1 : t[e].type == T_CLOSE ? -1 : 0;
        if (depth == 0 && (is_char(&t[e], '#') || search_prefix(t, e)))
            break;
    }
    if (e > path_at)
        c[C_PATHNAME] = span_of(pat, t, path_at, e);
    else if (!*opaque)
        c[C_PATHNAME] = (struct span){"/", 1, true};
    else
        c[C_PATHNAME] = (struct span){"", 0, true};
    if (search_prefix(t, e)) {
        size_t s = ++e;
        for (depth = 0; t[e].type != T_END; e++) {
            depth += t[e].type == T_OPEN ? 1 : t[e].type == T_CLOSE ? -1 : 0;
            if (depth == 0 && is_char(&t[e], '#'))
                break;
        }
        c[C_SEARCH] = span_of(pat, t, s, e);
    }
    if (is_char(&t[e], '#'))
        c[C_HASH] = span_of(pat, t, e + 1, n - 1);
    rc = 0;
out:
    free(t);
    return rc;
}

/* The scheme's default port, or NULL: a URL never shows it. */
static const char *
default_port(const char *scheme, size_t n)
{
    if ((n == 4 && memcmp(scheme, "http", 4) == 0) || (n == 2 && memcmp(scheme, "ws", 2) == 0))
        return "80";
    if ((n == 5 && memcmp(scheme, "https", 5) == 0) || (n == 3 && memcmp(scheme, "wss", 3) == 0))
        return "443";
    if (n == 3 && memcmp(scheme, "ftp", 3) == 0)
        return "21";
    return NULL;
}

int
rp_url_pattern_compile(const char *pat, size_t len, struct rp_url_pattern **out, const char **why)
{
    *out = NULL;
    if (len > RP_URL_PATTERN_MAX) {
        *why = "a URL pattern is at most 1024 bytes long";
        return -EINVAL;
    }
    struct span c[C__COUNT] = {0};
    bool opaque = false;
    if (split_pattern(pat, len, c, &opaque, why) != 0)
        return -EINVAL;
    /* A port that is the protocol's default is no port, as in a URL. */
    const char *dp = default_port(c[C_PROTOCOL].s, c[C_PROTOCOL].n);
    if (dp && c[C_PORT].n == strlen(dp) && memcmp(c[C_PORT].s, dp, c[C_PORT].n) == 0)
        c[C_PORT].n = 0;
    struct rp_url_pattern *p = rp_xcalloc(1, sizeof(*p));
    for (int k = 0; k < C__COUNT; k++) {
        struct span s = c[k].set ? c[k] : (struct span){"*", 1, true};
        char delim = k == C_HOSTNAME ? '.' : k == C_PATHNAME && !opaque ? '/' : 0;
        bool fold = k == C_PROTOCOL || k == C_HOSTNAME;
        if (compile_component(s.s, s.n, delim, fold, &p->comp[k], why) != 0) {
            rp_url_pattern_free(p);
            return -EINVAL;
        }
    }
    *out = p;
    return 0;
}

void
rp_url_pattern_free(struct rp_url_pattern *p)
{
    if (!p)
        return;
    for (int k = 0; k < C__COUNT; k++)
        free(p->comp[k].nodes);
    free(p);
}

static bool
scheme_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '-' || c == '.';
}

/* Splits a URL into its components (the protocol and hostname lower-cased into <low>). */
static bool
split_url(const char *u, size_t len, char *low, struct span *c)
{
    size_t i = 0;
    while (i < len && scheme_char((unsigned char)u[i]))
        i++;
    if (i == 0 || i == len || u[i] != ':' || !name_start((unsigned char)u[0]))
        return false;
    for (size_t k = 0; k < len; k++)
        low[k] = (char)lower((unsigned char)u[k]);
    c[C_PROTOCOL] = (struct span){low, i, true};
    for (int k = C_USERNAME; k < C__COUNT; k++)
        c[k] = (struct span){"", 0, true};
    i++;
    size_t path_at = i;
    if (len - i >= 2 && u[i] == '/' && u[i + 1] == '/') {
        size_t a = i + 2, e = a, at = SIZE_MAX;
        while (e < len && u[e] != '/' && u[e] != '?' && u[e] != '#') {
            if (u[e] == '@')
                at = e;
            e++;
        }
        size_t h = a;
        if (at != SIZE_MAX) {
            const char *colon = memchr(u + a, ':', at - a);
            size_t k = colon ? (size_t)(colon - u) : at;
            c[C_USERNAME] = (struct span){u + a, k - a, true};
            if (colon)
                c[C_PASSWORD] = (struct span){u + k + 1, at - k - 1, true};
            h = at + 1;
        }
        size_t k = h;
        bool bracket = false;
        for (; k < e; k++) {
            bracket = u[k] == '[' ? true : u[k] == ']' ? false : bracket;
            if (!bracket && u[k] == ':')
                break;
        }
        c[C_HOSTNAME] = (struct span){low + h, k - h, true};
        if (k < e)
            c[C_PORT] = (struct span){u + k + 1, e - k - 1, true};
        const char *dp = default_port(low, i - 1);
        if (dp && c[C_PORT].n == strlen(dp) && memcmp(c[C_PORT].s, dp, c[C_PORT].n) == 0)
            c[C_PORT].n = 0;
        path_at = e;
    }
    size_t e = path_at;
    while (e < len && u[e] != '?' && u[e] != '#')
        e++;
    c[C_PATHNAME] = (struct span){u + path_at, e - path_at, true};
    if (e == path_at && path_at != i && default_port(low, i - 1))
        c[C_PATHNAME] = (struct span){"/", 1, true};
    if (e < len && u[e] == '?') {
        size_t s = ++e;
        while (e < len && u[e] != '#')
            e++;
        c[C_SEARCH] = (struct span){u + s, e - s, true};
    }
    if (e < len && u[e] == '#')
        c[C_HASH] = (struct span){u + e + 1, len - e - 1, true};
    return true;
}

bool
rp_url_pattern_matches(const struct rp_url_pattern *p, const char *iri, size_t len)
{
    if (len > RP_URL_PATTERN_COST_MAX)
        return false;
    char *low = rp_xmalloc(len + 1);
    struct span c[C__COUNT];
    bool ok = split_url(iri, len, low, c);
    uint64_t cost = 0;
    for (int k = 0; ok && k < C__COUNT; k++)
        ok = run(&p->comp[k], c[k].s, c[k].n, &cost);
    free(low);
    return ok;
}
