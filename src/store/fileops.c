/* SPDX-License-Identifier: MIT */
#include "store/fileops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
posix_open(void *ctx, const char *path, int flags, int mode)
{
    int fd;
    do
        fd = open(path, flags | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

static int
posix_close(void *ctx, int fd)
{
    /* Linux frees the descriptor even when close reports EINTR: never retry it. */
    return close(fd) == 0 || errno == EINTR ? 0 : -errno;
}

static int
posix_pwrite(void *ctx, int fd, const void *buf, size_t n, uint64_t off)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -ENOSPC;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static ssize_t
posix_pread(void *ctx, int fd, void *buf, size_t n, uint64_t off)
{
    ssize_t r;
    do
        r = pread(fd, buf, n, (off_t)off);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

static int
posix_fsync(void *ctx, int fd)
{
    return fdatasync(fd) == 0 ? 0 : -errno;
}

static int
posix_sync_dir(void *ctx, const char *path)
{
    int fd = posix_open(ctx, path, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return fd;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

static int
posix_truncate(void *ctx, int fd, uint64_t size)
{
    return ftruncate(fd, (off_t)size) == 0 ? 0 : -errno;
}

static int
posix_size(void *ctx, int fd, uint64_t *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    *out = (uint64_t)st.st_size;
    return 0;
}

static int
posix_unlink(void *ctx, const char *path)
{
    return unlink(path) == 0 ? 0 : -errno;
}

static int
posix_list(void *ctx, const char *path, rp_fileops_name_fn fn, void *arg)
{
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            rc = fn(arg, de->d_name);
    closedir(d);
    return rc;
}

static const struct rp_fileops posix_ops = {
    .open = posix_open,
    .close = posix_close,
    .pwrite = posix_pwrite,
    .pread = posix_pread,
    .fsync = posix_fsync,
    .sync_dir = posix_sync_dir,
    .truncate = posix_truncate,
    .size = posix_size,
    .unlink = posix_unlink,
    .list = posix_list,
    .ctx = NULL,
};

const struct rp_fileops *
rp_fileops_posix(void)
{
    return &posix_ops;
}
