/* SPDX-License-Identifier: MIT */
#ifndef RP_CLUSTER_REDIS_MSG_H
#define RP_CLUSTER_REDIS_MSG_H
/*
 * The message the Redis engine's publish script sends on a topic's channel, one per event:
 *
 *     <epoch: 8 lowercase hex>:<seq>:<wall_ms>:<group>:<type length>:<id length>:
 *     <type><publisher id><data>
 *
 * The numbers are decimal, with no sign and no leading zeros; <group> is the sequence of the
 * first event of the update the event belongs to with others (the same update under several
 * topics, rp_frame.group), 0 for an event on its own; the type is at most 128 bytes and the
 * publisher id 129 (as a publish allows: 128, after a mark byte the server may add) and the
 * data is everything after them. Made by the
 * script (engine_redis.c), read by every node: the decoder is strict (anything else is refused
 * whole), since whatever can write to the Redis server can write to the channel. Pure; any thread.
 */
#include <stddef.h>
#include <stdint.h>

struct rp_redis_msg {
    uint32_t epoch;
    uint64_t seq;      /* >= 1 */
    int64_t wall_ms;   /* >= 0 */
    uint64_t group;    /* 0: an update of its own */
    const char *event; /* NULL when the event has no type; points into the input */
    size_t event_len;
    const char *pub_id; /* NULL when the event has none; points into the input */
    size_t pub_id_len;
    const char *data; /* points into the input */
    size_t data_len;
};

/* Reads <len> bytes of <p>; 0, or -EINVAL when they are not one message. */
int rp_redis_msg_decode(const char *p, size_t len, struct rp_redis_msg *out);

#endif
