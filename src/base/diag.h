/* SPDX-License-Identifier: MIT */
#ifndef RP_BASE_DIAG_H
#define RP_BASE_DIAG_H
/*
 * A message for the user (an operator reading a config error, a CLI user), filled by the
 * function that failed: "where: what is wrong and what is allowed". Not a log line and not
 * an error code: functions still return -errno. Owned by the caller, usually on its stack;
 * any thread, one writer at a time.
 */
#include <stdarg.h>

/* The message, always NUL-terminated. Zeroed, it is the empty message. */
struct rp_diag {
    char msg[512];
};

/* Sets the message of <diag> from the printf-style <fmt>; what does not fit is cut, never
 * inside a UTF-8 sequence. A NULL <diag> is allowed: the message is dropped. */
void rp_diag_set(struct rp_diag *diag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* As rp_diag_set, with the arguments in <ap>: for helpers that fill a diag and return. */
void rp_diag_vset(struct rp_diag *diag, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Puts the printf-style <fmt> in front of the message of <diag> ("file.conf:3: " before
 * "bad key"); the end of the whole is cut as rp_diag_set cuts. NULL <diag>: nothing. */
void rp_diag_prefix(struct rp_diag *diag, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Empties the message of <diag>, which may be NULL. */
void rp_diag_clear(struct rp_diag *diag);

#endif
