/* SPDX-License-Identifier: MIT */
#include "config/config_file.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/diag.h"
#include "config/config_value.h"
#include "core/pattern.h"

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
parse_quoted(struct rp_config_loader *ld, const char *where, const char **pp, const char *end,
             char **out)
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

/* Makes the section for <pattern> current, continuing an earlier one with that pattern
 * (found by hash: a scan of the earlier sections made many sections cost their square). */
static void
open_section(struct rp_config_loader *ld, const char *pattern)
{
    struct rp_config *cfg = ld->cfg;

    uintptr_t known = (uintptr_t)rp_hashmap_get(&ld->sections, pattern, strlen(pattern));
    if (known) {
        ld->section = (long)(known - 1);
        return;
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
    /* The key is the section's own copy of the pattern, which lives as long as the config. */
    rp_hashmap_put(&ld->sections, t->pattern, strlen(t->pattern), (void *)(uintptr_t)cfg->n_topics);
}

int
rp_config_file_section(struct rp_config_loader *ld, const char *where, const char *pattern)
{
    const char *why = rp_config_has_control_char(pattern)
                          ? "contains a control character"
                          : rp_pattern_check(pattern, strlen(pattern));
    if (why) {
        rp_diag_set(ld->diag,
                    "%s: [topic \"%.*s\"]: invalid pattern: %s (allowed: a topic name whose "
                    "levels may be + or, last, #)",
                    where, RP_CONFIG_SHOWN_VALUE_CAP, pattern, why);
        return -EINVAL;
    }
    open_section(ld, pattern);
    return 0;
}

static int
parse_section(struct rp_config_loader *ld, const char *p, const char *end)
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
    if (rp_config_file_section(ld, where, pattern) != 0)
        goto fail;
    free(pattern);
    return 0;

fail:
    free(pattern);
    return -EINVAL;
}

int
rp_config_file_set(struct rp_config_loader *ld, const char *where,
                   const struct rp_config_setting *s, const char *text)
{
    char what[RP_CONFIG_WHAT_CAP];

    if (ld->section >= 0 && s->scope != RP_CONFIG_SCOPE_TOPIC) {
        list_topic_settings(what, sizeof(what));
        rp_diag_set(ld->diag,
                    "%s: a global setting cannot be set in a [topic] section; move it above the "
                    "first section (allowed here: %s)",
                    where, what);
        return -EINVAL;
    }
    if (ld->section < 0)
        return rp_config_value_apply(ld->diag, where, s, text, &ld->cfg->v);
    int err = rp_config_value_apply(ld->diag, where, s, text, &ld->cfg->topics[ld->section].values);
    if (!err)
        ld->masks[ld->section].set[s - rp_config_settings] = true;
    return err;
}

static bool
is_key_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

static int
parse_setting_line(struct rp_config_loader *ld, const char *p, const char *end)
{
    char where[RP_CONFIG_WHERE_CAP];
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
    err = rp_config_file_set(ld, where, s, value);
out:
    free(value);
    return err;
}

int
rp_config_file_parse(struct rp_config_loader *ld, const char *text, size_t len)
{
    const char *p = text, *end = text + len;

    if (len > RP_CONFIG_FILE_CAP) {
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
