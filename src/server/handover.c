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
#include <time.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/alloc.h"
#include "base/backoff.h"
#include "base/log.h"
#include "server/worker.h"
#include "sse/sse_frame.h"

extern char **environ;

/* How long the old side waits for the successor to be ready, then to take over; and the
 * successor for the old side's go. */
#define READY_TIMEOUT_MS 30000
#define TAKE_OVER_TIMEOUT_MS 30000

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

/* What the quiesced workers handed over: the old side owns it until the successor takes
 * over, and gives it back to the workers if it does not. */
struct handed {
    int *listeners;
    size_t n_listeners;
    struct rp_conn_export *conns;
    size_t n_conns;
};

/* Quiesces every worker and gathers what they hand over. */
static void
collect(struct rp_server *srv, struct handed *h)
{
    for (unsigned i = 0; i < srv->n_workers; i++)
        rp_worker_export(srv->workers[i]);
    for (unsigned i = 0; i < srv->n_workers; i++)
        rp_worker_join(srv->workers[i]);
    *h = (struct handed){.listeners = rp_xcalloc(srv->n_workers, sizeof(int))};
    for (unsigned i = 0; i < srv->n_workers; i++) {
        int l;
        struct rp_conn_export *c;
        size_t n = rp_worker_take_export(srv->workers[i], &l, &c);
        if (l >= 0)
            h->listeners[h->n_listeners++] = l;
        h->conns = rp_xrealloc(h->conns, (h->n_conns + n + 1) * sizeof(*h->conns));
        if (n) /* a worker with none may give NULL, which memcpy must not get */
            memcpy(h->conns + h->n_conns, c, n * sizeof(*c));
        h->n_conns += n;
        free(c);
    }
}

/* Closes our copies of what was handed over (those taken back are -1 by now). */
static void
release(struct handed *h)
{
    for (size_t i = 0; i < h->n_conns; i++) {
        if (h->conns[i].fd >= 0)
            close(h->conns[i].fd);
        rp_conn_export_fini(&h->conns[i]);
    }
    for (size_t i = 0; i < h->n_listeners; i++)
        if (h->listeners[i] >= 0)
            close(h->listeners[i]);
    free(h->conns);
    free(h->listeners);
}

/*
 * Last resort, when the workers cannot run again: streams are told when to come back,
 * spread out; HTTP connections get their queued answers; then everything closes.
 */
static void
give_up(struct rp_server *srv, struct handed *h)
{
    int64_t base = atomic_load(&srv->cfg)->v.retry;
    if (base <= 0)
        base = RP_SSE_RETRY_DEFAULT_MS;
    for (size_t i = 0; i < h->n_conns; i++) {
        const struct rp_conn_export *e = &h->conns[i];
        if (e->fd < 0)
            continue;
        const char *bytes = e->out;
        size_t len = e->out_len;
        char hint[64];
        if (e->kind == RP_CONN_STREAM) {
            len = rp_sse_retry_hint(rp_backoff_jitter_ms(base, 5 * base), hint, sizeof(hint));
            bytes = hint;
        }
        if (len && send(e->fd, bytes, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            (void)0; /* the client is gone or full: it reconnects on its own */
        shutdown(e->fd, SHUT_RDWR);
    }
}

/*
 * The hand-over failed before the successor committed: it has not touched a socket, so
 * everything goes back to the workers, which run again. 0, or -errno when a worker cannot
 * (the connections not taken back are then given up).
 */
static int
resume(struct rp_server *srv, struct handed *h)
{
    int err = 0;
    for (unsigned i = 0; i < srv->n_workers && !err; i++) {
        int l = -1;
        if (i < h->n_listeners) {
            l = h->listeners[i];
            h->listeners[i] = -1; /* the worker's from now on */
        }
        err = rp_worker_resume(srv->workers[i], l);
    }
    size_t back = 0;
    for (size_t i = 0; i < h->n_conns && !err; i++)
        back += rp_worker_adopt(srv->workers[i % srv->n_workers], &h->conns[i]) == 0;
    for (unsigned i = 0; i < srv->n_workers && !err; i++)
        err = rp_worker_start(srv->workers[i]);
    if (err) {
        RP_LOG(RP_LOG_ERROR, "upgrade",
               "msg=\"cannot resume serving: %s; closing the connections, streams with a "
               "jittered retry, and exiting\"",
               strerror(-err));
        give_up(srv, h);
        return err;
    }
    RP_LOG(RP_LOG_INFO, "upgrade", "msg=\"serving again\" connections=%zu of=%zu", back,
           h->n_conns);
    return 0;
}

/* The hand-over failed after our log was closed: it is ours again. The successor may have
 * opened it and died, leaving it unclean, but it never served (no commit): nothing it
 * reserved reached a client, so that is no gap. */
static int
reopen_log(struct rp_server *srv)
{
    const struct rp_config_values *v = &atomic_load(&srv->cfg)->v;
    if (!v->data_dir || !*v->data_dir || srv->log.engine)
        return 0;
    int rc = rp_server_open_log(srv, v);
    if (rc) {
        RP_LOG(RP_LOG_ERROR, "upgrade",
               "msg=\"cannot open the event log again: %s; closing the connections and "
               "exiting\"",
               strerror(-rc));
        return rc;
    }
    rp_log_store_attach(&srv->log, srv->hub, true);
    return 0;
}

/*
 * The successor will not take over: reaps it (killing it first unless it already went:
 * after the one it sent, it may not run on a socket we serve again) and says how it ended.
 */
static void
stop_successor(pid_t pid, int why, char *how, size_t len)
{
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    /* It closed its end: give it a moment to exit on its own, to report how. */
    for (int i = 0; r == 0 && why == -EPIPE && i < 100; i++) {
        struct timespec ms10 = {0, 10 * 1000 * 1000};
        nanosleep(&ms10, NULL);
        r = waitpid(pid, &status, WNOHANG);
    }
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        snprintf(how, len, "stopped it");
    } else if (r < 0) {
        snprintf(how, len, "it is gone: %s", strerror(errno));
    } else if (WIFEXITED(status)) {
        snprintf(how, len, "it exited with status %d", WEXITSTATUS(status));
    } else {
        snprintf(how, len, "it was killed by signal %d", WTERMSIG(status));
    }
}

/* Why the successor did not take over, from the last answer <r> (a byte or -errno). */
static const char *
failure_reason(int r, const struct rp_diag *diag)
{
    if (*diag->msg)
        return diag->msg;
    if (r == -EPIPE)
        return "the new process went away before taking over";
    if (r == -ETIMEDOUT)
        return "the new process did not take over within 30 s"; /* TAKE_OVER_TIMEOUT_MS */
    return r < 0 ? strerror(-r) : "the new process sent an unexpected message";
}

/* Starts the successor and waits until it is ready to receive; its pid, or -1 when it did
 * not get there (reaped, the reason logged) and nothing has changed here. */
static pid_t
start_and_wait_ready(struct rp_server *srv, int sv[2])
{
    pid_t pid = start_successor(srv, sv[1]);
    close(sv[1]);
    if (pid < 0)
        return -1;
    RP_LOG(RP_LOG_INFO, "upgrade", "msg=\"started the new process\" pid=%d exe=%s", (int)pid,
           srv->exe);
    int r = rp_handover_wait_byte(sv[0], READY_TIMEOUT_MS);
    if (r == 'R')
        return pid;
    char how[96];
    stop_successor(pid, r, how, sizeof(how));
    RP_LOG(RP_LOG_ERROR, "upgrade",
           "msg=\"upgrade failed: the new process did not get ready (%s; %s); still serving\"",
           r < 0 ? strerror(-r) : "unexpected message", how);
    return -1;
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
    pid_t pid = start_and_wait_ready(srv, sv);
    if (pid < 0) {
        close(sv[0]);
        return false;
    }
    struct handed h;
    collect(srv, &h);
    struct rp_diag diag = {{0}};
    /* The successor opens the same log: ours is made durable and closed first (answers
     * held for it go over as written). */
    int rc = rp_log_store_close(&srv->log, srv->hub, TAKE_OVER_TIMEOUT_MS / 3);
    if (rc)
        rp_diag_set(&diag, "the event log could not be made durable before the hand-over");
    else
        rc = rp_handover_send(sv[0], srv->hub, h.listeners, h.n_listeners, h.conns, h.n_conns,
                              &diag);
    int r = rc ? rc : rp_handover_wait_byte(sv[0], TAKE_OVER_TIMEOUT_MS);
    if (r == 'K') {
        /* Committed: the successor serves once it reads this (or sees us gone). */
        rp_handover_send_byte(sv[0], 'G');
        RP_LOG(RP_LOG_INFO, "upgrade", "msg=\"handed over\" pid=%d connections=%zu listeners=%zu",
               (int)pid, h.n_conns, h.n_listeners);
        release(&h); /* our copies only: the successor holds the same sockets open */
        close(sv[0]);
        srv->upgraded = true;
        return true;
    }
    char how[96];
    stop_successor(pid, r, how, sizeof(how));
    close(sv[0]);
    RP_LOG(RP_LOG_ERROR, "upgrade", "msg=\"upgrade failed: %s (%s); still serving\" pid=%d",
           failure_reason(r, &diag), how, (int)pid);
    rc = reopen_log(srv);
    if (!rc)
        rc = resume(srv, &h);
    else
        give_up(srv, &h);
    release(&h);
    if (rc)
        srv->resume_failed = true;
    return rc != 0;
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
    else
        st->peer = sock;
    return rc;
}

void
rp_handover_commit(struct rp_handover_state *st)
{
    int r = rp_handover_send_byte(st->peer, 'K');
    if (!r)
        r = rp_handover_wait_byte(st->peer, TAKE_OVER_TIMEOUT_MS);
    /* 'G', or the previous process closed without a word (an older version does): it let
     * go. Anything else: it did not answer, and it stops us first if it takes back. */
    if (r != 'G' && r != -EPIPE)
        RP_LOG(RP_LOG_WARN, "upgrade",
               "msg=\"the previous process did not confirm the take-over (%s); serving\"",
               r < 0 ? strerror(-r) : "unexpected message");
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
