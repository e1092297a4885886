/* SPDX-License-Identifier: MIT */
#ifndef BENCH_GEN_BENCH_PAYLOAD_H
#define BENCH_GEN_BENCH_PAYLOAD_H
/*
 * The event data the benchmark publishes and recognises: "<pub> <seq> <t_ns> " (decimal
 * publisher index, sequence number from 1 per publisher and topic, CLOCK_MONOTONIC
 * nanoseconds at send) padded with 'x' to the requested size. Pure functions, any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest "<pub> <seq> <t_ns> " header. */
#define BENCH_PAYLOAD_HEAD_MAX 64

struct bench_payload {
    uint32_t pub;
    uint64_t seq;
    uint64_t t_ns;
};

/* Writes <v> in decimal at <out> (room for 20 bytes) and returns the digits written. */
size_t bench_payload_u64(char *out, uint64_t v);
/*
 * Writes the data of one event at <out> and returns its length: <size> bytes, or just the
 * header when it is longer than <size>. <out> has room for <size> + BENCH_PAYLOAD_HEAD_MAX.
 */
size_t bench_payload_format(char *out, const struct bench_payload *pl, size_t size);
/*
 * Parses the header of the event data whose first <kept> bytes are at <data>; false when it
 * is not a payload (a number is missing or too long, or a separator is wrong).
 */
bool bench_payload_parse(const char *data, size_t kept, struct bench_payload *pl);

#endif
