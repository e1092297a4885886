/* SPDX-License-Identifier: MIT */
#include "server/handover.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/alloc.h"
#include "base/backoff.h"
#include "base/log.h"
#include "server/worker.h"
#include "sse/sse_frame.h"

extern char **environ;

#define READY_TIMEOUT_MS 30000

/* Starts the binary again with <child_fd> named in its environment; the pid, or -1. */
static pid_t
start_successor(struct rp_server *srv, int child_fd)
{
    /* The child's environment, built before fork (only exec-safe calls after it). */
    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    char **envp = rp_xcalloc(n_env + 2, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], RP_HANDOVER_FD_ENV "=", sizeof(RP_HANDOVER_FD_ENV)) != 0)
            envp[k++] = environ[i];
    char fd_env[64];
    snprintf(fd_env, sizeof(fd_env), "%s=%d", RP_HANDOVER_FD_ENV, child_fd);
    envp[k++] = fd_env;
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        fcntl(child_fd, F_SETFD, 0); /* this end survives exec */
        execve(srv->exe, srv->exec_argv, envp);
        _exit(127);
    }
    free(envp);
    if (pid < 0)
        RP_LOG(RP_LOG_ERROR, "upgrade", "msg=\"fork: %s\"", strerror(errno));
    return pid;
}

/* Quiesces every worker and gathers what they hand over. */
static void
collect(struct rp_server *srv, int **listeners, size_t *n_listeners, struct rp_conn_export **conns,
        size_t *n_conns)
{
    for (unsigned i = 0; i < srv->n_workers; i++)
        rp_worker_export(srv->workers[i]);
    for (unsigned i = 0; i < srv->n_workers; i++)
        rp_worker_join(srv->workers[i]);
    *listeners = rp_xcalloc(srv->n_workers, sizeof(int));
    *n_listeners = *n_conns = 0;
    *conns = NULL;
    for (unsigned i = 0; i < srv->n_workers; i++) {
        int l;
        struct rp_conn_export *c;
        size_t n = rp_worker_take_export(srv->workers[i], &l, &c);
        if (l >= 0)
            (*listeners)[(*n_listeners)++] = l;
        *conns = rp_xrealloc(*conns, (*n_conns + n + 1) * sizeof(**conns));
        memcpy(*conns + *n_conns, c, n * sizeof(*c));
        *n_conns += n;
        free(c);
    }
}

/*
 * The hand-over failed after quiescing: too late to go back. Streams are told when to
 * come back, spread out; HTTP connections get their queued answers, then everything closes.
 */
static void
give_up(struct rp_server *srv, struct rp_conn_export *conns, size_t n)
{
    int64_t base = atomic_load(&srv->cfg)->v.retry;
    if (base <= 0)
        base = RP_SSE_RETRY_DEFAULT_MS;
    for (size_t i = 0; i < n; i++) {
        const char *bytes = conns[i].out;
        size_t len = conns[i].out_len;
        char hint[64];
        if (conns[i].kind == RP_CONN_STREAM) {
            len = rp_sse_retry_hint(rp_backoff_jitter_ms(base, 5 * base), hint, sizeof(hint));
            bytes = hint;
        }
        if (len && send(conns[i].fd, bytes, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            (void)0; /* the client is gone or full: it reconnects on its own */
        shutdown(conns[i].fd, SHUT_RDWR);
    }
}

bool
rp_handover_old_side(struct rp_server *srv)
{
    if (!srv->exe || !srv->exec_argv) {
        RP_LOG(RP_LOG_WARN, "upgrade", "msg=\"SIGUSR2 ignored: the binary's path is unknown\"");
        return false;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        RP_LOG(RP_LOG_ERROR, "upgrade", "msg=\"socketpair: %s\"", strerror(errno));
        return false;
    }
    pid_t pid = start_successor(srv, sv[1]);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return false;
    }
    RP_LOG(RP_LOG_INFO, "upgrade", "msg=\"started the new process\" pid=%d exe=%s", (int)pid,
           srv->exe);
    int r = rp_handover_wait_byte(sv[0], READY_TIMEOUT_MS);
    if (r != 'R') {
        RP_LOG(RP_LOG_ERROR, "upgrade",
               "msg=\"the new process did not get ready (%s); this one keeps serving\"",
               r < 0 ? strerror(-r) : "unexpected message");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(sv[0]);
        return false;
    }
    int *listeners;
    size_t n_listeners, n_conns;
    struct rp_conn_export *conns;
    collect(srv, &listeners, &n_listeners, &conns, &n_conns);
    struct rp_diag diag = {{0}};
    int rc = rp_handover_send(sv[0], srv->hub, listeners, n_listeners, conns, n_conns, &diag);
    r = rc ? rc : rp_handover_wait_byte(sv[0], READY_TIMEOUT_MS);
    if (r == 'K') {
        RP_LOG(RP_LOG_INFO, "upgrade", "msg=\"handed over\" pid=%d connections=%zu listeners=%zu",
               (int)pid, n_conns, n_listeners);
    } else {
        RP_LOG(RP_LOG_ERROR, "upgrade",
               "msg=\"the hand-over failed (%s); closing %zu connections, streams with a "
               "jittered retry\"",
               *diag.msg ? diag.msg : (r < 0 ? strerror(-r) : "unexpected message"), n_conns);
        give_up(srv, conns, n_conns);
    }
    /* Our copies only: the successor holds the same sockets open. */
    for (size_t i = 0; i < n_conns; i++) {
        close(conns[i].fd);
        rp_conn_export_fini(&conns[i]);
    }
    for (size_t i = 0; i < n_listeners; i++)
        close(listeners[i]);
    free(conns);
    free(listeners);
    close(sv[0]);
    srv->upgraded = r == 'K';
    return true;
}

int
rp_handover_socket(void)
{
    const char *v = getenv(RP_HANDOVER_FD_ENV);
    if (!v)
        return -1;
    char *end;
    long fd = strtol(v, &end, 10);
    unsetenv(RP_HANDOVER_FD_ENV);
    if (*end || fd < 0 || fd > 1000000)
        return -1;
    fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    return (int)fd;
}

int
rp_handover_take(int sock, struct rp_handover_state *st)
{
    struct rp_diag diag = {{0}};
    int rc = rp_handover_send_byte(sock, 'R');
    if (rc)
        rp_diag_set(&diag, "the previous process is gone: %s", strerror(-rc));
    else
        rc = rp_handover_receive(sock, st, &diag);
    if (rc)
        RP_LOG(RP_LOG_ERROR, "upgrade", "msg=\"taking over failed: %s\"", diag.msg);
    return rc;
}

void
rp_handover_adopt(struct rp_handover_state *st, struct rp_worker **workers, unsigned n)
{
    size_t adopted = 0;
    for (size_t i = 0; i < st->n_conns; i++)
        adopted += rp_worker_adopt(workers[i % n], &st->conns[i]) == 0;
    RP_LOG(RP_LOG_INFO, "upgrade",
           "msg=\"took over\" connections=%zu of=%zu events=%zu listeners=%zu", adopted,
           st->n_conns, st->n_events, st->n_listeners);
}

void
rp_handover_finish(int sock, bool ok)
{
    if (ok)
        rp_handover_send_byte(sock, 'K'); /* the old process may go */
    close(sock);
}
