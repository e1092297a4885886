/* SPDX-License-Identifier: MIT */
#ifndef RP_CONFIG_CONFIG_H
#define RP_CONFIG_CONFIG_H
/*
 * The effective configuration: defaults < config file < REVENPROX_* environment < flags,
 * all derived from settings.def. A loaded config is an immutable snapshot: reload builds
 * a new one. Errors fill a struct rp_diag with "file:line: key: what is wrong and what is
 * allowed". Not responsible for applying settings. Load from one thread; read from any.
 *
 * File syntax: `key = value` lines, blank lines and `#` comments (a whole line, or after
 * whitespace at the end of a line). Keys may spell `_` as `-`. A value may be double-quoted;
 * inside quotes `#` is literal and `\"`, `\\` are the only escapes. A `[topic "PATTERN"]`
 * header starts a section whose keys (TOPIC-scope settings only) apply to topics matching
 * PATTERN; a repeated pattern continues the earlier section. There is no way back to the
 * global scope after the first section, and within one scope a repeated key's last value wins.
 * A file whose name ends in `.toml` is TOML instead (config/config_toml.h): the documented
 * RevenProx's keys through one mapping table, ours under [revenprox].
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "config/settings_enums.h"

/*
 * The C type of each setting's field. An ENUM setting's field is its own enum, whose
 * constants scripts/settings_enums.py generates from the setting's choices in settings.def
 * (build/src/config/settings_enums.h): settings.def stays the one source of truth, so code
 * compares `v->log_format == RP_CFG_LOG_FORMAT_JSON`, never a bare index. A constant's value
 * is its choice's index, as rp_config_choice takes it.
 */
#define RP_SETTING_CTYPE_STRING(name) char *
#define RP_SETTING_CTYPE_SECRET(name) char * /* a STRING masked in `config dump` */
#define RP_SETTING_CTYPE_INT(name) int64_t
#define RP_SETTING_CTYPE_SIZE(name) int64_t
#define RP_SETTING_CTYPE_DURATION(name) int64_t /* milliseconds */
#define RP_SETTING_CTYPE_BOOL(name) bool
#define RP_SETTING_CTYPE_ENUM(name) enum rp_cfg_##name /* RP_CFG_<NAME>_<CHOICE> */
#define RP_SETTING_CTYPE_LIST(name) struct rp_config_list

struct rp_config_list {
    char **items;
    size_t n;
};

struct rp_config_values {
#define RP_SETTING(name, type, def, min, max, choices, scope, reload, help)                        \
    RP_SETTING_CTYPE_##type(name) name;
#include "config/settings.def"
#undef RP_SETTING
};

/* One [topic "pattern"] section: the TOPIC-scope settings it sets, over the globals. */
struct rp_config_topic {
    char *pattern;
    /* The globals with this section's keys applied. Its strings and lists are the globals'
     * own (shared, not copied: a section costs the same whatever the lists hold); TOPIC-scope
     * settings are never strings or lists. */
    struct rp_config_values values;
};

struct rp_config {
    struct rp_config_values v;
    struct rp_config_topic *topics; /* in file order; the first matching pattern wins */
    size_t n_topics;
    char *file; /* the config file it was loaded from, or NULL */
    /* Keys of a TOML file that were read but are not honoured, one line each ("file:line:
     * [nng] peer_addresses: not honoured: ..."), for the server to log once at start. */
    char **notices;
    size_t n_notices;
};

/*
 * Builds a config from the defaults, then the file <path> (NULL for none), then the
 * environment <envp> (NULL-terminated "NAME=value" strings, NULL for none), then the
 * flags <argv>[0..argc) (`--name value` or `--name=value`; `--config` is skipped, as it
 * names the file). 0 and *<out> owned by the caller, or -EINVAL and <diag> filled.
 * Environment: REVENPROX_<NAME> in upper case; an unknown REVENPROX_* variable is an error,
 * except REVENPROX_CONFIG. Flags: <argv> holds no program name; every element must be a
 * flag or a flag's value. A flag's value must not start with `--` unless given as
 * `--name=--value`. A BOOL flag alone (`--cors-credentials`) means true when it is the last
 * element or the next one starts with `--`; otherwise the next element is its value.
 * Every [topic] section starts from the final globals (after environment and flags) and
 * overrides only the keys it names. Files larger than 1 MiB are refused.
 */
int rp_config_load(const char *path, char *const *envp, int argc, char *const *argv,
                   struct rp_config **out, struct rp_diag *diag);
/*
 * As rp_config_load, but the file's text is the <len> bytes at <text> (need not be
 * NUL-terminated), named <name> in messages (NULL: "<string>"); cfg->file stays NULL.
 */
int rp_config_load_string(const char *text, size_t len, const char *name, char *const *envp,
                          int argc, char *const *argv, struct rp_config **out,
                          struct rp_diag *diag);
/* Read when no --config is given and it exists, relative to the working directory. */
#define RP_CONFIG_DEFAULT_PATH "config/proxy.toml"
/*
 * The FILE of `--config FILE` or `--config=FILE` among the flags <argv>[0..argc); else
 * RP_CONFIG_DEFAULT_PATH when that file exists; else NULL. A file whose name ends in
 * `.toml` is read as TOML (docs/configuration.md), any other in our own syntax.
 */
const char *rp_config_path_arg(int argc, char *const *argv);
/* Frees <cfg> and every string it owns; NULL is allowed. */
void rp_config_free(struct rp_config *cfg);
/*
 * The values for topic <name> (<len> bytes): its first matching [topic] section, else the
 * globals. Borrowed, valid until rp_config_free(<cfg>).
 */
const struct rp_config_values *rp_config_for_topic(const struct rp_config *cfg, const char *name,
                                                   size_t len);
/*
 * The text of choice <index> of ENUM setting <setting> ("disconnect", ...), static; NULL
 * when <setting> is not an ENUM setting or <index> is out of range. Any thread.
 */
const char *rp_config_choice(const char *setting, int index);
/*
 * Reload: in <next> (a freshly loaded config), puts back the <running> value of every
 * setting that cannot change without a restart and differs. Returns how many, their names
 * comma-separated in <changed> (<cap> bytes, truncated). [topic] sections are all
 * reloadable.
 */
size_t rp_config_keep_restart_settings(struct rp_config *next, const struct rp_config *running,
                                       char *changed, size_t cap);
/* Writes the effective configuration in config-file syntax to <out> (a FILE *). */
void rp_config_dump(const struct rp_config *cfg, void *out);
/* Writes help for every setting (flag, environment variable, default, meaning) to <out>. */
void rp_config_help(void *out);

#endif
