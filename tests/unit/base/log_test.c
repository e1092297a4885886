/* SPDX-License-Identifier: MIT */
/*
 * Log lines carry text that clients chose (paths, headers): escaped, it can neither forge a
 * line nor break a JSON log line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"

static void
test_escape(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(rp_log_escape("/events/news", out, sizeof(out)), "/events/news");
    assert_string_equal(rp_log_escape("/a\r\nlevel=error x", out, sizeof(out)),
                        "/a\\x0d\\x0alevel=error x");
    assert_string_equal(rp_log_escape("q\"u\\o\x1b[31m\xff", out, sizeof(out)),
                        "q\\x22u\\x5co\\x1b[31m\\xff");
    assert_string_equal(rp_log_escape(NULL, out, sizeof(out)), "-");
    /* Cut whole: never half an escape. */
    assert_string_equal(rp_log_escape("ab\xff", out, 5), "ab");
    assert_string_equal(rp_log_escape("abcdef", out, 5), "abcd");
}

/* Everything written to stderr while <fn> runs. */
static char *
captured(void (*fn)(void))
{
    char path[] = "/tmp/rp-log-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    static char buf[8192];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void
log_hostile_path(void)
{
    char safe[200];
    RP_LOG(RP_LOG_INFO, "access", "event=refused path=\"%s\" status=400",
           rp_log_escape("/x\r\n{\"forged\":1}\xff\xfe", safe, sizeof(safe)));
}

static void
test_lines_stay_lines(void **state)
{
    (void)state;
    atomic_store(&rp_log_json, false);
    char *kv = captured(log_hostile_path);
    assert_non_null(strstr(kv, "path=\"/x\\x0d\\x0a{\\x22forged\\x22:1}\\xff\\xfe\" status=400"));
    assert_int_equal(strchr(kv, '\n'), kv + strlen(kv) - 1); /* one line */

    atomic_store(&rp_log_json, true);
    char *json = captured(log_hostile_path);
    atomic_store(&rp_log_json, false);
    assert_non_null(
        strstr(json, "\"path\":\"/x\\\\x0d\\\\x0a{\\\\x22forged\\\\x22:1}\\\\xff\\\\xfe\""));
    for (const char *p = json; *p; p++) {
        unsigned char c = (unsigned char)*p;
        assert_true((c >= 0x20 && c < 0x7f) || (c == '\n' && p[1] == '\0'));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_lines_stay_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
