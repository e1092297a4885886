/* SPDX-License-Identifier: MIT */
/*
 * The API of tvdw/sse-server, for its clients (auth_mode branca): POST /submit publishes
 * the events a Branca token carries, GET /ping answers liveness, and a stream that names no
 * topic reads the topics its token carries (rp_api_branca_topics, used by events.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/credentials.h"
#include "api/endpoints.h"
#include "api/guard.h"
#include "auth/auth_branca.h"
#include "auth/gate.h"
#include "base/alloc.h"
#include "base/stats.h"

/*
 * POST /submit (auth_mode branca; tvdw/sse-server's publish API): the body is a Branca
 * token whose msgpack payload carries the events. The token's MAC is the authorisation.
 * Answered 200 with an empty body, as sse-server does.
 */
void
rp_api_submit(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
              enum rp_conn_call call)
{
    struct rp_gate *gate = a->gate;
    if (!gate || rp_gate_mode(a->node->gate) != RP_GATE_MODE_BRANCA) {
        rp_conn_error(c, req, 404, "POST /submit exists with auth_mode branca only", NULL);
        return;
    }
    if (call == RP_CONN_CALL_NEW && !rp_guard_publish(a->node->guard, c, req))
        return;
    size_t len = req->body_len;
    while (len &&
           (req->body[len - 1] == '\n' || req->body[len - 1] == '\r' || req->body[len - 1] == ' '))
        len--;
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    enum rp_auth_result r =
        len ? rp_gate_open_branca(gate, req->body, len, &payload, &payload_len) : RP_AUTH_MISSING;
    if (r != RP_AUTH_OK) {
        rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
        rp_api_refuse_auth(c, req, r, NULL, NULL, 0);
        return;
    }
    struct rp_branca_events ev;
    struct rp_diag why;
    const struct rp_config_values *v = rp_conn_config(c);
    int rc = rp_branca_read_events(payload, payload_len, (size_t)v->max_batch, &ev, &why);
    free(payload);
    if (rc) {
        char msg[300];
        snprintf(msg, sizeof(msg), "the token's payload is not a submission: %.200s", why.msg);
        rp_api_reject_publish(c, req, rc == -E2BIG ? 413 : 400, msg);
        return;
    }
    if (ev.n == 0) {
        rp_conn_respond(c, req, 200, NULL, NULL, "", 0);
    } else {
        rp_api_publish_items(a, c, req, ev.items, ev.n, true, false, call);
    }
    rp_branca_events_fini(&ev);
}

size_t
rp_api_branca_topics(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                     char **filters, size_t max, int *status, char *msg, size_t msg_cap)
{
    char *token;
    size_t len = rp_api_find_token(c, req, a->query, &token);
    struct rp_grant g = {0};
    size_t n = 0;
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    enum rp_auth_result r =
        len ? rp_gate_open_branca(a->gate, token, len, &payload, &payload_len) : RP_AUTH_MISSING;
    free(token);
    if (r == RP_AUTH_OK && rp_branca_read_topics(payload, payload_len, &g, NULL) != 0)
        r = RP_AUTH_MALFORMED;
    free(payload);
    if (r != RP_AUTH_OK) {
        /* rp_api_authorize answers it, with the right status and header. */
        return 0;
    }
    if (g.n_read > max) {
        snprintf(msg, msg_cap,
                 "the token names %zu topics; a stream may read at most %zu "
                 "(max_stream_topics)",
                 g.n_read, max);
        *status = 400;
    } else {
        for (; n < g.n_read; n++)
            filters[n] = rp_xstrdup(g.read[n]);
    }
    rp_grant_fini(&g);
    return n;
}

/* tvdw/sse-server's liveness check: 200, empty body. */
void
rp_api_ping(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req)
{
    (void)a;
    rp_conn_respond(c, req, 200, NULL, NULL, "", 0);
}
