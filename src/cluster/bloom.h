/* SPDX-License-Identifier: MIT */
#ifndef RP_CLUSTER_BLOOM_H
#define RP_CLUSTER_BLOOM_H
/*
 * A Bloom filter of byte strings: the compact snapshot of the topics a mesh node's readers
 * want, which its peers keep as a first test before their exact table. "No" is certain; "maybe"
 * is wrong with about the rate it was sized for while it holds at most its capacity. The hash
 * is fixed (not seeded per process), since a filter built on one node is read on another.
 * Not thread-safe.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rp_bloom {
    uint8_t *bits;
    uint32_t n_bits; /* a multiple of 8, at least 64 */
    unsigned hashes; /* 1 to 32 */
};

/* Sized for <capacity> strings at false-positive rate <fpr> (0 < fpr < 1), empty; the size
 * is capped at 2^30 bits. 0 or -EINVAL. */
int rp_bloom_init(struct rp_bloom *b, uint64_t capacity, double fpr);
/* A copy of the filter <bits> (<n_bits> / 8 bytes) with <hashes> hashes, as a peer sent it. */
int rp_bloom_init_from(struct rp_bloom *b, const uint8_t *bits, uint32_t n_bits, unsigned hashes);
void rp_bloom_fini(struct rp_bloom *b);
void rp_bloom_clear(struct rp_bloom *b);
void rp_bloom_add(struct rp_bloom *b, const void *key, size_t len);
bool rp_bloom_maybe(const struct rp_bloom *b, const void *key, size_t len);

#endif
