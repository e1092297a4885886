# SPDX-License-Identifier: MIT
"""Three levels of RevenProx (origin -> mid -> edge): events published at the origin reach
edge clients, and a kill -9 and restart of the mid tier loses nothing and duplicates nothing
at the edge. The mid resumes from the origin with the newest origin id its own disk log
kept; the edge resumes from the mid with the mid's ids. What the mid had delivered but not
yet written when it was killed (its log writer's queue, docs/durable-log.md) it takes from
the origin again under new ids: the edge recognises those by their origin-id and takes
them once, and the gap the mid announces in its own ids is covered by them."""
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

import support
from support import Server, Stream, check, free_port


def fast(*extra):
    return ("--upstream-retry-min", "50ms", "--upstream-retry-max", "300ms") + extra


def start_mid(binary, origin, port, data_dir):
    return Server(binary, "--listen", "127.0.0.1:%d" % port, "--data-dir", data_dir,
                  *fast("--upstreams", "o=http://127.0.0.1:%d/events" % origin.port))


def test_three_levels_survive_mid_kill(binary):
    origin = Server(binary)
    mid_port = free_port()
    mid_data = tempfile.mkdtemp(prefix="rp-mid-")
    mid = start_mid(binary, origin, mid_port, mid_data)
    edge = Server(binary, *fast("--upstreams", "m=http://127.0.0.1:%d/upstream/o" % mid_port))
    clients = []
    try:
        clients = [Stream(edge.port, "/upstream/m/news") for _ in range(5)]
        # The chain connects on demand: edge -> mid -> origin.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status, body = origin.request("GET", "/topics/news")
            if status == 200 and body.get("subscribers") == 1:
                break
            time.sleep(0.05)
        check(status == 200 and body.get("subscribers") == 1,
              "the origin sees one subscriber (the mid): %r" % (body,))
        total = 300
        done = threading.Event()

        def publisher():
            for i in range(total):
                st, _ = origin.publish({"topic": "news", "data": "n%d" % i})
                check(st == 200, "origin publish")
                time.sleep(0.005)
            done.set()

        t = threading.Thread(target=publisher)
        t.start()
        time.sleep(0.4)
        # kill -9 the mid while events flow; restart it on the same port and data_dir.
        mid.proc.send_signal(signal.SIGKILL)
        mid.proc.wait()
        mid.cleanup()  # its config file; the data_dir is the test's
        time.sleep(0.3)
        mid = start_mid(binary, origin, mid_port, mid_data)
        t.join()
        want = ["n%d" % i for i in range(total)]
        for c in clients:
            got, ids = [], []
            while len(got) < total:
                ev = c.next_event(timeout=15)
                check(ev.get("event") != "resync", "no gap announced at the edge: %r" % ev)
                got.append(ev["data"])
                ids.append(support.seq(ev["id"]))
            check(got == want, "every event once and in order (first bad at %s: %r)" % (
                next((i for i, d in enumerate(got) if d != want[i]), None), got[60:80]))
            check(ids == sorted(ids) and len(set(ids)) == total, "edge ids increase")
        # And nothing more trickles in.
        try:
            extra = clients[0].next_event(timeout=1)
            raise AssertionError("an extra event after the last: %r" % extra)
        except (socket.timeout, TimeoutError):
            pass
        check("its gap is covered by origin ids" in support.log_text(edge),
              "the edge took the mid's restart announcement as covered")
        status, body = edge.request("GET", "/upstreams")
        check(body["upstreams"][0]["events_in"] == total, "the edge took each event once: %r"
              % body)
        status, body = mid.request("GET", "/upstreams")
        ups = body["upstreams"]
        check(len(ups) == 1 and ups[0]["state"] == "streaming", "mid streams again: %r" % ups)
        check(ups[0]["last_id"] != "", "the mid knows the origin's latest id: %r" % ups)
    finally:
        for c in clients:
            c.close()
        for srv in (edge, mid, origin):
            if srv.proc.poll() is None:
                check(srv.stop() == 0, "server exits cleanly")
        shutil.rmtree(mid_data, ignore_errors=True)


def start_edge(binary, mid_port, port, data_dir):
    # Always connected: a restarted edge catches up from the mid whether or not its
    # clients are back yet, so only their Last-Event-ID brings them what they missed.
    return Server(binary, "--listen", "127.0.0.1:%d" % port, "--data-dir", data_dir,
                  *fast("--upstreams", "m=http://127.0.0.1:%d/upstream/o" % mid_port,
                        "--upstream-always", "m/news"))


def test_edge_restart_clients_resume(binary):
    """The edge tier restarts (stop, start on the same port and data_dir) while the origin
    publishes: its clients reconnect with the Last-Event-ID they had and get every event
    once, in order, with no gap announced; the edge resumes its upstream from the newest
    origin id its log kept, and the mid and the origin see one connection each again."""
    origin = Server(binary)
    mid_port, edge_port = free_port(), free_port()
    mid_data, edge_data = tempfile.mkdtemp(prefix="rp-mid-"), tempfile.mkdtemp(prefix="rp-edge-")
    mid = start_mid(binary, origin, mid_port, mid_data)
    edge = start_edge(binary, mid_port, edge_port, edge_data)
    clients = []
    try:
        clients = [Stream(edge_port, "/upstream/m/news") for _ in range(5)]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status, body = origin.request("GET", "/topics/news")
            if status == 200 and body.get("subscribers") == 1:
                break
            time.sleep(0.05)
        check(status == 200 and body.get("subscribers") == 1, "the chain is up: %r" % (body,))
        total = 300

        def publisher():
            for i in range(total):
                st, _ = origin.publish({"topic": "news", "data": "n%d" % i})
                check(st == 200, "origin publish")
                time.sleep(0.005)

        t = threading.Thread(target=publisher)
        t.start()
        got = [[] for _ in clients]
        last = [None for _ in clients]

        def read(k, c, until):
            """Client <k>'s events until it has them all or <until> (monotonic) passes."""
            while len(got[k]) < total and time.monotonic() < until:
                try:
                    ev = c.next_event(timeout=max(0.01, min(1, until - time.monotonic())))
                except (socket.timeout, TimeoutError):
                    continue
                check(ev.get("event") != "resync", "no gap announced at the edge: %r" % ev)
                got[k].append(ev["data"])
                last[k] = ev["id"]

        # The clients read for a while, then the edge stops while events flow.
        until = time.monotonic() + 0.4
        for k, c in enumerate(clients):
            read(k, c, until)
        check(edge.stop() == 0, "the edge stops cleanly")
        for k, c in enumerate(clients):
            try:  # what the old edge wrote before closing
                while True:
                    ev = c.next_event(timeout=2)
                    got[k].append(ev["data"])
                    last[k] = ev["id"]
            except (EOFError, socket.timeout, TimeoutError):
                pass
            c.close()
        check(all(0 < len(g) < total for g in got),
              "the restart came while events flowed: %r" % [len(g) for g in got])
        time.sleep(0.3)
        edge = start_edge(binary, mid_port, edge_port, edge_data)
        # The clients come back once the edge has taken some of what they missed.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ups = edge.request("GET", "/upstreams")[1]["upstreams"]
            if ups and ups[0]["events_in"] > 0:
                break
            time.sleep(0.02)
        check(ups and ups[0]["events_in"] > 0, "the edge catches up: %r" % ups)
        clients = [Stream(edge_port, "/upstream/m/news", headers={"Last-Event-ID": last[k]})
                   for k in range(len(got))]
        t.join()
        want = ["n%d" % i for i in range(total)]
        until = time.monotonic() + 20
        for k, c in enumerate(clients):
            read(k, c, until)
            check(got[k] == want, "client %d: every event once and in order (first bad at %s)"
                  % (k, next((i for i, d in enumerate(got[k]) if i >= len(want) or d != want[i]),
                             None)))
        try:
            extra = clients[0].next_event(timeout=1)
            raise AssertionError("an extra event after the last: %r" % extra)
        except (socket.timeout, TimeoutError):
            pass
        status, body = origin.request("GET", "/topics/news")
        check(body.get("subscribers") == 1, "the origin sees one subscriber: %r" % (body,))
        status, body = mid.request("GET", "/topics/o/news")
        check(body.get("subscribers") == 1, "the mid sees one subscriber (the edge): %r"
              % (body,))
    finally:
        for c in clients:
            c.close()
        for srv in (edge, mid, origin):
            if srv.proc.poll() is None:
                check(srv.stop() == 0, "server exits cleanly")
        for d in (mid_data, edge_data):
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(support.run([test_three_levels_survive_mid_kill, test_edge_restart_clients_resume],
                         sys.argv[1]))
