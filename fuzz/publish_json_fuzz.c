/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the POST /publish body parser and the hub's checks behind it: any input either is
 * refused with a 4xx status and a message, or yields items whose strings are in bounds and
 * which the hub then publishes or refuses all or nothing. Aborts on any broken invariant.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hub.h"
#include "http/publish_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
policy_for(void *ctx, const char *name, size_t len, struct rp_topic_policy *out)
{
    (void)ctx;
    (void)name;
    (void)len;
    memset(out, 0, sizeof(*out));
    out->history =
        (struct rp_eventlog_limits){.max_count = 4, .max_bytes = 4096, .max_age_ms = 60000};
    out->lag_events = 10;
    out->lag_bytes = 4096;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct rp_hub *hub;
    if (!hub) {
        struct rp_hub_config cfg = {.max_topics = 64, .max_data = 512, .epoch = 1};
        struct rp_hub_hooks hooks = {.policy_for = policy_for};
        hub = rp_hub_new(&cfg, &hooks);
    }
    struct rp_publish_batch batch;
    struct rp_publish_json_error err;
    if (rp_publish_json_parse((const char *)data, size, 8, &batch, &err) != 0) {
        if (err.status < 400 || err.status > 499 || err.message[0] == '\0')
            abort();
        return 0;
    }
    if (batch.n == 0 || batch.n > 8)
        abort();
    for (size_t i = 0; i < batch.n; i++) {
        const struct rp_publish_item *it = &batch.items[i];
        if (!it->topic || !it->data || strlen(it->data) > it->data_len)
            abort();
    }
    uint64_t before = rp_hub_last_seq(hub);
    struct rp_publish_result res[8];
    struct rp_hub_error herr;
    int rc = rp_hub_publish(hub, batch.items, batch.n, res, &herr);
    uint64_t after = rp_hub_last_seq(hub);
    if (rc != 0) {
        /* All or nothing: a refused batch appended nothing. */
        if (after != before || herr.status < 400 || herr.index >= batch.n)
            abort();
    } else {
        for (size_t i = 0; i < batch.n; i++)
            if (res[i].seq == 0 || res[i].seq > after)
                abort();
    }
    rp_publish_batch_fini(&batch);
    return 0;
}
