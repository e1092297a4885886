/* SPDX-License-Identifier: MIT */
#ifndef RP_CONFIG_CONFIG_VALUE_H
#define RP_CONFIG_CONFIG_VALUE_H
/*
 * The values of settings: text to value (and, when it does not parse, the message that says
 * what is wrong and what is allowed), value to text (sizes and durations in their largest
 * exact unit, ranges and choices), and the fields of struct rp_config_values by setting:
 * store, copy, share, compare, free. Internal to config/. Not responsible for where a text
 * comes from (file, environment or flag). No state: any thread, once rp_config_setting_init
 * has split the choices.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "config/config_setting.h"

enum {
    RP_CONFIG_WHAT_CAP = 320,       /* "what is wrong" part of a message */
    RP_CONFIG_WHERE_CAP = 160,      /* "file:line: key" part of a message */
    RP_CONFIG_SHOWN_VALUE_CAP = 80, /* longest piece of a bad value quoted back to the user */
    RP_CONFIG_ALLOWED_CAP = RP_CONFIG_CHOICES_CAP + 96, /* "allowed: ..." part of a message */
};

/* A parsed value before it is stored: one member per kind. */
union rp_config_value {
    char *str;
    int64_t i;
    bool b;
    int e;
    struct rp_config_list list;
};

/* Writes the formatted text to <buf> (<cap> bytes), truncated. */
void rp_config_text_set(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes <n> bytes to <buf> as "16m", "8k", "3g" when exact, else as plain bytes. */
void rp_config_format_size(int64_t n, char *buf, size_t cap);
/* Writes <ms> milliseconds to <buf> in the largest unit that is exact: "1h", "15s", "250ms". */
void rp_config_format_duration(int64_t ms, char *buf, size_t cap);
/* Writes the range or the choices of <s> to <buf>, as help and messages show them. */
void rp_config_format_range(const struct rp_config_setting *s, char *buf, size_t cap);
/* Writes what a value of <s> may be to <buf>, for the "(allowed: ...)" part of a message. */
void rp_config_format_allowed(const struct rp_config_setting *s, char *buf, size_t cap);

/* True for the blanks that may surround keys and values: space and tab. */
bool rp_config_is_blank(char c);
/* True when <s> holds a control character other than tab. */
bool rp_config_has_control_char(const char *s);

/*
 * Parses <text> as a value of <s> into <out> (owned by the caller after 0). On failure
 * returns -EINVAL and writes what is wrong, without the allowed values, to <what>
 * (<what_cap> bytes).
 */
int rp_config_value_parse(const struct rp_config_setting *s, const char *text,
                          union rp_config_value *out, char *what, size_t what_cap);
/*
 * Parses <text> for <s> and stores it in <v>: 0, or -EINVAL with <diag> filled as
 * "<where>: what is wrong (allowed: ...)".
 */
int rp_config_value_apply(struct rp_diag *diag, const char *where,
                          const struct rp_config_setting *s, const char *text,
                          struct rp_config_values *v);
/* The field of <s> in <v>; borrowed from <v>. */
const void *rp_config_field(const struct rp_config_values *v, const struct rp_config_setting *s);
/* Replaces <dst>'s value of <s> with a deep copy of <src>'s, freeing what <dst> held. */
void rp_config_value_copy(struct rp_config_values *dst, const struct rp_config_values *src,
                          const struct rp_config_setting *s);
/* Gives <dst> <src>'s value of <s> without copying it: a string or list is then <src>'s,
 * borrowed (valid while <src> holds it; never freed through <dst>), and what <dst> held
 * is overwritten, not freed. */
void rp_config_value_share(struct rp_config_values *dst, const struct rp_config_values *src,
                           const struct rp_config_setting *s);
/* True when <a> and <b> hold the same value of <s> (a NULL string equals ""). */
bool rp_config_value_equal(const struct rp_config_values *a, const struct rp_config_values *b,
                           const struct rp_config_setting *s);
/* Sets every field of <v> (not freed first) to its default from settings.def. */
void rp_config_values_set_defaults(struct rp_config_values *v);
/* Frees the strings and lists <v> owns and leaves them empty; <v> itself is the caller's. */
void rp_config_values_fini(struct rp_config_values *v);

#endif
