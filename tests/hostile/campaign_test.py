#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What a demanding reviewer tries next: several attacks at once, and bad input on every
endpoint. Each case measures what a well-behaved client sees meanwhile (/healthz and a
subscriber that reads) and the server's memory. Loopback only; every loop is bounded in
count and time."""
import os
import socket
import threading
import time
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from support import Server, Stream, check, run  # noqa: E402


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def sanitized(binary):
    with open(binary, "rb") as f:
        return b"AddressSanitizer" in f.read()


def probe_bound_ms(binary):
    """How long /healthz may take during an attack: 2 s; 5 s under ASan, whose shadow memory
    and quarantine make every request several times slower (seen: 0.6-1.6 s on a quiet
    machine, up to 4.6 s with other work on its two cores)."""
    return 5000 if sanitized(binary) else 2000


def raw(port, data, timeout=10):
    """Sends <data> on a fresh connection, asking for the connection to close after the
    answer; returns the answer (b"" if closed unanswered), or only its head when it is an
    event stream."""
    line, sep, rest = data.partition(b"\r\n")
    data = line + sep + b"Connection: close\r\n" + rest if sep else data
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
    except OSError:
        pass  # the server may refuse before it has read everything
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            head = out.partition(b"\r\n\r\n")[0]
            if b"\r\n\r\n" in out and b"text/event-stream" in head:
                break
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    return out


class Watch:
    """A well-behaved client during an attack: a subscriber of "calm" that gets an event
    every 20 ms, and /healthz every 100 ms; records the worst probe and what was read."""

    def __init__(self, srv, bound_ms):
        self.srv = srv
        self.bound_ms = bound_ms
        self.stop = threading.Event()
        self.worst_ms = 0.0
        self.sent = 0
        self.stream = Stream(srv.port, "/events/calm")
        self.threads = [threading.Thread(target=self._publish), threading.Thread(target=self._probe)]
        for t in self.threads:
            t.start()

    def _publish(self):
        while not self.stop.is_set():
            status, _ = self.srv.request("POST", "/publish/calm", b"c%d" % self.sent, timeout=30)
            if status == 200:
                self.sent += 1
            time.sleep(0.02)

    def _probe(self):
        while not self.stop.is_set():
            start = time.monotonic()
            status, _ = self.srv.request("GET", "/healthz", timeout=30)
            took = (time.monotonic() - start) * 1000
            if status != 200:
                took = float("inf")
            self.worst_ms = max(self.worst_ms, took)
            time.sleep(0.1)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)
        got = []
        try:
            while len(got) < self.sent:
                ev = self.stream.next_event(timeout=5)  # heartbeats come every 15 s
                got.append(ev["data"] if "event" not in ev else "%s: %s" % (ev["event"],
                                                                          ev["data"]))
        except (OSError, EOFError):
            pass
        self.stream.close()
        if len(got) != self.sent or got != ["c%d" % i for i in range(self.sent)]:
            missing = sorted(set("c%d" % i for i in range(self.sent)) - set(got))
            print("calm subscriber: %d of %d; missing %r; others %r" %
                  (len(got), self.sent, missing[:20], [g for g in got if not
                                                      g.startswith("c")][:5]))
        check(self.sent > 20, "the calm publisher kept publishing (%d)" % self.sent)
        check(got == ["c%d" % i for i in range(self.sent)],
              "the calm subscriber got every event once, in order")
        check(self.worst_ms < self.bound_ms, "/healthz answered within %d ms throughout "
              "(worst %.0f ms)" % (self.bound_ms, self.worst_ms))
        return self.worst_ms


def test_many_attacks_at_once(binary):
    # 300 streams that never read (small receive buffers), a flood of 30,000 distinct
    # topics, 300 pattern streams opened and dropped, and a reconnect flood, together.
    # The flood's topics age out in 2 s so they can be freed; the calm topic keeps a minute,
    # so a worker busy for seconds with the attack delays the calm subscriber but cannot
    # make it miss anything.
    with Server(binary, "--max-topics", "5000", "--history-age", "2s",
                config='[topic "calm"]\nhistory_age = 60s\n') as srv:
        base = rss_kib(srv.proc.pid)
        watch = Watch(srv, probe_bound_ms(binary))
        stalled = [Stream(srv.port, "/events?topic=s/%d&topic=flood/%%23" % i, rcvbuf=4096)
                   for i in range(300)]

        def flood_topics():
            for b in range(60):
                srv.publish([{"topic": "flood/%d/%d" % (b, i), "data": "x" * 200}
                             for i in range(500)])

        def churn_patterns():
            for i in range(300):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                s.sendall(b"GET /events?topic=flood/%%2B/%d&topic=%%23 HTTP/1.1\r\n"
                          b"Host: localhost\r\n\r\n" % i)
                s.recv(100)
                s.close()

        def reconnect_flood():
            for i in range(600):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                s.sendall(b"GET /events/s/%d HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: 0-%d\r\n\r\n"
                          % (i % 50, i))
                s.close()

        attackers = [threading.Thread(target=f)
                     for f in (flood_topics, churn_patterns, reconnect_flood)]
        for t in attackers:
            t.start()
        peak = 0
        while any(t.is_alive() for t in attackers):
            peak = max(peak, rss_kib(srv.proc.pid))
            time.sleep(0.2)
        for t in attackers:
            t.join()
        worst = watch.finish()
        print("healthz worst %.0f ms; RSS %d KiB at start, peak %d KiB" % (worst, base, peak))
        # Sanitizer builds keep freed memory in quarantine and shadow every byte.
        bound = 1024 * 1024 if sanitized(binary) else 256 * 1024
        check(peak - base < bound, "memory stays bounded (grew %d KiB)" % (peak - base))
        for s in stalled:
            s.close()


def check_bad_input(port, route, k, request):
    answer = raw(port, request, timeout=10)
    if not answer:
        return  # closed for its size before it was read: allowed
    status = int(answer.split(b" ")[1])
    check(status < 500, "%s, bad input %d: %d, not a server error: %r" %
          (route, k, status, answer[:200]))
    # Oversize body or header, broken chunk framing, an unknown method: refused everywhere.
    # (A bad query, path or id may be tolerated by some routes.)
    if k in (0, 1, 6, 7):
        check(status >= 400, "%s, bad input %d answered %d" % (route, k, status))


def test_bad_input_on_every_endpoint(binary):
    # Oversize and malformed requests to every route: each gets a clear 4xx (or is closed
    # for its size), none a 5xx, and none disturbs a subscriber or /healthz.
    with Server(binary, "--max-body", "64k", "--max-header-bytes", "4k") as srv:
        watch = Watch(srv, probe_bound_ms(binary))
        routes = ["/events/t", "/events?topic=t", "/publish/t", "/publish", "/topics",
                  "/topics/t", "/topics/t/events", "/metrics", "/healthz", "/readyz",
                  "/dashboard", "/", "/ping", "/submit"]
        bad = [
            lambda p: b"POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 70000\r\n\r\n%s" % (
                p, b"x" * 70000),
            lambda p: b"GET %s HTTP/1.1\r\nHost: localhost\r\nX-Big: %s\r\n\r\n" % (p, b"h" * 5000),
            lambda p: b"GET %s?%s HTTP/1.1\r\nHost: localhost\r\n\r\n" % (p, b"q=" + b"%" * 3000),
            lambda p: b"POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 9\r\n\r\n[{\"topic\"" % p,
            lambda p: b"GET %s%%ff%%00/../x HTTP/1.1\r\nHost: localhost\r\n\r\n" % p,
            lambda p: b"GET %s HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: \xff\xfe\x00\r\n\r\n" % p,
            lambda p: b"POST %s HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"zz\r\nabc\r\n0\r\n\r\n" % p,
            lambda p: b"BREW %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % p,
        ]
        start = time.monotonic()
        rounds = 0
        while rounds == 0 or time.monotonic() - start < 3:  # 3 s at least, for the watch
            rounds += 1
            for route in routes:
                for k, make in enumerate(bad):
                    check_bad_input(srv.port, route, k, make(route.encode()))
        watch.finish()


if __name__ == "__main__":
    sys.exit(run([test_many_attacks_at_once, test_bad_input_on_every_endpoint], sys.argv[1]))
