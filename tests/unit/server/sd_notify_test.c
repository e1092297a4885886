/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of app/sd_notify: the state reaches a datagram socket named by NOTIFY_SOCKET,
 * as a path and as an abstract name; unset means a silent no-op; bad names and missing
 * listeners are negative errnos; RELOADING=1 carries the current CLOCK_MONOTONIC; the
 * watchdog interval honours WATCHDOG_PID. Uses only AF_UNIX sockets in a temporary folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/sd_notify.h"

/* A bound datagram socket standing in for systemd's notify socket. */
struct listener {
    int fd;
    char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1]; /* as in NOTIFY_SOCKET */
    char dir[64];                                               /* path sockets only */
};

static void
bind_listener(struct listener *l, int abstract)
{
    static unsigned serial;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(l->fd >= 0);
    socklen_t len;
    l->dir[0] = '\0';
    if (abstract) {
        snprintf(l->name, sizeof(l->name), "@rp-sd-notify-test-%ld-%u", (long)getpid(), serial++);
        size_t n = strlen(l->name);
        memcpy(sa.sun_path, l->name, n);
        sa.sun_path[0] = '\0';
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        snprintf(l->dir, sizeof(l->dir), "/tmp/rp-sd-notify-XXXXXX");
        assert_non_null(mkdtemp(l->dir));
        snprintf(l->name, sizeof(l->name), "%s/notify", l->dir);
        memcpy(sa.sun_path, l->name, strlen(l->name) + 1);
        len = (socklen_t)sizeof(sa);
    }
    assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, len), 0);
    /* A test that fails to send must fail, not hang. */
    struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
    assert_int_equal(setsockopt(l->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", l->name, 1), 0);
}

static void
close_listener(struct listener *l)
{
    close(l->fd);
    if (l->dir[0]) {
        unlink(l->name);
        rmdir(l->dir);
    }
    unsetenv("NOTIFY_SOCKET");
}

/* Receives one datagram into <buf> as a string; returns its length. */
static size_t
receive(struct listener *l, char *buf, size_t cap)
{
    ssize_t n = recv(l->fd, buf, cap - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    return (size_t)n;
}

static void
test_unset_is_noop(void **state)
{
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(rp_sd_notify("READY=1"), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", "", 1), 0);
    assert_int_equal(rp_sd_notify("READY=1"), 0);
    assert_int_equal(rp_sd_notify_monotonic_reloading(), 0);
    unsetenv("NOTIFY_SOCKET");
}

static void
test_path_socket(void **state)
{
    struct listener l;
    bind_listener(&l, 0);
    const char *msg = "READY=1\nSTATUS=listening on 127.0.0.1:8080";
    assert_int_equal(rp_sd_notify(msg), 0);
    char buf[256];
    assert_int_equal(receive(&l, buf, sizeof(buf)), strlen(msg));
    assert_string_equal(buf, msg);
    /* Each call is its own datagram. */
    assert_int_equal(rp_sd_notify("STOPPING=1"), 0);
    receive(&l, buf, sizeof(buf));
    assert_string_equal(buf, "STOPPING=1");
    close_listener(&l);
}

static void
test_abstract_socket(void **state)
{
    struct listener l;
    bind_listener(&l, 1);
    assert_int_equal(rp_sd_notify("READY=1"), 0);
    char buf[256];
    receive(&l, buf, sizeof(buf));
    assert_string_equal(buf, "READY=1");
    close_listener(&l);
}

static uint64_t
monotonic_usec(void)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
test_reloading_carries_monotonic_usec(void **state)
{
    struct listener l;
    bind_listener(&l, 0);
    uint64_t before = monotonic_usec();
    assert_int_equal(rp_sd_notify_monotonic_reloading(), 0);
    uint64_t after = monotonic_usec();
    char buf[256];
    receive(&l, buf, sizeof(buf));
    const char *prefix = "RELOADING=1\nMONOTONIC_USEC=";
    assert_memory_equal(buf, prefix, strlen(prefix));
    char *end;
    unsigned long long usec = strtoull(buf + strlen(prefix), &end, 10);
    assert_int_equal(*end, '\0');
    assert_true(usec >= before && usec <= after);
    close_listener(&l);
}

static void
test_errors(void **state)
{
    /* Nobody listening: the errno of sendto(). */
    char dir[] = "/tmp/rp-sd-notify-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/absent", dir);
    assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
    assert_int_equal(rp_sd_notify("READY=1"), -ENOENT);
    rmdir(dir);
    char name[64];
    snprintf(name, sizeof(name), "@rp-sd-notify-test-absent-%ld", (long)getpid());
    assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
    assert_int_equal(rp_sd_notify("READY=1"), -ECONNREFUSED);

    /* Names that are neither a path nor an abstract name, or do not fit. */
    assert_int_equal(setenv("NOTIFY_SOCKET", "relative/notify", 1), 0);
    assert_int_equal(rp_sd_notify("READY=1"), -EAFNOSUPPORT);
    assert_int_equal(setenv("NOTIFY_SOCKET", "@", 1), 0);
    assert_int_equal(rp_sd_notify("READY=1"), -EINVAL);
    char longname[256];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[0] = '/';
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(setenv("NOTIFY_SOCKET", longname, 1), 0);
    assert_int_equal(rp_sd_notify("READY=1"), -EINVAL);

    /* An empty state is a caller bug, but only reported when systemd listens. */
    assert_int_equal(setenv("NOTIFY_SOCKET", "/run/whatever", 1), 0);
    assert_int_equal(rp_sd_notify(""), -EINVAL);
    unsetenv("NOTIFY_SOCKET");
}

static void
test_watchdog_usec(void **state)
{
    uint64_t usec = 99;
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    assert_int_equal(rp_sd_watchdog_usec(&usec), 0);
    assert_int_equal(usec, 0);

    assert_int_equal(setenv("WATCHDOG_USEC", "30000000", 1), 0);
    assert_int_equal(rp_sd_watchdog_usec(&usec), 0);
    assert_int_equal(usec, 30000000);

    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
    assert_int_equal(rp_sd_watchdog_usec(&usec), 0);
    assert_int_equal(usec, 30000000);

    /* Meant for another process (we inherited it): off. */
    snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
    assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
    assert_int_equal(rp_sd_watchdog_usec(&usec), 0);
    assert_int_equal(usec, 0);

    unsetenv("WATCHDOG_PID");
    const char *bad[] = {"abc", "-5", "0", "12s", " 12", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(setenv("WATCHDOG_USEC", bad[i], 1), 0);
        usec = 99;
        assert_int_equal(rp_sd_watchdog_usec(&usec), -EINVAL);
        assert_int_equal(usec, 0);
    }
    assert_int_equal(setenv("WATCHDOG_USEC", "1000", 1), 0);
    assert_int_equal(setenv("WATCHDOG_PID", "x", 1), 0);
    assert_int_equal(rp_sd_watchdog_usec(&usec), -EINVAL);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unset_is_noop),
        cmocka_unit_test(test_path_socket),
        cmocka_unit_test(test_abstract_socket),
        cmocka_unit_test(test_reloading_carries_monotonic_usec),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_watchdog_usec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
