/* SPDX-License-Identifier: MIT */
#ifndef RP_CONFIG_CONFIG_TOML_H
#define RP_CONFIG_CONFIG_TOML_H
/*
 * A TOML config file: the documented RevenProx's keys mapped onto our settings (the one
 * mapping table, with its unit conversions, lives in config_toml.c), and our own settings by
 * their names under [revenprox], with [revenprox.topic."PATTERN"] sections. A documented key
 * this build cannot honour becomes a notice on the config (logged once at start), not an
 * error. Internal to config/. Not responsible for the environment or flags, which apply
 * after it. One load on one thread.
 */
#include <stdbool.h>
#include <stddef.h>

struct rp_config_loader;

/* True when the file <name> is to be read as TOML: its name ends in ".toml". */
bool rp_config_toml_named(const char *name);
/*
 * Parses the <len> bytes at <text> as TOML and applies them to <ld>'s config, adding a
 * notice to it for each documented key that is not honoured. 0, or -EINVAL with <ld>'s
 * diag filled ("name:line:column: what is wrong"); on failure the config is partly filled,
 * for the caller to free.
 */
int rp_config_toml_parse(struct rp_config_loader *ld, const char *text, size_t len);

#endif
