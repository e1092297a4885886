/* SPDX-License-Identifier: MIT */
#include "base/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

_Atomic enum rp_log_level rp_log_min_level = RP_LOG_INFO;
_Atomic bool rp_log_json = false;

static _Thread_local int log_worker = -1;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int
rp_log_level_parse(const char *s, enum rp_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum rp_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void
rp_log_set_worker(int worker)
{
    log_worker = worker;
}

const char *
rp_log_escape(const char *text, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t pos = 0;
    for (const char *p = text ? text : "-"; *p; p++) {
        unsigned char c = (unsigned char)*p;
        bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
        if (pos + (plain ? 1 : 4) >= cap)
            break;
        if (plain) {
            out[pos++] = (char)c;
        } else {
            out[pos++] = '\\';
            out[pos++] = 'x';
            out[pos++] = hex[c >> 4];
            out[pos++] = hex[c & 15];
        }
    }
    out[pos] = '\0';
    return out;
}

/* Appends <c> to <out> as JSON string content. Bytes from 0x80 are written as \u00NN: a log
 * line is valid JSON whatever bytes reached it (values from clients are escaped before). */
static size_t
json_char(char *out, size_t pos, size_t cap, char c)
{
    if (pos + 7 >= cap)
        return pos;
    if (c == '"' || c == '\\') {
        out[pos++] = '\\';
        out[pos++] = c;
    } else if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x80) {
        pos += (size_t)snprintf(out + pos, cap - pos, "\\u%04x", (unsigned char)c);
    } else {
        out[pos++] = c;
    }
    return pos;
}

/*
 * Rewrites a key=value line (values bare, or double-quoted with no quote inside) as one
 * JSON object, every value a string; a word without '=' is kept under "text". Returns the
 * length written to <out>, newline included.
 */
static size_t
to_json(const char *line, char *out, size_t cap)
{
    size_t pos = 0;
    out[pos++] = '{';
    const char *p = line;
    bool first = true;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *key = p;
        while (*p && *p != '=' && *p != ' ')
            p++;
        const char *key_end = p;
        if (!first && pos + 1 < cap)
            out[pos++] = ',';
        first = false;
        if (pos + 1 < cap)
            out[pos++] = '"';
        if (*p != '=') {
            pos += (size_t)snprintf(out + pos, cap - pos, "text\":\"");
            for (const char *k = key; k < key_end; k++)
                pos = json_char(out, pos, cap, *k);
        } else {
            for (const char *k = key; k < key_end; k++)
                pos = json_char(out, pos, cap, *k);
            pos += (size_t)snprintf(out + pos, cap - pos, "\":\"");
            p++;
            char end = ' ';
            if (*p == '"') {
                end = '"';
                p++;
            }
            while (*p && *p != end)
                pos = json_char(out, pos, cap, *p++);
            if (end == '"' && *p == '"')
                p++;
        }
        if (pos + 1 < cap)
            out[pos++] = '"';
    }
    if (pos + 2 < cap) {
        out[pos++] = '}';
        out[pos++] = '\n';
    }
    return pos;
}

void
rp_log_write(enum rp_log_level level, const char *component, const char *fmt, ...)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s component=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level], component);
    if (log_worker >= 0 && n > 0 && (size_t)n < sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n, " worker=%d", log_worker);
    if (n > 0 && (size_t)n < sizeof(line) - 1) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    line[n] = '\0';
    char json[2 * sizeof(line) + 8];
    const char *out = line;
    size_t len = (size_t)n;
    if (atomic_load_explicit(&rp_log_json, memory_order_relaxed)) {
        len = to_json(line, json, sizeof(json));
        out = json;
    } else {
        line[len++] = '\n';
    }
    /* One write per line so lines of different threads never interleave. */
    fwrite(out, 1, len, stderr);
}
