/* SPDX-License-Identifier: MIT */
#include "auth/gate.h"

#include <errno.h>
#include <stdatomic.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_branca.h"
#include "auth/auth_jwt.h"
#include "auth/auth_webhook.h"
#include "auth/breaker.h"
#include "auth/token_cache.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/diag.h"
#include "base/list.h"
#include "base/log.h"
#include "base/stats.h"
#include "client/http_client.h"
#include "core/pattern.h"
#include "core/session.h"

_Static_assert(RP_AUTH__COUNT <= RP_STATS_AUTH_REASONS, "base/stats.h counts too few reasons");

#define WEBHOOK_MAX_BODY (64 * 1024)
#define WEBHOOK_MAX_IN_FLIGHT 256

struct rp_gate_shared {
    enum rp_gate_mode mode;
    struct rp_jwt_keys *jwt_keys;
    char *jwt_audience;
    char *jwt_issuer;
    int64_t jwt_leeway_ms;
    char *publisher_key;
    size_t max_token;
    char *webhook_url;
    int64_t webhook_connect_timeout_ms;
    int64_t webhook_timeout_ms;
    bool webhook_documented;
    unsigned webhook_retries;
    bool fallback_cached;
    struct rp_token_cache *cache;
    struct rp_breaker *breaker;
    _Atomic uint64_t webhook_failures; /* failed calls so far, node-wide */
    uint8_t branca_key[RP_BRANCA_KEY_LEN];
    uint32_t branca_ttl_s;
};

/* One webhook call in flight; owns a copy of the token and of the question (the two cache
 * keys its answer may resolve) and what was asked, for an answer that grants just that. */
struct call {
    struct rp_list node; /* in gate.calls */
    struct rp_gate *g;
    struct rp_http_call *http;
    char *token;
    size_t token_len;
    char *question;
    size_t question_len;
    char **topics;
    size_t n_topics;
    bool publish;
    /* The request, kept for retries: made attempt + 1 times so far; when due_ms is set, the
     * next one waits for it (http is NULL meanwhile). */
    char *body;
    size_t body_len;
    unsigned attempt;
    int64_t due_ms;
};

struct rp_gate {
    struct rp_gate_shared *sh;
    struct rp_stats *stats;
    struct rp_http_client *http; /* NULL unless a webhook mode */
    struct rp_list calls;
    rp_gate_wake_fn wake;
    void *wake_ctx;
};

static char *
dup_or_null(const char *s)
{
    return s && *s ? rp_xstrdup(s) : NULL;
}

static void
on_breaker_transition(void *ctx, enum rp_breaker_state from, enum rp_breaker_state to)
{
    (void)ctx;
    RP_LOG(to == RP_BREAKER_OPEN ? RP_LOG_WARN : RP_LOG_INFO, "auth",
           "msg=\"webhook circuit breaker %s -> %s\"", rp_breaker_state_name(from),
           rp_breaker_state_name(to));
}

int
rp_gate_shared_new(const struct rp_gate_config *cfg, rp_gate_wake_fn wake_all, void *ctx,
                   struct rp_gate_shared **out, struct rp_diag *diag)
{
    struct rp_gate_shared *sh = rp_xcalloc(1, sizeof(*sh));
    sh->mode = cfg->mode;
    sh->max_token = cfg->max_token;
    sh->publisher_key = dup_or_null(cfg->publisher_key);
    bool jwt = cfg->mode == RP_GATE_MODE_JWT || cfg->mode == RP_GATE_MODE_JWT_WEBHOOK;
    bool webhook = cfg->mode == RP_GATE_MODE_WEBHOOK || cfg->mode == RP_GATE_MODE_JWT_WEBHOOK;

    if (jwt) {
        if (!(cfg->jwt_secret && *cfg->jwt_secret) && !(cfg->jwt_key_file && *cfg->jwt_key_file) &&
            !(cfg->jwt_jwks_file && *cfg->jwt_jwks_file)) {
            rp_diag_set(diag,
                        "auth_mode %s needs a key: set auth_jwt_secret, auth_jwt_key_file or "
                        "auth_jwt_jwks_file",
                        cfg->mode == RP_GATE_MODE_JWT ? "jwt" : "jwt+webhook");
            goto fail;
        }
        if (rp_jwt_keys_load(&sh->jwt_keys, cfg->jwt_secret, cfg->jwt_key_file, cfg->jwt_jwks_file,
                             diag) != 0)
            goto fail;
        sh->jwt_audience = dup_or_null(cfg->jwt_audience);
        sh->jwt_issuer = dup_or_null(cfg->jwt_issuer);
        sh->jwt_leeway_ms = cfg->jwt_leeway_ms;
    }
    if (webhook) {
        const char *url = cfg->webhook_url ? cfg->webhook_url : "";
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
            rp_diag_set(diag,
                        "auth_mode %s needs auth_webhook_url, an http:// or https:// URL (got "
                        "\"%.200s\")",
                        cfg->mode == RP_GATE_MODE_WEBHOOK ? "webhook" : "jwt+webhook", url);
            goto fail;
        }
        if (rp_http_client_global_init() != 0) {
            rp_diag_set(diag, "the HTTP client library (libcurl) failed to start");
            goto fail;
        }
        sh->webhook_url = rp_xstrdup(url);
        sh->webhook_connect_timeout_ms = cfg->webhook_connect_timeout_ms;
        sh->webhook_documented = cfg->webhook_documented;
        sh->webhook_retries = cfg->webhook_retries;
        sh->webhook_timeout_ms = cfg->webhook_timeout_ms;
        sh->fallback_cached = cfg->breaker_fallback_cached;
        struct rp_breaker_config bc = {
            .failure_threshold = cfg->breaker_failures,
            .error_rate = (double)cfg->breaker_error_rate_pct / 100.0,
            .window_ms = cfg->breaker_window_ms,
            .min_requests = cfg->breaker_min_calls,
            .open_ms = cfg->breaker_open_ms,
            .half_open_probes = cfg->breaker_probes,
            .on_transition = on_breaker_transition,
            .ctx = NULL,
        };
        sh->breaker = rp_breaker_new(&bc);
    }
    if (jwt || webhook)
        sh->cache = rp_token_cache_new(cfg->cache_size, cfg->cache_ttl_ms,
                                       cfg->cache_negative_ttl_ms, wake_all, ctx);
    if (cfg->mode == RP_GATE_MODE_BRANCA) {
        const char *hex = cfg->branca_key_hex ? cfg->branca_key_hex : "";
        if (rp_branca_key_parse(hex, strlen(hex), sh->branca_key) != 0) {
            rp_diag_set(
                diag,
                "auth_mode branca needs sse_secret (or the SSE_SECRET environment variable): "
                "exactly 64 hex characters, the 32-byte key (got %zu characters)",
                strlen(hex));
            goto fail;
        }
        sh->branca_ttl_s = (uint32_t)(cfg->branca_ttl_ms / 1000);
    }
    *out = sh;
    return 0;
fail:
    rp_gate_shared_free(sh);
    return -EINVAL;
}

void
rp_gate_shared_free(struct rp_gate_shared *sh)
{
    if (!sh)
        return;
    rp_jwt_keys_free(sh->jwt_keys);
    free(sh->jwt_audience);
    free(sh->jwt_issuer);
    free(sh->publisher_key);
    free(sh->webhook_url);
    rp_token_cache_free(sh->cache);
    rp_breaker_free(sh->breaker);
    if (sh->webhook_url)
        rp_http_client_global_cleanup(); /* every worker's client is gone by now */
    OPENSSL_cleanse(sh->branca_key, sizeof(sh->branca_key));
    free(sh);
}

enum rp_gate_mode
rp_gate_mode(const struct rp_gate_shared *sh)
{
    return sh->mode;
}

void
rp_gate_report(const struct rp_gate_shared *sh, struct rp_gate_report *out)
{
    memset(out, 0, sizeof(*out));
    if (sh && sh->cache)
        out->cache_entries = rp_token_cache_count(sh->cache);
    if (!sh || !sh->breaker)
        return;
    out->has_breaker = true;
    out->breaker_state = rp_breaker_state(sh->breaker);
    for (int i = 0; i < RP_BREAKER__COUNT; i++)
        out->breaker_transitions[i] = rp_breaker_transitions(sh->breaker, (enum rp_breaker_state)i);
    out->cache_entries = rp_token_cache_count(sh->cache);
}

struct rp_gate *
rp_gate_new(struct rp_gate_shared *sh, struct rp_loop *loop, struct rp_stats *stats,
            rp_gate_wake_fn wake, void *ctx)
{
    struct rp_gate *g = rp_xcalloc(1, sizeof(*g));
    g->sh = sh;
    g->stats = stats;
    g->wake = wake;
    g->wake_ctx = ctx;
    rp_list_init(&g->calls);
    if (sh->webhook_url) {
        g->http = rp_http_client_new(loop, WEBHOOK_MAX_IN_FLIGHT);
        if (!g->http)
            RP_LOG(RP_LOG_ERROR, "auth",
                   "msg=\"cannot create the webhook client; tokens the webhook must verify "
                   "get 503\"");
    }
    return g;
}

static void
call_free(struct call *call)
{
    rp_list_remove(&call->node);
    OPENSSL_cleanse(call->token, call->token_len);
    free(call->token);
    OPENSSL_cleanse(call->question, call->question_len);
    free(call->question);
    if (call->body)
        OPENSSL_cleanse(call->body, call->body_len);
    free(call->body);
    for (size_t i = 0; i < call->n_topics; i++)
        free(call->topics[i]);
    free(call->topics);
    free(call);
}

void
rp_gate_free(struct rp_gate *g)
{
    if (!g)
        return;
    while (!rp_list_empty(&g->calls)) {
        struct call *call = RP_CONTAINER_OF(g->calls.next, struct call, node);
        rp_http_call_cancel(call->http);
        rp_token_cache_abandon(g->sh->cache, call->token, call->token_len);
        rp_token_cache_abandon(g->sh->cache, call->question, call->question_len);
        call_free(call);
    }
    rp_http_client_free(g->http);
    free(g);
}

int
rp_gate_timeout_ms(const struct rp_gate *g, int64_t now_ms)
{
    int t = g->http ? rp_http_client_timeout_ms(g->http, now_ms) : -1;
    for (struct rp_list *pos = g->calls.next; pos != &g->calls; pos = pos->next) {
        const struct call *call = RP_CONTAINER_OF(pos, struct call, node);
        if (!call->due_ms)
            continue;
        int64_t left = call->due_ms > now_ms ? call->due_ms - now_ms : 0;
        if (t < 0 || left < t)
            t = (int)left;
    }
    return t;
}

static void post_due(struct rp_gate *g, int64_t now_ms);

void
rp_gate_tick(struct rp_gate *g, int64_t now_ms)
{
    if (g->http) {
        rp_http_client_tick(g->http, now_ms);
        post_due(g, now_ms);
    }
}

/* ---- verification ---- */

static void
grant_write_all(struct rp_grant *grant)
{
    rp_grant_add_write(grant, "#", 1);
    /* `#` does not reach sessions' private topics (core/pattern.h): name them. */
    rp_grant_add_write(grant, RP_SESSION_TOPIC_PREFIX "#", sizeof(RP_SESSION_TOPIC_PREFIX));
}

/*
 * The cache key of one question: the action, the topics asked and the token. An answer
 * that does not say what it grants ({"valid":true} alone) or a refusal answers only this
 * question; a grant with filters answers any question of the token and is kept under the
 * token itself. Starts with a byte no token has (rp_gate_verify refuses control bytes), so
 * it never meets a token's key.
 */
static char *
question_key(const struct rp_gate_ask *a, size_t *len)
{
    size_t n = 3 + strlen(a->action) + a->token_len;
    for (size_t i = 0; i < a->n_topics; i++)
        n += strlen(a->topics[i]) + 1;
    char *k = rp_xmalloc(n), *p = k;
    *p++ = '\x01';
    p = stpcpy(p, a->action) + 1; /* the NUL ends the action */
    for (size_t i = 0; i < a->n_topics; i++)
        p = stpcpy(p, a->topics[i]) + 1;
    *p++ = '\x01';
    memcpy(p, a->token, a->token_len);
    *len = (size_t)(p - k) + a->token_len;
    return k;
}

/* {"valid":true} alone: exactly what the call asked, read or write. */
static void
grant_asked(const struct call *call, struct rp_grant *grant)
{
    for (size_t i = 0; i < call->n_topics; i++) {
        if (call->publish)
            rp_grant_add_write(grant, call->topics[i], strlen(call->topics[i]));
        else
            rp_grant_add_read(grant, call->topics[i], strlen(call->topics[i]));
    }
}

/* The call failed for good (or could not be made): its keys are no longer PENDING. */
static void
call_failed(struct call *call)
{
    rp_token_cache_abandon(call->g->sh->cache, call->token, call->token_len);
    rp_token_cache_abandon(call->g->sh->cache, call->question, call->question_len);
}

static void call_done(void *ctx, const struct rp_http_result *r);

/* Sends <call>'s request; 0, or the client's error (too many calls in flight). */
static int
post(struct call *call)
{
    struct rp_gate_shared *sh = call->g->sh;
    struct rp_http_post req = {
        .url = sh->webhook_url,
        .content_type = "application/json",
        .body = call->body,
        .body_len = call->body_len,
        .connect_timeout_ms = sh->webhook_connect_timeout_ms,
        .total_timeout_ms = sh->webhook_timeout_ms,
        .max_body = WEBHOOK_MAX_BODY,
    };
    call->due_ms = 0;
    return rp_http_client_post(call->g->http, &req, call_done, call, &call->http);
}

/* Retries whose back-off has passed. */
static void
post_due(struct rp_gate *g, int64_t now_ms)
{
    bool woke = false;
    struct rp_list *pos, *tmp;
    RP_LIST_FOREACH_SAFE (pos, tmp, &g->calls) {
        struct call *call = RP_CONTAINER_OF(pos, struct call, node);
        if (!call->due_ms || call->due_ms > now_ms)
            continue;
        if (post(call) != 0) {
            call_failed(call);
            call_free(call);
            woke = true;
        }
    }
    if (woke)
        g->wake(g->wake_ctx);
}

/* The webhook answered (or failed): cache the answer, tell the breaker, wake waiters. A
 * failure is first retried, auth_webhook_retries times, after 100, 200, 300 ms, ... */
static void
call_done(void *ctx, const struct rp_http_result *r)
{
    struct call *call = ctx;
    struct rp_gate *g = call->g;
    struct rp_gate_shared *sh = g->sh;
    int64_t now = rp_clock_now_ms();
    struct rp_grant grant = {0};
    int64_t ttl_ms = 0;
    enum rp_auth_result result = RP_AUTH_UNAVAILABLE;
    struct rp_diag why = {{0}};
    bool filters_given = false;

    rp_stat_webhook_latency(g->stats, r->elapsed_ms);
    if (r->error) {
        rp_diag_set(&why, "%s", r->detail && *r->detail ? r->detail : strerror(-r->error));
    } else if (r->status == 200) {
        result =
            rp_webhook_parse_answer(r->body, r->body_len, &grant, &ttl_ms, &filters_given, &why);
    } else if (r->status == 401 || r->status == 403) {
        result = RP_AUTH_REJECTED; /* the application said no, in HTTP terms */
    } else {
        rp_diag_set(&why, "the webhook answered HTTP %d", r->status);
    }
    call->http = NULL;
    if (result == RP_AUTH_UNAVAILABLE && call->attempt < sh->webhook_retries) {
        call->attempt++;
        call->due_ms = now + 100 * (int64_t)call->attempt;
        RP_LOG(RP_LOG_INFO, "auth", "msg=\"webhook call failed: %s; retry %u of %u in %lld ms\"",
               why.msg, call->attempt, sh->webhook_retries, (long long)(call->due_ms - now));
        rp_grant_fini(&grant);
        return;
    }
    if (result == RP_AUTH_UNAVAILABLE) {
        rp_stat_add(g->stats, RP_STAT_auth_webhook_failures, 1);
        atomic_fetch_add(&sh->webhook_failures, 1);
        rp_breaker_record(sh->breaker, now, false);
        RP_LOG(RP_LOG_WARN, "auth", "msg=\"webhook call failed: %s\" elapsed_ms=%lld", why.msg,
               (long long)r->elapsed_ms);
        call_failed(call);
    } else if (result == RP_AUTH_OK && filters_given && !sh->webhook_documented) {
        /* (The documented webhook answers one topic: whatever else it says, its valid
         * answers that topic, below.) */
        rp_breaker_record(sh->breaker, now, true);
        rp_token_cache_resolve(sh->cache, call->token, call->token_len, now, rp_clock_wall_ms(),
                               result, &grant, ttl_ms);
    } else {
        rp_breaker_record(sh->breaker, now, true);
        if (result == RP_AUTH_OK) {
            rp_grant_fini(&grant);
            memset(&grant, 0, sizeof(grant));
            grant_asked(call, &grant);
        }
        rp_token_cache_resolve(sh->cache, call->question, call->question_len, now,
                               rp_clock_wall_ms(), result, result == RP_AUTH_OK ? &grant : NULL,
                               ttl_ms);
        rp_token_cache_abandon(sh->cache, call->token, call->token_len);
    }
    rp_grant_fini(&grant);
    call_free(call);
    g->wake(g->wake_ctx);
}

/* A call to the webhook for <a> (its <body>, taken), whose token or question is PENDING in
 * the cache now; sent, or freed with its keys abandoned. 0 or -EAGAIN. */
static int
start_call(struct rp_gate *g, const struct rp_gate_ask *a, char *question, size_t question_len,
           char *body, size_t body_len)
{
    struct call *call = rp_xcalloc(1, sizeof(*call));
    call->g = g;
    call->token = rp_xstrndup(a->token, a->token_len);
    call->token_len = a->token_len;
    call->question = question;
    call->question_len = question_len;
    call->topics = rp_xcalloc(a->n_topics + 1, sizeof(char *));
    for (size_t i = 0; i < a->n_topics; i++)
        call->topics[call->n_topics++] = rp_xstrdup(a->topics[i]);
    call->publish = strcmp(a->action, "publish") == 0;
    call->body = body;
    call->body_len = body_len;
    rp_list_insert_tail(&g->calls, &call->node);
    if (post(call) != 0) {
        /* Too many calls in flight (or the client refused): the breaker is not told, the
         * webhook did nothing wrong. */
        call_failed(call);
        call_free(call);
        return -EAGAIN;
    }
    rp_stat_add(g->stats, RP_STAT_auth_webhook_calls, 1);
    return 0;
}

/* Whether this gate may call the webhook now; if not, *<result> and *<retry_after_ms> say
 * why the request cannot be verified. */
static bool
may_call(struct rp_gate *g, const struct rp_gate_ask *a, int64_t now, uint64_t failures,
         enum rp_auth_result *result, int64_t *retry_after_ms)
{
    struct rp_gate_shared *sh = g->sh;
    /* Not when this request already waited for a call that failed: the breaker, not each
     * waiting request, decides when to try again. */
    bool failed_meanwhile = a->wait_mark && *a->wait_mark && failures + 1 > *a->wait_mark;
    if (!failed_meanwhile && g->http && rp_breaker_allow(sh->breaker, now))
        return true;
    *result = RP_AUTH_UNAVAILABLE;
    int64_t after = g->http ? rp_breaker_retry_after_ms(sh->breaker, now) : 5000;
    *retry_after_ms = after > 0 ? after : 1000;
    return false;
}

static enum rp_gate_status
wait_for(const struct rp_gate_ask *a, uint64_t failures)
{
    if (a->wait_mark && !*a->wait_mark)
        *a->wait_mark = failures + 1;
    return RP_GATE_WAIT;
}

static void
free_key(char *k, size_t len)
{
    OPENSSL_cleanse(k, len);
    free(k);
}

static enum rp_gate_status
ask_webhook(struct rp_gate *g, const struct rp_gate_ask *a, struct rp_grant *grant,
            enum rp_auth_result *result, int64_t *retry_after_ms)
{
    struct rp_gate_shared *sh = g->sh;
    int64_t now = rp_clock_now_ms();
    bool stale = rp_breaker_state(sh->breaker) != RP_BREAKER_CLOSED && sh->fallback_cached;
    /* A grant with filters is the token's, kept under the token; an answer that grants what
     * was asked, or a refusal, is the question's (see question_key). The question is peeked
     * first: a token lookup that misses inserts a PENDING entry, which in a full cache would
     * evict the very answer the question holds. */
    size_t q_len;
    char *q = question_key(a, &q_len);
    if (rp_token_cache_peek(sh->cache, q, q_len, now, stale, result, grant) == RP_TOKEN_CACHE_HIT) {
        free_key(q, q_len);
        rp_stat_add(g->stats, RP_STAT_auth_cache_hits, 1);
        return RP_GATE_DONE;
    }
    enum rp_token_cache_lookup l =
        rp_token_cache_lookup(sh->cache, a->token, a->token_len, now, stale, result, grant);
    uint64_t failures = atomic_load(&sh->webhook_failures);
    if (l != RP_TOKEN_CACHE_MISS) {
        free_key(q, q_len);
        if (l == RP_TOKEN_CACHE_HIT) {
            rp_stat_add(g->stats, RP_STAT_auth_cache_hits, 1);
            return RP_GATE_DONE;
        }
        return wait_for(a, failures);
    }
    rp_stat_add(g->stats, RP_STAT_auth_cache_misses, 1);
    if (!may_call(g, a, now, failures, result, retry_after_ms)) {
        rp_token_cache_abandon(sh->cache, a->token, a->token_len);
        free_key(q, q_len);
        return RP_GATE_DONE;
    }
    size_t body_len = 0;
    char *body = rp_webhook_request_body(a->token, a->token_len, a->topics, a->n_topics, a->ip,
                                         a->user_agent ? a->user_agent : "", a->action, &body_len);
    if (start_call(g, a, q, q_len, body, body_len) != 0) {
        *result = RP_AUTH_UNAVAILABLE;
        *retry_after_ms = 1000;
        return RP_GATE_DONE;
    }
    return wait_for(a, failures);
}

/*
 * The documented webhook: one question a topic ({"jwt","topic"}), each cached on its own
 * (with the action: its request carries none, so a subscription and a publish are asked
 * apart). Done when every topic has its answer: all valid grants them (read, or write for a
 * publish), one refusal refuses. A pattern names no topic, so it is not asked about and is
 * granted nothing (403 then).
 */
static enum rp_gate_status
ask_documented(struct rp_gate *g, const struct rp_gate_ask *a, struct rp_grant *grant,
               enum rp_auth_result *result, int64_t *retry_after_ms)
{
    struct rp_gate_shared *sh = g->sh;
    *result = RP_AUTH_OK;
    bool publish = strcmp(a->action, "publish") == 0;
    int64_t now = rp_clock_now_ms();
    bool stale = rp_breaker_state(sh->breaker) != RP_BREAKER_CLOSED && sh->fallback_cached;
    uint64_t failures = atomic_load(&sh->webhook_failures);
    bool waiting = false, refused = false;
    for (size_t i = 0; i < a->n_topics && !refused; i++) {
        const char *topic = a->topics[i];
        if (rp_pattern_has_wildcard(topic, strlen(topic)))
            continue;
        struct rp_gate_ask one = *a;
        one.topics = &a->topics[i];
        one.n_topics = 1;
        size_t q_len;
        char *q = question_key(&one, &q_len);
        enum rp_auth_result r;
        struct rp_grant got = {0};
        enum rp_token_cache_lookup l =
            rp_token_cache_lookup(sh->cache, q, q_len, now, stale, &r, &got);
        rp_grant_fini(&got);
        if (l == RP_TOKEN_CACHE_HIT) {
            rp_stat_add(g->stats, RP_STAT_auth_cache_hits, 1);
            refused = r != RP_AUTH_OK;
            if (refused)
                *result = r;
            else if (publish)
                rp_grant_add_write(grant, topic, strlen(topic));
            else
                rp_grant_add_read(grant, topic, strlen(topic));
        } else if (l == RP_TOKEN_CACHE_PENDING) {
            waiting = true;
        } else {
            rp_stat_add(g->stats, RP_STAT_auth_cache_misses, 1);
            if (!may_call(g, a, now, failures, result, retry_after_ms)) {
                rp_token_cache_abandon(sh->cache, q, q_len);
                free_key(q, q_len);
                return RP_GATE_DONE;
            }
            size_t body_len;
            char *body =
                rp_webhook_request_body_documented(a->token, a->token_len, topic, &body_len);
            if (start_call(g, &one, q, q_len, body, body_len) != 0) {
                *result = RP_AUTH_UNAVAILABLE;
                *retry_after_ms = 1000;
                return RP_GATE_DONE;
            }
            waiting = true;
            continue;
        }
        free_key(q, q_len);
    }
    if (refused || waiting) {
        rp_grant_fini(grant);
        memset(grant, 0, sizeof(*grant));
    }
    if (refused)
        return RP_GATE_DONE;
    if (waiting)
        return wait_for(a, failures);
    return RP_GATE_DONE;
}

static enum rp_gate_status
ask(struct rp_gate *g, const struct rp_gate_ask *a, struct rp_grant *grant,
    enum rp_auth_result *result, int64_t *retry_after_ms)
{
    if (g->sh->webhook_documented)
        return ask_documented(g, a, grant, result, retry_after_ms);
    return ask_webhook(g, a, grant, result, retry_after_ms);
}

/* Tokens that are not JWTs for our keys go to the webhook in jwt+webhook mode; a JWT our
 * keys can check and that fails is refused here. */
static bool
jwt_not_ours(enum rp_auth_result r)
{
    return r == RP_AUTH_MALFORMED || r == RP_AUTH_UNKNOWN_KEY || r == RP_AUTH_BAD_ALG;
}

enum rp_gate_status
rp_gate_verify(struct rp_gate *g, const struct rp_gate_ask *a, struct rp_grant *grant,
               enum rp_auth_result *result, int64_t *retry_after_ms)
{
    struct rp_gate_shared *sh = g->sh;
    *retry_after_ms = 0;
    if (!a->token || a->token_len == 0) {
        *result = RP_AUTH_MISSING;
        return RP_GATE_DONE;
    }
    if (a->token_len > sh->max_token) {
        *result = RP_AUTH_TOO_LARGE;
        return RP_GATE_DONE;
    }
    /* No token format has control bytes; refusing them keeps the webhook's question keys
     * (question_key) apart from tokens in the cache. */
    for (size_t i = 0; i < a->token_len; i++) {
        if ((unsigned char)a->token[i] < 0x20 || a->token[i] == 0x7f) {
            *result = RP_AUTH_MALFORMED;
            return RP_GATE_DONE;
        }
    }
    if (sh->publisher_key && strlen(sh->publisher_key) == a->token_len &&
        CRYPTO_memcmp(sh->publisher_key, a->token, a->token_len) == 0) {
        grant_write_all(grant);
        *result = RP_AUTH_OK;
        return RP_GATE_DONE;
    }
    switch (sh->mode) {
    case RP_GATE_MODE_NONE:
        rp_grant_add_read(grant, "#", 1);
        grant_write_all(grant);
        *result = RP_AUTH_OK;
        return RP_GATE_DONE;
    case RP_GATE_MODE_JWT:
    case RP_GATE_MODE_JWT_WEBHOOK: {
        struct rp_jwt_options opt = {
            .audience = sh->jwt_audience,
            .issuer = sh->jwt_issuer,
            .leeway_ms = sh->jwt_leeway_ms,
        };
        /* Reconnecting clients present the same token again: a signature (ES256: ~75 us)
         * is checked once per token and cache TTL, capped at the token's exp. */
        int64_t now = rp_clock_now_ms();
        enum rp_token_cache_lookup l =
            rp_token_cache_lookup(sh->cache, a->token, a->token_len, now, false, result, grant);
        if (l == RP_TOKEN_CACHE_HIT) {
            rp_stat_add(g->stats, RP_STAT_auth_cache_hits, 1);
            return RP_GATE_DONE;
        }
        *result =
            rp_jwt_verify(sh->jwt_keys, a->token, a->token_len, rp_clock_wall_ms(), &opt, grant);
        if (l == RP_TOKEN_CACHE_MISS) {
            rp_stat_add(g->stats, RP_STAT_auth_cache_misses, 1);
            /* Only successes are kept: a token refused for nbf may be good a second later. */
            if (*result == RP_AUTH_OK)
                rp_token_cache_resolve(sh->cache, a->token, a->token_len, now, rp_clock_wall_ms(),
                                       RP_AUTH_OK, grant, 0);
            else
                rp_token_cache_abandon(sh->cache, a->token, a->token_len);
        }
        if (sh->mode == RP_GATE_MODE_JWT || !jwt_not_ours(*result))
            return RP_GATE_DONE;
        return ask(g, a, grant, result, retry_after_ms);
    }
    case RP_GATE_MODE_WEBHOOK:
        return ask(g, a, grant, result, retry_after_ms);
    case RP_GATE_MODE_BRANCA: {
        uint8_t *payload = NULL;
        size_t len = 0;
        *result = rp_gate_open_branca(g, a->token, a->token_len, &payload, &len);
        if (*result != RP_AUTH_OK)
            return RP_GATE_DONE;
        if (rp_branca_read_topics(payload, len, grant, NULL) != 0)
            *result = RP_AUTH_MALFORMED;
        free(payload);
        return RP_GATE_DONE;
    }
    }
    *result = RP_AUTH_MALFORMED;
    return RP_GATE_DONE;
}

enum rp_auth_result
rp_gate_open_branca(struct rp_gate *g, const char *token, size_t len, uint8_t **payload,
                    size_t *payload_len)
{
    *payload = NULL;
    if (g->sh->mode != RP_GATE_MODE_BRANCA)
        return RP_AUTH_MALFORMED;
    if (len > g->sh->max_token)
        return RP_AUTH_TOO_LARGE;
    return rp_branca_decode(g->sh->branca_key, token, len, rp_clock_wall_ms() / 1000,
                            g->sh->branca_ttl_s, payload, payload_len, NULL);
}
