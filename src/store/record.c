/* SPDX-License-Identifier: MIT */
#include "store/record.h"

#include <stdbool.h>
#include <string.h>

#include "base/crc32c.h"
#include "core/hub.h"

#define FLAG_EVENT 1u
#define FLAG_PUB_ID 2u
#define STR_MAX 65535u

/* Fixed little-endian layout whatever the host: the files outlive the machine. */
static void
put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void
put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void
put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t
get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

size_t
rp_record_size(const struct rp_ingest_event *ev)
{
    const struct rp_publish_item *it = &ev->item;
    if (it->topic_len > STR_MAX || it->event_len > STR_MAX || it->pub_id_len > STR_MAX ||
        it->data_len > UINT32_MAX)
        return 0;
    size_t n = RP_RECORD_HEADER + it->topic_len + it->event_len + it->pub_id_len + it->data_len;
    return n <= RP_RECORD_MAX ? n : 0;
}

static unsigned char *
put_bytes(unsigned char *p, const char *s, size_t n)
{
    if (n)
        memcpy(p, s, n);
    return p + n;
}

size_t
rp_record_encode(uint32_t epoch, const struct rp_ingest_event *ev, void *out)
{
    const struct rp_publish_item *it = &ev->item;
    size_t n = rp_record_size(ev);
    unsigned char *h = out;
    uint16_t flags = (uint16_t)((it->event ? FLAG_EVENT : 0) | (it->pub_id ? FLAG_PUB_ID : 0));
    put32(h, (uint32_t)n);
    put16(h + 8, RP_RECORD_VERSION);
    put16(h + 10, flags);
    put32(h + 12, epoch);
    put64(h + 16, ev->seq);
    put64(h + 24, (uint64_t)ev->wall_ms);
    put16(h + 32, (uint16_t)it->topic_len);
    put16(h + 34, (uint16_t)(it->event ? it->event_len : 0));
    put16(h + 36, (uint16_t)(it->pub_id ? it->pub_id_len : 0));
    put16(h + 38, 0);
    put32(h + 40, (uint32_t)it->data_len);
    unsigned char *p = h + RP_RECORD_HEADER;
    p = put_bytes(p, it->topic, it->topic_len);
    p = put_bytes(p, it->event, it->event ? it->event_len : 0);
    p = put_bytes(p, it->pub_id, it->pub_id ? it->pub_id_len : 0);
    put_bytes(p, it->data, it->data_len);
    put32(h + 4, rp_crc32c(h + 8, n - 8));
    return n;
}

size_t
rp_record_peek(const void *p, uint64_t *seq, int64_t *wall_ms)
{
    const unsigned char *h = p;
    *seq = get64(h + 16);
    *wall_ms = (int64_t)get64(h + 24);
    return get32(h);
}

/* The header's own rules, before the CRC is worth computing; NULL when they hold. */
static const char *
check_header(const unsigned char *h, size_t rec_len)
{
    uint16_t flags = get16(h + 10);
    size_t topic = get16(h + 32), event = get16(h + 34), pub_id = get16(h + 36);
    if (get16(h + 8) != RP_RECORD_VERSION)
        return "unknown record version";
    if (flags & ~(FLAG_EVENT | FLAG_PUB_ID))
        return "unknown record flags";
    if (get16(h + 38) != 0)
        return "reserved field not zero";
    if (get64(h + 16) == 0)
        return "sequence 0";
    if (topic == 0)
        return "empty topic";
    if ((!(flags & FLAG_EVENT) && event) || (!(flags & FLAG_PUB_ID) && pub_id))
        return "string length without its flag";
    if (RP_RECORD_HEADER + topic + event + pub_id + (size_t)get32(h + 40) != rec_len)
        return "field lengths do not add up to the record length";
    return NULL;
}

enum rp_record_parse
rp_record_decode(const void *p, size_t len, size_t max, struct rp_ingest_event *ev, uint32_t *epoch,
                 size_t *size, const char **why)
{
    const unsigned char *h = p;
    *size = 0;
    if (max > RP_RECORD_MAX)
        max = RP_RECORD_MAX;
    if (len < 4)
        return RP_RECORD_MORE;
    size_t rec_len = get32(h);
    if (rec_len < RP_RECORD_HEADER || rec_len > max) {
        *why = rec_len < RP_RECORD_HEADER ? "record length below the header" : "record too long";
        return RP_RECORD_ERROR;
    }
    *size = rec_len;
    if (len < RP_RECORD_HEADER)
        return RP_RECORD_MORE;
    /* Checked before waiting for the rest: a torn length must not make a reader wait for
     * (or allocate) a gigabyte that the header already shows is not a record. */
    const char *bad = check_header(h, rec_len);
    if (bad) {
        *why = bad;
        return RP_RECORD_ERROR;
    }
    if (len < rec_len)
        return RP_RECORD_MORE;
    if (rp_crc32c(h + 8, rec_len - 8) != get32(h + 4)) {
        *why = "checksum mismatch";
        return RP_RECORD_ERROR;
    }
    uint16_t flags = get16(h + 10);
    /* What a record does not keep is off: an update's group (a replayed update is one
     * event per topic) and a mesh origin (the disk log holds the node's own events). */
    *ev = (struct rp_ingest_event){0};
    struct rp_publish_item *it = &ev->item;
    const char *s = (const char *)h + RP_RECORD_HEADER;
    *epoch = get32(h + 12);
    ev->seq = get64(h + 16);
    ev->wall_ms = (int64_t)get64(h + 24);
    it->topic_len = get16(h + 32);
    it->topic = s;
    s += it->topic_len;
    it->event_len = get16(h + 34);
    it->event = flags & FLAG_EVENT ? s : NULL;
    s += it->event_len;
    it->pub_id_len = get16(h + 36);
    it->pub_id = flags & FLAG_PUB_ID ? s : NULL;
    s += it->pub_id_len;
    it->data_len = get32(h + 40);
    it->data = s;
    return RP_RECORD_DONE;
}
