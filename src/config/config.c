/* SPDX-License-Identifier: MIT */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/diag.h"
#include "config/config_setting.h"
#include "core/pattern.h"

enum {
    WHAT_CAP = 320,         /* "what is wrong" part of a message */
    WHERE_CAP = 160,        /* "file:line: key" part of a message */
    SHOWN_VALUE_CAP = 80,   /* longest piece of a bad value quoted back to the user */
    FILE_CAP = 1024 * 1024, /* largest config file accepted */
};

/* Units of SIZE (bytes) and DURATION (milliseconds) values. */
enum {
    KIB = 1024,
    MIB = 1024 * KIB,
    GIB = 1024 * MIB,
    MS_PER_S = 1000,
    MS_PER_M = 60 * MS_PER_S,
    MS_PER_H = 60 * MS_PER_M,
};

/* A parsed value before it is stored: one member per kind. */
union value {
    char *str;
    int64_t i;
    bool b;
    int e;
    struct rp_config_list list;
};

/* ---- messages ---- */

static void text_set(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
text_set(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

/* Writes <n> bytes as "16m", "8k", "3g" when exact, else as plain bytes. */
static void
format_size(int64_t n, char *buf, size_t cap)
{
    if (n != 0 && n % GIB == 0)
        text_set(buf, cap, "%" PRId64 "g", n / GIB);
    else if (n != 0 && n % MIB == 0)
        text_set(buf, cap, "%" PRId64 "m", n / MIB);
    else if (n != 0 && n % KIB == 0)
        text_set(buf, cap, "%" PRId64 "k", n / KIB);
    else
        text_set(buf, cap, "%" PRId64, n);
}

/* Writes <ms> milliseconds in the largest unit that is exact: "1h", "15s", "250ms". */
static void
format_duration(int64_t ms, char *buf, size_t cap)
{
    if (ms != 0 && ms % MS_PER_H == 0)
        text_set(buf, cap, "%" PRId64 "h", ms / MS_PER_H);
    else if (ms != 0 && ms % MS_PER_M == 0)
        text_set(buf, cap, "%" PRId64 "m", ms / MS_PER_M);
    else if (ms % MS_PER_S == 0)
        text_set(buf, cap, "%" PRId64 "s", ms / MS_PER_S);
    else
        text_set(buf, cap, "%" PRId64 "ms", ms);
}

/* The range or the choices of <s>, as shown in help and in messages ("100ms to 1h"). */
static void
format_range(const struct rp_config_setting *s, char *buf, size_t cap)
{
    char lo[32], hi[32];

    switch (s->kind) {
    case RP_CONFIG_KIND_INT:
        text_set(buf, cap, "%" PRId64 " to %" PRId64, s->min, s->max);
        break;
    case RP_CONFIG_KIND_SIZE:
        format_size(s->min, lo, sizeof(lo));
        format_size(s->max, hi, sizeof(hi));
        text_set(buf, cap, "%s to %s", lo, hi);
        break;
    case RP_CONFIG_KIND_DURATION:
        format_duration(s->min, lo, sizeof(lo));
        format_duration(s->max, hi, sizeof(hi));
        text_set(buf, cap, "%s to %s", lo, hi);
        break;
    case RP_CONFIG_KIND_ENUM: {
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; i < rp_config_setting_n_choices(s) && used < cap; i++) {
            int n = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "",
                             rp_config_setting_choice(s, i));
            if (n < 0)
                break;
            used += (size_t)n;
        }
        break;
    }
    case RP_CONFIG_KIND_BOOL:
        text_set(buf, cap, "true, false, yes, no, on, off, 1, 0");
        break;
    case RP_CONFIG_KIND_LIST:
        text_set(buf, cap, "comma-separated items, none empty");
        break;
    case RP_CONFIG_KIND_STRING:
    case RP_CONFIG_KIND_SECRET:
        text_set(buf, cap, "text without control characters");
        break;
    }
}

/* What a value of <s> may be, for the "(allowed: ...)" part of a message. */
static void
format_allowed(const struct rp_config_setting *s, char *buf, size_t cap)
{
    char range[RP_CONFIG_CHOICES_CAP];

    format_range(s, range, sizeof(range));
    switch (s->kind) {
    case RP_CONFIG_KIND_INT:
        text_set(buf, cap, "a whole number from %s", range);
        break;
    case RP_CONFIG_KIND_SIZE:
        text_set(buf, cap, "a size from %s, in bytes or with suffix k, m, g", range);
        break;
    case RP_CONFIG_KIND_DURATION:
        text_set(buf, cap, "a duration from %s, with suffix ms, s, m, h; a bare number is seconds",
                 range);
        break;
    case RP_CONFIG_KIND_ENUM:
        text_set(buf, cap, "one of %s", range);
        break;
    case RP_CONFIG_KIND_BOOL:
    case RP_CONFIG_KIND_LIST:
    case RP_CONFIG_KIND_STRING:
    case RP_CONFIG_KIND_SECRET:
        text_set(buf, cap, "%s", range);
        break;
    }
}

/* ---- value parsing ---- */

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool
has_control_char(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return true;
    return false;
}

/* Parses the decimal digits at *<pp> into *<out>; 0, or -ERANGE on overflow, -EINVAL if none. */
static int
parse_digits(const char **pp, int64_t *out)
{
    const char *p = *pp;
    int64_t n = 0;

    if (!isdigit((unsigned char)*p))
        return -EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        int d = *p - '0';
        if (n > (INT64_MAX - d) / 10)
            return -ERANGE;
        n = n * 10 + d;
    }
    *pp = p;
    *out = n;
    return 0;
}

/* A unit suffix of SIZE or DURATION values, case-insensitive; "" is a bare number. */
struct unit {
    const char *suffix;
    int64_t mult;
};

static const struct unit size_units[] = {
    {"", 1},     {"b", 1},     {"k", KIB}, {"kb", KIB}, {"kib", KIB}, {"m", MIB},
    {"mb", MIB}, {"mib", MIB}, {"g", GIB}, {"gb", GIB}, {"gib", GIB}, {NULL, 0},
};

static const struct unit duration_units[] = {
    {"", MS_PER_S}, {"ms", 1}, {"s", MS_PER_S}, {"m", MS_PER_M}, {"h", MS_PER_H}, {NULL, 0},
};

/* Parses "<digits><blanks?><suffix>" with a suffix from <units>; 0, -EINVAL or -ERANGE. */
static int
parse_with_unit(const char *text, const struct unit *units, int64_t *out)
{
    const char *p = text;
    int64_t n;
    int err = parse_digits(&p, &n);
    if (err)
        return err;
    while (is_blank(*p))
        p++;
    for (const struct unit *u = units; u->suffix; u++) {
        if (strcasecmp(p, u->suffix) != 0)
            continue;
        if (n > INT64_MAX / u->mult)
            return -ERANGE;
        *out = n * u->mult;
        return 0;
    }
    return -EINVAL;
}

static int
parse_int(const char *text, int64_t *out)
{
    const char *p = text;
    bool neg = false;
    int64_t n;

    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    int err = parse_digits(&p, &n);
    if (err)
        return err;
    if (*p != '\0')
        return -EINVAL;
    *out = neg ? -n : n;
    return 0;
}

static int
parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* Case-insensitive, with `-` and `_` equal: "Drop-Oldest" is drop_oldest. */
static bool
same_word(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char ca = *a == '-' ? '_' : (char)tolower((unsigned char)*a);
        char cb = *b == '-' ? '_' : (char)tolower((unsigned char)*b);
        if (ca != cb)
            return false;
    }
    return *a == *b;
}

static void
list_fini(struct rp_config_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->items[i]);
    RP_FREE(list->items);
    list->n = 0;
}

static int
parse_list(const char *text, struct rp_config_list *out)
{
    const char *p = text;

    out->items = NULL;
    out->n = 0;
    while (is_blank(*p))
        p++;
    if (*p == '\0')
        return 0;
    for (;;) {
        const char *start = p, *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        while (start < end && is_blank(*start))
            start++;
        const char *stop = end;
        while (stop > start && is_blank(stop[-1]))
            stop--;
        if (stop == start) {
            list_fini(out);
            return -EINVAL;
        }
        out->items = rp_xrealloc(out->items, (out->n + 1) * sizeof(out->items[0]));
        out->items[out->n++] = rp_xstrndup(start, (size_t)(stop - start));
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/*
 * Parses <text> as a value of <s> into <out> (owned by the caller after 0). On failure
 * returns -EINVAL and writes what is wrong, without the allowed values, to <what>.
 */
static int
parse_value(const struct rp_config_setting *s, const char *text, union value *out, char *what,
            size_t what_cap)
{
    int64_t n = 0;
    int err = 0;
    const int shown = SHOWN_VALUE_CAP;

    if (has_control_char(text)) {
        text_set(what, what_cap, "the value contains a control character");
        return -EINVAL;
    }
    switch (s->kind) {
    case RP_CONFIG_KIND_STRING:
    case RP_CONFIG_KIND_SECRET:
        out->str = rp_xstrdup(text);
        return 0;
    case RP_CONFIG_KIND_BOOL:
        if (parse_bool(text, &out->b) == 0)
            return 0;
        text_set(what, what_cap, "`%.*s` is not a boolean", shown, text);
        return -EINVAL;
    case RP_CONFIG_KIND_ENUM: {
        for (int i = 0; i < rp_config_setting_n_choices(s); i++) {
            if (same_word(text, rp_config_setting_choice(s, i))) {
                out->e = i;
                return 0;
            }
        }
        text_set(what, what_cap, "`%.*s` is not a choice", shown, text);
        return -EINVAL;
    }
    case RP_CONFIG_KIND_LIST:
        if (parse_list(text, &out->list) == 0)
            return 0;
        text_set(what, what_cap, "`%.*s` has an empty item", shown, text);
        return -EINVAL;
    case RP_CONFIG_KIND_INT:
        err = parse_int(text, &n);
        break;
    case RP_CONFIG_KIND_SIZE:
        err = parse_with_unit(text, size_units, &n);
        break;
    case RP_CONFIG_KIND_DURATION:
        err = parse_with_unit(text, duration_units, &n);
        break;
    }
    if (err == -ERANGE) {
        text_set(what, what_cap, "`%.*s` is too large", shown, text);
        return -EINVAL;
    }
    if (err) {
        static const char *const kind_word[] = {
            [RP_CONFIG_KIND_INT] = "a whole number",
            [RP_CONFIG_KIND_SIZE] = "a size",
            [RP_CONFIG_KIND_DURATION] = "a duration",
        };
        text_set(what, what_cap, "`%.*s` is not %s", shown, text, kind_word[s->kind]);
        return -EINVAL;
    }
    if (n < s->min || n > s->max) {
        text_set(what, what_cap, "`%.*s` is out of range", shown, text);
        return -EINVAL;
    }
    out->i = n;
    return 0;
}

/* ---- values ---- */

static void *
field(struct rp_config_values *v, const struct rp_config_setting *s)
{
    return (char *)v + s->offset;
}

static const void *
cfield(const struct rp_config_values *v, const struct rp_config_setting *s)
{
    return (const char *)v + s->offset;
}

/* Stores <val> as <s> in <v>, freeing what was there and taking ownership of <val>. */
static void
value_store(struct rp_config_values *v, const struct rp_config_setting *s, union value *val)
{
    void *f = field(v, s);

    switch (s->kind) {
    case RP_CONFIG_KIND_STRING:
    case RP_CONFIG_KIND_SECRET:
        free(*(char **)f);
        *(char **)f = val->str;
        break;
    case RP_CONFIG_KIND_LIST:
        list_fini(f);
        *(struct rp_config_list *)f = val->list;
        break;
    case RP_CONFIG_KIND_INT:
    case RP_CONFIG_KIND_SIZE:
    case RP_CONFIG_KIND_DURATION:
        *(int64_t *)f = val->i;
        break;
    case RP_CONFIG_KIND_BOOL:
        *(bool *)f = val->b;
        break;
    case RP_CONFIG_KIND_ENUM:
        *(int *)f = val->e;
        break;
    }
}

/* Moves setting <s> from <src> to <dst>; <src>'s field is left empty. */
static void
value_move(struct rp_config_values *dst, struct rp_config_values *src,
           const struct rp_config_setting *s)
{
    union value val;
    void *f = field(src, s);

    switch (s->kind) {
    case RP_CONFIG_KIND_STRING:
    case RP_CONFIG_KIND_SECRET:
        val.str = *(char **)f;
        *(char **)f = NULL;
        break;
    case RP_CONFIG_KIND_LIST:
        val.list = *(struct rp_config_list *)f;
        memset(f, 0, sizeof(struct rp_config_list));
        break;
    case RP_CONFIG_KIND_INT:
    case RP_CONFIG_KIND_SIZE:
    case RP_CONFIG_KIND_DURATION:
        val.i = *(int64_t *)f;
        break;
    case RP_CONFIG_KIND_BOOL:
        val.b = *(bool *)f;
        break;
    case RP_CONFIG_KIND_ENUM:
        val.e = *(int *)f;
        break;
    }
    value_store(dst, s, &val);
}

static void
values_fini(struct rp_config_values *v)
{
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++) {
        const struct rp_config_setting *s = &rp_config_settings[i];
        if (s->kind == RP_CONFIG_KIND_STRING || s->kind == RP_CONFIG_KIND_SECRET)
            RP_FREE(*(char **)field(v, s));
        else if (s->kind == RP_CONFIG_KIND_LIST)
            list_fini(field(v, s));
    }
}

/* Makes <dst> a deep copy of <src>; <dst> is overwritten, not freed. */
static void
values_copy(struct rp_config_values *dst, const struct rp_config_values *src)
{
    memcpy(dst, src, sizeof(*dst));
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++) {
        const struct rp_config_setting *s = &rp_config_settings[i];
        if (s->kind == RP_CONFIG_KIND_STRING || s->kind == RP_CONFIG_KIND_SECRET) {
            const char *str = *(char *const *)cfield(src, s);
            *(char **)field(dst, s) = str ? rp_xstrdup(str) : NULL;
        } else if (s->kind == RP_CONFIG_KIND_LIST) {
            const struct rp_config_list *from = cfield(src, s);
            struct rp_config_list *to = field(dst, s);
            to->items = NULL;
            if (from->n) {
                to->items = rp_xmalloc(from->n * sizeof(to->items[0]));
                for (size_t j = 0; j < from->n; j++)
                    to->items[j] = rp_xstrdup(from->items[j]);
            }
        }
    }
}

static void
values_set_defaults(struct rp_config_values *v)
{
    char what[WHAT_CAP];

    memset(v, 0, sizeof(*v));
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++) {
        union value val;
        /* A default that does not parse is a bug in settings.def, found by any test. */
        int err = parse_value(&rp_config_settings[i], rp_config_settings[i].def, &val, what,
                              sizeof(what));
        if (err)
            fprintf(stderr, "settings.def: %s: bad default: %s\n", rp_config_settings[i].name,
                    what);
        RP_ASSERT(err == 0);
        value_store(v, &rp_config_settings[i], &val);
    }
}

/* ---- loading ---- */

/* Which settings a [topic] section names, kept only while loading. */
struct section_mask {
    bool set[RP_CONFIG_N_SETTINGS];
};

struct loader {
    struct rp_config *cfg;
    struct section_mask *masks; /* parallel to cfg->topics */
    size_t topics_cap;
    const char *name; /* of the file, for messages */
    unsigned line;
    long section; /* index into cfg->topics, -1 in the global scope */
    struct rp_diag *diag;
};

/*
 * Parses <text> for <s> and stores it in <v>. On failure fills the diag as
 * "<where>: what is wrong (allowed: ...)".
 */
static int
apply(struct rp_diag *diag, const char *where, const struct rp_config_setting *s, const char *text,
      struct rp_config_values *v)
{
    char what[WHAT_CAP], allowed[RP_CONFIG_CHOICES_CAP + 96];
    union value val;

    if (parse_value(s, text, &val, what, sizeof(what)) != 0) {
        format_allowed(s, allowed, sizeof(allowed));
        rp_diag_set(diag, "%s: %s (allowed: %s)", where, what, allowed);
        return -EINVAL;
    }
    value_store(v, s, &val);
    return 0;
}

static void
list_topic_settings(char *buf, size_t cap)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS && used < cap; i++) {
        if (rp_config_settings[i].scope != RP_CONFIG_SCOPE_TOPIC)
            continue;
        int n =
            snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", rp_config_settings[i].name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/*
 * Reads a double-quoted string starting at the quote *<pp>, up to <end>; on success
 * *<out> is the unescaped copy and *<pp> points past the closing quote.
 */
static int
parse_quoted(struct loader *ld, const char *where, const char **pp, const char *end, char **out)
{
    const char *p = *pp + 1;
    char *buf = rp_xmalloc((size_t)(end - p) + 1);
    size_t n = 0;

    for (; p < end; p++) {
        if (*p == '"') {
            buf[n] = '\0';
            *out = buf;
            *pp = p + 1;
            return 0;
        }
        if (*p == '\\') {
            if (p + 1 < end && (p[1] == '"' || p[1] == '\\')) {
                buf[n++] = *++p;
                continue;
            }
            if (p + 1 == end)
                break;
            free(buf);
            rp_diag_set(ld->diag,
                        "%s: unknown escape `\\%c` in a quoted value (allowed: \\\" and \\\\)",
                        where, p[1]);
            return -EINVAL;
        }
        buf[n++] = *p;
    }
    free(buf);
    rp_diag_set(ld->diag, "%s: missing closing quote (allowed: \"text\", with \\\" and \\\\)",
                where);
    return -EINVAL;
}

/* True when only blanks and perhaps a # comment are left in [p, end). */
static bool
rest_is_empty(const char *p, const char *end)
{
    while (p < end && is_blank(*p))
        p++;
    return p == end || *p == '#';
}

/* Makes the section for <pattern> current, continuing an earlier one with that pattern. */
static void
open_section(struct loader *ld, const char *pattern)
{
    struct rp_config *cfg = ld->cfg;

    for (size_t i = 0; i < cfg->n_topics; i++) {
        if (strcmp(cfg->topics[i].pattern, pattern) == 0) {
            ld->section = (long)i;
            return;
        }
    }
    if (cfg->n_topics == ld->topics_cap) {
        ld->topics_cap = ld->topics_cap ? ld->topics_cap * 2 : 4;
        cfg->topics = rp_xrealloc(cfg->topics, ld->topics_cap * sizeof(cfg->topics[0]));
        ld->masks = rp_xrealloc(ld->masks, ld->topics_cap * sizeof(ld->masks[0]));
    }
    struct rp_config_topic *t = &cfg->topics[cfg->n_topics];
    memset(t, 0, sizeof(*t));
    memset(&ld->masks[cfg->n_topics], 0, sizeof(ld->masks[0]));
    t->pattern = rp_xstrdup(pattern);
    ld->section = (long)cfg->n_topics++;
}

static int
parse_section(struct loader *ld, const char *p, const char *end)
{
    static const char form[] = "[topic \"PATTERN\"], e.g. [topic \"news/#\"]";
    char where[WHERE_CAP];
    const char *word;
    char *pattern = NULL;

    text_set(where, sizeof(where), "%s:%u", ld->name, ld->line);
    p++;
    while (p < end && is_blank(*p))
        p++;
    for (word = p; p < end && (isalnum((unsigned char)*p) || *p == '_' || *p == '-'); p++)
        ;
    if ((size_t)(p - word) != 5 || strncmp(word, "topic", 5) != 0) {
        if (p > word)
            rp_diag_set(ld->diag, "%s: unknown section [%.*s] (allowed: %s)", where,
                        (int)(p - word < 40 ? p - word : 40), word, form);
        else
            rp_diag_set(ld->diag, "%s: malformed section header (allowed: %s)", where, form);
        return -EINVAL;
    }
    while (p < end && is_blank(*p))
        p++;
    if (p == end || *p != '"') {
        rp_diag_set(ld->diag, "%s: the [topic] pattern must be quoted (allowed: %s)", where, form);
        return -EINVAL;
    }
    if (parse_quoted(ld, where, &p, end, &pattern) != 0)
        return -EINVAL;
    while (p < end && is_blank(*p))
        p++;
    if (p == end || *p != ']' || !rest_is_empty(p + 1, end)) {
        rp_diag_set(ld->diag, "%s: malformed section header (allowed: %s)", where, form);
        goto fail;
    }
    const char *why = has_control_char(pattern) ? "contains a control character"
                                                : rp_pattern_check(pattern, strlen(pattern));
    if (why) {
        rp_diag_set(ld->diag,
                    "%s: [topic \"%.*s\"]: invalid pattern: %s (allowed: a topic name whose "
                    "levels may be + or, last, #)",
                    where, SHOWN_VALUE_CAP, pattern, why);
        goto fail;
    }
    open_section(ld, pattern);
    free(pattern);
    return 0;

fail:
    free(pattern);
    return -EINVAL;
}

static bool
is_key_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

static int
parse_setting_line(struct loader *ld, const char *p, const char *end)
{
    char where[WHERE_CAP], what[WHAT_CAP];
    const char *key = p;
    char *value = NULL;
    int err = -EINVAL;

    while (p < end && is_key_char(*p))
        p++;
    size_t key_len = (size_t)(p - key);
    if (key_len == 0) {
        rp_diag_set(ld->diag,
                    "%s:%u: expected `key = value` (allowed: settings, [topic \"PATTERN\"] "
                    "sections and # comments)",
                    ld->name, ld->line);
        return -EINVAL;
    }
    text_set(where, sizeof(where), "%s:%u: %.*s", ld->name, ld->line,
             (int)(key_len < RP_CONFIG_NAME_CAP ? key_len : RP_CONFIG_NAME_CAP), key);
    while (p < end && is_blank(*p))
        p++;
    if (p == end || *p != '=') {
        rp_diag_set(ld->diag, "%s: expected `=` after the key (allowed: `key = value`)", where);
        return -EINVAL;
    }
    const struct rp_config_setting *s = rp_config_setting_find(key, key_len, false);
    if (!s) {
        const struct rp_config_setting *near = rp_config_setting_suggest(key, key_len);
        if (near)
            rp_diag_set(ld->diag, "%s: unknown setting (did you mean %s?)", where, near->name);
        else
            rp_diag_set(ld->diag, "%s: unknown setting (see docs/configuration.md)", where);
        return -EINVAL;
    }
    if (ld->section >= 0 && s->scope != RP_CONFIG_SCOPE_TOPIC) {
        list_topic_settings(what, sizeof(what));
        rp_diag_set(ld->diag,
                    "%s: a global setting cannot be set in a [topic] section; move it above the "
                    "first section (allowed here: %s)",
                    where, what);
        return -EINVAL;
    }
    p++;
    while (p < end && is_blank(*p))
        p++;
    if (p < end && *p == '"') {
        if (parse_quoted(ld, where, &p, end, &value) != 0)
            return -EINVAL;
        if (!rest_is_empty(p, end)) {
            rp_diag_set(ld->diag,
                        "%s: unexpected text after the closing quote (allowed: a # comment)",
                        where);
            goto out;
        }
    } else {
        /* A # starts a comment only after whitespace, so `a#b` stays one value. */
        const char *stop = p;
        while (stop < end && !(*stop == '#' && is_blank(stop[-1])))
            stop++;
        while (stop > p && is_blank(stop[-1]))
            stop--;
        value = rp_xstrndup(p, (size_t)(stop - p));
    }
    if (ld->section < 0) {
        err = apply(ld->diag, where, s, value, &ld->cfg->v);
    } else {
        err = apply(ld->diag, where, s, value, &ld->cfg->topics[ld->section].values);
        if (!err)
            ld->masks[ld->section].set[s - rp_config_settings] = true;
    }
out:
    free(value);
    return err;
}

static int
parse_text(struct loader *ld, const char *text, size_t len)
{
    const char *p = text, *end = text + len;

    if (len > FILE_CAP) {
        rp_diag_set(ld->diag, "%s: the file is larger than 1 MiB (allowed: up to 1 MiB)", ld->name);
        return -EINVAL;
    }
    ld->line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        ld->line++;
        if (memchr(p, '\0', (size_t)(eol - p))) {
            rp_diag_set(ld->diag, "%s:%u: the line contains a NUL byte (allowed: text)", ld->name,
                        ld->line);
            return -EINVAL;
        }
        const char *stop = eol;
        if (stop > p && stop[-1] == '\r')
            stop--;
        while (p < stop && is_blank(*p))
            p++;
        int err = 0;
        if (p == stop || *p == '#')
            err = 0;
        else if (*p == '[')
            err = parse_section(ld, p, stop);
        else
            err = parse_setting_line(ld, p, stop);
        if (err)
            return err;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static int
apply_env(struct loader *ld, char *const *envp)
{
    static const char prefix[] = "REVENPROX_";
    char where[WHERE_CAP], env[RP_CONFIG_NAME_CAP + sizeof(prefix)];

    for (; envp && *envp; envp++) {
        const char *entry = *envp;
        const char *eq = strchr(entry, '=');
        if (!eq || strncmp(entry, prefix, sizeof(prefix) - 1) != 0)
            continue;
        const char *key = entry + sizeof(prefix) - 1;
        size_t key_len = (size_t)(eq - key);
        if (key_len == 6 && strncmp(key, "CONFIG", 6) == 0)
            continue;
        int shown = eq - entry < SHOWN_VALUE_CAP ? (int)(eq - entry) : SHOWN_VALUE_CAP;
        text_set(where, sizeof(where), "environment %.*s", shown, entry);
        const struct rp_config_setting *s = rp_config_setting_find(key, key_len, true);
        /* The variable must be in upper case, as documented. */
        if (s) {
            rp_config_setting_env_name(s, env, sizeof(env));
            if (strncmp(entry, env, (size_t)(eq - entry)) != 0 || env[eq - entry] != '\0')
                s = NULL;
        }
        if (!s) {
            const struct rp_config_setting *near = rp_config_setting_suggest(key, key_len);
            if (near) {
                rp_config_setting_env_name(near, env, sizeof(env));
                rp_diag_set(ld->diag, "%s: unknown setting (did you mean %s?)", where, env);
            } else {
                rp_diag_set(ld->diag, "%s: unknown setting (see docs/configuration.md)", where);
            }
            return -EINVAL;
        }
        if (apply(ld->diag, where, s, eq + 1, &ld->cfg->v) != 0)
            return -EINVAL;
    }
    return 0;
}

static bool
is_flag(const char *arg)
{
    return arg[0] == '-' && arg[1] == '-' && arg[2] != '\0';
}

static int
apply_flags(struct loader *ld, int argc, char *const *argv)
{
    char where[WHERE_CAP], flag[RP_CONFIG_NAME_CAP];

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!is_flag(arg)) {
            rp_diag_set(ld->diag,
                        "argument `%.*s`: not a flag (allowed: --name value or --name=value)",
                        SHOWN_VALUE_CAP, arg);
            return -EINVAL;
        }
        const char *key = arg + 2;
        const char *eq = strchr(key, '=');
        size_t key_len = eq ? (size_t)(eq - key) : strlen(key);
        bool has_next = i + 1 < argc && !is_flag(argv[i + 1]);
        if (key_len == 6 && strncmp(key, "config", 6) == 0) {
            if (!eq && has_next)
                i++;
            continue;
        }
        text_set(where, sizeof(where), "flag --%.*s",
                 (int)(key_len < RP_CONFIG_NAME_CAP ? key_len : RP_CONFIG_NAME_CAP), key);
        const struct rp_config_setting *s = rp_config_setting_find(key, key_len, false);
        if (!s) {
            const struct rp_config_setting *near = rp_config_setting_suggest(key, key_len);
            if (near) {
                rp_config_setting_flag_name(near, flag, sizeof(flag));
                rp_diag_set(ld->diag, "%s: unknown flag (did you mean --%s?)", where, flag);
            } else {
                rp_diag_set(ld->diag, "%s: unknown flag (see --help)", where);
            }
            return -EINVAL;
        }
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (has_next) {
            value = argv[++i];
        } else if (s->kind == RP_CONFIG_KIND_BOOL) {
            value = "true";
        } else {
            char allowed[RP_CONFIG_CHOICES_CAP + 96];
            format_allowed(s, allowed, sizeof(allowed));
            rp_diag_set(ld->diag, "%s: missing value (allowed: %s)", where, allowed);
            return -EINVAL;
        }
        if (apply(ld->diag, where, s, value, &ld->cfg->v) != 0)
            return -EINVAL;
    }
    return 0;
}

/* Gives every [topic] section the final globals, with its own keys on top. */
static void
finish_sections(struct loader *ld)
{
    struct rp_config *cfg = ld->cfg;

    for (size_t t = 0; t < cfg->n_topics; t++) {
        struct rp_config_values merged;
        values_copy(&merged, &cfg->v);
        for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++)
            if (ld->masks[t].set[i])
                value_move(&merged, &cfg->topics[t].values, &rp_config_settings[i]);
        values_fini(&cfg->topics[t].values);
        cfg->topics[t].values = merged;
    }
}

static int
load(const char *text, size_t len, const char *name, const char *path, char *const *envp, int argc,
     char *const *argv, struct rp_config **out, struct rp_diag *diag)
{
    struct loader ld = {.section = -1, .diag = diag, .name = name ? name : "<string>"};
    int err;

    rp_config_setting_init();
    rp_diag_clear(diag);
    *out = NULL;
    ld.cfg = rp_xcalloc(1, sizeof(*ld.cfg));
    values_set_defaults(&ld.cfg->v);
    /* Sections hold only the keys they name until finish_sections(). */
    err = text ? parse_text(&ld, text, len) : 0;
    if (err)
        goto fail;
    err = apply_env(&ld, envp);
    if (err)
        goto fail;
    err = apply_flags(&ld, argc, argv);
    if (err)
        goto fail;
    finish_sections(&ld);
    if (path)
        ld.cfg->file = rp_xstrdup(path);
    free(ld.masks);
    *out = ld.cfg;
    return 0;

fail:
    free(ld.masks);
    rp_config_free(ld.cfg);
    return err;
}

int
rp_config_load_string(const char *text, size_t len, const char *name, char *const *envp, int argc,
                      char *const *argv, struct rp_config **out, struct rp_diag *diag)
{
    return load(text ? text : "", text ? len : 0, name, NULL, envp, argc, argv, out, diag);
}

int
rp_config_load(const char *path, char *const *envp, int argc, char *const *argv,
               struct rp_config **out, struct rp_diag *diag)
{
    char *text = NULL;
    size_t len = 0;
    int err;

    if (path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            rp_diag_set(diag,
                        "%s: cannot open the config file: %s (check the path given with "
                        "--config)",
                        path, strerror(errno));
            *out = NULL;
            return -EINVAL;
        }
        /* One byte past the cap is read so that a too-large file is told apart. */
        text = rp_xmalloc((size_t)FILE_CAP + 1);
        len = fread(text, 1, (size_t)FILE_CAP + 1, f);
        bool failed = ferror(f) != 0;
        fclose(f);
        if (failed) {
            rp_diag_set(diag, "%s: cannot read the config file", path);
            free(text);
            *out = NULL;
            return -EINVAL;
        }
    }
    err = load(text, len, path, path, envp, argc, argv, out, diag);
    free(text);
    return err;
}

void
rp_config_free(struct rp_config *cfg)
{
    if (!cfg)
        return;
    values_fini(&cfg->v);
    for (size_t i = 0; i < cfg->n_topics; i++) {
        free(cfg->topics[i].pattern);
        values_fini(&cfg->topics[i].values);
    }
    free(cfg->topics);
    free(cfg->file);
    free(cfg);
}

const struct rp_config_values *
rp_config_for_topic(const struct rp_config *cfg, const char *name, size_t len)
{
    for (size_t i = 0; i < cfg->n_topics; i++) {
        const char *pattern = cfg->topics[i].pattern;
        if (rp_pattern_matches(pattern, strlen(pattern), name, len))
            return &cfg->topics[i].values;
    }
    return &cfg->v;
}

/* ---- dump and help ---- */

static void
print_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void
print_value(FILE *f, const struct rp_config_setting *s, const struct rp_config_values *v)
{
    const void *p = cfield(v, s);
    char buf[32];

    switch (s->kind) {
    case RP_CONFIG_KIND_SECRET:
        /* Never print a secret: only whether one is set. */
        print_quoted(f, *(char *const *)p && **(char *const *)p ? "********" : "");
        break;
    case RP_CONFIG_KIND_STRING:
        print_quoted(f, *(char *const *)p ? *(char *const *)p : "");
        break;
    case RP_CONFIG_KIND_INT:
        fprintf(f, "%" PRId64, *(const int64_t *)p);
        break;
    case RP_CONFIG_KIND_SIZE:
        format_size(*(const int64_t *)p, buf, sizeof(buf));
        fputs(buf, f);
        break;
    case RP_CONFIG_KIND_DURATION:
        format_duration(*(const int64_t *)p, buf, sizeof(buf));
        fputs(buf, f);
        break;
    case RP_CONFIG_KIND_BOOL:
        fputs(*(const bool *)p ? "true" : "false", f);
        break;
    case RP_CONFIG_KIND_ENUM:
        fputs(rp_config_setting_choice(s, *(const int *)p), f);
        break;
    case RP_CONFIG_KIND_LIST: {
        const struct rp_config_list *list = p;
        fputc('"', f);
        for (size_t i = 0; i < list->n; i++) {
            if (i)
                fputs(", ", f);
            for (const char *c = list->items[i]; *c; c++) {
                if (*c == '"' || *c == '\\')
                    fputc('\\', f);
                fputc(*c, f);
            }
        }
        fputc('"', f);
        break;
    }
    }
}

void
rp_config_dump(const struct rp_config *cfg, void *out)
{
    FILE *f = out;

    rp_config_setting_init();
    fprintf(f, "# Effective configuration (defaults < file < environment < flags)%s%s\n",
            cfg->file ? "; file " : "", cfg->file ? cfg->file : "");
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++) {
        fprintf(f, "%s = ", rp_config_settings[i].name);
        print_value(f, &rp_config_settings[i], &cfg->v);
        fputc('\n', f);
    }
    for (size_t t = 0; t < cfg->n_topics; t++) {
        fputs("\n[topic ", f);
        print_quoted(f, cfg->topics[t].pattern);
        fputs("]\n", f);
        for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++) {
            if (rp_config_settings[i].scope != RP_CONFIG_SCOPE_TOPIC)
                continue;
            fprintf(f, "%s = ", rp_config_settings[i].name);
            print_value(f, &rp_config_settings[i], &cfg->topics[t].values);
            fputc('\n', f);
        }
    }
}

void
rp_config_help(void *out)
{
    static const char *const placeholder[] = {
        [RP_CONFIG_KIND_STRING] = "TEXT", [RP_CONFIG_KIND_INT] = "N",
        [RP_CONFIG_KIND_SIZE] = "SIZE",   [RP_CONFIG_KIND_DURATION] = "DURATION",
        [RP_CONFIG_KIND_BOOL] = "[BOOL]", [RP_CONFIG_KIND_ENUM] = "CHOICE",
        [RP_CONFIG_KIND_LIST] = "LIST",   [RP_CONFIG_KIND_SECRET] = "SECRET",
    };
    FILE *f = out;
    char flag[RP_CONFIG_NAME_CAP], env[RP_CONFIG_NAME_CAP + 16], range[RP_CONFIG_CHOICES_CAP];

    rp_config_setting_init();
    fputs("Settings (defaults < config file < environment < flags). Sizes take k, m, g;\n"
          "durations take ms, s, m, h (a bare number is seconds).\n",
          f);
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++) {
        const struct rp_config_setting *s = &rp_config_settings[i];
        rp_config_setting_flag_name(s, flag, sizeof(flag));
        rp_config_setting_env_name(s, env, sizeof(env));
        format_range(s, range, sizeof(range));
        fprintf(f, "\n  --%s %s\n      %s\n      env %s; default ", flag, placeholder[s->kind],
                s->help, env);
        if (s->kind == RP_CONFIG_KIND_STRING || s->kind == RP_CONFIG_KIND_SECRET ||
            s->kind == RP_CONFIG_KIND_LIST)
            print_quoted(f, s->def);
        else
            fputs(s->def, f);
        if (s->kind == RP_CONFIG_KIND_ENUM)
            fprintf(f, "; one of %s", range);
        else if (s->kind == RP_CONFIG_KIND_INT || s->kind == RP_CONFIG_KIND_SIZE ||
                 s->kind == RP_CONFIG_KIND_DURATION)
            fprintf(f, "; %s", range);
        fprintf(f, "%s%s\n", s->reload ? "; reloadable" : "; needs a restart",
                s->scope == RP_CONFIG_SCOPE_TOPIC ? "; per [topic]" : "");
    }
}

/* ---- reload ---- */

static bool
value_equal(const struct rp_config_values *a, const struct rp_config_values *b,
            const struct rp_config_setting *s)
{
    const void *x = cfield(a, s), *y = cfield(b, s);
    switch (s->kind) {
    case RP_CONFIG_KIND_STRING:
    case RP_CONFIG_KIND_SECRET: {
        const char *p = *(char *const *)x, *q = *(char *const *)y;
        return strcmp(p ? p : "", q ? q : "") == 0;
    }
    case RP_CONFIG_KIND_LIST: {
        const struct rp_config_list *l = x, *m = y;
        if (l->n != m->n)
            return false;
        for (size_t i = 0; i < l->n; i++)
            if (strcmp(l->items[i], m->items[i]) != 0)
                return false;
        return true;
    }
    case RP_CONFIG_KIND_INT:
    case RP_CONFIG_KIND_SIZE:
    case RP_CONFIG_KIND_DURATION:
        return *(const int64_t *)x == *(const int64_t *)y;
    case RP_CONFIG_KIND_BOOL:
        return *(const bool *)x == *(const bool *)y;
    case RP_CONFIG_KIND_ENUM:
        return *(const int *)x == *(const int *)y;
    }
    return true;
}

size_t
rp_config_keep_restart_settings(struct rp_config *next, const struct rp_config *running,
                                char *changed, size_t cap)
{
    size_t n = 0, used = 0;
    if (cap)
        changed[0] = '\0';
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++) {
        const struct rp_config_setting *s = &rp_config_settings[i];
        if (s->reload || value_equal(&next->v, &running->v, s))
            continue;
        struct rp_config_values tmp;
        values_copy(&tmp, &running->v);
        value_move(&next->v, &tmp, s); /* takes the running value */
        values_fini(&tmp);
        if (used < cap) {
            int w = snprintf(changed + used, cap - used, "%s%s", n ? ", " : "", s->name);
            if (w > 0)
                used += (size_t)w;
        }
        n++;
    }
    return n;
}
