#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Zero-downtime upgrade (SIGUSR2): while events flow, a new process takes over the
listening sockets and the live streams; every subscriber stays connected on the same TCP
connection and gets every event exactly once, in order."""
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from support import (Server, Stream, check, failed_upgrade_step, health, log_text,  # noqa: E402
                     run, stop_new, upgrade_step, wait_pid_change)






def test_upgrade_keeps_streams(binary):
    srv = Server(binary, "--history-count", "10000")
    new_pid = None
    try:
        old_pid = health(srv)["pid"]
        check(old_pid == srv.proc.pid, "healthz names the server's pid")
        single = [Stream(srv.port, "/events/t/%d" % (i % 3)) for i in range(12)]
        multi = [Stream(srv.port, "/events?topic=t/0&topic=t/%2B") for _ in range(3)]
        total = 600
        published = []
        stop = threading.Event()

        def publisher():
            for i in range(total):
                if stop.is_set():
                    return
                topic = "t/%d" % (i % 3)
                for attempt in range(200):  # connections queue during the hand-over
                    try:
                        status, body = srv.request("POST", "/publish/" + topic,
                                                   b"%d" % i, timeout=5)
                        if status == 200:
                            published.append((topic, i, body["id"]))
                            break
                    except (OSError, ValueError):
                        pass
                    time.sleep(0.01)
                time.sleep(0.003)

        t = threading.Thread(target=publisher)
        t.start()
        time.sleep(0.5)
        # `revenprox upgrade` finds the pid at /healthz, sends SIGUSR2 and waits.
        out = subprocess.run([binary, "upgrade", "--url", "http://127.0.0.1:%d" % srv.port],
                             capture_output=True, text=True, timeout=40)
        check(out.returncode == 0 and out.stdout.startswith("upgraded: pid %d -> " % old_pid),
              "revenprox upgrade: %r %r" % (out.stdout, out.stderr))
        new_pid = wait_pid_change(srv, old_pid)
        check(out.stdout.strip().endswith("-> %d" % new_pid), "it names the new pid")
        check(srv.proc.wait(timeout=15) == 0, "the old process exits cleanly")
        t.join(60)
        check(len(published) == total, "every publish was acknowledged: %d" % len(published))
        for i, s in enumerate(single):
            want = [(str(n), eid) for topic, n, eid in published if topic == "t/%d" % (i % 3)]
            got = [(e["data"], e["id"]) for e in s.events(len(want), timeout=10)]
            check(got == want, "stream %d: every event once, in order (%d of %d; first "
                  "difference at %s)" % (i, len(got), len(want),
                                         next((k for k, (a, b) in enumerate(zip(got, want))
                                               if a != b), None)))
        for s in multi:
            want = [(str(n), eid) for _, n, eid in published]
            got = [(e["data"], e["id"]) for e in s.events(len(want), timeout=10)]
            check(got == want, "multi-topic stream: every event once, in order")
        m = srv.metrics()
        check(m["streams_active"] == 15, "all 15 streams live in the new process: %d" %
              m["streams_active"])
        for s in single + multi:
            s.close()
    finally:
        stop_new(srv, new_pid)






def test_failed_start_keeps_old_process(binary):
    # The config file becomes invalid: the new process cannot start, the old keeps serving.
    with Server(binary, config="heartbeat = 15s\n") as srv:
        old_pid = health(srv)["pid"]
        s = Stream(srv.port, "/events/x")
        with open(srv.conf.name, "w") as f:
            f.write("heartbeat = sometimes\n")
        srv.proc.send_signal(signal.SIGUSR2)
        time.sleep(1.5)
        check(srv.proc.poll() is None and health(srv)["pid"] == old_pid,
              "the old process still serves")
        srv.request("POST", "/publish/x", b"still here")
        check(s.next_event()["data"] == "still here", "its streams still flow")
        s.close()


def test_failed_hand_over_keeps_serving(binary):
    # The successor says ready, the old process quiesces and hands everything over, then the
    # successor refuses to start (its JWT key file is missing). The old process takes its
    # listeners and connections back: every stream flows on, on the same connection, with
    # every event once and no retry hint; a later upgrade to a good successor works.
    srv = Server(binary, "--retry", "1s")
    pid = srv.proc.pid
    try:
        streams = [Stream(srv.port, "/events/f/%d" % i) for i in range(6)]
        for i in range(6):
            srv.request("POST", "/publish/f/%d" % i, b"before")
        for s in streams:
            check(s.next_event()["data"] == "before", "streams flow")
        with open(srv.conf.name, "w") as f:
            f.write("auth_mode = jwt\nauth_jwt_key_file = /nonexistent/revenprox.pem\n")
        srv.proc.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 15
        while "still serving" not in log_text(srv) and time.monotonic() < deadline:
            time.sleep(0.05)
        check(srv.proc.poll() is None and health(srv)["pid"] == pid,
              "the old process still serves")
        ids = [srv.request("POST", "/publish/f/%d" % i, b"after")[1]["id"] for i in range(6)]
        for i, s in enumerate(streams):
            ev = s.next_event()
            check(ev["data"] == "after" and ev["id"] == ids[i] and "retry" not in ev,
                  "stream %d flows on, on the same connection: %r" % (i, ev))
        with open(srv.conf.name, "w") as f:
            f.write("")
        out = subprocess.run([binary, "upgrade", "--url", "http://127.0.0.1:%d" % srv.port],
                             capture_output=True, text=True, timeout=40)
        check(out.returncode == 0, "a later upgrade works: %r" % out.stderr)
        pid = wait_pid_change(srv, pid)
        check(srv.proc.wait(timeout=10) == 0, "then the old process exits")
        for i, s in enumerate(streams):
            srv.request("POST", "/publish/f/%d" % i, b"new")
            check(s.next_event()["data"] == "new", "stream %d in the new process" % i)
            s.close()
    finally:
        stop_new(srv, pid if pid != srv.proc.pid else None)


def publishers_through(binary, steps):
    """Four publishers post back to back on one keep-alive connection each, as a plain
    http.client user would, while each of <steps> (srv, pid) -> pid runs in turn. Every
    request gets a 2xx, no connection is reset, and every acknowledged event reaches every
    subscriber exactly once, in order."""
    srv = Server(binary, "--history-count", "100000")
    pid = srv.proc.pid
    try:
        topics = ["k/%d" % i for i in range(4)]
        streams = [Stream(srv.port, "/events/" + t) for t in topics]
        multi = Stream(srv.port, "/events?topic=k/%2B")
        acked = [[] for _ in topics]
        errors = []
        stop = threading.Event()

        def publisher(k):
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
            n = 0
            try:
                while not stop.is_set():
                    body = b"%d-%d" % (k, n)
                    conn.request("POST", "/publish/" + topics[k], body)
                    resp = conn.getresponse()
                    answer = resp.read()
                    if resp.status // 100 != 2:
                        errors.append("publisher %d: %d %r" % (k, resp.status, answer))
                        return
                    acked[k].append((body.decode(), json.loads(answer)["id"]))
                    n += 1
                    time.sleep(0.002)
            except Exception as e:  # noqa: BLE001 - any failure of the connection counts
                errors.append("publisher %d after %d: %s: %s" % (k, n, type(e).__name__, e))
            finally:
                conn.close()

        threads = [threading.Thread(target=publisher, args=(k,)) for k in range(len(topics))]
        for t in threads:
            t.start()
        for step in steps:
            time.sleep(0.3)
            pid = step(srv, pid)
            check(not errors, "no publisher failed: %s" % errors)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(30)
        check(not errors, "no publisher failed: %s" % errors)
        check(all(len(a) > 50 for a in acked), "publishers kept publishing: %s" %
              [len(a) for a in acked])
        for k, s in enumerate(streams):
            got = [(e["data"], e["id"]) for e in s.events(len(acked[k]), timeout=10)]
            check(got == acked[k], "stream %d: every acknowledged event once, in order" % k)
        every = sorted((eid for a in acked for _, eid in a), key=lambda i: int(i.split("-")[1]))
        got = [e["id"] for e in multi.events(len(every), timeout=10)]
        check(got == every, "pattern stream: every acknowledged event once, in order")
        for s in streams + [multi]:
            s.close()
    finally:
        stop_new(srv, pid if pid != srv.proc.pid else None)


def test_keep_alive_publishers_through_upgrades(binary):
    # 10 upgrades in a row: a request in flight at a hand-over goes to the successor with
    # its socket and is answered there.
    publishers_through(binary, [upgrade_step] * 10)


def test_keep_alive_publishers_through_failed_upgrades(binary):
    # Three hand-overs fail after the old process quiesced, with requests in flight: it
    # takes every connection back as it left it and answers them itself, streams resume
    # where they were; then a good upgrade.
    publishers_through(binary, [failed_upgrade_step] * 3 + [upgrade_step])


def test_upgrade_keeps_what_was_evicted(binary):
    # A topic keeps 2 events of 4; after an upgrade, a client that saw only the first is
    # still told that it missed the second (the evicted sequence travels with the logs).
    # Memory only (data_dir ""): with the disk log the evicted events are read from disk.
    srv = Server(binary, "--history-count", "2", "--data-dir", "")
    pid = srv.proc.pid
    try:
        ids = [srv.request("POST", "/publish/kept", b"%d" % i)[1]["id"] for i in range(4)]
        out = subprocess.run([binary, "upgrade", "--url", "http://127.0.0.1:%d" % srv.port],
                             capture_output=True, text=True, timeout=40)
        check(out.returncode == 0, "revenprox upgrade: %r" % out.stderr)
        pid = wait_pid_change(srv, pid)
        s = Stream(srv.port, "/events/kept", {"Last-Event-ID": ids[0]})
        ev = s.next_event()
        check(ev.get("event") == "resync", "the gap is announced after the upgrade: %r" % ev)
        ev = s.next_event()
        check(ev["id"] == ids[2], "then the events still kept: %r" % ev)
        s.close()
    finally:
        stop_new(srv, pid if pid != srv.proc.pid else None)


def test_upgrade_keeps_each_topics_place(binary):
    # A stalled two-topic stream under drop_oldest: topic a runs far ahead (its oldest events
    # dropped), topic b's five events still wait. The upgrade hands over each topic's place,
    # not only the highest, so b's five events still arrive.
    srv = Server(binary, "--slow-policy", "drop_oldest", "--lag-events", "20",
                 "--history-count", "1000", "--stream-sndbuf", "4096")
    pid = srv.proc.pid
    try:
        s = Stream(srv.port, "/events?topic=a&topic=b", rcvbuf=4096)
        pad = b"p" * 1000
        # 100 KB of a first: the stream is stalled (its socket full) before b's events.
        for i in range(100):
            srv.request("POST", "/publish/a", b"a%d " % i + pad)
        for i in range(5):
            srv.request("POST", "/publish/b", b"b%d" % i)
        for i in range(200):
            srv.request("POST", "/publish/a", b"a%d " % (100 + i) + pad)
        out = subprocess.run([binary, "upgrade", "--url", "http://127.0.0.1:%d" % srv.port],
                             capture_output=True, text=True, timeout=40)
        check(out.returncode == 0, "revenprox upgrade: %r" % out.stderr)
        pid = wait_pid_change(srv, pid)
        srv.request("POST", "/publish/b", b"last")
        got = []
        while not got or got[-1] != "last":
            got.append(s.next_event(timeout=10)["data"])
        bs = [d for d in got if d.startswith("b")]
        check(bs == ["b0", "b1", "b2", "b3", "b4"], "every event of the lagging topic: %r" % bs)
        s.close()
    finally:
        stop_new(srv, pid if pid != srv.proc.pid else None)


if __name__ == "__main__":
    sys.exit(run([test_upgrade_keeps_streams, test_failed_start_keeps_old_process,
                  test_failed_hand_over_keeps_serving,
                  test_keep_alive_publishers_through_upgrades,
                  test_keep_alive_publishers_through_failed_upgrades,
                  test_upgrade_keeps_what_was_evicted,
                  test_upgrade_keeps_each_topics_place], sys.argv[1]))
