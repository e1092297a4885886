/* SPDX-License-Identifier: MIT */
#ifndef RP_SERVER_SESSION_FILE_H
#define RP_SERVER_SESSION_FILE_H
/*
 * The session table on disk (docs/sessions.md): <data_dir>/sessions, the whole table as
 * core/session writes it, replaced atomically (write a temporary file, fsync, rename, fsync
 * the directory) by housekeeping when the table changed, and once more at stop. Read once
 * at start. The sessions' events are not here: they are in the event log like any topic's.
 * Main thread only.
 */
#include <stdbool.h>

struct rp_session_table;

/* <data_dir>/sessions (malloc'd), or NULL for an empty data_dir (no disk log). */
char *rp_session_file_path(const char *data_dir);
/* Adds the sessions of <path> to <t> (all disconnected since now); how many, 0 when there
 * is no file, or -errno when it cannot be read (logged). */
int rp_session_file_load(const char *path, struct rp_session_table *t);
/* Writes <t> to <path> when it changed (or always, with <force>); 0 or -errno (logged; the
 * table stays marked changed, so the next call tries again). */
int rp_session_file_save(const char *path, struct rp_session_table *t, bool force);
/* An expiry hook for rp_session_sweep: the expired session's private events are dropped
 * from the hub (<ctx>, rp_hub_drop), so its topic can be reclaimed. */
void rp_session_file_forget_topic(void *ctx, const char *id);

#endif
