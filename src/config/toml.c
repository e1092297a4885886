/* SPDX-License-Identifier: MIT */
/*
 * A recursive-descent TOML 1.0 reader. Positions are byte offsets, turned into line and
 * column only when a message needs them, so the hot path keeps no line counter. Recursion
 * (arrays, inline tables) is capped at RP_TOML_DEPTH_CAP, keys per table and items per
 * array have caps too, so a hostile file costs bounded stack and at most quadratic look-ups
 * within one table of 4096 keys.
 */
#include "config/toml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hex.h"
#include "base/utf8.h"
#include "config/toml_number.h"

/* How a table came to be: the redefinition rules of the specification depend on it. */
enum {
    TF_EXPLICIT = 1, /* named by its own [header] */
    TF_IMPLICIT = 2, /* a parent made on the way to a [header]; may get its own header later */
    TF_DOTTED = 4,   /* made by a dotted key; only further dotted keys may add to it */
    TF_SEALED = 8,   /* an inline table, or made inside one: closed for good */
};

enum { KEY_PARTS_CAP = 32 };

struct parser {
    const char *text, *p, *end;
    struct rp_diag *diag;
    struct rp_toml_table *root, *cur;
    int depth;
};

/* A growing byte string for string values, freed by its user. */
struct sbuf {
    char *s;
    size_t n, cap;
};

struct keypath {
    char *parts[KEY_PARTS_CAP];
    size_t n;
    size_t off;
};

static void
sbuf_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = rp_xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

void
rp_toml_position(const char *text, size_t len, size_t off, unsigned *line, unsigned *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)text[i] & 0xc0) != 0x80) {
            (*col)++;
        }
    }
}

static int fail_at(struct parser *ps, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail_at(struct parser *ps, const char *at, const char *fmt, ...)
{
    char what[400];
    unsigned line, col;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    rp_toml_position(ps->text, (size_t)(ps->end - ps->text), (size_t)(at - ps->text), &line, &col);
    rp_diag_set(ps->diag, "%u:%u: %s", line, col, what);
    return -EINVAL;
}

const char *
rp_toml_kind_name(enum rp_toml_kind kind)
{
    static const char *const names[] = {"string", "integer", "float", "boolean", "array", "table"};
    return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

/* ---- the tree ---- */

static void value_fini(struct rp_toml_value *v);

void
rp_toml_free(struct rp_toml_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->items[i].key);
        value_fini(&t->items[i].val);
    }
    free(t->items);
    free(t);
}

static void
value_fini(struct rp_toml_value *v)
{
    if (v->kind == RP_TOML_STRING) {
        free(v->u.str.s);
    } else if (v->kind == RP_TOML_ARRAY) {
        for (size_t i = 0; i < v->u.arr.n; i++)
            value_fini(&v->u.arr.items[i]);
        free(v->u.arr.items);
    } else if (v->kind == RP_TOML_TABLE) {
        rp_toml_free(v->u.tab);
    }
}

static struct rp_toml_entry *
find(const struct rp_toml_table *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->items[i].key, key) == 0)
            return &t->items[i];
    return NULL;
}

const struct rp_toml_value *
rp_toml_get(const struct rp_toml_table *t, const char *key)
{
    const struct rp_toml_entry *e = find(t, key);
    return e ? &e->val : NULL;
}

/* Adds <key> (ownership taken) with <v> (moved) to <t>; NULL at the table's cap. */
static struct rp_toml_entry *
insert(struct rp_toml_table *t, char *key, struct rp_toml_value *v)
{
    if (t->n == RP_TOML_TABLE_CAP)
        return NULL;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->items = rp_xrealloc(t->items, t->cap * sizeof(t->items[0]));
    }
    t->items[t->n].key = key;
    t->items[t->n].val = *v;
    return &t->items[t->n++];
}

static struct rp_toml_value
table_value(unsigned flags, size_t off)
{
    struct rp_toml_value v = {.kind = RP_TOML_TABLE, .off = off};
    v.u.tab = rp_xcalloc(1, sizeof(*v.u.tab));
    v.u.tab->flags = flags;
    return v;
}

/* ---- lexical helpers ---- */

static bool
at_newline(const struct parser *ps)
{
    return ps->p < ps->end &&
           (*ps->p == '\n' || (*ps->p == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n'));
}

static void
skip_newline(struct parser *ps)
{
    ps->p += *ps->p == '\r' ? 2 : 1;
}

static void
skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
        ps->p++;
}

static bool
is_control(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Skips a # comment up to (not over) the end of its line. */
static int
skip_comment(struct parser *ps)
{
    if (ps->p >= ps->end || *ps->p != '#')
        return 0;
    for (; ps->p < ps->end && !at_newline(ps); ps->p++)
        if (is_control((unsigned char)*ps->p))
            return fail_at(ps, ps->p, "control character in a comment");
    return 0;
}

/* Skips blanks, newlines and comments, as between the items of an array. */
static int
skip_ws_lines(struct parser *ps)
{
    for (;;) {
        skip_ws(ps);
        if (skip_comment(ps))
            return -EINVAL;
        if (!at_newline(ps))
            return 0;
        skip_newline(ps);
    }
}

/* After a key/value pair or a header: blanks, a comment, then a newline or the end. */
static int
expect_line_end(struct parser *ps, const char *after)
{
    skip_ws(ps);
    if (skip_comment(ps))
        return -EINVAL;
    if (ps->p == ps->end)
        return 0;
    if (!at_newline(ps))
        return fail_at(ps, ps->p,
                       "unexpected text after %s (allowed: a # comment, then a new line)", after);
    skip_newline(ps);
    return 0;
}

static bool
starts(const struct parser *ps, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(ps->end - ps->p) >= n && memcmp(ps->p, s, n) == 0;
}

/* ---- strings ---- */

static void
put_utf8(struct sbuf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    sbuf_put(b, u, n);
}

/* An escape at ps->p (the backslash) into <b>. */
static int
parse_escape(struct parser *ps, struct sbuf *b)
{
    static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
    const char *at = ps->p++;
    if (ps->p == ps->end)
        return fail_at(ps, at, "unfinished escape at the end of the file");
    const char *simple = strchr(from, *ps->p);
    if (simple && *ps->p) {
        sbuf_put(b, &to[simple - from], 1);
        ps->p++;
        return 0;
    }
    int digits = *ps->p == 'u' ? 4 : *ps->p == 'U' ? 8 : 0;
    if (!digits)
        return fail_at(ps, at,
                       "unknown escape `\\%c` (allowed: \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX "
                       "\\UXXXXXXXX)",
                       (unsigned char)*ps->p >= 0x20 ? *ps->p : '?');
    ps->p++;
    uint32_t cp = 0;
    for (int i = 0; i < digits; i++, ps->p++) {
        int h = ps->p < ps->end ? rp_hex_value(*ps->p) : -1;
        if (h < 0)
            return fail_at(ps, at, "escape \\%c needs %d hexadecimal digits",
                           digits == 4 ? 'u' : 'U', digits);
        cp = cp << 4 | (uint32_t)h;
    }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return fail_at(ps, at, "escape names U+%04X, which is not a Unicode scalar value", cp);
    put_utf8(b, cp);
    return 0;
}

/*
 * A string whose opening delimiter (<quote> once or three times) has been consumed. <basic>:
 * escapes; <multi>: newlines allowed, and a backslash at the end of a line trims the
 * whitespace that follows (basic only).
 */
static int
parse_string_body(struct parser *ps, char quote, bool basic, bool multi, const char *start,
                  struct sbuf *b)
{
    if (multi && at_newline(ps))
        skip_newline(ps); /* a newline right after the delimiter is not part of the string */
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == quote) {
            if (!multi) {
                ps->p++;
                return 0;
            }
            size_t q = 0;
            while (ps->p + q < ps->end && ps->p[q] == quote)
                q++;
            if (q >= 3) {
                if (q > 5)
                    return fail_at(ps, ps->p, "too many quotes at the end of a string");
                sbuf_put(b, ps->p, q - 3); /* up to two quotes end the content */
                ps->p += q;
                return 0;
            }
            sbuf_put(b, ps->p, q);
            ps->p += q;
        } else if (basic && c == '\\') {
            const char *q = ps->p + 1;
            while (multi && q < ps->end && (*q == ' ' || *q == '\t'))
                q++;
            if (multi && q < ps->end && (*q == '\n' || *q == '\r')) {
                ps->p = q;
                if (!at_newline(ps))
                    return fail_at(ps, ps->p, "a carriage return must be followed by a line feed");
                while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || at_newline(ps)))
                    ps->p += at_newline(ps) && *ps->p == '\r' ? 2 : 1;
            } else if (parse_escape(ps, b)) {
                return -EINVAL;
            }
        } else if (at_newline(ps)) {
            if (!multi)
                return fail_at(ps, ps->p,
                               "a string ends on its own line (use %s for several lines)",
                               basic ? "\"\"\"" : "'''");
            skip_newline(ps);
            sbuf_put(b, "\n", 1);
        } else if (is_control((unsigned char)c)) {
            return fail_at(ps, ps->p, "control character in a string%s",
                           basic ? " (write it as an escape such as \\u001F)" : "");
        } else {
            sbuf_put(b, ps->p++, 1);
        }
    }
    return fail_at(ps, start, "string not closed before the end of the file");
}

/* Any of the four strings at ps->p into <out>; <key>: single-line forms only. */
static int
parse_string(struct parser *ps, bool key, char **out, size_t *len)
{
    const char *start = ps->p;
    char quote = *ps->p;
    bool multi = starts(ps, quote == '"' ? "\"\"\"" : "'''");
    struct sbuf b = {0};

    if (multi && key)
        return fail_at(ps, start, "a key cannot be a multi-line string");
    ps->p += multi ? 3 : 1;
    if (parse_string_body(ps, quote, quote == '"', multi, start, &b)) {
        free(b.s);
        return -EINVAL;
    }
    if (!b.s)
        b.s = rp_xstrdup("");
    *out = b.s;
    *len = b.n;
    return 0;
}

/* ---- keys ---- */

static bool
is_bare(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static void
keypath_fini(struct keypath *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->parts[i]);
    k->n = 0;
}

/* A key, dotted or not, at ps->p into <k> (freed by the caller even on failure). */
static int
parse_key(struct parser *ps, struct keypath *k)
{
    k->n = 0;
    k->off = (size_t)(ps->p - ps->text);
    for (;;) {
        char *part;
        size_t len;
        const char *at = ps->p;
        if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\'')) {
            if (parse_string(ps, true, &part, &len))
                return -EINVAL;
            if (strlen(part) != len) {
                free(part);
                return fail_at(ps, at, "a key cannot hold U+0000");
            }
        } else {
            while (ps->p < ps->end && is_bare(*ps->p))
                ps->p++;
            if (ps->p == at)
                return fail_at(ps, at,
                               "expected a key (letters, digits, `_` and `-`, or a quoted key)");
            part = rp_xstrndup(at, (size_t)(ps->p - at));
        }
        if (k->n == KEY_PARTS_CAP) {
            free(part);
            return fail_at(ps, at, "a key has more than %d parts", KEY_PARTS_CAP);
        }
        k->parts[k->n++] = part;
        skip_ws(ps);
        if (ps->p == ps->end || *ps->p != '.')
            return 0;
        ps->p++;
        skip_ws(ps);
    }
}

/* The first <n> parts of <k> as "a.b.c", for messages. */
static const char *
key_text(const struct keypath *k, size_t n, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? "." : "", k->parts[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return buf;
}

/* ---- placing values ---- */

/*
 * Puts <v> (moved; freed on failure) at the dotted key <k> under <t>, making the tables on
 * the way. Only tables made by dotted keys may be walked into: a table with its own header
 * is extended under that header, and an inline table never.
 */
static int
set_dotted(struct parser *ps, struct rp_toml_table *t, struct keypath *k, struct rp_toml_value *v)
{
    char name[256];
    const char *at = ps->text + k->off;

    for (size_t i = 0; i + 1 < k->n; i++) {
        struct rp_toml_entry *e = find(t, k->parts[i]);
        if (!e) {
            struct rp_toml_value sub = table_value(TF_DOTTED, k->off);
            e = insert(t, k->parts[i], &sub);
            if (!e) {
                value_fini(&sub);
                goto too_many;
            }
            k->parts[i] = NULL; /* the table took it */
        } else if (e->val.kind != RP_TOML_TABLE) {
            value_fini(v);
            return fail_at(ps, at, "`%s` is already a%s %s, not a table",
                           key_text(k, i + 1, name, sizeof(name)),
                           e->val.kind == RP_TOML_INT ? "n" : "", rp_toml_kind_name(e->val.kind));
        } else if (e->val.u.tab->flags & TF_SEALED) {
            value_fini(v);
            return fail_at(ps, at, "`%s` is an inline table, which cannot be extended",
                           key_text(k, i + 1, name, sizeof(name)));
        } else if (!(e->val.u.tab->flags & TF_DOTTED)) {
            value_fini(v);
            return fail_at(ps, at,
                           "table [%s] has its own header; set `%s` under that header instead",
                           key_text(k, i + 1, name, sizeof(name)), k->parts[k->n - 1]);
        }
        t = e->val.u.tab;
    }
    if (find(t, k->parts[k->n - 1])) {
        value_fini(v);
        return fail_at(ps, at, "duplicate key `%s`", key_text(k, k->n, name, sizeof(name)));
    }
    if (!insert(t, k->parts[k->n - 1], v))
        goto too_many;
    k->parts[k->n - 1] = NULL;
    return 0;

too_many:
    value_fini(v);
    return fail_at(ps, at, "a table holds more than %d keys", RP_TOML_TABLE_CAP);
}

/* Marks <t> and every table made inside it as closed: an inline table is complete. */
static void
seal(struct rp_toml_table *t)
{
    t->flags |= TF_SEALED;
    for (size_t i = 0; i < t->n; i++)
        if (t->items[i].val.kind == RP_TOML_TABLE)
            seal(t->items[i].val.u.tab);
}

/* ---- values ---- */

static int parse_value(struct parser *ps, struct rp_toml_value *out);

static int
parse_array(struct parser *ps, struct rp_toml_value *out)
{
    const char *start = ps->p++;
    out->kind = RP_TOML_ARRAY;
    for (;;) {
        if (skip_ws_lines(ps))
            return -EINVAL;
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return 0;
        }
        if (out->u.arr.n == RP_TOML_ARRAY_CAP)
            return fail_at(ps, ps->p, "an array holds more than %d items", RP_TOML_ARRAY_CAP);
        struct rp_toml_value item = {0};
        if (parse_value(ps, &item)) {
            value_fini(&item);
            return -EINVAL;
        }
        if (out->u.arr.n == out->u.arr.cap) {
            out->u.arr.cap = out->u.arr.cap ? out->u.arr.cap * 2 : 4;
            out->u.arr.items =
                rp_xrealloc(out->u.arr.items, out->u.arr.cap * sizeof(out->u.arr.items[0]));
        }
        out->u.arr.items[out->u.arr.n++] = item;
        if (skip_ws_lines(ps))
            return -EINVAL;
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return 0;
        }
        return fail_at(ps, ps->p < ps->end ? ps->p : start,
                       "expected `,` or `]` in the array that starts here");
    }
}

/* `key = value` at <ps>, stored (dotted keys included) into <tab>; <k> is the caller's to
 * free, filled or not. Both a line and an inline table's members are this. */
static int
parse_key_value(struct parser *ps, struct rp_toml_table *tab, struct keypath *k)
{
    struct rp_toml_value v = {0};
    if (parse_key(ps, k))
        return -EINVAL;
    if (ps->p == ps->end || *ps->p != '=')
        return fail_at(ps, ps->p, "expected `=` after the key (key = value)");
    ps->p++;
    skip_ws(ps);
    if (parse_value(ps, &v)) {
        value_fini(&v);
        return -EINVAL;
    }
    return set_dotted(ps, tab, k, &v) ? -EINVAL : 0;
}

static int
parse_inline_table(struct parser *ps, struct rp_toml_value *out)
{
    struct keypath k = {0};
    *out = table_value(0, (size_t)(ps->p - ps->text));
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        seal(out->u.tab);
        return 0;
    }
    for (;;) {
        skip_ws(ps);
        if (parse_key_value(ps, out->u.tab, &k))
            goto fail;
        keypath_fini(&k);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == '}') {
                fail_at(ps, ps->p, "an inline table has no comma after its last key");
                goto fail;
            }
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            seal(out->u.tab);
            return 0;
        }
        fail_at(ps, ps->p,
                "expected `,` or `}` (an inline table stays on one line; use a [table] for more)");
        goto fail;
    }
fail:
    keypath_fini(&k);
    return -EINVAL;
}

static int
parse_value(struct parser *ps, struct rp_toml_value *out)
{
    out->off = (size_t)(ps->p - ps->text);
    if (ps->p == ps->end || at_newline(ps))
        return fail_at(ps, ps->p, "expected a value after `=`");
    char c = *ps->p;
    if (c == '"' || c == '\'') {
        out->kind = RP_TOML_STRING;
        return parse_string(ps, false, &out->u.str.s, &out->u.str.len);
    }
    if (c == '[' || c == '{') {
        if (ps->depth == RP_TOML_DEPTH_CAP)
            return fail_at(ps, ps->p, "arrays and inline tables nest deeper than %d",
                           RP_TOML_DEPTH_CAP);
        ps->depth++;
        int err = c == '[' ? parse_array(ps, out) : parse_inline_table(ps, out);
        ps->depth--;
        return err;
    }
    const char *word = ps->p, *why = NULL;
    while (ps->p < ps->end && (is_bare(*ps->p) || *ps->p == '+' || *ps->p == '.'))
        ps->p++;
    size_t n = (size_t)(ps->p - word);
    bool colon = ps->p < ps->end && *ps->p == ':';
    if (rp_toml_number_parse(word, n, colon, out, &why))
        return fail_at(ps, word, "%s: `%.*s`", why, (int)(n < 40 ? n : 40), word);
    return 0;
}

/* ---- lines ---- */

static int
parse_header(struct parser *ps)
{
    struct keypath k = {0};
    char name[256];
    const char *at = ps->p++;
    struct rp_toml_table *t = ps->root;

    if (ps->p < ps->end && *ps->p == '[')
        return fail_at(ps, at,
                       "arrays of tables ([[name]]) are not supported (no setting uses one)");
    skip_ws(ps);
    if (parse_key(ps, &k))
        goto fail;
    if (ps->p == ps->end || *ps->p != ']') {
        fail_at(ps, ps->p, "expected `]` to close the table header");
        goto fail;
    }
    ps->p++;
    for (size_t i = 0; i < k.n; i++) {
        struct rp_toml_entry *e = find(t, k.parts[i]);
        bool last = i + 1 == k.n;
        if (!e) {
            struct rp_toml_value sub = table_value(last ? TF_EXPLICIT : TF_IMPLICIT, k.off);
            e = insert(t, k.parts[i], &sub);
            if (!e) {
                value_fini(&sub);
                fail_at(ps, at, "a table holds more than %d keys", RP_TOML_TABLE_CAP);
                goto fail;
            }
            k.parts[i] = NULL;
        } else if (e->val.kind != RP_TOML_TABLE) {
            fail_at(ps, at, "`%s` is already a%s %s, not a table", key_text(&k, i + 1, name, 256),
                    e->val.kind == RP_TOML_INT ? "n" : "", rp_toml_kind_name(e->val.kind));
            goto fail;
        } else if (e->val.u.tab->flags & TF_SEALED) {
            fail_at(ps, at, "`%s` is an inline table, which cannot be extended",
                    key_text(&k, i + 1, name, sizeof(name)));
            goto fail;
        } else if (last && (e->val.u.tab->flags & (TF_EXPLICIT | TF_DOTTED))) {
            fail_at(ps, at, "table [%s] is defined twice%s", key_text(&k, k.n, name, sizeof(name)),
                    e->val.u.tab->flags & TF_DOTTED ? " (dotted keys made it before)" : "");
            goto fail;
        } else if (last) {
            e->val.u.tab->flags = TF_EXPLICIT;
        }
        t = e->val.u.tab;
    }
    keypath_fini(&k);
    ps->cur = t;
    return expect_line_end(ps, "a table header");

fail:
    keypath_fini(&k);
    return -EINVAL;
}

static int
parse_keyval(struct parser *ps)
{
    struct keypath k = {0};
    int err = parse_key_value(ps, ps->cur, &k);
    keypath_fini(&k);
    return err ? err : expect_line_end(ps, "a value");
}

int
rp_toml_parse(const char *text, size_t len, struct rp_toml_table **out, struct rp_diag *diag)
{
    struct parser ps = {.text = text, .p = text, .end = text + len, .diag = diag};
    size_t bad;

    *out = NULL;
    if (len > RP_TOML_TEXT_CAP) {
        rp_diag_set(diag, "1:1: the document is larger than 1 MiB (allowed: up to 1 MiB)");
        return -EINVAL;
    }
    if (!rp_utf8_valid(text, len, &bad))
        return fail_at(&ps, text + bad, "invalid UTF-8 (a TOML file is UTF-8 text)");
    ps.root = rp_xcalloc(1, sizeof(*ps.root));
    ps.root->flags = TF_EXPLICIT;
    ps.cur = ps.root;
    while (ps.p < ps.end) {
        int err;
        skip_ws(&ps);
        if (ps.p == ps.end)
            break;
        if (*ps.p == '#' || at_newline(&ps))
            err = expect_line_end(&ps, "a comment");
        else if (*ps.p == '[')
            err = parse_header(&ps);
        else if (*ps.p == '\r')
            err = fail_at(&ps, ps.p, "a carriage return must be followed by a line feed");
        else
            err = parse_keyval(&ps);
        if (err) {
            rp_toml_free(ps.root);
            return err;
        }
    }
    *out = ps.root;
    return 0;
}
