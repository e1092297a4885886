/* SPDX-License-Identifier: MIT */
#ifndef RP_CONFIG_CONFIG_SETTING_H
#define RP_CONFIG_CONFIG_SETTING_H
/*
 * The settings table, expanded once from settings.def, and what is looked up in it: a
 * setting by its key, the setting nearest to a misspelt key, a setting's flag and
 * environment spellings, the choices of ENUM settings. Internal to config/: the parser, the
 * overlays, dump and help only ever walk this table, so a new setting needs one line in
 * settings.def and nothing else. Not responsible for values. The table is immutable and the
 * choices are split once (rp_config_setting_init): any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

enum rp_config_kind {
    RP_CONFIG_KIND_STRING = 0,
    RP_CONFIG_KIND_INT,
    RP_CONFIG_KIND_SIZE,
    RP_CONFIG_KIND_DURATION,
    RP_CONFIG_KIND_BOOL,
    RP_CONFIG_KIND_ENUM,
    RP_CONFIG_KIND_LIST,
    RP_CONFIG_KIND_SECRET, /* a STRING that `config dump` masks */
};

enum rp_config_scope {
    RP_CONFIG_SCOPE_GLOBAL = 0,
    RP_CONFIG_SCOPE_TOPIC,
};

/* One row of settings.def. */
struct rp_config_setting {
    const char *name;
    enum rp_config_kind kind;
    const char *def;
    int64_t min;
    int64_t max;
    const char *choices; /* '|'-separated, ENUM only */
    enum rp_config_scope scope;
    bool reload;
    const char *help;
    size_t offset; /* of the field in struct rp_config_values */
};

/* How many rows settings.def has: one `+ 1` per row. */
enum {
    RP_CONFIG_N_SETTINGS = 0
#define RP_SETTING(name, type, def, min, max, choices, scope, reload, help) +1
#include "config/settings.def"
#undef RP_SETTING
};

enum {
    RP_CONFIG_NAME_CAP = 64,     /* longest key considered for lookup and suggestions */
    RP_CONFIG_CHOICES_CAP = 256, /* the choices of one ENUM setting, as text */
};

/* The table, in settings.def order. */
extern const struct rp_config_setting rp_config_settings[RP_CONFIG_N_SETTINGS];

/*
 * Splits the choices of every ENUM setting, once per process (later calls return at once);
 * aborts when settings.def and the generated enums disagree. Call it before any
 * rp_config_setting_*choice* function. Any thread.
 */
void rp_config_setting_init(void);
/* How many choices ENUM setting <s> has. */
int rp_config_setting_n_choices(const struct rp_config_setting *s);
/* The text of choice <i> (0 <= <i> < its count) of ENUM setting <s>; static. */
const char *rp_config_setting_choice(const struct rp_config_setting *s, int i);
/*
 * The setting whose name is the <len> bytes of <key>, with `-` read as `_` and, if <fold>,
 * case-insensitively; NULL when there is none.
 */
const struct rp_config_setting *rp_config_setting_find(const char *key, size_t len, bool fold);
/* The setting nearest to the unknown <key> (<len> bytes), or NULL when none is near. */
const struct rp_config_setting *rp_config_setting_suggest(const char *key, size_t len);
/* Writes the flag spelling of <s> ("max-body") to <buf> (<cap> bytes, truncated). */
void rp_config_setting_flag_name(const struct rp_config_setting *s, char *buf, size_t cap);
/* Writes the environment spelling of <s> ("REVENPROX_MAX_BODY") to <buf> (<cap> bytes). */
void rp_config_setting_env_name(const struct rp_config_setting *s, char *buf, size_t cap);

#endif
