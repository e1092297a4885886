/* SPDX-License-Identifier: MIT */
#ifndef RP_CORE_URL_PATTERN_H
#define RP_CORE_URL_PATTERN_H
/*
 * WHATWG URL patterns as topic selectors (Mercure 1.0's `matchURLPattern`): does a topic
 * IRI match a pattern string such as `https://example.com/books/:id`? The pattern is split
 * into the URL's components (protocol, username, password, hostname, port, pathname,
 * search, hash) as the URL Pattern standard's constructor-string parser does, and each
 * component compiles into a small automaton run by simulating every state at once, so a
 * match never backtracks, costs at most (IRI length + 1) x (states) steps, and stops at a
 * cost limit: a pathological pattern over a long IRI simply does not match.
 *
 * Component syntax: fixed text (`\` escapes a character), named groups `:name` (one or more
 * characters other than `/` in the pathname, other than `.` in the hostname, any elsewhere),
 * the wildcard `*` (any run of characters), `{...}` groups, and the modifiers `?`, `+` and
 * `*` after a group, with the pathname's implicit `/` prefix (`/books/:id?` also matches
 * `/books`). Regular-expression groups `(...)` are refused (they could not be matched in
 * linear time). Omitted components: username, password, search and hash match anything,
 * the port is empty (the scheme's default) and the pathname of a pattern with a host is
 * `/`. Protocol and hostname compare case-insensitively (a URL's are lower case); nothing
 * else is normalised. Not responsible for URI templates or Mercure's `*`. Pure; a compiled
 * pattern is immutable and may be used from any thread.
 */
#include <stdbool.h>
#include <stddef.h>

/* Longest pattern compiled; longer is refused as invalid. */
#define RP_URL_PATTERN_MAX 1024
/* Most steps (IRI bytes x live states) one match may take; past it, no match. */
#define RP_URL_PATTERN_COST_MAX (1u << 20)

struct rp_url_pattern;

/*
 * Compiles the <len> bytes of <pat>: 0 and the pattern in *<out> (free with
 * rp_url_pattern_free), or -EINVAL (not an absolute URL pattern, a syntax error, a
 * regular-expression group, a NUL, longer than RP_URL_PATTERN_MAX) with *<why> set to a
 * static message.
 */
int rp_url_pattern_compile(const char *pat, size_t len, struct rp_url_pattern **out,
                           const char **why);
void rp_url_pattern_free(struct rp_url_pattern *p);
/* True when the <len> bytes of <iri> are a URL the pattern matches. */
bool rp_url_pattern_matches(const struct rp_url_pattern *p, const char *iri, size_t len);

/*
 * One component's pattern alone (for tests): compiles <pat> with the segment delimiter
 * <delim> ('/' pathname, '.' hostname, 0 elsewhere; '/' also makes '/' the implicit prefix)
 * and matches <s> against it. 1 match, 0 no match, -EINVAL an invalid pattern.
 */
int rp_url_pattern_component_matches(const char *pat, size_t len, char delim, const char *s,
                                     size_t s_len);

#endif
