/* SPDX-License-Identifier: MIT */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Every setting name, from the same table the parser uses. */
static const char *const setting_names[] = {
#define RP_SETTING(name, type, def, min, max, choices, scope, reload, help) #name,
#include "config/settings.def"
#undef RP_SETTING
};

static struct rp_config *
load_ok(const char *text)
{
    struct rp_config *cfg = NULL;
    struct rp_diag diag;
    int err = rp_config_load_string(text, strlen(text), "t.conf", NULL, 0, NULL, &cfg, &diag);
    if (err)
        fail_msg("load failed: %s\n--- text ---\n%s", diag.msg, text);
    assert_non_null(cfg);
    return cfg;
}

/* Loads and expects -EINVAL with a message containing each string of <wants>. */
static void
check_error(const char *text, char *const *envp, int argc, char *const *argv, va_list wants)
{
    struct rp_config *cfg = (struct rp_config *)1;
    struct rp_diag diag;
    int err = rp_config_load_string(text, strlen(text), "t.conf", envp, argc, argv, &cfg, &diag);
    if (err != -EINVAL)
        fail_msg("expected -EINVAL, got %d for:\n%s", err, text);
    assert_null(cfg);
    for (const char *want = va_arg(wants, const char *); want; want = va_arg(wants, const char *))
        if (!strstr(diag.msg, want))
            fail_msg("message \"%s\" lacks \"%s\"", diag.msg, want);
}

/* <text>, <envp> and <argv> must fail with every NULL-terminated string that follows. */
static void
expect_error(const char *text, char *const *envp, int argc, char *const *argv, ...)
{
    va_list ap;
    va_start(ap, argv);
    check_error(text, envp, argc, argv, ap);
    va_end(ap);
}

/* The file <text> alone must fail with every NULL-terminated string that follows. */
static void
expect_file_error(const char *text, ...)
{
    va_list ap;
    va_start(ap, text);
    check_error(text, NULL, 0, NULL, ap);
    va_end(ap);
}

static char *
read_source_file(const char *rel)
{
    const char *root = getenv("RP_SOURCE_ROOT");
    char path[4096];
    if (!root)
        fail_msg("RP_SOURCE_ROOT is not set");
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static char *
dump_to_string(const struct rp_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    rp_config_dump(cfg, f);
    fclose(f);
    return text;
}

static void
test_defaults(void **state)
{
    struct rp_config *cfg = NULL;
    struct rp_diag diag;
    assert_int_equal(rp_config_load(NULL, NULL, 0, NULL, &cfg, &diag), 0);
    assert_string_equal(cfg->v.listen, "127.0.0.1:8080");
    assert_int_equal(cfg->v.workers, 0);
    assert_string_equal(rp_config_choice("log_level", cfg->v.log_level), "info");
    assert_int_equal(cfg->v.heartbeat, 15000);
    assert_int_equal(cfg->v.handshake_timeout, 10000);
    assert_int_equal(cfg->v.retry, 2000);
    assert_int_equal(cfg->v.max_request_line, 8192);
    assert_int_equal(cfg->v.max_body, 4 * 1024 * 1024);
    assert_int_equal(cfg->v.history_count, 1000);
    assert_int_equal(cfg->v.history_bytes, 16 * 1024 * 1024);
    assert_int_equal(cfg->v.history_age, 3600000);
    assert_string_equal(rp_config_choice("slow_policy", cfg->v.slow_policy), "disconnect");
    assert_int_equal(cfg->v.cors_origins.n, 0);
    assert_false(cfg->v.cors_credentials);
    assert_int_equal(cfg->n_topics, 0);
    assert_null(cfg->file);
    assert_ptr_equal(rp_config_for_topic(cfg, "a/b", 3), &cfg->v);
    rp_config_free(cfg);
    rp_config_free(NULL);
}

static void
test_file_types(void **state)
{
    struct rp_config *cfg = load_ok("# a comment\n"
                                    "\n"
                                    "   # an indented comment\n"
                                    "listen = 0.0.0.0:9000   # trailing comment\n"
                                    "workers = 4\n"
                                    "log-level = WARN\n"
                                    "heartbeat = 250ms\n"
                                    "handshake_timeout = 2m\n"
                                    "idle_timeout = 1h\n"
                                    "shutdown_timeout = 30\n"
                                    "max_request_line = 2k\n"
                                    "max_header_bytes = 32 KiB\n"
                                    "max_body = 2MB\n"
                                    "max_data = 1000\n"
                                    "history_bytes = 1G\n"
                                    "slow_policy = drop-oldest\n"
                                    "cors_origins =  https://a.example , https://b.example,c\n"
                                    "cors-credentials = yes\n");
    assert_string_equal(cfg->v.listen, "0.0.0.0:9000");
    assert_int_equal(cfg->v.workers, 4);
    assert_string_equal(rp_config_choice("log_level", cfg->v.log_level), "warn");
    assert_int_equal(cfg->v.heartbeat, 250);
    assert_int_equal(cfg->v.handshake_timeout, 120000);
    assert_int_equal(cfg->v.idle_timeout, 3600000);
    assert_int_equal(cfg->v.shutdown_timeout, 30000);
    assert_int_equal(cfg->v.max_request_line, 2048);
    assert_int_equal(cfg->v.max_header_bytes, 32 * 1024);
    assert_int_equal(cfg->v.max_body, 2 * 1024 * 1024);
    assert_int_equal(cfg->v.max_data, 1000);
    assert_int_equal(cfg->v.history_bytes, 1024LL * 1024 * 1024);
    assert_string_equal(rp_config_choice("slow_policy", cfg->v.slow_policy), "drop_oldest");
    assert_int_equal(cfg->v.cors_origins.n, 3);
    assert_string_equal(cfg->v.cors_origins.items[0], "https://a.example");
    assert_string_equal(cfg->v.cors_origins.items[1], "https://b.example");
    assert_string_equal(cfg->v.cors_origins.items[2], "c");
    assert_true(cfg->v.cors_credentials);
    rp_config_free(cfg);
}

static void
test_suffixes(void **state)
{
    static const struct {
        const char *line;
        size_t offset;
        int64_t want;
    } cases[] = {
        {"max_body = 2048", offsetof(struct rp_config_values, max_body), 2048},
        {"max_body = 2048b", offsetof(struct rp_config_values, max_body), 2048},
        {"max_body = 3k", offsetof(struct rp_config_values, max_body), 3 * 1024},
        {"max_body = 3K", offsetof(struct rp_config_values, max_body), 3 * 1024},
        {"max_body = 3kb", offsetof(struct rp_config_values, max_body), 3 * 1024},
        {"max_body = 3KiB", offsetof(struct rp_config_values, max_body), 3 * 1024},
        {"max_body = 5m", offsetof(struct rp_config_values, max_body), 5 * 1024 * 1024},
        {"max_body = 5mb", offsetof(struct rp_config_values, max_body), 5 * 1024 * 1024},
        {"max_body = 5MiB", offsetof(struct rp_config_values, max_body), 5 * 1024 * 1024},
        {"max_body = 1g", offsetof(struct rp_config_values, max_body), 1024 * 1024 * 1024},
        {"max_body = 1gb", offsetof(struct rp_config_values, max_body), 1024 * 1024 * 1024},
        {"max_body = 1GiB", offsetof(struct rp_config_values, max_body), 1024 * 1024 * 1024},
        {"block_timeout = 0", offsetof(struct rp_config_values, block_timeout), 0},
        {"block_timeout = 7", offsetof(struct rp_config_values, block_timeout), 7000},
        {"block_timeout = 7ms", offsetof(struct rp_config_values, block_timeout), 7},
        {"block_timeout = 7s", offsetof(struct rp_config_values, block_timeout), 7000},
        {"block_timeout = 7S", offsetof(struct rp_config_values, block_timeout), 7000},
        {"block_timeout = 7m", offsetof(struct rp_config_values, block_timeout), 420000},
        {"history_age = 2h", offsetof(struct rp_config_values, history_age), 7200000},
        {"history_age = 2 h", offsetof(struct rp_config_values, history_age), 7200000},
        {"max_topics = +12", offsetof(struct rp_config_values, max_topics), 12},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rp_config *cfg = load_ok(cases[i].line);
        int64_t got;
        memcpy(&got, (const char *)&cfg->v + cases[i].offset, sizeof(got));
        if (got != cases[i].want)
            fail_msg("%s: got %lld, want %lld", cases[i].line, (long long)got,
                     (long long)cases[i].want);
        rp_config_free(cfg);
    }
}

static void
test_bools(void **state)
{
    static const char *const yes[] = {"true", "TRUE", "yes", "on", "1"};
    static const char *const no[] = {"false", "No", "off", "0"};
    char line[64];
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        snprintf(line, sizeof(line), "cors_credentials = %s\n", yes[i]);
        struct rp_config *cfg = load_ok(line);
        assert_true(cfg->v.cors_credentials);
        rp_config_free(cfg);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        snprintf(line, sizeof(line), "cors_credentials = true\ncors_credentials = %s\n", no[i]);
        struct rp_config *cfg = load_ok(line);
        assert_false(cfg->v.cors_credentials);
        rp_config_free(cfg);
    }
}

static void
test_quoting(void **state)
{
    struct rp_config *cfg = load_ok("listen = \"[::1]:80 # not a comment\"  # a comment\r\n"
                                    "cors_origins = \"x#y, \\\"q\\\", back\\\\slash\"\r\n"
                                    "workers=\"8\"\n"
                                    "log_level = error\n");
    assert_string_equal(cfg->v.listen, "[::1]:80 # not a comment");
    assert_int_equal(cfg->v.cors_origins.n, 3);
    assert_string_equal(cfg->v.cors_origins.items[0], "x#y");
    assert_string_equal(cfg->v.cors_origins.items[1], "\"q\"");
    assert_string_equal(cfg->v.cors_origins.items[2], "back\\slash");
    assert_int_equal(cfg->v.workers, 8);
    assert_string_equal(rp_config_choice("log_level", cfg->v.log_level), "error");
    rp_config_free(cfg);

    /* `#` not after whitespace is part of the value. */
    cfg = load_ok("listen = a#b\ncors_origins = \"\"\n");
    assert_string_equal(cfg->v.listen, "a#b");
    assert_int_equal(cfg->v.cors_origins.n, 0);
    rp_config_free(cfg);

    /* An empty value, and a value that is only a comment, are empty strings. */
    cfg = load_ok("listen =\n");
    assert_string_equal(cfg->v.listen, "");
    rp_config_free(cfg);
    cfg = load_ok("listen = # nothing\n");
    assert_string_equal(cfg->v.listen, "");
    rp_config_free(cfg);

    /* No final newline. */
    cfg = load_ok("workers = 3");
    assert_int_equal(cfg->v.workers, 3);
    rp_config_free(cfg);
}

static void
test_topic_sections(void **state)
{
    struct rp_config *cfg = load_ok("history_count = 50\n"
                                    "lag_events = 400\n"
                                    "[topic \"news/#\"]   # news keeps little\n"
                                    "history_count = 5\n"
                                    "slow_policy = block\n"
                                    "[ topic \"chat/+\" ]\n"
                                    "lag-events = 10\n"
                                    "[topic \"news/sport\"]\n"
                                    "history_count = 99\n"
                                    "[topic \"news/#\"]\n"
                                    "history_age = 10m\n");
    assert_int_equal(cfg->n_topics, 3);
    assert_string_equal(cfg->topics[0].pattern, "news/#");
    assert_string_equal(cfg->topics[1].pattern, "chat/+");
    assert_string_equal(cfg->topics[2].pattern, "news/sport");

    const struct rp_config_values *v = rp_config_for_topic(cfg, "news/world", 10);
    assert_ptr_equal(v, &cfg->topics[0].values);
    assert_int_equal(v->history_count, 5);
    assert_int_equal(v->history_age, 600000);
    assert_string_equal(rp_config_choice("slow_policy", v->slow_policy), "block");
    assert_int_equal(v->lag_events, 400);
    assert_string_equal(v->listen, "127.0.0.1:8080");

    /* The first matching section wins, in file order. */
    assert_ptr_equal(rp_config_for_topic(cfg, "news/sport", 10), &cfg->topics[0].values);

    v = rp_config_for_topic(cfg, "chat/room1", 10);
    assert_ptr_equal(v, &cfg->topics[1].values);
    assert_int_equal(v->lag_events, 10);
    assert_int_equal(v->history_count, 50);
    assert_string_equal(rp_config_choice("slow_policy", v->slow_policy), "disconnect");

    assert_ptr_equal(rp_config_for_topic(cfg, "chat/a/b", 8), &cfg->v);
    assert_ptr_equal(rp_config_for_topic(cfg, "other", 5), &cfg->v);
    assert_int_equal(cfg->v.history_count, 50);
    rp_config_free(cfg);
}

static void
test_sections_see_final_globals(void **state)
{
    static const char text[] = "history_count = 50\n"
                               "cors_origins = a\n"
                               "[topic \"t/#\"]\n"
                               "lag_events = 3\n";
    char *envp[] = {"REVENPROX_HISTORY_COUNT=70", "PATH=/bin", NULL};
    char *argv[] = {"--cors-origins", "x, y", "--lag-events=9"};
    struct rp_config *cfg = NULL;
    struct rp_diag diag;
    assert_int_equal(
        rp_config_load_string(text, strlen(text), "t.conf", envp, 3, argv, &cfg, &diag), 0);
    const struct rp_config_values *v = rp_config_for_topic(cfg, "t/1", 3);
    assert_int_equal(v->history_count, 70);
    assert_int_equal(v->lag_events, 3);
    assert_int_equal(cfg->v.lag_events, 9);
    assert_int_equal(v->cors_origins.n, 2);
    assert_string_equal(v->cors_origins.items[1], "y");
    /* The section shares the globals' strings and lists: thousands of sections do not copy
     * a long list thousands of times. */
    assert_ptr_equal(v->cors_origins.items, cfg->v.cors_origins.items);
    assert_ptr_equal(v->listen, cfg->v.listen);
    rp_config_free(cfg);
}

/* A reload puts back the running value of a restart-only setting; the sections, which
 * shared the value it replaced, share the one put back (freed memory otherwise: ASan). */
static void
test_reload_keeps_restart_settings_in_sections(void **state)
{
    static const char old_text[] = "trusted_proxies = 10.0.0.1, 10.0.0.2\n"
                                   "listen = 127.0.0.1:1\n"
                                   "cors_origins = a\n"
                                   "[topic \"t/#\"]\nlag_events = 3\n";
    static const char new_text[] = "trusted_proxies = 10.0.0.9\n"
                                   "listen = 127.0.0.1:2\n"
                                   "cors_origins = b, c\n"
                                   "[topic \"t/#\"]\nlag_events = 4\n"
                                   "[topic \"u/#\"]\nhistory_count = 5\n";
    struct rp_config *running = NULL, *next = NULL;
    struct rp_diag diag;
    assert_int_equal(
        rp_config_load_string(old_text, strlen(old_text), "a.conf", NULL, 0, NULL, &running, &diag),
        0);
    assert_int_equal(
        rp_config_load_string(new_text, strlen(new_text), "b.conf", NULL, 0, NULL, &next, &diag),
        0);
    char changed[128];
    assert_int_equal(rp_config_keep_restart_settings(next, running, changed, sizeof(changed)), 2);
    assert_string_equal(changed, "listen, trusted_proxies");
    rp_config_free(running);
    for (size_t t = 0; t < next->n_topics; t++) {
        const struct rp_config_values *v = &next->topics[t].values;
        assert_ptr_equal(v->trusted_proxies.items, next->v.trusted_proxies.items);
        assert_int_equal(v->trusted_proxies.n, 2);
        assert_string_equal(v->trusted_proxies.items[1], "10.0.0.2");
        assert_string_equal(v->listen, "127.0.0.1:1");
        assert_int_equal(v->cors_origins.n, 2); /* reloadable: the new value */
    }
    assert_int_equal(rp_config_for_topic(next, "t/1", 3)->lag_events, 4);
    assert_int_equal(rp_config_for_topic(next, "u/1", 3)->history_count, 5);
    rp_config_free(next);
}

static void
test_precedence(void **state)
{
    static const char text[] = "workers = 2\nheartbeat = 20s\nretry = 1s\nlisten = file:1\n";
    char *envp[] = {"REVENPROX_WORKERS=3", "REVENPROX_HEARTBEAT=30s", "REVENPROX_CONFIG=/x",
                    "HOME=/root", NULL};
    struct rp_config *cfg = NULL;
    struct rp_diag diag;

    assert_int_equal(
        rp_config_load_string(text, strlen(text), "t.conf", envp, 0, NULL, &cfg, &diag), 0);
    assert_int_equal(cfg->v.workers, 3);
    assert_int_equal(cfg->v.heartbeat, 30000);
    assert_int_equal(cfg->v.retry, 1000);
    assert_string_equal(cfg->v.listen, "file:1");
    rp_config_free(cfg);

    char *argv[] = {"--config",           "/etc/x.conf",     "--workers",  "4",
                    "--cors-credentials", "--listen=[::]:1", "--config=/y"};
    assert_int_equal(
        rp_config_load_string(text, strlen(text), "t.conf", envp, 7, argv, &cfg, &diag), 0);
    assert_int_equal(cfg->v.workers, 4);
    assert_int_equal(cfg->v.heartbeat, 30000);
    assert_true(cfg->v.cors_credentials);
    assert_string_equal(cfg->v.listen, "[::]:1");
    rp_config_free(cfg);

    /* A BOOL flag takes the next element as its value when that is not a flag. */
    char *argv2[] = {"--cors_credentials", "off", "--cors-credentials", "--max-body", "1m"};
    assert_int_equal(rp_config_load_string(NULL, 0, NULL, NULL, 2, argv2, &cfg, &diag), 0);
    assert_false(cfg->v.cors_credentials);
    rp_config_free(cfg);
    assert_int_equal(rp_config_load_string(NULL, 0, NULL, NULL, 5, argv2, &cfg, &diag), 0);
    assert_true(cfg->v.cors_credentials);
    assert_int_equal(cfg->v.max_body, 1024 * 1024);
    rp_config_free(cfg);
}

static void
test_load_file(void **state)
{
    char path[] = "/tmp/rp_config_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("workers = 6\n[topic \"a/+\"]\nhistory_count = 2\nbogus = 1\n", f);
    fclose(f);

    struct rp_config *cfg = NULL;
    struct rp_diag diag;
    assert_int_equal(rp_config_load(path, NULL, 0, NULL, &cfg, &diag), -EINVAL);
    assert_null(cfg);
    char want[128];
    snprintf(want, sizeof(want), "%s:4: bogus: unknown setting", path);
    assert_non_null(strstr(diag.msg, want));

    f = fopen(path, "w");
    assert_non_null(f);
    fputs("workers = 6\n[topic \"a/+\"]\nhistory_count = 2\n", f);
    fclose(f);
    assert_int_equal(rp_config_load(path, NULL, 0, NULL, &cfg, &diag), 0);
    assert_string_equal(cfg->file, path);
    assert_int_equal(cfg->v.workers, 6);
    assert_int_equal(rp_config_for_topic(cfg, "a/b", 3)->history_count, 2);
    rp_config_free(cfg);
    remove(path);

    assert_int_equal(rp_config_load("/nonexistent/revenprox.conf", NULL, 0, NULL, &cfg, &diag),
                     -EINVAL);
    assert_null(cfg);
    assert_non_null(strstr(diag.msg, "/nonexistent/revenprox.conf: cannot open"));
}

static void
test_value_errors(void **state)
{
    expect_file_error("\nworkers = abc\n", "t.conf:2: workers: `abc` is not a whole number",
                      "allowed: a whole number from 0 to 64", NULL);
    expect_file_error("workers = 4x\n", "t.conf:1: workers:", "not a whole number", NULL);
    expect_file_error("max_body = 8q\n", "t.conf:1: max_body: `8q` is not a size", "suffix k, m, g",
                      NULL);
    expect_file_error("max_body = k\n", "t.conf:1: max_body:", "not a size", NULL);
    expect_file_error("max_body = -5\n", "t.conf:1: max_body:", "not a size", NULL);
    expect_file_error("heartbeat = 5x\n", "t.conf:1: heartbeat: `5x` is not a duration",
                      "suffix ms, s, m, h", NULL);
    expect_file_error("cors_credentials = maybe\n",
                      "t.conf:1: cors_credentials: `maybe` is not a boolean",
                      "allowed: true, false, yes, no, on, off, 1, 0", NULL);
    expect_file_error("slow_policy = fast\n", "t.conf:1: slow_policy: `fast` is not a choice",
                      "allowed: one of disconnect, drop_oldest, drop_newest, block", NULL);
    expect_file_error("cors_origins = a,,b\n", "t.conf:1: cors_origins:", "empty item", NULL);
    expect_file_error("cors_origins = a,\n", "t.conf:1: cors_origins:", "empty item", NULL);
    expect_file_error("listen = \"a\tb\x01\"\n", "t.conf:1: listen:", "control character", NULL);
    expect_file_error("max_topics = 99999999999999999999\n", "t.conf:1: max_topics:", "too large",
                      NULL);
    expect_file_error("max_body = 99999999999g\n", "t.conf:1: max_body:", "too large", NULL);
}

static void
test_range_errors(void **state)
{
    expect_file_error("workers = 65\n", "t.conf:1: workers: `65` is out of range", "from 0 to 64",
                      NULL);
    expect_file_error("workers = -1\n", "t.conf:1: workers:", "out of range", NULL);
    expect_file_error("heartbeat = 50ms\n", "t.conf:1: heartbeat: `50ms` is out of range",
                      "from 100ms to 1h", NULL);
    expect_file_error("max_request_line = 2m\n", "t.conf:1: max_request_line:", "out of range",
                      "from 64 to 1m", NULL);
    expect_file_error("history_bytes = 65g\n", "history_bytes", "from 1k to 64g", NULL);
    /* The bounds themselves are allowed. */
    struct rp_config *cfg = load_ok("workers = 64\nheartbeat = 100ms\nhistory_bytes = 64g\n");
    assert_int_equal(cfg->v.workers, 64);
    rp_config_free(cfg);
}

static void
test_syntax_errors(void **state)
{
    expect_file_error("listen = \"abc\n", "t.conf:1: listen: missing closing quote", NULL);
    expect_file_error("listen = \"abc\\\n", "t.conf:1: listen: missing closing quote", NULL);
    expect_file_error("listen = \"a\\nb\"\n", "t.conf:1: listen: unknown escape `\\n`", NULL);
    expect_file_error("listen = \"a\" b\n", "t.conf:1: listen: unexpected text after", NULL);
    expect_file_error("\n\nworkers 4\n", "t.conf:3: workers: expected `=`", NULL);
    expect_file_error("= 4\n", "t.conf:1: expected `key = value`", NULL);
    expect_file_error("max.body = 4\n", "t.conf:1: max: expected `=`", NULL);
    expect_file_error("[server]\n", "t.conf:1: unknown section [server]", "[topic \"PATTERN\"]",
                      NULL);
    expect_file_error("[topic news]\n", "t.conf:1: the [topic] pattern must be quoted", NULL);
    expect_file_error("[topic \"a\"\n", "t.conf:1: malformed section header", NULL);
    expect_file_error("[topic \"a\"] x\n", "t.conf:1: malformed section header", NULL);
    expect_file_error("[]\n", "t.conf:1: malformed section header", NULL);
    expect_file_error("[topic \"a+/b\"]\n", "t.conf:1: [topic \"a+/b\"]: invalid pattern", NULL);
    expect_file_error("[topic \"a/#/b\"]\n", "t.conf:1:", "invalid pattern", NULL);
    expect_file_error("[topic \"\"]\n", "t.conf:1:", "invalid pattern", NULL);

    static const char nul[] = "workers = 1\nlisten = a\0b\n";
    struct rp_config *cfg = NULL;
    struct rp_diag diag;
    assert_int_equal(
        rp_config_load_string(nul, sizeof(nul) - 1, "n.conf", NULL, 0, NULL, &cfg, &diag), -EINVAL);
    assert_non_null(strstr(diag.msg, "n.conf:2: the line contains a NUL byte"));
}

static void
test_scope_errors(void **state)
{
    expect_file_error("[topic \"a/#\"]\nhistory_count = 3\nworkers = 2\n",
                      "t.conf:3: workers: a global setting cannot be set in a [topic] section",
                      "allowed here: history_count, history_bytes, history_age, slow_policy", NULL);
}

static void
test_unknown_keys(void **state)
{
    expect_file_error("heartbeet = 1s\n", "t.conf:1: heartbeet: unknown setting",
                      "did you mean heartbeat?", NULL);
    expect_file_error("workers = 1\nWorkers = 2\n", "t.conf:2: Workers: unknown setting",
                      "did you mean workers?", NULL);
    expect_file_error("max_body_size = 1m\n", "did you mean max_body?", NULL);
    expect_file_error("hsitory-count = 1\n", "did you mean history_count?", NULL);
    expect_file_error("zzzzzzzzzzz = 1\n", "t.conf:1: zzzzzzzzzzz: unknown setting",
                      "docs/configuration.md", NULL);
    static const char long_key[] =
        "a_very_long_key_that_is_much_longer_than_any_setting_name_there_is_at_all = 1\n";
    expect_file_error(long_key, "t.conf:1:", "unknown setting", NULL);
}

/* Each valid alone, refused together: credentials for any origin would let every site read
 * with the user's cookies. Listing the origins is fine. */
/* The mesh's addresses and false-positive rate are checked when the file is loaded. */
static void
test_mesh_settings_checked(void **state)
{
    (void)state;
    struct rp_config *cfg = load_ok("cluster = nng\n"
                                    "nng_listen_addresses = tcp://*:7001, ipc:///tmp/rp.sock\n"
                                    "nng_peer_addresses = tcp://[::1]:7002\n"
                                    "bloom_filter_fpr = 0.001\n");
    assert_int_equal(cfg->v.cluster, RP_CFG_CLUSTER_NNG);
    assert_int_equal(cfg->v.nng_listen_addresses.n, 2);
    assert_int_equal(cfg->v.nng_reconnect_interval, 5000);
    assert_int_equal(cfg->v.nng_heartbeat_interval, 30000);
    assert_int_equal(cfg->v.nng_message_batch_size, 100);
    assert_int_equal(cfg->v.nng_message_batch_timeout, 50);
    assert_int_equal(cfg->v.gossip_interval, 30000);
    assert_int_equal(cfg->v.bloom_filter_capacity, 1000000);
    rp_config_free(cfg);
    expect_file_error("bloom_filter_fpr = 0.7\n", "bloom_filter_fpr", "0.7", NULL);
    expect_file_error("bloom_filter_fpr = 1e-9\n", "bloom_filter_fpr", NULL);
    expect_file_error("bloom_filter_fpr = 0.01x\n", "bloom_filter_fpr", NULL);
    expect_file_error("nng_peer_addresses = 10.0.0.2:5555\n", "nng_peer_addresses",
                      "tcp://HOST:PORT", NULL);
    expect_file_error("nng_listen_addresses = tcp://*:99999\n", "nng_listen_addresses", NULL);
    expect_file_error("nng_listen_addresses = ipc://\n", "nng_listen_addresses", NULL);
}

static void
test_cors_any_origin_with_credentials(void **state)
{
    expect_file_error("cors_origins = *\ncors_credentials = true\n", "cors_origins",
                      "cannot be combined with cors_credentials = true", "list the origins", NULL);
    expect_file_error("cors_origins = \"https://a.example, *\"\ncors_credentials = true\n",
                      "cannot be combined", NULL);
    struct rp_config *cfg;
    struct rp_diag diag = {{0}};
    static const char ok[] = "cors_origins = https://a.example\ncors_credentials = true\n";
    assert_int_equal(
        rp_config_load_string(ok, sizeof(ok) - 1, "t.conf", NULL, 0, NULL, &cfg, &diag), 0);
    rp_config_free(cfg);
    static const char any[] = "cors_origins = *\n";
    assert_int_equal(
        rp_config_load_string(any, sizeof(any) - 1, "t.conf", NULL, 0, NULL, &cfg, &diag), 0);
    rp_config_free(cfg);
}

static void
test_env_errors(void **state)
{
    char *bad[] = {"REVENPROX_WORKERS=lots", NULL};
    expect_error("", bad, 0, NULL, "environment REVENPROX_WORKERS: `lots` is not a whole number",
                 "allowed: a whole number from 0 to 64", NULL);
    char *range[] = {"REVENPROX_HEARTBEAT=2h", NULL};
    expect_error("", range, 0, NULL, "environment REVENPROX_HEARTBEAT: `2h` is out of range", NULL);
    char *unknown[] = {"REVENPROX_WORKER=2", NULL};
    expect_error("", unknown, 0, NULL, "environment REVENPROX_WORKER: unknown setting",
                 "did you mean REVENPROX_WORKERS?", NULL);
    char *lower[] = {"REVENPROX_workers=2", NULL};
    expect_error("", lower, 0, NULL, "did you mean REVENPROX_WORKERS?", NULL);
    /* The file is read before the environment, and its errors come first. */
    expect_error("workers = x\n", bad, 0, NULL, "t.conf:1: workers", NULL);
}

static void
test_flag_errors(void **state)
{
    char *bad[] = {"--workers", "lots"};
    expect_error("", NULL, 2, bad, "flag --workers: `lots` is not a whole number", NULL);
    char *eq[] = {"--max-body=1t"};
    expect_error("", NULL, 1, eq, "flag --max-body: `1t` is not a size", NULL);
    char *unknown[] = {"--worker", "2"};
    expect_error("", NULL, 2, unknown, "flag --worker: unknown flag", "did you mean --workers?",
                 NULL);
    char *missing[] = {"--listen"};
    expect_error("", NULL, 1, missing, "flag --listen: missing value", NULL);
    char *missing2[] = {"--workers", "--listen", "x"};
    expect_error("", NULL, 3, missing2, "flag --workers: missing value", NULL);
    char *positional[] = {"serve"};
    expect_error("", NULL, 1, positional, "argument `serve`: not a flag", NULL);
    char *dash[] = {"-w", "3"};
    expect_error("", NULL, 2, dash, "argument `-w`: not a flag", NULL);
}

static void
test_dump_round_trip(void **state)
{
    struct rp_config *cfg = load_ok("listen = \"[::1]:9 \\\"q\\\"\"\n"
                                    "workers = 3\n"
                                    "heartbeat = 1500ms\n"
                                    "max_body = 3000\n"
                                    "max_data = 2m\n"
                                    "history_age = 90m\n"
                                    "cors_origins = \"a, b\\\\c\"\n"
                                    "cors_credentials = on\n"
                                    "log_level = debug\n"
                                    "[topic \"x/#\"]\n"
                                    "history_count = 4\n"
                                    "slow_policy = drop_newest\n");
    char *text = dump_to_string(cfg);
    assert_non_null(strstr(text, "workers = 3\n"));
    assert_non_null(strstr(text, "heartbeat = 1500ms\n"));
    assert_non_null(strstr(text, "max_data = 2m\n"));
    assert_non_null(strstr(text, "history_age = 90m\n"));
    assert_non_null(strstr(text, "shutdown_timeout = 5s\n"));
    assert_non_null(strstr(text, "[topic \"x/#\"]\nhistory_count = 4\n"));
    assert_non_null(strstr(text, "slow_policy = drop_newest\n"));

    struct rp_config *again = load_ok(text);
    char *text2 = dump_to_string(again);
    assert_string_equal(text, text2);
    assert_string_equal(again->v.listen, "[::1]:9 \"q\"");
    assert_string_equal(again->v.cors_origins.items[1], "b\\c");
    free(text);
    free(text2);
    rp_config_free(again);
    rp_config_free(cfg);
}

static void
test_help_and_choices(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    rp_config_help(f);
    fclose(f);
    assert_non_null(strstr(text, "--max-body SIZE"));
    assert_non_null(strstr(text, "REVENPROX_MAX_BODY"));
    assert_non_null(strstr(text, "--heartbeat DURATION"));
    assert_non_null(strstr(text, "100ms to 1h"));
    assert_non_null(strstr(text, "one of disconnect, drop_oldest, drop_newest, block"));
    for (size_t i = 0; i < sizeof(setting_names) / sizeof(setting_names[0]); i++) {
        char flag[80];
        snprintf(flag, sizeof(flag), "--%s ", setting_names[i]);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        if (!strstr(text, flag))
            fail_msg("help lacks %s", flag);
    }
    free(text);

    assert_string_equal(rp_config_choice("slow_policy", 0), "disconnect");
    assert_string_equal(rp_config_choice("slow_policy", 3), "block");
    assert_string_equal(rp_config_choice("log-level", 2), "warn");
    assert_null(rp_config_choice("slow_policy", 4));
    assert_null(rp_config_choice("slow_policy", -1));
    assert_null(rp_config_choice("workers", 0));
    assert_null(rp_config_choice("nope", 0));
}

/*
 * The generated constants of ENUM settings name the choice config.c stores: each one's
 * value is the index of its text, loading that text gives that constant, and the count
 * ends the list.
 */
static void
test_enum_constants(void **state)
{
    static const struct {
        const char *setting;
        int constant;
        const char *text;
    } choices[] = {
#define CHOICE(setting, constant, text) {#setting, constant, text},
        RP_CFG_ENUM_CHOICES(CHOICE)
#undef CHOICE
    };
    for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
        const char *got = rp_config_choice(choices[i].setting, choices[i].constant);
        if (!got || strcmp(got, choices[i].text) != 0)
            fail_msg("%s choice %d is %s, its constant says %s", choices[i].setting,
                     choices[i].constant, got ? got : "(none)", choices[i].text);
    }
#define COUNT(setting, count) assert_null(rp_config_choice(#setting, count));
    RP_CFG_ENUM_SETTINGS(COUNT)
#undef COUNT

    struct rp_config *cfg = load_ok("log_format = json\n"
                                    "auth_mode = jwt+webhook\n"
                                    "auth_breaker_fallback = cached\n"
                                    "[topic \"feeds/#\"]\n"
                                    "slow_policy = drop_newest\n");
    assert_int_equal(cfg->v.log_format, RP_CFG_LOG_FORMAT_JSON);
    assert_int_equal(cfg->v.log_level, RP_CFG_LOG_LEVEL_INFO);
    assert_int_equal(cfg->v.auth_mode, RP_CFG_AUTH_MODE_JWT_WEBHOOK);
    assert_int_equal(cfg->v.auth_breaker_fallback, RP_CFG_AUTH_BREAKER_FALLBACK_CACHED);
    assert_int_equal(cfg->v.slow_policy, RP_CFG_SLOW_POLICY_DISCONNECT);
    assert_int_equal(rp_config_for_topic(cfg, "feeds/a", 7)->slow_policy,
                     RP_CFG_SLOW_POLICY_DROP_NEWEST);
    rp_config_free(cfg);
}

/* Every setting's table row: name, default, environment variable and flag. */
static const struct {
    const char *name;
    const char *def;
} setting_rows[] = {
#define RP_SETTING(name, type, def, min, max, choices, scope, reload, help) {#name, def},
#include "config/settings.def"
#undef RP_SETTING
};

/*
 * docs/configuration.md must mention every setting as `name`, and its table row (the line
 * starting "| `name` |") must give the default, the environment variable and the flag.
 */
static void
test_docs_list_every_setting(void **state)
{
    char *doc = read_source_file("docs/configuration.md");
    int missing = 0;
    for (size_t i = 0; i < sizeof(setting_rows) / sizeof(setting_rows[0]); i++) {
        const char *name = setting_rows[i].name;
        char want[160], env[80], flag[80], def[80];
        snprintf(want, sizeof(want), "`%s`", name);
        if (!strstr(doc, want)) {
            print_error("docs/configuration.md does not mention %s\n", want);
            missing++;
            continue;
        }
        snprintf(want, sizeof(want), "\n| `%s` |", name);
        const char *row = strstr(doc, want);
        if (!row) {
            print_error("docs/configuration.md has no table row for `%s`\n", name);
            missing++;
            continue;
        }
        const char *eol = strchr(row + 1, '\n');
        size_t row_len = eol ? (size_t)(eol - row) : strlen(row);
        char *line = strndup(row, row_len);
        assert_non_null(line);
        snprintf(env, sizeof(env), "`REVENPROX_%s`", name);
        snprintf(flag, sizeof(flag), "`--%s`", name);
        for (char *p = env; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        if (setting_rows[i].def[0])
            snprintf(def, sizeof(def), "| `%s` |", setting_rows[i].def);
        else
            snprintf(def, sizeof(def), "| (empty) |");
        const char *const parts[] = {env, flag, def};
        for (size_t j = 0; j < 3; j++) {
            if (!strstr(line, parts[j])) {
                print_error("docs/configuration.md row of `%s` lacks %s\n", name, parts[j]);
                missing++;
            }
        }
        free(line);
    }
    free(doc);
    assert_int_equal(missing, 0);
}

static void
test_example_file_loads(void **state)
{
    const char *root = getenv("RP_SOURCE_ROOT");
    char path[4096];
    assert_non_null(root);
    snprintf(path, sizeof(path), "%s/docs/revenprox.conf.example", root);
    struct rp_config *cfg = NULL;
    struct rp_diag diag;
    if (rp_config_load(path, NULL, 0, NULL, &cfg, &diag) != 0)
        fail_msg("%s", diag.msg);
    assert_true(cfg->n_topics >= 1);
    rp_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_types),
        cmocka_unit_test(test_suffixes),
        cmocka_unit_test(test_bools),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_topic_sections),
        cmocka_unit_test(test_sections_see_final_globals),
        cmocka_unit_test(test_reload_keeps_restart_settings_in_sections),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_range_errors),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_scope_errors),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_env_errors),
        cmocka_unit_test(test_flag_errors),
        cmocka_unit_test(test_dump_round_trip),
        cmocka_unit_test(test_help_and_choices),
        cmocka_unit_test(test_enum_constants),
        cmocka_unit_test(test_docs_list_every_setting),
        cmocka_unit_test(test_cors_any_origin_with_credentials),
        cmocka_unit_test(test_mesh_settings_checked),
        cmocka_unit_test(test_example_file_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
