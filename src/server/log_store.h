/* SPDX-License-Identifier: MIT */
#ifndef RP_SERVER_LOG_STORE_H
#define RP_SERVER_LOG_STORE_H
/*
 * The node's log engine (core/logengine.h), as the composition root runs it: the disk log
 * in data_dir (store/store_disk.h), or none when data_dir is empty (memory only: the hub
 * keeps its windows and a restart starts a new epoch). Opening takes data_dir/store.lock,
 * so two processes never write one log; an upgrade closes the log on the old side before
 * the state goes over and the successor opens it (and the old side opens it again when the
 * successor fails). Main thread only; the engine's hooks run on its writer thread.
 */
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/logengine.h"

struct rp_hub;

struct rp_log_store {
    struct rp_logengine *engine; /* NULL: memory only */
    struct rp_logengine_info opened;
    int lock_fd;
    char *dir;
    bool wait_durable;   /* fsync always: a publish is answered once durable */
    uint64_t load_bytes; /* newest history read into memory at start-up (data_load_bytes) */
};

/*
 * Opens the log data_dir names (creating the directory), recovering what a previous run
 * left. 0 (also with data_dir empty: no engine), or -errno with the reason logged: the
 * directory cannot be made or locked (another process holds it), or the log cannot be read.
 */
int rp_log_store_open(struct rp_log_store *ls, const struct rp_config_values *v,
                      const struct rp_logengine_hooks *hooks);
/*
 * Start-up without a hand-over: every kept event goes into <hub> (its epoch must be the
 * log's, rp_log_store_epoch), oldest first. Events before the oldest kept one, and any
 * range the sequence skips (an unclean stop lost it), are made gaps for every topic, so a
 * reader resuming from before them is told. 0 or -errno (logged).
 */
int rp_log_store_load(struct rp_log_store *ls, struct rp_hub *hub);
/* The epoch <hub> must use: the log's, or 0 (any) for a new log or no engine. */
uint32_t rp_log_store_epoch(const struct rp_log_store *ls);
/*
 * Makes <hub> continue after every sequence the log has reserved and hands it the engine.
 * After an unclean stop the reserved range past the last event becomes a gap for every
 * topic, unless <nothing_lost>: the process that left it unclean is known to have served
 * nothing (a successor that died before taking over an upgrade).
 */
void rp_log_store_attach(struct rp_log_store *ls, struct rp_hub *hub, bool nothing_lost);
/*
 * Detaches the engine from <hub> (which must not be publishing), waits up to <timeout_ms>
 * for every accepted event to become durable, closes the log and releases its lock. 0, or
 * -EIO when events were left not durable (logged). No-op without an engine.
 */
int rp_log_store_close(struct rp_log_store *ls, struct rp_hub *hub, int timeout_ms);

#endif
