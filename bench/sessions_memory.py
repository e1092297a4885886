#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Server memory per idle session (loopback only):

    bench/sessions_memory.py BIN [N]     (N defaults to 100,000)

Two server processes, one after the other, each taking the same churn: N event streams opened
(200 at a time), read up to their first event, and closed. On the first, every stream asks
?session=new, so N sessions stay behind, disconnected and empty (session_ttl 1h); on the
second (the baseline), the streams are plain ones, so nothing stays behind but what the
churn itself leaves in the allocator. Once each server has reclaimed the streams' topics,
its RSS is read from /proc; the figure per session is (RSS with sessions - RSS of the
baseline) / N. Prints both, and the table's own count from /metrics.
"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from support import Server  # noqa: E402

BATCH = 200


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def churn(port, path, n, marker):
    """Opens <n> streams on <path>, BATCH at a time, each read until <marker>."""
    done = 0
    req = ("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path).encode()
    while done < n:
        socks = []
        for _ in range(min(BATCH, n - done)):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(req)
            socks.append(s)
        for s in socks:
            buf = b""
            s.settimeout(10)
            while marker not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("stream closed: %r" % buf[:200])
                buf += chunk
            s.close()
        done += len(socks)


def settle(srv, want_sessions):
    """Waits until the streams are gone, their topics reclaimed (and the sessions all
    disconnected); returns the metrics."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        m = srv.request("GET", "/metrics?format=json")[1]
        if (m["streams_active"] == 0 and m["topics"] == 0 and
                m["sessions"]["disconnected"] == want_sessions):
            time.sleep(2)  # one more housekeeping pass for anything retired late
            return m
        time.sleep(0.5)
    raise RuntimeError("did not settle: %s" % json.dumps(m)[:400])


def measure(binary, n, sessions):
    srv = Server(binary, "--session-ttl", "1h", "--workers", "2")
    try:
        before = rss_kib(srv.proc.pid)
        start = time.monotonic()
        if sessions:
            churn(srv.port, "/events?session=new", n, b"event: connected")
        else:
            churn(srv.port, "/events/t", n, b":ok\n")
        took = time.monotonic() - start
        m = settle(srv, n if sessions else 0)
        after = rss_kib(srv.proc.pid)
        return before, after, took, m
    finally:
        srv.stop()


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    s_before, s_after, s_took, m = measure(binary, n, True)
    b_before, b_after, b_took, _ = measure(binary, n, False)
    print("sessions: %d created in %.1f s, %d disconnected in the table" % (
        n, s_took, m["sessions"]["disconnected"]))
    print("RSS with %d idle sessions:        %8d KiB (start %d KiB)" % (n, s_after, s_before))
    print("RSS after the same plain churn:   %8d KiB (start %d KiB)" % (b_after, b_before))
    per = (s_after - b_after) * 1024.0 / n
    print("memory per disconnected empty session: %.0f bytes" % per)


if __name__ == "__main__":
    main()
