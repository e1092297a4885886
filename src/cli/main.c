/* SPDX-License-Identifier: MIT */
/*
 * argv -> command. `revenprox serve` runs the server; `revenprox config dump` prints the
 * effective configuration; `pub`, `sub`, `topics` and `token` are the tools of cli/cmd.h;
 * `--help` lists commands and every setting.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "config/config.h"
#include "server/serve.h"

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
            "  revenprox --config FILE [--SETTING VALUE ...]         the same\n"
            "  revenprox                          the same, when config/proxy.toml exists\n"
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
            "Without --config, config/proxy.toml is read when it exists; without a config\n"
            "file the embedded defaults apply (listen on 127.0.0.1:8080). A file named\n"
            "*.toml is TOML (the documented RevenProx's file loads as it is).\n"
            "\n",
            VERSION);
    rp_config_help(out);
}

static int
load(int argc, char **argv, struct rp_config **cfg)
{
    struct rp_diag diag = {{0}};
    if (rp_config_load(rp_config_path_arg(argc, argv), environ, argc, argv, cfg, &diag) != 0) {
        fprintf(stderr, "revenprox: %s\n", diag.msg);
        return -1;
    }
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
    /* The documented RevenProx starts with no arguments and reads config/proxy.toml. */
    if (argc < 2 && access(RP_CONFIG_DEFAULT_PATH, F_OK) == 0)
        return rp_serve_main(0, argv + 1, argv);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("revenprox %s\n", VERSION);
        return 0;
    }
    /* `revenprox --config FILE` is how the documented RevenProx starts: it means serve. */
    bool bare = strcmp(argv[1], "--config") == 0 || strncmp(argv[1], "--config=", 9) == 0;
    if (strcmp(argv[1], "serve") == 0 || bare) {
        int skip = bare ? 1 : 2;
        for (int i = skip; i < argc; i++) {
            if (strcmp(argv[i], "--help") == 0) {
                usage(stdout);
                return 0;
            }
        }
        return rp_serve_main(argc - skip, argv + skip, argv);
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
