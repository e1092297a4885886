/* SPDX-License-Identifier: MIT */
#ifndef RP_BASE_HASHMAP_H
#define RP_BASE_HASHMAP_H
/*
 * Open-addressing map from byte-string keys to pointers. Keys are borrowed: they must
 * live as long as their entry (usually the value owns its key). Hashing is keyed by a
 * per-process random seed so peers cannot aim collisions. Not thread-safe.
 */
#include <stddef.h>
#include <stdint.h>

struct rp_hashmap_slot {
    const char *key;
    size_t key_len;
    uint64_t hash;
    void *value;
};

struct rp_hashmap {
    struct rp_hashmap_slot *slots;
    size_t n_slots; /* power of two, or 0 */
    size_t count;
    size_t tombstones;
};

void rp_hashmap_init(struct rp_hashmap *m);
void rp_hashmap_fini(struct rp_hashmap *m);
void *rp_hashmap_get(const struct rp_hashmap *m, const char *key, size_t key_len);
/* Inserts or replaces; the key is borrowed. */
void rp_hashmap_put(struct rp_hashmap *m, const char *key, size_t key_len, void *value);
/* Removes and returns the value, or NULL. */
void *rp_hashmap_remove(struct rp_hashmap *m, const char *key, size_t key_len);
/* Iterates: start with *pos = 0; returns NULL at the end. */
void *rp_hashmap_next(const struct rp_hashmap *m, size_t *pos);
uint64_t rp_hash_bytes(const void *p, size_t n);

#endif
