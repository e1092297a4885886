#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Topics that nobody reads and whose history has run out are freed: max_topics bounds the
topics alive, not every name ever used. Ids are never reused, and a client resuming from an
id of a freed topic is told it missed events (event: resync), never left silent. Names
under _revenprox/ belong to the server."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from support import Server, Stream, check, run, seq  # noqa: E402


def pipelined_publishes(port, paths, body=b"x"):
    """POSTs every path on one keep-alive connection, pipelined; the (status, body) list."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    req = b"".join(b"POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n%s" %
                   (p.encode(), len(body), body) for p in paths)
    s.sendall(req)
    answers, buf = [], b""
    while len(answers) < len(paths):
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            check(chunk, "the server answers every pipelined publish")
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(buf) < length:
            buf += s.recv(65536)
        answers.append((int(head.split(b" ")[1]), buf[:length]))
        buf = buf[length:]
    s.close()
    return answers


def test_topics_are_freed_under_max_topics(binary):
    # Memory only (data_dir ""): what is asserted is the memory window's; with the disk log a
    # freed topic's events are still read from disk (tests/integration/durable_log_test.py).
    with Server(binary, "--max-topics", "100", "--history-age", "1s", "--data-dir", "") as srv:
        status, first = srv.request("POST", "/publish/gone/first", b"remember me")
        check(status == 200, "first publish")
        status, second = srv.request("POST", "/publish/gone/first", b"and me")
        last = seq(second["id"])
        total, statuses = 0, []
        # 600 distinct topics in rounds of 40, a round every 1.05 s: a round's events have
        # expired (1 s) by the round after next, so at most about 80 topics hold history at
        # once, against 600 in all and a max_topics of 100.
        for r in range(15):
            answers = pipelined_publishes(srv.port, ["/publish/churn/%d/%d" % (r, i)
                                                     for i in range(40)])
            for status, body in answers:
                statuses.append(status)
                if status == 200:
                    s = seq(json.loads(body)["id"])
                    check(s > last, "ids only grow: %d after %d" % (s, last))
                    last = s
            total += len(answers)
            time.sleep(1.05)
        bad = [s for s in statuses if s != 200]
        check(not bad, "every publish answered 200 (%d of %d were not: %s)" %
              (len(bad), total, sorted(set(bad))))
        m = srv.metrics()
        check(m["topics"] <= 100, "live topics within max_topics: %d" % m["topics"])
        check(m["topics_reclaimed"] >= 450, "topics were freed: %d" % m["topics_reclaimed"])
        status, _ = srv.request("GET", "/topics/gone/first")
        check(status == 404, "the first topic is gone: %d" % status)
        # A client that saw only the first event resumes: the topic comes back empty, and the
        # client hears that it missed something. One that saw both missed nothing: no resync.
        missed = Stream(srv.port, "/events/gone/first", {"Last-Event-ID": first["id"]})
        ev = missed.next_event()
        check(ev.get("event") == "resync", "a resume that missed a freed topic's events is "
              "announced: %r" % ev)
        whole = Stream(srv.port, "/events/gone/first", {"Last-Event-ID": second["id"]})
        srv.request("POST", "/publish/gone/first", b"back")
        for s in (missed, whole):
            ev = s.next_event()
            check(ev["data"] == "back" and seq(ev["id"]) > last,
                  "then it streams, with a new id: %r" % ev)
            s.close()


def test_system_names_are_the_servers(binary):
    with Server(binary) as srv:
        status, body = srv.request("POST", "/publish/_revenprox/metrics", b"fake")
        check(status == 403, "publishing into the dashboard's feed is refused: %d" % status)
        check("reserved" in body["error"], "and says why: %r" % body)
        status, body = srv.publish({"topic": "_revenprox/anything", "data": "x"})
        check(status == 403, "through POST /publish too: %d" % status)
        status, _ = srv.publish({"topic": "revenprox/fine", "data": "x"})
        check(status == 200, "names merely like it are fine")


if __name__ == "__main__":
    sys.exit(run([test_topics_are_freed_under_max_topics, test_system_names_are_the_servers],
                 sys.argv[1]))
