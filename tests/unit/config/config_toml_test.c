/* SPDX-License-Identifier: MIT */
/*
 * The documented RevenProx's TOML file through rp_config_load_string: every documented key
 * lands in the setting and unit the mapping table says, or leaves exactly one notice; the
 * documented defaults we do not share stay ours unless the file asks; our own settings work
 * under [revenprox]; and what is wrong is refused with file, line and column.
 */
#include "config/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The documented example, rebuilt from the keys its documentation lists. */
static const char documented[] =
    "proxy_id = \"proxy-eu-1\"\n"
    "log_level = \"info\"\n"
    "metrics_enabled = true\n"
    "\n"
    "[http]\n"
    "bind_address = \"0.0.0.0:8080\"\n"
    "max_connections = 10000\n"
    "connection_timeout_sec = 300\n"
    "keepalive_interval_sec = 30\n"
    "max_message_queue_size = 1000\n"
    "thread_pool_size = 4\n"
    "max_request_line_size = 8192\n"
    "max_header_size = 16384\n"
    "max_headers = 100\n"
    "rate_limit_per_ip = 100\n"
    "rate_limit_window_sec = 60\n"
    "cors_allowed_origins = [\"*\"]\n"
    "backpressure_policy = \"drop_newest\"\n"
    "\n"
    "[jwt_verifier]\n"
    "webhook_url = \"http://auth.internal:9000/verify\"\n"
    "timeout_ms = 5000\n"
    "retry_attempts = 3\n"
    "cache_ttl_sec = 300\n"
    "cache_max_size = 10000\n"
    "circuit_breaker_threshold = 5\n"
    "circuit_breaker_timeout_sec = 30\n"
    "rate_limit_per_sec = 1000\n"
    "require_authentication = true\n"
    "\n"
    "[nng]\n"
    "listen_addresses = [\"tcp://0.0.0.0:5555\"]\n"
    "peer_addresses = [\"tcp://10.0.0.2:5555\", \"tcp://10.0.0.3:5555\"]\n"
    "pub_buffer_size = 1000\n"
    "sub_buffer_size = 1000\n"
    "reconnect_interval_ms = 1000\n"
    "heartbeat_interval_sec = 5\n"
    "message_batch_size = 100\n"
    "message_batch_timeout_ms = 10\n"
    "\n"
    "[distributed_state]\n"
    "gossip_interval_sec = 1\n"
    "bloom_filter_capacity = 100000\n"
    "bloom_filter_fpr = 0.01\n"
    "peer_timeout_sec = 30\n"
    "\n"
    "[limits]\n"
    "max_topics = 50000\n"
    "max_message_size = 65536\n"
    "max_topics_per_connection = 32\n";

static const char *const setting_names[] = {
#define RP_SETTING(name, type, def, min, max, choices, scope, reload, help) #name,
#include "config/settings.def"
#undef RP_SETTING
};

static bool
setting_exists(const char *name)
{
    for (size_t i = 0; i < sizeof(setting_names) / sizeof(setting_names[0]); i++)
        if (strcmp(setting_names[i], name) == 0)
            return true;
    return false;
}

static struct rp_config *
load_env(const char *text, char *const *envp)
{
    struct rp_config *cfg = NULL;
    struct rp_diag diag;
    if (rp_config_load_string(text, strlen(text), "proxy.toml", envp, 0, NULL, &cfg, &diag))
        fail_msg("load failed: %s\n--- text ---\n%s", diag.msg, text);
    if (!cfg)
        abort();
    return cfg;
}

static struct rp_config *
load(const char *text)
{
    return load_env(text, NULL);
}

/* <text> is refused with a message holding each NULL-terminated string that follows. */
static void
refused(const char *text, ...)
{
    struct rp_config *cfg = NULL;
    struct rp_diag diag;
    va_list ap;
    if (rp_config_load_string(text, strlen(text), "proxy.toml", NULL, 0, NULL, &cfg, &diag) == 0)
        fail_msg("accepted:\n%s", text);
    va_start(ap, text);
    for (const char *want = va_arg(ap, const char *); want; want = va_arg(ap, const char *))
        if (!strstr(diag.msg, want))
            fail_msg("message \"%s\" lacks \"%s\"", diag.msg, want);
    va_end(ap);
}

/* How many notices of <cfg> hold <part>. */
static size_t
notices_with(const struct rp_config *cfg, const char *part)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_notices; i++)
        n += strstr(cfg->notices[i], part) != NULL;
    return n;
}

static void
test_documented_file_maps(void **state)
{
    (void)state;
    struct rp_config *cfg = load(documented);
    const struct rp_config_values *v = &cfg->v;
    assert_string_equal(v->listen, "0.0.0.0:8080");
    assert_int_equal(v->max_connections, 10000);
    assert_int_equal(v->idle_timeout, 300 * 1000);
    assert_int_equal(v->heartbeat, 30 * 1000);
    assert_int_equal(v->lag_events, 1000);
    assert_int_equal(v->history_count, 2000); /* lag is capped at half the history */
    assert_int_equal(v->workers, 4);
    assert_int_equal(v->max_request_line, 8192);
    assert_int_equal(v->max_header_bytes, 16384);
    assert_int_equal(v->max_headers, 100);
    assert_int_equal(v->connect_rate, 2); /* 100 a minute, rounded up to whole seconds */
    assert_int_equal(v->connect_burst, 100);
    assert_int_equal(v->cors_origins.n, 1);
    assert_string_equal(v->cors_origins.items[0], "*");
    assert_int_equal(v->slow_policy, RP_CFG_SLOW_POLICY_DROP_NEWEST);
    assert_int_equal(v->auth_mode, RP_CFG_AUTH_MODE_WEBHOOK);
    assert_string_equal(v->auth_webhook_url, "http://auth.internal:9000/verify");
    assert_int_equal(v->auth_webhook_timeout, 5000);
    assert_int_equal(v->auth_cache_ttl, 300 * 1000);
    assert_int_equal(v->auth_cache_size, 10000);
    assert_int_equal(v->auth_breaker_failures, 5);
    assert_int_equal(v->auth_breaker_open, 30 * 1000);
    assert_int_equal(v->max_topics, 50000);
    assert_int_equal(v->max_data, 65536);
    assert_int_equal(v->max_stream_topics, 32);
    assert_int_equal(v->log_level, RP_CFG_LOG_LEVEL_INFO);
    /* The mesh's keys, in our units. */
    assert_int_equal(v->nng_listen_addresses.n, 1);
    assert_string_equal(v->nng_listen_addresses.items[0], "tcp://0.0.0.0:5555");
    assert_int_equal(v->nng_peer_addresses.n, 2);
    assert_string_equal(v->nng_peer_addresses.items[1], "tcp://10.0.0.3:5555");
    assert_int_equal(v->nng_reconnect_interval, 1000);
    assert_int_equal(v->nng_heartbeat_interval, 5 * 1000);
    assert_int_equal(v->nng_message_batch_size, 100);
    assert_int_equal(v->nng_message_batch_timeout, 10);
    assert_int_equal(v->gossip_interval, 1000);
    assert_int_equal(v->bloom_filter_capacity, 100000);
    assert_string_equal(v->bloom_filter_fpr, "0.01");
    assert_int_equal(v->peer_timeout, 30 * 1000);

    /* One notice per key not honoured, naming it with its place in the file. */
    assert_int_equal(notices_with(cfg, "proxy.toml:1:12: proxy_id: not honoured"), 1);
    assert_int_equal(notices_with(cfg, "[nng] pub_buffer_size"), 1);
    assert_int_equal(notices_with(cfg, "[nng] sub_buffer_size"), 1);
    assert_int_equal(notices_with(cfg, "[nng] "), 2);
    assert_int_equal(notices_with(cfg, "[distributed_state] "), 0);
    assert_int_equal(notices_with(cfg, "[jwt_verifier] rate_limit_per_sec"), 1);
    size_t want = 4;
    bool retries = setting_exists("auth_webhook_retries");
    bool shape = setting_exists("auth_webhook_format");
    assert_int_equal(notices_with(cfg, "[jwt_verifier] retry_attempts"), retries ? 0 : 1);
    assert_int_equal(notices_with(cfg, "[jwt_verifier] webhook_url"), shape ? 0 : 1);
    want += !retries + !shape;
    assert_int_equal(cfg->n_notices, want);
    for (size_t i = 0; i < cfg->n_notices; i++)
        assert_non_null(strstr(cfg->notices[i], ": not honoured: "));
    rp_config_free(cfg);
}

/* The documented defaults we do not share: ours unless the file names them. */
static void
test_defaults_that_differ(void **state)
{
    (void)state;
    struct rp_config *cfg = load("[http]\nmax_connections = 5\n");
    assert_string_equal(cfg->v.listen, "127.0.0.1:8080");
    assert_int_equal(cfg->v.cors_origins.n, 0);
    assert_int_equal(cfg->v.slow_policy, RP_CFG_SLOW_POLICY_DISCONNECT);
    assert_int_equal(cfg->v.auth_mode, RP_CFG_AUTH_MODE_NONE);
    assert_int_equal(cfg->n_notices, 0);
    rp_config_free(cfg);
}

static void
test_our_settings_under_revenprox(void **state)
{
    (void)state;
    struct rp_config *cfg = load("[http]\nkeepalive_interval_sec = 30\nthread_pool_size = 4\n"
                                 "[revenprox]\nheartbeat = \"250ms\"\nmax-body = \"8m\"\n"
                                 "cors_origins = [\"https://a.example\", \"https://b.example\"]\n"
                                 "cors_credentials = true\nhistory_age = 60\n"
                                 "[revenprox.topic.\"chat/+\"]\nhistory_count = 5\n"
                                 "slow_policy = \"block\"\n");
    assert_int_equal(cfg->v.heartbeat, 250); /* ours wins over the documented key */
    assert_int_equal(cfg->v.workers, 4);
    assert_int_equal(cfg->v.max_body, 8 * 1024 * 1024);
    assert_int_equal(cfg->v.cors_origins.n, 2);
    assert_true(cfg->v.cors_credentials);
    assert_int_equal(cfg->v.history_age, 60 * 1000); /* a bare number is seconds, as ours */
    const struct rp_config_values *chat = rp_config_for_topic(cfg, "chat/lobby", 10);
    assert_int_equal(chat->history_count, 5);
    assert_int_equal(chat->slow_policy, RP_CFG_SLOW_POLICY_BLOCK);
    assert_int_equal(rp_config_for_topic(cfg, "news", 4)->history_count, 1000);
    rp_config_free(cfg);

    /* The environment and flags still come after the file. */
    char *env[] = {"REVENPROX_MAX_CONNECTIONS=7", NULL};
    cfg = load_env("[http]\nmax_connections = 5\n", env);
    assert_int_equal(cfg->v.max_connections, 7);
    rp_config_free(cfg);
}

static void
test_auth_mapping(void **state)
{
    (void)state;
    struct rp_config *cfg =
        load("[jwt_verifier]\nwebhook_url = \"http://h/v\"\nrequire_authentication = false\n");
    assert_int_equal(cfg->v.auth_mode, RP_CFG_AUTH_MODE_NONE);
    assert_int_equal(notices_with(cfg, "webhook_url: not honoured: require_authentication"), 1);
    rp_config_free(cfg);

    cfg = load("[jwt_verifier]\nwebhook_url = \"http://h/v\"\n");
    assert_int_equal(cfg->v.auth_mode, RP_CFG_AUTH_MODE_WEBHOOK);
    rp_config_free(cfg);

    cfg = load("[jwt_verifier]\nrequire_authentication = true\n"
               "[revenprox]\nauth_mode = \"jwt\"\nauth_jwt_secret = \"s\"\n");
    assert_int_equal(cfg->v.auth_mode, RP_CFG_AUTH_MODE_JWT);
    rp_config_free(cfg);

    /* Authentication asked for is never silently dropped. */
    refused("[jwt_verifier]\nrequire_authentication = true\n",
            "proxy.toml:2:26:", "webhook_url is not set", NULL);
    refused("[jwt_verifier]\nrequire_authentication = true\nwebhook_url = \"http://h/v\"\n"
            "[revenprox]\nauth_mode = \"none\"\n",
            "auth_mode = none", NULL);
}

static void
test_limits_and_metrics_notices(void **state)
{
    (void)state;
    struct rp_config *cfg =
        load("metrics_enabled = false\n[limits]\nmax_body_size = 2048\n"
             "max_subscriptions_total = 9\n[http]\nrate_limit_window_sec = 5\n");
    assert_int_equal(cfg->v.max_body, 2048);
    assert_int_equal(notices_with(cfg, "proxy.toml:4:27: [limits] max_subscriptions_total"), 1);
    assert_int_equal(notices_with(cfg, "metrics_enabled: not honoured"), 1);
    assert_int_equal(notices_with(cfg, "rate_limit_window_sec: not honoured"), 1);
    assert_int_equal(cfg->n_notices, 3);
    rp_config_free(cfg);
}

/* Conversions at the edges of 64 bits and of our ranges: refused or capped, never wrapped. */
static void
test_conversion_edges(void **state)
{
    (void)state;
    struct rp_config *cfg = load("[http]\nrate_limit_per_ip = 999999999\n"
                                 "rate_limit_window_sec = 9223372036854775807\n"
                                 "max_message_queue_size = 10000000\n");
    assert_int_equal(cfg->v.connect_rate, 1);
    assert_int_equal(cfg->v.connect_burst, 999999999);
    assert_int_equal(cfg->v.lag_events, 10000000);
    assert_int_equal(cfg->v.history_count, 10000000); /* capped at its maximum */
    rp_config_free(cfg);
    cfg = load("[http]\nrate_limit_per_ip = 0\n");
    assert_int_equal(cfg->v.connect_rate, 0);
    rp_config_free(cfg);

    refused("[http]\nrate_limit_per_ip = 9223372036854775807\nrate_limit_window_sec = 1\n",
            "rate_limit_per_ip", NULL);
    refused("[http]\nrate_limit_per_ip = 10\nrate_limit_window_sec = 0\n",
            "proxy.toml:2:21:", "a window of 1 second or more", NULL);
    refused("[http]\nkeepalive_interval_sec = 9223372036854775807\n", "too large", NULL);
    refused("[jwt_verifier]\ntimeout_ms = -9223372036854775808\n", "(as auth_webhook_timeout)",
            NULL);
    refused("[http]\nmax_connections = 1.5\n", "expected an integer, not a float", NULL);
}

static void
test_refusals(void **state)
{
    (void)state;
    refused("[http]\nmax_conections = 5\n", "proxy.toml:2:18: [http] max_conections",
            "unknown key (allowed in [http]: bind_address", NULL);
    refused("[htp]\nx = 1\n", "proxy.toml:1:2: htp: unknown key (allowed at the top level",
            "[limits]", NULL);
    refused("[http]\nmax_connections = \"100\"\n", "proxy.toml:2:19: [http] max_connections",
            "expected an integer, not a string", NULL);
    refused("[http]\nkeepalive_interval_sec = 7200\n",
            "proxy.toml:2:26: [http] keepalive_interval_sec (as heartbeat)", "out of range", NULL);
    refused("[http]\nbackpressure_policy = \"drop_everything\"\n", "(as slow_policy)",
            "drop_oldest", NULL);
    refused("[http]\ncors_allowed_origins = [\"a,b\"]\n", "without commas", NULL);
    refused("http = 5\n", "expected a table ([http]), not an integer", NULL);
    refused("[revenprox]\nheartbeet = 5\n", "[revenprox] heartbeet: unknown setting",
            "did you mean heartbeat?", NULL);
    refused("[revenprox.topic.\"chat/+\"]\nworkers = 2\n", "a global setting cannot be set", NULL);
    refused("[revenprox.topic.\"a/#/b\"]\nhistory_count = 2\n", "invalid pattern", NULL);
    refused("[http]\nmax_headers = 10\nmax_headers = 11\n",
            "proxy.toml:3:1:", "duplicate key `max_headers`", NULL);
    refused("[jwt_verifier]\nrequire_authentication = \"yes\"\n", "expected a boolean", NULL);
}

/* The example in docs/ loads as TOML by its name, and maps as its comments say. */
static void
test_example_file_loads(void **state)
{
    (void)state;
    const char *root = getenv("RP_SOURCE_ROOT");
    char path[4096];
    if (!root)
        fail_msg("RP_SOURCE_ROOT is not set");
    snprintf(path, sizeof(path), "%s/docs/proxy.example.toml", root);
    struct rp_config *cfg = NULL;
    struct rp_diag diag;
    if (rp_config_load(path, NULL, 0, NULL, &cfg, &diag) != 0 || !cfg)
        fail_msg("%s", diag.msg);
    assert_string_equal(cfg->v.listen, "0.0.0.0:8080");
    assert_int_equal(cfg->v.history_count, 2000);
    assert_int_equal(cfg->v.connect_rate, 2);
    assert_int_equal(cfg->v.auth_mode, RP_CFG_AUTH_MODE_WEBHOOK);
    assert_int_equal(cfg->n_topics, 1);
    assert_int_equal(cfg->v.allowed_hosts.n, 1);
    assert_true(cfg->n_notices >= 4);
    assert_int_equal(cfg->v.nng_peer_addresses.n, 2);
    rp_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documented_file_maps),
        cmocka_unit_test(test_defaults_that_differ),
        cmocka_unit_test(test_our_settings_under_revenprox),
        cmocka_unit_test(test_auth_mapping),
        cmocka_unit_test(test_limits_and_metrics_notices),
        cmocka_unit_test(test_conversion_edges),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_example_file_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
