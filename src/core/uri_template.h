/* SPDX-License-Identifier: MIT */
#ifndef RP_CORE_URI_TEMPLATE_H
#define RP_CORE_URI_TEMPLATE_H
/*
 * RFC 6570 URI templates as topic selectors (Mercure): does a concrete IRI match what the
 * template could expand to? A template compiles once into a small automaton (literal
 * characters, character classes, splits) that is run by simulating every state at once, so
 * a match costs at most (IRI length + 1) x (states) steps, never backtracks, and stops at a
 * cost limit: a pathological template over a long IRI simply does not match.
 *
 * Each expression `{op var,...}` matches the empty string (all variables undefined) or its
 * operator's first character followed by values joined by the operator's separator, where a
 * value is any run of the characters the operator leaves unencoded (RFC 6570 appendix A):
 * unreserved characters and percent escapes for `{var}`, `{.var}`, `{/var}`, `{;var}`,
 * `{?var}`, `{&var}` (the last three also `=` and `,` for name=value pairs and lists), and
 * reserved characters too for `{+var}` and `{#var}`. Prefix (`:3`) and explode (`*`)
 * modifiers are accepted and match as the plain variable does (a superset).
 * Not responsible for URL patterns or for Mercure's `*`. Pure; a compiled template is
 * immutable and may be used from any thread.
 */
#include <stdbool.h>
#include <stddef.h>

/* Longest template compiled; longer is refused as invalid. */
#define RP_URI_TEMPLATE_MAX 1024
/* Most steps (IRI bytes x live states) one match may take; past it, no match. */
#define RP_URI_TEMPLATE_COST_MAX (1u << 20)

struct rp_uri_template;

/*
 * Compiles the <len> bytes of <tpl>: 0 and the template in *<out> (free with
 * rp_uri_template_free), or -EINVAL (an unclosed or empty expression, an unknown operator,
 * an invalid variable name, a NUL, longer than RP_URI_TEMPLATE_MAX) with *<why> set to a
 * static message.
 */
int rp_uri_template_compile(const char *tpl, size_t len, struct rp_uri_template **out,
                            const char **why);
void rp_uri_template_free(struct rp_uri_template *t);
/* True when the template can expand to exactly the <len> bytes of <iri>. */
bool rp_uri_template_matches(const struct rp_uri_template *t, const char *iri, size_t len);
/* True when <tpl> has an expression (`{`): a template rather than an exact IRI. */
bool rp_uri_template_is_template(const char *tpl, size_t len);

#endif
