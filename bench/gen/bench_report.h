/* SPDX-License-Identifier: MIT */
#ifndef BENCH_GEN_BENCH_REPORT_H
#define BENCH_GEN_BENCH_REPORT_H
/*
 * The numbers of one run and how they are printed: a human summary, then (with --json) one
 * JSON line whose field names the scenario scripts read. Figures that do not apply to the
 * command (no subscribers, no publishers, no --server-pid) are printed as null. Computes
 * nothing from sockets; the caller fills it. Single thread.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gen/bench_hist.h"
#include "gen/bench_opts.h"
#include "gen/bench_proc.h"
#include "gen/bench_pub.h"
#include "gen/bench_sub.h"

struct bench_report {
    const struct bench_opts *opts;
    bool timed_out;
    bool has_subs;              /* the command ran subscribers */
    bool has_pubs;              /* the command ran publishers */
    struct bench_sub_stats sub; /* summed over the subscriber processes */
    struct bench_hist hist;     /* merged over the subscriber processes */
    struct bench_pub_totals pub;
    double connect_seconds;
    bool has_expected;
    uint64_t expected;
    double window_s;   /* publishing and delivery window (events_per_s divides by it) */
    double duration_s; /* publishing (run, pub) or holding (sub) time */
    double total_s;
    struct bench_proc_sample srv_before;
    struct bench_proc_sample srv_connected;
    struct bench_proc_sample srv_cpu_start;
    struct bench_proc_sample srv_end;
    double bench_sub_cpu_s; /* CPU time of the subscriber processes */
    double bench_pub_cpu_s; /* CPU time of the parent (publishers) */
};

/* Prints the summary of <r> to <out>, and the JSON line after it when --json was given. */
void bench_report_print(const struct bench_report *r, FILE *out);

#endif
