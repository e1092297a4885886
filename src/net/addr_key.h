/* SPDX-License-Identifier: MIT */
#ifndef RP_NET_ADDR_KEY_H
#define RP_NET_ADDR_KEY_H
/*
 * The client-address key that per-address limits (ratelimit, conncap) are counted under:
 * 16 bytes, IPv4 stored as IPv4-mapped IPv6 (::ffff:a.b.c.d), so a v4 peer, its mapped form
 * on a dual-stack socket and the same address in X-Forwarded-For give one key.
 * Not responsible for deciding which address to trust (the caller picks the peer or a
 * forwarded entry). Pure value type; any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

/* A zeroed key is the unspecified address "::". */
struct rp_addr_key {
    uint8_t b[16];
};

/* Longest text rp_addr_key_format writes, NUL included (INET6_ADDRSTRLEN). */
#define RP_ADDR_KEY_STRLEN 46

/* The key of the socket address <sa> (AF_INET or AF_INET6; the port is ignored) in <out>.
 * 0, or -EAFNOSUPPORT for other families (AF_UNIX peers have no address to count). */
int rp_addr_key_from_sockaddr(const struct sockaddr *sa, struct rp_addr_key *out);
/* Parses the <len> bytes of <text>: an IPv4 dotted quad or an IPv6 address, optionally in
 * brackets ("[::1]"), surrounded by optional spaces or tabs (one X-Forwarded-For element).
 * No port and no zone id. 0, or -EINVAL when it is not an address (<out> is then zeroed). */
int rp_addr_key_parse(const char *text, size_t len, struct rp_addr_key *out);
/* Writes <k> as text into <out> (<cap> bytes; RP_ADDR_KEY_STRLEN always suffices):
 * IPv4-mapped keys as a dotted quad, others in RFC 5952 form. 0, or -ENOSPC (then <out>
 * holds "" if <cap> > 0). */
int rp_addr_key_format(const struct rp_addr_key *k, char *out, size_t cap);
/* True when <k> is an IPv4-mapped key. */
bool rp_addr_key_is_v4(const struct rp_addr_key *k);
bool rp_addr_key_equal(const struct rp_addr_key *a, const struct rp_addr_key *b);

#endif
