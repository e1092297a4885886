/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the webhook verifier's wire format. Any input parsed as the application's answer
 * yields a grant of valid filters (OK), a refusal with no grant, or "not understood" with a
 * message and no grant. The same bytes used as a user agent and a token always build a
 * request body that is valid JSON and carries the token back unchanged. Aborts otherwise.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth/auth.h"
#include "auth/auth_webhook.h"
#include "base/diag.h"
#include "core/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
grant_is_zero(const struct rp_grant *g)
{
    return !g->sub && !g->read && !g->write && !g->n_read && !g->n_write && !g->expires_ms;
}

static void
check_answer(const char *p, size_t size)
{
    struct rp_grant g = {0};
    int64_t ttl_ms = -1;
    struct rp_diag diag;
    memset(&diag, 'x', sizeof(diag));
    enum rp_auth_result r = rp_webhook_parse_answer(p, size, &g, &ttl_ms, NULL, &diag);
    const char *err = diag.msg;
    if (!memchr(err, '\0', sizeof(diag.msg)) || ttl_ms < 0)
        abort();
    switch (r) {
    case RP_AUTH_OK:
        if (err[0] || g.n_read > RP_WEBHOOK_MAX_FILTERS || g.n_write > RP_WEBHOOK_MAX_FILTERS ||
            g.expires_ms < 0)
            abort();
        for (size_t i = 0; i < g.n_read; i++)
            if (rp_pattern_check(g.read[i], strlen(g.read[i])))
                abort();
        for (size_t i = 0; i < g.n_write; i++)
            if (rp_pattern_check(g.write[i], strlen(g.write[i])))
                abort();
        break;
    case RP_AUTH_REJECTED:
        if (!grant_is_zero(&g))
            abort();
        for (const char *c = err; *c; c++)
            if ((unsigned char)*c < 0x20)
                abort();
        break;
    case RP_AUTH_UNAVAILABLE:
        if (!grant_is_zero(&g) || ttl_ms != 0 || err[0] == '\0')
            abort();
        break;
    default:
        abort();
    }
    rp_grant_fini(&g);
}

static void
check_request(const char *p, size_t size)
{
    /* The user agent is a C string: it ends at the first NUL. */
    char *ua = malloc(size + 1);
    if (!ua)
        return;
    memcpy(ua, p, size);
    ua[size] = '\0';
    const char *topics[] = {"a/b", "c/+"};
    size_t len;
    char *body = rp_webhook_request_body(p, size, topics, 2, "127.0.0.1", ua, "subscribe", &len);
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root || strlen(body) != len)
        abort();
    json_t *tok = json_object_get(root, "token");
    /* Valid UTF-8 comes back byte for byte; anything else was replaced, never dropped. */
    if (!json_is_string(tok) || json_string_length(tok) < size)
        abort();
    if (!json_is_string(json_object_get(root, "user_agent")))
        abort();
    json_decref(root);
    free(body);
    free(ua);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_answer((const char *)data, size);
    check_request((const char *)data, size);
    return 0;
}
