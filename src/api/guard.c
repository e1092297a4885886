/* SPDX-License-Identifier: MIT */
#include "api/guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/diag.h"
#include "base/alloc.h"
#include "base/backoff.h"
#include "base/clock.h"
#include "base/stats.h"
#include "net/conncap.h"
#include "net/ratelimit.h"

/* Buckets and counts are per client address; a cap on addresses bounds their memory. */
#define MAX_CLIENT_KEYS 100000 /* about 15 MB per limiter when full */
#define STORM_SPREAD_MS 5000   /* after a storm, admitted streams get a jittered retry */

struct rp_guard {
    struct rp_addr_key *trusted_proxies;
    size_t n_trusted_proxies;
    struct rp_ratelimit *connect_limit; /* each NULL when its setting is off */
    struct rp_ratelimit *publish_limit;
    struct rp_ratelimit *storm_limit; /* node-wide: one key */
    struct rp_conncap *conncap;
    _Atomic int64_t storm_until_ms; /* streams admitted before this get a jittered retry */
};

int
rp_guard_new(const struct rp_guard_config *cfg, struct rp_guard **out, struct rp_diag *diag)
{
    struct rp_guard *g = rp_xcalloc(1, sizeof(*g));
    atomic_init(&g->storm_until_ms, 0);
    g->n_trusted_proxies = cfg->n_trusted_proxies;
    g->trusted_proxies = rp_xcalloc(cfg->n_trusted_proxies + 1, sizeof(struct rp_addr_key));
    for (size_t i = 0; i < cfg->n_trusted_proxies; i++) {
        const char *a = cfg->trusted_proxies[i];
        if (rp_addr_key_parse(a, strlen(a), &g->trusted_proxies[i]) != 0) {
            rp_diag_set(diag, "trusted_proxies: '%s' is not an IPv4 or IPv6 address", a);
            rp_guard_free(g);
            return -EINVAL;
        }
    }
    if (cfg->connect_rate > 0)
        g->connect_limit = rp_ratelimit_new(cfg->connect_rate, cfg->connect_burst, MAX_CLIENT_KEYS);
    if (cfg->publish_rate > 0)
        g->publish_limit = rp_ratelimit_new(cfg->publish_rate, cfg->publish_burst, MAX_CLIENT_KEYS);
    if (cfg->storm_accept_rate > 0)
        g->storm_limit = rp_ratelimit_new(cfg->storm_accept_rate, cfg->storm_accept_rate, 1);
    if (cfg->max_connections > 0 || cfg->max_connections_per_ip > 0) {
        g->conncap = rp_conncap_new((size_t)cfg->max_connections_per_ip,
                                    (size_t)cfg->max_connections, MAX_CLIENT_KEYS);
        rp_conncap_set_proxies(g->conncap, g->trusted_proxies, g->n_trusted_proxies);
    }
    *out = g;
    return 0;
}

void
rp_guard_free(struct rp_guard *g)
{
    if (!g)
        return;
    rp_ratelimit_free(g->connect_limit);
    rp_ratelimit_free(g->publish_limit);
    rp_ratelimit_free(g->storm_limit);
    rp_conncap_free(g->conncap);
    free(g->trusted_proxies);
    free(g);
}

struct rp_conncap *
rp_guard_conncap(struct rp_guard *g)
{
    return g->conncap;
}

void
rp_guard_retry_after(char *hdr, size_t cap, int64_t ms)
{
    int64_t s = (ms + 999) / 1000;
    snprintf(hdr, cap, "Retry-After: %lld\r\n", (long long)(s > 0 ? s : 1));
}

static bool
is_trusted_proxy(const struct rp_guard *g, const struct rp_addr_key *k)
{
    for (size_t i = 0; i < g->n_trusted_proxies; i++)
        if (rp_addr_key_equal(&g->trusted_proxies[i], k))
            return true;
    return false;
}

/* The client behind a trusted proxy is the right-most X-Forwarded-For address that is not
 * itself a trusted proxy (addresses further left were written by the client: not trusted). */
static void
resolve_client(const struct rp_guard *g, struct rp_conn *c, const struct rp_http_request *req)
{
    c->client_key = c->peer_key;
    if (!g->n_trusted_proxies || !is_trusted_proxy(g, &c->peer_key))
        return;
    const char *xff = rp_http_request_header(req, "X-Forwarded-For");
    if (!xff)
        return;
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        const char *a = start, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        struct rp_addr_key k;
        if (rp_addr_key_parse(a, (size_t)(b - a), &k) != 0)
            return; /* garbage: keep the proxy's own address */
        c->client_key = k;
        if (!is_trusted_proxy(g, &k))
            return;
        end = start > xff ? start - 1 : xff;
    }
}

bool
rp_guard_admit(struct rp_guard *g, struct rp_conn *c, const struct rp_http_request *req)
{
    struct rp_stats *stats = rp_conn_stats(c);
    char hdr[64], msg[200], ip[RP_ADDR_KEY_STRLEN];
    c->admitted = true;
    resolve_client(g, c, req);
    /* The front counted the connection when it accepted it; one from a trusted proxy only
     * in the total, until now that the client is known. */
    if (c->cap && !c->cap_keyed) {
        int rc = rp_conncap_acquire_key(c->cap, &c->client_key);
        if (rc == -ENOSPC) {
            rp_stat_add(stats, RP_STAT_ratelimit_total, 1);
            c->close_after_write = true;
            rp_conn_error(c, req, 503, "the server holds max_connections connections; retry later",
                          "Retry-After: 1\r\n");
            return false;
        }
        if (rc) {
            rp_stat_add(stats, RP_STAT_ratelimit_per_ip, 1);
            rp_addr_key_format(&c->client_key, ip, sizeof(ip));
            snprintf(msg, sizeof(msg),
                     "%s already has max_connections_per_ip (%lld) connections open", ip,
                     (long long)rp_conn_config(c)->max_connections_per_ip);
            c->close_after_write = true;
            rp_conn_error(c, req, 429, msg, "Retry-After: 1\r\n");
            return false;
        }
        c->cap_keyed = true;
    }
    if (g->connect_limit) {
        int64_t wait = rp_ratelimit_take(g->connect_limit, &c->client_key, rp_clock_now_ms());
        if (wait > 0) {
            rp_stat_add(stats, RP_STAT_ratelimit_connect, 1);
            rp_guard_retry_after(hdr, sizeof(hdr), wait);
            c->close_after_write = true;
            rp_conn_error(c, req, 429, "too many new connections from this address (connect_rate)",
                          hdr);
            return false;
        }
    }
    return true;
}

bool
rp_guard_publish(struct rp_guard *g, struct rp_conn *c, const struct rp_http_request *req)
{
    if (!g->publish_limit)
        return true;
    int64_t wait = rp_ratelimit_take(g->publish_limit, &c->client_key, rp_clock_now_ms());
    if (wait <= 0)
        return true;
    char hdr[64];
    rp_stat_add(rp_conn_stats(c), RP_STAT_ratelimit_publish, 1);
    rp_stat_add(rp_conn_stats(c), RP_STAT_publish_rejected_total, 1);
    rp_guard_retry_after(hdr, sizeof(hdr), wait);
    rp_conn_error(c, req, 429, "too many publishes from this address (publish_rate)", hdr);
    return false;
}

bool
rp_guard_stream(struct rp_guard *g, struct rp_conn *c, const struct rp_http_request *req)
{
    if (!g->storm_limit)
        return true;
    static const struct rp_addr_key node_key;
    const struct rp_config_values *v = rp_conn_config(c);
    int64_t now = rp_clock_now_ms();
    if (rp_ratelimit_take(g->storm_limit, &node_key, now) == 0) {
        if (now < atomic_load(&g->storm_until_ms))
            c->retry_ms = rp_backoff_jitter_ms(v->retry > 0 ? v->retry : 1000, v->storm_retry_max);
        return true;
    }
    atomic_store(&g->storm_until_ms, now + STORM_SPREAD_MS);
    rp_stat_add(rp_conn_stats(c), RP_STAT_ratelimit_storm, 1);
    char hdr[64];
    rp_guard_retry_after(hdr, sizeof(hdr), rp_backoff_jitter_ms(1000, v->storm_retry_max));
    rp_conn_error(c, req, 503, "too many clients are connecting at once; retry after the delay",
                  hdr);
    return false;
}

/* ---- Host allow-list ---- */

#define HOST_CAP 256 /* a DNS name is at most 253 bytes */

/*
 * The host of <text> ("name", "name:port", "[v6]:port", as in Host or listen), without
 * brackets or a final dot, lower-cased, into <out>; *<ip> says whether it is an IP address.
 * False when <text> is not host[:port].
 */
static bool
host_part(const char *text, char out[HOST_CAP], bool *ip)
{
    const char *end;
    size_t n;
    if (text[0] == '[') {
        end = strchr(text, ']');
        n = end ? (size_t)(end - text - 1) : 0;
        if (n == 0 || n >= HOST_CAP)
            return false;
        memcpy(out, text + 1, n);
        end++;
    } else {
        end = text + strcspn(text, ":");
        n = (size_t)(end - text);
        if (n == 0 || n >= HOST_CAP)
            return false;
        memcpy(out, text, n);
        if (n > 1 && out[n - 1] == '.')
            n--;
    }
    out[n] = '\0';
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(out[i] >= 'A' && out[i] <= 'Z' ? out[i] - 'A' + 'a' : out[i]);
    unsigned char addr[16];
    *ip = inet_pton(text[0] == '[' ? AF_INET6 : AF_INET, out, addr) == 1;
    if (text[0] == '[' && !*ip)
        return false;
    if (*end == ':')
        end += 1 + strspn(end + 1, "0123456789");
    return *end == '\0';
}

/* <host> (as host_part leaves it) ends with <suffix> (".example.com"), after a label. */
static bool
has_suffix(const char *host, const char *suffix)
{
    size_t h = strlen(host), s = strlen(suffix);
    return h > s && strcasecmp(host + h - s, suffix) == 0;
}

/* <host> matches the allowed_hosts entry <entry>: `*`, `*.suffix`, or a host[:port]. */
static bool
entry_matches(const char *host, const char *entry)
{
    char name[HOST_CAP];
    bool ip;
    if (strcmp(entry, "*") == 0)
        return true;
    if (strncmp(entry, "*.", 2) == 0)
        return has_suffix(host, entry + 1);
    return host_part(entry, name, &ip) && strcmp(host, name) == 0;
}

bool
rp_guard_host_allowed(const struct rp_config_values *v, const char *host)
{
    char name[HOST_CAP], listen[HOST_CAP];
    bool ip, listen_ip;
    const struct rp_config_list *allowed = &v->allowed_hosts;
    if (allowed->n == 0 && v->auth_mode != RP_CFG_AUTH_MODE_NONE)
        return true; /* a rebinding page has no credentials */
    if (!host_part(host, name, &ip))
        return false;
    for (size_t i = 0; i < allowed->n; i++)
        if (entry_matches(name, allowed->items[i]))
            return true;
    if (allowed->n > 0)
        return false;
    /* An IP address is never rebound: a page on it is on that address. */
    return ip || strcmp(name, "localhost") == 0 || has_suffix(name, ".localhost") ||
           (host_part(v->listen, listen, &listen_ip) && strcmp(name, listen) == 0);
}

bool
rp_guard_host(struct rp_conn *c, const struct rp_http_request *req)
{
    const char *host = rp_http_request_header(req, "Host");
    if (!host || rp_guard_host_allowed(rp_conn_config(c), host))
        return true;
    rp_stat_add(rp_conn_stats(c), RP_STAT_hosts_refused, 1);
    rp_conn_error(c, req, 421,
                  "this server does not answer for that Host name (DNS rebinding guard); "
                  "see allowed_hosts",
                  NULL);
    return false;
}
