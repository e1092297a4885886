/* SPDX-License-Identifier: MIT */
#ifndef RP_STORE_FILEOPS_H
#define RP_STORE_FILEOPS_H
/*
 * Every file operation of the disk log goes through this table (SQLite's VFS), so a test
 * can put a layer under the store that keeps unsynced writes aside and "crashes" (tests/
 * unit/store/crashfs.c) or fails with ENOSPC. The POSIX table is the real one. Each op
 * returns 0 (or a count) on success and a negative errno on failure; no errno leaks out.
 * Not responsible for paths' meaning or any buffering. The POSIX table is safe from any
 * thread; a test table says what it allows.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Called with each entry name of a directory; returns 0 to go on, negative to stop. */
typedef int (*rp_fileops_name_fn)(void *arg, const char *name);

struct rp_fileops {
    /* open(2) of <path> with <flags> (O_CREAT etc.) and <mode>: a descriptor or -errno. */
    int (*open)(void *ctx, const char *path, int flags, int mode);
    int (*close)(void *ctx, int fd);
    /* Writes all <n> bytes at <off>; 0, or -errno (some bytes may have been written). */
    int (*pwrite)(void *ctx, int fd, const void *buf, size_t n, uint64_t off);
    /* Reads up to <n> bytes at <off>: the count (0 at the end) or -errno. */
    ssize_t (*pread)(void *ctx, int fd, void *buf, size_t n, uint64_t off);
    /* Makes <fd>'s data durable (fdatasync). */
    int (*fsync)(void *ctx, int fd);
    /* Makes the entries of directory <path> durable (a created or removed file). */
    int (*sync_dir)(void *ctx, const char *path);
    int (*truncate)(void *ctx, int fd, uint64_t size);
    int (*size)(void *ctx, int fd, uint64_t *out);
    int (*unlink)(void *ctx, const char *path);
    /* Calls <fn> for each entry of directory <path> ("." and ".." left out). */
    int (*list)(void *ctx, const char *path, rp_fileops_name_fn fn, void *arg);
    void *ctx;
};

/* The real file system. Borrowed, static. */
const struct rp_fileops *rp_fileops_posix(void);

#endif
