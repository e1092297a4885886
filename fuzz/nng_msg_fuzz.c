/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes rp_nng_msg_decode (a message of the NNG mesh: whatever reaches a node's listen
 * address can send one). The encoding is canonical, so the oracle is the round trip: an
 * accepted message, encoded again from what the decoder returned, must be exactly the input,
 * with every slice inside it. Aborts on any disagreement.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "cluster/nng_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
inside(const void *s, size_t len, const uint8_t *data, size_t size)
{
    if (len && ((const uint8_t *)s < data || (const uint8_t *)s + len > data + size))
        abort();
}

static int
reencode(struct rp_nng_msg *m, struct rp_buf *b, const uint8_t *data, size_t size)
{
    int err = 0;
    struct rp_nng_msg it = *m;
    switch (m->type) {
    case RP_NNG_HELLO:
        inside(m->name, m->name_len, data, size);
        return rp_nng_msg_hello(b, m->epoch, m->last_seq, m->name, m->name_len);
    case RP_NNG_INTEREST_ADD:
    case RP_NNG_INTEREST_REMOVE: {
        const char *names[64];
        size_t lens[64], n = 0;
        if (m->count > 64)
            return -E2BIG;
        while (rp_nng_msg_next_name(&it, &names[n], &lens[n])) {
            inside(names[n], lens[n], data, size);
            n++;
        }
        if (n != m->count)
            abort();
        return rp_nng_msg_interest(b, m->epoch, m->type == RP_NNG_INTEREST_ADD, names, lens, n);
    }
    case RP_NNG_BLOOM:
        inside(m->bitmap, m->bits / 8, data, size);
        return rp_nng_msg_bloom(b, m->epoch, m->generation, m->hashes, m->bits, m->bitmap);
    case RP_NNG_GAP_REQUEST:
        return rp_nng_msg_gap_request(b, m->epoch, m->after, m->upto);
    case RP_NNG_HEARTBEAT:
        return rp_nng_msg_heartbeat(b, m->epoch, m->last_seq, m->chain);
    case RP_NNG_FILL_REQUEST:
        inside(m->name, m->name_len, data, size);
        return rp_nng_msg_fill_request(b, m->epoch, m->after, m->name, m->name_len);
    case RP_NNG_EVENTS:
    case RP_NNG_GAP_ANSWER:
    case RP_NNG_FILL_ANSWER: {
        if (m->type == RP_NNG_FILL_ANSWER)
            inside(m->name, m->name_len, data, size);
        err = m->type == RP_NNG_EVENTS ? rp_nng_msg_events(b, m->epoch, m->count)
              : m->type == RP_NNG_GAP_ANSWER
                  ? rp_nng_msg_gap_answer(b, m->epoch, m->after, m->upto, m->lost_upto, m->count)
                  : rp_nng_msg_fill_answer(b, m->epoch, m->after, m->lost_upto, m->name,
                                           m->name_len, m->count);
        struct rp_nng_event ev;
        size_t n = 0;
        while (!err && rp_nng_msg_next_event(&it, &ev)) {
            inside(ev.topic, ev.topic_len, data, size);
            inside(ev.type, ev.type_len, data, size);
            inside(ev.pub_id, ev.pub_id_len, data, size);
            inside(ev.data, ev.data_len, data, size);
            err = rp_nng_msg_event(b, &ev);
            n++;
        }
        if (!err && n != m->count)
            abort();
        return err;
    }
    }
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rp_nng_msg m;
    int rc = rp_nng_msg_decode(data, size, &m);
    if (rc != 0 && rc != -EINVAL)
        abort();
    if (rc)
        return 0;
    struct rp_buf b;
    rp_buf_init(&b, size + 64);
    int err = reencode(&m, &b, data, size);
    if (err == -E2BIG) {
        rp_buf_fini(&b);
        return 0;
    }
    if (err || b.len != size || memcmp(b.data, data, size) != 0)
        abort();
    rp_buf_fini(&b);
    return 0;
}
