/* SPDX-License-Identifier: MIT */
#ifndef RP_CORE_SESSION_H
#define RP_CORE_SESSION_H
/*
 * The session table: a client identity that outlives its connection (docs/sessions.md).
 * A session is an id (128 random bits), the owner binding it was created under, the topics
 * its streams read, how many streams it has open, and, while it has none, since when and
 * where its last stream stopped. Its private events live in the hub as the topic
 * RP_SESSION_TOPIC_PREFIX<id>; this table holds no events, only counts of those sent while
 * it was disconnected (session_buffer). Disconnected sessions are on one list ordered by
 * disconnect time, so expiry is one sweep from the oldest end (no timer per session).
 * Not responsible for the hub topic, cookies or HTTP: api/sessions.c is.
 *
 * Threads: any; one mutex guards the table (each call is short: a hash lookup, or a walk of
 * what expired).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "core/topic_name.h"

struct rp_session_table;

#define RP_SESSION_ID_LEN 32 /* lowercase hex of 16 random bytes */
#define RP_SESSION_TOPIC_PREFIX RP_TOPIC_SESSION_PREFIX

struct rp_session_config {
    int64_t ttl_ms;  /* a disconnected session expires this long after its last stream */
    uint64_t buffer; /* most events sent to a disconnected session before it expires */
};

/* A copy of one session (rp_session_get); free with rp_session_info_fini. */
struct rp_session_info {
    char id[RP_SESSION_ID_LEN + 1];
    char *owner; /* the binding it was created under: "sub:<subject>", "ip:<addr>", ... */
    char **topics;
    size_t n_topics;
    unsigned n_streams;      /* open streams; 0 = disconnected */
    int64_t created_ms;      /* wall clock */
    int64_t disconnected_ms; /* wall clock, while disconnected */
    uint64_t last_seq;       /* where its last stream stopped (0: nothing delivered yet) */
    uint64_t n_buffered;     /* events sent while disconnected */
    uint64_t buffered_bytes;
};
void rp_session_info_fini(struct rp_session_info *s);

/* Node-wide figures for metrics. */
struct rp_session_totals {
    uint64_t connected, disconnected, buffered_bytes;
    uint64_t created, resumes, expiries, hijacks_refused;
};

struct rp_session_table *rp_session_table_new(const struct rp_session_config *cfg);
void rp_session_table_free(struct rp_session_table *t);
/* Takes new limits (a reload); sessions already disconnected keep their start. */
void rp_session_table_configure(struct rp_session_table *t, const struct rp_session_config *cfg);

/* True when the topic <name> is a session's private topic (RP_SESSION_TOPIC_PREFIX...). */
bool rp_session_is_topic(const char *name, size_t len);
/* True when <id> (<len> bytes) has the form of a session id (not whether it exists). */
bool rp_session_id_valid(const char *id, size_t len);

/*
 * Creates a session owned by <owner> reading <topics> (copied), with one stream open, and
 * writes its id to <id_out> (RP_SESSION_ID_LEN + 1 bytes). 0, or -EIO when no randomness
 * could be had.
 */
int rp_session_create(struct rp_session_table *t, const char *owner, const char *const *topics,
                      size_t n_topics, int64_t now_ms, char *id_out);
/*
 * A stream of <id> opens, presented by <owner>: 0 and <out> (may be NULL) filled with the
 * session as it was (its topics, and where its last stream stopped); the session counts the
 * stream and is connected. -ENOENT: no such session (never was, or expired). -EPERM: it
 * belongs to another owner; counted as a refused hijack, the session is not changed.
 * With <topics> (not NULL), they replace what the session remembers.
 */
int rp_session_attach(struct rp_session_table *t, const char *id, const char *owner,
                      const char *const *topics, size_t n_topics, struct rp_session_info *out);
/* A stream of <id> that was already open in the previous process (an upgrade) runs again:
 * counted like an attach, without an owner check (it passed one). 0, or -ENOENT. */
int rp_session_adopt(struct rp_session_table *t, const char *id);
/* Like rp_session_attach without attaching: the session's topics if <owner> may use it. */
int rp_session_peek(struct rp_session_table *t, const char *id, const char *owner,
                    struct rp_session_info *out);
/*
 * A stream of <id> ended having handed every event up to <last_seq> to its socket (0: keep
 * what is known). The last stream to end puts the session on the disconnected list at
 * <now_ms>. A no-op for an unknown id.
 */
void rp_session_detach(struct rp_session_table *t, const char *id, uint64_t last_seq,
                       int64_t now_ms);
/*
 * An event of <bytes> bytes is about to be sent to <id>: 0 (counted when the session is
 * disconnected); -ENOENT unknown or expired; -ENOSPC the session is disconnected with
 * session_buffer events already waiting: it expires now (<expired> is called with its id
 * before this returns; may be NULL) and the event is not to be sent.
 */
int rp_session_note_send(struct rp_session_table *t, const char *id, uint64_t bytes,
                         void (*expired)(void *ctx, const char *id), void *ctx);
/* A copy of <id> into <out>: 0, or -ENOENT. */
int rp_session_get(struct rp_session_table *t, const char *id, struct rp_session_info *out);
/*
 * Appends to <ids> (RP_SESSION_ID_LEN + 1 bytes each, up to <max>) the sessions owned by
 * <owner>, returns how many there are (possibly more than <max>). O(sessions).
 */
size_t rp_session_owned_by(struct rp_session_table *t, const char *owner,
                           char (*ids)[RP_SESSION_ID_LEN + 1], size_t max);
/*
 * Removes every disconnected session whose last stream ended at least ttl_ms before
 * <now_ms>, oldest first, calling <expired> with each id (under the table's lock: it must
 * not call back into the table). Returns how many.
 */
size_t rp_session_sweep(struct rp_session_table *t, int64_t now_ms,
                        void (*expired)(void *ctx, const char *id), void *ctx);
void rp_session_totals(struct rp_session_table *t, struct rp_session_totals *out);
size_t rp_session_count(struct rp_session_table *t);

/*
 * Persistence (docs/sessions.md): the whole table as text, one session a line, and back.
 * rp_session_table_encode clears the dirty mark and returns whether anything changed since
 * the last encode (with <force> false, nothing is written into <out> when nothing changed).
 * rp_session_table_decode adds the sessions in <data> as disconnected since <now_ms> (the
 * clients could not reconnect while the server was down); a line that does not parse is
 * skipped. Returns how many sessions were added, or -EINVAL when the header is not ours.
 */
bool rp_session_table_encode(struct rp_session_table *t, bool force, struct rp_buf *out);
/* Marks the table changed (a save that failed is tried again). */
void rp_session_table_mark_dirty(struct rp_session_table *t);
int rp_session_table_decode(struct rp_session_table *t, const char *data, size_t len,
                            int64_t now_ms);

#endif
