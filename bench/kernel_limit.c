/* SPDX-License-Identifier: MIT */
/*
 * The kernel's own limit for SSE fan-out on this machine: one process writes a prepared
 * SSE frame to N accepted loopback sockets as fast as it can, while a child process reads
 * and discards everything. It reports events written per second and per CPU-second of the
 * writer, with one write() per event, with writev() of K frames per call, and with the
 * same K frames per call but U sockets' sendmsg calls per io_uring submission (how
 * RevenProx writes a fan-out; --batch 1 for one event to many subscribers). RevenProx's delivered
 * events per server CPU-second are compared with these (docs/benchmarks.md).
 *
 *   kernel_limit [--conns N] [--duration S] [--batch K] [--uring U] [--size B] [--json]
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct result {
    uint64_t events;
    double wall_s;
    double cpu_s;
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

/* The child: connects <n> sockets to <port> and reads everything until <stop> closes. */
static void
reader(int port, int n, int stop)
{
    int ep = epoll_create1(0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
            die("connect");
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    struct epoll_event sev = {.events = EPOLLIN, .data.fd = stop};
    epoll_ctl(ep, EPOLL_CTL_ADD, stop, &sev);
    static char buf[1 << 18];
    struct epoll_event evs[256];
    for (;;) {
        int k = epoll_wait(ep, evs, 256, 1000);
        for (int i = 0; i < k; i++) {
            if (evs[i].data.fd == stop)
                _exit(0);
            while (recv(evs[i].data.fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                ;
        }
    }
}

static struct result
run(const int *fds, int n, const char *frame, size_t len, int batch, double duration)
{
    struct iovec iov[1024];
    for (int i = 0; i < batch; i++) {
        iov[i].iov_base = (void *)(uintptr_t)frame;
        iov[i].iov_len = len;
    }
    uint64_t events = 0;
    double t0 = now_s(), c0 = cpu_s(), end = t0 + duration;
    while (now_s() < end) {
        for (int i = 0; i < n; i++) {
            ssize_t w = batch == 1 ? write(fds[i], frame, len) : writev(fds[i], iov, batch);
            if (w > 0)
                events += (uint64_t)w / len; /* whole frames only, as a server counts */
        }
    }
    return (struct result){events, now_s() - t0, cpu_s() - c0};
}

/* <batch> frames per sendmsg, <per_submit> sockets' sendmsg calls per io_uring_enter. */
static struct result
run_uring(const int *fds, int n, const char *frame, size_t len, int batch, int per_submit,
          double duration)
{
    struct io_uring ring;
    int err = io_uring_queue_init((unsigned)per_submit, &ring, 0);
    if (err < 0) {
        fprintf(stderr, "kernel_limit: io_uring refused: %s\n", strerror(-err));
        return (struct result){0, 1, 1};
    }
    struct iovec iov[1024];
    for (int i = 0; i < batch; i++)
        iov[i] = (struct iovec){(void *)(uintptr_t)frame, len};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)batch};
    uint64_t events = 0;
    double t0 = now_s(), c0 = cpu_s(), end = t0 + duration;
    int next = 0;
    while (now_s() < end) {
        for (int i = 0; i < per_submit; i++) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            if (!sqe)
                die("io_uring_get_sqe");
            io_uring_prep_sendmsg(sqe, fds[next], &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
            next = next + 1 == n ? 0 : next + 1;
        }
        if (io_uring_submit_and_wait(&ring, (unsigned)per_submit) < 0)
            die("io_uring_submit_and_wait");
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            if (cqe->res > 0)
                events += (uint64_t)cqe->res / len;
            seen++;
        }
        io_uring_cq_advance(&ring, seen);
    }
    struct result r = {events, now_s() - t0, cpu_s() - c0};
    io_uring_queue_exit(&ring);
    return r;
}

int
main(int argc, char **argv)
{
    int n = 1000, batch = 16, per_submit = 16, size = 100;
    double duration = 5;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc)
            n = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc)
            duration = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--uring") == 0 && i + 1 < argc)
            per_submit = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            size = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else {
            fprintf(stderr, "usage: kernel_limit [--conns N] [--duration S] [--batch K] "
                            "[--uring U] [--size B] [--json]\n");
            return 2;
        }
    }
    if (n < 1 || n > 9000 || batch < 1 || batch > 1024 || per_submit < 1 || per_submit > 4096 ||
        per_submit > n || size < 16 || duration <= 0) {
        fprintf(stderr, "kernel_limit: conns 1..9000, batch 1..1024, uring 1..4096 and <= conns, "
                        "size >= 16\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    /* A frame shaped like RevenProx's: id line, one data line, blank line. */
    char *frame = malloc((size_t)size + 64);
    int len = snprintf(frame, 64, "id: 5f3a9c21-1000000\ndata: ");
    memset(frame + len, 'x', (size_t)size);
    len += size;
    frame[len++] = '\n';
    frame[len++] = '\n';

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4096) ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl))
        die("listen");
    int stop[2];
    if (pipe(stop))
        die("pipe");
    pid_t child = fork();
    if (child == 0) {
        close(stop[1]);
        reader(ntohs(sa.sin_port), n, stop[0]);
    }
    close(stop[0]);
    int *fds = calloc((size_t)n, sizeof(int));
    for (int i = 0; i < n; i++) {
        fds[i] = accept(lfd, NULL, NULL);
        if (fds[i] < 0)
            die("accept");
        int one = 1;
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK) != 0)
            die("fcntl");
    }
    struct result single = run(fds, n, frame, (size_t)len, 1, duration);
    struct result batched = run(fds, n, frame, (size_t)len, batch, duration);
    struct result uring = run_uring(fds, n, frame, (size_t)len, batch, per_submit, duration);
    close(stop[1]);
    waitpid(child, NULL, 0);

    double s_rate = (double)single.events / single.wall_s;
    double s_cpu = (double)single.events / single.cpu_s;
    double b_rate = (double)batched.events / batched.wall_s;
    double b_cpu = (double)batched.events / batched.cpu_s;
    double u_rate = (double)uring.events / uring.wall_s;
    double u_cpu = (double)uring.events / uring.cpu_s;
    printf("kernel limit: %d loopback sockets, %d-byte frames, %.0f s each\n", n, len, duration);
    printf("  write() per event : %10.0f events/s  %10.0f events per CPU-second\n", s_rate, s_cpu);
    printf("  writev() of %-4d  : %10.0f events/s  %10.0f events per CPU-second\n", batch, b_rate,
           b_cpu);
    printf("  io_uring, %4d x %-4d: %10.0f events/s  %10.0f events per CPU-second"
           " (sockets per submission x frames per call)\n",
           per_submit, batch, u_rate, u_cpu);
    if (json)
        printf("{\"conns\":%d,\"frame_bytes\":%d,\"single_events_per_s\":%.0f,"
               "\"single_events_per_cpu_s\":%.0f,\"batch\":%d,\"batched_events_per_s\":%.0f,"
               "\"batched_events_per_cpu_s\":%.0f,\"uring_per_submit\":%d,"
               "\"uring_events_per_s\":%.0f,\"uring_events_per_cpu_s\":%.0f}\n",
               n, len, s_rate, s_cpu, batch, b_rate, b_cpu, per_submit, u_rate, u_cpu);
    return 0;
}
