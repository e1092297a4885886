#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Slow consumers: each slow_policy against a reader that stops reading, and a stalled
reader never delaying the others. The stalled reader is a real socket with a small
receive buffer that the test does not read until it says so."""
import json
import sys
import threading
import time

from support import Server, Stream, check, run, seq

PAYLOAD = "x" * 4000  # 4 KB events fill socket buffers quickly


def publish_many(srv, topic, n, batch=100, start=0):
    ids = []
    for i in range(start, start + n, batch):
        events = [{"topic": topic, "data": "%d %s" % (k, PAYLOAD)}
                  for k in range(i, min(i + batch, start + n))]
        status, body = srv.publish(events)
        check(status == 200, "publish answered %s %s" % (status, body))
        ids += body["ids"]
    return ids


def number(ev):
    return int(ev["data"].split(" ", 1)[0])


def test_stalled_reader_does_not_delay_others(binary):
    # lag_events 400 leaves a busy (not stalled) reader room when the machine is loaded by
    # other tests; the stalled one's 4 KiB window still puts it far past the limit.
    with Server(binary, "--lag-events", "400") as srv:
        stalled = Stream(srv.port, "/events/t", rcvbuf=4096)
        readers = [Stream(srv.port, "/events/t") for _ in range(5)]
        got = {i: [] for i in range(5)}

        def read(i):
            for _ in range(2000):
                got[i].append(number(readers[i].next_event()))

        threads = [threading.Thread(target=read, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        publish_many(srv, "t", 2000)
        for t in threads:
            t.join(30)
        for i in range(5):
            check(got[i] == list(range(2000)), "reader %d got %d events, in order: %s" % (
                i, len(got[i]), got[i][:3]))
        # The stalled reader went over its lag limit: slow_policy disconnect closed it.
        m = srv.metrics()
        check(m["disconnects_slow"] >= 1, "disconnects_slow is %d" % m["disconnects_slow"])
        check(m["drops"]["disconnect"] == m["disconnects_slow"], "drops by reason disagree")
        # Closed abortively (a reset: the megabytes its socket queued are dropped at once,
        # not left to the kernel), so what it had not read yet may be gone with it; it
        # resumes from the last event it read whole.
        n, closed = 0, False
        try:
            while True:
                stalled.next_event(timeout=5)
                n += 1
        except ConnectionResetError:
            closed = True
        check(closed and n < 2000, "stalled reader read %d events, reset=%s" % (n, closed))


def test_drop_oldest_announces_and_skips(binary):
    with Server(binary, "--slow-policy", "drop_oldest", "--lag-events", "100") as srv:
        s = Stream(srv.port, "/events/t", rcvbuf=4096)
        publish_many(srv, "t", 2000)
        time.sleep(0.2)
        seen, resyncs = [], []
        while len(seen) == 0 or seen[-1] != 1999:
            ev = s.next_event(timeout=5)
            if ev.get("event") == "resync":
                resyncs.append(json.loads(ev["data"]))
            else:
                seen.append(number(ev))
        check(resyncs, "no resync event was sent")
        check(all(r["policy"] == "drop_oldest" and r["reason"] == "lagged" for r in resyncs),
              "resync data: %s" % resyncs)
        check(len(seen) < 2000, "nothing was dropped")
        check(seen == sorted(set(seen)), "events repeated or out of order")
        dropped = sum(r["dropped"] for r in resyncs)
        check(dropped + len(seen) == 2000, "dropped %d + seen %d != 2000" % (dropped, len(seen)))
        check(srv.metrics()["drops_oldest"] == dropped, "metrics disagree with announcements")


def test_drop_newest_keeps_the_oldest(binary):
    with Server(binary, "--slow-policy", "drop_newest", "--lag-events", "100",
                "--history-count", "5000") as srv:
        s = Stream(srv.port, "/events/t", rcvbuf=4096)
        publish_many(srv, "t", 2000)
        time.sleep(0.2)
        seen, resyncs = [], []
        while not resyncs:
            ev = s.next_event(timeout=5)
            if ev.get("event") == "resync":
                resyncs.append(json.loads(ev["data"]))
            else:
                seen.append(number(ev))
        r = resyncs[0]
        check(r["policy"] == "drop_newest", "resync data: %s" % r)
        check(seen == list(range(len(seen))), "the oldest events were not kept in order")
        check(len(seen) + r["dropped"] == 2000, "kept %d + dropped %d" % (len(seen), r["dropped"]))
        # Caught up: the next event published arrives.
        publish_many(srv, "t", 1, start=5000)
        check(number(s.next_event()) == 5000, "event after the drop did not arrive")


def test_block_holds_publishers_then_503(binary):
    with Server(binary, "--slow-policy", "block", "--lag-events", "100", "--block-timeout",
                "500ms") as srv:
        s = Stream(srv.port, "/events/t", rcvbuf=4096)
        statuses = []
        for i in range(0, 4000, 100):
            status, body = srv.publish([{"topic": "t", "data": "%d %s" % (k, PAYLOAD)}
                                        for k in range(i, i + 100)])
            statuses.append(status)
            if status == 503:
                check("slow_policy block" in body["error"], "503 message: %s" % body)
                break
        check(statuses[-1] == 503, "publishers were never held: %s" % statuses)
        accepted = 100 * (len(statuses) - 1)
        m = srv.metrics()
        check(m["publish_block_timeouts"] >= 1, "block timeouts not counted")
        # The reader catches up and gets every accepted event, in order, nothing dropped.
        got = [number(s.next_event()) for _ in range(accepted)]
        check(got == list(range(accepted)), "reader lost events under block")
        status, _ = srv.publish([{"topic": "t", "data": "%d x" % accepted}])
        check(status == 200, "publishing did not resume after the reader caught up")
        check(number(s.next_event()) == accepted, "event after catching up")


def test_publish_during_replay_loses_nothing(binary):
    with Server(binary, "--history-count", "20000", "--history-bytes", "256m") as srv:
        ids = publish_many(srv, "r", 5000)
        extra = []

        def more():
            extra.extend(publish_many(srv, "r", 1000, batch=10, start=5000))

        t = threading.Thread(target=more)
        t.start()
        s = Stream(srv.port, "/events/r", headers={"Last-Event-ID": ids[0]})
        got = [s.next_event() for _ in range(5999)]
        t.join(30)
        check([number(e) for e in got] == list(range(1, 6000)),
              "replay plus live lost or repeated events")
        check([e["id"] for e in got] == ids[1:] + extra, "ids differ from the acknowledged ones")
        check(all(seq(a["id"]) < seq(b["id"]) for a, b in zip(got, got[1:])), "ids not increasing")


def test_fanout_many_subscribers_multi_topic(binary):
    with Server(binary) as srv:
        subs = [Stream(srv.port, "/events?topic=a&topic=b/%2B") for _ in range(200)]
        events = []
        for i in range(100):
            events.append({"topic": "a" if i % 2 else "b/%d" % (i % 3), "data": str(i)})
        status, _ = srv.publish(events)
        check(status == 200, "publish")
        for s in subs:
            got = s.events(100)
            check([int(e["data"]) for e in got] == list(range(100)), "a subscriber lost events")
            check(all(e["event"] == events[int(e["data"])]["topic"] for e in got), "topic tags")
        check(srv.metrics()["messages_sent"] == 200 * 100, "messages_sent")


if __name__ == "__main__":
    sys.exit(run([test_stalled_reader_does_not_delay_others, test_drop_oldest_announces_and_skips,
                  test_drop_newest_keeps_the_oldest, test_block_holds_publishers_then_503,
                  test_publish_during_replay_loses_nothing,
                  test_fanout_many_subscribers_multi_topic], sys.argv[1]))
