/* SPDX-License-Identifier: MIT */
#include "gen/bench_ipc.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"

static int
write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int
bench_ipc_send(int fd, uint32_t type, const void *a, size_t a_len, const void *b, size_t b_len)
{
    uint32_t head[2] = {type, (uint32_t)(a_len + b_len)};
    int err = write_all(fd, head, sizeof(head));
    if (!err && a_len)
        err = write_all(fd, a, a_len);
    if (!err && b_len)
        err = write_all(fd, b, b_len);
    return err;
}

long
bench_ipc_read(int fd, struct rp_buf *in)
{
    char *dst = rp_buf_reserve(in, 65536);
    if (!dst)
        return -ENOBUFS;
    ssize_t r;
    do {
        r = read(fd, dst, 65536);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    in->len += (size_t)r;
    return (long)r;
}

int
bench_ipc_next(const struct rp_buf *in, uint32_t *type, const char **payload, uint32_t *len)
{
    uint32_t head[2];
    if (in->len < BENCH_IPC_HEAD)
        return 0;
    memcpy(head, in->data, sizeof(head));
    if (in->len - BENCH_IPC_HEAD < head[1])
        return 0;
    *type = head[0];
    *len = head[1];
    *payload = in->data + BENCH_IPC_HEAD;
    return 1;
}
