/* SPDX-License-Identifier: MIT */
#ifndef BENCH_GEN_BENCH_SUB_H
#define BENCH_GEN_BENCH_SUB_H
/*
 * One subscriber process: opens its share of the event-stream connections (global
 * connection j belongs to process j % procs, reads topic j % topics and binds source address
 * j % n_src_ips), parses every stream as SSE, checks each payload's sequence and records its
 * latency. One epoll loop, non-blocking sockets, one shared read buffer and no allocation
 * per event. It reports to the parent over its pipe (see bench_ipc.h) and obeys its control
 * bytes. Runs in a forked child only; never returns to the caller's loop.
 */
#include <stdbool.h>
#include <stdint.h>

#include "gen/bench_hist.h"
#include "gen/bench_opts.h"

/* Sent every 50 ms, once every connection is resolved, and in front of READY. */
struct bench_sub_progress {
    uint64_t n_open;    /* connections open now (answered 200, not closed) */
    uint64_t n_failed;  /* attempts that never got a 200 */
    uint64_t n_pending; /* not tried yet or not answered yet */
    uint64_t delivered; /* payload events, duplicates excluded */
    uint64_t last_open_ns;
    uint64_t last_event_ns;
};

/* READY lists, after its progress, one of these per topic with open connections. */
struct bench_sub_topic_count {
    uint32_t topic;
    uint32_t count;
};

struct bench_sub_stats {
    uint64_t n_target;     /* connections this process was to open */
    uint64_t n_open;       /* open when the connect phase ended */
    uint64_t n_failed;     /* fail_* summed */
    uint64_t fail_connect; /* socket, bind or connect errors (refused, no ports, ...) */
    uint64_t fail_status;  /* answered, but not 200 */
    uint64_t fail_closed;  /* closed, or a malformed head, before the answer */
    uint64_t fail_pending; /* still unanswered (or never tried) when the phase ended */
    uint64_t events;       /* payload events received, duplicates included */
    uint64_t delivered;    /* payload events that were not duplicates */
    uint64_t seq_gaps;     /* sequence numbers skipped (seq > last + 1) */
    uint64_t duplicates;   /* seq == last */
    uint64_t reordered;    /* seq < last */
    uint64_t other;        /* events whose data is not a payload of this run */
    uint64_t stale;        /* of those, payloads sent before this run started */
    uint64_t bytes;        /* stream bytes read after the response heads */
    uint64_t parse_errors; /* broken HTTP framing on open streams */
    uint64_t disconnects;  /* open streams that ended before the stop */
    uint64_t first_event_ns;
    uint64_t last_event_ns;
    uint64_t last_open_ns;
};

struct bench_sub_config {
    const struct bench_opts *opts;
    uint32_t proc;         /* this process's index, 0 .. procs - 1 */
    int ctl_fd;            /* control bytes from the parent (non-blocking read end) */
    int report_fd;         /* messages to the parent (blocking write end) */
    uint64_t run_start_ns; /* payloads stamped before this are stale */
    uint64_t deadline_ns;  /* the process reports and exits by then, whatever happens */
    bool strict_start;     /* a first seq above 1 is a gap (run); else it sets the baseline */
};

/* The body of a subscriber process. Returns its exit status once it has sent RESULT. */
int bench_sub_main(const struct bench_sub_config *cfg);

#endif
