/* SPDX-License-Identifier: MIT */
#include "net/addr_key.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void
set_v4(struct rp_addr_key *out, const void *v4)
{
    memcpy(out->b, v4_prefix, sizeof(v4_prefix));
    memcpy(out->b + 12, v4, 4);
}

int
rp_addr_key_from_sockaddr(const struct sockaddr *sa, struct rp_addr_key *out)
{
    /* Copy out of the sockaddr rather than cast: callers pass sockaddr_storage or a
     * sockaddr of the right family, and memcpy never depends on its alignment. */
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in sin;
        memcpy(&sin, sa, sizeof(sin));
        set_v4(out, &sin.sin_addr);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, sa, sizeof(sin6));
        memcpy(out->b, &sin6.sin6_addr, 16);
        return 0;
    }
    memset(out, 0, sizeof(*out));
    return -EAFNOSUPPORT;
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t';
}

int
rp_addr_key_parse(const char *text, size_t len, struct rp_addr_key *out)
{
    char buf[RP_ADDR_KEY_STRLEN];
    const char *p = text, *end = text + len;

    memset(out, 0, sizeof(*out));
    while (p < end && is_space(*p))
        p++;
    while (end > p && is_space(end[-1]))
        end--;
    bool bracketed = end - p >= 2 && p[0] == '[' && end[-1] == ']';
    if (bracketed) {
        p++;
        end--;
    }
    size_t n = (size_t)(end - p);
    /* inet_pton wants a NUL-terminated string; a longer input cannot be an address. */
    if (n == 0 || n >= sizeof(buf) || memchr(p, '\0', n))
        return -EINVAL;
    memcpy(buf, p, n);
    buf[n] = '\0';

    if (memchr(buf, ':', n)) {
        if (inet_pton(AF_INET6, buf, out->b) == 1)
            return 0;
    } else if (!bracketed) {
        uint8_t v4[4];
        if (inet_pton(AF_INET, buf, v4) == 1) {
            set_v4(out, v4);
            return 0;
        }
    }
    memset(out, 0, sizeof(*out));
    return -EINVAL;
}

bool
rp_addr_key_is_v4(const struct rp_addr_key *k)
{
    return memcmp(k->b, v4_prefix, sizeof(v4_prefix)) == 0;
}

bool
rp_addr_key_equal(const struct rp_addr_key *a, const struct rp_addr_key *b)
{
    return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

int
rp_addr_key_format(const struct rp_addr_key *k, char *out, size_t cap)
{
    char buf[RP_ADDR_KEY_STRLEN];
    const char *s = rp_addr_key_is_v4(k) ? inet_ntop(AF_INET, k->b + 12, buf, sizeof(buf))
                                         : inet_ntop(AF_INET6, k->b, buf, sizeof(buf));
    size_t n = s ? strlen(buf) : 0;
    if (!s || n >= cap) {
        if (cap)
            out[0] = '\0';
        return -ENOSPC;
    }
    memcpy(out, buf, n + 1);
    return 0;
}
