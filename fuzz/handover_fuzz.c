/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the upgrade's state decoder (server/handover_wire.h) and the hub restore behind
 * it: any bytes either decode, or are refused with a message; whatever decodes has every
 * string inside the buffer and every connection of a known kind, and restoring its events
 * into a fresh hub leaves the hub consistent (every restored sequence at or below its last).
 * Aborts on any broken invariant; leaks and overreads are the sanitizers' to find.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hub.h"
#include "server/handover_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
policy_for(void *ctx, const char *name, size_t len, struct rp_topic_policy *out)
{
    (void)ctx;
    (void)name;
    (void)len;
    memset(out, 0, sizeof(*out));
    out->history =
        (struct rp_eventlog_limits){.max_count = 8, .max_bytes = 4096, .max_age_ms = 60000};
    out->lag_events = 4;
    out->lag_bytes = 2048;
}

static void
check_inside(const struct rp_handover_state *st, const char *p, uint32_t len)
{
    if (p && (p < st->buf || p + len > st->buf + st->buf_len))
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rp_handover_state st = {0};
    st.buf = malloc(size + 1);
    memcpy(st.buf, data, size);
    st.buf_len = size;
    struct rp_diag diag = {{0}};
    int rc = rp_handover_parse(&st, &diag);
    if (rc != 0) {
        if (diag.msg[0] == '\0')
            abort();
        rp_handover_state_fini(&st);
        return 0;
    }
    for (size_t i = 0; i < st.n_events; i++) {
        const struct rp_handover_event *e = &st.events[i];
        check_inside(&st, e->topic, e->topic_len);
        check_inside(&st, e->event, e->event_len);
        check_inside(&st, e->data, e->data_len);
        check_inside(&st, e->pub_id, e->pub_id_len);
    }
    for (size_t i = 0; i < st.n_gaps; i++)
        check_inside(&st, st.gaps[i].topic, st.gaps[i].topic_len);
    for (size_t i = 0; i < st.n_conns; i++) {
        const struct rp_conn_export *c = &st.conns[i];
        if (c->fd != -1 || (c->kind != RP_CONN_HTTP && c->kind != RP_CONN_STREAM))
            abort();
        for (size_t k = 0; k < c->st.n_filters; k++)
            if (!c->st.filters[k])
                abort();
    }
    struct rp_hub_config cfg = {.max_topics = 16, .max_data = 1024, .epoch = st.epoch | 1};
    struct rp_hub_hooks hooks = {.policy_for = policy_for};
    struct rp_hub *hub = rp_hub_new(&cfg, &hooks);
    if (rp_handover_restore_hub(&st, hub, cfg.max_data, NULL) == 0 &&
        rp_hub_last_seq(hub) < st.last_seq)
        abort();
    rp_hub_free(hub);
    rp_handover_state_fini(&st);
    return 0;
}
