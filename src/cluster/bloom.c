/* SPDX-License-Identifier: MIT */
#include "cluster/bloom.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

enum { MIN_BITS = 64, MAX_BITS = 1 << 30, MAX_HASHES = 32 };

static uint64_t
mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Two independent-enough 64-bit hashes of <key>: FNV-1a, finished by two different mixes.
 * Bit i of k is (h1 + i * h2) mod n_bits (Kirsch and Mitzenmacher's double hashing). */
static void
hash2(const void *key, size_t len, uint64_t *h1, uint64_t *h2)
{
    const uint8_t *p = key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    *h1 = mix(h);
    *h2 = mix(h ^ 0x9e3779b97f4a7c15ull) | 1;
}

int
rp_bloom_init(struct rp_bloom *b, uint64_t capacity, double fpr)
{
    if (capacity == 0 || !(fpr > 0 && fpr < 1))
        return -EINVAL;
    double ln2 = log(2.0);
    double m = ceil(-(double)capacity * log(fpr) / (ln2 * ln2));
    if (m < MIN_BITS)
        m = MIN_BITS;
    if (m > MAX_BITS)
        m = MAX_BITS;
    uint32_t n_bits = ((uint32_t)m + 7) & ~7u;
    double k = round(n_bits / (double)capacity * ln2);
    b->hashes = k < 1 ? 1 : k > MAX_HASHES ? MAX_HASHES : (unsigned)k;
    b->n_bits = n_bits;
    b->bits = rp_xcalloc(n_bits / 8, 1);
    return 0;
}

int
rp_bloom_init_from(struct rp_bloom *b, const uint8_t *bits, uint32_t n_bits, unsigned hashes)
{
    if (n_bits < 8 || n_bits % 8 || n_bits > MAX_BITS || hashes < 1 || hashes > MAX_HASHES)
        return -EINVAL;
    b->bits = rp_xmalloc(n_bits / 8);
    memcpy(b->bits, bits, n_bits / 8);
    b->n_bits = n_bits;
    b->hashes = hashes;
    return 0;
}

void
rp_bloom_fini(struct rp_bloom *b)
{
    free(b->bits);
    b->bits = NULL;
    b->n_bits = 0;
}

void
rp_bloom_clear(struct rp_bloom *b)
{
    memset(b->bits, 0, b->n_bits / 8);
}

void
rp_bloom_add(struct rp_bloom *b, const void *key, size_t len)
{
    uint64_t h1, h2;
    hash2(key, len, &h1, &h2);
    for (unsigned i = 0; i < b->hashes; i++) {
        uint64_t bit = (h1 + i * h2) % b->n_bits;
        b->bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
    }
}

bool
rp_bloom_maybe(const struct rp_bloom *b, const void *key, size_t len)
{
    if (!b->bits)
        return false;
    uint64_t h1, h2;
    hash2(key, len, &h1, &h2);
    for (unsigned i = 0; i < b->hashes; i++) {
        uint64_t bit = (h1 + i * h2) % b->n_bits;
        if (!(b->bits[bit / 8] & (1u << (bit % 8))))
            return false;
    }
    return true;
}
