/* SPDX-License-Identifier: MIT */
#include "base/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The length to keep of the <len> bytes at <s> so the end is not a partial UTF-8 sequence.
 * Bytes that are not UTF-8 are kept as they are: only a cut we made is repaired. */
static size_t
whole_chars(const char *s, size_t len)
{
    size_t i = len;
    while (i > 0 && len - i < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0)
        return len;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return len - (i - 1) < need ? i - 1 : len;
}

/* Formats into <diag> at <off> (its message up to <off> kept); cuts whole characters. */
static void format_at(struct rp_diag *diag, size_t off, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
format_at(struct rp_diag *diag, size_t off, const char *fmt, va_list ap)
{
    size_t cap = sizeof(diag->msg) - off;
    int n = vsnprintf(diag->msg + off, cap, fmt, ap);
    if (n < 0)
        diag->msg[off] = '\0';
    else if ((size_t)n >= cap)
        diag->msg[whole_chars(diag->msg, sizeof(diag->msg) - 1)] = '\0';
}

void
rp_diag_set(struct rp_diag *diag, const char *fmt, ...)
{
    if (!diag)
        return;
    va_list ap;
    va_start(ap, fmt);
    format_at(diag, 0, fmt, ap);
    va_end(ap);
}

void
rp_diag_vset(struct rp_diag *diag, const char *fmt, va_list ap)
{
    if (diag)
        format_at(diag, 0, fmt, ap);
}

void
rp_diag_prefix(struct rp_diag *diag, const char *fmt, ...)
{
    if (!diag)
        return;
    char old[sizeof(diag->msg)];
    memcpy(old, diag->msg, sizeof(old));
    old[sizeof(old) - 1] = '\0';
    va_list ap;
    va_start(ap, fmt);
    format_at(diag, 0, fmt, ap);
    va_end(ap);
    size_t len = strlen(diag->msg);
    size_t room = sizeof(diag->msg) - 1 - len;
    size_t old_len = strlen(old);
    if (old_len <= room) {
        memcpy(diag->msg + len, old, old_len + 1);
        return;
    }
    memcpy(diag->msg + len, old, room);
    diag->msg[whole_chars(diag->msg, sizeof(diag->msg) - 1)] = '\0';
}

void
rp_diag_clear(struct rp_diag *diag)
{
    if (diag)
        diag->msg[0] = '\0';
}
