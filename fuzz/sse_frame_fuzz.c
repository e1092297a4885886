/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the SSE frame encoder with arbitrary data. The first input byte picks options
 * (typed or untyped event, a publisher id, the id length); the rest is the data. Both
 * variants must be well-formed text/event-stream: no CR anywhere, every line a known
 * field, one blank line and only at the end, the id as set. rp_frame_decode_data must give
 * back the data with CR and CRLF turned into LF. Aborts on any violation.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "base/buf.h"
#include "sse/sse_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
starts_with(const char *p, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(p, prefix, n) == 0;
}

/* Checks one variant's bytes; returns the number of data lines. */
static size_t
check_variant(const struct rp_frame *f, bool tagged, const char *id, size_t id_len,
              const char *event_line)
{
    struct iovec iov[2];
    int n_iov = rp_frame_iov(f, tagged, iov);
    size_t len = 0;
    for (int i = 0; i < n_iov; i++)
        len += iov[i].iov_len;
    if (n_iov < 1 || n_iov > 2 || len != rp_frame_wire_len(f, tagged))
        abort();
    char *out = malloc(len ? len : 1);
    if (!out)
        abort();
    size_t off = 0;
    for (int i = 0; i < n_iov; i++) {
        memcpy(out + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    if (memchr(out, '\r', len) || len < 2 || out[len - 1] != '\n' || out[len - 2] != '\n')
        abort();
    size_t n_data = 0, n_id = 0, n_event = 0;
    const char *p = out, *end = out + len - 1; /* the final blank line */
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            abort();
        size_t line = (size_t)(eol - p);
        if (starts_with(p, line, "data: ")) {
            if (n_id == 0)
                abort(); /* the id comes before the data */
            n_data++;
        } else if (starts_with(p, line, "id: ")) {
            if (n_id++ || line != 4 + id_len || memcmp(p + 4, id, id_len) != 0)
                abort();
        } else if (starts_with(p, line, "event: ")) {
            if (n_event++ || n_id || !event_line || line != strlen(event_line) ||
                memcmp(p, event_line, line) != 0)
                abort();
        } else {
            abort(); /* an empty line here would end the event early */
        }
        p = eol + 1;
    }
    if (n_id != 1 || n_data == 0 || (event_line != NULL) != (n_event == 1))
        abort();
    free(out);
    return n_data;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t opt = size ? data[0] : 0;
    const char *d = size ? (const char *)data + 1 : "";
    size_t d_len = size ? size - 1 : 0;
    bool typed = opt & 1;
    char id[RP_FRAME_ID_MAX];
    size_t id_len = (size_t)(opt >> 2) % (RP_FRAME_ID_MAX + 1);
    for (size_t i = 0; i < id_len; i++)
        id[i] = (char)('0' + i % 10);

    struct rp_frame_spec spec = {
        .topic = "fuzz/topic",
        .topic_len = 10,
        .event = typed ? "update" : NULL,
        .event_len = typed ? 6 : 0,
        .data = d,
        .data_len = d_len,
        .pub_id = (opt & 2) ? "pub-1" : NULL,
        .pub_id_len = (opt & 2) ? 5 : 0,
    };
    struct rp_frame *f = rp_frame_encode(&spec);
    rp_frame_set_id(f, id, id_len);

    size_t n_plain = check_variant(f, false, id, id_len, typed ? "event: update" : NULL);
    size_t n_tagged = check_variant(f, true, id, id_len,
                                    typed ? "event: fuzz/topic:update" : "event: fuzz/topic");
    if (n_plain != n_tagged || rp_frame_size(f) != rp_frame_wire_len(f, true))
        abort();

    /* The data as an EventSource sees it: each CR, LF or CRLF becomes one LF. */
    char *want = malloc(d_len ? d_len : 1);
    if (!want)
        abort();
    size_t w = 0, n_lines = 1;
    for (size_t i = 0; i < d_len; i++) {
        if (d[i] == '\r' || d[i] == '\n') {
            want[w++] = '\n';
            n_lines++;
            if (d[i] == '\r' && i + 1 < d_len && d[i + 1] == '\n')
                i++;
        } else {
            want[w++] = d[i];
        }
    }
    if (n_plain != n_lines)
        abort();
    struct rp_buf b;
    rp_buf_init(&b, d_len + 1);
    if (rp_frame_decode_data(f, &b) != 0 || b.len != w || (w && memcmp(b.data, want, w) != 0))
        abort();
    if (f->data_len != d_len || f->pub_id_len != ((opt & 2) ? 5 : 0))
        abort();
    rp_buf_fini(&b);
    free(want);
    rp_frame_unref(f);
    return 0;
}
