/* SPDX-License-Identifier: MIT */
#include "loop/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/alloc.h"

#define MAX_EVENTS 256

struct rp_loop {
    int epfd;
    struct epoll_event events[MAX_EVENTS];
};

struct rp_loop *
rp_loop_new(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct rp_loop *loop = rp_xcalloc(1, sizeof(*loop));
    loop->epfd = fd;
    return loop;
}

void
rp_loop_free(struct rp_loop *loop)
{
    if (!loop)
        return;
    close(loop->epfd);
    free(loop);
}

static uint32_t
to_epoll(uint32_t events)
{
    uint32_t e = 0;
    if (events & RP_LOOP_READ)
        e |= EPOLLIN | EPOLLRDHUP;
    if (events & RP_LOOP_WRITE)
        e |= EPOLLOUT;
    return e;
}

int
rp_loop_add(struct rp_loop *loop, struct rp_loop_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ev) != 0)
        return -errno;
    io->events = events;
    return 0;
}

int
rp_loop_modify(struct rp_loop *loop, struct rp_loop_io *io, uint32_t events)
{
    if (io->events == events)
        return 0;
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) != 0)
        return -errno;
    io->events = events;
    return 0;
}

void
rp_loop_remove(struct rp_loop *loop, struct rp_loop_io *io)
{
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->events = 0;
}

int
rp_loop_run_once(struct rp_loop *loop, int timeout_ms)
{
    int n = epoll_wait(loop->epfd, loop->events, MAX_EVENTS, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        struct rp_loop_io *io = loop->events[i].data.ptr;
        uint32_t e = loop->events[i].events, r = 0;
        if (e & EPOLLIN)
            r |= RP_LOOP_READ;
        if (e & EPOLLOUT)
            r |= RP_LOOP_WRITE;
        if (e & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
            r |= RP_LOOP_HUP;
        io->fn(io, r);
    }
    return n;
}
