/* SPDX-License-Identifier: MIT */
#ifndef RP_OPS_PROCESS_H
#define RP_OPS_PROCESS_H
/*
 * The process's own figures for /metrics, under the names Prometheus client libraries use
 * (process_cpu_seconds_total, process_resident_memory_bytes, ...), read from /proc/self.
 * Not responsible for rendering (ops/metrics). Any thread.
 */
#include <stdint.h>

struct rp_process_stats {
    double cpu_seconds;   /* user + system */
    uint64_t rss_bytes;   /* resident memory */
    uint64_t vsize_bytes; /* virtual memory */
    uint64_t open_fds;    /* descriptors open now */
    uint64_t max_fds;     /* the soft open files limit */
    double start_time_s;  /* since the Unix epoch */
    uint64_t threads;
};

/* Fills <out> from /proc/self; 0, or -errno when /proc cannot be read (out is zeroed). */
int rp_process_read(struct rp_process_stats *out);

#endif
