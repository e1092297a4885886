/* SPDX-License-Identifier: MIT */
/*
 * argv -> command. `revenprox serve` runs the server; `revenprox config dump` prints the
 * effective configuration; `pub`, `sub`, `topics` and `token` are the tools of app/cmd.h;
 * `--help` lists commands and every setting.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/cmd.h"
#include "app/server.h"
#include "app/upgrade.h"
#include "base/log.h"
#include "config/config.h"

extern char **environ;

#define VERSION RP_VERSION

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
            "  revenprox pub TOPIC [DATA|-] [--event TYPE] [--id KEY]\n"
            "                                     publish one event; prints its id\n"
            "  revenprox sub FILTER... [--json] [--count N] [--last-event-id ID]\n"
            "                                     print a stream's events; reconnects and resumes\n"
            "  revenprox topics [PATTERN] [--json]\n"
            "                                     list topics with their counts\n"
            "  revenprox token [--sub S] [--read FILTER]... [--write FILTER]... [--ttl 1h]\n"
            "                  [--private-key FILE] [--aud A] [--iss I]\n"
            "                                     mint a JWT with the configured key\n"
            "  revenprox upgrade [--timeout S]    hand a running server over to a new process\n"
            "                                     (its binary again), keeping every stream\n"
            "  revenprox version                  print the version\n"
            "  revenprox --help                   this text; `revenprox COMMAND --help` for one\n"
            "\n"
            "pub, sub and topics talk to a running server: --url URL (default\n"
            "http://<listen setting>), --token TOKEN (sent as a bearer token). Like serve and\n"
            "token they read --config FILE, REVENPROX_* and --SETTING flags. Exit status of\n"
            "the tools: 0 ok, 1 the server refused (its status and message are printed),\n"
            "2 usage error, 3 the server could not be reached. See docs/cli.md.\n"
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

/* The whole command line, for an upgrade to start the binary again the same way. */
static char **main_argv;

/*
 * Upgrade, new side: started by a running server (SIGUSR2) with the socket to it named in
 * the environment. Returns that socket (and forgets the variable, which the configuration
 * would refuse as unknown), or -1 for a normal start.
 */
static int
upgrade_socket(void)
{
    const char *v = getenv(RP_UPGRADE_FD_ENV);
    if (!v)
        return -1;
    char *end;
    long fd = strtol(v, &end, 10);
    unsetenv(RP_UPGRADE_FD_ENV);
    if (*end || fd < 0 || fd > 1000000)
        return -1;
    fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    return (int)fd;
}

/* The running binary's path, resolved now: a deploy may replace the file later. */
static const char *
own_exe(void)
{
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0)
        return NULL;
    path[n] = '\0';
    return path;
}

static int
cmd_serve(int argc, char **argv)
{
    int upfd = upgrade_socket();
    struct rp_config *cfg;
    if (load(argc, argv, &cfg)) {
        if (upfd >= 0)
            close(upfd); /* the old process sees it and keeps serving */
        return 2;
    }
    /* Signals are taken synchronously by the main thread; workers never see them. */
    sigset_t set;
    rp_server_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct rp_server srv;
    struct rp_upgrade_state inherit = {0};
    if (upfd >= 0) {
        char err[256];
        if (rp_upgrade_send_byte(upfd, 'R') != 0 ||
            rp_upgrade_receive(upfd, &inherit, err, sizeof(err)) != 0) {
            RP_LOG(RP_LOG_ERROR, "upgrade", "msg=\"taking over failed: %s\"", err);
            rp_upgrade_state_fini(&inherit);
            close(upfd);
            rp_config_free(cfg);
            return 1;
        }
    }
    int rc =
        upfd >= 0 ? rp_server_start_inherited(&srv, cfg, &inherit) : rp_server_start(&srv, cfg);
    if (upfd >= 0) {
        if (rc == 0)
            rp_upgrade_send_byte(upfd, 'K'); /* the old process may go */
        close(upfd);
        rp_upgrade_state_fini(&inherit); /* closes what was not taken */
    }
    if (rc != 0) {
        rp_config_free(cfg);
        return 1;
    }
    srv.exe = own_exe();
    srv.exec_argv = main_argv;
    struct serve_args args = {argc, argv};
    srv.reload = reload_config;
    srv.reload_ctx = &args;
    rp_server_wait(&srv);
    rp_server_stop(&srv);
    RP_LOG(RP_LOG_INFO, "server",
           srv.upgraded ? "msg=\"stopped: the new process serves\"" : "msg=\"stopped\"");
    rp_config_free(cfg);
    return 0;
}

/* The tools use libcurl's easy interface; its global state lives for the command only. */
static int
run_tool(int (*tool)(int, char **), int argc, char **argv)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "revenprox: cannot initialise libcurl\n");
        return RP_CMD_EXIT_CONNECT;
    }
    int rc = tool(argc, argv);
    curl_global_cleanup();
    return rc;
}

int
main(int argc, char **argv)
{
    main_argv = argv;
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
    if (strcmp(argv[1], "pub") == 0)
        return run_tool(rp_cmd_pub_main, argc - 2, argv + 2);
    if (strcmp(argv[1], "sub") == 0)
        return run_tool(rp_cmd_sub_main, argc - 2, argv + 2);
    if (strcmp(argv[1], "topics") == 0)
        return run_tool(rp_cmd_topics_main, argc - 2, argv + 2);
    if (strcmp(argv[1], "upgrade") == 0)
        return run_tool(rp_cmd_upgrade_main, argc - 2, argv + 2);
    if (strcmp(argv[1], "token") == 0)
        return run_tool(rp_cmd_token_main, argc - 2, argv + 2);
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
