/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes rp_topic_name_check against a reference written from the rules in
 * core/topic_name.h, and checks what must hold for every valid name: its UUID is a
 * well-formed version 5 UUID, and it is also a valid filter without wildcards that
 * matches itself. Aborts on any disagreement.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pattern.h"
#include "core/topic_name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
ref_valid(const char *s, size_t len)
{
    if (len < 1 || len > 255)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '/') {
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.",
                        s[i]) ||
                s[i] == '\0')
                return false;
            continue;
        }
        size_t seg = i - start;
        if (seg == 0 || (seg == 1 && s[start] == '.') ||
            (seg == 2 && s[start] == '.' && s[start + 1] == '.'))
            return false;
        start = i + 1;
    }
    return true;
}

static void
check_uuid(const char *name, size_t len)
{
    uint8_t u[16], again[16];
    rp_topic_uuid(name, len, u);
    rp_topic_uuid(name, len, again);
    if (memcmp(u, again, 16) != 0)
        abort();
    if ((u[6] >> 4) != 5 || (u[8] & 0xc0) != 0x80)
        abort();
    char s[RP_UUID_STR_LEN + 1];
    rp_uuid_format(u, s);
    if (strlen(s) != RP_UUID_STR_LEN)
        abort();
    for (size_t i = 0; i < RP_UUID_STR_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]) || s[i] == '\0')
            abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *name = (const char *)data;
    const char *why = rp_topic_name_check(name, size);
    bool valid = why == NULL;
    if (valid != ref_valid(name, size))
        abort();
    if (why && why[0] == '\0')
        abort(); /* a refusal always says something */
    if (!valid)
        return 0;
    check_uuid(name, size);
    if (rp_pattern_check(name, size) != NULL || rp_pattern_has_wildcard(name, size) ||
        !rp_pattern_matches(name, size, name, size))
        abort();
    return 0;
}
