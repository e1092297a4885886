#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sessions (docs/sessions.md), as a client and a back end see them: a stream that asks
?session=new gets `event: connected` with its id and a cookie; a reconnect within
session_ttl that presents only the session and its Last-Event-ID gets every topic event and
every targeted event it missed, exactly once, in order; after the TTL (or past
session_buffer) sends answer 404 and a client presenting the id gets a new session and
`event: resync`; another subject or another address presenting the id gets 403 (counted)
while the owner keeps receiving; with the disk log, sessions and their events survive a
restart. Real server processes on loopback."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from support import (Server, Stream, check, health, run, seq, stop_new,  # noqa: E402
                     upgrade_step)

SECRET = "session-test-secret-that-is-long-enough-0123456789"
KEY = "publisher-key-for-session-tests"


def open_session(srv, path, headers=None):
    """A stream and its `connected` event's data."""
    s = Stream(srv.port, path, headers)
    ev = s.next_event()
    check(ev.get("event") == "connected", "first event is connected: %r" % ev)
    check("id" not in ev, "connected carries no id (Last-Event-ID stays put): %r" % ev)
    return s, json.loads(ev["data"])


def send(srv, sid, data, headers=None, event=None):
    path = "/sessions/%s/events" % sid + ("?event=" + event if event else "")
    return srv.request("POST", path, data.encode(), headers)


def session_info(srv, sid, headers=None):
    return srv.request("GET", "/sessions/" + sid, headers=headers)


def wait_state(srv, sid, state, headers=None, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = session_info(srv, sid, headers)
        if status == 200 and body["state"] == state:
            return body
        time.sleep(0.05)
    raise AssertionError("session %s did not become %s: %r" % (sid, state, body))


def publish(srv, topic, data, headers=None):
    status, body = srv.request("POST", "/publish/" + topic, data.encode(), headers)
    check(status == 200, "publish: %d %r" % (status, body))
    return body["id"]


def token(binary, sub, *claims):
    out = subprocess.run([binary, "token", "--auth-jwt-secret", SECRET, "--sub", sub,
                          "--ttl", "10m"] + list(claims), capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def test_resume_gets_every_event_once(binary):
    with Server(binary, "--session-ttl", "30s") as srv:
        s, hello = open_session(srv, "/events?topic=news&topic=sport&session=new")
        sid = hello["sessionId"]
        check(len(sid) == 32 and hello["topics"] == ["news", "sport"] and
              hello["resumed"] is False, "connected says the session: %r" % hello)
        check("Set-Cookie: revenprox_session=%s; Path=/; HttpOnly; SameSite=Lax" % sid
              in s.head, "the cookie: %s" % s.head)
        publish(srv, "news", "n0")
        status, body = send(srv, sid, "hello you")
        check(status == 200 and body["session"] == sid, "send: %d %r" % (status, body))
        got = s.events(2)
        check([e["data"] for e in got] == ["n0", "hello you"], "live: %r" % got)
        last = got[-1]["id"]
        s.close()
        wait_state(srv, sid, "disconnected")

        missed = [("news", publish(srv, "news", "n1"))]
        status, body = send(srv, sid, json.dumps({"event": "note", "data": {"k": 1}}),
                            {"Content-Type": "application/json"})
        check(status == 200, "JSON send while away: %d %r" % (status, body))
        missed.append(("session", body["id"]))
        missed.append(("sport", publish(srv, "sport", "s1")))
        status, body = send(srv, sid, json.dumps([{"data": "a"}, {"data": "b"}]),
                            {"Content-Type": "application/json"})
        check(status == 200 and len(body["ids"]) == 2, "batch send: %d %r" % (status, body))
        info = wait_state(srv, sid, "disconnected")
        check(info["buffered_events"] == 3 and info["topics"] == ["news", "sport"],
              "GET /sessions/{id}: %r" % info)
        publish(srv, "weather", "not mine")

        # Only the session and its Last-Event-ID: every topic resumes.
        r, hello = open_session(srv, "/events", {"X-SSE-Session": sid, "Last-Event-ID": last})
        check(hello["sessionId"] == sid and hello["resumed"] is True, "resumed: %r" % hello)
        got = r.events(5)
        check([e["data"] for e in got] == ["n1", '{"k":1}', "s1", "a", "b"],
              "every missed event once, in order: %r" % got)
        check(got[1].get("event") == "note", "event type kept: %r" % got[1])
        check([seq(e["id"]) for e in got] == sorted(seq(e["id"]) for e in got), "ordered")
        marker = publish(srv, "news", "after")
        ev = r.next_event()
        check(ev["id"] == marker, "nothing repeated before the next live event: %r" % ev)
        m = srv.metrics()["sessions"]
        check(m["resumes"] == 1 and m["connected"] == 1 and m["created"] == 1,
              "metrics: %r" % m)
        r.close()


def test_cookie_resume_without_last_event_id(binary):
    """A page that lost its Last-Event-ID but presents the cookie resumes where its last
    stream stopped."""
    with Server(binary) as srv:
        s, hello = open_session(srv, "/events/news?session=new")
        sid = hello["sessionId"]
        first = publish(srv, "news", "seen")
        check(s.next_event()["id"] == first, "live event")
        s.close()
        wait_state(srv, sid, "disconnected")
        send(srv, sid, "private")
        publish(srv, "news", "missed")
        r, hello = open_session(srv, "/events?session=new",
                                {"Cookie": "other=1; revenprox_session=%s" % sid})
        check(hello["sessionId"] == sid, "the cookie resumes it: %r" % hello)
        got = r.events(2)
        check([e["data"] for e in got] == ["private", "missed"], "from where it stopped: %r" % got)
        r.close()


def test_session_always_and_cookie_attributes(binary):
    with Server(binary, "--session-always", "true", "--session-cookie", "sid",
                "--session-cookie-secure", "true", "--session-cookie-samesite", "none") as srv:
        s, hello = open_session(srv, "/events/news")
        check("Set-Cookie: sid=%s; Path=/; HttpOnly; SameSite=None; Secure" % hello["sessionId"]
              in s.head, "cookie attributes: %s" % s.head)
        s.close()
    with Server(binary, "--session-cookie", "") as srv:
        s, hello = open_session(srv, "/events/news?session=new")
        check("Set-Cookie" not in s.head, "no cookie when session_cookie is empty")
        s.close()
        plain = Stream(srv.port, "/events/news")
        marker = publish(srv, "news", "plain")
        check(plain.next_event()["id"] == marker, "a plain stream is no session by default")
        plain.close()


def test_expired_session(binary):
    with Server(binary, "--session-ttl", "1s") as srv:
        s, hello = open_session(srv, "/events/news?session=new")
        sid = hello["sessionId"]
        s.close()
        wait_state(srv, sid, "disconnected")
        deadline = time.monotonic() + 5
        while session_info(srv, sid)[0] != 404 and time.monotonic() < deadline:
            time.sleep(0.1)
        status, body = send(srv, sid, "too late")
        check(status == 404 and "expired" in body["error"], "send after ttl: %d %r" % (status, body))
        check(session_info(srv, sid)[0] == 404, "GET after ttl is 404")
        r, hello = open_session(srv, "/events/news?session=" + sid)
        check(hello["sessionId"] != sid and hello["resumed"] is False, "a new session: %r" % hello)
        ev = r.next_event()
        check(ev.get("event") == "resync" and json.loads(ev["data"])["previous"] == sid,
              "then resync: %r" % ev)
        check(srv.metrics()["sessions"]["expiries"] == 1, "expiry counted")
        r.close()
        # A presented value that is no id at all is not echoed into the stream.
        r, hello = open_session(srv, "/events/news?session=x%0Adata:%20injected")
        ev = r.next_event()
        check(ev.get("event") == "resync" and json.loads(ev["data"])["previous"] is None and
              "injected" not in ev["data"], "garbage id not echoed: %r" % ev)
        r.close()


def test_buffer_overflow_expires(binary):
    with Server(binary, "--session-buffer", "3") as srv:
        s, hello = open_session(srv, "/events/news?session=new")
        sid = hello["sessionId"]
        s.close()
        wait_state(srv, sid, "disconnected")
        for i in range(3):
            status, _ = send(srv, sid, "e%d" % i)
            check(status == 200, "within session_buffer")
        status, body = send(srv, sid, "one too many")
        check(status == 404 and "session_buffer" in body["error"], "overflow: %d %r" % (status, body))
        check(send(srv, sid, "again")[0] == 404, "gone after")
        r, hello = open_session(srv, "/events/news", {"X-SSE-Session": sid})
        check(hello["sessionId"] != sid, "new session")
        check(r.next_event().get("event") == "resync", "and resync")
        r.close()


def stream_from(port, source, path, headers):
    """The status line of a GET from source address <source>."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    req = "GET %s HTTP/1.1\r\nHost: localhost\r\n" % path
    for k, v in headers.items():
        req += "%s: %s\r\n" % (k, v)
    sock.sendall(req.encode() + b"\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    sock.close()
    return data.split(b"\r\n")[0].decode()


def test_hijack_other_address(binary):
    with Server(binary) as srv:
        s, hello = open_session(srv, "/events/news?session=new")
        sid = hello["sessionId"]
        line = stream_from(srv.port, "127.0.0.2", "/events/news", {"X-SSE-Session": sid})
        check(" 403 " in line, "another address is refused: %s" % line)
        check(send(srv, sid, "still yours")[0] == 200, "send")
        check(s.next_event()["data"] == "still yours", "the owner keeps receiving")
        check(srv.metrics()["sessions"]["hijacks_refused"] == 1, "counted")
        # The same id in a cookie under ?session=new (a browser whose address changed, or
        # a stolen cookie): a new session, the owner's untouched.
        sock = socket.socket()
        sock.bind(("127.0.0.2", 0))
        sock.settimeout(10)
        sock.connect(("127.0.0.1", srv.port))
        sock.sendall(("GET /events/news?session=new HTTP/1.1\r\nHost: localhost\r\n"
                      "Cookie: revenprox_session=%s\r\n\r\n" % sid).encode())
        data = b""
        while b"event: connected" not in data or not data.endswith(b"\n\n"):
            data += sock.recv(4096)
        sock.close()
        check(b" 200 " in data.split(b"\r\n")[0] and sid.encode() not in
              data.split(b"event: connected")[1], "a new session for the cookie: %r" % data)
        check(srv.metrics()["sessions"]["hijacks_refused"] == 2, "counted too")
        check(send(srv, sid, "still yours 2")[0] == 200, "send")
        check(s.next_event()["data"] == "still yours 2", "the owner keeps receiving")
        s.close()


def test_hijack_other_subject_and_subject_sends(binary):
    with Server(binary, "--auth-mode", "jwt", "--auth-jwt-secret", SECRET,
                "--auth-publisher-key", KEY) as srv:
        alice = token(binary, "alice", "--read", "news")
        mallory = token(binary, "mallory", "--read", "news")
        pub = {"Authorization": "Bearer " + KEY}
        a1, h1 = open_session(srv, "/events/news?session=new&auth=" + alice)
        a2, h2 = open_session(srv, "/events/news?session=new&auth=" + alice)
        m, hm = open_session(srv, "/events/news?session=new&auth=" + mallory)
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(("GET /events?auth=%s HTTP/1.1\r\nHost: localhost\r\nX-SSE-Session: %s\r\n\r\n"
                   % (mallory, h1["sessionId"])).encode())
        head = s.recv(4096).decode()
        s.close()
        check(head.startswith("HTTP/1.1 403"), "another subject is refused: %s" % head)
        check(srv.metrics()["sessions"]["hijacks_refused"] == 1, "counted")
        # Sends need the publisher key (or a write claim on the session namespace).
        status, _ = send(srv, h1["sessionId"], "x", {"Authorization": "Bearer " + alice})
        check(status == 403, "a reader may not send: %d" % status)
        status, body = srv.request("POST", "/sessions/events?subject=alice", b"to alice", pub)
        check(status == 200 and len(body["sent"]) == 2, "every session of alice: %r" % body)
        check(a1.next_event()["data"] == "to alice" and a2.next_event()["data"] == "to alice",
              "both of alice's sessions got it (the owner kept receiving)")
        status, body = srv.request(
            "POST", "/sessions/events?session=%s&session=%s&session=%s" % (
                h2["sessionId"], hm["sessionId"], "0" * 32), b"listed", pub)
        check(status == 200 and len(body["sent"]) == 2 and body["not_found"] == ["0" * 32],
              "a list of sessions: %r" % body)
        check(a2.next_event()["data"] == "listed" and m.next_event()["data"] == "listed", "got")
        status, body = srv.request("GET", "/sessions?subject=alice", headers=pub)
        check(status == 200 and len(body["sessions"]) == 2 and
              body["sessions"][0]["subject"] == "alice", "list: %r" % body)
        status, body = session_info(srv, h1["sessionId"], pub)
        check(status == 200 and body["state"] == "connected", "info: %r" % body)
        check(session_info(srv, h1["sessionId"])[0] == 401, "info needs a key")
        for c in (a1, a2, m):
            c.close()


def test_private_topics_are_not_readable(binary):
    with Server(binary) as srv:
        s, hello = open_session(srv, "/events/news?session=new")
        sid = hello["sessionId"]
        status, body = srv.request("GET", "/events/_revenprox/session/" + sid)
        check(status == 403, "a session's topic by name: %d %r" % (status, body))
        everything = Stream(srv.port, "/events?topic=%23")
        send(srv, sid, "secret")
        marker = publish(srv, "news", "public")
        ev = everything.next_event()
        check(ev["id"] == marker, "`#` does not see session events: %r" % ev)
        status, _ = srv.request("POST", "/publish/_revenprox/session/" + sid, b"x")
        check(status == 403, "nor can anyone publish to it")
        everything.close()
        s.close()


def test_restart_keeps_sessions(binary):
    d = tempfile.mkdtemp(prefix="rp-sessions-")
    try:
        srv = Server(binary, "--data-dir", d)
        s, hello = open_session(srv, "/events/news?session=new")
        sid = hello["sessionId"]
        first = publish(srv, "news", "n0")
        check(s.next_event()["id"] == first, "live")
        s.close()
        wait_state(srv, sid, "disconnected")
        check(send(srv, sid, "before restart")[0] == 200, "send")
        publish(srv, "news", "n1")
        check(srv.stop() == 0, "clean stop")

        srv = Server(binary, "--data-dir", d)
        info = wait_state(srv, sid, "disconnected")
        check(info["topics"] == ["news"] and info["buffered_events"] == 1, "restored: %r" % info)
        check(send(srv, sid, "after restart")[0] == 200, "the session takes sends")
        r, hello = open_session(srv, "/events", {"X-SSE-Session": sid, "Last-Event-ID": first})
        check(hello["sessionId"] == sid and hello["resumed"], "resumed across the restart")
        got = r.events(3)
        check([e["data"] for e in got] == ["before restart", "n1", "after restart"],
              "every event once, across the restart: %r" % got)
        r.close()
        check(srv.stop() == 0, "clean stop")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_resume_from_disk_beyond_memory(binary):
    """A session resume older than the memory window waits for the disk log's history, and
    still starts with `connected` and gives every event once. (fsync always: the history
    reader serves what is durable; a resume past it is told of the gap, as any stream's.)"""
    with Server(binary, "--history-count", "4", "--fsync", "always") as srv:
        s, hello = open_session(srv, "/events/news?session=new")
        sid = hello["sessionId"]
        first = publish(srv, "news", "n0")
        check(s.next_event()["id"] == first, "live")
        s.close()
        wait_state(srv, sid, "disconnected")
        want = []
        for i in range(30):
            want.append("n%d" % (i + 1))
            publish(srv, "news", want[-1])
            if i % 10 == 0:
                want.append("p%d" % i)
                check(send(srv, sid, want[-1])[0] == 200, "send")
        r, hello = open_session(srv, "/events", {"X-SSE-Session": sid, "Last-Event-ID": first})
        check(hello["sessionId"] == sid and hello["resumed"], "resumed: %r" % hello)
        got = r.events(len(want))
        check([e["data"] for e in got] == want, "every event once, from disk: %r" % got)
        check(srv.metrics()["sessions"]["connected"] == 1, "one stream attached")
        r.close()


def test_upgrade_keeps_session_streams(binary):
    """A session's stream handed over in an upgrade stays its session's: sends reach it,
    the session stays connected past session_ttl, and a later reconnect resumes it."""
    srv = Server(binary, "--session-ttl", "1s")
    new_pid = None
    try:
        s, hello = open_session(srv, "/events/news?session=new")
        sid = hello["sessionId"]
        check(send(srv, sid, "before")[0] == 200, "send")
        check(s.next_event()["data"] == "before", "got it")
        new_pid = upgrade_step(srv, health(srv)["pid"])
        time.sleep(2.5)  # past session_ttl: a session that lost its stream would be gone
        info = wait_state(srv, sid, "connected")
        check(info["streams"] == 1, "attached in the successor: %r" % info)
        status, body = send(srv, sid, "after")
        check(status == 200, "send after the upgrade: %d %r" % (status, body))
        check(s.next_event()["data"] == "after", "the handed-over stream gets it")
        s.close()
        wait_state(srv, sid, "disconnected")
    finally:
        stop_new(srv, new_pid)


if __name__ == "__main__":
    sys.exit(run([test_resume_gets_every_event_once, test_cookie_resume_without_last_event_id,
                  test_session_always_and_cookie_attributes,
                  test_expired_session, test_buffer_overflow_expires,
                  test_hijack_other_address, test_hijack_other_subject_and_subject_sends,
                  test_private_topics_are_not_readable, test_restart_keeps_sessions,
                  test_resume_from_disk_beyond_memory, test_upgrade_keeps_session_streams],
                 sys.argv[1]))
