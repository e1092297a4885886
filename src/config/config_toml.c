/* SPDX-License-Identifier: MIT */
/*
 * The documented RevenProx's configuration file onto our settings. Every documented key has
 * one row in `dropin_keys` below: the setting it feeds and the unit conversion, or why it is
 * not honoured. The target setting is named as text and looked up when loading, so a setting
 * another part of the tree adds later (auth_webhook_format, auth_webhook_retries) is picked
 * up by its name alone, and until then the key becomes a notice saying why.
 */
#include "config/config_toml.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/diag.h"
#include "config/config.h"
#include "config/config_file.h"
#include "config/config_setting.h"
#include "config/config_value.h"
#include "config/toml.h"

enum conv {
    CONV_AS_IS = 0, /* same unit as ours: counts, bytes, text, lists, choices */
    CONV_SECONDS,   /* whole seconds, to a DURATION */
    CONV_MILLIS,    /* whole milliseconds, to a DURATION */
    CONV_DECIMAL,   /* a TOML float (or integer), to a STRING setting holding a decimal */
    CONV_LATER,     /* read by finish(): it depends on other keys */
    CONV_NOTICE,    /* not honoured; <why> says why */
};

struct dropin_key {
    const char *table; /* "" for the top level */
    const char *key;
    const char *setting; /* ours; NULL for CONV_LATER and CONV_NOTICE */
    enum conv conv;
    const char *why; /* CONV_NOTICE, or when <setting> does not exist in this build */
};

#define NO_QUEUE                                                                                   \
    "the mesh queues per peer by message_batch_size and resends a gap from the origin's log "      \
    "instead of holding a socket buffer; the key is read and ignored"

/* The one mapping table: documented key -> our setting. docs/dropin.md mirrors it. */
static const struct dropin_key dropin_keys[] = {
    {"", "proxy_id", NULL, CONV_NOTICE,
     "a node is named to its mesh peers by the epoch of its own log, not by a configured id; "
     "the key is read and ignored"},
    {"", "log_level", "log_level", CONV_AS_IS, NULL},
    {"", "metrics_enabled", NULL, CONV_LATER, NULL},
    {"http", "bind_address", "listen", CONV_AS_IS, NULL},
    {"http", "max_connections", "max_connections", CONV_AS_IS, NULL},
    {"http", "connection_timeout_sec", "idle_timeout", CONV_SECONDS, NULL},
    {"http", "keepalive_interval_sec", "heartbeat", CONV_SECONDS, NULL},
    {"http", "max_message_queue_size", "lag_events", CONV_AS_IS, NULL},
    {"http", "thread_pool_size", "workers", CONV_AS_IS, NULL},
    {"http", "max_request_line_size", "max_request_line", CONV_AS_IS, NULL},
    {"http", "max_header_size", "max_header_bytes", CONV_AS_IS, NULL},
    {"http", "max_headers", "max_headers", CONV_AS_IS, NULL},
    {"http", "rate_limit_per_ip", NULL, CONV_LATER, NULL},
    {"http", "rate_limit_window_sec", NULL, CONV_LATER, NULL},
    {"http", "cors_allowed_origins", "cors_origins", CONV_AS_IS, NULL},
    {"http", "backpressure_policy", "slow_policy", CONV_AS_IS, NULL},
    {"jwt_verifier", "webhook_url", "auth_webhook_url", CONV_AS_IS, NULL},
    {"jwt_verifier", "timeout_ms", "auth_webhook_timeout", CONV_MILLIS, NULL},
    {"jwt_verifier", "retry_attempts", "auth_webhook_retries", CONV_AS_IS,
     "this build does not retry a failed webhook call; the circuit breaker and the client's "
     "own reconnect take its place"},
    {"jwt_verifier", "cache_ttl_sec", "auth_cache_ttl", CONV_SECONDS, NULL},
    {"jwt_verifier", "cache_max_size", "auth_cache_size", CONV_AS_IS, NULL},
    {"jwt_verifier", "circuit_breaker_threshold", "auth_breaker_failures", CONV_AS_IS, NULL},
    {"jwt_verifier", "circuit_breaker_timeout_sec", "auth_breaker_open", CONV_SECONDS, NULL},
    {"jwt_verifier", "rate_limit_per_sec", NULL, CONV_NOTICE,
     "webhook calls are bounded by the token cache (one call per token, however many requests "
     "carry it) and the circuit breaker, not by a rate"},
    {"jwt_verifier", "require_authentication", NULL, CONV_LATER, NULL},
    {"nng", "listen_addresses", "nng_listen_addresses", CONV_AS_IS, NULL},
    {"nng", "peer_addresses", "nng_peer_addresses", CONV_AS_IS, NULL},
    {"nng", "pub_buffer_size", NULL, CONV_NOTICE, NO_QUEUE},
    {"nng", "sub_buffer_size", NULL, CONV_NOTICE, NO_QUEUE},
    {"nng", "reconnect_interval_ms", "nng_reconnect_interval", CONV_MILLIS, NULL},
    {"nng", "heartbeat_interval_sec", "nng_heartbeat_interval", CONV_SECONDS, NULL},
    {"nng", "message_batch_size", "nng_message_batch_size", CONV_AS_IS, NULL},
    {"nng", "message_batch_timeout_ms", "nng_message_batch_timeout", CONV_MILLIS, NULL},
    {"distributed_state", "gossip_interval_sec", "gossip_interval", CONV_SECONDS, NULL},
    {"distributed_state", "bloom_filter_capacity", "bloom_filter_capacity", CONV_AS_IS, NULL},
    {"distributed_state", "bloom_filter_fpr", "bloom_filter_fpr", CONV_DECIMAL, NULL},
    {"distributed_state", "peer_timeout_sec", "peer_timeout", CONV_SECONDS, NULL},
    {"limits", "max_topics", "max_topics", CONV_AS_IS, NULL},
    {"limits", "max_topics_per_connection", "max_stream_topics", CONV_AS_IS, NULL},
    {"limits", "max_message_size", "max_data", CONV_AS_IS, NULL},
    {"limits", "max_body_size", "max_body", CONV_AS_IS, NULL},
    {"limits", "max_batch_size", "max_batch", CONV_AS_IS, NULL},
    {"limits", "max_connections_per_ip", "max_connections_per_ip", CONV_AS_IS, NULL},
};

static const char *const dropin_tables[] = {"http", "jwt_verifier", "nng", "distributed_state",
                                            "limits"};

/* The request shape of the documented webhook ({"jwt", "topic"}); mapped when it exists. */
#define WEBHOOK_FORMAT_SETTING "auth_webhook_format"
#define WEBHOOK_FORMAT_DOCUMENTED "documented"

struct toml_load {
    struct rp_config_loader *ld;
    const char *text;
    size_t len;
    struct rp_toml_table *root;
    bool ours[RP_CONFIG_N_SETTINGS]; /* set under [revenprox]: those win over the mapping */
};

/* ---- positions, messages and notices ---- */

static void
where_of(const struct toml_load *tl, const struct rp_toml_value *v, const char *table,
         const char *key, char *buf, size_t cap)
{
    unsigned line, col;
    rp_toml_position(tl->text, tl->len, v->off, &line, &col);
    rp_config_text_set(buf, cap, "%s:%u:%u: %s%s%s%s", tl->ld->name, line, col, table[0] ? "[" : "",
                       table, table[0] ? "] " : "", key);
}

static void
add_notice(struct toml_load *tl, const struct rp_toml_value *v, const char *table, const char *key,
           const char *why)
{
    struct rp_config *cfg = tl->ld->cfg;
    char where[RP_CONFIG_WHERE_CAP], line[RP_CONFIG_WHERE_CAP + 400];

    where_of(tl, v, table, key, where, sizeof(where));
    rp_config_text_set(line, sizeof(line), "%s: not honoured: %s", where, why);
    cfg->notices = rp_xrealloc(cfg->notices, (cfg->n_notices + 1) * sizeof(cfg->notices[0]));
    cfg->notices[cfg->n_notices++] = rp_xstrdup(line);
}

/* ---- TOML values to the text our settings parse ---- */

/* Joins an array of strings into our list syntax; items may hold no comma. */
static int
list_text(struct toml_load *tl, const char *where, const struct rp_toml_value *v, char **out)
{
    size_t len = 1;
    for (size_t i = 0; i < v->u.arr.n; i++) {
        const struct rp_toml_value *it = &v->u.arr.items[i];
        if (it->kind != RP_TOML_STRING || memchr(it->u.str.s, ',', it->u.str.len) ||
            strlen(it->u.str.s) != it->u.str.len) {
            rp_diag_set(tl->ld->diag,
                        "%s: item %zu: expected a string without commas (allowed: an array of "
                        "strings)",
                        where, i + 1);
            return -EINVAL;
        }
        len += it->u.str.len + 1;
    }
    char *s = rp_xmalloc(len);
    size_t used = 0;
    for (size_t i = 0; i < v->u.arr.n; i++) {
        const struct rp_toml_value *it = &v->u.arr.items[i];
        if (i)
            s[used++] = ',';
        memcpy(s + used, it->u.str.s, it->u.str.len);
        used += it->u.str.len;
    }
    s[used] = '\0';
    *out = s;
    return 0;
}

/*
 * The text of TOML value <v> for setting <s>, converted by <conv>; *<out> owned by the
 * caller. <ours>: a key under [revenprox], where sizes and durations may also be strings
 * with our units ("8k", "15s").
 */
static int
value_text(struct toml_load *tl, const char *where, const struct rp_config_setting *s,
           enum conv conv, bool ours, const struct rp_toml_value *v, char **out)
{
    enum rp_toml_kind want = RP_TOML_STRING;
    char num[48];

    switch (s->kind) {
    case RP_CONFIG_KIND_BOOL:
        want = RP_TOML_BOOL;
        break;
    case RP_CONFIG_KIND_INT:
        want = RP_TOML_INT;
        break;
    case RP_CONFIG_KIND_SIZE:
    case RP_CONFIG_KIND_DURATION:
        want = ours && v->kind == RP_TOML_STRING ? RP_TOML_STRING : RP_TOML_INT;
        break;
    case RP_CONFIG_KIND_LIST:
        want = v->kind == RP_TOML_ARRAY ? RP_TOML_ARRAY : RP_TOML_STRING;
        break;
    default:
        break;
    }
    if (conv == CONV_DECIMAL && (v->kind == RP_TOML_FLOAT || v->kind == RP_TOML_INT)) {
        if (v->kind == RP_TOML_FLOAT)
            snprintf(num, sizeof(num), "%.17g", v->u.f);
        else
            snprintf(num, sizeof(num), "%" PRId64, v->u.i);
        *out = rp_xstrdup(num);
        return 0;
    }
    if (v->kind != want) {
        rp_diag_set(tl->ld->diag, "%s: expected %s %s, not %s %s", where,
                    want == RP_TOML_INT || want == RP_TOML_ARRAY ? "an" : "a",
                    want == RP_TOML_STRING && s->kind == RP_CONFIG_KIND_LIST
                        ? "array of strings"
                        : rp_toml_kind_name(want),
                    v->kind == RP_TOML_INT || v->kind == RP_TOML_ARRAY ? "an" : "a",
                    rp_toml_kind_name(v->kind));
        return -EINVAL;
    }
    switch (v->kind) {
    case RP_TOML_STRING:
        if (strlen(v->u.str.s) != v->u.str.len) {
            rp_diag_set(tl->ld->diag, "%s: the string holds U+0000 (allowed: text)", where);
            return -EINVAL;
        }
        *out = rp_xstrdup(v->u.str.s);
        return 0;
    case RP_TOML_BOOL:
        *out = rp_xstrdup(v->u.b ? "true" : "false");
        return 0;
    case RP_TOML_INT:
        snprintf(num, sizeof(num), "%" PRId64 "%s", v->u.i,
                 conv == CONV_SECONDS  ? "s"
                 : conv == CONV_MILLIS ? "ms"
                                       : "");
        *out = rp_xstrdup(num);
        return 0;
    case RP_TOML_ARRAY:
        return list_text(tl, where, v, out);
    default:
        rp_diag_set(tl->ld->diag, "%s: unexpected %s", where, rp_toml_kind_name(v->kind));
        return -EINVAL;
    }
}

/* Sets our setting <name> (in this build: checked by the caller) from <v>. */
static int
apply(struct toml_load *tl, const char *where, const char *name, enum conv conv, bool ours,
      const struct rp_toml_value *v)
{
    const struct rp_config_setting *s = rp_config_setting_find(name, strlen(name), false);
    char *text = NULL;
    int err = value_text(tl, where, s, conv, ours, v, &text);
    if (!err)
        err = rp_config_file_set(tl->ld, where, s, text);
    free(text);
    return err;
}

/* Sets our setting <name> from the text <text>, unless [revenprox] set it. */
static int
apply_text(struct toml_load *tl, const char *where, const char *name, const char *text)
{
    const struct rp_config_setting *s = rp_config_setting_find(name, strlen(name), false);
    if (tl->ours[s - rp_config_settings])
        return 0;
    return rp_config_file_set(tl->ld, where, s, text);
}

static bool
setting_exists(const char *name)
{
    return rp_config_setting_find(name, strlen(name), false) != NULL;
}

static const struct dropin_key *
find_dropin(const char *table, const char *key)
{
    for (size_t i = 0; i < sizeof(dropin_keys) / sizeof(dropin_keys[0]); i++)
        if (strcmp(dropin_keys[i].table, table) == 0 && strcmp(dropin_keys[i].key, key) == 0)
            return &dropin_keys[i];
    return NULL;
}

/* ---- the documented keys ---- */

static const struct rp_toml_value *
get_in(const struct toml_load *tl, const char *table, const char *key)
{
    const struct rp_toml_table *t = tl->root;
    if (table[0]) {
        const struct rp_toml_value *tv = rp_toml_get(t, table);
        if (!tv || tv->kind != RP_TOML_TABLE)
            return NULL;
        t = tv->u.tab;
    }
    return rp_toml_get(t, key);
}

/* The documented keys of <table>, for the "allowed" part of a message. */
static void
list_keys(const char *table, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(dropin_keys) / sizeof(dropin_keys[0]) && used < cap; i++) {
        if (strcmp(dropin_keys[i].table, table) != 0)
            continue;
        int w = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", dropin_keys[i].key);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

static int
map_key(struct toml_load *tl, const char *table, const char *key, const struct rp_toml_value *v)
{
    char where[RP_CONFIG_WHERE_CAP], mapped[RP_CONFIG_WHERE_CAP + 80], keys[RP_CONFIG_WHAT_CAP];
    const struct dropin_key *d = find_dropin(table, key);

    where_of(tl, v, table, key, where, sizeof(where));
    if (!d && strcmp(table, "limits") == 0) {
        /* [limits] has no fixed list in the documentation: tell, do not refuse. */
        add_notice(tl, v, table, key, "no setting of this RevenProx matches this limit");
        return 0;
    }
    if (!d) {
        list_keys(table, keys, sizeof(keys));
        rp_diag_set(tl->ld->diag,
                    "%s: unknown key (allowed %s%s%s: %s%s; this RevenProx's own settings go "
                    "under [revenprox])",
                    where, table[0] ? "in [" : "at the top level", table, table[0] ? "]" : "", keys,
                    table[0] ? ""
                             : " and the tables [http], [jwt_verifier], [nng], "
                               "[distributed_state], [limits]");
        return -EINVAL;
    }
    if (d->conv == CONV_LATER)
        return 0;
    if (d->conv == CONV_NOTICE || !setting_exists(d->setting)) {
        add_notice(tl, v, table, key, d->why);
        return 0;
    }
    rp_config_text_set(mapped, sizeof(mapped), "%s (as %s)", where, d->setting);
    return apply(tl, mapped, d->setting, d->conv, false, v);
}

static bool
is_dropin_table(const char *key)
{
    for (size_t i = 0; i < sizeof(dropin_tables) / sizeof(dropin_tables[0]); i++)
        if (strcmp(dropin_tables[i], key) == 0)
            return true;
    return false;
}

static int
map_documented(struct toml_load *tl)
{
    char where[RP_CONFIG_WHERE_CAP];

    for (size_t i = 0; i < tl->root->n; i++) {
        const struct rp_toml_entry *e = &tl->root->items[i];
        bool tab = is_dropin_table(e->key) || strcmp(e->key, "revenprox") == 0;
        if (tab && e->val.kind != RP_TOML_TABLE) {
            where_of(tl, &e->val, "", e->key, where, sizeof(where));
            rp_diag_set(tl->ld->diag, "%s: expected a table ([%s]), not a%s %s", where, e->key,
                        e->val.kind == RP_TOML_INT || e->val.kind == RP_TOML_ARRAY ? "n" : "",
                        rp_toml_kind_name(e->val.kind));
            return -EINVAL;
        }
        if (strcmp(e->key, "revenprox") == 0)
            continue;
        if (!tab) {
            if (map_key(tl, "", e->key, &e->val))
                return -EINVAL;
            continue;
        }
        const struct rp_toml_table *t = e->val.u.tab;
        for (size_t j = 0; j < t->n; j++)
            if (map_key(tl, e->key, t->items[j].key, &t->items[j].val))
                return -EINVAL;
    }
    return 0;
}

/* ---- [revenprox]: our own settings by their names ---- */

static int
set_ours(struct toml_load *tl, const char *table, const char *key, const struct rp_toml_value *v)
{
    char where[RP_CONFIG_WHERE_CAP];
    const struct rp_config_setting *s = rp_config_setting_find(key, strlen(key), false);

    where_of(tl, v, table, key, where, sizeof(where));
    if (!s) {
        const struct rp_config_setting *near = rp_config_setting_suggest(key, strlen(key));
        rp_diag_set(tl->ld->diag, "%s: unknown setting (%s%s%s)", where,
                    near ? "did you mean " : "see docs/configuration.md", near ? near->name : "",
                    near ? "?" : "");
        return -EINVAL;
    }
    if (tl->ld->section < 0)
        tl->ours[s - rp_config_settings] = true;
    return apply(tl, where, s->name, CONV_AS_IS, true, v);
}

/* [revenprox.topic."PATTERN"]: the [topic "PATTERN"] sections of our own syntax. */
static int
set_topics(struct toml_load *tl, const struct rp_toml_value *topics)
{
    char where[RP_CONFIG_WHERE_CAP], table[RP_CONFIG_WHERE_CAP];

    for (size_t i = 0; i < topics->u.tab->n; i++) {
        const struct rp_toml_entry *e = &topics->u.tab->items[i];
        where_of(tl, &e->val, "revenprox.topic", e->key, where, sizeof(where));
        if (e->val.kind != RP_TOML_TABLE) {
            rp_diag_set(tl->ld->diag,
                        "%s: expected a table of settings ([revenprox.topic.\"PATTERN\"])", where);
            return -EINVAL;
        }
        if (rp_config_file_section(tl->ld, where, e->key))
            return -EINVAL;
        rp_config_text_set(table, sizeof(table), "revenprox.topic.\"%s\"", e->key);
        for (size_t j = 0; j < e->val.u.tab->n; j++) {
            const struct rp_toml_entry *kv = &e->val.u.tab->items[j];
            if (set_ours(tl, table, kv->key, &kv->val))
                return -EINVAL;
        }
        tl->ld->section = -1;
    }
    return 0;
}

static int
set_revenprox(struct toml_load *tl)
{
    const struct rp_toml_value *ours = rp_toml_get(tl->root, "revenprox");
    if (!ours)
        return 0;
    for (size_t i = 0; i < ours->u.tab->n; i++) {
        const struct rp_toml_entry *e = &ours->u.tab->items[i];
        int err = strcmp(e->key, "topic") == 0 && e->val.kind == RP_TOML_TABLE
                      ? set_topics(tl, &e->val)
                      : set_ours(tl, "revenprox", e->key, &e->val);
        if (err)
            return err;
    }
    return 0;
}

/* ---- keys that depend on others ---- */

/* The value of a documented key that must be of <kind>, or NULL when absent. */
static int
typed(struct toml_load *tl, const char *table, const char *key, enum rp_toml_kind kind,
      const struct rp_toml_value **out)
{
    char where[RP_CONFIG_WHERE_CAP];
    const struct rp_toml_value *v = get_in(tl, table, key);
    *out = v;
    if (!v || v->kind == kind)
        return 0;
    where_of(tl, v, table, key, where, sizeof(where));
    rp_diag_set(tl->ld->diag, "%s: expected a%s %s, not a%s %s", where,
                kind == RP_TOML_INT ? "n" : "", rp_toml_kind_name(kind),
                v->kind == RP_TOML_INT || v->kind == RP_TOML_ARRAY ? "n" : "",
                rp_toml_kind_name(v->kind));
    return -EINVAL;
}

/*
 * rate_limit_per_ip N per rate_limit_window_sec W becomes our per-address token bucket of
 * new connections: a burst of N, refilled at N/W a second (rounded up: our rate is whole).
 */
static int
finish_rate_limit(struct toml_load *tl)
{
    const struct rp_toml_value *per, *win;
    char where[RP_CONFIG_WHERE_CAP], text[32];

    if (typed(tl, "http", "rate_limit_per_ip", RP_TOML_INT, &per) ||
        typed(tl, "http", "rate_limit_window_sec", RP_TOML_INT, &win))
        return -EINVAL;
    if (!per) {
        if (win)
            add_notice(tl, win, "http", "rate_limit_window_sec",
                       "it qualifies rate_limit_per_ip, which is not set");
        return 0;
    }
    where_of(tl, per, "http", "rate_limit_per_ip", where, sizeof(where));
    int64_t window = win ? win->u.i : 1;
    if (per->u.i < 0 || window < 1) {
        rp_diag_set(
            tl->ld->diag,
            "%s: must be 0 or more per a window of 1 second or more (rate_limit_window_sec)",
            where);
        return -EINVAL;
    }
    if (per->u.i == 0)
        return apply_text(tl, where, "connect_rate", "0");
    /* Rounded up without overflow: per and window may be anything up to INT64_MAX. */
    snprintf(text, sizeof(text), "%" PRId64, per->u.i / window + (per->u.i % window != 0));
    if (apply_text(tl, where, "connect_rate", text))
        return -EINVAL;
    snprintf(text, sizeof(text), "%" PRId64, per->u.i);
    return apply_text(tl, where, "connect_burst", text);
}

/*
 * Our lag limit is capped at half of history_count, so that a subscriber held at it can
 * resume from the log; a documented queue size larger than that gets the history it needs.
 */
static int
finish_queue(struct toml_load *tl)
{
    const struct rp_toml_value *q = get_in(tl, "http", "max_message_queue_size");
    const struct rp_config_setting *hc = rp_config_setting_find("history_count", 13, false);
    char where[RP_CONFIG_WHERE_CAP], text[32];

    if (!q || tl->ours[hc - rp_config_settings] || tl->ld->cfg->v.history_count >= 2 * q->u.i)
        return 0;
    where_of(tl, q, "http", "max_message_queue_size", where, sizeof(where));
    /* <q> passed lag_events' range (at most 10,000,000), so twice it cannot overflow; it is
     * capped at history_count's own maximum. */
    int64_t want = 2 * q->u.i;
    const int64_t history_max = hc->max;
    snprintf(text, sizeof(text), "%" PRId64, want < history_max ? want : history_max);
    return apply_text(tl, where, "history_count", text);
}

static int
finish_auth(struct toml_load *tl)
{
    const struct rp_toml_value *req, *url = get_in(tl, "jwt_verifier", "webhook_url");
    const struct rp_config_setting *mode = rp_config_setting_find("auth_mode", 9, false);
    const struct rp_config_values *v = &tl->ld->cfg->v;
    char where[RP_CONFIG_WHERE_CAP];

    if (typed(tl, "jwt_verifier", "require_authentication", RP_TOML_BOOL, &req))
        return -EINVAL;
    bool has_url = v->auth_webhook_url && v->auth_webhook_url[0];
    bool want = req ? req->u.b : url && has_url;
    if (!req && !url)
        return 0;
    where_of(tl, req ? req : url, "jwt_verifier", req ? "require_authentication" : "webhook_url",
             where, sizeof(where));
    if (tl->ours[mode - rp_config_settings]) {
        /* Our auth_mode decides; it may not quietly drop the authentication asked for. */
        if (want && v->auth_mode == RP_CFG_AUTH_MODE_NONE) {
            rp_diag_set(tl->ld->diag,
                        "%s: authentication is required, but [revenprox] auth_mode = none", where);
            return -EINVAL;
        }
        return 0;
    }
    if (!want) {
        if (url)
            add_notice(tl, url, "jwt_verifier", "webhook_url",
                       "require_authentication = false, so no token is checked");
        return 0;
    }
    if (!has_url) {
        rp_diag_set(tl->ld->diag,
                    "%s: authentication is required, but [jwt_verifier] webhook_url is not set "
                    "(set it, or choose an auth_mode under [revenprox])",
                    where);
        return -EINVAL;
    }
    if (apply_text(tl, where, "auth_mode", "webhook"))
        return -EINVAL;
    /* The documented request shape ({"jwt", "topic"}): its setting is named, not linked. */
    if (setting_exists(WEBHOOK_FORMAT_SETTING))
        return apply_text(tl, where, WEBHOOK_FORMAT_SETTING, WEBHOOK_FORMAT_DOCUMENTED);
    if (url)
        add_notice(
            tl, url, "jwt_verifier", "webhook_url",
            "the webhook is called, but with this RevenProx's request shape (docs/api.md), "
            "not the documented {jwt, topic} shape: this build has no " WEBHOOK_FORMAT_SETTING);
    return 0;
}

static int
finish(struct toml_load *tl)
{
    const struct rp_toml_value *metrics;

    if (typed(tl, "", "metrics_enabled", RP_TOML_BOOL, &metrics))
        return -EINVAL;
    if (metrics && !metrics->u.b)
        add_notice(tl, metrics, "", "metrics_enabled",
                   "/metrics is always served; keep it from the internet at your reverse proxy "
                   "or firewall");
    if (finish_rate_limit(tl) || finish_queue(tl))
        return -EINVAL;
    return finish_auth(tl);
}

bool
rp_config_toml_named(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n >= 5 && strcmp(name + n - 5, ".toml") == 0;
}

int
rp_config_toml_parse(struct rp_config_loader *ld, const char *text, size_t len)
{
    struct toml_load tl = {.ld = ld, .text = text, .len = len};
    struct rp_diag diag = {{0}};
    int err;

    if (len > RP_CONFIG_FILE_CAP) {
        rp_diag_set(ld->diag, "%s: the file is larger than 1 MiB (allowed: up to 1 MiB)", ld->name);
        return -EINVAL;
    }
    if (rp_toml_parse(text, len, &tl.root, &diag)) {
        rp_diag_set(ld->diag, "%s:%s", ld->name, diag.msg);
        return -EINVAL;
    }
    /* The documented keys first, then ours, which win; then what depends on both. */
    err = map_documented(&tl);
    if (!err)
        err = set_revenprox(&tl);
    if (!err)
        err = finish(&tl);
    rp_toml_free(tl.root);
    return err;
}
