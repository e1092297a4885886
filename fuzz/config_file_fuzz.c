/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the config-file parser through rp_config_load_string. Every input that loads
 * must also survive a round trip: its dump loads again and dumps to the same text, so the
 * dump's quoting and units stay in step with the parser.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
dump_text(const struct rp_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        abort();
    rp_config_dump(cfg, f);
    fclose(f);
    return text;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rp_config *cfg = NULL, *again = NULL;
    struct rp_diag diag;

    if (rp_config_load_string((const char *)data, size, "fuzz.conf", NULL, 0, NULL, &cfg, &diag) !=
        0) {
        /* Every failure must explain itself. */
        if (cfg || diag.msg[0] == '\0')
            abort();
        return 0;
    }
    char *text = dump_text(cfg);
    if (rp_config_load_string(text, strlen(text), "dump.conf", NULL, 0, NULL, &again, &diag)) {
        fprintf(stderr, "dump does not load: %s\n%s", diag.msg, text);
        abort();
    }
    char *text2 = dump_text(again);
    if (strcmp(text, text2) != 0) {
        fprintf(stderr, "dump changed on reload:\n%s\n---\n%s", text, text2);
        abort();
    }
    free(text2);
    free(text);
    rp_config_free(again);
    rp_config_free(cfg);
    return 0;
}
