#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The disk log's reader thread under hostile resumes: a resume from far back is capped
(16 MiB of frames, then announced), and many clients that resume from far back and then
never read cannot stall the others nor make the server hold more than the cap each.
Loopback only; every loop is bounded in count and time."""
import os
import shutil
import socket
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
sys.path.insert(0, os.path.dirname(__file__))
from support import Server, Stream, check, run  # noqa: E402
from campaign_test import Watch, probe_bound_ms, rss_kib, sanitized  # noqa: E402

CAP = 16 << 20  # RP_HISTORY_MAX_BYTES


def filled(binary, d):
    """A server whose topic "old" holds ~18 MB on disk and only 10 events in memory."""
    srv = Server(binary, config="data_dir = %s\nfsync = always\nhistory_count = 10\n" % d)
    ids = []
    for b in range(18):
        status, body = srv.publish([{"topic": "old", "data": "%05d %s" % (b * 500 + i, "o" * 2000)}
                                    for i in range(500)])
        check(status == 200, "batch %d published: %s" % (b, status))
        ids += body["ids"]
    return srv, ids


def test_a_deep_resume_is_capped_and_told(binary):
    d = tempfile.mkdtemp(prefix="rp-hist-")
    srv, ids = filled(binary, d)
    try:
        s = Stream(srv.port, "/events/old", {"Last-Event-ID": ids[0]})
        got = []
        while not got or got[-1].get("id") != ids[-1]:
            check(len(got) < len(ids) + 5, "the stream reaches the newest event")
            got.append(s.next_event(timeout=30))
        s.close()
        told = [i for i, e in enumerate(got) if e.get("event") == "resync"]
        check(len(told) == 1, "the part past the cap is announced once: %r" % told)
        disk = got[:told[0]]
        check(disk and [e["id"] for e in disk] == ids[1:1 + len(disk)],
              "from disk: the events after the resume point, in order")
        check(sum(len(e["data"]) for e in disk) <= CAP, "no more than the cap from disk")
        check(len(disk) > 5000, "most of the cap is used: %d events" % len(disk))
        after = [e["id"] for e in got[told[0] + 1:]]
        check(after == ids[-len(after):] and len(after) >= 10, "then the memory window")
    finally:
        srv.stop()
        shutil.rmtree(d)


def test_silent_deep_resumes_do_not_stall_others(binary):
    d = tempfile.mkdtemp(prefix="rp-hist-")
    srv, ids = filled(binary, d)
    try:
        base = rss_kib(srv.proc.pid)
        watch = Watch(srv, probe_bound_ms(binary))
        silent = []
        for _ in range(20):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", srv.port))
            sock.sendall(b"GET /events/old HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: %s\r\n"
                         b"\r\n" % ids[0].encode())
            silent.append(sock)  # never read
        peak = base
        for _ in range(40):  # while the reader works through them, 8 s at most
            peak = max(peak, rss_kib(srv.proc.pid))
            watch.stop.wait(0.2)
        worst = watch.finish()
        grew = peak - base
        print("healthz worst %.0f ms; RSS %d KiB at start, grew %d KiB with 20 silent deep "
              "resumes" % (worst, base, grew))
        # Each silent client holds at most its capped replay (and ASan keeps freed memory).
        bound = 20 * CAP // 1024 * (3 if sanitized(binary) else 2)
        check(grew < bound, "memory stays within the cap per client (grew %d KiB)" % grew)
        for sock in silent:
            sock.close()
    finally:
        srv.stop()
        shutil.rmtree(d)


if __name__ == "__main__":
    sys.exit(run([test_a_deep_resume_is_capped_and_told,
                  test_silent_deep_resumes_do_not_stall_others], sys.argv[1]))
