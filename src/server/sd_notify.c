/* SPDX-License-Identifier: MIT */
#include "server/sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Fills <sa> from a $NOTIFY_SOCKET value; returns the address length or a negative errno. */
static int
notify_addr(const char *name, struct sockaddr_un *sa)
{
    size_t len = strlen(name);
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (name[0] != '/' && name[0] != '@')
        return -EAFNOSUPPORT; /* e.g. systemd 256's "vsock:", which we do not speak */
    if (len < 2 || len > sizeof(sa->sun_path))
        return -EINVAL;
    memcpy(sa->sun_path, name, len);
    if (name[0] == '@') {
        /* Abstract namespace: a leading NUL, and the length says where the name ends (no
         * terminating NUL is part of it). */
        sa->sun_path[0] = '\0';
        return (int)(offsetof(struct sockaddr_un, sun_path) + len);
    }
    if (len == sizeof(sa->sun_path))
        return -EINVAL; /* a path needs room for its NUL */
    return (int)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

int
rp_sd_notify(const char *state)
{
    const char *name = getenv("NOTIFY_SOCKET");
    if (!name || !name[0])
        return 0;
    if (!state || !state[0])
        return -EINVAL;
    struct sockaddr_un sa;
    int sa_len = notify_addr(name, &sa);
    if (sa_len < 0)
        return sa_len;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    size_t len = strlen(state);
    /* MSG_NOSIGNAL: a manager that went away must not kill us with SIGPIPE. */
    ssize_t n =
        sendto(fd, state, len, MSG_NOSIGNAL, (const struct sockaddr *)&sa, (socklen_t)sa_len);
    int err = n < 0 ? -errno : ((size_t)n != len ? -EMSGSIZE : 0);
    close(fd);
    return err;
}

int
rp_sd_notify_monotonic_reloading(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return -errno;
    unsigned long long usec =
        (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL;
    char state[64];
    snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu", usec);
    return rp_sd_notify(state);
}

/* A positive decimal number with nothing around it, as systemd writes them. */
static int
parse_positive(const char *text, unsigned long long *out)
{
    if (text[0] < '0' || text[0] > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0)
        return -EINVAL;
    *out = v;
    return 0;
}

int
rp_sd_watchdog_usec(uint64_t *usec)
{
    *usec = 0;
    const char *text = getenv("WATCHDOG_USEC");
    if (!text || !text[0])
        return 0;
    unsigned long long interval;
    if (parse_positive(text, &interval) != 0)
        return -EINVAL;
    /* WATCHDOG_PID guards against a child that inherited the environment pinging for us. */
    const char *pid_text = getenv("WATCHDOG_PID");
    if (pid_text && pid_text[0]) {
        unsigned long long pid;
        if (parse_positive(pid_text, &pid) != 0)
            return -EINVAL;
        if (pid != (unsigned long long)getpid())
            return 0;
    }
    *usec = (uint64_t)interval;
    return 0;
}
