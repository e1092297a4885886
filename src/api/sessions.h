/* SPDX-License-Identifier: MIT */
#ifndef RP_API_SESSIONS_H
#define RP_API_SESSIONS_H
/*
 * Sessions over HTTP (docs/sessions.md): what the events endpoint asks when a stream is a
 * session, and the /sessions endpoints. The table is core/session; the composition root
 * owns it and sweeps it. Only the worker's thread (like every api/ call).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/credentials.h"
#include "base/buf.h"
#include "core/session.h"
#include "front/conn.h"

struct rp_api;

/* What a session stream starts with, made by rp_api_session_begin. */
struct rp_api_session_start {
    struct rp_buf headers; /* Set-Cookie */
    struct rp_buf opening; /* event: connected (and resync), sent before anything else */
    uint64_t resume_from;  /* resume after this sequence (no Last-Event-ID given); 0: none */
    int64_t expires_ms;    /* the token's expiry (wall clock), as any stream's; 0: never */
    char topic[sizeof(RP_SESSION_TOPIC_PREFIX) + RP_SESSION_ID_LEN];
};

/* True when the request's stream is a session: ?session=new, a presented id (header or
 * query), session_always, or a re-run of one (the cookie alone needs ?session or
 * session_always: a plain stream is not made a session by a stray cookie). */
bool rp_api_session_wanted(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req);
/*
 * Makes or resumes the request's session: checks the token (with auth) and the owner, fills
 * <filters> (<n> of them, at most <max> + 1 slots) with the session's topics when the
 * client named none, appends its private topic, and attaches the session to <c> (detached
 * when <c> is freed). PASS with <out> filled (free with rp_api_session_start_fini, whatever
 * the verdict); REFUSED with an answer queued (403 for another client's session); WAIT.
 */
enum rp_verdict rp_api_session_begin(struct rp_api *a, struct rp_conn *c,
                                     const struct rp_http_request *req, char **filters, size_t *n,
                                     size_t max, bool have_last_id,
                                     struct rp_api_session_start *out);
void rp_api_session_start_fini(struct rp_api_session_start *s);
/* The stream could not start after all: the session is detached from <c> now. */
void rp_api_session_abandon(struct rp_conn *c);
/* True when the client filter <filter> names sessions' private topics (refused: they are
 * read through their session). */
bool rp_api_filter_reaches_sessions(const char *filter);

/* POST /sessions/{id}/events, POST /sessions/events, GET /sessions/{id}, GET /sessions. */
void rp_api_session_send(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                         const char *id, enum rp_conn_call call);
void rp_api_sessions_send(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                          enum rp_conn_call call);
void rp_api_session_info(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                         const char *id);
void rp_api_sessions_list(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req);

#endif
