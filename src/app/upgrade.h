/* SPDX-License-Identifier: MIT */
#ifndef RP_APP_UPGRADE_H
#define RP_APP_UPGRADE_H
/*
 * Zero-downtime upgrade: what a running process hands to its successor over a Unix
 * SOCK_SEQPACKET socket. The listening sockets and every live event stream's socket travel
 * as file descriptors (SCM_RIGHTS, in batches); the topic logs (with their sequences and
 * epoch) and each stream's place (filters, last sequence handed to the socket, bytes still
 * owed) travel in a memfd. So the successor resumes every stream exactly where the old
 * process stopped: no event lost, none sent twice. Not responsible for quiescing workers
 * or starting the successor (app/server.c). Main thread only.
 *
 *   old: start successor --"ready" (R)--> quiesce workers --state + fds--> wait for "K"
 *   new: load config, send R, receive, restore hub, adopt sockets, send K, serve
 */
#include <stddef.h>
#include <stdint.h>

#include "delivery/stream.h"

struct rp_hub;

/* The environment variable naming the successor's end of the socket. */
#define RP_UPGRADE_FD_ENV "REVENPROX_UPGRADE_FD"

struct rp_upgrade_stream {
    int fd;
    struct rp_stream_state st;
};

/* One restored event, pointing into the state's buffer. */
struct rp_upgrade_event {
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

/* What the successor received. */
struct rp_upgrade_state {
    uint32_t epoch;
    uint64_t last_seq;
    int *listeners;
    size_t n_listeners;
    struct rp_upgrade_stream *streams;
    size_t n_streams;
    struct rp_upgrade_event *events; /* in sequence order */
    size_t n_events;
    char *buf; /* the memfd's bytes, which <events> point into */
    size_t buf_len;
};

/* Old side: sends the hub's logs, <listeners> and <streams>. 0 or -errno, <err> filled. */
int rp_upgrade_send(int sock, struct rp_hub *hub, const int *listeners, size_t n_listeners,
                    const struct rp_upgrade_stream *streams, size_t n_streams, char *err,
                    size_t err_cap);
/* New side: receives into the zeroed <out>. 0 or -errno, <err> filled. */
int rp_upgrade_receive(int sock, struct rp_upgrade_state *out, char *err, size_t err_cap);
/* New side: appends the received events to <hub> (created with the received epoch). */
int rp_upgrade_restore_hub(const struct rp_upgrade_state *st, struct rp_hub *hub);
/* Frees <st>; file descriptors still in it (not taken: set to -1) are closed. */
void rp_upgrade_state_fini(struct rp_upgrade_state *st);
/* One-byte messages of the handshake (R: successor ready to receive, K: taken over). */
int rp_upgrade_send_byte(int sock, char c);
/* Waits up to <timeout_ms> for a one-byte message; the byte, or -errno (-ETIMEDOUT,
 * -EPIPE when the peer went away). */
int rp_upgrade_wait_byte(int sock, int timeout_ms);

#endif
