/* SPDX-License-Identifier: MIT */
#ifndef RP_AUTH_CLAIMS_H
#define RP_AUTH_CLAIMS_H
/*
 * Mercure's authorisation claim: the `mercure` object of a verified JWT, with `publish` and
 * `subscribe` lists of topic selectors (and `payload`, which only active subscriptions
 * use), and whether a selector of those lists matches a topic IRI. Selectors understood:
 * `*` (every topic), an exact IRI, a URI template, and a 1.0 URL-pattern matcher (kept
 * behind RP_CLAIMS_URL_PATTERN_MARK).
 * Not responsible for verifying the token (auth_jwt) or for subscription selectors
 * (api/mercure). Pure; any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

struct json_t;

/* The first byte of a selector that is a 1.0 URL-pattern matcher (the pattern follows); a
 * topic IRI never starts with a control character. */
#define RP_CLAIMS_URL_PATTERN_MARK '\x01'

/* Most selectors a `publish` or `subscribe` list may have; more is RP_AUTH_MALFORMED. */
#define RP_CLAIMS_MAX_SELECTORS 256

/* What a Mercure token allows. Owns its strings; a zeroed grant allows nothing. */
struct rp_claims_mercure {
    bool has_publish; /* `mercure.publish` present (it may be an empty list) */
    char **publish;
    size_t n_publish;
    bool has_subscribe;
    char **subscribe;
    size_t n_subscribe;
    char *payload;      /* `mercure.payload` as compact JSON, or NULL (active subscriptions) */
    int64_t expires_ms; /* the token's exp (unix ms), 0 when it has none */
};

/*
 * Reads the grants of the verified <claims> (a JSON object) into the zeroed <out>: the
 * 0.x `mercure` claim and the 1.0 `authorization_details` entries of type `mercure`
 * (actions publish/subscribe on `topics` matchers: Exact, and URLPattern kept behind
 * RP_CLAIMS_URL_PATTERN_MARK, `*` as is), merged. RP_AUTH_OK (also with neither: then nothing is
 * allowed), or RP_AUTH_MALFORMED when either is malformed (`mercure` not an object, a list not of
 * strings, a detail without actions or topics, an unknown action or matcher type) or over
 * RP_CLAIMS_MAX_SELECTORS; <out> is then zeroed.
 */
enum rp_auth_result rp_claims_mercure_read(const struct json_t *claims,
                                           struct rp_claims_mercure *out);
/* Frees what <m> owns and zeroes it; accepts a zeroed one. */
void rp_claims_mercure_fini(struct rp_claims_mercure *m);
/* True when one of the <n> <selectors> matches the topic IRI <topic>; templates and URL
 * patterns are compiled on each call (a request's worth of work, never an event's). */
bool rp_claims_selectors_match(char *const *selectors, size_t n, const char *topic, size_t len);
/* True when <selectors> contains `*`. */
bool rp_claims_selectors_all(char *const *selectors, size_t n);

#endif
