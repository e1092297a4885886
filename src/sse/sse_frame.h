/* SPDX-License-Identifier: MIT */
#ifndef RP_SSE_SSE_FRAME_H
#define RP_SSE_SSE_FRAME_H
/*
 * An event encoded once as text/event-stream bytes, immutable and reference-counted, so
 * every subscriber on every worker writes the same bytes. A frame is written as two
 * pieces: an `event:` line (empty for an untyped event on a single-topic stream), then
 * the shared rest, `id:` and the `data:` lines. Each piece has two variants of its first
 * part only: "plain" (what a single-topic stream sends: the event's own type, if any)
 * and "tagged" (multi-topic and pattern streams: the type is `<topic>` for an untyped
 * event and `<topic>:<type>` for a typed one, so the client can tell topics apart).
 * The id line is written last (rp_frame_set_id), under the hub's lock, into room reserved
 * at encode time, so the costly encoding of data happens outside that lock.
 * Not responsible for parsing streams. Refcounting is atomic: frames cross threads.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define RP_FRAME_ID_MAX 64 /* longest id rp_frame_set_id accepts, unless id_room says more */
/*
 * A publisher id that starts with this byte is an upstream's id (client/upstream; the hub
 * refuses it from public publishers): its frame carries `origin-id: <the rest>` after the
 * `id:` line, so a RevenProx that reads this one's stream keeps the id the event had at the
 * top of the chain and recognises an event it already has.
 */
#define RP_FRAME_ORIGIN_MARK '\x1e'
#define RP_FRAME_ORIGIN_FIELD "origin-id"
/*
 * A publisher id that starts with this byte is a Mercure publisher's supplied id (the hub
 * refuses it from public publishers): its frame's `id:` line is the rest, written at encode
 * time, and rp_frame_set_id leaves it alone. The hub's sequence still orders the event; the
 * Mercure endpoint maps the supplied id back to it for a resume. The rest is visible ASCII.
 */
#define RP_FRAME_SSE_ID_MARK '\x1f'

struct rp_frame {
    atomic_uint refs;
    uint32_t plain_ev_off, plain_ev_len;   /* "event: <type>\n", or 0 bytes when untyped */
    uint32_t tagged_ev_off, tagged_ev_len; /* "event: <topic>[:<type>]\n" */
    uint32_t id_off;                       /* start of "id: ...\n", set by rp_frame_set_id */
    uint32_t origin_off; /* start of "origin-id: ...\n" (the id line ends here), or body_off */
    uint32_t body_off;   /* start of the data lines */
    uint32_t end;        /* one past the blank line that ends the frame */
    uint32_t event_off, event_len;   /* the event type as given (in the buffer), or 0,0 */
    uint32_t pub_id_off, pub_id_len; /* the publisher's idempotency key, or 0,0 */
    uint32_t topic_len;
    uint32_t data_len; /* length of the data as published */
    /* A stream that writes this frame ends after it (the announcement that an upstream
     * failed for good); not kept in the disk log. */
    bool ends_stream;
    uint16_t id_room; /* the longest id rp_frame_set_id accepts (rp_frame_spec.id_room) */
    /* An event taken in from a mesh peer: the epoch of its origin and its sequence there
     * (docs/internals/ids.md); 0, 0 for an event sequenced by this node. */
    uint32_t origin;
    uint64_t origin_seq;
    /* Monotonic ms when the hub appended it (0 until then): the delivery latency's start. */
    int64_t appended_ms;
    /* Frames of one update published to several topics (Mercure's canonical topic and
     * alternates) share a group: the sequence of the first, set by the hub before it
     * appends them; 0 for an event on its own. A stream writes one frame of a group. */
    uint64_t group;
    char buf[];
};

struct rp_frame_spec {
    const char *topic;
    size_t topic_len;
    const char *event; /* NULL or "" for none */
    size_t event_len;
    const char *data;
    size_t data_len;
    const char *pub_id; /* NULL or "" for none; kept in the frame, never sent */
    size_t pub_id_len;
    bool ends_stream; /* rp_frame.ends_stream */
    /* Room for the id: 0 for RP_FRAME_ID_MAX; a mesh node's ids are vectors, longer. */
    uint16_t id_room;
};

/*
 * Encodes <spec>: the `event:` lines, then one `data:` line per line of data (CR, LF and
 * CRLF all end a line; empty data is one empty `data:` line), then the blank line. The type must
 * not contain CR or LF (rp_frame_check_event). Returns a frame with one reference, to be completed
 * by rp_frame_set_id before anyone reads it.
 */
struct rp_frame *rp_frame_encode(const struct rp_frame_spec *spec);
/* Writes the `id:` line; <id_len> is at most the frame's id_room. */
void rp_frame_set_id(struct rp_frame *f, const char *id, size_t id_len);
/*
 * Fills <iov> with the variant's bytes and returns how many entries it used (1 or 2);
 * borrowed, valid while a reference is held.
 */
static inline int
rp_frame_iov(const struct rp_frame *f, bool tagged, struct iovec iov[2])
{
    uint32_t off = tagged ? f->tagged_ev_off : f->plain_ev_off;
    uint32_t len = tagged ? f->tagged_ev_len : f->plain_ev_len;
    int n = 0;
    if (len) {
        iov[n].iov_base = (void *)(uintptr_t)(f->buf + off);
        iov[n++].iov_len = len;
    }
    iov[n].iov_base = (void *)(uintptr_t)(f->buf + f->id_off);
    iov[n++].iov_len = f->end - f->id_off;
    return n;
}
/* Bytes one variant takes on the wire. */
static inline size_t
rp_frame_wire_len(const struct rp_frame *f, bool tagged)
{
    return (tagged ? f->tagged_ev_len : f->plain_ev_len) + (f->end - f->id_off);
}
/* Encoded size, as counted against log and lag byte limits (the larger variant). */
static inline size_t
rp_frame_size(const struct rp_frame *f)
{
    return rp_frame_wire_len(f, true);
}
static inline struct rp_frame *
rp_frame_ref(struct rp_frame *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}
/* A mesh node's frame: encoded with room for a vector id (one part per origin). */
static inline bool
rp_frame_has_vector_id(const struct rp_frame *f)
{
    return f->id_room > RP_FRAME_ID_MAX;
}
/* Drops one reference; the last one frees the frame. Accepts NULL. */
void rp_frame_unref(struct rp_frame *f);
/* Returns NULL when <event> is a valid event type, else a static message. */
const char *rp_frame_check_event(const char *event, size_t len);
/*
 * Appends the event's data as a subscriber's EventSource would see it (lines joined by
 * LF) to <out> (a struct rp_buf); 0 or -ENOBUFS.
 */
int rp_frame_decode_data(const struct rp_frame *f, void *out);
/* The topic name (not NUL-terminated; see topic_len). */
static inline const char *
rp_frame_topic(const struct rp_frame *f)
{
    return f->buf; /* stored first in the buffer */
}

/* The reconnection delay a client is told when the configured `retry` is 0 (unset). */
#define RP_SSE_RETRY_DEFAULT_MS 1000

/* Writes the SSE line `retry: <ms>\n\n` into <out> (<cap> bytes, at least 32) and returns its
 * length; <ms> <= 0 means RP_SSE_RETRY_DEFAULT_MS. */
size_t rp_sse_retry_hint(int64_t ms, char *out, size_t cap);

#endif
