/* SPDX-License-Identifier: MIT */
#ifndef BENCH_GEN_BENCH_OPTS_H
#define BENCH_GEN_BENCH_OPTS_H
/*
 * The command line of revenprox-bench: the command (run, sub, pub), its options with their
 * defaults and checks, and the URL templates they carry. Every address must be in
 * 127.0.0.0/8: the benchmark never talks to another host. Parsed once in the parent before
 * any fork; read-only afterwards.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum bench_mode {
    BENCH_MODE_RUN = 0,
    BENCH_MODE_SUB,
    BENCH_MODE_PUB,
};

enum bench_pub_format {
    BENCH_PUB_FORMAT_RAW = 0,
    BENCH_PUB_FORMAT_PUSHPIN,
    BENCH_PUB_FORMAT_MERCURE,
};

/* An http:// URL template on loopback; "{topic}" in its path stands for the topic index. */
struct bench_url {
    struct sockaddr_in addr;
    char host[64];   /* the Host header: host[:port] as written in the URL */
    char path[1024]; /* path and query, "/" when the URL has none */
};

#define BENCH_OPTS_MAX_SRC_IPS 1024
#define BENCH_OPTS_MAX_URLS 8 /* --sub-url and --server-pid, each */

struct bench_opts {
    enum bench_mode mode;
    uint32_t n_sub_urls; /* --sub-url given this many times; connection i uses i % n */
    bool has_pub_url;
    struct bench_url sub_urls[BENCH_OPTS_MAX_URLS];
    struct bench_url pub_url;
    enum bench_pub_format pub_format;
    uint32_t topics;
    uint32_t conns;
    uint32_t procs;
    double connect_rate;    /* new connections/s over all processes; 0 = no limit */
    double connect_timeout; /* seconds for the connect phase */
    uint32_t n_src_ips;
    uint32_t src_ips[BENCH_OPTS_MAX_SRC_IPS]; /* network byte order */
    uint32_t publishers;
    double pub_rate; /* publishes/s over all publishers; 0 = as fast as acknowledged */
    uint32_t pipeline;
    double duration;
    uint32_t count; /* publishes to send at most, over all publishers; 0 = no limit */
    uint32_t size;
    double settle;
    uint32_t n_server_pids;
    pid_t server_pids[BENCH_OPTS_MAX_URLS]; /* sampled together (a cluster's nodes) */
    bool json;
    double timeout;
};

/*
 * Fills <o> from <argc>/<argv> (argv[1] is the command). Returns 0, 1 when help was asked
 * for (printed to stdout), or -EINVAL after printing what was wrong to stderr.
 */
int bench_opts_parse(struct bench_opts *o, int argc, char **argv);
void bench_opts_usage(FILE *out);
/*
 * Writes the path of <u> for <topic> ("{topic}" replaced by its index) at <out> and returns
 * its length; the path is cut at <cap> - 1 bytes and NUL-terminated.
 */
size_t bench_url_path(const struct bench_url *u, uint32_t topic, char *out, size_t cap);
/* The name of <mode> as typed on the command line. */
const char *bench_opts_mode_name(enum bench_mode mode);

#endif
