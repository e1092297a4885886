/* SPDX-License-Identifier: MIT */
/*
 * Snapshots: a load lays the file, the environment and the flags over the defaults, in that
 * order, then gives each [topic] section the final globals under its own keys. Also the
 * look-ups on a snapshot and what a reload keeps from the running one. The table, values,
 * the file syntax and the dump live in config_setting.c, config_value.c, config_file.c and
 * config_dump.c.
 */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/diag.h"
#include "config/config_file.h"
#include "config/config_setting.h"
#include "config/config_toml.h"
#include "config/config_value.h"
#include "core/pattern.h"

static int
apply_env(struct rp_config_loader *ld, char *const *envp)
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
apply_flags(struct rp_config_loader *ld, int argc, char *const *argv)
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

/*
 * A [topic] section shares the globals' strings and lists instead of copying them (a copy
 * per section made a file with a long cors_origins and thousands of sections cost
 * sections x origins: 15 s and 3.3 GB), so it owns nothing but numbers, bools and enums:
 * a TOPIC-scope setting may be nothing else.
 */
#define OWNS_STRING 1
#define OWNS_SECRET 1
#define OWNS_LIST 1
#define OWNS_INT 0
#define OWNS_SIZE 0
#define OWNS_DURATION 0
#define OWNS_BOOL 0
#define OWNS_ENUM 0
#define IS_TOPIC_TOPIC 1
#define IS_TOPIC_GLOBAL 0
#define RP_SETTING(name, type, def, min, max, choices, scope, reload, help)                        \
    _Static_assert(!(IS_TOPIC_##scope && OWNS_##type),                                             \
                   #name ": a [topic] setting must be a number, a bool or an enum");
#include "config/settings.def"
#undef RP_SETTING

/* Gives every [topic] section the final globals, with its own keys on top: a copy of the
 * numbers, the globals' strings and lists borrowed. Linear in the sections. */
static void
finish_sections(struct rp_config_loader *ld)
{
    struct rp_config *cfg = ld->cfg;

    for (size_t t = 0; t < cfg->n_topics; t++) {
        struct rp_config_values merged = cfg->v;
        for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++)
            if (ld->masks[t].set[i])
                rp_config_value_share(&merged, &cfg->topics[t].values, &rp_config_settings[i]);
        cfg->topics[t].values = merged;
    }
}

/* Settings each valid alone that make no sense together. */
/* A mesh address nng can dial or listen on: tcp://HOST:PORT or ipc://PATH. */
static bool
mesh_address_ok(const char *a)
{
    if (strncmp(a, "ipc://", 6) == 0)
        return a[6] != '\0';
    if (strncmp(a, "tcp://", 6) != 0)
        return false;
    const char *colon = strrchr(a + 6, ':');
    if (!colon || colon == a + 6)
        return false;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return colon[1] && !*end && port >= 1 && port <= 65535;
}

static int
check_mesh(const struct rp_config_values *v, struct rp_diag *diag)
{
    char *end;
    errno = 0;
    double fpr = strtod(v->bloom_filter_fpr, &end);
    if (errno || end == v->bloom_filter_fpr || *end || !(fpr >= 0.000001 && fpr <= 0.5)) {
        rp_diag_set(diag, "bloom_filter_fpr: \"%s\" is not a decimal between 0.000001 and 0.5",
                    v->bloom_filter_fpr);
        return -EINVAL;
    }
    const struct rp_config_list *lists[2] = {&v->nng_listen_addresses, &v->nng_peer_addresses};
    const char *names[2] = {"nng_listen_addresses", "nng_peer_addresses"};
    for (size_t l = 0; l < 2; l++) {
        for (size_t i = 0; i < lists[l]->n; i++) {
            if (!mesh_address_ok(lists[l]->items[i])) {
                rp_diag_set(diag, "%s: \"%s\" is neither tcp://HOST:PORT nor ipc:///path", names[l],
                            lists[l]->items[i]);
                return -EINVAL;
            }
        }
    }
    return 0;
}

static int
check_combinations(const struct rp_config_values *v, struct rp_diag *diag)
{
    int err = check_mesh(v, diag);
    if (err)
        return err;
    if (v->cors_credentials) {
        for (size_t i = 0; i < v->cors_origins.n; i++) {
            if (strcmp(v->cors_origins.items[i], "*") == 0) {
                rp_diag_set(diag, "cors_origins: \"*\" cannot be combined with "
                                  "cors_credentials = true (browsers refuse credentials for "
                                  "any origin, and echoing every Origin would let any site "
                                  "read with the user's cookies); list the origins instead");
                return -EINVAL;
            }
        }
    }
    return 0;
}

static int
load(const char *text, size_t len, const char *name, const char *path, char *const *envp, int argc,
     char *const *argv, struct rp_config **out, struct rp_diag *diag)
{
    struct rp_config_loader ld = {.section = -1, .diag = diag, .name = name ? name : "<string>"};
    int err;

    rp_config_setting_init();
    rp_diag_clear(diag);
    *out = NULL;
    ld.cfg = rp_xcalloc(1, sizeof(*ld.cfg));
    rp_config_values_set_defaults(&ld.cfg->v);
    /* Sections hold only the keys they name until finish_sections(). */
    if (text && rp_config_toml_named(ld.name))
        err = rp_config_toml_parse(&ld, text, len);
    else
        err = text ? rp_config_file_parse(&ld, text, len) : 0;
    if (err)
        goto fail;
    err = apply_env(&ld, envp);
    if (err)
        goto fail;
    err = apply_flags(&ld, argc, argv);
    if (err)
        goto fail;
    finish_sections(&ld);
    err = check_combinations(&ld.cfg->v, diag);
    if (err)
        goto fail;
    if (path)
        ld.cfg->file = rp_xstrdup(path);
    free(ld.masks);
    rp_hashmap_fini(&ld.sections);
    *out = ld.cfg;
    return 0;

fail:
    free(ld.masks);
    rp_hashmap_fini(&ld.sections);
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
        text = rp_xmalloc((size_t)RP_CONFIG_FILE_CAP + 1);
        len = fread(text, 1, (size_t)RP_CONFIG_FILE_CAP + 1, f);
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
    for (size_t i = 0; i < cfg->n_topics; i++)
        free(cfg->topics[i].pattern); /* their values own nothing (finish_sections) */
    free(cfg->topics);
    for (size_t i = 0; i < cfg->n_notices; i++)
        free(cfg->notices[i]);
    free(cfg->notices);
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
        rp_config_value_copy(&next->v, &running->v, s);
        /* The sections borrowed the value just freed: they share the new one. */
        for (size_t t = 0; s->scope == RP_CONFIG_SCOPE_GLOBAL && t < next->n_topics; t++)
            rp_config_value_share(&next->topics[t].values, &next->v, s);
        if (used < cap) {
            int w = snprintf(changed + used, cap - used, "%s%s", n ? ", " : "", s->name);
            if (w > 0)
                used += (size_t)w;
        }
        n++;
    }
    return n;
}

const char *
rp_config_path_arg(int argc, char *const *argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            return argv[i + 1];
        if (strncmp(argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
    }
    /* The documented RevenProx reads this file by default; deployments rely on it. */
    return access(RP_CONFIG_DEFAULT_PATH, F_OK) == 0 ? RP_CONFIG_DEFAULT_PATH : NULL;
}
