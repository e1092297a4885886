/* SPDX-License-Identifier: MIT */
#include "gen/bench_run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "gen/bench_clock.h"
#include "gen/bench_hist.h"
#include "gen/bench_ipc.h"
#include "gen/bench_proc.h"
#include "gen/bench_pub.h"
#include "gen/bench_report.h"
#include "gen/bench_sub.h"

#define NS 1000000000ull
#define MS 1000000ull
#define TAG_CHILD (1ull << 62)
#define TAG_PUB (1ull << 61)
#define TAG_INDEX 0xffffffffull
#define CHILD_IN_CAP (64u << 20)
/* Time children get to report after STOP, even past --timeout. */
#define STOP_GRACE_NS (5 * NS)

/* The parent's view of one subscriber process. */
struct child {
    pid_t pid;
    int ctl;    /* write end of its control pipe */
    int rep;    /* read end of its report pipe */
    bool seen;  /* at least one PROGRESS arrived */
    bool ready; /* READY arrived: its connect phase is over */
    bool done;  /* RESULT arrived */
    bool eof;   /* its report pipe closed */
    struct rp_buf in;
    struct bench_sub_progress prog;
    struct bench_sub_stats stats;
    struct bench_hist *hist;
};

struct run {
    const struct bench_opts *o;
    int epfd;
    struct child *kids;
    uint32_t n_kids;
    uint32_t *subs; /* open streams per topic, from READY */
    struct bench_pub *pub;
    uint64_t t0;
    uint64_t deadline;
    struct bench_report rep;
};

static void
raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void
sample(const struct run *r, struct bench_proc_sample *s)
{
    memset(s, 0, sizeof(*s));
    for (uint32_t i = 0; i < r->o->n_server_pids; i++) {
        struct bench_proc_sample one;
        if (bench_proc_sample(r->o->server_pids[i], &one) != 0) {
            fprintf(stderr, "revenprox-bench: cannot sample --server-pid %d (gone?)\n",
                    (int)r->o->server_pids[i]);
            continue;
        }
        if (!s->ok) {
            *s = one;
            continue;
        }
        s->n_procs += one.n_procs;
        s->rss_kb += one.rss_kb;
        s->cpu_s += one.cpu_s;
    }
}

static void
on_message(struct run *r, struct child *k, uint32_t type, const char *p, uint32_t len)
{
    switch (type) {
    case BENCH_IPC_PROGRESS:
        if (len == sizeof(k->prog)) {
            memcpy(&k->prog, p, sizeof(k->prog));
            k->seen = true;
        }
        break;
    case BENCH_IPC_READY: {
        if (len < sizeof(k->prog))
            break;
        memcpy(&k->prog, p, sizeof(k->prog));
        k->seen = true;
        k->ready = true;
        size_t n = (len - sizeof(k->prog)) / sizeof(struct bench_sub_topic_count);
        for (size_t i = 0; i < n; i++) {
            struct bench_sub_topic_count tc;
            memcpy(&tc, p + sizeof(k->prog) + i * sizeof(tc), sizeof(tc));
            if (tc.topic < r->o->topics)
                r->subs[tc.topic] += tc.count;
        }
        break;
    }
    case BENCH_IPC_RESULT:
        if (len == sizeof(k->stats) + sizeof(*k->hist)) {
            memcpy(&k->stats, p, sizeof(k->stats));
            memcpy(k->hist, p + sizeof(k->stats), sizeof(*k->hist));
            k->done = true;
        }
        break;
    default:
        break;
    }
}

static void
child_readable(struct run *r, struct child *k)
{
    for (;;) {
        long n = bench_ipc_read(k->rep, &k->in);
        if (n == -EAGAIN || n == -EINTR)
            break;
        if (n <= 0) {
            k->eof = true;
            epoll_ctl(r->epfd, EPOLL_CTL_DEL, k->rep, NULL);
            if (!k->done)
                fprintf(stderr, "revenprox-bench: subscriber process %d ended without a result\n",
                        (int)k->pid);
            break;
        }
        uint32_t type, len;
        const char *payload;
        while (bench_ipc_next(&k->in, &type, &payload, &len)) {
            on_message(r, k, type, payload, len);
            rp_buf_consume(&k->in, BENCH_IPC_HEAD + len);
        }
    }
}

/* Waits up to <timeout_ms> for sockets and pipes, and handles what is ready. */
static void
pump(struct run *r, int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(r->epfd, evs, 256, timeout_ms < 0 ? 0 : timeout_ms);
    for (int i = 0; i < n; i++) {
        uint64_t u = evs[i].data.u64;
        uint32_t idx = (uint32_t)(u & TAG_INDEX);
        if ((u & TAG_CHILD) && idx < r->n_kids)
            child_readable(r, &r->kids[idx]);
        else if ((u & TAG_PUB) && r->pub)
            bench_pub_on_ready(r->pub, idx, evs[i].events);
    }
}

static void
command_all(struct run *r, char cmd)
{
    for (uint32_t i = 0; i < r->n_kids; i++) {
        ssize_t w;
        do {
            w = write(r->kids[i].ctl, &cmd, 1);
        } while (w < 0 && errno == EINTR);
    }
}

static int
spawn_children(struct run *r)
{
    const struct bench_opts *o = r->o;
    r->kids = rp_xcalloc(o->procs, sizeof(*r->kids));
    for (uint32_t i = 0; i < o->procs; i++) {
        struct child *k = &r->kids[i];
        int ctl[2], rep[2];
        if (pipe2(ctl, O_CLOEXEC) != 0)
            return -errno;
        if (pipe2(rep, O_CLOEXEC) != 0) {
            close(ctl[0]);
            close(ctl[1]);
            return -errno;
        }
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0)
            return -errno;
        if (pid == 0) {
            /* Hold no end of a sibling's pipes: each child must see its parent's close. */
            for (uint32_t j = 0; j < i; j++) {
                close(r->kids[j].ctl);
                close(r->kids[j].rep);
            }
            close(r->epfd);
            close(ctl[1]);
            close(rep[0]);
            fcntl(ctl[0], F_SETFL, O_NONBLOCK);
            alarm((unsigned)o->timeout + 10);
            struct bench_sub_config cfg = {
                .opts = o,
                .proc = i,
                .ctl_fd = ctl[0],
                .report_fd = rep[1],
                .run_start_ns = r->t0,
                .deadline_ns = r->deadline + STOP_GRACE_NS / 2,
                .strict_start = o->mode == BENCH_MODE_RUN,
            };
            _exit(bench_sub_main(&cfg));
        }
        close(ctl[0]);
        close(rep[1]);
        fcntl(rep[0], F_SETFL, O_NONBLOCK);
        k->pid = pid;
        k->ctl = ctl[1];
        k->rep = rep[0];
        rp_buf_init(&k->in, CHILD_IN_CAP);
        k->hist = rp_xmalloc(sizeof(*k->hist));
        bench_hist_init(k->hist);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_CHILD | i};
        epoll_ctl(r->epfd, EPOLL_CTL_ADD, k->rep, &ev);
        r->n_kids = i + 1;
    }
    return 0;
}

static bool
timed_out(struct run *r, uint64_t now)
{
    if (now < r->deadline)
        return false;
    if (!r->rep.timed_out)
        fprintf(stderr, "revenprox-bench: --timeout %.1f s reached; stopping\n", r->o->timeout);
    r->rep.timed_out = true;
    return true;
}

/* Sums what the children reported as the run goes (PROGRESS). */
static void
progress_sum(const struct run *r, struct bench_sub_progress *s, bool *all_seen, bool *any_eof)
{
    memset(s, 0, sizeof(*s));
    *all_seen = true;
    *any_eof = false;
    for (uint32_t i = 0; i < r->n_kids; i++) {
        const struct child *k = &r->kids[i];
        s->n_open += k->prog.n_open;
        s->n_failed += k->prog.n_failed;
        s->n_pending += k->prog.n_pending;
        s->delivered += k->prog.delivered;
        if (k->prog.last_open_ns > s->last_open_ns)
            s->last_open_ns = k->prog.last_open_ns;
        if (k->prog.last_event_ns > s->last_event_ns)
            s->last_event_ns = k->prog.last_event_ns;
        *all_seen = *all_seen && k->seen;
        *any_eof = *any_eof || k->eof;
    }
}

/* Connect phase: until every stream is open or failed, or --connect-timeout; then freeze. */
static void
connect_phase(struct run *r)
{
    const struct bench_opts *o = r->o;
    uint64_t start = bench_clock_ns();
    uint64_t end = start + (uint64_t)(o->connect_timeout * (double)NS);
    uint64_t note = start + 5 * NS;
    struct bench_sub_progress s;
    bool all_seen, any_eof;
    fprintf(stderr, "revenprox-bench: connecting %u stream(s) over %u process(es)\n", o->conns,
            o->procs);
    for (;;) {
        uint64_t now = bench_clock_ns();
        progress_sum(r, &s, &all_seen, &any_eof);
        if (timed_out(r, now) || (all_seen && s.n_pending == 0) || any_eof)
            break;
        if (now >= end) {
            fprintf(stderr, "revenprox-bench: connect phase over after %.1f s with %llu pending\n",
                    o->connect_timeout, (unsigned long long)s.n_pending);
            break;
        }
        if (now >= note) {
            fprintf(stderr, "  open %llu, failed %llu, pending %llu\n",
                    (unsigned long long)s.n_open, (unsigned long long)s.n_failed,
                    (unsigned long long)s.n_pending);
            note += 5 * NS;
        }
        pump(r, 20);
    }
    command_all(r, BENCH_IPC_CMD_FREEZE);
    for (;;) {
        bool all_ready = true;
        for (uint32_t i = 0; i < r->n_kids; i++)
            all_ready = all_ready && (r->kids[i].ready || r->kids[i].eof);
        if (timed_out(r, bench_clock_ns()) || all_ready)
            break;
        pump(r, 20);
    }
    progress_sum(r, &s, &all_seen, &any_eof);
    uint64_t done = s.last_open_ns > start ? s.last_open_ns : bench_clock_ns();
    r->rep.connect_seconds = (double)(done - start) / (double)NS;
    fprintf(stderr, "revenprox-bench: %llu open, %llu failed in %.3f s\n",
            (unsigned long long)s.n_open, (unsigned long long)s.n_failed, r->rep.connect_seconds);
}

static uint64_t
expected_deliveries(const struct run *r)
{
    const uint64_t *acked = bench_pub_acked_by_topic(r->pub);
    uint64_t e = 0;
    for (uint32_t t = 0; t < r->o->topics; t++)
        e += acked[t] * r->subs[t];
    return e;
}

/* Publishing for --duration, then settling: until everything acknowledged has arrived, or
 * --settle runs out. */
static void
publish_phase(struct run *r)
{
    const struct bench_opts *o = r->o;
    r->pub = bench_pub_new(o, r->epfd, TAG_PUB);
    sample(r, &r->rep.srv_cpu_start);
    uint64_t start = bench_clock_ns();
    uint64_t end = start + (uint64_t)(o->duration * (double)NS);
    if (end > r->deadline)
        end = r->deadline;
    fprintf(stderr, "revenprox-bench: publishing for %.1f s (%u publisher(s), %s)\n", o->duration,
            o->publishers, o->pub_rate > 0 ? "rate-limited" : "as fast as acknowledged");
    bench_pub_start(r->pub, start, end);
    uint64_t now = start;
    for (;;) {
        now = bench_clock_ns();
        int t = bench_pub_tick(r->pub, now);
        if (timed_out(r, now) || now >= end || bench_pub_count_reached(r->pub))
            break;
        pump(r, t);
    }
    r->rep.duration_s = (double)(now - start) / (double)NS;

    uint64_t settle_end = now + (uint64_t)(o->settle * (double)NS);
    if (settle_end > r->deadline)
        settle_end = r->deadline;
    bool have_expected = false;
    struct bench_sub_progress s;
    bool all_seen, any_eof;
    for (;;) {
        now = bench_clock_ns();
        bench_pub_tick(r->pub, now);
        if (!have_expected && bench_pub_idle(r->pub)) {
            r->rep.expected = expected_deliveries(r);
            have_expected = true;
        }
        progress_sum(r, &s, &all_seen, &any_eof);
        if (have_expected && (r->n_kids == 0 || s.delivered >= r->rep.expected))
            break;
        if (now >= settle_end) {
            timed_out(r, now);
            break;
        }
        pump(r, 10);
    }
    bench_pub_stop(r->pub);
    if (!have_expected)
        r->rep.expected = expected_deliveries(r);
    r->rep.has_expected = r->n_kids > 0;
    bench_pub_get_totals(r->pub, &r->rep.pub);
}

/* `sub`: hold the streams for --duration, counting what arrives. */
static void
hold_phase(struct run *r)
{
    sample(r, &r->rep.srv_cpu_start);
    uint64_t start = bench_clock_ns();
    uint64_t end = start + (uint64_t)(r->o->duration * (double)NS);
    fprintf(stderr, "revenprox-bench: holding for %.1f s\n", r->o->duration);
    uint64_t now = start;
    for (;;) {
        now = bench_clock_ns();
        if (timed_out(r, now) || now >= end)
            break;
        uint64_t left = (end - now) / MS + 1;
        pump(r, left < 50 ? (int)left : 50);
    }
    r->rep.duration_s = (double)(now - start) / (double)NS;
    r->rep.window_s = r->rep.duration_s;
}

/* STOP every child, gather the RESULTs (with a grace period past --timeout), reap them. */
static void
stop_children(struct run *r)
{
    command_all(r, BENCH_IPC_CMD_STOP);
    uint64_t now = bench_clock_ns();
    uint64_t end = (now > r->deadline ? now : r->deadline) + STOP_GRACE_NS;
    for (;;) {
        bool all = true;
        for (uint32_t i = 0; i < r->n_kids; i++)
            all = all && (r->kids[i].done || r->kids[i].eof);
        if (all || bench_clock_ns() >= end)
            break;
        pump(r, 20);
    }
    for (uint32_t i = 0; i < r->n_kids; i++) {
        struct child *k = &r->kids[i];
        if (!k->done && !k->eof)
            kill(k->pid, SIGKILL);
        close(k->ctl);
        waitpid(k->pid, NULL, 0);
        close(k->rep);
    }
}

static double
rusage_s(int who)
{
    struct rusage ru;
    if (getrusage(who, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
merge_results(struct run *r)
{
    r->rep.bench_sub_cpu_s = rusage_s(RUSAGE_CHILDREN);
    r->rep.bench_pub_cpu_s = rusage_s(RUSAGE_SELF);
    struct bench_sub_stats *s = &r->rep.sub;
    bench_hist_init(&r->rep.hist);
    for (uint32_t i = 0; i < r->n_kids; i++) {
        const struct child *k = &r->kids[i];
        const struct bench_sub_stats *c = &k->stats;
        if (!k->done) {
            /* A child that died took its counts along; what it said last still stands. */
            s->n_open += k->prog.n_open;
            s->delivered += k->prog.delivered;
            continue;
        }
#define ADD(f) s->f += c->f
        ADD(n_target);
        ADD(n_open);
        ADD(n_failed);
        ADD(fail_connect);
        ADD(fail_status);
        ADD(fail_closed);
        ADD(fail_pending);
        ADD(events);
        ADD(delivered);
        ADD(seq_gaps);
        ADD(duplicates);
        ADD(reordered);
        ADD(other);
        ADD(stale);
        ADD(bytes);
        ADD(parse_errors);
        ADD(disconnects);
#undef ADD
        if (c->first_event_ns && (!s->first_event_ns || c->first_event_ns < s->first_event_ns))
            s->first_event_ns = c->first_event_ns;
        if (c->last_event_ns > s->last_event_ns)
            s->last_event_ns = c->last_event_ns;
        if (c->last_open_ns > s->last_open_ns)
            s->last_open_ns = c->last_open_ns;
        bench_hist_merge(&r->rep.hist, k->hist);
    }
}

static void
cleanup(struct run *r)
{
    for (uint32_t i = 0; i < r->n_kids; i++) {
        rp_buf_fini(&r->kids[i].in);
        free(r->kids[i].hist);
    }
    free(r->kids);
    free(r->subs);
    bench_pub_free(r->pub);
    if (r->epfd >= 0)
        close(r->epfd);
}

int
bench_run_main(const struct bench_opts *o)
{
    static struct run run;
    struct run *r = &run;
    r->o = o;
    r->t0 = bench_clock_ns();
    r->deadline = r->t0 + (uint64_t)(o->timeout * (double)NS);
    r->rep.opts = o;
    r->rep.has_subs = o->mode != BENCH_MODE_PUB && o->conns > 0;
    r->rep.has_pubs = o->mode != BENCH_MODE_SUB;
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    /* The last resort if a phase ever fails to notice its deadline. */
    alarm((unsigned)o->timeout + 15);
    r->subs = rp_xcalloc(o->topics, sizeof(*r->subs));
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->epfd < 0) {
        perror("revenprox-bench: epoll_create1");
        return 3;
    }
    sample(r, &r->rep.srv_before);
    if (r->rep.has_subs) {
        int err = spawn_children(r);
        if (err) {
            fprintf(stderr, "revenprox-bench: cannot start subscriber processes: %s\n",
                    strerror(-err));
            stop_children(r);
            cleanup(r);
            return 3;
        }
        connect_phase(r);
        sample(r, &r->rep.srv_connected);
    }
    if (!r->rep.timed_out) {
        if (r->rep.has_pubs)
            publish_phase(r);
        else
            hold_phase(r);
    }
    sample(r, &r->rep.srv_end);
    stop_children(r);
    merge_results(r);
    if (r->rep.has_pubs && r->rep.sub.last_event_ns > r->rep.pub.first_send_ns &&
        r->rep.pub.first_send_ns > 0)
        r->rep.window_s =
            (double)(r->rep.sub.last_event_ns - r->rep.pub.first_send_ns) / (double)NS;
    else if (r->rep.has_pubs)
        r->rep.window_s = r->rep.duration_s;
    r->rep.total_s = (double)(bench_clock_ns() - r->t0) / (double)NS;
    bench_report_print(&r->rep, stdout);
    int status = r->rep.timed_out ? 1 : 0;
    cleanup(r);
    return status;
}
