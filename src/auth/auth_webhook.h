/* SPDX-License-Identifier: MIT */
#ifndef RP_AUTH_AUTH_WEBHOOK_H
#define RP_AUTH_AUTH_WEBHOOK_H
/*
 * The webhook verifier's wire format: the JSON body POSTed to the application, and the
 * parsing of its answer into a grant. Not responsible for sending the request (that is
 * client/http_client), caching answers or circuit breaking. Pure; any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

struct rp_diag;

/* Most filters accepted in each of "read" and "write": every stream and publish walks them. */
#define RP_WEBHOOK_MAX_FILTERS 1024

/*
 * Builds the request body
 *   {"token":..,"topics":[..],"ip":..,"user_agent":..,"action":..}
 * from <token> (<token_len> bytes), the <n_topics> NUL-terminated <topics>, <ip> and
 * <user_agent> (NULL: JSON null) and <action> ("subscribe" or "publish"). Strings are
 * JSON-escaped; bytes that are not UTF-8 become U+FFFD, so the body is always valid JSON.
 * Returns a malloc'd NUL-terminated body (the caller frees it) and its length in *<len>.
 */
char *rp_webhook_request_body(const char *token, size_t token_len, const char *const *topics,
                              size_t n_topics, const char *ip, const char *user_agent,
                              const char *action, size_t *len);

/*
 * The documented RevenProx's request for one topic: {"jwt":<token>,"topic":<the topic's
 * UUID (v5, as core/topic_name) as 32 lowercase hex digits>}. Returns a malloc'd
 * NUL-terminated body and its length in *<len>.
 */
char *rp_webhook_request_body_documented(const char *token, size_t token_len, const char *topic,
                                         size_t *len);

/*
 * Parses the application's answer <body> (<len> bytes, need not be NUL-terminated):
 *   {"valid":true,"sub"?:string,"read"?:[filter..],"write"?:[filter..],"ttl"?:seconds,
 *    "exp"?:unix seconds}  or  {"valid":false,"reason"?:string,"ttl"?:seconds}
 * (an optional member may also be null; unknown members are ignored).
 * - RP_AUTH_OK: fills the zeroed <g> (sub, read, write copied; "exp" -> expires_ms) and sets
 *   *<ttl_ms> (0 when absent: the caller's default applies); <diag> is "".
 * - RP_AUTH_REJECTED: valid:false; <diag> holds the reason (control characters as spaces; ""
 *   when absent or not a string), *<ttl_ms> the ttl to remember the refusal for (0 when
 *   absent); <g> stays zeroed.
 * - RP_AUTH_UNAVAILABLE: the answer is not understood (not a JSON object, duplicate keys,
 *   valid missing or not a boolean, a member of the wrong type, a filter that is not a valid
 *   topic name or pattern, more than RP_WEBHOOK_MAX_FILTERS filters, ttl not a non-negative
 *   number, exp not a positive number); <diag> says what, <g> stays zeroed, *<ttl_ms> is 0.
 * <diag> may be NULL; a reason longer than it holds is cut, never inside a UTF-8 sequence.
 * *<filters_given> (may be NULL) says whether the answer had "read" or "write" (even
 * empty): {"valid":true} without them grants what was asked, which only the caller knows.
 */
enum rp_auth_result rp_webhook_parse_answer(const char *body, size_t len, struct rp_grant *g,
                                            int64_t *ttl_ms, bool *filters_given,
                                            struct rp_diag *diag);

#endif
