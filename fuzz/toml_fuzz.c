/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the TOML reader, then the documented-key mapping over whatever it accepts (through
 * rp_config_load_string with a .toml name). Every refusal must explain itself with a
 * position, and every accepted config must dump into our own syntax that loads again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walks every value, so that a tree the parser left half-built is touched. */
static size_t
walk(const struct rp_toml_value *v)
{
    size_t n = 1;
    if (v->kind == RP_TOML_ARRAY)
        for (size_t i = 0; i < v->u.arr.n; i++)
            n += walk(&v->u.arr.items[i]);
    if (v->kind == RP_TOML_TABLE)
        for (size_t i = 0; i < v->u.tab->n; i++)
            n += walk(&v->u.tab->items[i].val) + strlen(v->u.tab->items[i].key);
    if (v->kind == RP_TOML_STRING && strlen(v->u.str.s) > v->u.str.len)
        abort(); /* the NUL terminator must follow the bytes */
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rp_toml_table *t = NULL;
    struct rp_diag diag = {{0}};
    unsigned line, col;

    if (rp_toml_parse((const char *)data, size, &t, &diag) != 0) {
        if (t || sscanf(diag.msg, "%u:%u:", &line, &col) != 2 || line == 0 || col == 0)
            abort();
        return 0;
    }
    struct rp_toml_value root = {.kind = RP_TOML_TABLE};
    root.u.tab = t;
    (void)walk(&root);
    rp_toml_free(t);

    struct rp_config *cfg = NULL, *again = NULL;
    if (rp_config_load_string((const char *)data, size, "fuzz.toml", NULL, 0, NULL, &cfg, &diag)) {
        if (cfg || diag.msg[0] == '\0')
            abort();
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        abort();
    rp_config_dump(cfg, f);
    fclose(f);
    if (rp_config_load_string(text, len, "dump.conf", NULL, 0, NULL, &again, &diag)) {
        fprintf(stderr, "dump does not load: %s\n%s", diag.msg, text);
        abort();
    }
    free(text);
    rp_config_free(again);
    rp_config_free(cfg);
    return 0;
}
