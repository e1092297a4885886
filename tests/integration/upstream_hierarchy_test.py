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
from support import Server, Stream, check


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


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


if __name__ == "__main__":
    sys.exit(support.run([test_three_levels_survive_mid_kill], sys.argv[1]))
