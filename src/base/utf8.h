/* SPDX-License-Identifier: MIT */
#ifndef RP_BASE_UTF8_H
#define RP_BASE_UTF8_H
/* UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF). Pure. */
#include <stdbool.h>
#include <stddef.h>

/* True when <s> is well-formed UTF-8; otherwise *<bad_at> (if not NULL) is the offending offset. */
bool rp_utf8_valid(const char *s, size_t len, size_t *bad_at);

#endif
