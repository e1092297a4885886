/* SPDX-License-Identifier: MIT */
/*
 * `revenprox upgrade`: asks the server at --url (GET /healthz names its pid) to hand over
 * to a new process started from its binary (SIGUSR2; docs/operations.md), and waits until
 * another pid answers there. The server must run on this machine, as the same user.
 */
#include "cli/cmd.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/buf.h"
#include "config/config.h"

static void
usage(FILE *out)
{
    fputs("Usage: revenprox upgrade [--timeout SECONDS] [--url URL] [--config FILE]\n"
          "                         [--SETTING VALUE ...]\n"
          "\n"
          "Upgrades the server at --url without dropping a subscriber: it starts its binary\n"
          "again (after a deploy, the new version), which takes over the listening sockets\n"
          "and every live stream. Waits until the new process answers (default 30 s).\n"
          "\n"
          "Exit status: 0 upgraded, 1 the server did not hand over (see its log), 2 usage\n"
          "error, 3 the server could not be reached.\n",
          out);
}

/* The pid in the server's /healthz answer; 0 on an answer without one, -1 when none came. */
static long
server_pid(const struct rp_cmd_client *cl)
{
    struct rp_cmd_response resp;
    int rc = rp_cmd_request(cl, "GET", "/healthz", NULL, 0, NULL, 4096, &resp);
    long pid = -1;
    if (rc == RP_CMD_EXIT_OK) {
        json_t *root = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
        pid = resp.status == 200 ? (long)json_integer_value(json_object_get(root, "pid")) : 0;
        json_decref(root);
    }
    rp_buf_fini(&resp.body);
    return pid;
}

int
rp_cmd_upgrade_main(int argc, char **argv)
{
    const char *url = NULL, *timeout_text = NULL;
    const struct rp_cmd_opt opts[] = {
        {"url", RP_CMD_OPT_VALUE, &url},
        {"timeout", RP_CMD_OPT_VALUE, &timeout_text},
        {NULL, RP_CMD_OPT_SWITCH, NULL},
    };
    struct rp_cmd_args a;
    struct rp_config *cfg = NULL;
    struct rp_cmd_client cl = {0};
    int rc = RP_CMD_EXIT_USAGE;
    long timeout_s = 30;

    if (rp_cmd_args_parse(&a, "upgrade", argc, argv, opts) != 0)
        goto out;
    if (a.help) {
        usage(stdout);
        rc = RP_CMD_EXIT_OK;
        goto out;
    }
    if (timeout_text) {
        char *end;
        errno = 0;
        timeout_s = strtol(timeout_text, &end, 10);
        if (errno || *end || timeout_s < 1 || timeout_s > 3600) {
            rp_cmd_errorf("upgrade", "--timeout takes whole seconds from 1 to 3600");
            goto out;
        }
    }
    if (a.n_operands) {
        rp_cmd_errorf("upgrade", "takes no operands; name the server with --url");
        goto out;
    }
    if (rp_cmd_load_config(&a, &cfg) != 0)
        goto out;
    if (rp_cmd_client_init(&cl, "upgrade", url, NULL, cfg) != 0)
        goto out;
    long old = server_pid(&cl);
    if (old < 0) {
        rc = RP_CMD_EXIT_CONNECT;
        goto out;
    }
    if (old == 0) {
        rp_cmd_errorf("upgrade", "the server's /healthz names no pid (an older RevenProx?)");
        rc = RP_CMD_EXIT_REFUSED;
        goto out;
    }
    if (kill((pid_t)old, SIGUSR2) != 0) {
        rp_cmd_errorf("upgrade",
                      "cannot signal pid %ld: %s (run as the server's user, on its "
                      "machine)",
                      old, strerror(errno));
        rc = RP_CMD_EXIT_REFUSED;
        goto out;
    }
    struct timespec pause = {0, 100 * 1000 * 1000};
    for (long waited = 0; waited < timeout_s * 10; waited++) {
        nanosleep(&pause, NULL);
        long now = server_pid(&cl);
        if (now > 0 && now != old) {
            printf("upgraded: pid %ld -> %ld\n", old, now);
            rc = RP_CMD_EXIT_OK;
            goto out;
        }
    }
    rp_cmd_errorf("upgrade",
                  "pid %ld still serves after %ld s: the new process did not take "
                  "over (the server's log says why)",
                  old, timeout_s);
    rc = RP_CMD_EXIT_REFUSED;
out:
    rp_cmd_client_fini(&cl);
    rp_config_free(cfg);
    rp_cmd_args_fini(&a);
    return rc;
}
