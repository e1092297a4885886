/* SPDX-License-Identifier: MIT */
#ifndef RP_API_GUARD_H
#define RP_API_GUARD_H
/*
 * Abuse control in front of every endpoint: who the client is (the TCP peer, or the
 * X-Forwarded-For address a trusted proxy names), connection caps per client and in all,
 * per-client rates for new connections and publishes, and the node-wide reconnect-storm
 * guard, and the Host allow-list against DNS rebinding. Each check that refuses queues the
 * answer itself (status, message, Retry-After) and counts it. Node-wide and shared by every
 * worker's thread (the limiters lock).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "front/conn.h"

/* The settings of the guard (0 = that limit is off). */
struct rp_guard_config {
    char *const *trusted_proxies; /* addresses; borrowed */
    size_t n_trusted_proxies;
    double connect_rate, connect_burst;
    double publish_rate, publish_burst;
    double storm_accept_rate;
    int64_t max_connections;
    int64_t max_connections_per_ip;
};

struct rp_conncap;
struct rp_guard;

/* 0 and *<out>, or -EINVAL with <diag> naming the bad setting. */
int rp_guard_new(const struct rp_guard_config *cfg, struct rp_guard **out, struct rp_diag *diag);
/* Frees the guard once no worker uses it. Accepts NULL. */
void rp_guard_free(struct rp_guard *g);
/* The connection caps (net/conncap.h), which each worker's front applies at accept; NULL
 * when both max_connections settings are 0. Borrowed, valid until rp_guard_free. */
struct rp_conncap *rp_guard_conncap(struct rp_guard *g);

/*
 * The first request of a connection: finds the client and applies the per-client limits:
 * connect_rate, and max_connections_per_ip to a client behind a trusted proxy (the front
 * counted every other connection at accept). False when a refusal was queued.
 */
bool rp_guard_admit(struct rp_guard *g, struct rp_conn *c, const struct rp_http_request *req);
/* publish_rate: false when a 429 was queued. */
bool rp_guard_publish(struct rp_guard *g, struct rp_conn *c, const struct rp_http_request *req);
/*
 * Reconnect-storm guard: past storm_accept_rate new streams per second (node-wide), new
 * streams get 503 with a jittered Retry-After, and for a few seconds admitted ones get a
 * jittered `retry:` (c->retry_ms), so a mass reconnect spreads out. False when a 503 was
 * queued.
 */
bool rp_guard_stream(struct rp_guard *g, struct rp_conn *c, const struct rp_http_request *req);
/*
 * DNS rebinding: a page on a name its attacker points at us (127.0.0.1) is same-origin with
 * us for the browser, and sends that name in Host. False, with a 421 queued and counted,
 * when <req>'s Host is not one rp_guard_host_allowed accepts under the connection's
 * settings. A request without Host (HTTP/1.0) passes: browsers always send one.
 */
bool rp_guard_host(struct rp_conn *c, const struct rp_http_request *req);
/*
 * True when the Host value <host> may be served under <v>: a name allowed_hosts lists
 * (`*`: any; `*.example.com`: its subdomains); when allowed_hosts is empty, any host with
 * an auth_mode, else only IP addresses, `localhost`, `*.localhost` and the host of
 * `listen`. The port is ignored, names compare case-insensitively, a final dot is dropped.
 */
bool rp_guard_host_allowed(const struct rp_config_values *v, const char *host);
/* The `Retry-After: <seconds>` header line for a wait of <ms> (at least one second). */
void rp_guard_retry_after(char *hdr, size_t cap, int64_t ms);

#endif
