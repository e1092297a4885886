/* SPDX-License-Identifier: MIT */
#ifndef BENCH_GEN_BENCH_RUN_H
#define BENCH_GEN_BENCH_RUN_H
/*
 * The parent process of a benchmark: forks the subscriber processes, drives the phases
 * (connect, then publish or hold, then settle), samples the server, gathers the children's
 * results and prints the report. Every phase is bounded by --timeout. Call once per process.
 */
#include "gen/bench_opts.h"

/* Runs the command <o> describes; returns the process exit status (0 = ran to the end). */
int bench_run_main(const struct bench_opts *o);

#endif
