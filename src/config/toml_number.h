/* SPDX-License-Identifier: MIT */
#ifndef RP_CONFIG_TOML_NUMBER_H
#define RP_CONFIG_TOML_NUMBER_H
/*
 * The bare words of TOML values: booleans, integers (decimal, 0x, 0o, 0b, with `_` between
 * digits) and floats (fraction, exponent, inf, nan), checked as strictly as the
 * specification asks (no leading zeros, no sign on a prefixed integer, no overflow). Split
 * from toml.c, which finds the word. Not responsible for strings or dates. Pure: any thread.
 */
#include <stdbool.h>
#include <stddef.h>

#include "config/toml.h"

enum {
    RP_TOML_NUMBER_CAP = 128, /* longest number accepted, in bytes */
};

/*
 * Parses the <n> bytes at <s> (a word of letters, digits, `_`, `-`, `+` and `.`) into <out>.
 * <colon_follows>: a `:` comes right after the word (a time of day). 0, or -EINVAL with
 * *<why> a static message.
 */
int rp_toml_number_parse(const char *s, size_t n, bool colon_follows, struct rp_toml_value *out,
                         const char **why);

#endif
