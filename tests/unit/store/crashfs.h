/* SPDX-License-Identifier: MIT */
#ifndef RP_TESTS_CRASHFS_H
#define RP_TESTS_CRASHFS_H
/*
 * A crash-simulating file layer for the store's tests (SQLite's test6.c): files live in
 * memory with two views, what the process sees and what a fsync made durable; writes and
 * truncations since a file's last fsync are kept aside as pending operations. At the Nth
 * fsync (or at crashfs_reboot) the machine "crashes": the pending operations are dropped,
 * kept, torn or garbled, and the durable view is all that remains. It can also fail writes
 * and fsyncs with an errno (a full disk). Simplifications: creating and unlinking a file
 * are durable at once. Any thread (one lock).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct crashfs;
struct rp_fileops;

enum crashfs_fate {
    CRASHFS_DROP = 0, /* power loss, nothing unsynced reached the disk */
    CRASHFS_KEEP,     /* process crash: the kernel writes everything */
    CRASHFS_RANDOM,   /* each pending operation kept, dropped, torn or garbled */
};

struct crashfs *crashfs_new(uint32_t seed);
void crashfs_free(struct crashfs *fs);
/* The ops table over <fs> (valid while <fs> lives). */
const struct rp_fileops *crashfs_ops(struct crashfs *fs);
/* The <n>th fsync from now (1 = the next) fails with -EIO and leaves the layer crashed:
 * every later operation fails with -EIO until crashfs_reboot. 0 cancels. */
void crashfs_crash_at_sync(struct crashfs *fs, unsigned n);
bool crashfs_crashed(struct crashfs *fs);
/* Applies <fate> to every pending operation, closes every descriptor, clears the crash. */
void crashfs_reboot(struct crashfs *fs, enum crashfs_fate fate);
/* While <err> (negative errno) is set, pwrite writes half of its bytes then fails with it,
 * and fsync fails with it (making nothing durable). 0 clears. */
void crashfs_fail_writes(struct crashfs *fs, int err);
unsigned crashfs_syncs(struct crashfs *fs);
/* The current bytes of <path> (malloc'd copy, the caller frees), or NULL if none. */
char *crashfs_get(struct crashfs *fs, const char *path, size_t *len);
/* Sets <path>'s durable and current bytes (creating it). */
void crashfs_put(struct crashfs *fs, const char *path, const void *data, size_t len);
/* Removes <path>; false if it did not exist. */
bool crashfs_remove(struct crashfs *fs, const char *path);

#endif
