/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of api/guard's Host allow-list (DNS rebinding): the defaults with and without
 * auth, explicit names and wildcards, ports, case, brackets and malformed Host values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/guard.h"
#include "base/diag.h"
#include "config/config.h"

static struct rp_config *
load(const char *text)
{
    struct rp_config *cfg = NULL;
    struct rp_diag diag = {{0}};
    assert_int_equal(rp_config_load_string(text, strlen(text), NULL, NULL, 0, NULL, &cfg, &diag),
                     0);
    return cfg;
}

static bool
allowed(const struct rp_config *cfg, const char *host)
{
    return rp_guard_host_allowed(&cfg->v, host);
}

/* auth_mode none, allowed_hosts empty: only names a rebinding page cannot carry. */
static void
test_default_without_auth(void **state)
{
    (void)state;
    struct rp_config *cfg = load("listen = 127.0.0.1:8080\n");
    static const char *const yes[] = {
        "127.0.0.1",     "127.0.0.1:8080", "10.1.2.3:80",    "[::1]",      "[::1]:8080",
        "[2001:DB8::1]", "localhost",      "LocalHost:8080", "localhost.", "app.localhost:3000",
    };
    static const char *const no[] = {
        "attacker.example",
        "attacker.example:8080",
        "localhost.attacker.example",
        "notlocalhost",
        "",
        ":8080",
        "[::1",
        "[127.0.0.1]",
        "127.0.0.1:80x",
        "127.0.0.1.evil",
        "0x7f.1",
        "a b",
    };
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(allowed(cfg, yes[i]));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(allowed(cfg, no[i]));
    rp_config_free(cfg);

    /* The host of listen is allowed too, whatever its case. */
    cfg = load("listen = Push.Internal:8080\n");
    assert_true(allowed(cfg, "push.internal:8080"));
    assert_true(allowed(cfg, "PUSH.INTERNAL"));
    assert_false(allowed(cfg, "push.internal.example"));
    rp_config_free(cfg);
}

/* With auth and no list, every Host passes: a rebinding page has no credentials. */
static void
test_default_with_auth(void **state)
{
    (void)state;
    struct rp_config *cfg = load("auth_mode = jwt\nauth_jwt_secret = s3cret\n");
    assert_true(allowed(cfg, "attacker.example"));
    assert_true(allowed(cfg, "events.example:443"));
    rp_config_free(cfg);
}

/* An explicit list is the whole rule, in every auth mode. */
static void
test_explicit_list(void **state)
{
    (void)state;
    static const char *const confs[] = {
        "allowed_hosts = events.example, *.push.example, [::1], 192.0.2.7\n",
        "auth_mode = jwt\nauth_jwt_secret = s3cret\n"
        "allowed_hosts = events.example, *.push.example, [::1], 192.0.2.7\n",
    };
    for (size_t i = 0; i < sizeof(confs) / sizeof(confs[0]); i++) {
        struct rp_config *cfg = load(confs[i]);
        assert_true(allowed(cfg, "events.example"));
        assert_true(allowed(cfg, "EVENTS.example:8443"));
        assert_true(allowed(cfg, "events.example."));
        assert_true(allowed(cfg, "a.push.example"));
        assert_true(allowed(cfg, "a.b.push.example:80"));
        assert_true(allowed(cfg, "[::1]:8080"));
        assert_true(allowed(cfg, "192.0.2.7"));
        /* `*.` is for subdomains; other literals and loopback names are not implied. */
        assert_false(allowed(cfg, "push.example"));
        assert_false(allowed(cfg, "xpush.example"));
        assert_false(allowed(cfg, "events.example.attacker.example"));
        assert_false(allowed(cfg, "127.0.0.1"));
        assert_false(allowed(cfg, "localhost"));
        assert_false(allowed(cfg, "attacker.example"));
        rp_config_free(cfg);
    }
    struct rp_config *cfg = load("allowed_hosts = *\n");
    assert_true(allowed(cfg, "attacker.example"));
    assert_true(allowed(cfg, "127.0.0.1"));
    assert_false(allowed(cfg, "[nonsense]"));
    rp_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_without_auth),
        cmocka_unit_test(test_default_with_auth),
        cmocka_unit_test(test_explicit_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
