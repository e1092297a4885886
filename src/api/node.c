/* SPDX-License-Identifier: MIT */
/* The node's own endpoints: /metrics, /healthz, /readyz, /dashboard and the index. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/endpoints.h"
#include "http/query.h"
#include "http/response.h"
#include "auth/breaker.h"
#include "auth/gate.h"
#include "base/clock.h"
#include "ops/dashboard.h"

void
rp_api_metrics(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req)
{
    const char *format = rp_query_get(a->query, "format");
    bool json = format && strcmp(format, "json") == 0;
    struct rp_buf b;
    rp_buf_init(&b, 1024 * 1024);
    a->node->render_metrics(a->node->metrics_ctx, json, &b);
    rp_conn_respond(c, req, 200, json ? "application/json" : "text/plain; version=0.0.4", NULL,
                    b.data, b.len);
    rp_buf_fini(&b);
}

void
rp_api_health(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req)
{
    const struct rp_api_node *node = a->node;
    bool stopping = atomic_load(node->stopping);
    struct rp_buf b;
    rp_buf_init(&b, 256);
    rp_buf_printf(&b, "{\"status\":\"%s\",\"uptime_seconds\":%lld,\"workers\":%u,\"pid\":%d}\n",
                  stopping ? "stopping" : "ok",
                  (long long)((rp_clock_now_ms() - node->started_ms) / 1000), node->n_workers,
                  (int)getpid());
    rp_api_respond_json(c, req, stopping ? 503 : 200, &b);
    rp_buf_fini(&b);
}

/*
 * The health check of the documented RevenProx, for load balancers configured by its
 * documentation: {"status":"healthy","connections":N,"uptime_seconds":N}, 503 with
 * "status":"draining" while the node drains.
 */
void
rp_api_health_documented(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req)
{
    const struct rp_api_node *node = a->node;
    bool stopping = atomic_load(node->stopping);
    uint64_t conns = node->connections ? node->connections(node->metrics_ctx) : 0;
    struct rp_buf b;
    rp_buf_init(&b, 256);
    rp_buf_printf(&b, "{\"status\":\"%s\",\"connections\":%llu,\"uptime_seconds\":%lld}\n",
                  stopping ? "draining" : "healthy", (unsigned long long)conns,
                  (long long)((rp_clock_now_ms() - node->started_ms) / 1000));
    rp_api_respond_json(c, req, stopping ? 503 : 200, &b);
    rp_buf_fini(&b);
}

/*
 * Readiness: whether a load balancer should send new clients here. Not while starting or
 * draining, nor while a dependency the auth mode needs (the webhook) is known to be down.
 */
void
rp_api_ready(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req)
{
    const struct rp_api_node *node = a->node;
    const char *why = NULL;
    struct rp_gate_report gr;
    rp_gate_report(node->gate, &gr);
    if (!atomic_load(node->ready))
        why = "starting";
    else if (atomic_load(node->stopping))
        why = "draining";
    else if (gr.has_breaker && gr.breaker_state == RP_BREAKER_OPEN)
        why = "the auth webhook is unavailable (circuit breaker open)";
    int log_err = rp_hub_engine_error(node->hub);
    char log_why[128];
    if (!why && log_err) {
        snprintf(log_why, sizeof(log_why),
                 "the event log cannot be written (%s): publishes are refused", strerror(-log_err));
        why = log_why;
    }
    char cluster_why[240], cluster_reason[300];
    if (!why && node->redis &&
        node->cluster_down(node->cluster_ctx, cluster_why, sizeof(cluster_why))) {
        snprintf(cluster_reason, sizeof(cluster_reason), "the cluster cannot take publishes: %s",
                 cluster_why);
        why = cluster_reason;
    }
    struct rp_buf b;
    rp_buf_init(&b, 256);
    if (why) {
        rp_buf_append_str(&b, "{\"ready\":false,\"reason\":\"");
        rp_json_escape(&b, why, strlen(why));
        rp_buf_append_str(&b, "\"}\n");
    } else
        rp_buf_append_str(&b, "{\"ready\":true}\n");
    rp_api_respond_json(c, req, why ? 503 : 200, &b);
    rp_buf_fini(&b);
}

void
rp_api_dashboard(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req)
{
    (void)a;
    size_t len;
    const char *page = rp_dashboard_page(&len);
    rp_conn_respond(c, req, 200, "text/html; charset=utf-8",
                    "Cache-Control: no-cache\r\n"
                    "Content-Security-Policy: default-src 'self'; script-src 'unsafe-inline'; "
                    "style-src 'unsafe-inline'; img-src 'self' data:\r\n",
                    page, len);
}

void
rp_api_index(struct rp_api *a, struct rp_conn *c, const struct rp_http_request *req)
{
    (void)a;
    static const char body[] =
        "{\"name\":\"revenprox\",\"endpoints\":["
        "\"GET /events/{topic}\",\"GET /events?topic=a&topic=b\","
        "\"POST /publish\",\"POST /publish/{topic}\","
        "\"GET /topics\",\"GET /topics/{topic}\",\"GET /topics/{topic}/events\","
        "\"GET /metrics\",\"GET /healthz\",\"GET /health\",\"GET /readyz\","
        "\"GET /dashboard\",\"GET /upstream/{name}/{path}\",\"GET /upstreams\","
        "\"POST /sessions/{id}/events\",\"POST /sessions/events\","
        "\"GET /sessions/{id}\",\"GET /sessions?subject=\"]}\n";
    rp_conn_respond(c, req, 200, "application/json", NULL, body, sizeof(body) - 1);
}
