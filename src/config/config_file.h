/* SPDX-License-Identifier: MIT */
#ifndef RP_CONFIG_CONFIG_FILE_H
#define RP_CONFIG_CONFIG_FILE_H
/*
 * The config-file parser: `key = value` lines, comments, quoted values and [topic "PATTERN"]
 * sections, in the syntax config/config.h describes. Each line is applied to the snapshot a
 * load is building. Internal to config/. Not responsible for defaults, the environment or
 * flags, nor for reading the file from disk. A loader belongs to one load on one thread.
 */
#include <stdbool.h>
#include <stddef.h>

#include "base/hashmap.h"
#include "config/config.h"
#include "config/config_setting.h"

enum {
    RP_CONFIG_FILE_CAP = 1024 * 1024, /* largest config file accepted, in bytes */
};

/* Which settings a [topic] section names, kept only while loading. */
struct rp_config_section_mask {
    bool set[RP_CONFIG_N_SETTINGS];
};

/* One load in progress; owned by the load, which frees <masks> and <sections> (zeroed is
 * empty). */
struct rp_config_loader {
    struct rp_config *cfg;
    struct rp_config_section_mask *masks; /* parallel to cfg->topics */
    struct rp_hashmap sections;           /* pattern -> index + 1 in cfg->topics */
    size_t topics_cap;
    const char *name; /* of the file, for messages */
    unsigned line;
    long section; /* index into cfg->topics, -1 in the global scope */
    struct rp_diag *diag;
};

/*
 * Parses the <len> bytes at <text> (need not be NUL-terminated) into <ld>'s config: global
 * keys into cfg->v, each [topic] section's keys into its own values, marked in <ld>'s
 * masks. 0, or -EINVAL with <ld>'s diag filled ("name:line: key: what is wrong (allowed:
 * ...)"); on failure the config is partly filled, for the caller to free.
 */
int rp_config_file_parse(struct rp_config_loader *ld, const char *text, size_t len);
/*
 * Makes the [topic] section of <pattern> current in <ld>, continuing an earlier one with the
 * same pattern; the TOML reader's way into sections. 0, or -EINVAL with <ld>'s diag filled
 * as "<where>: [topic "...."]: invalid pattern: ...". Set ld->section to -1 to return to
 * the global scope.
 */
int rp_config_file_section(struct rp_config_loader *ld, const char *where, const char *pattern);
/*
 * Applies the text <text> to setting <s> in <ld>'s current scope (the globals, or the
 * current section, where only TOPIC-scope settings are allowed). 0, or -EINVAL with <ld>'s
 * diag filled as "<where>: what is wrong (allowed: ...)".
 */
int rp_config_file_set(struct rp_config_loader *ld, const char *where,
                       const struct rp_config_setting *s, const char *text);

#endif
