#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Abuse control against the real binary: per-address token buckets for connects and
publishes (429 + Retry-After), connection caps per address and overall, X-Forwarded-For
honoured only from a trusted proxy, the reconnect-storm guard, and the slow-loris guard."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from support import Server, Stream, check, run  # noqa: E402


def raw(port, request, source="127.0.0.1", timeout=5):
    """Sends <request> bytes from <source> and returns (status, headers text, body)."""
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    s.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head = data.split(b"\r\n\r\n")[0].decode()
    return int(head.split(" ")[1]), head, data


def get(port, path, source="127.0.0.1", headers=""):
    return raw(port, ("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s\r\n" %
                      (path, headers)).encode(), source)


def test_connect_rate_per_address(binary):
    with Server(binary, "--connect-rate", "1", "--connect-burst", "3") as srv:
        got = [get(srv.port, "/healthz")[0] for _ in range(5)]
        check(got == [200, 200, 200, 429, 429], "burst of 3, then 429: %r" % got)
        status, head, body = get(srv.port, "/healthz")
        check("Retry-After: 1" in head and b"connect_rate" in body, "says when and why: " + head)
        # Another address has its own bucket.
        check(get(srv.port, "/healthz", source="127.0.0.2")[0] == 200, "127.0.0.2 is not limited")
        time.sleep(1.1)
        check(get(srv.port, "/healthz")[0] == 200, "a token refills after a second")
        time.sleep(1.1)  # /metrics is a connection too
        m = srv.metrics()
        check(m["ratelimit_rejections"]["connect_rate"] == 3, "counted: %r" %
              m["ratelimit_rejections"])


def test_publish_rate_and_keepalive(binary):
    with Server(binary, "--publish-rate", "2", "--publish-burst", "2") as srv:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        req = b"POST /publish/t HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\nx"
        statuses = []
        for _ in range(4):
            s.sendall(req)
            data = b""
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                data += s.recv(65536)
            statuses.append(int(data.split(b" ")[1]))
        s.close()
        check(statuses == [200, 200, 429, 429], "publishes limited on one keep-alive "
              "connection: %r" % statuses)
        check(get(srv.port, "/topics/t")[0] == 200, "reads are not publishes")


def test_connection_caps(binary):
    with Server(binary, "--max-connections-per-ip", "2", "--max-connections", "3") as srv:
        a = [Stream(srv.port, "/events/t") for _ in range(2)]
        status, head, body = get(srv.port, "/events/t")
        check(status == 429 and b"max_connections_per_ip" in body, "third from one address: 429")
        sock = socket.socket()
        sock.bind(("127.0.0.2", 0))
        sock.connect(("127.0.0.1", srv.port))
        sock.sendall(b"GET /events/t HTTP/1.1\r\nHost: localhost\r\n\r\n")
        check(sock.recv(100).startswith(b"HTTP/1.1 200"), "another address still gets in")
        status, _, body = get(srv.port, "/healthz", source="127.0.0.3")
        check(status == 503 and b"max_connections" in body, "past the total cap: 503")
        a[0].close()
        time.sleep(0.2)
        check(get(srv.port, "/healthz")[0] == 200, "a closed connection frees its slot")
        for s in a[1:]:
            s.close()
        sock.close()


def test_forwarded_for_only_from_trusted_proxy(binary):
    # 127.0.0.1 is the proxy; 127.0.0.2 is not and may not choose its address.
    with Server(binary, "--trusted-proxies", "127.0.0.1", "--connect-rate", "1",
                "--connect-burst", "1") as srv:
        xff = "X-Forwarded-For: 198.51.100.7, 203.0.113.5\r\n"
        check(get(srv.port, "/healthz", headers=xff)[0] == 200, "first from 203.0.113.5")
        check(get(srv.port, "/healthz", headers=xff)[0] == 429, "second from 203.0.113.5")
        other = "X-Forwarded-For: 203.0.113.6\r\n"
        check(get(srv.port, "/healthz", headers=other)[0] == 200, "203.0.113.6: its own bucket")
        spoof = "X-Forwarded-For: 192.0.2.%d\r\n"
        got = [get(srv.port, "/healthz", source="127.0.0.2", headers=spoof % i)[0]
               for i in range(3)]
        check(got == [200, 429, 429], "an untrusted peer's X-Forwarded-For is ignored: %r" % got)


def test_reconnect_storm_guard(binary):
    with Server(binary, "--storm-accept-rate", "5", "--storm-retry-max", "20s", "--retry", "2s") as srv:
        results = []
        streams = []
        for _ in range(12):
            s = Stream(srv.port, "/events/t")
            streams.append(s)
            results.append(int(s.head.split(" ")[1]))
        check(results[:5] == [200] * 5 and results.count(503) >= 6,
              "past 5 new streams at once, 503: %r" % results)
        status, head, _ = get(srv.port, "/events/t")
        retry_after = int(head.split("Retry-After: ")[1].split("\r\n")[0])
        check(status == 503 and 1 <= retry_after <= 20, "jittered Retry-After: " + head)
        time.sleep(1.1)
        # Admitted during the storm: a jittered retry between retry and storm_retry_max.
        s = Stream(srv.port, "/events/t")
        retry = None
        s.sock.settimeout(5)
        while retry is None:
            for line in s._read_until(b"\n\n").decode().split("\n"):
                if line.startswith("retry: "):
                    retry = int(line[7:])
        check(2000 <= retry <= 20000, "jittered retry: %d" % retry)
        check(srv.metrics()["ratelimit_rejections"]["reconnect_storm"] >= 7, "counted")
        for x in streams + [s]:
            x.close()


def test_slow_loris(binary):
    with Server(binary, "--min-request-rate", "100", "--handshake-timeout", "20s") as srv:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        start = time.monotonic()
        answer = b""
        for ch in b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n":
            try:
                s.sendall(bytes([ch]))
            except OSError:
                break
            time.sleep(0.3)
            s.setblocking(False)
            try:
                answer += s.recv(4096)
            except BlockingIOError:
                pass
            s.setblocking(True)
            if answer:
                break
        took = time.monotonic() - start
        check(answer.startswith(b"HTTP/1.1 408") and b"min_request_rate" in answer,
              "a byte every 300 ms is too slow: %r" % answer[:80])
        check(took < 3, "closed early, not at handshake_timeout (%.1fs)" % took)
        check(get(srv.port, "/healthz")[0] == 200, "a normal request is fine")


if __name__ == "__main__":
    sys.exit(run([test_connect_rate_per_address, test_publish_rate_and_keepalive,
                  test_connection_caps, test_forwarded_for_only_from_trusted_proxy,
                  test_reconnect_storm_guard, test_slow_loris], sys.argv[1]))
