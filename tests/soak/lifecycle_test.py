#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Long runs that show the node does not grow: reloads free the configurations they replace,
and topics with no reader and no history are freed. Run against the normal build only:
a sanitizer's allocator keeps freed memory on purpose, so RSS means nothing there."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from support import Server, check, run  # noqa: E402


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def log_count(srv, text):
    # pread: the log's file position belongs to the thread that writes it.
    srv.log.flush()
    fd = srv.log.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0).count(text)


def reload_and_wait(srv, done):
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while log_count(srv, b"configuration reloaded") < done:
        check(time.monotonic() < deadline, "reload %d finished" % done)
        time.sleep(0.001)


def test_reloads_do_not_grow(binary):
    # A config with [topic] sections, so each snapshot is more than a few bytes.
    conf = "heartbeat = 15s\n" + "".join(
        '[topic "room/%d/#"]\nhistory_count = %d\n' % (i, 100 + i) for i in range(200))
    with Server(binary, config=conf) as srv:
        done = 0
        for _ in range(30):  # warm the allocator up
            done += 1
            reload_and_wait(srv, done)
        before = rss_kib(srv.proc.pid)
        for _ in range(500):
            done += 1
            reload_and_wait(srv, done)
        after = rss_kib(srv.proc.pid)
        print("  RSS after 30 reloads %d KiB, after 530 %d KiB" % (before, after))
        check(after - before <= 1024, "500 reloads grow RSS by at most 1 MiB: %d -> %d KiB" %
              (before, after))
        status, _ = srv.request("POST", "/publish/room/1/x", b"still serving")
        check(status == 200, "still serving")


if __name__ == "__main__":
    sys.exit(run([test_reloads_do_not_grow], sys.argv[1]))
