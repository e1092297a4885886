/* SPDX-License-Identifier: MIT */
/*
 * argv -> command. `revenprox serve` runs the server; `revenprox config dump` prints the
 * effective configuration; `--help` lists commands and every setting.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "app/server.h"
#include "base/log.h"
#include "config/config.h"

extern char **environ;

#define VERSION "0.1.0"

static void
usage(FILE *out)
{
    fprintf(out,
            "revenprox %s - a Server-Sent Events pub/sub server\n"
            "\n"
            "Usage:\n"
            "  revenprox serve [--config FILE] [--SETTING VALUE ...]   run the server\n"
            "  revenprox config dump [--config FILE] [--SETTING VALUE ...]\n"
            "                                     print the effective configuration\n"
            "  revenprox version                  print the version\n"
            "  revenprox --help                   this text\n"
            "\n"
            "Every setting can be given in the config file, as REVENPROX_<NAME> in the\n"
            "environment, or as a flag (later wins: defaults < file < environment < flags).\n"
            "Without a config file the embedded defaults apply (listen on 127.0.0.1:8080).\n"
            "\n",
            VERSION);
    rp_config_help(out);
}

/* Finds --config FILE / --config=FILE among the flags. */
static const char *
config_path(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            return argv[i + 1];
        if (strncmp(argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
    }
    return NULL;
}

static int
load(int argc, char **argv, struct rp_config **cfg)
{
    struct rp_diag diag = {{0}};
    if (rp_config_load(config_path(argc, argv), environ, argc, argv, cfg, &diag) != 0) {
        fprintf(stderr, "revenprox: %s\n", diag.msg);
        return -1;
    }
    return 0;
}

/* What a reload loads again: the same file, environment and flags as at start. */
struct serve_args {
    int argc;
    char **argv;
};

static struct rp_config *
reload_config(void *ctx)
{
    const struct serve_args *a = ctx;
    struct rp_config *cfg;
    struct rp_diag diag = {{0}};
    if (rp_config_load(config_path(a->argc, a->argv), environ, a->argc, a->argv, &cfg, &diag)) {
        RP_LOG(RP_LOG_ERROR, "config", "msg=\"%s\"", diag.msg);
        return NULL;
    }
    return cfg;
}

static int
cmd_serve(int argc, char **argv)
{
    struct rp_config *cfg;
    if (load(argc, argv, &cfg))
        return 2;
    /* Signals are taken synchronously by the main thread; workers never see them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct rp_server srv;
    if (rp_server_start(&srv, cfg) != 0) {
        rp_config_free(cfg);
        return 1;
    }
    struct serve_args args = {argc, argv};
    srv.reload = reload_config;
    srv.reload_ctx = &args;
    rp_server_wait(&srv);
    rp_server_stop(&srv);
    RP_LOG(RP_LOG_INFO, "server", "msg=\"stopped\"");
    rp_config_free(cfg);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("revenprox %s\n", VERSION);
        return 0;
    }
    if (strcmp(argv[1], "serve") == 0) {
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--help") == 0) {
                usage(stdout);
                return 0;
            }
        }
        return cmd_serve(argc - 2, argv + 2);
    }
    if (strcmp(argv[1], "config") == 0 && argc >= 3 && strcmp(argv[2], "dump") == 0) {
        struct rp_config *cfg;
        if (load(argc - 3, argv + 3, &cfg))
            return 2;
        rp_config_dump(cfg, stdout);
        rp_config_free(cfg);
        return 0;
    }
    fprintf(stderr, "revenprox: unknown command '%s'; try 'revenprox --help'\n", argv[1]);
    return 2;
}
