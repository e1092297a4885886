#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Connection caps hold against clients that never finish a request: max_connections and
max_connections_per_ip count a connection from accept to close, whatever it does, so idle
and trickling connections from one address cannot take the server's descriptors, and
others keep being served. Also across an upgrade (adopted connections count). Bounded in
time and in connections; loopback only (127.0.0.2 and up are other client addresses)."""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from support import Server, Stream, check, log_text, run, stop_new  # noqa: E402

PER_IP = 50
TOTAL = 100


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def attack(port, source, n, trickle_every=2):
    """<n> connections from <source>: some send nothing, some start a request and stop."""
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((source, 0))
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
    time.sleep(0.2)
    for i, s in enumerate(socks):
        if i % trickle_every == 0:
            try:
                s.send(b"GET /events/x HTTP/1.1\r\nHo")
            except OSError:
                pass
    return socks


def closed_by_server(socks, seconds=3):
    """How many of <socks> the server closed (EOF or reset), and what they were told."""
    deadline = time.monotonic() + seconds
    closed, told = set(), {}
    while time.monotonic() < deadline and len(closed) < len(socks):
        for i, s in enumerate(socks):
            if i in closed:
                continue
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                closed.add(i)
                continue
            if data:
                told[i] = told.get(i, b"") + data
            else:
                closed.add(i)
        time.sleep(0.05)
    return len(closed), list(told.values())


def wait_settled(pid, base, limit, seconds=5):
    """The server's descriptors above <base> once refused connections are gone."""
    deadline = time.monotonic() + seconds
    extra = open_fds(pid) - base
    while extra > limit and time.monotonic() < deadline:
        time.sleep(0.1)
        extra = open_fds(pid) - base
    return extra


def healthz_ms(srv):
    start = time.monotonic()
    status, _ = srv.request("GET", "/healthz", timeout=10)
    check(status == 200, "healthz answers during the attack (got %d)" % status)
    return (time.monotonic() - start) * 1000


def test_caps_count_from_accept(binary):
    # Memory only (--data-dir ""): the descriptors counted are connections, and the disk log
    # opens its segment file at the first publish, after the count's base.
    with Server(binary, "--max-connections-per-ip", str(PER_IP), "--max-connections",
                str(TOTAL), "--data-dir", "") as srv:
        base = open_fds(srv.proc.pid)
        socks = attack(srv.port, "127.0.0.2", 6 * PER_IP)
        n_closed, told = closed_by_server(socks)
        check(n_closed >= 5 * PER_IP, "connections past the per-address cap are closed at "
              "once (%d of %d closed)" % (n_closed, len(socks)))
        check(all(t.startswith(b"HTTP/1.1 429") and b"max_connections_per_ip" in t
                  for t in told), "what they are told names the cap: %r" % told[:1])
        extra = wait_settled(srv.proc.pid, base, PER_IP)
        check(extra <= PER_IP, "the server holds at most %d of them (%d descriptors more "
              "than before)" % (PER_IP, extra))
        worst = max(healthz_ms(srv) for _ in range(5))
        check(worst < 1000, "healthz from another address is prompt (worst %.0f ms)" % worst)
        sub = Stream(srv.port, "/events/calm")
        check(sub.head.startswith("HTTP/1.1 200"), "a subscriber from another address gets in")
        status, _ = srv.request("POST", "/publish/calm", b"still here")
        check(status == 200, "publishing works during the attack")
        check(sub.next_event(timeout=5)["data"] == "still here", "and the subscriber gets it")
        m = srv.metrics()
        check(m["connections_active"] <= PER_IP + 2, "connections_active stays within the "
              "cap: %d" % m["connections_active"])
        check(m["ratelimit_rejections"]["connections_per_ip"] >= 5 * PER_IP,
              "refusals are counted: %r" % m["ratelimit_rejections"])
        # Idle connections from more addresses fill the total; once they go, the slots are
        # free again.
        more = []
        for k in range(3, 6):
            more += attack(srv.port, "127.0.0.%d" % k, PER_IP, trickle_every=1000)
        closed_by_server(more, seconds=1)
        extra = wait_settled(srv.proc.pid, base, TOTAL)
        check(extra <= TOTAL, "at most max_connections in all (%d more descriptors)" % extra)
        for s in socks + more:
            s.close()
        sub.close()
        time.sleep(0.5)
        check(healthz_ms(srv) < 1000, "closed connections give their slots back")
        check(srv.metrics()["connections_active"] <= 2, "all released")


def test_adopted_connections_count(binary):
    # An upgrade hands the idle connections over; the successor counts them, so the address
    # cannot open its cap a second time.
    srv = Server(binary, "--max-connections-per-ip", str(PER_IP), "--max-connections",
                 str(TOTAL))
    pid = srv.proc.pid
    try:
        socks = attack(srv.port, "127.0.0.2", PER_IP, trickle_every=1000)
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 60  # an ASan successor on a busy machine
        while pid == srv.proc.pid and time.monotonic() < deadline:
            try:
                status, body = srv.request("GET", "/healthz", timeout=5)
                if status == 200 and body["pid"] != srv.proc.pid:
                    pid = body["pid"]
            except (OSError, ValueError, KeyError, TypeError):
                pass
            time.sleep(0.1)
        if pid == srv.proc.pid:
            print(log_text(srv)[-3000:])
        check(pid != srv.proc.pid, "the upgrade happened")
        base = open_fds(pid)
        late = attack(srv.port, "127.0.0.2", PER_IP, trickle_every=1000)
        n_closed, _ = closed_by_server(late)
        check(n_closed == PER_IP, "the successor counts the adopted connections: %d of %d new "
              "ones refused" % (n_closed, PER_IP))
        check(wait_settled(pid, base, 0) <= 0, "and holds none of the new ones")
        for s in socks + late:
            s.close()
    finally:
        stop_new(srv, pid if pid != srv.proc.pid else None)


def test_trusted_proxy_counts_its_clients(binary):
    # A proxy's connections are not held to the per-address cap at accept; the clients its
    # X-Forwarded-For names are, from their first request on.
    with Server(binary, "--trusted-proxies", "127.0.0.1", "--max-connections-per-ip", "2",
                "--max-connections", str(TOTAL)) as srv:
        def via_proxy(client):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: %s\r\n\r\n" %
                      client.encode())
            return s, s.recv(4096)
        held = [via_proxy("203.0.113.%d" % i) for i in range(6)]
        check(all(a.startswith(b"HTTP/1.1 200") for _, a in held),
              "six clients through one proxy: %r" % [a[:12] for _, a in held])
        same = [via_proxy("198.51.100.1") for _ in range(3)]
        check([a[:12] for _, a in same] == [b"HTTP/1.1 200"] * 2 + [b"HTTP/1.1 429"],
              "a third connection of one client: 429: %r" % [a[:12] for _, a in same])
        for s, _ in held + same:
            s.close()


if __name__ == "__main__":
    sys.exit(run([test_caps_count_from_accept,
                  test_adopted_connections_count,
                  test_trusted_proxy_counts_its_clients], sys.argv[1]))
