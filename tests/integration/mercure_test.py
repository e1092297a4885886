#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Mercure hub with the node's machinery behind it. Across an upgrade (SIGUSR2): a
stream of exact and `*` selectors is handed over on its TCP connection and stays untagged
(its events carry the update's type, never a hub topic name); a stream with a URI-template
selector is closed at the hand-over (its accept filter is not hand-over state) and resumes
from the new process with Last-Event-ID, missing nothing. A resume older than the memory
window is served from the disk log, untagged, as the own API's is."""
import base64
import hashlib
import hmac
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from support import Server, Stream, check, health, run, stop_new, upgrade_step  # noqa: E402

SECRET = "integration-mercure-secret-at-least-32-bytes"
BOOK = "https://example.com/books/1"


def hs256(claims):
    b = lambda o: base64.urlsafe_b64encode(  # noqa: E731
        json.dumps(o, separators=(",", ":")).encode()).rstrip(b"=")
    head = b({"alg": "HS256", "typ": "JWT"}) + b"." + b(claims)
    sig = base64.urlsafe_b64encode(
        hmac.new(SECRET.encode(), head, hashlib.sha256).digest()).rstrip(b"=")
    return (head + b"." + sig).decode()


PUBLISHER = hs256({"mercure": {"publish": ["*"]}})


def post(srv, form):
    return srv.request("POST", "/.well-known/mercure", urllib.parse.urlencode(form).encode(),
                       {"Content-Type": "application/x-www-form-urlencoded",
                        "Authorization": "Bearer " + PUBLISHER})


def publish(srv, topic, data, typ=None, event_id=None):
    form = {"topic": topic, "data": data}
    if typ:
        form["type"] = typ
    if event_id:
        form["id"] = event_id
    status, body = post(srv, form)
    check(status == 200, "publish: %r %r" % (status, body))
    if event_id:
        check(body == event_id, "the answer is the supplied id: %r" % body)
    return body


def hub_path(*selectors):
    return "/.well-known/mercure?" + "&".join(
        "topic=" + urllib.parse.quote(s, safe="") for s in selectors)


def test_mercure_streams_through_upgrade(binary):
    srv = Server(binary, "--mercure", "true", "--mercure-jwt-secret", SECRET,
                 "--mercure-anonymous", "true")
    pid = srv.proc.pid
    try:
        plain = Stream(srv.port, hub_path(BOOK, "*"))
        templ = Stream(srv.port, hub_path("https://example.com/books/{id}"))
        publish(srv, BOOK, "before", "book")
        ev = plain.next_event()
        check(ev["data"] == "before" and ev["event"] == "book" and ev.get("id"),
              "first event, with the update's type: %r" % ev)
        first = templ.next_event()
        check(first["data"] == "before", "template stream: %r" % first)
        pid = upgrade_step(srv, pid)
        publish(srv, BOOK, "after")
        ev = plain.next_event()
        check(ev["data"] == "after" and "event" not in ev,
              "the handed-over stream stays untagged: %r" % ev)
        # The template stream was closed at the hand-over; it resumes by itself.
        try:
            templ.next_event(timeout=3)
            check(False, "the template stream should have been closed")
        except EOFError:
            pass
        again = Stream(srv.port, hub_path("https://example.com/books/{id}"),
                       {"Last-Event-ID": first["id"]})
        check(again.next_event()["data"] == "after", "resumed: nothing missed")
        for s in (plain, again):
            s.close()
        check(health(srv)["pid"] == pid, "the new process serves")
    finally:
        stop_new(srv, pid if pid != srv.proc.pid else None)


def test_resume_older_than_memory_comes_from_disk(binary):
    d = tempfile.mkdtemp(prefix="rp-mercure-")
    conf = "data_dir = %s\nfsync = always\nhistory_count = 5\n" % d
    with Server(binary, "--mercure", "true", "--mercure-jwt-secret", SECRET,
                "--mercure-anonymous", "true", config=conf) as srv:
        ids = [publish(srv, BOOK, "b-%d" % i, "book") for i in range(20)]
        other = "https://example.com/authors/1"
        for i in range(3):
            publish(srv, other, "a-%d" % i)
        s = Stream(srv.port, hub_path(BOOK), {"Last-Event-ID": ids[2]})
        check(("last-event-id: %s" % ids[2]) in s.head.lower(), "resume header: %r" % s.head)
        got = []
        while not got or got[-1]["id"] != ids[-1]:
            got.append(s.next_event(timeout=10))
        s.close()
        check([e["id"] for e in got] == ids[3:], "every missed event, in order: %r" % got[:3])
        check([e["data"] for e in got] == ["b-%d" % i for i in range(3, 20)], "their data")
        check(all(e.get("event") == "book" for e in got), "untagged: the update's type")
        # Public and private topics of one subscriber, merged from disk in id order.
        token = hs256({"mercure": {"subscribe": [BOOK]}})
        priv = [publish_private(srv, BOOK, "p-%d" % i) for i in range(8)]
        s = Stream(srv.port, hub_path(BOOK), {"Last-Event-ID": ids[5],
                                               "Authorization": "Bearer " + token})
        got = []
        while not got or got[-1]["id"] != priv[-1]:
            got.append(s.next_event(timeout=10))
        s.close()
        check([e["id"] for e in got] == ids[6:] + priv, "public then private: %r" % got[:3])
    shutil.rmtree(d)


TEMPLATE = "https://example.com/books/{id}"


def read_after(srv, selectors, last, upto):
    """The events a resume from <last> gets, up to the one with id <upto>, and the head."""
    s = Stream(srv.port, hub_path(*selectors), {"Last-Event-ID": last})
    got = []
    while not got or got[-1]["id"] != upto:
        got.append(s.next_event(timeout=10))
    s.close()
    return s.head.lower(), [(e["id"], e["data"]) for e in got]


def check_supplied_resumes(srv, ids, what):
    """A resume from each supplied id of <ids> (published in order to BOOK, data = id),
    through an exact, a `*` and a URI-template selector: exactly what came after it, with the
    supplied ids, the header answering the id as asked for."""
    for sel in ([BOOK], ["*"], [TEMPLATE]):
        for i, last in enumerate(ids[:-1]):
            head, got = read_after(srv, sel, last, ids[-1])
            check(("last-event-id: %s" % last.lower()) in head,
                  "%s, %r from %r: resume header: %r" % (what, sel, last, head))
            check(got == [(x, "d-" + x) for x in ids[i + 1:]],
                  "%s, %r from %r: %r" % (what, sel, last, got))


def check_retry_refused(srv, event_id):
    status, body = post(srv, {"topic": BOOK, "data": "again", "id": event_id})
    check(status == 409 and "already published" in body["error"],
          "a retry with a stored id is refused with a message: %r %r" % (status, body))


def test_supplied_ids_resume_after_restart(binary):
    d = tempfile.mkdtemp(prefix="rp-mercure-")
    conf = "data_dir = %s\nfsync = always\n" % d
    flags = ("--mercure", "true", "--mercure-jwt-secret", SECRET, "--mercure-anonymous", "true")
    ids = ["urn:uuid:r-%d" % i for i in range(4)]
    with Server(binary, *flags, config=conf) as srv:
        # Another topic's update before them: a `*` resume from them does not read it.
        publish(srv, "https://example.com/authors/1", "other")
        for x in ids[:3]:
            publish(srv, BOOK, "d-" + x, event_id=x)
    # A new process on the same disk log: the ids are still the updates' ids.
    with Server(binary, *flags, config=conf) as srv:
        check_retry_refused(srv, ids[2])
        publish(srv, BOOK, "d-" + ids[3], event_id=ids[3])
        check_supplied_resumes(srv, ids, "after a restart")
    shutil.rmtree(d)


def test_supplied_ids_resume_after_upgrade(binary):
    srv = Server(binary, "--mercure", "true", "--mercure-jwt-secret", SECRET,
                 "--mercure-anonymous", "true")
    pid = srv.proc.pid
    ids = ["u-%d" % i for i in range(4)]
    try:
        for x in ids[:3]:
            publish(srv, BOOK, "d-" + x, event_id=x)
        pid = upgrade_step(srv, pid)
        check(health(srv)["pid"] == pid, "the new process serves")
        check_retry_refused(srv, ids[1])
        publish(srv, BOOK, "d-" + ids[3], event_id=ids[3])
        check_supplied_resumes(srv, ids, "after an upgrade")
    finally:
        stop_new(srv, pid if pid != srv.proc.pid else None)


def test_active_subscriptions_end_with_the_server(binary):
    """With mercure_subscriptions, streams of every kind are listed while open, and a server
    stopped while they are open (each withdrawing its subscription as it closes) exits
    cleanly."""
    flags = ("--mercure", "true", "--mercure-jwt-secret", SECRET, "--mercure-anonymous", "true",
             "--mercure-subscriptions", "true")
    watcher = hs256({"mercure": {"subscribe": ["*"]}})
    with Server(binary, *flags) as srv:
        streams = [Stream(srv.port, hub_path(BOOK)), Stream(srv.port, hub_path("*")),
                   Stream(srv.port, hub_path(TEMPLATE)),
                   Stream(srv.port, "/.well-known/mercure?matchURLPattern=" +
                          urllib.parse.quote("https://example.com/books/:id", safe=""))]
        # A stream is listed once the server took its request, a moment after the connect.
        for _ in range(50):
            status, body = srv.request("GET", "/.well-known/mercure/subscriptions", b"",
                                       {"Authorization": "Bearer " + watcher})
            check(status == 200, "the API: %r %r" % (status, body))
            if len(body["subscriptions"]) >= 4:
                break
            time.sleep(0.1)
        topics = sorted(x["topic"] for x in body["subscriptions"])
        check(topics == sorted([BOOK, "*", TEMPLATE, "https://example.com/books/:id"]),
              "every open stream is listed: %r" % topics)
        publish(srv, BOOK, "still delivered")
        check(streams[0].next_event()["data"] == "still delivered", "delivery unchanged")
        streams[0].close()
        deadline = 50
        while deadline:
            status, body = srv.request("GET", "/.well-known/mercure/subscriptions", b"",
                                       {"Authorization": "Bearer " + watcher})
            if len(body["subscriptions"]) == 3:
                break
            deadline -= 1
            time.sleep(0.1)
        check(len(body["subscriptions"]) == 3, "a closed stream is withdrawn: %r" % body)
    # The others were open when the server stopped: `with` checked its clean exit.


def publish_private(srv, topic, data):
    status, body = srv.request("POST", "/.well-known/mercure",
                               urllib.parse.urlencode({"topic": topic, "data": data,
                                                       "private": "on"}).encode(),
                               {"Content-Type": "application/x-www-form-urlencoded",
                                "Authorization": "Bearer " + PUBLISHER})
    check(status == 200, "publish: %r %r" % (status, body))
    return body


if __name__ == "__main__":
    sys.exit(run([test_mercure_streams_through_upgrade,
                  test_resume_older_than_memory_comes_from_disk,
                  test_supplied_ids_resume_after_restart,
                  test_supplied_ids_resume_after_upgrade,
                  test_active_subscriptions_end_with_the_server], sys.argv[1]))
