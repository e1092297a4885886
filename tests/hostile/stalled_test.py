#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Stalled subscribers against healthy ones: many streams that never read, on the worker
of a reader that reads as fast as it can. Loopback only, bounded in time."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from support import Server, Stream, check, run  # noqa: E402

STALLED = 1000
EVENTS = 6000
RATE = 2000  # events per second
SIZE = 4096


def send_queue_bytes(port):
    """Bytes the kernel queues to send on the server's side of connections to <port>."""
    total = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(name).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if int(f[1].split(":")[1], 16) == port:
                total += int(f[4].split(":")[0], 16)
    return total


def test_stalled_streams_cost_a_fast_reader_nothing(binary):
    with Server(binary, "--workers", "1") as srv:
        stalled = []
        for _ in range(STALLED):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(b"GET /events/s HTTP/1.1\r\nHost: localhost\r\n\r\n")
            stalled.append(s)
        fast = socket.create_connection(("127.0.0.1", srv.port))
        fast.sendall(b"GET /events/s HTTP/1.1\r\nHost: localhost\r\n\r\n")
        got = bytearray()
        done = threading.Event()

        def reader():
            fast.settimeout(30)
            while not done.is_set():
                try:
                    chunk = fast.recv(1 << 20)
                except OSError:
                    break
                if not chunk:
                    break
                got.extend(chunk)
                if b"data: e%d " % (EVENTS - 1) in got[-2 * SIZE:]:
                    break
        t = threading.Thread(target=reader)
        t.start()
        time.sleep(0.5)
        pad = b"p" * SIZE
        peak = 0
        start = time.monotonic()
        for i in range(0, EVENTS, 20):
            batch = [{"topic": "s", "data": "e%d %s" % (k, pad.decode())} for k in range(i, i + 20)]
            status, _ = srv.publish(batch)
            check(status == 200, "published")
            ahead = start + (i + 20) / RATE - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            if i % 200 == 0:
                peak = max(peak, send_queue_bytes(srv.port))
        t.join(30)
        done.set()
        print("peak kernel send queue of the server: %.1f MiB" % (peak / 1048576))
        seen = [int(line[7:].split(b" ")[0]) for line in got.split(b"\n")
                if line.startswith(b"data: e")]
        if seen != list(range(EVENTS)):
            srv.log.flush()
            fd = srv.log.fileno()
            log = os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")
            mine = ":%d " % fast.getsockname()[1]
            print("\n".join(line for line in log.splitlines() if mine in line))
        check(seen == list(range(EVENTS)),
              "the fast reader got every event in order (%d of %d; %r)" %
              (len(seen), EVENTS, got[-300:]))
        check(peak < STALLED * 512 * 1024,
              "stalled streams pin a bounded kernel send queue each (%.1f MiB in all)" %
              (peak / 1048576))
        for s in stalled:
            s.close()
        fast.close()


def test_a_burst_is_not_a_fast_readers_lag(binary):
    # A batch of 200 events published at once is more than the lag limit: a reader that
    # reads as fast as it can is behind only while the worker writes it, which is not its
    # fault, so it gets all 200 instead of "over its lag limit".
    with Server(binary, "--lag-events", "20") as srv:
        fast = Stream(srv.port, "/events/b")
        status, _ = srv.publish([{"topic": "b", "data": "b%d" % i} for i in range(200)])
        check(status == 200, "published")
        got = [e["data"] for e in fast.events(200, timeout=10)]
        check(got == ["b%d" % i for i in range(200)], "every event of the burst, in order")
        fast.close()


if __name__ == "__main__":
    sys.exit(run([test_stalled_streams_cost_a_fast_reader_nothing,
                  test_a_burst_is_not_a_fast_readers_lag], sys.argv[1]))
