/* SPDX-License-Identifier: MIT */
#ifndef BENCH_GEN_BENCH_PROC_H
#define BENCH_GEN_BENCH_PROC_H
/*
 * Samples the server under test from /proc: resident memory of a process and all its live
 * descendants, and CPU time (utime + stime of each, plus cutime + cstime for children
 * already reaped). Linux only; reads files, never signals the process. Any thread.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct bench_proc_sample {
    bool ok;          /* false when <pid> was gone or unreadable */
    uint32_t n_procs; /* the process and its live descendants */
    uint64_t rss_kb;  /* their summed resident set */
    double cpu_s;     /* their summed CPU seconds, reaped children included */
    uint64_t at_ns;   /* CLOCK_MONOTONIC when taken */
};

/* Fills <out> for the process tree rooted at <pid>; returns 0 or a negative errno. */
int bench_proc_sample(pid_t pid, struct bench_proc_sample *out);

#endif
