/* SPDX-License-Identifier: MIT */
#include "crashfs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/fileops.h"

#define MAX_FDS 512

enum op_kind { OP_WRITE, OP_TRUNCATE };

struct op {
    enum op_kind kind;
    uint64_t off; /* OP_TRUNCATE: the size */
    size_t len;
    char *data;
    struct op *next;
};

struct bytes {
    char *p;
    size_t len;
};

struct cfile {
    char *path;
    bool unlinked; /* kept in memory for descriptors still open */
    struct bytes cur, dur;
    struct op *ops, *ops_tail;
};

struct crashfs {
    struct rp_fileops ops;
    pthread_mutex_t lock;
    struct cfile **files;
    size_t n_files;
    struct cfile *fds[MAX_FDS];
    unsigned syncs, crash_at;
    bool crashed;
    int fail_err;
    uint32_t rng;
};

static uint32_t
rnd(struct crashfs *fs)
{
    fs->rng ^= fs->rng << 13;
    fs->rng ^= fs->rng >> 17;
    fs->rng ^= fs->rng << 5;
    return fs->rng;
}

static void
bytes_write(struct bytes *b, uint64_t off, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (off + n > b->len) {
        b->p = realloc(b->p, off + n);
        memset(b->p + b->len, 0, off > b->len ? off - b->len : 0);
        b->len = off + n;
    }
    memcpy(b->p + off, p, n);
}

static void
bytes_truncate(struct bytes *b, uint64_t size)
{
    if (size > b->len) {
        b->p = realloc(b->p, size);
        memset(b->p + b->len, 0, size - b->len);
    }
    b->len = size;
}

static struct cfile *
find(struct crashfs *fs, const char *path)
{
    for (size_t i = 0; i < fs->n_files; i++)
        if (!fs->files[i]->unlinked && strcmp(fs->files[i]->path, path) == 0)
            return fs->files[i];
    return NULL;
}

static struct cfile *
create(struct crashfs *fs, const char *path)
{
    struct cfile *f = calloc(1, sizeof(*f));
    f->path = strdup(path);
    fs->files = realloc(fs->files, (fs->n_files + 1) * sizeof(*fs->files));
    fs->files[fs->n_files++] = f;
    return f;
}

static void
pend(struct cfile *f, enum op_kind kind, uint64_t off, const void *data, size_t len)
{
    struct op *o = calloc(1, sizeof(*o));
    o->kind = kind;
    o->off = off;
    o->len = len;
    if (len) {
        o->data = malloc(len);
        memcpy(o->data, data, len);
    }
    if (f->ops_tail)
        f->ops_tail->next = o;
    else
        f->ops = o;
    f->ops_tail = o;
}

/* Applies <f>'s pending operations to its durable view, each by <fate>. */
static void
settle(struct crashfs *fs, struct cfile *f, enum crashfs_fate fate)
{
    for (struct op *o = f->ops, *next; o; o = next) {
        next = o->next;
        unsigned r = fate == CRASHFS_RANDOM ? rnd(fs) % 4 : fate == CRASHFS_KEEP ? 0 : 1;
        if (o->kind == OP_TRUNCATE) {
            if (r != 1)
                bytes_truncate(&f->dur, o->off);
        } else if (r == 0 || r == 3) {
            bytes_write(&f->dur, o->off, o->data, o->len);
            if (r == 3 && o->len) /* garbled: a few bytes of the sector are wrong */
                for (int k = 0; k < 3; k++)
                    f->dur.p[o->off + rnd(fs) % o->len] ^= (char)(1 + rnd(fs) % 255);
        } else if (r == 2 && o->len) { /* torn: only a prefix made it */
            bytes_write(&f->dur, o->off, o->data, rnd(fs) % o->len);
        }
        free(o->data);
        free(o);
    }
    f->ops = f->ops_tail = NULL;
}

static struct cfile *
fd_file(struct crashfs *fs, int fd)
{
    return fd >= 0 && fd < MAX_FDS ? fs->fds[fd] : NULL;
}

static int
c_open(void *ctx, const char *path, int flags, int mode)
{
    struct crashfs *fs = ctx;
    pthread_mutex_lock(&fs->lock);
    int rc = -EIO;
    if (!fs->crashed) {
        struct cfile *f = find(fs, path);
        if (!f && !(flags & O_CREAT))
            rc = -ENOENT;
        else {
            if (!f)
                f = create(fs, path);
            if (flags & O_TRUNC) {
                pend(f, OP_TRUNCATE, 0, NULL, 0);
                bytes_truncate(&f->cur, 0);
            }
            rc = -EMFILE;
            for (int fd = 3; fd < MAX_FDS; fd++)
                if (!fs->fds[fd]) {
                    fs->fds[fd] = f;
                    rc = fd;
                    break;
                }
        }
    }
    pthread_mutex_unlock(&fs->lock);
    return rc;
}

static int
c_close(void *ctx, int fd)
{
    struct crashfs *fs = ctx;
    pthread_mutex_lock(&fs->lock);
    if (fd >= 0 && fd < MAX_FDS)
        fs->fds[fd] = NULL;
    pthread_mutex_unlock(&fs->lock);
    return 0;
}

static int
c_pwrite(void *ctx, int fd, const void *buf, size_t n, uint64_t off)
{
    struct crashfs *fs = ctx;
    pthread_mutex_lock(&fs->lock);
    struct cfile *f = fd_file(fs, fd);
    int rc = fs->crashed || !f ? -EIO : 0;
    if (rc == 0) {
        size_t take = fs->fail_err ? n / 2 : n;
        pend(f, OP_WRITE, off, buf, take);
        if (take)
            bytes_write(&f->cur, off, buf, take);
        rc = fs->fail_err;
    }
    pthread_mutex_unlock(&fs->lock);
    return rc;
}

static ssize_t
c_pread(void *ctx, int fd, void *buf, size_t n, uint64_t off)
{
    struct crashfs *fs = ctx;
    pthread_mutex_lock(&fs->lock);
    struct cfile *f = fd_file(fs, fd);
    ssize_t rc = -EIO;
    if (!fs->crashed && f) {
        size_t avail = off < f->cur.len ? f->cur.len - (size_t)off : 0;
        rc = (ssize_t)(n < avail ? n : avail);
        if (rc)
            memcpy(buf, f->cur.p + off, (size_t)rc);
    }
    pthread_mutex_unlock(&fs->lock);
    return rc;
}

static int
c_fsync(void *ctx, int fd)
{
    struct crashfs *fs = ctx;
    pthread_mutex_lock(&fs->lock);
    struct cfile *f = fd_file(fs, fd);
    int rc = fs->crashed || !f ? -EIO : fs->fail_err;
    if (rc == 0 && ++fs->syncs == fs->crash_at) {
        fs->crashed = true;
        rc = -EIO;
    }
    if (rc == 0)
        settle(fs, f, CRASHFS_KEEP);
    pthread_mutex_unlock(&fs->lock);
    return rc;
}

static int
c_sync_dir(void *ctx, const char *path)
{
    struct crashfs *fs = ctx;
    pthread_mutex_lock(&fs->lock);
    int rc = fs->crashed ? -EIO : fs->fail_err;
    pthread_mutex_unlock(&fs->lock);
    return rc;
}

static int
c_truncate(void *ctx, int fd, uint64_t size)
{
    struct crashfs *fs = ctx;
    pthread_mutex_lock(&fs->lock);
    struct cfile *f = fd_file(fs, fd);
    int rc = fs->crashed || !f ? -EIO : 0;
    if (rc == 0) {
        pend(f, OP_TRUNCATE, size, NULL, 0);
        bytes_truncate(&f->cur, size);
    }
    pthread_mutex_unlock(&fs->lock);
    return rc;
}

static int
c_size(void *ctx, int fd, uint64_t *out)
{
    struct crashfs *fs = ctx;
    pthread_mutex_lock(&fs->lock);
    struct cfile *f = fd_file(fs, fd);
    int rc = fs->crashed || !f ? -EIO : 0;
    if (rc == 0)
        *out = f->cur.len;
    pthread_mutex_unlock(&fs->lock);
    return rc;
}

static int
c_unlink(void *ctx, const char *path)
{
    struct crashfs *fs = ctx;
    pthread_mutex_lock(&fs->lock);
    struct cfile *f = fs->crashed ? NULL : find(fs, path);
    int rc = fs->crashed ? -EIO : f ? 0 : -ENOENT;
    if (f)
        f->unlinked = true;
    pthread_mutex_unlock(&fs->lock);
    return rc;
}

static int
c_list(void *ctx, const char *path, rp_fileops_name_fn fn, void *arg)
{
    struct crashfs *fs = ctx;
    size_t plen = strlen(path);
    pthread_mutex_lock(&fs->lock);
    int rc = fs->crashed ? -EIO : 0;
    for (size_t i = 0; rc == 0 && i < fs->n_files; i++) {
        struct cfile *f = fs->files[i];
        if (!f->unlinked && strncmp(f->path, path, plen) == 0 && f->path[plen] == '/' &&
            !strchr(f->path + plen + 1, '/'))
            rc = fn(arg, f->path + plen + 1);
    }
    pthread_mutex_unlock(&fs->lock);
    return rc;
}

struct crashfs *
crashfs_new(uint32_t seed)
{
    struct crashfs *fs = calloc(1, sizeof(*fs));
    pthread_mutex_init(&fs->lock, NULL);
    fs->rng = seed * 2654435761u + 1;
    fs->ops = (struct rp_fileops){
        .open = c_open,
        .close = c_close,
        .pwrite = c_pwrite,
        .pread = c_pread,
        .fsync = c_fsync,
        .sync_dir = c_sync_dir,
        .truncate = c_truncate,
        .size = c_size,
        .unlink = c_unlink,
        .list = c_list,
        .ctx = fs,
    };
    return fs;
}

void
crashfs_free(struct crashfs *fs)
{
    if (!fs)
        return;
    for (size_t i = 0; i < fs->n_files; i++) {
        struct cfile *f = fs->files[i];
        settle(fs, f, CRASHFS_DROP);
        free(f->cur.p);
        free(f->dur.p);
        free(f->path);
        free(f);
    }
    free(fs->files);
    pthread_mutex_destroy(&fs->lock);
    free(fs);
}

const struct rp_fileops *
crashfs_ops(struct crashfs *fs)
{
    return &fs->ops;
}

void
crashfs_crash_at_sync(struct crashfs *fs, unsigned n)
{
    pthread_mutex_lock(&fs->lock);
    fs->crash_at = n ? fs->syncs + n : 0;
    pthread_mutex_unlock(&fs->lock);
}

bool
crashfs_crashed(struct crashfs *fs)
{
    pthread_mutex_lock(&fs->lock);
    bool c = fs->crashed;
    pthread_mutex_unlock(&fs->lock);
    return c;
}

void
crashfs_reboot(struct crashfs *fs, enum crashfs_fate fate)
{
    pthread_mutex_lock(&fs->lock);
    for (size_t i = 0; i < fs->n_files; i++) {
        struct cfile *f = fs->files[i];
        settle(fs, f, fate);
        f->cur.len = 0;
        bytes_write(&f->cur, 0, f->dur.p ? f->dur.p : "", f->dur.len);
        f->cur.len = f->dur.len;
    }
    memset(fs->fds, 0, sizeof(fs->fds));
    fs->crashed = false;
    fs->crash_at = 0;
    pthread_mutex_unlock(&fs->lock);
}

void
crashfs_fail_writes(struct crashfs *fs, int err)
{
    pthread_mutex_lock(&fs->lock);
    fs->fail_err = err;
    pthread_mutex_unlock(&fs->lock);
}

unsigned
crashfs_syncs(struct crashfs *fs)
{
    pthread_mutex_lock(&fs->lock);
    unsigned n = fs->syncs;
    pthread_mutex_unlock(&fs->lock);
    return n;
}

char *
crashfs_get(struct crashfs *fs, const char *path, size_t *len)
{
    pthread_mutex_lock(&fs->lock);
    struct cfile *f = find(fs, path);
    char *out = NULL;
    if (f) {
        out = malloc(f->cur.len + 1);
        if (f->cur.len)
            memcpy(out, f->cur.p, f->cur.len);
        *len = f->cur.len;
    }
    pthread_mutex_unlock(&fs->lock);
    return out;
}

void
crashfs_put(struct crashfs *fs, const char *path, const void *data, size_t len)
{
    pthread_mutex_lock(&fs->lock);
    struct cfile *f = find(fs, path);
    if (!f)
        f = create(fs, path);
    settle(fs, f, CRASHFS_DROP);
    f->cur.len = f->dur.len = 0;
    bytes_write(&f->cur, 0, data, len);
    bytes_write(&f->dur, 0, data, len);
    f->cur.len = f->dur.len = len;
    pthread_mutex_unlock(&fs->lock);
}

bool
crashfs_remove(struct crashfs *fs, const char *path)
{
    pthread_mutex_lock(&fs->lock);
    struct cfile *f = find(fs, path);
    if (f)
        f->unlinked = true;
    pthread_mutex_unlock(&fs->lock);
    return f != NULL;
}
