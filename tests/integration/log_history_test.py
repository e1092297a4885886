# SPDX-License-Identifier: MIT
"""The disk log seen from clients: resumes older than the memory window come from disk,
fsync always answers only what is durable, and an upgrade (also a failed one) keeps the
log. Each server gets its own data directory."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from support import (Server, Stream, check, failed_upgrade_step, log_text, run,  # noqa: E402
                     stop_new, upgrade_step)


def new_dir():
    return tempfile.mkdtemp(prefix="revenprox-log-")


def publish(srv, topic, data):
    status, body = srv.request("POST", "/publish/%s" % topic, data.encode())
    check(status == 200, "publish %s: %s %r" % (topic, status, body))
    return body["id"]


def read_until(stream, last_id, limit=1000):
    """Events up to and including <last_id> (resync announcements included, by type)."""
    got = []
    while not got or got[-1].get("id") != last_id:
        check(len(got) < limit, "the stream reaches %s" % last_id)
        got.append(stream.next_event(timeout=10))
    return got


def test_resume_older_than_memory_comes_from_disk(binary):
    d = new_dir()
    conf = "data_dir = %s\nfsync = always\nhistory_count = 5\n" % d
    with Server(binary, config=conf) as srv:
        ids = {"t1": [], "t2": [], "t3": []}
        for i in range(30):
            for t in ("t1", "t2", "t3"):
                ids[t].append(publish(srv, t, "%s-%d" % (t, i)))
        # Memory keeps 5 events a topic: a resume from the 3rd event of t1 is long gone from
        # memory, but every event is on disk.
        s = Stream(srv.port, "/events/t1", {"Last-Event-ID": ids["t1"][2]})
        got = read_until(s, ids["t1"][-1])
        s.close()
        check([e.get("event") for e in got if e.get("event") == "resync"] == [],
              "no resync: %r" % got[:3])
        check([e["id"] for e in got] == ids["t1"][3:], "every missed event of t1, in order")
        check([e["data"] for e in got] == ["t1-%d" % i for i in range(3, 30)],
              "their data as published")
        # Several topics: one stream, merged in id order, nothing of the third topic.
        after = ids["t2"][10]
        want = sorted([i for t in ("t1", "t2") for i in ids[t] if int(i.split("-")[1]) >
                       int(after.split("-")[1])], key=lambda i: int(i.split("-")[1]))
        s = Stream(srv.port, "/events?topic=t1&topic=t2", {"Last-Event-ID": after})
        got = read_until(s, want[-1])
        s.close()
        check([e["id"] for e in got] == want, "t1 and t2 merged in order: %r" % got[:4])
        check(all(e["event"] in ("t1", "t2") for e in got), "tagged with their topics")
        # Live events follow the replay on the same stream.
        s = Stream(srv.port, "/events/t3", {"Last-Event-ID": ids["t3"][0]})
        got = read_until(s, ids["t3"][-1])
        live = publish(srv, "t3", "live")
        nxt = s.next_event(timeout=10)
        s.close()
        check(len(got) == 29 and nxt["id"] == live and nxt["data"] == "live",
              "replay from disk, then live")
    shutil.rmtree(d)


def test_long_resume_from_disk(binary):
    # Megabytes of missed events, far past the memory window: every one, once, in order.
    d = new_dir()
    conf = "data_dir = %s\nfsync = always\nhistory_count = 10\n" % d
    with Server(binary, config=conf) as srv:
        ids = []
        for b in range(8):
            status, body = srv.publish([{"topic": "long", "data": "%d %s" % (b * 500 + i,
                                                                          "y" * 1000)}
                                        for i in range(500)])
            check(status == 200, "batch published: %s" % status)
            ids += body["ids"]
        s = Stream(srv.port, "/events/long", {"Last-Event-ID": ids[0]})
        got = read_until(s, ids[-1], limit=5000)
        s.close()
        check([e["id"] for e in got] == ids[1:], "all %d missed events (got %d)" % (
            len(ids) - 1, len(got)))
        check([e["data"].split(" ")[0] for e in got] == [str(i) for i in range(1, 4000)],
              "their data")
    shutil.rmtree(d)


def test_restart_loads_the_newest_and_reads_the_rest(binary):
    # Start-up reads back only data_load_bytes; a resume from before that comes from disk,
    # merged over topics, with nothing lost or repeated and no resync.
    d = new_dir()
    conf = "data_dir = %s\nfsync = always\ndata_load_bytes = 4k\n" % d
    srv = Server(binary, config=conf)
    ids = []
    for i in range(300):
        ids.append(publish(srv, "r/%d" % (i % 2), "%d %s" % (i, "z" * 100)))
    check(srv.stop() == 0, "a clean stop")
    with Server(binary, config=conf) as srv:
        text = log_text(srv)
        check("history loaded" in text and "from_seq=1 " not in text,
              "only the newest history was loaded: %r" % [
                  line for line in text.splitlines() if "history loaded" in line])
        s = Stream(srv.port, "/events?topic=r/0&topic=r/1", {"Last-Event-ID": ids[5]})
        got = read_until(s, ids[-1])
        s.close()
        check([e["id"] for e in got] == ids[6:], "every event after the resume point, in order")
        check(all(e["event"] in ("r/0", "r/1") for e in got), "no resync")
        after = publish(srv, "r/0", "after")
        check(after.split("-")[0] == ids[0].split("-")[0], "same epoch")
    shutil.rmtree(d)


def test_disk_resume_stops_at_a_lost_range(binary):
    # An unclean stop loses what was sequenced after the last event on disk; a later resume
    # from before it gets the events on disk, then is told of the loss (event: resync).
    d = new_dir()
    conf = "data_dir = %s\nfsync = always\ndata_load_bytes = 1k\n" % d
    srv = Server(binary, config=conf)
    before = [publish(srv, "k", "b%d" % i) for i in range(40)]
    srv.proc.kill()
    srv.proc.wait()
    srv.cleanup()
    srv = Server(binary, config=conf)
    mid = [publish(srv, "k", "m%d" % i) for i in range(40)]
    check(srv.stop() == 0, "a clean stop")
    with Server(binary, config=conf) as srv:
        s = Stream(srv.port, "/events/k", {"Last-Event-ID": before[9]})
        got = read_until(s, mid[-1])
        s.close()
        ids = [e.get("id") for e in got]
        kinds = [e.get("event") for e in got]
        check(ids[:30] == before[10:], "the events on disk before the loss: %r" % ids[:3])
        check(kinds[30] == "resync" and '"expired"' in got[30]["data"],
              "then the loss is told: %r" % got[30])
        check(ids[31:] == mid, "then everything after it")
    shutil.rmtree(d)


def test_pattern_streams_resume_from_memory(binary):
    d = new_dir()
    conf = "data_dir = %s\nfsync = always\nhistory_count = 5\n" % d
    with Server(binary, config=conf) as srv:
        ids = [publish(srv, "p/a", "e%d" % i) for i in range(20)]
        s = Stream(srv.port, "/events/p/%23", {"Last-Event-ID": ids[2]})
        first = s.next_event(timeout=10)
        check(first.get("event") == "resync" and '"expired"' in first["data"],
              "a pattern stream older than memory is told: %r" % first)
        got = read_until(s, ids[-1])
        s.close()
        check([e["id"] for e in got] == ids[-5:], "then the memory window")
    shutil.rmtree(d)


def test_always_answers_once_durable(binary):
    d = new_dir()
    with Server(binary, config="data_dir = %s\nfsync = always\n" % d) as srv:
        for i in range(20):
            publish(srv, "dur", "x%d" % i)
            store = srv.metrics()["log_store"]
            # The answer came: the event is on disk already.
            check(store["durable_lag_events"] == 0, "durable before the answer: %r" % store)
        check(store["fsync_us"]["sum"] > 0 and store["bytes"] > 0 and store["segments"] == 1,
              "the log's metrics: %r" % store)
        status, prom = srv.request("GET", "/metrics")
        check("revenprox_log_fsync_duration_seconds_count" in prom, "fsync histogram")
    shutil.rmtree(d)


def test_upgrade_keeps_the_log(binary):
    d = new_dir()
    srv = Server(binary, "--data-dir", d, "--fsync", "always", "--history-count", "3")
    pid = srv.proc.pid
    try:
        before = [publish(srv, "u", "b%d" % i) for i in range(10)]
        pid = upgrade_step(srv, pid)
        after = publish(srv, "u", "after")
        check(after.split("-")[0] == before[0].split("-")[0], "same epoch after the upgrade")
        check(int(after.split("-")[1]) > int(before[-1].split("-")[1]), "ids go on")
        # The successor reads what the old process wrote: older than its memory window.
        s = Stream(srv.port, "/events/u", {"Last-Event-ID": before[0]})
        got = read_until(s, after)
        s.close()
        check([e["id"] for e in got] == before[1:] + [after], "history across the upgrade")
        # A failed upgrade: the successor cannot start after the old process closed the log
        # for it; the old process opens the log again and serves on, and nobody is told of
        # a gap.
        failed_upgrade_step(srv, pid)
        more = publish(srv, "u", "more")
        s = Stream(srv.port, "/events/u", {"Last-Event-ID": before[4]})
        got = read_until(s, more)
        s.close()
        check([e.get("event") for e in got if e.get("event") == "resync"] == [], "no resync")
        check([e["id"] for e in got] == before[5:] + [after, more],
              "history after a failed upgrade: %r" % [e["id"] for e in got])
    finally:
        stop_new(srv, pid if pid != srv.proc.pid else None)
    shutil.rmtree(d)


if __name__ == "__main__":
    sys.exit(run([test_resume_older_than_memory_comes_from_disk,
                  test_long_resume_from_disk,
                  test_restart_loads_the_newest_and_reads_the_rest,
                  test_disk_resume_stops_at_a_lost_range,
                  test_pattern_streams_resume_from_memory,
                  test_always_answers_once_durable,
                  test_upgrade_keeps_the_log], sys.argv[1]))
