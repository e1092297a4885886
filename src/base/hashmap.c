/* SPDX-License-Identifier: MIT */
#include "base/hashmap.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include "base/alloc.h"

static uint64_t hash_seed[2];
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void
seed_init(void)
{
    if (getrandom(hash_seed, sizeof(hash_seed), 0) != (ssize_t)sizeof(hash_seed)) {
        hash_seed[0] = 0x736f6d6570736575ULL ^ (uint64_t)(uintptr_t)&hash_seed;
        hash_seed[1] = 0x646f72616e646f6dULL;
    }
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

/* SipHash-1-3: keyed, so collision floods need the secret seed. */
uint64_t
rp_hash_bytes(const void *p, size_t n)
{
    pthread_once(&seed_once, seed_init);
    const unsigned char *in = p;
    uint64_t v0 = 0x736f6d6570736575ULL ^ hash_seed[0];
    uint64_t v1 = 0x646f72616e646f6dULL ^ hash_seed[1];
    uint64_t v2 = 0x6c7967656e657261ULL ^ hash_seed[0];
    uint64_t v3 = 0x7465646279746573ULL ^ hash_seed[1];
    uint64_t b = (uint64_t)n << 56;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t m;
        memcpy(&m, in + i, 8);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    for (size_t j = 0; i + j < n; j++)
        b |= (uint64_t)in[i + j] << (8 * j);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

void
rp_hashmap_init(struct rp_hashmap *m)
{
    memset(m, 0, sizeof(*m));
}

void
rp_hashmap_fini(struct rp_hashmap *m)
{
    RP_FREE(m->slots);
    memset(m, 0, sizeof(*m));
}

static const char tombstone_key[1];

static struct rp_hashmap_slot *
find_slot(const struct rp_hashmap *m, const char *key, size_t key_len, uint64_t h)
{
    if (!m->n_slots)
        return NULL;
    size_t mask = m->n_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct rp_hashmap_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != tombstone_key && s->hash == h && s->key_len == key_len &&
            memcmp(s->key, key, key_len) == 0)
            return s;
    }
}

static void
grow(struct rp_hashmap *m)
{
    struct rp_hashmap_slot *old = m->slots;
    size_t old_n = m->n_slots;
    size_t n = old_n ? old_n : 8;
    while ((m->count + 1) * 2 > n)
        n *= 2;
    m->slots = rp_xcalloc(n, sizeof(*m->slots));
    m->n_slots = n;
    m->tombstones = 0;
    for (size_t i = 0; i < old_n; i++) {
        struct rp_hashmap_slot *s = &old[i];
        if (!s->key || s->key == tombstone_key)
            continue;
        size_t j = s->hash & (n - 1);
        while (m->slots[j].key)
            j = (j + 1) & (n - 1);
        m->slots[j] = *s;
    }
    free(old);
}

void *
rp_hashmap_get(const struct rp_hashmap *m, const char *key, size_t key_len)
{
    struct rp_hashmap_slot *s = find_slot(m, key, key_len, rp_hash_bytes(key, key_len));
    return s ? s->value : NULL;
}

void
rp_hashmap_put(struct rp_hashmap *m, const char *key, size_t key_len, void *value)
{
    uint64_t h = rp_hash_bytes(key, key_len);
    struct rp_hashmap_slot *s = find_slot(m, key, key_len, h);
    if (s) {
        s->key = key;
        s->value = value;
        return;
    }
    /* Load factor (live + tombstones) stays at or under one half. */
    if ((m->count + m->tombstones + 1) * 2 > m->n_slots)
        grow(m);
    size_t mask = m->n_slots - 1;
    size_t i = h & mask;
    while (m->slots[i].key && m->slots[i].key != tombstone_key)
        i = (i + 1) & mask;
    if (m->slots[i].key == tombstone_key)
        m->tombstones--;
    m->slots[i] = (struct rp_hashmap_slot){key, key_len, h, value};
    m->count++;
}

void *
rp_hashmap_remove(struct rp_hashmap *m, const char *key, size_t key_len)
{
    struct rp_hashmap_slot *s = find_slot(m, key, key_len, rp_hash_bytes(key, key_len));
    if (!s)
        return NULL;
    void *v = s->value;
    s->key = tombstone_key;
    s->value = NULL;
    m->count--;
    m->tombstones++;
    return v;
}

void *
rp_hashmap_next(const struct rp_hashmap *m, size_t *pos)
{
    while (*pos < m->n_slots) {
        struct rp_hashmap_slot *s = &m->slots[(*pos)++];
        if (s->key && s->key != tombstone_key)
            return s->value;
    }
    return NULL;
}
