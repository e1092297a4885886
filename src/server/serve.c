/* SPDX-License-Identifier: MIT */
#include "server/serve.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "config/config.h"
#include "server/handover.h"
#include "server/server.h"

extern char **environ;

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
    if (rp_config_load(rp_config_path_arg(a->argc, a->argv), environ, a->argc, a->argv, &cfg,
                       &diag)) {
        RP_LOG(RP_LOG_ERROR, "config", "msg=\"%s\"", diag.msg);
        return NULL;
    }
    return cfg;
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

int
rp_serve_main(int argc, char **argv, char **exec_argv)
{
    /* Signals are taken synchronously by the main thread; workers never see them. Blocked
     * before anything else: a SIGHUP (or SIGTERM) arriving while a large configuration
     * loads waits for the server instead of killing the process. */
    sigset_t set;
    rp_server_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int upfd = rp_handover_socket();
    struct rp_config *cfg;
    struct rp_diag diag = {{0}};
    if (rp_config_load(rp_config_path_arg(argc, argv), environ, argc, argv, &cfg, &diag) != 0) {
        fprintf(stderr, "revenprox: %s\n", diag.msg);
        if (upfd >= 0)
            close(upfd); /* the old process sees it and keeps serving */
        return 2;
    }

    struct rp_server srv;
    struct rp_handover_state inherit = {0};
    if (upfd >= 0 && rp_handover_take(upfd, &inherit) != 0) {
        rp_handover_state_fini(&inherit);
        close(upfd);
        rp_config_free(cfg);
        return 1;
    }
    int rc = rp_server_start(&srv, cfg, upfd >= 0 ? &inherit : NULL);
    if (upfd >= 0) {
        close(upfd); /* before committing, this tells the old process to serve on */
        rp_handover_state_fini(&inherit); /* closes what was not taken */
    }
    if (rc != 0) {
        rp_config_free(cfg);
        return 1;
    }
    /* Once per start, after the log settings of the file apply: not at every reload. */
    for (size_t i = 0; i < cfg->n_notices; i++) {
        char esc[600];
        RP_LOG(RP_LOG_WARN, "config", "msg=\"%s\"",
               rp_log_escape(cfg->notices[i], esc, sizeof(esc)));
    }
    srv.exe = own_exe();
    srv.exec_argv = exec_argv;
    struct serve_args args = {argc, argv};
    srv.reload = reload_config;
    srv.reload_ctx = &args;
    rp_server_wait(&srv);
    rp_server_stop(&srv);
    RP_LOG(RP_LOG_INFO, "server",
           srv.upgraded ? "msg=\"stopped: the new process serves\"" : "msg=\"stopped\"");
    rp_config_free(cfg);
    return srv.resume_failed || srv.log_lost ? 1 : 0; /* so a service manager restarts it */
}
