#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A careless operator's upgrades: a restart-only limit tightened before SIGUSR2, and a
successor that fails in the middle of the hand-over. The node never goes down with its
history: the successor adopts what exceeds its limits (telling clients what it trimmed), and
the old process exits only once the successor serves. Loopback only; bounded in time."""
import http.client
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from support import (Server, Stream, check, health, log_text, run,  # noqa: E402
                     terminate, wait_pid_change)








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
        terminate(pid)
    rc = srv.stop() if srv.proc.poll() is None else srv.cleanup() or 0
    time.sleep(0.2)  # the last lines of the log
    text = log_text(srv)
    check(rc == 0, "the serving process exits cleanly: %s" % rc)
    check("Sanitizer" not in text and "runtime error:" not in text,
          "no sanitizer report: %s" % text[text.find("Sanitizer") - 200:][:3000])


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
    # Memory only (--data-dir ""): with the disk log, the cut events are still on disk.
    srv = Server(binary, "--data-dir", "", config="max_data = 1m\n")
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


def successor_of(pid, timeout=10):
    """The pid of <pid>'s child (the successor it started), once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    kids = f.read().split()
            except OSError:
                continue
            if kids:
                return int(kids[0])
        time.sleep(0.01)
    raise AssertionError("no successor started")


def check_still_serving(srv, pid, stream, conn):
    """The old process <pid> serves: <stream> gets what is published now, once, with no
    retry hint; the keep-alive <conn> is answered; the log says why."""
    check(srv.proc.poll() is None, "the old process is still running")
    check(health(srv)["pid"] == pid, "the old process still answers")
    conn.request("POST", "/publish/x", b"on the old keep-alive connection")
    resp = conn.getresponse()
    check(resp.status == 200, "a keep-alive publisher is answered: %d" % resp.status)
    resp.read()
    after = [publish(srv, "x", b"after %d" % i) for i in range(3)]
    got = [stream.next_event() for _ in range(4)]
    want = ["on the old keep-alive connection", "after 0", "after 1", "after 2"]
    check([e["data"] for e in got] == want and [e["id"] for e in got[1:]] == after,
          "the open stream gets every event published after the failure, once: %r" % got)
    check(all("retry" not in e for e in got), "and no retry hint")
    text = log_text(srv)
    check("upgrade failed" in text and "still serving" in text,
          "the log says the upgrade failed and the old process serves on")


def test_killed_successor_leaves_the_old_process_serving(binary):
    # The successor is killed with SIGKILL after the old process quiesced and handed
    # everything over (it is stuck opening a key file, a FIFO nobody writes yet). The old
    # process takes its listeners and connections back and serves on; a later upgrade to a
    # good successor works, and the stream survives both.
    fifo_dir = tempfile.mkdtemp()
    fifo = os.path.join(fifo_dir, "key.pem")
    os.mkfifo(fifo)
    srv = Server(binary, config="")
    pid = srv.proc.pid
    try:
        stream = Stream(srv.port, "/events/x")
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        before = publish(srv, "x", b"before")
        check(stream.next_event()["id"] == before, "the stream flows")
        rewrite(srv, "auth_mode = jwt\nauth_jwt_key_file = %s\n" % fifo)
        os.kill(pid, signal.SIGUSR2)
        child = successor_of(pid)
        # Opening the write end succeeds only once the successor waits in its open of the
        # key file: past "ready", after the old process handed everything over.
        deadline = time.monotonic() + 10
        while True:
            try:
                w = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                check(time.monotonic() < deadline, "the successor never opened its key file")
                time.sleep(0.01)
        os.kill(child, signal.SIGKILL)
        os.close(w)
        deadline = time.monotonic() + 15
        while "upgrade failed" not in log_text(srv) and time.monotonic() < deadline:
            time.sleep(0.05)
        check("killed by signal 9" in log_text(srv), "the log says how the successor ended")
        check_still_serving(srv, pid, stream, conn)
        rewrite(srv, "")
        pid = upgrade(srv, pid)
        publish(srv, "x", b"in the new process")
        check(stream.next_event()["data"] == "in the new process",
              "the stream survives the failed upgrade and the good one")
        conn.close()
        stream.close()
    finally:
        stop(srv, pid)
        os.unlink(fifo)
        os.rmdir(fifo_dir)


def test_refusing_successor_leaves_the_old_process_serving(binary):
    # The successor loads its configuration, says ready, then refuses to start (its JWT key
    # file does not exist) after the old process quiesced: the old process serves on.
    srv = Server(binary, config="")
    pid = srv.proc.pid
    try:
        stream = Stream(srv.port, "/events/x")
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        before = publish(srv, "x", b"before")
        check(stream.next_event()["id"] == before, "the stream flows")
        rewrite(srv, "auth_mode = jwt\nauth_jwt_key_file = /nonexistent/revenprox.pem\n")
        os.kill(pid, signal.SIGUSR2)
        deadline = time.monotonic() + 15
        while "upgrade failed" not in log_text(srv) and time.monotonic() < deadline:
            check(srv.proc.poll() is None, "the old process exited (status %s)" %
                  srv.proc.poll())
            time.sleep(0.05)
        check_still_serving(srv, pid, stream, conn)
        conn.close()
        stream.close()
    finally:
        stop(srv, pid)


if __name__ == "__main__":
    sys.exit(run([test_lowered_max_data_trims_and_tells,
                  test_lowered_max_topics_keeps_every_topic,
                  test_killed_successor_leaves_the_old_process_serving,
                  test_refusing_successor_leaves_the_old_process_serving], sys.argv[1]))
