/* SPDX-License-Identifier: MIT */
#ifndef RP_NET_LISTENER_H
#define RP_NET_LISTENER_H
/*
 * Listening sockets: each worker opens its own on the same address with SO_REUSEPORT,
 * so the kernel spreads connections across workers without a shared accept lock.
 * Not responsible for accepting (the worker does). Any thread.
 */
#include <stddef.h>
#include <sys/socket.h>

struct rp_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* Parses "HOST:PORT" or "[V6]:PORT" (numeric host or "localhost"); 0 or -EINVAL. */
int rp_addr_parse(const char *text, struct rp_addr *out);
/* Formats <addr> as "HOST:PORT" or "[V6]:PORT" into <out>. */
void rp_addr_format(const struct rp_addr *addr, char *out, size_t cap);
/* Opens a non-blocking SO_REUSEPORT listener on <addr>; the fd or -errno. When <addr>'s
 * port is 0, the chosen port is written back into <addr>. */
int rp_listener_open(struct rp_addr *addr, int backlog);

#endif
