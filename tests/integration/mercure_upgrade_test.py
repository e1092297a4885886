#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Mercure streams across an upgrade (SIGUSR2): a stream of exact and `*` selectors is
handed over on its TCP connection and stays untagged (its events carry the update's type,
never a hub topic name); a stream with a URI-template selector is closed at the hand-over
(its accept filter is not hand-over state) and resumes from the new process with
Last-Event-ID, missing nothing."""
import base64
import hashlib
import hmac
import json
import os
import sys
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


def publish(srv, topic, data, typ=None):
    form = {"topic": topic, "data": data}
    if typ:
        form["type"] = typ
    status, body = srv.request("POST", "/.well-known/mercure",
                               urllib.parse.urlencode(form).encode(),
                               {"Content-Type": "application/x-www-form-urlencoded",
                                "Authorization": "Bearer " + PUBLISHER})
    check(status == 200, "publish: %r %r" % (status, body))
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


if __name__ == "__main__":
    sys.exit(run([test_mercure_streams_through_upgrade], sys.argv[1]))
