/* SPDX-License-Identifier: MIT */
#ifndef RP_CORE_PATTERN_H
#define RP_CORE_PATTERN_H
/*
 * Subscription filters with MQTT semantics. A filter is a topic name, or a pattern whose
 * levels may be `+` (exactly one level) or, as the last level only, `#` (that level's
 * parent and everything below it: `a/#` matches `a`, `a/b`, `a/b/c`; `#` matches every
 * topic). Wildcards fill a whole level: `a+/b` is invalid. Other levels follow the topic
 * name rules (core/topic_name). Pure; any thread.
 */
#include <stdbool.h>
#include <stddef.h>

/* Returns NULL when <filter> is a valid topic name or pattern, else a static message. */
const char *rp_pattern_check(const char *filter, size_t len);
/* True when <filter> (already checked) contains `+` or `#`. */
bool rp_pattern_has_wildcard(const char *filter, size_t len);
/* True when the checked <filter> matches the concrete topic <topic>. A filter whose first
 * level is a wildcard never matches a private topic (rp_topic_name_is_private). */
bool rp_pattern_matches(const char *filter, size_t filter_len, const char *topic, size_t topic_len);

/* True when every topic that the checked filter <inner> matches is also matched by the
 * checked filter <outer>: `a/#` covers `a/+/c` and `a`; `a/+` covers `a/b` but not `a/#`. */
bool rp_pattern_covers(const char *outer, size_t outer_len, const char *inner, size_t inner_len);

#endif
