/* SPDX-License-Identifier: MIT */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/diag.h"
#include "config/config_setting.h"
#include "config/config_value.h"
#include "core/pattern.h"

enum {
    FILE_CAP = 1024 * 1024, /* largest config file accepted */
};

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
    while (p < end && rp_config_is_blank(*p))
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
    char where[RP_CONFIG_WHERE_CAP];
    const char *word;
    char *pattern = NULL;

    rp_config_text_set(where, sizeof(where), "%s:%u", ld->name, ld->line);
    p++;
    while (p < end && rp_config_is_blank(*p))
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
    while (p < end && rp_config_is_blank(*p))
        p++;
    if (p == end || *p != '"') {
        rp_diag_set(ld->diag, "%s: the [topic] pattern must be quoted (allowed: %s)", where, form);
        return -EINVAL;
    }
    if (parse_quoted(ld, where, &p, end, &pattern) != 0)
        return -EINVAL;
    while (p < end && rp_config_is_blank(*p))
        p++;
    if (p == end || *p != ']' || !rest_is_empty(p + 1, end)) {
        rp_diag_set(ld->diag, "%s: malformed section header (allowed: %s)", where, form);
        goto fail;
    }
    const char *why = rp_config_has_control_char(pattern)
                          ? "contains a control character"
                          : rp_pattern_check(pattern, strlen(pattern));
    if (why) {
        rp_diag_set(ld->diag,
                    "%s: [topic \"%.*s\"]: invalid pattern: %s (allowed: a topic name whose "
                    "levels may be + or, last, #)",
                    where, RP_CONFIG_SHOWN_VALUE_CAP, pattern, why);
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
    char where[RP_CONFIG_WHERE_CAP], what[RP_CONFIG_WHAT_CAP];
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
    rp_config_text_set(where, sizeof(where), "%s:%u: %.*s", ld->name, ld->line,
                       (int)(key_len < RP_CONFIG_NAME_CAP ? key_len : RP_CONFIG_NAME_CAP), key);
    while (p < end && rp_config_is_blank(*p))
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
    while (p < end && rp_config_is_blank(*p))
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
        while (stop < end && !(*stop == '#' && rp_config_is_blank(stop[-1])))
            stop++;
        while (stop > p && rp_config_is_blank(stop[-1]))
            stop--;
        value = rp_xstrndup(p, (size_t)(stop - p));
    }
    if (ld->section < 0) {
        err = rp_config_value_apply(ld->diag, where, s, value, &ld->cfg->v);
    } else {
        err =
            rp_config_value_apply(ld->diag, where, s, value, &ld->cfg->topics[ld->section].values);
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
        while (p < stop && rp_config_is_blank(*p))
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
    char where[RP_CONFIG_WHERE_CAP], env[RP_CONFIG_NAME_CAP + sizeof(prefix)];

    for (; envp && *envp; envp++) {
        const char *entry = *envp;
        const char *eq = strchr(entry, '=');
        if (!eq || strncmp(entry, prefix, sizeof(prefix) - 1) != 0)
            continue;
        const char *key = entry + sizeof(prefix) - 1;
        size_t key_len = (size_t)(eq - key);
        if (key_len == 6 && strncmp(key, "CONFIG", 6) == 0)
            continue;
        int shown =
            eq - entry < RP_CONFIG_SHOWN_VALUE_CAP ? (int)(eq - entry) : RP_CONFIG_SHOWN_VALUE_CAP;
        rp_config_text_set(where, sizeof(where), "environment %.*s", shown, entry);
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
        if (rp_config_value_apply(ld->diag, where, s, eq + 1, &ld->cfg->v) != 0)
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
    char where[RP_CONFIG_WHERE_CAP], flag[RP_CONFIG_NAME_CAP];

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!is_flag(arg)) {
            rp_diag_set(ld->diag,
                        "argument `%.*s`: not a flag (allowed: --name value or --name=value)",
                        RP_CONFIG_SHOWN_VALUE_CAP, arg);
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
        rp_config_text_set(where, sizeof(where), "flag --%.*s",
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
            char allowed[RP_CONFIG_ALLOWED_CAP];
            rp_config_format_allowed(s, allowed, sizeof(allowed));
            rp_diag_set(ld->diag, "%s: missing value (allowed: %s)", where, allowed);
            return -EINVAL;
        }
        if (rp_config_value_apply(ld->diag, where, s, value, &ld->cfg->v) != 0)
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
        rp_config_values_copy(&merged, &cfg->v);
        for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++)
            if (ld->masks[t].set[i])
                rp_config_value_move(&merged, &cfg->topics[t].values, &rp_config_settings[i]);
        rp_config_values_fini(&cfg->topics[t].values);
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
    rp_config_values_set_defaults(&ld.cfg->v);
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
    rp_config_values_fini(&cfg->v);
    for (size_t i = 0; i < cfg->n_topics; i++) {
        free(cfg->topics[i].pattern);
        rp_config_values_fini(&cfg->topics[i].values);
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
    const void *p = rp_config_field(v, s);
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
        rp_config_format_size(*(const int64_t *)p, buf, sizeof(buf));
        fputs(buf, f);
        break;
    case RP_CONFIG_KIND_DURATION:
        rp_config_format_duration(*(const int64_t *)p, buf, sizeof(buf));
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
        rp_config_format_range(s, range, sizeof(range));
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

size_t
rp_config_keep_restart_settings(struct rp_config *next, const struct rp_config *running,
                                char *changed, size_t cap)
{
    size_t n = 0, used = 0;
    if (cap)
        changed[0] = '\0';
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++) {
        const struct rp_config_setting *s = &rp_config_settings[i];
        if (s->reload || rp_config_value_equal(&next->v, &running->v, s))
            continue;
        struct rp_config_values tmp;
        rp_config_values_copy(&tmp, &running->v);
        rp_config_value_move(&next->v, &tmp, s); /* takes the running value */
        rp_config_values_fini(&tmp);
        if (used < cap) {
            int w = snprintf(changed + used, cap - used, "%s%s", n ? ", " : "", s->name);
            if (w > 0)
                used += (size_t)w;
        }
        n++;
    }
    return n;
}
