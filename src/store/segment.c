/* SPDX-License-Identifier: MIT */
#include "store/segment.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "store/fileops.h"

#define SCAN_CHUNK (256 * 1024)

void
rp_segment_name(uint64_t first_seq, char out[RP_SEGMENT_NAME_MAX])
{
    snprintf(out, RP_SEGMENT_NAME_MAX, "%020" PRIu64 ".seg", first_seq);
}

bool
rp_segment_parse_name(const char *name, uint64_t *first_seq)
{
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (strcmp(name + 20, ".seg") != 0 || v == 0)
        return false;
    *first_seq = v;
    return true;
}

void
rp_segment_index_add(struct rp_segment_index *ix, uint64_t seq, uint64_t off, uint64_t every)
{
    if (ix->n > 0 && off - ix->e[ix->n - 1].off < every)
        return;
    if (ix->n == ix->cap) {
        ix->cap = ix->cap ? ix->cap * 2 : 64;
        ix->e = rp_xrealloc(ix->e, ix->cap * sizeof(*ix->e));
    }
    ix->e[ix->n].seq = seq;
    ix->e[ix->n].off = off;
    ix->n++;
}

uint64_t
rp_segment_index_find(const struct rp_segment_index *ix, uint64_t after)
{
    uint64_t want = after == UINT64_MAX ? after : after + 1;
    size_t lo = 0, hi = ix->n; /* first entry with seq > want */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->e[mid].seq <= want)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? ix->e[lo - 1].off : 0;
}

void
rp_segment_index_cut(struct rp_segment_index *ix, uint64_t off)
{
    while (ix->n > 0 && ix->e[ix->n - 1].off >= off)
        ix->n--;
}

void
rp_segment_index_fini(struct rp_segment_index *ix)
{
    RP_FREE(ix->e);
    ix->n = ix->cap = 0;
}

void
rp_segment_scan_init(struct rp_segment_scan *s, const struct rp_fileops *fo, int fd, uint64_t off,
                     uint64_t end, size_t max_record)
{
    memset(s, 0, sizeof(*s));
    s->fo = fo;
    s->fd = fd;
    s->off = off;
    s->end = end;
    s->max_record = max_record;
}

void
rp_segment_scan_fini(struct rp_segment_scan *s)
{
    RP_FREE(s->buf);
    s->cap = s->len = s->pos = 0;
}

/* Reads more of the file so that at least <need> bytes from s->off are buffered (or all
 * there is up to s->end). Moves the buffer: earlier records die here. */
static int
fill(struct rp_segment_scan *s, size_t need)
{
    if (s->pos) {
        memmove(s->buf, s->buf + s->pos, s->len - s->pos);
        s->len -= s->pos;
        s->pos = 0;
    }
    size_t want = need > SCAN_CHUNK ? need : SCAN_CHUNK;
    if (want > s->cap) {
        s->cap = want;
        s->buf = rp_xrealloc(s->buf, s->cap);
    }
    while (s->len < need) {
        uint64_t at = s->off + s->len;
        if (at >= s->end)
            break;
        size_t room = s->cap - s->len;
        if (room > s->end - at)
            room = (size_t)(s->end - at);
        ssize_t r = s->fo->pread(s->fo->ctx, s->fd, s->buf + s->len, room, at);
        if (r < 0)
            return (int)r;
        if (r == 0)
            break; /* the file is shorter than <end>: what is missing is torn */
        s->len += (size_t)r;
    }
    return 0;
}

bool
rp_segment_scan_needs_read(const struct rp_segment_scan *s)
{
    size_t have = s->len - s->pos;
    if (have < RP_RECORD_HEADER)
        return s->off < s->end;
    const unsigned char *p = (const unsigned char *)s->buf + s->pos;
    size_t rec_len = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
    return rec_len > have && rec_len <= s->max_record;
}

int
rp_segment_scan_next(struct rp_segment_scan *s, struct rp_ingest_event *ev, uint32_t *epoch,
                     uint64_t *rec_off)
{
    if (s->off >= s->end)
        return 0;
    size_t need = RP_RECORD_HEADER;
    for (int round = 0; round < 3; round++) {
        size_t size = 0;
        enum rp_record_parse r = rp_record_decode(s->buf ? s->buf + s->pos : "", s->len - s->pos,
                                                  s->max_record, ev, epoch, &size, &s->why);
        if (r == RP_RECORD_DONE && s->off + size <= s->end) {
            *rec_off = s->off;
            s->pos += size;
            s->off += size;
            return 1;
        }
        if (r == RP_RECORD_ERROR)
            return -EBADMSG;
        if (size > need)
            need = size;
        /* Whole, but past <end> (a reader's bound); or cut by the end of the file. */
        if (r == RP_RECORD_DONE || s->off + need > s->end || s->len - s->pos >= need) {
            s->why = "record cut short";
            return -EBADMSG;
        }
        int rc = fill(s, need);
        if (rc)
            return rc;
    }
    s->why = "record cut short";
    return -EBADMSG;
}
