#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A careless operator's upgrades: a restart-only limit tightened before SIGUSR2. The node
never goes down with its history: the successor adopts what exceeds its limits (telling
clients what it trimmed). Loopback only; bounded in time."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from support import Server, Stream, check, run  # noqa: E402


def health(srv):
    status, body = srv.request("GET", "/healthz", timeout=5)
    check(status == 200, "healthz answers")
    return body


def wait_pid_change(srv, old_pid, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid = health(srv)["pid"]
            if pid != old_pid:
                return pid
        except (OSError, AssertionError, KeyError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError("no new process answered within %ds (old process %s)" % (
        timeout, "exited %s" % srv.proc.poll() if srv.proc.poll() is not None else "alive"))


def log_text(srv):
    srv.log.flush()
    fd = srv.log.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")


def rewrite(srv, text):
    with open(srv.conf.name, "w") as f:
        f.write(text)


def upgrade(srv, pid):
    """SIGUSR2 to <pid>; the successor's pid once it answers, and the old one exited 0."""
    os.kill(pid, signal.SIGUSR2)
    new_pid = wait_pid_change(srv, pid)
    if pid == srv.proc.pid:
        check(srv.proc.wait(timeout=15) == 0, "the old process exits cleanly")
    return new_pid


def stop(srv, pid):
    """Stops whichever process serves now (<pid>) and cleans up."""
    if pid and pid != srv.proc.pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
    if srv.proc.poll() is None:
        srv.stop()
    else:
        os.unlink(srv.conf.name)


def publish(srv, topic, data):
    status, body = srv.request("POST", "/publish/" + topic, data)
    check(status == 200, "publish to %s: %d %r" % (topic, status, body))
    return body["id"]


def test_lowered_max_data_trims_and_tells(binary):
    # 600 KB events under max_data = 1m, then the file says 100k and an upgrade follows.
    # The successor keeps no event over its max_data (nor older ones of that topic: a log
    # loses its oldest first) and records the cut as evicted: a client resuming from before
    # it is told (event: resync), the newest events are all there, and other topics keep
    # everything.
    srv = Server(binary, config="max_data = 1m\n")
    pid = srv.proc.pid
    try:
        old = publish(srv, "big", b"small, before")
        big = [publish(srv, "big", bytes([0x61 + i]) * 300000) for i in range(2)]
        newest = [publish(srv, "big", b"newest %d" % i) for i in range(3)]
        kept = [publish(srv, "other", b"kept %d" % i) for i in range(3)]
        live = Stream(srv.port, "/events/big")
        rewrite(srv, "max_data = 100k\n")
        pid = upgrade(srv, pid)
        check(publish(srv, "big", b"after") and True, "a publish works")
        check(live.next_event()["data"] == "after", "a stream at the head flows on, no resync")
        for since in [old, big[0]]:
            s = Stream(srv.port, "/events/big", {"Last-Event-ID": since})
            ev = s.next_event()
            check(ev.get("event") == "resync", "a resume from before the cut is told: %r" %
                  {k: v[:80] for k, v in ev.items()})
            got = [s.next_event()["data"] for _ in range(4)]
            check(got == ["newest 0", "newest 1", "newest 2", "after"],
                  "then the newest events, all of them: %r" % got)
            s.close()
        s = Stream(srv.port, "/events/other", {"Last-Event-ID": kept[0]})
        ev = s.next_event()
        check(ev.get("event") != "resync" and ev["data"] == "kept 1", "other topics keep "
              "everything: %r" % ev)
        s.close()
        status, _ = srv.request("POST", "/publish/big", b"x" * 200000)
        check(status == 413, "the new max_data applies to publishes: %d" % status)
        check("over max_data" in log_text(srv), "the trim is logged")
        live.close()
    finally:
        stop(srv, pid)


def test_lowered_max_topics_keeps_every_topic(binary):
    # 20 topics under max_topics = 30, then 5: all 20 are adopted with their events, the
    # topic streams flow on, publishing to them works, and a new topic gets the usual 503
    # while the node is over its cap.
    srv = Server(binary, config="max_topics = 30\n")
    pid = srv.proc.pid
    try:
        first = [publish(srv, "m/%d" % i, b"one %d" % i) for i in range(20)]
        for i in range(20):
            publish(srv, "m/%d" % i, b"two %d" % i)
        live = Stream(srv.port, "/events/m/3")
        rewrite(srv, "max_topics = 5\n")
        pid = upgrade(srv, pid)
        check(srv.metrics()["topics"] >= 20, "every topic adopted: %d" % srv.metrics()["topics"])
        publish(srv, "m/3", b"after")
        check(live.next_event()["data"] == "after", "a stream flows on")
        for i in range(20):
            s = Stream(srv.port, "/events/m/%d" % i, {"Last-Event-ID": first[i]})
            ev = s.next_event()
            check(ev.get("event") != "resync" and ev["data"] == "two %d" % i,
                  "topic %d keeps its events: %r" % (i, ev))
            s.close()
        status, body = srv.request("POST", "/publish/fresh", b"x")
        check(status == 503, "a new topic is refused while over max_topics: %d %r" %
              (status, body))
        live.close()
    finally:
        stop(srv, pid)


if __name__ == "__main__":
    sys.exit(run([test_lowered_max_data_trims_and_tells,
                  test_lowered_max_topics_keeps_every_topic], sys.argv[1]))
