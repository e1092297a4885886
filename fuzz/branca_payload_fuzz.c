/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes what a peer controls on the Branca path. The MAC stops forged tokens before their
 * payload is read, so the input is used three ways: as a token (base62, length and version
 * checks; the seeds include real tokens under the harness key, whose payloads then go to
 * the readers), as a payload for the sse-server msgpack readers directly, and as a
 * plaintext that must survive encode then decode unchanged. Aborts on any broken invariant.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/auth_branca.h"
#include "base/diag.h"
#include "core/hub.h"
#include "core/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 8
#define ROUND_TRIP_MAX 1024

static bool
within(const void *p, size_t len, const uint8_t *buf, size_t buf_len)
{
    const uint8_t *b = p;
    return b && b >= buf && len <= buf_len && (size_t)(b - buf) <= buf_len - len;
}

static void
check_readers(const uint8_t *data, size_t size)
{
    struct rp_diag diag;
    const char *err = diag.msg;
    struct rp_grant g = {0};
    if (rp_branca_read_topics(data, size, &g, &diag) == 0) {
        for (size_t i = 0; i < g.n_read; i++)
            if (rp_pattern_check(g.read[i], strlen(g.read[i])) != NULL)
                abort();
        if (g.n_write != 0)
            abort();
        rp_grant_fini(&g);
    } else if (err[0] == '\0' || g.read || g.n_read) {
        abort();
    }

    struct rp_branca_events ev;
    int rc = rp_branca_read_events(data, size, MAX_EVENTS, &ev, &diag);
    if (rc == 0) {
        if (ev.n > MAX_EVENTS || (ev.n && !ev.items) || !ev.buf)
            abort();
        /* Every string lies in the batch's own copy of the payload. */
        for (size_t i = 0; i < ev.n; i++) {
            const struct rp_publish_item *it = &ev.items[i];
            if (!within(it->topic, it->topic_len, ev.buf, size) ||
                !within(it->data, it->data_len, ev.buf, size) ||
                (it->event && (!it->event_len || !within(it->event, it->event_len, ev.buf, size))))
                abort();
        }
        rp_branca_events_fini(&ev);
    } else if ((rc != -EINVAL && rc != -E2BIG) || err[0] == '\0' || ev.items || ev.buf || ev.n) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The spec's key, "supersecretkeyyoushouldnotcommit": the seeds' tokens use it. */
    static const char key_hex[] =
        "73757065727365637265746b6579796f7573686f756c646e6f74636f6d6d6974";
    static uint8_t key[RP_BRANCA_KEY_LEN];
    static bool have_key;
    if (!have_key) {
        if (rp_branca_key_parse(key_hex, sizeof(key_hex) - 1, key) != 0)
            abort();
        have_key = true;
    }

    uint8_t *payload = NULL;
    size_t len = 0;
    uint32_t ts;
    enum rp_auth_result r =
        rp_branca_decode(key, (const char *)data, size, 0, 0, &payload, &len, &ts);
    if ((r == RP_AUTH_TOO_LARGE) != (size > RP_BRANCA_MAX_TOKEN))
        abort();
    if (r == RP_AUTH_OK) {
        if (!payload || payload[len] != '\0' || size < 61)
            abort();
        check_readers(payload, len);
        free(payload);
    } else if (payload || len ||
               (r != RP_AUTH_MALFORMED && r != RP_AUTH_BAD_SIGNATURE && r != RP_AUTH_TOO_LARGE)) {
        abort();
    }

    check_readers(data, size);

    if (size <= ROUND_TRIP_MAX) {
        char *token;
        if (rp_branca_encode(key, data, size, (uint32_t)size, &token) != 0)
            abort();
        if (rp_branca_decode(key, token, strlen(token), 0, 0, &payload, &len, &ts) != RP_AUTH_OK ||
            len != size || ts != (uint32_t)size || (size && memcmp(payload, data, size) != 0))
            abort();
        free(payload);
        free(token);
    }
    return 0;
}
