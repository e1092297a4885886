/* SPDX-License-Identifier: MIT */
/*
 * `revenprox topics [PATTERN]`: the topics a server keeps (GET /topics), as a table sorted by
 * name, or the server's JSON as is.
 */
#include "cli/cmd.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "config/config.h"

/* The server lists at most 10,000 topics of at most 255 bytes each (docs/api.md). */
#define ANSWER_CAP (48u << 20)

static void
usage(FILE *out)
{
    fputs("Usage: revenprox topics [PATTERN] [--json] [--url URL] [--token TOKEN]\n"
          "                        [--config FILE] [--SETTING VALUE ...]\n"
          "\n"
          "Lists the topics the server keeps (GET /topics), sorted by name, with the events\n"
          "and bytes in each topic's log, its subscribers, the events ever published and the\n"
          "last id. PATTERN (news/+, news/#) lists only matching topics; with a token, only\n"
          "the topics it may read are listed.\n"
          "\n"
          "  --json         the server's JSON answer as is\n"
          "  --url URL      the server (default http://<listen setting>)\n"
          "  --token TOKEN  sent as Authorization: Bearer TOKEN\n"
          "  --config FILE  a config file, read as `serve` reads it (for the listen setting)\n"
          "\n"
          "Exit status: 0 listed, 1 the server refused (its status and message are printed),\n"
          "2 usage error, 3 the server could not be reached.\n",
          out);
}

static int
by_name(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));
    return strcmp(x ? x : "", y ? y : "");
}

static long long
num(json_t *t, const char *key)
{
    return (long long)json_integer_value(json_object_get(t, key));
}

static int
print_table(const char *cmd, const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *list = json_object_get(root, "topics");
    if (!json_is_array(list)) {
        rp_cmd_errorf(cmd, "the answer has no topic list; is --url a RevenProx server?");
        json_decref(root);
        return RP_CMD_EXIT_REFUSED;
    }
    size_t n = json_array_size(list);
    json_t **rows = calloc(n ? n : 1, sizeof(*rows));
    if (!rows) {
        json_decref(root);
        return RP_CMD_EXIT_REFUSED;
    }
    int width = 5; /* "TOPIC" */
    for (size_t i = 0; i < n; i++) {
        rows[i] = json_array_get(list, i);
        const char *name = json_string_value(json_object_get(rows[i], "name"));
        int w = name ? (int)strlen(name) : 0;
        width = w > width ? w : width;
    }
    qsort(rows, n, sizeof(*rows), by_name);
    if (n == 0) {
        printf("no topics\n");
    } else {
        printf("%-*s %10s %12s %11s %10s  %s\n", width, "TOPIC", "EVENTS", "BYTES", "SUBSCRIBERS",
               "PUBLISHED", "LAST ID");
        for (size_t i = 0; i < n; i++) {
            const char *name = json_string_value(json_object_get(rows[i], "name"));
            const char *last = json_string_value(json_object_get(rows[i], "last_id"));
            printf("%-*s %10lld %12lld %11lld %10lld  %s\n", width, name ? name : "?",
                   num(rows[i], "events"), num(rows[i], "bytes"), num(rows[i], "subscribers"),
                   num(rows[i], "published"), last ? last : "-");
        }
    }
    if (json_is_true(json_object_get(root, "truncated")))
        rp_cmd_errorf(cmd, "the server listed %zu of %lld topics; narrow the list with a PATTERN",
                      n, num(root, "count"));
    free(rows);
    json_decref(root);
    return RP_CMD_EXIT_OK;
}

int
rp_cmd_topics_main(int argc, char **argv)
{
    const char *url = NULL, *token = NULL;
    bool json = false;
    const struct rp_cmd_opt opts[] = {
        {"url", RP_CMD_OPT_VALUE, &url},
        {"token", RP_CMD_OPT_VALUE, &token},
        {"json", RP_CMD_OPT_SWITCH, &json},
        {NULL, RP_CMD_OPT_SWITCH, NULL},
    };
    struct rp_cmd_args a;
    struct rp_config *cfg = NULL;
    struct rp_cmd_client cl = {0};
    struct rp_buf path;
    rp_buf_init(&path, 4096);
    int rc = RP_CMD_EXIT_USAGE;

    if (rp_cmd_args_parse(&a, "topics", argc, argv, opts) != 0)
        goto out;
    if (a.help) {
        usage(stdout);
        rc = RP_CMD_EXIT_OK;
        goto out;
    }
    if (a.n_operands > 1) {
        rp_cmd_errorf("topics", "give at most one PATTERN (such as news/# or +/uk)");
        goto out;
    }
    if (rp_cmd_load_config(&a, &cfg) != 0)
        goto out;
    if (rp_cmd_client_init(&cl, "topics", url, token, cfg) != 0)
        goto out;
    int err = rp_buf_append_str(&path, "/topics");
    if (a.n_operands == 1 && !err) {
        err = rp_buf_append_str(&path, "?pattern=");
        err = err ? err : rp_cmd_url_escape(&path, a.operands[0], "/+");
    }
    if (err || !rp_buf_cstr(&path)) {
        rp_cmd_errorf("topics", "the PATTERN is too long");
        goto out;
    }
    struct rp_cmd_response resp;
    rc = rp_cmd_request(&cl, "GET", path.data, NULL, 0, NULL, ANSWER_CAP, &resp);
    if (rc == RP_CMD_EXIT_OK) {
        const char *body = resp.body.data ? resp.body.data : "";
        if (resp.status != 200)
            rc = rp_cmd_refused(&cl, resp.status, body, resp.body.len, resp.retry_after);
        else if (json)
            fwrite(body, 1, resp.body.len, stdout);
        else
            rc = print_table("topics", body, resp.body.len);
    }
    rp_buf_fini(&resp.body);
out:
    rp_buf_fini(&path);
    rp_cmd_client_fini(&cl);
    rp_config_free(cfg);
    rp_cmd_args_fini(&a);
    return rc;
}
