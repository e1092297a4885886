#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The disk event log (data_dir), as a user sees it: a clean restart continues the epoch and
the sequences, so a multi-topic stream resumes across it with exactly the missed events;
kill -9 at random moments under fsync always never loses or duplicates an acknowledged
event and never reuses a sequence; a full disk refuses publishes (507/503, JSON) without
losing what was acknowledged, and publishing comes back by itself once space is freed; a
torn or corrupt tail of the newest segment is cut at start-up and said in the log; two
processes never share a data_dir. Real server processes on loopback, bounded loops; the
disk-full case mounts a small tmpfs, so it needs root (it fails, not skips, without)."""
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from support import Server, Stream, check, log_text, run, seq  # noqa: E402

# Every event of these tests fits in the memory window, so the topic API reads them all.
HISTORY = ["--history-count", "1000000", "--history-bytes", "1g"]


def epoch(event_id):
    return event_id.split("-")[0]


def start(binary, data_dir, *flags):
    return Server(binary, "--data-dir", data_dir, *(HISTORY + list(flags)))


def kill9(srv):
    """SIGKILL: no shutdown, no final fsync."""
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(timeout=10)
    srv.cleanup()


def publish(srv, topic, data):
    status, body = srv.request("POST", "/publish/" + topic, data.encode())
    check(status == 200, "publish to %s: %d %r" % (topic, status, body))
    return body["id"]


def read_topic(srv, topic):
    """Every event the topic API gives for <topic>, oldest first: [(id, data)], and whether
    a page said there was a gap."""
    out, after, gap = [], None, False
    for _ in range(100000):
        q = "limit=1000" + ("&after=" + after if after else "")
        status, body = srv.request("GET", "/topics/%s/events?%s" % (topic, q))
        if status == 404:
            return out, gap
        check(status == 200, "GET /topics/%s/events: %d %r" % (topic, status, body))
        out += [(e["id"], e["data"]) for e in body["events"]]
        gap = gap or body["gap"]
        if not body["more"] or not body["events"]:
            return out, gap
        after = body["events"][-1]["id"]
    raise AssertionError("the topic API never ended its pages")


def in_order(ids):
    return all(seq(a) < seq(b) for a, b in zip(ids, ids[1:]))


def until(stream, last_id, limit=100000):
    """What <stream> delivers up to and including the event <last_id>: ([(event, id,
    data)], [resync data])."""
    got, resyncs = [], []
    for _ in range(limit):
        ev = stream.next_event()
        if ev.get("event") == "resync":
            check("id" not in ev, "a resync carries no id: %r" % ev)
            resyncs.append(json.loads(ev["data"]))
            continue
        got.append((ev.get("event"), ev["id"], ev["data"]))
        if ev["id"] == last_id:
            return got, resyncs
    raise AssertionError("%s never arrived" % last_id)


def first_difference(got, want):
    return next((k for k, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))


# ---- a: a clean restart ----

def restart_resume(binary, *flags):
    d = tempfile.mkdtemp(prefix="rp-durable-")
    srv = None
    try:
        topics = ["r/a", "r/b", "r/c"]
        srv = start(binary, d, *flags)
        before = []
        for i in range(60):
            t = topics[i * 7 % 3]
            before.append((t, publish(srv, t, "before %d" % i), "before %d" % i))
        check(srv.stop() == 0, "the server exits cleanly")
        srv = start(binary, d, *flags)
        path = "/events?" + "&".join("topic=" + t for t in topics)
        mid = 23
        s = Stream(srv.port, path, {"Last-Event-ID": before[mid][1]})
        want = [(t, i, data) for t, i, data in before[mid + 1:]]
        got = [(e.get("event"), e["id"], e["data"]) for e in s.events(len(want))]
        check(got == want, "a multi-topic resume from the middle gets exactly the missed "
              "events, in order, no resync (first difference at %d: %r)" % (
                  first_difference(got, want), got[first_difference(got, want):][:2]))
        after = [(t, publish(srv, t, "after %d" % i), "after %d" % i)
                 for i, t in enumerate(topics * 3)]
        last = seq(before[-1][1])
        for t, i, _ in after:
            check(epoch(i) == epoch(before[0][1]), "a clean restart keeps the epoch: %s, %s" %
                  (before[0][1], i))
            check(seq(i) > last, "new ids follow the old ones: %s after %s" % (i, before[-1][1]))
        got = [(e.get("event"), e["id"], e["data"]) for e in s.events(len(after))]
        check(got == after, "then the new events, live: %r" % got[:3])
        s.close()
        # A single-topic stream resumes the same way, from its own first event.
        b = [x for x in before if x[0] == "r/b"]
        s = Stream(srv.port, "/events/r/b", {"Last-Event-ID": b[0][1]})
        want = [(i, data) for _, i, data in b[1:] + [x for x in after if x[0] == "r/b"]]
        got = [(e["id"], e["data"]) for e in s.events(len(want))]
        check(got == want, "a one-topic resume: %r" % got[:3])
        s.close()
        # A client that had everything resumes from the newest id: nothing, then live.
        s = Stream(srv.port, path, {"Last-Event-ID": after[-1][1]})
        marker = publish(srv, "r/a", "marker")
        got, resyncs = until(s, marker)
        check(got == [("r/a", marker, "marker")] and not resyncs,
              "a resume from the newest id gets only the next event: %r %r" % (got[:3],
                                                                                resyncs))
        s.close()
        check(srv.stop() == 0, "the server exits cleanly")
        srv = None
    finally:
        if srv and srv.proc.poll() is None:
            srv.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_restart_resumes_across_topics(binary):
    restart_resume(binary)


def test_restart_resumes_from_disk_beyond_memory(binary):
    # The memory window keeps 3 events a topic: the resume reads the rest from the disk log.
    restart_resume(binary, "--history-count", "3")


# ---- b: kill -9 at random moments ----

ROUNDS = 50
TOPICS = ["k/0", "k/1", "k/2"]


def publisher(port, k, rnd, acked, stop):
    """Publishes on one keep-alive connection until the server dies or <stop> is set;
    <acked> gets (topic, id, data) of every 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    n = 0
    try:
        while not stop.is_set():
            topic = TOPICS[(k + n) % len(TOPICS)]
            data = "r%d p%d n%d" % (rnd, k, n)
            conn.request("POST", "/publish/" + topic, data.encode())
            resp = conn.getresponse()
            answer = resp.read()
            if resp.status == 200:
                acked.append((topic, json.loads(answer)["id"], data))
            elif resp.status // 100 != 5:
                acked.append(("error", resp.status, answer))
                return
            n += 1
    except (OSError, http.client.HTTPException):
        pass  # the server was killed: this request's fate is unknown
    finally:
        conn.close()


def subscriber(stream, seen):
    try:
        while True:
            ev = stream.next_event(timeout=15)
            seen.append((ev.get("event"), ev.get("id"), ev["data"]))
    except (OSError, EOFError, ValueError):
        pass


def test_kill9_keeps_every_acknowledged_event(binary):
    d = tempfile.mkdtemp(prefix="rp-durable-")
    seed = int(os.environ.get("RP_TEST_SEED", time.time_ns() % 1000000))
    rng = random.Random(seed)
    where = "(RP_TEST_SEED=%d)" % seed
    srv = None
    rounds = []  # per round: (acked, seen by a live subscriber)
    started = time.monotonic()
    try:
        for rnd in range(ROUNDS):
            srv = start(binary, d, "--fsync", "always")
            acked, seen, stop = [], [], threading.Event()
            sub = Stream(srv.port, "/events?topic=k/%2B")
            reader = threading.Thread(target=subscriber, args=(sub, seen))
            reader.start()
            threads = [threading.Thread(target=publisher, args=(srv.port, k, rnd, acked, stop))
                       for k in range(4)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.02, 0.4))
            kill9(srv)
            stop.set()
            for t in threads:
                t.join(20)
            reader.join(20)
            sub.close()
            errors = [a for a in acked if a[0] == "error"]
            check(not errors, "round %d: a publish was refused: %r %s" % (rnd, errors, where))
            rounds.append((acked, seen))
        srv = start(binary, d, "--fsync", "always")
        replay = {t: read_topic(srv, t)[0] for t in TOPICS}
        check(srv.stop() == 0, "the server exits cleanly")
        srv = None
    finally:
        if srv and srv.proc.poll() is None:
            kill9(srv)
    elapsed = time.monotonic() - started
    shutil.rmtree(d, ignore_errors=True)

    n_acked = sum(len(a) for a, _ in rounds)
    check(n_acked > ROUNDS * 4, "publishers got through: %d acknowledged in %d rounds %s" % (
        n_acked, ROUNDS, where))
    everything = [x for t in TOPICS for x in replay[t]]
    by_id = {}
    for i, data in everything:
        check(i not in by_id, "id %s is in the log twice (%r and %r) %s" % (
            i, by_id.get(i), data, where))
        by_id[i] = data
    datas = [data for _, data in everything]
    check(len(set(datas)) == len(datas), "no event is in the log twice %s" % where)
    epochs = {epoch(i) for i in by_id}
    check(len(epochs) == 1, "one epoch through every restart: %s %s" % (epochs, where))
    for t in TOPICS:
        ids = [i for i, _ in replay[t]]
        check(in_order(ids), "topic %s replays in sequence order %s" % (t, where))
        want = sorted(((i, data) for acked, _ in rounds for topic, i, data in acked
                       if topic == t), key=lambda x: seq(x[0]))
        wanted = {i for i, _ in want}
        got = [x for x in replay[t] if x[0] in wanted]
        check(got == want, "topic %s: every acknowledged event once, in order (%d of %d; "
              "first difference at %d) %s" % (t, len(got), len(want),
                                              first_difference(got, want), where))
    # A sequence is never reused: whatever a round handed out (acknowledged, or delivered
    # to a subscriber before the kill) is below everything the next rounds hand out, and an
    # id a subscriber saw names the same event in the log, if the log kept it.
    highest = 0
    for rnd, (acked, seen) in enumerate(rounds):
        ids = [i for _, i, _ in acked] + [i for _, i, _ in seen if i]
        if not ids:
            continue
        check(min(seq(i) for i in ids) > highest, "round %d hands out ids above every earlier "
              "one (%d <= %d) %s" % (rnd, min(seq(i) for i in ids), highest, where))
        highest = max(seq(i) for i in ids)
        for topic, i, data in seen:
            check(by_id.get(i, data) == data, "id %s was %r for a subscriber, %r in the log %s" %
                  (i, data, by_id.get(i), where))
        for topic, i, data in acked:
            check(by_id.get(i) == data, "acknowledged %s %r is %r in the log %s" % (
                i, data, by_id.get(i), where))
    print("kill -9 x%d: %d acknowledged, %d in the log, %.1fs %s" % (
        ROUNDS, n_acked, len(everything), elapsed, where))


def test_resume_at_the_head_after_kill9(binary):
    # A client that had every event resumes after an unclean stop: it may be told (resync),
    # but is never sent again what it already had, and gets the new events.
    d = tempfile.mkdtemp(prefix="rp-durable-")
    srv = None
    try:
        srv = start(binary, d, "--fsync", "always")
        events = [(t, publish(srv, t, "event %d" % i), "event %d" % i)
                  for i, t in enumerate(["h/a", "h/b"] * 3)]
        kill9(srv)
        srv = start(binary, d, "--fsync", "always")
        new = []  # published since the restart: every resume from before it gets them all
        for path, last in (("/events/h/b", events[-1][1]),
                           ("/events?topic=h/a&topic=h/b", events[-1][1]),
                           ("/events/h/a", events[-2][1])):
            s = Stream(srv.port, path, {"Last-Event-ID": last})
            new += [(t, publish(srv, t, "new " + t), "new " + t) for t in ("h/a", "h/b")]
            want = [x for x in new if path.endswith("?topic=h/a&topic=h/b") or
                    path.endswith(x[0])]
            got, resyncs = until(s, want[-1][1])
            got = [(i, data) for _, i, data in got]
            check(got == [(i, data) for _, i, data in want],
                  "%s from %s: only the new events, nothing it had again: %r (told %r)" % (
                      path, last, got[:4], resyncs))
            s.close()
        check(srv.stop() == 0, "the server exits cleanly")
        srv = None
    finally:
        if srv and srv.proc.poll() is None:
            kill9(srv)
        shutil.rmtree(d, ignore_errors=True)


# ---- c: a full disk ----

def mount_tmpfs(path, size):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("this test mounts a %s tmpfs as a full disk and needs root "
                             "(CAP_SYS_ADMIN): mount failed: %s" % (size, r.stderr.strip()))


def ready(srv):
    return srv.request("GET", "/readyz")


def kept(events, in_doubt):
    """<events> without those of an unknown fate; none refused as "nothing was published"
    may be there, nor one of an unknown fate twice."""
    check(not [x for x in events if x[1] == "while full"], "a publish refused while the disk "
          "was full is not in the log")
    doubt = [x for x in events if x[1] in in_doubt]
    check(len(doubt) <= len(in_doubt), "an event of unknown fate is in the log at most once")
    return [x for x in events if x[1] not in in_doubt]


def disk_full(binary, fsync):
    mnt = tempfile.mkdtemp(prefix="rp-full-")
    mount_tmpfs(mnt, "2m")
    d = os.path.join(mnt, "data")
    srv = None
    try:
        srv = start(binary, d, "--fsync", fsync)
        pad = "x" * 4000
        acked, refused, in_doubt = [], None, set()
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        for n in range(2000):  # 2000 x 4 KB is four times the tmpfs
            sent = time.monotonic()
            conn.request("POST", "/publish/full", ("%d %s" % (n, pad)).encode())
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                refused = (resp.status, body, resp.getheader("Content-Type"))
                if b"may not survive a crash" in body:
                    # Delivered, not yet synced when the disk failed: its fate is unknown
                    # (the answer says so); it may be in the log, once.
                    in_doubt.add("%d %s" % (n, pad))
                break
            acked.append((json.loads(body)["id"], "%d %s" % (n, pad)))
        conn.close()
        check(refused is not None, "a 2 MB disk refuses publishes at some point (%d "
              "acknowledged)" % len(acked))
        status, body, ctype = refused
        check(status in (503, 507), "the refusal is 507 or 503: %d %r" % (status, body[:200]))
        check(ctype and "json" in ctype and "error" in json.loads(body),
              "with a JSON error: %s %r" % (ctype, body[:200]))
        check(len(acked) > 50, "many publishes got through first: %d" % len(acked))
        print("fsync %s: %d acknowledged on a 2 MB disk, then %d after %.1f s: %s" % (
            fsync, len(acked), status, time.monotonic() - sent, json.loads(body)["error"]))
        # While the disk is full: more publishes are refused, /readyz says so, and what was
        # acknowledged is all there.
        for _ in range(5):
            status, body = srv.request("POST", "/publish/full", b"while full")
            check(status in (503, 507) and "error" in body,
                  "a publish while full is refused: %d %r" % (status, body))
            time.sleep(0.1)
        status, body = ready(srv)
        check(status != 200, "/readyz is not 200 while the log cannot write: %d %r" % (
            status, body))
        got = kept(read_topic(srv, "full")[0], in_doubt)
        check(got == acked, "every acknowledged event is readable, and only those (%d, "
              "acknowledged %d; first difference at %d: %r; the refusal: %d %r)" % (
                  len(got), len(acked), first_difference(got, acked),
                  [(i, data[:12]) for i, data in got[first_difference(got, acked):][:2]],
                  refused[0], refused[1]))
        s = Stream(srv.port, "/events/full", {"Last-Event-ID": acked[0][0]})
        got = [(e["id"], e["data"]) for e in s.events(len(acked) - 1)]
        check(got == acked[1:], "and replayable by a stream")
        s.close()
        # Space comes back: publishing resumes without a restart, /readyz is 200 again.
        r = subprocess.run(["mount", "-o", "remount,size=64m", mnt], capture_output=True,
                           text=True)
        check(r.returncode == 0, "remount with 64 MB: %s" % r.stderr)
        deadline = time.monotonic() + 20
        while True:
            status, body = srv.request("POST", "/publish/full", b"space again")
            if status == 200:
                acked.append((body["id"], "space again"))
                break
            check(status in (503, 507), "refusals stay 507/503: %d %r" % (status, body))
            check(time.monotonic() < deadline, "publishing resumes within 20 s of space "
                  "coming back: %d %r" % (status, body))
            time.sleep(0.1)
        for n in range(20):
            acked.append((publish(srv, "full", "later %d" % n), "later %d" % n))
        deadline = time.monotonic() + 10
        while ready(srv)[0] != 200:
            check(time.monotonic() < deadline, "/readyz is 200 again: %r" % (ready(srv),))
            time.sleep(0.1)
        got = kept(read_topic(srv, "full")[0], in_doubt)
        check(got == acked, "every acknowledged event, before and after (%d of %d)" % (
            len(got), len(acked)))
        check(srv.stop() == 0, "the server exits cleanly")
        # And on disk: a restart replays every acknowledged event, once, in order.
        srv = start(binary, d, "--fsync", fsync)
        got = kept(read_topic(srv, "full")[0], in_doubt)
        check(got == acked, "after a restart, every acknowledged event (%d of %d; first "
              "difference at %d)" % (len(got), len(acked), first_difference(got, acked)))
        check(srv.stop() == 0, "the server exits cleanly")
        srv = None
    finally:
        if srv and srv.proc.poll() is None:
            kill9(srv)
        subprocess.run(["umount", mnt], capture_output=True)
        shutil.rmtree(mnt, ignore_errors=True)


def test_disk_full_refuses_and_recovers(binary):
    disk_full(binary, "always")


def test_disk_full_refuses_and_recovers_fsync_interval(binary):
    # The default fsync: a publish is answered before its fsync, never before its write
    # failed; nothing acknowledged may be lost either.
    disk_full(binary, "interval")


# ---- d: a torn or corrupt tail ----

def newest_segment(d):
    segs = sorted(f for f in os.listdir(d) if f.endswith(".seg"))
    check(segs, "the log has segment files: %s" % os.listdir(d))
    return os.path.join(d, segs[-1])


def log_line(srv, msg):
    """The one line the server logged with msg="<msg>" (None if none), and its plain
    key=value fields."""
    lines = [ln for ln in log_text(srv).splitlines() if 'msg="%s"' % msg in ln]
    check(len(lines) <= 1, "at most one %r line: %r" % (msg, lines))
    if not lines:
        return None, {}
    return lines[0], dict(f.split("=", 1) for f in lines[0].split() if "=" in f and '"' not in f)


def damaged_tail(binary, damage, lost):
    """Publishes 40 events, stops cleanly, <damage>s the newest segment file and starts
    again: the start-up log says what was cut, and every event but the <lost> newest ones
    (the one whose record was torn) is replayable."""
    d = tempfile.mkdtemp(prefix="rp-durable-")
    srv = None
    try:
        srv = start(binary, d)
        events = [(t, publish(srv, t, "event %d" % i), "event %d" % i)
                  for i, t in enumerate(["t/a", "t/b"] * 20)]
        check(srv.stop() == 0, "the server exits cleanly")
        damage(newest_segment(d))
        srv = start(binary, d)
        line, f = log_line(srv, "dropped a torn or corrupt tail")
        check(line and "level=warn" in line and int(f.get("bytes", 0)) > 0 and
              f.get("intact_records") == "0",
              "the start-up log says what was cut (no intact record behind it): %s" % line)
        line, f = log_line(srv, "event log opened")
        kept = events[:len(events) - lost]
        check(line and "level=warn" in line and int(f.get("bytes_dropped", 0)) > 0 and
              f.get("last_seq") == str(seq(kept[-1][1])),
              "the log opens at the last intact event, %s: %s" % (kept[-1][1], line))
        for t in ("t/a", "t/b"):
            want = [(i, data) for topic, i, data in kept if topic == t]
            got = read_topic(srv, t)[0]
            check(got == want, "%s: every intact event is replayable: %r" % (t, got[-2:]))
        # A resume from before the cut may be told (event: resync: the lost event was
        # handed out), but gets every intact event, in order, once, then the new ones.
        s = Stream(srv.port, "/events?topic=t/a&topic=t/b", {"Last-Event-ID": kept[0][1]})
        got, _ = until(s, kept[-1][1])
        check(got == kept[1:], "a multi-topic resume gets every intact event in order, once "
              "(first difference at %d)" % first_difference(got, kept[1:]))
        new = [(t, publish(srv, t, "new " + t), "new " + t) for t in ("t/a", "t/b", "t/a")]
        check(seq(new[0][1]) > seq(events[-1][1]), "a new id is above every id handed out, "
              "the dropped ones too: %s after %s" % (new[0][1], events[-1][1]))
        got, _ = until(s, new[-1][1])
        check(got == new, "then the new events, live, and nothing again: %r" % got[:4])
        s.close()
        check(srv.stop() == 0, "the server exits cleanly")
        # The cut tail stays cut: a second start drops nothing.
        srv = start(binary, d)
        line, f = log_line(srv, "event log opened")
        check(f.get("bytes_dropped") == "0" and log_line(srv, "dropped a torn or corrupt tail")[0]
              is None, "a second start drops nothing: %s" % line)
        check(srv.stop() == 0, "the server exits cleanly")
        srv = None
    finally:
        if srv and srv.proc.poll() is None:
            kill9(srv)
        shutil.rmtree(d, ignore_errors=True)


def test_torn_tail_is_cut(binary):
    def truncate(path):
        size = os.path.getsize(path)
        os.truncate(path, size - 5)
    damaged_tail(binary, truncate, 1)


def test_garbage_tail_is_cut(binary):
    def append(path):
        with open(path, "ab") as f:
            f.write(random.Random(7).randbytes(300))
    damaged_tail(binary, append, 0)


# ---- e: one process per data_dir ----

def test_second_server_on_a_data_dir_is_refused(binary):
    d = tempfile.mkdtemp(prefix="rp-durable-")
    srv = None
    try:
        srv = start(binary, d)
        first = publish(srv, "one", "first")
        r = subprocess.run([binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", d],
                           capture_output=True, text=True, timeout=20)
        check(r.returncode != 0, "a second server on the same data_dir exits non-zero: %d" %
              r.returncode)
        check("in use by another" in r.stderr and d in r.stderr,
              "and says why, naming the directory: %r" % r.stderr[-500:])
        check("listening" not in r.stderr, "it never listened")
        status, _ = srv.request("GET", "/readyz")
        check(status == 200, "the first one still serves: /readyz %d" % status)
        check(read_topic(srv, "one")[0] == [(first, "first")], "its log is untouched")
        check(srv.stop() == 0, "the server exits cleanly")
        # Once the first is gone, the directory takes a new server, with the history.
        srv = start(binary, d)
        check(read_topic(srv, "one")[0] == [(first, "first")], "the next one has the history")
        check(srv.stop() == 0, "the server exits cleanly")
        srv = None
    finally:
        if srv and srv.proc.poll() is None:
            kill9(srv)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run([test_restart_resumes_across_topics,
                  test_restart_resumes_from_disk_beyond_memory,
                  test_resume_at_the_head_after_kill9,
                  test_second_server_on_a_data_dir_is_refused,
                  test_torn_tail_is_cut, test_garbage_tail_is_cut,
                  test_disk_full_refuses_and_recovers,
                  test_disk_full_refuses_and_recovers_fsync_interval,
                  test_kill9_keeps_every_acknowledged_event], sys.argv[1]))
