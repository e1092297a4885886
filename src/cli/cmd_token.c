/* SPDX-License-Identifier: MIT */
/*
 * `revenprox token`: mints a JWT for the configured auth settings: HS256 with
 * auth_jwt_secret, or RS256/ES256 with a private key file; `read`/`write` claims from the
 * options, `aud`/`iss` from auth_jwt_audience/auth_jwt_issuer unless given.
 */
#include "cli/cmd.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "auth/auth_jwt.h"
#include "base/clock.h"
#include "config/config.h"
#include "core/pattern.h"

#define DEFAULT_TTL_S 3600
#define MAX_TTL_S (10LL * 366 * 24 * 3600) /* ten years */

static void
usage(FILE *out)
{
    fputs(
        "Usage: revenprox token [--sub SUBJECT] [--read FILTER]... [--write FILTER]...\n"
        "                       [--ttl DURATION] [--private-key FILE] [--aud AUDIENCE]\n"
        "                       [--iss ISSUER] [--kid KID] [--config FILE] [--SETTING VALUE ...]\n"
        "\n"
        "Prints a JWT for a server running --auth-mode jwt. The configuration is loaded as\n"
        "`serve` loads it (--config FILE, REVENPROX_* environment, flags such as\n"
        "--auth-jwt-secret), so the same settings mint tokens that server accepts.\n"
        "\n"
        "  --sub SUBJECT       the `sub` claim (who the token is for)\n"
        "  --read FILTER       a topic or pattern the token may subscribe to (repeatable)\n"
        "  --write FILTER      a topic or pattern the token may publish to (repeatable)\n"
        "  --ttl DURATION      lifetime: 90s, 30m, 12h, 7d, or seconds (default 1h)\n"
        "  --private-key FILE  sign with this PEM private key: RSA -> RS256, EC P-256 -> ES256\n"
        "                      (default: HS256 with the auth_jwt_secret setting)\n"
        "  --aud AUDIENCE      the `aud` claim (default: the auth_jwt_audience setting)\n"
        "  --iss ISSUER        the `iss` claim (default: the auth_jwt_issuer setting)\n"
        "  --kid KID           a key id for the header (servers with a JWKS pick keys by it)\n"
        "\n"
        "Exit status: 0 printed, 2 usage error (options, config, key).\n",
        out);
}

/* "<digits>[s|m|h|d|ms]" or bare seconds, into seconds; -EINVAL or -ERANGE. */
static int
parse_ttl(const char *text, int64_t *out_s)
{
    static const struct {
        const char *suffix;
        int64_t ms;
    } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (end == text || text[0] < '0' || text[0] > '9' || errno)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].suffix) != 0)
            continue;
        if (n > MAX_TTL_S * 1000 / units[i].ms)
            return -ERANGE;
        int64_t s = (int64_t)n * units[i].ms / 1000;
        if (s < 1)
            return -ERANGE;
        *out_s = s;
        return 0;
    }
    return -EINVAL;
}

/* Appends the filters of <l> as a JSON array named <name> to <claims>; 0 or -EINVAL. */
static int
add_filters(json_t *claims, const char *name, const struct rp_cmd_list *l)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < l->n; i++) {
        const char *bad = rp_pattern_check(l->items[i], strlen(l->items[i]));
        if (bad) {
            rp_cmd_errorf("token", "--%s %s: %s", name, l->items[i], bad);
            json_decref(arr);
            return -EINVAL;
        }
        json_array_append_new(arr, json_string(l->items[i]));
    }
    json_object_set_new(claims, name, arr);
    return 0;
}

static json_t *
claims_json(const char *sub, const struct rp_cmd_list *read, const struct rp_cmd_list *write,
            int64_t ttl_s, const char *aud, const char *iss)
{
    int64_t now = rp_clock_wall_ms() / 1000;
    json_t *c = json_object();
    if (sub)
        json_object_set_new(c, "sub", json_string(sub));
    if (aud && *aud)
        json_object_set_new(c, "aud", json_string(aud));
    if (iss && *iss)
        json_object_set_new(c, "iss", json_string(iss));
    json_object_set_new(c, "iat", json_integer(now));
    json_object_set_new(c, "exp", json_integer(now + ttl_s));
    if (add_filters(c, "read", read) || add_filters(c, "write", write)) {
        json_decref(c);
        return NULL;
    }
    return c;
}

static bool
valid_utf8_option(const char *name, const char *value)
{
    json_t *probe = value ? json_string(value) : json_null();
    bool ok = probe != NULL;
    json_decref(probe);
    if (!ok)
        rp_cmd_errorf("token", "--%s: not valid UTF-8", name);
    return ok;
}

int
rp_cmd_token_main(int argc, char **argv)
{
    const char *sub = NULL, *ttl = NULL, *key_file = NULL, *aud = NULL, *iss = NULL, *kid = NULL;
    struct rp_cmd_list read = {0}, write = {0};
    const struct rp_cmd_opt opts[] = {
        {"sub", RP_CMD_OPT_VALUE, &sub},
        {"read", RP_CMD_OPT_LIST, &read},
        {"write", RP_CMD_OPT_LIST, &write},
        {"ttl", RP_CMD_OPT_VALUE, &ttl},
        {"private-key", RP_CMD_OPT_VALUE, &key_file},
        {"aud", RP_CMD_OPT_VALUE, &aud},
        {"iss", RP_CMD_OPT_VALUE, &iss},
        {"kid", RP_CMD_OPT_VALUE, &kid},
        {NULL, RP_CMD_OPT_SWITCH, NULL},
    };
    struct rp_cmd_args a;
    struct rp_config *cfg = NULL;
    json_t *claims = NULL;
    char *claims_txt = NULL, *token = NULL;
    int rc = RP_CMD_EXIT_USAGE;

    if (rp_cmd_args_parse(&a, "token", argc, argv, opts) != 0)
        goto out;
    if (a.help) {
        usage(stdout);
        rc = RP_CMD_EXIT_OK;
        goto out;
    }
    if (a.n_operands) {
        rp_cmd_errorf("token",
                      "unexpected argument `%s` (claims are options: --sub, --read, "
                      "--write)",
                      a.operands[0]);
        goto out;
    }
    int64_t ttl_s = DEFAULT_TTL_S;
    if (ttl && parse_ttl(ttl, &ttl_s) != 0) {
        rp_cmd_errorf("token",
                      "--ttl %s: give a duration from 1s to ten years, such as 90s, "
                      "30m, 12h, 7d (bare numbers are seconds)",
                      ttl);
        goto out;
    }
    if (!valid_utf8_option("sub", sub) || !valid_utf8_option("aud", aud) ||
        !valid_utf8_option("iss", iss) || !valid_utf8_option("kid", kid))
        goto out;
    if (rp_cmd_load_config(&a, &cfg) != 0)
        goto out;
    const char *secret = NULL;
    if (!key_file) {
        secret = cfg->v.auth_jwt_secret;
        if (!secret || !*secret) {
            rp_cmd_errorf("token", "no signing key: give --auth-jwt-secret SECRET (or "
                                   "auth_jwt_secret in --config FILE, or "
                                   "REVENPROX_AUTH_JWT_SECRET) for HS256, or --private-key FILE "
                                   "for RS256/ES256");
            goto out;
        }
        if (strlen(secret) < RP_JWT_MIN_SECRET) {
            rp_cmd_errorf("token",
                          "auth_jwt_secret is %zu bytes; HS256 needs at least %d (the "
                          "server refuses shorter secrets too)",
                          strlen(secret), RP_JWT_MIN_SECRET);
            goto out;
        }
    }
    claims = claims_json(sub, &read, &write, ttl_s, aud ? aud : cfg->v.auth_jwt_audience,
                         iss ? iss : cfg->v.auth_jwt_issuer);
    if (!claims)
        goto out;
    claims_txt = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    struct rp_diag err = {{0}};
    if (!claims_txt ||
        rp_jwt_sign(secret, key_file, kid && *kid ? kid : NULL, claims_txt, &token, &err) != 0) {
        rp_cmd_errorf("token", "cannot sign the token: %s", err.msg[0] ? err.msg : "out of memory");
        goto out;
    }
    if (read.n == 0 && write.n == 0)
        rp_cmd_errorf("token", "note: this token allows neither reading nor publishing; add "
                               "--read FILTER and/or --write FILTER");
    printf("%s\n", token);
    rc = RP_CMD_EXIT_OK;
out:
    free(token);
    free(claims_txt);
    json_decref(claims);
    rp_config_free(cfg);
    rp_cmd_list_fini(&read);
    rp_cmd_list_fini(&write);
    rp_cmd_args_fini(&a);
    return rc;
}
