/* SPDX-License-Identifier: MIT */
#ifndef RP_CONFIG_TOML_H
#define RP_CONFIG_TOML_H
/*
 * A strict TOML 1.0 reader into a tree of tables, arrays and scalars (no C TOML library
 * ships in Debian). It accepts tables, dotted and quoted keys, the four kinds of strings with
 * every escape, integers in four bases, floats, booleans, arrays and inline tables, and
 * refuses what no setting uses (datetimes, arrays of tables) with a message that says so.
 * Not responsible for what keys mean (config_toml.c). No state: any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"

enum rp_toml_kind {
    RP_TOML_STRING = 0,
    RP_TOML_INT,
    RP_TOML_FLOAT,
    RP_TOML_BOOL,
    RP_TOML_ARRAY,
    RP_TOML_TABLE,
};

enum {
    RP_TOML_DEPTH_CAP = 64,         /* nesting of arrays and inline tables */
    RP_TOML_TABLE_CAP = 4096,       /* keys in one table */
    RP_TOML_ARRAY_CAP = 65536,      /* items in one array */
    RP_TOML_TEXT_CAP = 1024 * 1024, /* bytes of a whole document */
};

struct rp_toml_table;

/* One value. Owned by the table or array that holds it. */
struct rp_toml_value {
    enum rp_toml_kind kind;
    size_t off; /* byte offset of the value in the text, for rp_toml_position */
    union {
        struct {
            char *s; /* NUL-terminated; may also hold NULs (\u0000), hence len */
            size_t len;
        } str;
        int64_t i;
        double f;
        bool b;
        struct {
            struct rp_toml_value *items;
            size_t n, cap;
        } arr;
        struct rp_toml_table *tab;
    } u;
};

struct rp_toml_entry {
    char *key; /* NUL-terminated; a key holding a NUL is refused */
    struct rp_toml_value val;
};

/* A table: its keys in document order. Owned by its parent value, the root by the caller. */
struct rp_toml_table {
    struct rp_toml_entry *items;
    size_t n, cap;
    unsigned flags; /* how it was made; the parser's, for the redefinition rules */
};

/*
 * Parses the <len> bytes at <text> (need not be NUL-terminated; at most RP_TOML_TEXT_CAP).
 * 0 and *<out> the root table, owned by the caller (rp_toml_free); or -EINVAL and <diag>
 * "LINE:COLUMN: what is wrong" (both from 1, the column in characters).
 */
int rp_toml_parse(const char *text, size_t len, struct rp_toml_table **out, struct rp_diag *diag);
/* Frees <t> and everything in it; NULL is allowed. */
void rp_toml_free(struct rp_toml_table *t);
/* The value of <key> directly in <t>, or NULL. Borrowed from <t>. */
const struct rp_toml_value *rp_toml_get(const struct rp_toml_table *t, const char *key);
/* The line and column (from 1, the column in characters) of byte <off> of <text>. */
void rp_toml_position(const char *text, size_t len, size_t off, unsigned *line, unsigned *col);
/* "string", "integer", "float", "boolean", "array" or "table". */
const char *rp_toml_kind_name(enum rp_toml_kind kind);

#endif
