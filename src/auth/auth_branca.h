/* SPDX-License-Identifier: MIT */
#ifndef RP_AUTH_AUTH_BRANCA_H
#define RP_AUTH_AUTH_BRANCA_H
/*
 * Branca tokens (branca.io: 0xBA, 4-byte big-endian timestamp, 24-byte nonce, then the
 * XChaCha20-Poly1305-IETF ciphertext and tag with those 29 header bytes as additional data,
 * all base62 with the alphabet 0-9A-Za-z) and the msgpack payloads of tvdw/sse-server:
 * {"topics": [..]} for GET /events?token= and {"events": [{topic, event, data}..]} for
 * POST /submit. Not responsible for finding the token in a request nor for deciding what
 * a grant allows (auth). Pure apart from the libsodium nonce; any thread.
 */
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

struct rp_diag;
struct rp_publish_item;

#define RP_BRANCA_KEY_LEN 32
/* The longest token rp_branca_decode accepts, in characters. */
#define RP_BRANCA_MAX_TOKEN 65536
/* Version byte, timestamp, nonce: the header that is authenticated but not encrypted. */
#define RP_BRANCA_HEADER_LEN 29
#define RP_BRANCA_TAG_LEN 16

/* Parses exactly 64 hex digits (either case; sse-server's SSE_SECRET) into <key>; -EINVAL
 * for any other length or character, with <key> zeroed. */
int rp_branca_key_parse(const char *hex, size_t len, uint8_t key[RP_BRANCA_KEY_LEN]);

/*
 * Decodes and authenticates the <len> characters of <token> under <key>. RP_AUTH_OK with
 * a malloc'd copy of the plaintext in *<payload> (NUL-terminated after *<payload_len>
 * bytes; the caller frees it) and the token's timestamp in *<timestamp> (may be NULL).
 * Otherwise *<payload> is NULL and the result says why: TOO_LARGE (more than
 * RP_BRANCA_MAX_TOKEN characters), MALFORMED (empty, a character outside 0-9A-Za-z,
 * shorter than header and tag, version not 0xBA), BAD_SIGNATURE (the MAC does not verify:
 * tampered, or another key), EXPIRED (<ttl_s> is not 0 and timestamp + <ttl_s> < <now_s>,
 * the branca crate's rule; checked only once the MAC verified, so a forgery is never
 * "expired"). A timestamp in the future is accepted.
 */
enum rp_auth_result rp_branca_decode(const uint8_t key[RP_BRANCA_KEY_LEN], const char *token,
                                     size_t len, int64_t now_s, uint32_t ttl_s, uint8_t **payload,
                                     size_t *payload_len, uint32_t *timestamp);

/* Encrypts <len> bytes of <payload> with a fresh random nonce into a malloc'd NUL-terminated
 * token in *<out> (the caller frees it). 0, or -EINVAL when the token would be longer than
 * RP_BRANCA_MAX_TOKEN. For tests and the CLI. */
int rp_branca_encode(const uint8_t key[RP_BRANCA_KEY_LEN], const uint8_t *payload, size_t len,
                     uint32_t timestamp, char **out);

/*
 * The msgpack readers below accept what sse-server's serde structs accept: a map (other
 * keys ignored, a repeated key refused) or the positional array form rmp_serde writes
 * by default; strings as msgpack str or bin. The whole input must be one object.
 */

/* sse-server subscribe payload {"topics": [str..]}: adds each topic to the read filters
 * of the zeroed <g> (each must be a valid topic name or pattern, rp_grant_add_read). 0
 * (also for an empty list), or -EINVAL with <g> zeroed again and a message in <diag>
 * (may be NULL). */
int rp_branca_read_topics(const uint8_t *payload, size_t len, struct rp_grant *g,
                          struct rp_diag *diag);

/* A publish batch read from a token. <items> point into <buf>, which the batch owns. */
struct rp_branca_events {
    struct rp_publish_item *items;
    size_t n;
    uint8_t *buf; /* a copy of the payload; item strings are not NUL-terminated */
};

/*
 * sse-server publish payload {"events": [{"topic": str, "event": str?, "data": str}..]}
 * into the batch <out> (free it with rp_branca_events_fini). "event" may be missing, nil
 * or empty (no event type: an SSE "message"); "topic" and "data" are required. Names and
 * data are not checked here (the hub does). 0 (also for no events); -E2BIG for more than
 * <max_events> events; -EINVAL otherwise. On failure <out> is zeroed and <diag> (may be
 * NULL) says why.
 */
int rp_branca_read_events(const uint8_t *payload, size_t len, size_t max_events,
                          struct rp_branca_events *out, struct rp_diag *diag);
/* Frees what <ev> owns and zeroes it; accepts a zeroed batch. */
void rp_branca_events_fini(struct rp_branca_events *ev);

#endif
