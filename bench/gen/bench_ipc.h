/* SPDX-License-Identifier: MIT */
#ifndef BENCH_GEN_BENCH_IPC_H
#define BENCH_GEN_BENCH_IPC_H
/*
 * Messages between the parent and its subscriber processes. Children write framed messages
 * (type, length, payload; blocking, whole) on their report pipe; the parent reads them
 * without blocking into one capped buffer per child and takes out whole messages. The parent
 * commands children with single bytes on a control pipe. Both ends run on one machine, so
 * structs travel in host byte order.
 */
#include <stddef.h>
#include <stdint.h>

struct rp_buf;

enum bench_ipc_type {
    BENCH_IPC_PROGRESS = 1, /* struct bench_sub_progress */
    BENCH_IPC_READY,        /* struct bench_sub_progress, then uint32_t per topic */
    BENCH_IPC_RESULT,       /* struct bench_sub_stats, then struct bench_hist */
};

/* Control bytes, parent to child. */
#define BENCH_IPC_CMD_FREEZE 'F' /* stop connecting, drop pending attempts, send READY */
#define BENCH_IPC_CMD_STOP 'S'   /* send RESULT and exit */

/*
 * Writes one message of <type> whose payload is <a_len> bytes at <a> then <b_len> at <b>
 * (<b> may be NULL) to the blocking <fd>. Returns 0 or a negative errno.
 */
int bench_ipc_send(int fd, uint32_t type, const void *a, size_t a_len, const void *b, size_t b_len);
/*
 * Reads what <fd> (non-blocking) has into <in>. Returns the bytes read, 0 at end of file,
 * -EAGAIN when nothing is there, or another negative errno.
 */
long bench_ipc_read(int fd, struct rp_buf *in);
/*
 * Finds the first whole message in <in>: returns 1 and sets <*type>, <*payload> (borrowed,
 * valid until <in> changes) and <*len>; 0 when none is complete yet. Drop it afterwards with
 * rp_buf_consume(in, BENCH_IPC_HEAD + len).
 */
int bench_ipc_next(const struct rp_buf *in, uint32_t *type, const char **payload, uint32_t *len);

#define BENCH_IPC_HEAD 8

#endif
