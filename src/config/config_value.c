/* SPDX-License-Identifier: MIT */
#include "config/config_value.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/diag.h"

/* Units of SIZE (bytes) and DURATION (milliseconds) values. */
enum {
    KIB = 1024,
    MIB = 1024 * KIB,
    GIB = 1024 * MIB,
    MS_PER_S = 1000,
    MS_PER_M = 60 * MS_PER_S,
    MS_PER_H = 60 * MS_PER_M,
};

void
rp_config_text_set(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

void
rp_config_format_size(int64_t n, char *buf, size_t cap)
{
    if (n != 0 && n % GIB == 0)
        rp_config_text_set(buf, cap, "%" PRId64 "g", n / GIB);
    else if (n != 0 && n % MIB == 0)
        rp_config_text_set(buf, cap, "%" PRId64 "m", n / MIB);
    else if (n != 0 && n % KIB == 0)
        rp_config_text_set(buf, cap, "%" PRId64 "k", n / KIB);
    else
        rp_config_text_set(buf, cap, "%" PRId64, n);
}

void
rp_config_format_duration(int64_t ms, char *buf, size_t cap)
{
    if (ms != 0 && ms % MS_PER_H == 0)
        rp_config_text_set(buf, cap, "%" PRId64 "h", ms / MS_PER_H);
    else if (ms != 0 && ms % MS_PER_M == 0)
        rp_config_text_set(buf, cap, "%" PRId64 "m", ms / MS_PER_M);
    else if (ms % MS_PER_S == 0)
        rp_config_text_set(buf, cap, "%" PRId64 "s", ms / MS_PER_S);
    else
        rp_config_text_set(buf, cap, "%" PRId64 "ms", ms);
}

void
rp_config_format_range(const struct rp_config_setting *s, char *buf, size_t cap)
{
    char lo[32], hi[32];

    switch (s->kind) {
    case RP_CONFIG_KIND_INT:
        rp_config_text_set(buf, cap, "%" PRId64 " to %" PRId64, s->min, s->max);
        break;
    case RP_CONFIG_KIND_SIZE:
        rp_config_format_size(s->min, lo, sizeof(lo));
        rp_config_format_size(s->max, hi, sizeof(hi));
        rp_config_text_set(buf, cap, "%s to %s", lo, hi);
        break;
    case RP_CONFIG_KIND_DURATION:
        rp_config_format_duration(s->min, lo, sizeof(lo));
        rp_config_format_duration(s->max, hi, sizeof(hi));
        rp_config_text_set(buf, cap, "%s to %s", lo, hi);
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
        rp_config_text_set(buf, cap, "true, false, yes, no, on, off, 1, 0");
        break;
    case RP_CONFIG_KIND_LIST:
        rp_config_text_set(buf, cap, "comma-separated items, none empty");
        break;
    case RP_CONFIG_KIND_STRING:
    case RP_CONFIG_KIND_SECRET:
        rp_config_text_set(buf, cap, "text without control characters");
        break;
    }
}

void
rp_config_format_allowed(const struct rp_config_setting *s, char *buf, size_t cap)
{
    char range[RP_CONFIG_CHOICES_CAP];

    rp_config_format_range(s, range, sizeof(range));
    switch (s->kind) {
    case RP_CONFIG_KIND_INT:
        rp_config_text_set(buf, cap, "a whole number from %s", range);
        break;
    case RP_CONFIG_KIND_SIZE:
        rp_config_text_set(buf, cap, "a size from %s, in bytes or with suffix k, m, g", range);
        break;
    case RP_CONFIG_KIND_DURATION:
        rp_config_text_set(buf, cap,
                           "a duration from %s, with suffix ms, s, m, h; a bare number is seconds",
                           range);
        break;
    case RP_CONFIG_KIND_ENUM:
        rp_config_text_set(buf, cap, "one of %s", range);
        break;
    case RP_CONFIG_KIND_BOOL:
    case RP_CONFIG_KIND_LIST:
    case RP_CONFIG_KIND_STRING:
    case RP_CONFIG_KIND_SECRET:
        rp_config_text_set(buf, cap, "%s", range);
        break;
    }
}

bool
rp_config_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

bool
rp_config_has_control_char(const char *s)
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
    while (rp_config_is_blank(*p))
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
    size_t cap = 0;

    out->items = NULL;
    out->n = 0;
    while (rp_config_is_blank(*p))
        p++;
    if (*p == '\0')
        return 0;
    for (;;) {
        const char *start = p, *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        while (start < end && rp_config_is_blank(*start))
            start++;
        const char *stop = end;
        while (stop > start && rp_config_is_blank(stop[-1]))
            stop--;
        if (stop == start) {
            list_fini(out);
            return -EINVAL;
        }
        if (out->n == cap) { /* doubling: one item at a time made long lists quadratic */
            cap = cap ? 2 * cap : 8;
            out->items = rp_xrealloc(out->items, cap * sizeof(out->items[0]));
        }
        out->items[out->n++] = rp_xstrndup(start, (size_t)(stop - start));
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

int
rp_config_value_parse(const struct rp_config_setting *s, const char *text,
                      union rp_config_value *out, char *what, size_t what_cap)
{
    int64_t n = 0;
    int err = 0;
    const int shown = RP_CONFIG_SHOWN_VALUE_CAP;

    if (rp_config_has_control_char(text)) {
        rp_config_text_set(what, what_cap, "the value contains a control character");
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
        rp_config_text_set(what, what_cap, "`%.*s` is not a boolean", shown, text);
        return -EINVAL;
    case RP_CONFIG_KIND_ENUM: {
        for (int i = 0; i < rp_config_setting_n_choices(s); i++) {
            if (same_word(text, rp_config_setting_choice(s, i))) {
                out->e = i;
                return 0;
            }
        }
        rp_config_text_set(what, what_cap, "`%.*s` is not a choice", shown, text);
        return -EINVAL;
    }
    case RP_CONFIG_KIND_LIST:
        if (parse_list(text, &out->list) == 0)
            return 0;
        rp_config_text_set(what, what_cap, "`%.*s` has an empty item", shown, text);
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
        rp_config_text_set(what, what_cap, "`%.*s` is too large", shown, text);
        return -EINVAL;
    }
    if (err) {
        static const char *const kind_word[] = {
            [RP_CONFIG_KIND_INT] = "a whole number",
            [RP_CONFIG_KIND_SIZE] = "a size",
            [RP_CONFIG_KIND_DURATION] = "a duration",
        };
        rp_config_text_set(what, what_cap, "`%.*s` is not %s", shown, text, kind_word[s->kind]);
        return -EINVAL;
    }
    if (n < s->min || n > s->max) {
        rp_config_text_set(what, what_cap, "`%.*s` is out of range", shown, text);
        return -EINVAL;
    }
    out->i = n;
    return 0;
}

static void *
field(struct rp_config_values *v, const struct rp_config_setting *s)
{
    return (char *)v + s->offset;
}

const void *
rp_config_field(const struct rp_config_values *v, const struct rp_config_setting *s)
{
    return (const char *)v + s->offset;
}

/* Stores <val> as <s> in <v>, freeing what was there and taking ownership of <val>. */
static void
value_store(struct rp_config_values *v, const struct rp_config_setting *s,
            union rp_config_value *val)
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

void
rp_config_values_fini(struct rp_config_values *v)
{
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++) {
        const struct rp_config_setting *s = &rp_config_settings[i];
        if (s->kind == RP_CONFIG_KIND_STRING || s->kind == RP_CONFIG_KIND_SECRET)
            RP_FREE(*(char **)field(v, s));
        else if (s->kind == RP_CONFIG_KIND_LIST)
            list_fini(field(v, s));
    }
}

static void
list_copy(struct rp_config_list *to, const struct rp_config_list *from)
{
    to->n = from->n;
    to->items = NULL;
    if (from->n) {
        to->items = rp_xmalloc(from->n * sizeof(to->items[0]));
        for (size_t j = 0; j < from->n; j++)
            to->items[j] = rp_xstrdup(from->items[j]);
    }
}

void
rp_config_value_copy(struct rp_config_values *dst, const struct rp_config_values *src,
                     const struct rp_config_setting *s)
{
    union rp_config_value val;
    const void *f = rp_config_field(src, s);

    switch (s->kind) {
    case RP_CONFIG_KIND_STRING:
    case RP_CONFIG_KIND_SECRET:
        val.str = *(char *const *)f ? rp_xstrdup(*(char *const *)f) : NULL;
        break;
    case RP_CONFIG_KIND_LIST:
        list_copy(&val.list, f);
        break;
    case RP_CONFIG_KIND_INT:
    case RP_CONFIG_KIND_SIZE:
    case RP_CONFIG_KIND_DURATION:
        val.i = *(const int64_t *)f;
        break;
    case RP_CONFIG_KIND_BOOL:
        val.b = *(const bool *)f;
        break;
    case RP_CONFIG_KIND_ENUM:
        val.e = *(const int *)f;
        break;
    }
    value_store(dst, s, &val);
}

void
rp_config_value_share(struct rp_config_values *dst, const struct rp_config_values *src,
                      const struct rp_config_setting *s)
{
    size_t size = 0;
    switch (s->kind) {
    case RP_CONFIG_KIND_STRING:
    case RP_CONFIG_KIND_SECRET:
        size = sizeof(char *);
        break;
    case RP_CONFIG_KIND_LIST:
        size = sizeof(struct rp_config_list);
        break;
    case RP_CONFIG_KIND_INT:
    case RP_CONFIG_KIND_SIZE:
    case RP_CONFIG_KIND_DURATION:
        size = sizeof(int64_t);
        break;
    case RP_CONFIG_KIND_BOOL:
        size = sizeof(bool);
        break;
    case RP_CONFIG_KIND_ENUM:
        size = sizeof(int);
        break;
    }
    memcpy(field(dst, s), rp_config_field(src, s), size);
}

void
rp_config_values_set_defaults(struct rp_config_values *v)
{
    char what[RP_CONFIG_WHAT_CAP];

    memset(v, 0, sizeof(*v));
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++) {
        union rp_config_value val;
        /* A default that does not parse is a bug in settings.def, found by any test. */
        int err = rp_config_value_parse(&rp_config_settings[i], rp_config_settings[i].def, &val,
                                        what, sizeof(what));
        if (err)
            fprintf(stderr, "settings.def: %s: bad default: %s\n", rp_config_settings[i].name,
                    what);
        RP_ASSERT(err == 0);
        value_store(v, &rp_config_settings[i], &val);
    }
}

int
rp_config_value_apply(struct rp_diag *diag, const char *where, const struct rp_config_setting *s,
                      const char *text, struct rp_config_values *v)
{
    char what[RP_CONFIG_WHAT_CAP], allowed[RP_CONFIG_ALLOWED_CAP];
    union rp_config_value val;

    if (rp_config_value_parse(s, text, &val, what, sizeof(what)) != 0) {
        rp_config_format_allowed(s, allowed, sizeof(allowed));
        rp_diag_set(diag, "%s: %s (allowed: %s)", where, what, allowed);
        return -EINVAL;
    }
    value_store(v, s, &val);
    return 0;
}

bool
rp_config_value_equal(const struct rp_config_values *a, const struct rp_config_values *b,
                      const struct rp_config_setting *s)
{
    const void *x = rp_config_field(a, s), *y = rp_config_field(b, s);
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
