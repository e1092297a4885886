/* SPDX-License-Identifier: MIT */
/*
 * revenprox-bench: a load generator for SSE servers (RevenProx, nchan, Pushpin) on loopback.
 * `revenprox-bench --help` lists the commands and options; bench_opts.c holds them.
 */
#include "gen/bench_opts.h"
#include "gen/bench_run.h"

int
main(int argc, char **argv)
{
    static struct bench_opts opts;
    int err = bench_opts_parse(&opts, argc, argv);
    if (err > 0)
        return 0;
    if (err < 0)
        return 2;
    return bench_run_main(&opts);
}
