/* SPDX-License-Identifier: MIT */
#ifndef BENCH_GEN_BENCH_PUB_H
#define BENCH_GEN_BENCH_PUB_H
/*
 * The publishers: --publishers keep-alive HTTP/1.1 connections, each with up to --pipeline
 * requests outstanding. Publisher p owns topics p, p + C, p + 2C, ... and publishes to them
 * in turn; a token bucket over all publishers spreads --pub-rate evenly (or, at rate 0, every
 * window is kept full). Answers are matched to requests in order, so acknowledgements are
 * counted per topic. Runs on the caller's epoll set; not the place for subscribers. Single
 * thread.
 */
#include <stdbool.h>
#include <stdint.h>

#include "gen/bench_opts.h"

struct bench_pub;

struct bench_pub_totals {
    uint64_t published;   /* requests sent */
    uint64_t acked;       /* answered 2xx */
    uint64_t failed;      /* answered otherwise, or lost with a broken connection */
    uint64_t unacked;     /* still unanswered when publishing was stopped */
    uint64_t conn_errors; /* publisher connections that failed or broke */
    uint64_t first_send_ns;
    uint64_t last_ack_ns;
};

/*
 * Creates the publishers for <o> on the epoll set <epfd>; their events carry <tag> | index
 * (the low 32 bits are the index). Connects nothing yet.
 */
struct bench_pub *bench_pub_new(const struct bench_opts *o, int epfd, uint64_t tag);
void bench_pub_free(struct bench_pub *p);
/* Connects the publishers and publishes from <now_ns> until <end_ns>. */
void bench_pub_start(struct bench_pub *p, uint64_t now_ns, uint64_t end_ns);
/* Handles the epoll <events> of publisher <idx>. */
void bench_pub_on_ready(struct bench_pub *p, uint32_t idx, uint32_t events);
/*
 * Publishes what the rate allows at <now_ns> and reconnects broken publishers after a pause.
 * Returns the milliseconds after which it wants to run again.
 */
int bench_pub_tick(struct bench_pub *p, uint64_t now_ns);
/* True once --count publishes are sent (never without --count). */
bool bench_pub_count_reached(const struct bench_pub *p);
/* True once the publishing time is over and no request is outstanding. */
bool bench_pub_idle(const struct bench_pub *p);
/* Closes every publisher; outstanding requests count as unacked. */
void bench_pub_stop(struct bench_pub *p);
/* Acknowledged publishes per topic (--topics entries); borrowed, valid until free. */
const uint64_t *bench_pub_acked_by_topic(const struct bench_pub *p);
void bench_pub_get_totals(const struct bench_pub *p, struct bench_pub_totals *t);

#endif
