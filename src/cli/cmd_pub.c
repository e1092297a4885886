/* SPDX-License-Identifier: MIT */
/*
 * `revenprox pub TOPIC [DATA|-]`: publishes one event with POST /publish/{topic} and prints
 * the id the server gave it.
 */
#include "cli/cmd.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/buf.h"
#include "config/config.h"

/* Stdin is read up to the larger of this and the loaded config's max_data; the server
 * answers 413 if it takes less. */
#define STDIN_CAP_MIN (64 * 1024 * 1024)
#define ANSWER_CAP (64 * 1024)

static void
usage(FILE *out)
{
    fputs("Usage: revenprox pub TOPIC [DATA|-] [--event TYPE] [--id KEY] [--url URL]\n"
          "                     [--token TOKEN] [--config FILE] [--SETTING VALUE ...]\n"
          "\n"
          "Publishes DATA as one event to TOPIC (POST /publish/TOPIC) and prints its id.\n"
          "Without DATA, or with -, the data is read from stdin (one trailing newline is\n"
          "dropped, so `echo hi | revenprox pub news` publishes \"hi\").\n"
          "\n"
          "  --event TYPE   the event's type (default: none, seen as \"message\")\n"
          "  --id KEY       idempotency key: if an event with KEY is still in the topic's log,\n"
          "                 nothing is published and its id is printed (\"duplicate\" on stderr)\n"
          "  --url URL      the server (default http://<listen setting>, http://127.0.0.1:8080)\n"
          "  --token TOKEN  sent as Authorization: Bearer TOKEN\n"
          "  --config FILE  a config file, read as `serve` reads it (for the listen setting)\n"
          "\n"
          "Exit status: 0 published, 1 the server refused (its status and message are\n"
          "printed), 2 usage error, 3 the server could not be reached.\n",
          out);
}

/* Reads stdin whole into <b>; 0, -ENOBUFS past its cap, or -EIO. */
static int
read_stdin(struct rp_buf *b)
{
    for (;;) {
        char *dst = rp_buf_reserve(b, 65536);
        size_t room = 65536;
        if (!dst) {
            room = b->cap - b->len;
            if (room == 0) {
                char probe;
                return read(STDIN_FILENO, &probe, 1) > 0 ? -ENOBUFS : 0;
            }
            dst = rp_buf_reserve(b, room);
        }
        ssize_t n = read(STDIN_FILENO, dst, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -EIO;
        if (n == 0)
            return 0;
        b->len += (size_t)n;
    }
}

static int
publish(struct rp_cmd_client *cl, const char *topic, const char *event, const char *key,
        const char *data, size_t len)
{
    struct rp_buf path;
    rp_buf_init(&path, 16384);
    int err = rp_buf_append_str(&path, "/publish/");
    err = err ? err : rp_cmd_url_escape(&path, topic, "/+");
    const char *sep = "?";
    if (event) {
        err = err ? err : rp_buf_printf(&path, "%sevent=", sep);
        err = err ? err : rp_cmd_url_escape(&path, event, NULL);
        sep = "&";
    }
    if (key) {
        err = err ? err : rp_buf_printf(&path, "%sid=", sep);
        err = err ? err : rp_cmd_url_escape(&path, key, NULL);
    }
    if (err || !rp_buf_cstr(&path)) {
        rp_cmd_errorf(cl->cmd, "the topic, --event or --id is too long");
        rp_buf_fini(&path);
        return RP_CMD_EXIT_USAGE;
    }
    struct rp_cmd_response resp;
    int rc = rp_cmd_request(cl, "POST", path.data, data, len, "text/plain; charset=utf-8",
                            ANSWER_CAP, &resp);
    rp_buf_fini(&path);
    if (rc != RP_CMD_EXIT_OK)
        goto done;
    if (resp.status != 200) {
        rc = rp_cmd_refused(cl, resp.status, resp.body.data, resp.body.len, resp.retry_after);
        goto done;
    }
    json_t *root = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
    const char *id = json_string_value(json_object_get(root, "id"));
    if (!id) {
        rp_cmd_errorf(cl->cmd,
                      "the server answered 200 without an event id; is %s a RevenProx "
                      "server?",
                      cl->base);
        rc = RP_CMD_EXIT_REFUSED;
    } else {
        printf("%s\n", id);
        if (json_is_true(json_object_get(root, "duplicate")))
            rp_cmd_errorf(cl->cmd,
                          "duplicate: an event with --id %s is already in the log of "
                          "%s; nothing was published",
                          key ? key : "", topic);
    }
    json_decref(root);
done:
    rp_buf_fini(&resp.body);
    return rc;
}

int
rp_cmd_pub_main(int argc, char **argv)
{
    const char *url = NULL, *token = NULL, *event = NULL, *key = NULL;
    const struct rp_cmd_opt opts[] = {
        {"url", RP_CMD_OPT_VALUE, &url},     {"token", RP_CMD_OPT_VALUE, &token},
        {"event", RP_CMD_OPT_VALUE, &event}, {"id", RP_CMD_OPT_VALUE, &key},
        {NULL, RP_CMD_OPT_SWITCH, NULL},
    };
    struct rp_cmd_args a;
    struct rp_config *cfg = NULL;
    struct rp_cmd_client cl = {0};
    struct rp_buf in;
    rp_buf_init(&in, 0);
    int rc = RP_CMD_EXIT_USAGE;

    if (rp_cmd_args_parse(&a, "pub", argc, argv, opts) != 0)
        goto out;
    if (a.help) {
        usage(stdout);
        rc = RP_CMD_EXIT_OK;
        goto out;
    }
    if (a.n_operands < 1 || a.n_operands > 2 || a.operands[0][0] == '\0') {
        rp_cmd_errorf("pub", a.n_operands > 2 ? "too many arguments: give TOPIC and DATA (quote "
                                                "DATA that has spaces)"
                                              : "give a TOPIC, and DATA (or - to read stdin)");
        fprintf(stderr, "  usage: revenprox pub TOPIC [DATA|-] [--event TYPE] [--id KEY]\n");
        goto out;
    }
    if (rp_cmd_load_config(&a, &cfg) != 0)
        goto out;
    if (rp_cmd_client_init(&cl, "pub", url, token, cfg) != 0)
        goto out;

    const char *data;
    size_t len;
    if (a.n_operands == 2 && strcmp(a.operands[1], "-") != 0) {
        data = a.operands[1];
        len = strlen(data);
    } else {
        size_t cap =
            (size_t)cfg->v.max_data > STDIN_CAP_MIN ? (size_t)cfg->v.max_data : STDIN_CAP_MIN;
        rp_buf_init(&in, cap);
        if (isatty(STDIN_FILENO))
            fprintf(stderr, "revenprox pub: reading the event's data from stdin "
                            "(end it with Ctrl-D)\n");
        int err = read_stdin(&in);
        if (err) {
            rp_cmd_errorf("pub",
                          err == -ENOBUFS ? "stdin holds more than %zu bytes"
                                          : "cannot read stdin (%zu bytes read)",
                          err == -ENOBUFS ? cap : in.len);
            goto out;
        }
        if (in.len && in.data[in.len - 1] == '\n') {
            in.len--;
            if (in.len && in.data[in.len - 1] == '\r')
                in.len--;
        }
        data = in.data ? in.data : "";
        len = in.len;
    }
    rc = publish(&cl, a.operands[0], event, key, data, len);
out:
    rp_buf_fini(&in);
    rp_cmd_client_fini(&cl);
    rp_config_free(cfg);
    rp_cmd_args_fini(&a);
    return rc;
}
