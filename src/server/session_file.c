/* SPDX-License-Identifier: MIT */
#include "server/session_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "core/hub.h"
#include "core/session.h"

#define FILE_NAME "sessions"
#define MAX_FILE (1024 * 1024 * 1024) /* a gigabyte of sessions is not ours */

char *
rp_session_file_path(const char *data_dir)
{
    if (!data_dir || !*data_dir)
        return NULL;
    size_t len = strlen(data_dir) + sizeof(FILE_NAME) + 2;
    char *p = rp_xmalloc(len);
    snprintf(p, len, "%s/%s", data_dir, FILE_NAME);
    return p;
}

int
rp_session_file_load(const char *path, struct rp_session_table *t)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size > MAX_FILE) {
        close(fd);
        return -EFBIG;
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *data = rp_xmalloc(size + 1);
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    int n = rp_session_table_decode(t, data, got, rp_clock_wall_ms());
    free(data);
    if (n < 0)
        RP_LOG(RP_LOG_WARN, "session", "msg=\"the sessions file is not ours; ignored\" path=\"%s\"",
               path);
    else
        RP_LOG(RP_LOG_INFO, "session", "msg=\"sessions restored\" sessions=%d", n);
    return n < 0 ? 0 : n;
}

static int
write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The directory of <path> is synced so the rename itself survives a crash. */
static void
sync_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int
rp_session_file_save(const char *path, struct rp_session_table *t, bool force)
{
    struct rp_buf b;
    rp_buf_init(&b, MAX_FILE);
    if (!rp_session_table_encode(t, force, &b)) {
        rp_buf_fini(&b);
        return 0;
    }
    size_t len = strlen(path) + 8;
    char *tmp = rp_xmalloc(len);
    snprintf(tmp, len, "%s.tmp", path);
    int err = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = -errno;
    } else {
        err = write_all(fd, b.data ? b.data : "", b.len);
        if (!err && fsync(fd) != 0)
            err = -errno;
        close(fd);
        if (!err && rename(tmp, path) != 0)
            err = -errno;
    }
    if (err) {
        unlink(tmp);
        RP_LOG(RP_LOG_WARN, "session",
               "msg=\"cannot write the sessions file: %s (retried next second)\" path=\"%s\"",
               strerror(-err), path);
        rp_session_table_mark_dirty(t);
    } else {
        sync_dir(path);
    }
    free(tmp);
    rp_buf_fini(&b);
    return err;
}

void
rp_session_file_forget_topic(void *ctx, const char *id)
{
    struct rp_hub *hub = ctx;
    char topic[sizeof(RP_SESSION_TOPIC_PREFIX) + RP_SESSION_ID_LEN];
    int len = snprintf(topic, sizeof(topic), "%s%s", RP_SESSION_TOPIC_PREFIX, id);
    rp_hub_drop(hub, topic, (size_t)len);
}
