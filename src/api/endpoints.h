/* SPDX-License-Identifier: MIT */
#ifndef RP_API_ENDPOINTS_H
#define RP_API_ENDPOINTS_H
/*
 * The endpoint groups of the API, one file each, and the small helpers they share. Internal
 * to api/: the route table in api.c is the only caller of the handlers.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "base/buf.h"
#include "core/hub.h"

#define RP_API_QUERY_CAP 1024            /* a query parameter's name */
#define RP_API_VALUE_CAP (64 * 1024 + 1) /* a query value: may be a token (auth_max_token) */

/* events.c: GET /events, /events/{filter} */
void rp_api_events(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                   const char *path_filter);
/* As rp_api_events, with <n_pre> filters chosen by the server in front of the query's, and
 * <last_id> (NULL: none) in place of the client's Last-Event-ID. */
void rp_api_events_for(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                       const char *const *pre, size_t n_pre, const char *last_id);
/* upstreams.c: GET {upstream_prefix}{name}/{path}, GET /upstreams */
void rp_api_upstream_stream(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                            const char *rest);
void rp_api_upstreams_list(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req);
/* publish.c: POST /publish (JSON), POST /publish/{topic} (raw body) */
void rp_api_publish_json(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                         enum rp_conn_call call);
void rp_api_publish_raw(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                        const char *topic, enum rp_conn_call call);
/* fsync always: the answer just queued waits until the log has made <newest> durable (a
 * publish's, a session send's). */
void rp_api_hold_until_durable(struct rp_api *a, struct rp_conn *c, uint64_t newest);
/* Publishes <items> and answers (with the ids, or with an empty 200 when not <ids>); waits
 * (RP_WAIT_BLOCK) when slow_policy block says so, or while the cluster confirms. */
void rp_api_publish_items(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                          const struct rp_publish_item *items, size_t n, bool batch, bool ids,
                          enum rp_conn_call call);
/* How a publish that went through the cluster is answered once Redis confirmed it: <res>
 * holds a result per item. */
typedef void (*rp_api_published_fn)(struct rp_api *a, struct rp_conn *c,
                                    const struct rp_http_request *req,
                                    const struct rp_publish_item *items, size_t n,
                                    const struct rp_publish_result *res, void *ctx);
/*
 * cluster = redis: publishes <items> through Redis. The first call sends them and parks <c>
 * (RP_WAIT_CLUSTER); the request's handler runs again once Redis answered and, calling this
 * again with the same items, has them answered through <answered>, or refused with 503 and
 * a message. <system>: topics under the system prefix are allowed (the caller authorised
 * them: the Mercure endpoint).
 */
void rp_api_publish_cluster(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                            const struct rp_publish_item *items, size_t n, bool system,
                            rp_api_published_fn answered, void *ctx);
/* A publish whose answer waits for the log engine (fsync always), re-run: the answer goes
 * out once its events are durable, waits on, or (past its deadline) becomes a 503. */
void rp_api_publish_durable(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                            enum rp_conn_call call);
/* Refuses a publish request: counted, and answered with <status> and <message>. */
void rp_api_reject_publish(struct rp_conn *c, const struct rp_http_request *req, int status,
                           const char *message);
/* topics.c: GET /topics, /topics/{name}, /topics/{name}/events */
void rp_api_topics_list(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req);
void rp_api_topic_info(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                       const char *name);
void rp_api_topic_events(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                         const char *name);
/* node.c: /metrics, /healthz, /health, /readyz, /dashboard, / */
void rp_api_metrics(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req);
void rp_api_health(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req);
void rp_api_health_documented(struct rp_api *a, struct rp_conn *c,
                              const struct rp_http_request *req);
void rp_api_ready(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req);
void rp_api_dashboard(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req);
void rp_api_index(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req);
/* compat_sse_server.c: the sse-server compatible API of auth_mode branca */
void rp_api_submit(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                   enum rp_conn_call call);
void rp_api_ping(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req);
/* Branca mode without topics in the URL: the topics the token carries, as filters (malloc'd
 * into <filters>, at most <max>); 0 with *<status> and <msg> set when too many, 0 with
 * *<status> untouched when the token is bad (the caller's authorisation answers that). */
size_t rp_api_branca_topics(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                            char **filters, size_t max, int *status, char *msg, size_t msg_cap);

/* mercure.c: the Mercure hub, GET and POST /.well-known/mercure (docs/mercure.md) */
void rp_api_mercure(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req,
                    enum rp_conn_call call);
/* The active subscriptions API, GET /.well-known/mercure/subscriptions[/<topic>[/<subscriber>]]
 * (<rest>: what follows "subscriptions/", or ""; mercure_subscriptions) */
void rp_api_mercure_subscriptions(struct rp_api *a, struct rp_conn *c,
                                  const struct rp_http_request *req, const char *rest);
/* The hub's protected-resource metadata (RFC 9728), /.well-known/oauth-protected-resource */
void rp_api_mercure_metadata(struct rp_api *a, struct rp_conn *c,
                             const struct rp_http_request *req);
/* ---- shared helpers (api.c) ---- */

/* Copies at most <cap> - 1 bytes of <src> into <dst>; returns the length copied. */
size_t rp_api_copy_str(char *dst, size_t cap, const char *src);
void rp_api_respond_json(struct rp_conn *c, const struct rp_http_request *req, int status,
                         struct rp_buf *b);
/* Appends the JSON id of <seq> ("epoch-seq"), or null for 0. */
void rp_api_json_id(struct rp_buf *b, struct rp_hub *hub, uint64_t seq);

#endif
