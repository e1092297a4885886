#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Long runs that show the node does not grow: reloads free the configurations they replace,
and topics with no reader and no history are freed. Run against the normal build only:
a sanitizer's allocator keeps freed memory on purpose, so RSS means nothing there."""
import json
import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from support import Server, Stream, check, run, seq  # noqa: E402


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


ANSWER = re.compile(rb"HTTP/1\.1 (\d{3}) [^\r]*\r\n(?:[^\r]*\r\n)*?Content-Length: (\d+)\r\n"
                    rb"(?:[^\r]*\r\n)*?\r\n")


def test_a_million_distinct_topics(binary):
    # 1,000,000 publishes, each to a topic never used before, with a 1 s history and at most
    # 10,000 live topics: every one answered 200, ids only grow, memory stays flat, and a
    # client resuming from a freed topic's event hears that it missed one.
    total, rate, chunk = 1000000, 6000, 300
    with Server(binary, "--max-topics", "10000", "--history-age", "1s",
                "--history-count", "100") as srv:
        _, first = srv.request("POST", "/publish/soak/first", b"one")
        _, second = srv.request("POST", "/publish/soak/first", b"two")
        last = seq(second["id"])
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        buf, sent, answered, bad = b"", 0, 0, {}
        rss, start = [], time.monotonic()
        while answered < total:
            # Paced: <rate> a second, in chunks, so live topics stay under max_topics.
            due = start + sent / rate
            now = time.monotonic()
            if sent < total and now >= due:
                n = min(chunk, total - sent)
                sock.sendall(b"".join(
                    b"POST /publish/s/%d HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\nx" %
                    (sent + i) for i in range(n)))
                sent += n
            if answered < sent:
                buf += sock.recv(1 << 20)
                pos = 0
                while True:
                    m = ANSWER.match(buf, pos)
                    if not m or len(buf) < m.end() + int(m.group(2)):
                        break
                    body = buf[m.end():m.end() + int(m.group(2))]
                    pos = m.end() + int(m.group(2))
                    answered += 1
                    if m.group(1) != b"200":
                        bad[m.group(1)] = bad.get(m.group(1), 0) + 1
                        continue
                    s = int(json.loads(body)["id"].split("-")[1])
                    check(s > last, "ids only grow: %d after %d" % (s, last))
                    last = s
                buf = buf[pos:]
            elif sent < total:
                time.sleep(max(0.0, due - time.monotonic()))
            if answered and answered % 100000 < chunk and (not rss or rss[-1][0] != answered):
                rss.append((answered, rss_kib(srv.proc.pid)))
        sock.close()
        elapsed = time.monotonic() - start
        rss.append((answered, rss_kib(srv.proc.pid)))
        print("  %d publishes in %.0f s; RSS KiB by publishes: %s" % (
            answered, elapsed, ", ".join("%dk: %d" % (n // 1000, r) for n, r in rss)))
        check(not bad, "every publish answered 200: %r" % bad)
        m = srv.metrics()
        print("  live topics %d, reclaimed %d" % (m["topics"], m["topics_reclaimed"]))
        check(m["topics"] <= 10000, "live topics within max_topics")
        check(m["topics_reclaimed"] >= total - 10000, "the rest were freed")
        peak = max(r for _, r in rss[1:]) if len(rss) > 1 else rss[0][1]
        check(peak - rss[0][1] <= 64 * 1024,
              "RSS stays within 64 MiB of the first 100k publishes: %d -> peak %d KiB" %
              (rss[0][1], peak))
        # The topic was freed from memory long ago, but the disk log (on by default) still
        # has its event: the resume gets exactly what it missed. (Memory only, the resume is
        # told instead: tests/integration/topics_lifecycle_test.py.)
        stream = Stream(srv.port, "/events/soak/first", {"Last-Event-ID": first["id"]})
        ev = stream.next_event()
        check(ev.get("id") == second["id"] and ev["data"] == "two" and "event" not in ev,
              "a resume that missed a freed topic's event gets it from the disk log: %r" % ev)
        stream.close()


if __name__ == "__main__":
    sys.exit(run([test_reloads_do_not_grow, test_a_million_distinct_topics], sys.argv[1]))
