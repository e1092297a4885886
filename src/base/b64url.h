/* SPDX-License-Identifier: MIT */
#ifndef RP_BASE_B64URL_H
#define RP_BASE_B64URL_H
/* base64url (RFC 4648 section 5) without padding, as JWTs and JWKs use it. Pure; any thread. */
#include <stdbool.h>
#include <stddef.h>

/*
 * Strict: only the url alphabet, no padding, no impossible length, and the unused low bits
 * of the last character must be zero, so every byte string has exactly one encoding (a
 * token cannot be altered without changing what it decodes to).
 */
bool rp_b64url_valid(const char *s, size_t n);
/* Decodes the valid <s> into <out> (room for n * 3 / 4 bytes); returns the length. */
size_t rp_b64url_decode(const char *s, size_t n, unsigned char *out);
/* Characters rp_b64url_encode writes for <n> bytes. */
size_t rp_b64url_encoded_len(size_t n);
/* Encodes <n> bytes into <out> (room for rp_b64url_encoded_len(n), no NUL added); returns
 * the length. */
size_t rp_b64url_encode(const unsigned char *p, size_t n, char *out);

#endif
