/* SPDX-License-Identifier: MIT */
#ifndef RP_CLUSTER_NNG_MSG_H
#define RP_CLUSTER_NNG_MSG_H
/*
 * The messages of the NNG mesh, one per nng message. Binary, big-endian, every length
 * explicit. Each starts with a header naming its sender:
 *
 *     version u8 (1) | type u8 | sender epoch u32
 *
 * The sender is always the origin of the events it sends (a node forwards only its own
 * publishes), so the epoch names both. Bodies, by type:
 *
 *     HELLO        last_seq u64 | name: str16            on every (re)connect
 *     INTEREST_ADD, INTEREST_REMOVE
 *                  count u16 (>= 1) | count x str16      topics and patterns (+ and #)
 *     BLOOM        generation u64 | hashes u8 (1..32) | bits u32 (8..2^30, a multiple of 8)
 *                  | bits/8 bytes
 *     EVENTS       count u16 (>= 1) | count x event      live, in origin order
 *     GAP_REQUEST  after u64 | upto u64 (after < upto)   "send me your events in (after, upto]"
 *     GAP_ANSWER   after u64 | upto u64 | lost_upto u64 (after <= lost_upto <= upto; lost_upto
 *                  = after: nothing lost) | count u16 | count x event (after < seq <= upto)
 *     HEARTBEAT    last_seq u64 | chain u64              chain: the seq of the last event the
 *                                                        sender sent to this receiver, 0 if none
 *     FILL_REQUEST after u64 | topic: str16              "add <topic> to what I read, and first
 *                                                        send me what you keep of it after <after>"
 *     FILL_ANSWER  after u64 | lost_upto u64 (>= after) | topic: str16 | count u16 | count x event
 *                  (every event of <topic>, lost_upto < seq; lost_upto > after: events of the
 *                  sender up to it are no longer kept, some may have been of <topic>)
 *     event        seq u64 (>= 1) | prev u64 (< seq) | wall_ms u64 (<= INT64_MAX)
 *                  | flags u8 (bit 0: another topic of the previous event's update; no other)
 *                  | topic: str16 (1..255) | type: str8 (0..128) | pub_id: str8 (0..129)
 *                  | data: str32
 *
 * str16 is a u16 length then bytes (1..255 for names); str8 and str32 likewise. Sequences
 * strictly increase within a message. The decoder is strict: anything else (unknown version
 * or type, a short or overlong body, a bound broken) is refused whole, since whatever can
 * reach the listen address can send one. Pure; any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rp_buf;

enum {
    RP_NNG_MSG_VERSION = 1,
    RP_NNG_NAME_MAX = 255,   /* a topic, a pattern, a node name */
    RP_NNG_TYPE_MAX = 128,   /* an event's type: what a publish allows */
    RP_NNG_PUB_ID_MAX = 129, /* a publisher id with its mark (origin or supplied id) */
    RP_NNG_BATCH_MAX = 65535,
    RP_NNG_BLOOM_HASHES_MAX = 32,
    RP_NNG_BLOOM_BITS_MAX = 1u << 30,
};

enum rp_nng_msg_type {
    RP_NNG_HELLO = 1,
    RP_NNG_INTEREST_ADD,
    RP_NNG_INTEREST_REMOVE,
    RP_NNG_BLOOM,
    RP_NNG_EVENTS,
    RP_NNG_GAP_REQUEST,
    RP_NNG_GAP_ANSWER,
    RP_NNG_HEARTBEAT,
    RP_NNG_FILL_REQUEST,
    RP_NNG_FILL_ANSWER,
};

struct rp_nng_event {
    uint64_t seq;
    uint64_t prev; /* the seq of the event the origin sent this receiver before, 0 if none */
    int64_t wall_ms;
    const char *topic; /* all three point into the message */
    size_t topic_len;
    const char *type; /* NULL when the event has no type */
    size_t type_len;
    const char *data;
    size_t data_len;
    const char *pub_id; /* NULL when none: kept in the frame (an upstream's origin id, a
                         * Mercure publisher's supplied id) */
    size_t pub_id_len;
    bool same_update; /* another topic of the previous event's update (rp_publish_item) */
};

/* A decoded message; every pointer points into the input. */
struct rp_nng_msg {
    enum rp_nng_msg_type type;
    uint32_t epoch;    /* the sender's */
    uint64_t last_seq; /* HELLO, HEARTBEAT */
    uint64_t chain;    /* HEARTBEAT */
    const char *name;  /* HELLO; FILL_*: the topic */
    size_t name_len;
    uint64_t generation;             /* BLOOM */
    unsigned hashes;                 /* BLOOM */
    uint32_t bits;                   /* BLOOM */
    const uint8_t *bitmap;           /* BLOOM: bits / 8 bytes */
    uint64_t after, upto, lost_upto; /* GAP_*; FILL_*: after and lost_upto */
    size_t count;           /* INTEREST_*, EVENTS, GAP_ANSWER, FILL_ANSWER: entries that follow */
    const uint8_t *entries; /* the first entry, for rp_nng_msg_next_* */
    const uint8_t *end;
};

/* Reads the <len> bytes at <p>; 0, or -EINVAL when they are not exactly one message. */
int rp_nng_msg_decode(const void *p, size_t len, struct rp_nng_msg *out);
/* The next interest entry of a decoded INTEREST_* message; false after the last. */
bool rp_nng_msg_next_name(struct rp_nng_msg *m, const char **name, size_t *len);
/* The next event of a decoded EVENTS, GAP_ANSWER or FILL_ANSWER message; false after the
 * last. */
bool rp_nng_msg_next_event(struct rp_nng_msg *m, struct rp_nng_event *ev);

/*
 * Encoders: append one message (or, for events, one entry) to <b>; 0 or -ENOBUFS past its
 * cap, -EINVAL when an argument breaks a bound above (the message is then unfinished: the
 * caller drops <b>'s content). A batch is begun with its count and each event appended.
 */
int rp_nng_msg_hello(struct rp_buf *b, uint32_t epoch, uint64_t last_seq, const char *name,
                     size_t name_len);
int rp_nng_msg_interest(struct rp_buf *b, uint32_t epoch, bool add, const char *const *names,
                        const size_t *lens, size_t count);
int rp_nng_msg_bloom(struct rp_buf *b, uint32_t epoch, uint64_t generation, unsigned hashes,
                     uint32_t bits, const uint8_t *bitmap);
int rp_nng_msg_events(struct rp_buf *b, uint32_t epoch, size_t count);
int rp_nng_msg_gap_request(struct rp_buf *b, uint32_t epoch, uint64_t after, uint64_t upto);
int rp_nng_msg_gap_answer(struct rp_buf *b, uint32_t epoch, uint64_t after, uint64_t upto,
                          uint64_t lost_upto, size_t count);
int rp_nng_msg_heartbeat(struct rp_buf *b, uint32_t epoch, uint64_t last_seq, uint64_t chain);
int rp_nng_msg_fill_request(struct rp_buf *b, uint32_t epoch, uint64_t after, const char *topic,
                            size_t len);
int rp_nng_msg_fill_answer(struct rp_buf *b, uint32_t epoch, uint64_t after, uint64_t lost_upto,
                           const char *topic, size_t len, size_t count);
int rp_nng_msg_event(struct rp_buf *b, const struct rp_nng_event *ev);
/* Sets the count of the EVENTS or GAP_ANSWER message at the start of <b> to <count>. */
void rp_nng_msg_set_count(struct rp_buf *b, size_t count);

#endif
