/* SPDX-License-Identifier: MIT */
#ifndef RP_SERVER_HANDOVER_WIRE_H
#define RP_SERVER_HANDOVER_WIRE_H
/*
 * The upgrade's wire format: what a running process hands to its successor over a Unix
 * SOCK_SEQPACKET socket. The listening sockets and every live connection's socket travel as
 * file descriptors (SCM_RIGHTS, in batches); the topic logs (with their sequences and epoch)
 * and each connection's place travel in a memfd: a stream's filters, last sequence handed
 * to the socket and bytes still owed; an HTTP connection's unanswered request bytes and
 * unwritten answers. So the successor resumes every connection exactly where the old
 * process stopped: no event lost or sent twice, no request dropped or carried out twice.
 * Not responsible for quiescing workers or starting the successor (server/handover.c).
 * Main thread only.
 */
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "front/conn.h"

struct rp_hub;

/* One handed-over event, pointing into the state's buffer. */
struct rp_handover_event {
    const char *topic;
    uint32_t topic_len;
    uint64_t seq;
    int64_t wall_ms;
    const char *event; /* NULL for none */
    uint32_t event_len;
    const char *data;
    uint32_t data_len;
    const char *pub_id; /* NULL for none */
    uint32_t pub_id_len;
};

/* A topic whose events up to <seq> are no longer kept; <topic> points into the buffer. */
struct rp_handover_gap {
    const char *topic;
    uint32_t topic_len;
    uint64_t seq;
};

/* A gap floor of reclaimed topics (core/hub.h: rp_hub_raise_floor). */
struct rp_handover_floor {
    uint32_t slot;
    uint64_t seq;
};

/* What the successor received. */
struct rp_handover_state {
    uint32_t epoch;
    uint64_t last_seq;
    int *listeners;
    size_t n_listeners;
    struct rp_conn_export *conns;
    size_t n_conns;
    struct rp_handover_event *events; /* in sequence order */
    size_t n_events;
    struct rp_handover_gap *gaps;
    size_t n_gaps;
    struct rp_handover_floor *floors;
    size_t n_floors;
    char *buf; /* the memfd's bytes, which <events> point into */
    size_t buf_len;
    int peer; /* the socket to the previous process (server/handover.c; borrowed), or -1 */
};

/* Old side: sends the hub's logs, <listeners> and <conns>. 0 or -errno, <diag> filled. */
int rp_handover_send(int sock, struct rp_hub *hub, const int *listeners, size_t n_listeners,
                     const struct rp_conn_export *conns, size_t n_conns, struct rp_diag *diag);
/* New side: receives into the zeroed <out>. 0 or -errno, <diag> filled. */
int rp_handover_receive(int sock, struct rp_handover_state *out, struct rp_diag *diag);
/*
 * Decodes the state bytes <out>->buf (<out>->buf_len) into <out>'s events and connections
 * (descriptors not yet attached: -1). 0, or -EPROTO with <diag> filled for a truncated or
 * malformed state. Untrusted input as far as memory safety goes (fuzz/handover_fuzz.c).
 */
int rp_handover_parse(struct rp_handover_state *out, struct rp_diag *diag);
/* What rp_handover_restore_hub left out to fit this process's limits. */
struct rp_handover_trim {
    size_t events; /* events not restored */
    size_t topics; /* topics whose log now starts later than the old process's did */
};
/*
 * New side: appends the received events to <hub> (created with the received epoch). An
 * event whose data is over <max_data> (the limit was lowered) is not restored, nor is any
 * older event of its topic: a log only ever loses its oldest events, so the topic's
 * evicted sequence says exactly what is gone and a reader resuming from before it is told
 * (`event: resync`). <trim> (may be NULL) counts what was left out. 0, or the hub's -errno
 * for an event it refuses otherwise (topics over its max_topics: see rp_hub_set_max_topics).
 */
int rp_handover_restore_hub(const struct rp_handover_state *st, struct rp_hub *hub,
                            uint64_t max_data, struct rp_handover_trim *trim);
/* Frees <st>; file descriptors still in it (not taken: set to -1) are closed. */
void rp_handover_state_fini(struct rp_handover_state *st);
/* One-byte messages of the handshake (R: successor ready to receive, K: taken over). */
int rp_handover_send_byte(int sock, char c);
/* Waits up to <timeout_ms> for a one-byte message; the byte, or -errno (-ETIMEDOUT,
 * -EPIPE when the peer went away). */
int rp_handover_wait_byte(int sock, int timeout_ms);

#endif
