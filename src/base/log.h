/* SPDX-License-Identifier: MIT */
#ifndef RP_BASE_LOG_H
#define RP_BASE_LOG_H
/*
 * Structured logging: one line per event, key=value, to stderr. RP_LOG checks the level
 * before its arguments are evaluated. Lines carry worker= when the thread has one.
 * Never log tokens, cookies or bodies. Any thread.
 */
#include <stdbool.h>
#include <stddef.h>

enum rp_log_level {
    RP_LOG_DEBUG = 0,
    RP_LOG_INFO,
    RP_LOG_WARN,
    RP_LOG_ERROR,
};

extern _Atomic enum rp_log_level rp_log_min_level;

/* Parses "debug", "info", "warn", "error"; 0 or -EINVAL. */
int rp_log_level_parse(const char *s, enum rp_log_level *out);
/* Names the calling thread's worker in its log lines; -1 for none. */
void rp_log_set_worker(int worker);
/* When true, lines are written as JSON objects (log_format json) instead of key=value. */
extern _Atomic bool rp_log_json;
void rp_log_write(enum rp_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Copies <text> (NULL: "-") into <out> (<cap> bytes, at least 5) as a value safe inside a
 * quoted log field: bytes outside printable ASCII, '"' and '\\' become `\xNN`, so text a
 * client chose (a path, a header) can neither forge a line nor break a JSON log. Cut at
 * <cap> - 1 bytes, never inside an escape. Returns <out>.
 */
const char *rp_log_escape(const char *text, char *out, size_t cap);

#define RP_LOG(level, component, ...)                                                              \
    do {                                                                                           \
        if ((level) >= rp_log_min_level)                                                           \
            rp_log_write((level), (component), __VA_ARGS__);                                       \
    } while (0)

#endif
