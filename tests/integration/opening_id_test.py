#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A live stream's opening id (docs/api.md, "The opening id"): a stream that starts live
writes `id: <where it starts>` and a blank line before any event, so a client whose first
connection drops before its first event reconnects with that Last-Event-ID and gets every
event published between the two connections, instead of starting live again and silently
missing them. Before the epoch's first event the id is `<epoch>-0`. A resume, a start from
the oldest event and a stream handed over in an upgrade open with no id. Checked on the own
API (one topic, several topics and a pattern, after an `unknown_id` resync), on Mercure, on
a session and across an upgrade. Real server processes on loopback."""
import json
import os
import socket
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from support import Server, Stream, check, health, run, stop_new, upgrade_step  # noqa: E402
import mercure_test as mt  # noqa: E402 - its secret, token and publish helper



def publish(srv, events):
    status, body = srv.publish(events)
    check(status == 200, "publish: %r %r" % (status, body))
    return body["ids"]


def early_drop(srv, path, headers=None):
    """A client that got its stream's opening bytes and lost the connection before any
    event: the id it learned."""
    s = Stream(srv.port, path, headers)
    oid = s.opening_id()
    s.close()
    check(oid is not None, "%s opens with an id line" % path)
    return oid


def test_reconnect_after_an_early_drop_misses_nothing(binary):
    with Server(binary) as srv:
        (before,) = publish(srv, [{"topic": "news", "data": "before"}])
        s = Stream(srv.port, "/events/news")
        oid = s.opening_id()
        s.close()
        ids = publish(srv, [{"topic": "news", "data": "a"}, {"topic": "other", "data": "x"},
                            {"topic": "news", "data": "b"}, {"topic": "news", "data": "c"}])
        # The reconnect an EventSource makes: with Last-Event-ID only if it learned an id.
        r = Stream(srv.port, "/events/news", {"Last-Event-ID": oid} if oid else None)
        try:
            got = r.events(3, timeout=3)
        except socket.timeout:
            raise AssertionError("the reconnect missed the events published between the "
                                 "connections (opening id: %r)" % oid) from None
        check(oid == before, "the opening id is where the stream starts: %r, %r" % (oid, before))
        check([e["data"] for e in got] == ["a", "b", "c"], "every missed event: %r" % got)
        check([e["id"] for e in got] == [ids[0], ids[2], ids[3]], "with their ids: %r" % got)
        check(r.bare_ids == [], "a resume opens with no id (the client holds its own)")
        # What reconnecting without the id would have done: start after everything above.
        live = Stream(srv.port, "/events/news")
        check(live.opening_id() == ids[-1], "a live start after them opens with the newest id")
        publish(srv, [{"topic": "news", "data": "d"}])
        check(r.next_event()["data"] == "d" and live.next_event()["data"] == "d",
              "both go on live")
        r.close()
        live.close()


def test_origin_before_the_first_event(binary):
    with Server(binary) as srv:
        path = "/events?topic=a&topic=b/%2B"
        oid = early_drop(srv, path)
        check(oid.endswith("-0") and len(oid) == 10,
              "nothing published yet: the epoch's origin, <epoch>-0: %r" % oid)
        ids = publish(srv, [{"topic": "a", "data": "1"}, {"topic": "b/x", "data": "2"},
                            {"topic": "c", "data": "3"}])
        check(all(i.split("-")[0] == oid.split("-")[0] for i in ids), "the same epoch")
        r = Stream(srv.port, path, {"Last-Event-ID": oid})
        got = r.events(2)
        check([(e["event"], e["data"], e["id"]) for e in got] ==
              [("a", "1", ids[0]), ("b/x", "2", ids[1])], "the whole epoch, tagged: %r" % got)
        r.close()
        status, body = srv.request("GET", "/topics/a/events?after=" + oid)
        check(status == 200 and [e["id"] for e in body["events"]] == ids[:1],
              "the origin is an `after` too: %r %r" % (status, body))


def test_unknown_id_opens_with_the_resyncs_after(binary):
    with Server(binary) as srv:
        (before,) = publish(srv, [{"topic": "u", "data": "before"}])
        s = Stream(srv.port, "/events/u", {"Last-Event-ID": "garbage"})
        ev = s.next_event()
        data = json.loads(ev["data"])
        check(ev.get("event") == "resync" and "id" not in ev and data["reason"] == "unknown_id"
              and data["after"] == before, "resync first, without an id: %r" % ev)
        check(s.opening_id() == before, "then the opening id, its `after`: %r" % s.bare_ids)
        s.close()
        ids = publish(srv, [{"topic": "u", "data": "1"}, {"topic": "u", "data": "2"}])
        r = Stream(srv.port, "/events/u", {"Last-Event-ID": before})
        check([e["id"] for e in r.events(2)] == ids, "a resume from it misses nothing")
        r.close()


def test_other_starts_open_with_no_id(binary):
    with Server(binary) as srv:
        ids = publish(srv, [{"topic": "k", "data": "1"}, {"topic": "k", "data": "2"}])
        epoch = ids[0].split("-")[0]
        other = ("0" if epoch != "00000000" else "1") * 8 + "-5"
        s = Stream(srv.port, "/events/k", {"Last-Event-ID": other})
        ev = s.next_event()
        check(ev.get("event") == "resync" and json.loads(ev["data"])["reason"] == "epoch",
              "another epoch: resync: %r" % ev)
        check([e["data"] for e in s.events(2)] == ["1", "2"], "then everything kept")
        check(s.bare_ids == [], "from the oldest event: no opening id")
        s.close()
        s = Stream(srv.port, "/events/k", {"Last-Event-ID": ids[0]})
        check(s.next_event()["id"] == ids[1] and s.bare_ids == [], "a resume: no opening id")
        s.close()


def test_mercure_resumes_from_the_opening_id(binary):
    with Server(binary, "--mercure", "true", "--mercure-jwt-secret", mt.SECRET,
                "--mercure-anonymous", "true") as srv:
        path = "/.well-known/mercure?topic=" + urllib.parse.quote(mt.BOOK, safe="")
        origin = early_drop(srv, path)
        check(origin.endswith("-0"), "nothing published yet: the origin: %r" % origin)
        first = [mt.publish(srv, mt.BOOK, "m%d" % i) for i in range(2)]
        r = Stream(srv.port, path, {"Last-Event-ID": origin})
        check(("last-event-id: %s" % origin) in r.head.lower(),
              "the hub answers the origin as the id it resumes after: %r" % r.head)
        check([e["id"] for e in r.events(2)] == first, "everything since the origin")
        r.close()
        oid = early_drop(srv, path)
        check(oid == first[-1], "a live start opens with the newest id: %r" % oid)
        more = [mt.publish(srv, mt.BOOK, "n%d" % i) for i in range(3)]
        r = Stream(srv.port, path, {"Last-Event-ID": oid})
        check([e["id"] for e in r.events(3)] == more and r.bare_ids == [],
              "a resume from it misses nothing and opens with no id")
        r.close()


def test_session_stream_opens_with_an_id(binary):
    with Server(binary, "--session-ttl", "30s") as srv:
        s = Stream(srv.port, "/events/news?session=new")
        hello = s.next_event()
        check(hello.get("event") == "connected" and "id" not in hello, "connected: %r" % hello)
        oid = s.opening_id()
        check(oid is not None and oid.endswith("-0"), "then the opening id: %r" % oid)
        s.close()
        sid = json.loads(hello["data"])["sessionId"]
        ids = publish(srv, [{"topic": "news", "data": "1"}, {"topic": "news", "data": "2"}])
        r = Stream(srv.port, "/events", {"X-SSE-Session": sid, "Last-Event-ID": oid})
        check(r.next_event().get("event") == "connected", "the session resumes")
        check([e["id"] for e in r.events(2)] == ids, "with what was published meanwhile")
        r.close()


def test_handed_over_stream_sends_no_second_id(binary):
    srv = Server(binary)
    pid = srv.proc.pid
    try:
        s = Stream(srv.port, "/events/h")
        oid = s.opening_id()
        check(oid is not None, "opening id")
        pid = upgrade_step(srv, pid)
        (after,) = publish(srv, [{"topic": "h", "data": "after"}])
        ev = s.next_event()
        check(ev["id"] == after and s.bare_ids == [oid],
              "the adopted stream goes on with no new opening id: %r %r" % (ev, s.bare_ids))
        s.close()
        check(health(srv)["pid"] == pid, "the new process serves")
    finally:
        stop_new(srv, pid if pid != srv.proc.pid else None)


if __name__ == "__main__":
    sys.exit(run([test_reconnect_after_an_early_drop_misses_nothing,
                  test_origin_before_the_first_event,
                  test_unknown_id_opens_with_the_resyncs_after,
                  test_other_starts_open_with_no_id,
                  test_mercure_resumes_from_the_opening_id,
                  test_session_stream_opens_with_an_id,
                  test_handed_over_stream_sends_no_second_id], sys.argv[1]))
