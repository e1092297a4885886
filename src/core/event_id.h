/* SPDX-License-Identifier: MIT */
#ifndef RP_CORE_EVENT_ID_H
#define RP_CORE_EVENT_ID_H
/*
 * Event ids: `<epoch>-<seq>`, the epoch as exactly 8 lowercase hex digits naming one
 * incarnation of the node's log, the sequence in decimal (1..2^63-1, no leading zeros),
 * node-wide and strictly increasing, so one id orders events across all topics.
 * Example: `5f3a9c21-1042`. `<epoch>-0` names the epoch's origin, before its first event:
 * no event has it, a live stream opening before the first event sends it, and a resume
 * from it replays the epoch from its start. Ids only use `0-9 a-f -`: CORS-safe and far
 * below 128 bytes. Pure; any thread.
 */
#include <stddef.h>
#include <stdint.h>

#define RP_EVENT_ID_MAX 28 /* 8 + 1 + 19 digits */

struct rp_event_id {
    uint32_t epoch;
    uint64_t seq;
};

/* Writes the id and a NUL into <out> (at least RP_EVENT_ID_MAX + 1 bytes); returns its length. */
size_t rp_event_id_format(const struct rp_event_id *id, char *out);
/* Parses exactly <len> bytes of <s>; 0, or -EINVAL when it is not an id of this format
 * (seq 0 only as an epoch's origin, `<epoch>-0`). */
int rp_event_id_parse(const char *s, size_t len, struct rp_event_id *out);

/*
 * A mesh id (docs/internals/ids.md): one part per origin, `.`-separated, each an id as above
 * naming the newest sequence of that origin the framing node had taken in; the first part is
 * the framing node's own. Epochs are distinct; a one-part vector is an ordinary id.
 */
#define RP_EVENT_ID_PARTS_MAX 16
#define RP_EVENT_VECTOR_MAX (RP_EVENT_ID_PARTS_MAX * (RP_EVENT_ID_MAX + 1) - 1) /* 463 */

struct rp_event_vector {
    size_t n;
    struct rp_event_id part[RP_EVENT_ID_PARTS_MAX];
};

/* Parses exactly <len> bytes: 1..RP_EVENT_ID_PARTS_MAX parts with distinct epochs; 0 or
 * -EINVAL. */
int rp_event_vector_parse(const char *s, size_t len, struct rp_event_vector *out);
/* Writes the parts, `.`-separated, and a NUL into <out> (RP_EVENT_VECTOR_MAX + 1 bytes);
 * returns the length. */
size_t rp_event_vector_format(const struct rp_event_vector *v, char *out);
/* The sequence of <epoch>'s part, or 0 when the vector has none. */
uint64_t rp_event_vector_get(const struct rp_event_vector *v, uint32_t epoch);
/* Sets <epoch>'s part to <seq> (adding it last when new); -ENOSPC when the vector is full. */
int rp_event_vector_set(struct rp_event_vector *v, uint32_t epoch, uint64_t seq);

#endif
