/* SPDX-License-Identifier: MIT */
/*
 * URI templates compiled to a Thompson automaton and matched by simulating all its states
 * at once (a Pike VM without captures): linear in the IRI for a given template, with a
 * hard cost cap, and no recursion on input.
 */
#include "core/uri_template.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

enum node_op {
    OP_CHAR = 0, /* one byte equal to <c>, then next node */
    OP_CLASS,    /* one byte of class <c>, then next node */
    OP_SPLIT,    /* no input: go on at <x> and at <y> */
    OP_JMP,      /* no input: go on at <x> */
    OP_MATCH,
};

enum char_class {
    CLASS_UNRESERVED = 0, /* unreserved and percent escapes */
    CLASS_NAMED,          /* the same, and '=' and ',' (name=value pairs, lists) */
    CLASS_RESERVED,       /* the same, and every reserved character */
    CLASS__COUNT,
};

struct node {
    uint8_t op;
    uint8_t c;
    uint32_t x, y;
};

struct rp_uri_template {
    struct node *nodes;
    uint32_t n_nodes;
};

static bool
in_class(uint8_t cls, unsigned char b)
{
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '-' ||
        b == '.' || b == '_' || b == '~' || b == '%')
        return true;
    if (cls == CLASS_NAMED)
        return b == '=' || b == ',';
    return cls == CLASS_RESERVED && b != '\0' && strchr(":/?#[]@!$&'()*+,;=", b) != NULL;
}

struct builder {
    struct node *nodes;
    uint32_t n, cap;
};

static uint32_t
emit(struct builder *b, uint8_t op, uint8_t c, uint32_t x, uint32_t y)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->nodes = rp_xrealloc(b->nodes, b->cap * sizeof(*b->nodes));
    }
    b->nodes[b->n] = (struct node){op, c, x, y};
    return b->n++;
}

/* Operator: first character (0: none), separator, class (RFC 6570 appendix A). */
static bool
operator_of(char op, char *first, char *sep, uint8_t *cls)
{
    switch (op) {
    case '+':
        *first = 0, *sep = ',', *cls = CLASS_RESERVED;
        return true;
    case '#':
        *first = '#', *sep = ',', *cls = CLASS_RESERVED;
        return true;
    case '.':
        *first = '.', *sep = '.', *cls = CLASS_UNRESERVED;
        return true;
    case '/':
        *first = '/', *sep = '/', *cls = CLASS_UNRESERVED;
        return true;
    case ';':
        *first = ';', *sep = ';', *cls = CLASS_NAMED;
        return true;
    case '?':
        *first = '?', *sep = '&', *cls = CLASS_NAMED;
        return true;
    case '&':
        *first = '&', *sep = '&', *cls = CLASS_NAMED;
        return true;
    default:
        return false;
    }
}

static bool
varchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '%' || c == '.';
}

/* Checks the variable list of one expression, <p>..<end> (between the operator and '}'). */
static const char *
check_varlist(const char *p, const char *end)
{
    if (p == end)
        return "an expression names no variable";
    while (p < end) {
        const char *name = p;
        while (p < end && varchar((unsigned char)*p))
            p++;
        if (p == name || *name == '.' || p[-1] == '.')
            return "invalid variable name in an expression";
        if (p < end && *p == ':') {
            const char *d = ++p;
            while (p < end && *p >= '0' && *p <= '9')
                p++;
            if (p == d || p - d > 4 || *d == '0')
                return "invalid prefix length (:1 to :9999)";
        } else if (p < end && *p == '*') {
            p++;
        }
        if (p < end) {
            if (*p != ',')
                return "invalid character in an expression";
            if (++p == end)
                return "an expression ends with ','";
        }
    }
    return NULL;
}

int
rp_uri_template_compile(const char *tpl, size_t len, struct rp_uri_template **out, const char **why)
{
    *out = NULL;
    if (len > RP_URI_TEMPLATE_MAX) {
        *why = "a URI template is at most 1024 bytes long";
        return -EINVAL;
    }
    struct builder b = {0};
    const char *p = tpl, *end = tpl + len;
    while (p < end) {
        if (*p == '\0' || *p == '}') {
            *why = *p ? "'}' outside an expression" : "a NUL in a URI template";
            goto fail;
        }
        if (*p != '{') {
            uint32_t at = b.n;
            emit(&b, OP_CHAR, (uint8_t)*p++, at + 1, 0);
            continue;
        }
        const char *close = memchr(p, '}', (size_t)(end - p));
        if (!close) {
            *why = "an expression is not closed with '}'";
            goto fail;
        }
        const char *q = p + 1;
        char first = 0, sep = ',';
        uint8_t cls = CLASS_UNRESERVED;
        /* A variable name never starts with '.', so '.' there is the operator. */
        if (q < close && (*q == '.' || !varchar((unsigned char)*q))) {
            if (!operator_of(*q, &first, &sep, &cls)) {
                *why = "an unknown or reserved operator in an expression";
                goto fail;
            }
            q++;
        }
        const char *bad = check_varlist(q, close);
        if (bad) {
            *why = bad;
            goto fail;
        }
        /* L0: SPLIT(L1, END) | L1: [CHAR first] | Lv: SPLIT(Lc, Ls) | Lc: CLASS; JMP Lv
         * | Ls: SPLIT(Lsep, END) | Lsep: CHAR sep; JMP Lv | END. END is filled in last. */
        uint32_t l0 = emit(&b, OP_SPLIT, 0, b.n + 1, 0);
        if (first)
            emit(&b, OP_CHAR, (uint8_t)first, b.n + 1, 0);
        uint32_t lv = emit(&b, OP_SPLIT, 0, b.n + 1, b.n + 3);
        emit(&b, OP_CLASS, cls, b.n + 1, 0);
        emit(&b, OP_JMP, 0, lv, 0);
        uint32_t ls = emit(&b, OP_SPLIT, 0, b.n + 1, 0);
        emit(&b, OP_CHAR, (uint8_t)sep, b.n + 1, 0);
        emit(&b, OP_JMP, 0, lv, 0);
        b.nodes[l0].y = b.n;
        b.nodes[ls].y = b.n;
        p = close + 1;
    }
    emit(&b, OP_MATCH, 0, 0, 0);
    struct rp_uri_template *t = rp_xmalloc(sizeof(*t));
    t->nodes = b.nodes;
    t->n_nodes = b.n;
    *out = t;
    return 0;
fail:
    free(b.nodes);
    return -EINVAL;
}

void
rp_uri_template_free(struct rp_uri_template *t)
{
    if (!t)
        return;
    free(t->nodes);
    free(t);
}

bool
rp_uri_template_is_template(const char *tpl, size_t len)
{
    return memchr(tpl, '{', len) != NULL;
}

struct state_list {
    uint32_t *pcs;
    uint32_t n;
};

/* Adds <pc> and every node reachable from it without input to <l>; <mark>/<gen> dedupe.
 * Returns the nodes visited (the cost). */
static uint32_t
add_state(const struct rp_uri_template *t, struct state_list *l, uint32_t *mark, uint32_t gen,
          uint32_t *stack, uint32_t pc)
{
    uint32_t sp = 0, visited = 0;
    stack[sp++] = pc;
    while (sp) {
        pc = stack[--sp];
        if (mark[pc] == gen)
            continue;
        mark[pc] = gen;
        visited++;
        const struct node *n = &t->nodes[pc];
        if (n->op == OP_SPLIT) {
            stack[sp++] = n->y; /* each node is pushed at most once per in-edge: bounded */
            stack[sp++] = n->x;
        } else if (n->op == OP_JMP) {
            stack[sp++] = n->x;
        } else {
            l->pcs[l->n++] = pc;
        }
    }
    return visited;
}

bool
rp_uri_template_matches(const struct rp_uri_template *t, const char *iri, size_t len)
{
    uint32_t m = t->n_nodes;
    /* Every node has at most two in-edges from SPLIT/JMP plus the start, so the stack of
     * one closure never holds more than 2m + 1 entries. */
    uint32_t *mem = rp_xcalloc((size_t)m * 4 + 1, sizeof(uint32_t));
    uint32_t *mark = mem, *stack = mem + m;
    struct state_list cur = {mem + 3 * (size_t)m + 1, 0};
    struct state_list next = {rp_xcalloc(m, sizeof(uint32_t)), 0};
    uint32_t gen = 1;
    uint64_t cost = add_state(t, &cur, mark, gen, stack, 0);
    bool matched = false;
    for (size_t i = 0;; i++) {
        if (i == len) {
            for (uint32_t k = 0; k < cur.n; k++)
                matched |= t->nodes[cur.pcs[k]].op == OP_MATCH;
            break;
        }
        if (cur.n == 0 || cost > RP_URI_TEMPLATE_COST_MAX)
            break;
        unsigned char b = (unsigned char)iri[i];
        next.n = 0;
        gen++;
        for (uint32_t k = 0; k < cur.n; k++) {
            const struct node *n = &t->nodes[cur.pcs[k]];
            bool step = (n->op == OP_CHAR && n->c == b) || (n->op == OP_CLASS && in_class(n->c, b));
            if (step)
                cost += add_state(t, &next, mark, gen, stack, n->x);
        }
        cost += cur.n;
        struct state_list tmp = cur;
        cur = next;
        next = tmp;
    }
    /* <cur> or <next> may be the one inside <mem>: free both blocks by origin. */
    free(mem);
    free(cur.pcs == mem + 3 * (size_t)m + 1 ? next.pcs : cur.pcs);
    return matched && cost <= RP_URI_TEMPLATE_COST_MAX;
}
