/* SPDX-License-Identifier: MIT */
#ifndef RP_CORE_TOPIC_NAME_H
#define RP_CORE_TOPIC_NAME_H
/*
 * Topic names and their UUIDs. A name is 1..RP_TOPIC_NAME_MAX bytes of `a-z A-Z 0-9 - _ .`
 * in segments separated by `/`: no empty segment (no leading, trailing or double `/`), and
 * no segment that is exactly `.` or `..`. `+` and `#` belong to patterns, never to names.
 * Each topic has a UUIDv5 (RFC 9562) of its name under RP_TOPIC_UUID_NAMESPACE. Names
 * under RP_TOPIC_SYSTEM_PREFIX are the server's own (the dashboard's metrics feed): valid
 * names, which the hub refuses to public publishers.
 * Not responsible for patterns (core/pattern). Pure; any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_TOPIC_NAME_MAX 255
/* The fixed, documented namespace of topic UUIDs (docs/api.md). */
#define RP_TOPIC_UUID_NAMESPACE "cf11a541-ad16-4183-9cfe-8876de3cc0b9"
#define RP_UUID_STR_LEN 36
/* The namespace of the server's own topics (docs/api.md). */
#define RP_TOPIC_SYSTEM_PREFIX "_revenprox/"
/* Private parts of it, reached only by name or by a filter that names the prefix: sessions'
 * private topics and Mercure's private updates (a leading wildcard never matches them). */
#define RP_TOPIC_SESSION_PREFIX RP_TOPIC_SYSTEM_PREFIX "session/"
#define RP_TOPIC_MERCURE_PRIVATE_PREFIX RP_TOPIC_SYSTEM_PREFIX "mercure/p/"

/* Returns NULL when <name> is a valid topic name, else a static message saying what is wrong. */
const char *rp_topic_name_check(const char *name, size_t len);
/* True when <name> is under RP_TOPIC_SYSTEM_PREFIX (one memcmp; <name> need not be valid). */
bool rp_topic_name_is_system(const char *name, size_t len);
/* True when <name> is under a private prefix (RP_TOPIC_SESSION_PREFIX,
 * RP_TOPIC_MERCURE_PRIVATE_PREFIX). */
bool rp_topic_name_is_private(const char *name, size_t len);
/* Computes the UUIDv5 of <name> under the topic namespace into <out>. */
void rp_topic_uuid(const char *name, size_t len, uint8_t out[16]);
/*
 * Computes the UUIDv5 (RFC 9562: SHA-1 of <ns> then the <len> bytes of <name>) into <out>.
 * Aborts only if the digest cannot be computed at all (no SHA-1 in OpenSSL).
 */
void rp_uuid_v5(const uint8_t ns[16], const char *name, size_t len, uint8_t out[16]);
/* Formats <uuid> as 36 lowercase characters plus a NUL into <out>. */
void rp_uuid_format(const uint8_t uuid[16], char out[RP_UUID_STR_LEN + 1]);

#endif
