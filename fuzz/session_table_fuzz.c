/* SPDX-License-Identifier: MIT */
/*
 * The persisted session table (core/session, <data_dir>/sessions) and session ids as
 * clients present them: decoding any bytes never crashes or leaks, and what was decoded
 * encodes and decodes again to the same sessions (a round trip is stable).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "core/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct rp_session_config cfg = {.ttl_ms = 30000, .buffer = 1000};
    const char *text = (const char *)data;
    (void)rp_session_id_valid(text, size);
    struct rp_session_table *t = rp_session_table_new(&cfg);
    int n = rp_session_table_decode(t, text, size, 1000);
    if (n >= 0 && (size_t)n != rp_session_count(t))
        abort();
    struct rp_buf a, b;
    rp_buf_init(&a, 64 * 1024 * 1024);
    rp_buf_init(&b, 64 * 1024 * 1024);
    rp_session_table_encode(t, true, &a);
    struct rp_session_table *u = rp_session_table_new(&cfg);
    int m = rp_session_table_decode(u, a.data ? a.data : "", a.len, 1000);
    if (m != (int)rp_session_count(t))
        abort();
    rp_session_table_encode(u, true, &b);
    if (a.len != b.len)
        abort(); /* the same sessions (hash order may differ, lengths may not) */
    if (rp_session_sweep(u, 1000 + 30000, NULL, NULL) != (size_t)m)
        abort();
    rp_buf_fini(&a);
    rp_buf_fini(&b);
    rp_session_table_free(u);
    rp_session_table_free(t);
    return 0;
}
