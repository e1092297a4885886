/* SPDX-License-Identifier: MIT */
#include "net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
rp_addr_parse(const char *text, struct rp_addr *out)
{
    char host[128];
    const char *port_s;
    memset(out, 0, sizeof(*out));
    if (text[0] == '[') {
        const char *end = strchr(text, ']');
        if (!end || end[1] != ':' || (size_t)(end - text - 1) >= sizeof(host))
            return -EINVAL;
        memcpy(host, text + 1, (size_t)(end - text - 1));
        host[end - text - 1] = '\0';
        port_s = end + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon || (size_t)(colon - text) >= sizeof(host))
            return -EINVAL;
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        port_s = colon + 1;
    }
    char *endp;
    errno = 0;
    long port = strtol(port_s, &endp, 10);
    if (errno || *port_s == '\0' || *endp != '\0' || port < 0 || port > 65535)
        return -EINVAL;
    if (strcmp(host, "localhost") == 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "%s", host[0] ? "127.0.0.1" : "0.0.0.0");
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        out->len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        out->len = sizeof(*v6);
        return 0;
    }
    return -EINVAL;
}

void
rp_addr_format(const struct rp_addr *addr, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (addr->ss.ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)&addr->ss;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
        snprintf(out, cap, "%s:%u", host, ntohs(v4->sin_port));
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&addr->ss;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
        snprintf(out, cap, "[%s]:%u", host, ntohs(v6->sin6_port));
    }
}

int
rp_listener_open(struct rp_addr *addr, int backlog)
{
    int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        goto fail;
    if (addr->ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0)
        goto fail;
    if (listen(fd, backlog) != 0)
        goto fail;
    socklen_t len = sizeof(addr->ss);
    if (getsockname(fd, (struct sockaddr *)&addr->ss, &len) != 0)
        goto fail;
    addr->len = len;
    return fd;
fail:;
    int err = -errno;
    close(fd);
    return err;
}
