#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Publish latency under two hostile loads, for a before/after of a fix (loopback only):

    bench/hostile_latency.py BIN pattern [COPIES]   99,000 topics, then GET /events with
                                                    COPIES x `#` (default 1): the publish
                                                    right after it, then 50 more
    bench/hostile_latency.py BIN listing            99,000 topics, publish p50/max quiet and
                                                    with two clients polling GET /topics
"""
import os
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from support import Server  # noqa: E402


def timed(srv, path, body=b"x"):
    start = time.monotonic()
    srv.request("POST", path, body, timeout=120)
    return time.monotonic() - start


def main():
    binary, mode = sys.argv[1], sys.argv[2]
    srv = Server(binary)
    try:
        for b in range(99):
            srv.publish([{"topic": "t/%d" % (b * 1000 + i), "data": "x"} for i in range(1000)])
        if mode == "pattern":
            copies = int(sys.argv[3]) if len(sys.argv) > 3 else 1
            before = timed(srv, "/publish/t/1")
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(b"GET /events?" + b"&".join([b"topic=%23"] * copies) +
                      b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
            time.sleep(0.2)
            after = timed(srv, "/publish/t/1")
            each = statistics.mean(timed(srv, "/publish/t/2") for _ in range(50))
            print("publish before %.3f s, right after the pattern request %.3f s, then %.1f ms "
                  "each" % (before, after, each * 1000))
        else:
            def lat():
                out = []
                for _ in range(60):
                    out.append(timed(srv, "/publish/t/5") * 1000)
                    time.sleep(0.01)
                return statistics.median(out), max(out)
            print("quiet: p50 %.1f ms, max %.1f ms" % lat())
            stop = threading.Event()

            def poll():
                while not stop.is_set():
                    srv.request("GET", "/topics", timeout=60)
            threads = [threading.Thread(target=poll) for _ in range(2)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            print("two clients polling GET /topics: p50 %.1f ms, max %.1f ms" % lat())
            stop.set()
            for t in threads:
                t.join()
    finally:
        srv.proc.kill()
        srv.proc.wait()
        os.unlink(srv.conf.name)


if __name__ == "__main__":
    main()
