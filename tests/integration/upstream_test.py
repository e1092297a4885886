# SPDX-License-Identifier: MIT
"""The concentrator against a real upstream SSE server that misbehaves on demand
(upstream_server.py): one upstream connection for many clients, resume with the latest
Last-Event-ID, the WHATWG parsing cases, the statuses that stop an upstream, idle close,
always-on feeds, typed topics and forwarded credentials."""
import json
import sys
import time

import support
from support import Server, Stream, check
from upstream_server import Upstream


def upstreams(srv):
    status, body = srv.request("GET", "/upstreams")
    check(status == 200, "GET /upstreams answers 200: %r" % (body,))
    return body["upstreams"]


def wait_state(srv, topic, states, timeout=10):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for u in upstreams(srv):
            if u["topic"] == topic:
                last = u
                if u["state"] in states:
                    return u
        time.sleep(0.05)
    raise AssertionError("upstream %s never reached %s: %r" % (topic, states, last))


def flags(up, *extra):
    return ("--upstreams", "src=%s" % up.url, "--upstream-retry-min", "50ms",
            "--upstream-retry-max", "200ms") + extra


def test_one_connection_for_many_clients(binary):
    up = Upstream()
    with Server(binary, *flags(up)) as srv:
        clients = [Stream(srv.port, "/upstream/src/feed/a") for _ in range(20)]
        check(all(c.head.startswith("HTTP/1.1 200") for c in clients), "streams open")
        up.wait_live("/feed/a", 1)
        up.publish("/feed/a", "hello", event="greet")
        up.publish("/feed/a", "line one\nline two")
        for c in clients:
            evs = c.events(2)
            check([e["data"] for e in evs] == ["hello", "line one\nline two"], "data: %r" % evs)
            check(evs[0].get("event") == "greet" and "event" not in evs[1], "types: %r" % evs)
            # Our ids, not the upstream's.
            check(all(not e["id"].startswith("u") and "-" in e["id"] for e in evs),
                  "our ids: %r" % evs)
        time.sleep(0.3)
        check(len(up.requests_for("/feed/a")) == 1,
              "the back end saw one connection: %d" % len(up.requests_for("/feed/a")))
        u = wait_state(srv, "src/feed/a", ["streaming"])
        check(u["clients"] == 20 and u["events_in"] == 2 and u["last_id"] == "u2",
              "/upstreams: %r" % u)
        status, text = srv.request("GET", "/metrics")
        check('revenprox_upstreams{state="streaming"} 1' in text, "metrics show it streaming")
        check("revenprox_upstream_events_total 2" in text, "metrics count its events")
        # The same per upstream in the JSON metrics.
        m = srv.metrics()["upstreams"]
        check(m["states"]["streaming"] == 1 and m["events_in"] == 2 and m["bytes_in"] > 0,
              "JSON metrics totals: %r" % m)
        mine = [x for x in m["list"] if x["topic"] == "src/feed/a"]
        check(len(mine) == 1, "JSON metrics list the upstream: %r" % m)
        mine = mine[0]
        check(mine["name"] == "src" and mine["url"] == up.url + "/feed/a"
              and mine["state"] == "streaming" and mine["clients"] == 20
              and mine["events_in"] == 2 and mine["bytes_in"] > 0 and mine["reconnects"] == 0
              and abs(mine["last_event_ms"] - time.time() * 1000) < 60000,
              "JSON metrics of the upstream: %r" % mine)
        for c in clients:
            c.close()
    up.close()


def test_reconnect_sends_latest_id_and_drops_half_frame(binary):
    up = Upstream()
    with Server(binary, *flags(up)) as srv:
        s = Stream(srv.port, "/upstream/src/feed/b")
        up.wait_live("/feed/b", 1)
        for i in range(3):
            up.publish("/feed/b", "e%d" % i)
        check([e["data"] for e in s.events(3)] == ["e0", "e1", "e2"], "first events")
        # Dropped mid-frame: the half event is never delivered.
        up.send_raw("/feed/b", b"id: bogus\ndata: half")
        time.sleep(0.05)
        up.drop("/feed/b")
        reqs = up.wait_requests("/feed/b", 2)
        check(reqs[1].get("last-event-id") == "u3", "reconnect resumes from u3: %r" % reqs[1])
        up.wait_live("/feed/b", 1)
        up.publish("/feed/b", "e3")
        up.publish("/feed/b", "e4")
        check([e["data"] for e in s.events(2)] == ["e3", "e4"], "no half event, no duplicate")
        up.drop("/feed/b")
        reqs = up.wait_requests("/feed/b", 3)
        check(reqs[2].get("last-event-id") == "u5", "the LATEST id each time: %r" % reqs[2])
        up.wait_live("/feed/b", 1)
        up.publish("/feed/b", "e5")
        check(s.next_event()["data"] == "e5", "goes on after the second reconnect")
        u = wait_state(srv, "src/feed/b", ["streaming"])
        check(u["reconnects"] == 2, "two reconnects counted: %r" % u)
        s.close()
    up.close()


def test_upstream_retry_is_honoured(binary):
    up = Upstream(retry_ms=1500)
    with Server(binary, *flags(up)) as srv:
        s = Stream(srv.port, "/upstream/src/feed/r")
        up.wait_live("/feed/r", 1)
        up.publish("/feed/r", "one")
        check(s.next_event()["data"] == "one", "first event")
        time.sleep(0.1)
        t0 = time.monotonic()
        up.drop("/feed/r")
        up.wait_requests("/feed/r", 2)
        waited = time.monotonic() - t0
        # retry: 1500 over upstream_retry_min 50ms / upstream_retry_max 200ms.
        check(1.4 <= waited <= 4, "reconnected after the upstream's retry: %.2fs" % waited)
        s.close()
    up.close()


def test_client_resume_across_its_own_reconnect(binary):
    up = Upstream()
    with Server(binary, *flags(up, "--upstream-idle", "30s")) as srv:
        s = Stream(srv.port, "/upstream/src/feed/c")
        up.wait_live("/feed/c", 1)
        up.publish("/feed/c", "a")
        first = s.next_event()
        s.close()
        up.publish("/feed/c", "b")  # while the client is away
        up.publish("/feed/c", "c")
        time.sleep(0.3)
        s = Stream(srv.port, "/upstream/src/feed/c", {"Last-Event-ID": first["id"]})
        check([e["data"] for e in s.events(2)] == ["b", "c"], "missed events replayed")
        s.close()
    up.close()


def test_bom_cr_line_ends_split_reads(binary):
    up = Upstream()
    with Server(binary, *flags(up)) as srv:
        s = Stream(srv.port, "/upstream/src/crbom")
        evs = s.events(2)
        check(evs[0]["data"] == "first" and evs[0].get("event") == "note", "first: %r" % evs)
        check(evs[1]["data"] == "second\nline", "second: %r" % evs)
        check(wait_state(srv, "src/crbom", ["streaming"])["last_id"] == "c2", "id c2 kept")
        s.close()
    up.close()


def test_malformed_lines_and_slow_writer(binary):
    up = Upstream()
    with Server(binary, *flags(up)) as srv:
        s = Stream(srv.port, "/upstream/src/malformed")
        evs = s.events(3)
        check(evs[0]["data"] == "kept", "event after junk lines: %r" % evs)
        # `data` alone is one empty data line: an event with empty data.
        check(evs[1]["data"] == "", "an empty data line: %r" % evs)
        check(evs[2]["data"] == " two spaces", "one leading space removed: %r" % evs)
        s2 = Stream(srv.port, "/upstream/src/slow")
        check(s2.next_event()["data"] == "slow", "byte-by-byte writer")
        s.close()
        s2.close()
    up.close()


def test_huge_line_is_refused_clearly(binary):
    up = Upstream()
    with Server(binary, *flags(up, "--upstream-max-line", "64k")) as srv:
        s = Stream(srv.port, "/upstream/src/huge")
        check(s.next_event()["data"] == "small", "the event before the huge line")
        up.wait_requests("/huge", 2)  # reconnected, not stuck
        u = wait_state(srv, "src/huge", ["backoff", "connecting", "streaming"])
        check("line" in u["last_error"] and "upstream_max_line" in u["last_error"],
              "a clear error: %r" % u)
        check(u["state"] != "failed", "a huge line is retried, not fatal")
        s.close()
    up.close()


def test_statuses_stop_or_back_off(binary):
    up = Upstream()
    with Server(binary, *flags(up, "--upstream-read-timeout", "1s")) as srv:
        cases = {"status/204": "204", "status/301": "301", "status/404": "404", "ctype": "text/plain"}
        streams = [Stream(srv.port, "/upstream/src/" + p) for p in cases]
        for p, word in cases.items():
            u = wait_state(srv, "src/" + p, ["failed"])
            check(word in u["last_error"], "%s: clear error: %r" % (p, u))
        # The clients already attached are told, then their streams end.
        for p, s in zip(cases, streams):
            ev = s.next_event(timeout=5)
            check(ev.get("event") == "upstream-failed", "%s: announced: %r" % (p, ev))
            info = json.loads(ev["data"])
            check(info["upstream"] == "src" and info["topic"] == "src/" + p
                  and info["state"] == "failed" and cases[p] in info["reason"],
                  "%s: the announcement says which and why: %r" % (p, info))
            try:
                extra = s.next_event(timeout=5)
                ended = False
            except EOFError:
                ended = True
            check(ended, "%s: the stream ends after the announcement, not %r"
                  % (p, None if ended else extra))
        time.sleep(0.5)
        for p in cases:
            n = len(up.requests_for("/" + p))
            check(n == 1, "%s: no hammering after a fatal answer (%d requests)" % (p, n))
        status, body = srv.request("GET", "/upstream/src/status/204")
        check(status == 502 and "204" in body["error"], "a client joining a failed upstream: %r"
              % (body,))
        # 500 is retried with backoff.
        s500 = Stream(srv.port, "/upstream/src/status/500")
        up.wait_requests("/status/500", 3)
        u = wait_state(srv, "src/status/500", ["backoff", "connecting"])
        check("500" in u["last_error"] and u["reconnects"] >= 2, "500 backs off: %r" % u)
        m = srv.metrics()["upstreams"]
        check(m["states"]["failed"] == len(cases), "JSON metrics count the failed: %r" % m)
        by_topic = {x["topic"]: x for x in m["list"]}
        check(by_topic["src/status/204"]["state"] == "failed"
              and "204" in by_topic["src/status/204"]["last_error"]
              and by_topic["src/status/500"]["reconnects"] >= 2,
              "JSON metrics per upstream: %r" % m)
        # An upstream that accepts and never answers is given up on after the read timeout.
        hang = Stream(srv.port, "/upstream/src/hang")
        up.wait_requests("/hang", 2, timeout=15)
        u = wait_state(srv, "src/hang", ["backoff", "connecting"])
        check(u["last_error"] != "", "never answering: %r" % u)
        for s in streams + [s500, hang]:
            s.close()
    up.close()


def test_idle_close_and_always(binary):
    up = Upstream()
    extra = ("--upstream-idle", "300ms", "--upstream-always", "src/feed/always")
    with Server(binary, *flags(up, *extra)) as srv:
        up.wait_live("/feed/always", 1)  # no client needed
        s = Stream(srv.port, "/upstream/src/feed/d")
        up.wait_live("/feed/d", 1)
        s.close()
        up.wait_live("/feed/d", 0, timeout=5)  # closed upstream_idle after the last left
        check([u["topic"] for u in upstreams(srv)] == ["src/feed/always"], "only the always feed")
        up.publish("/feed/always", "kept while nobody reads")
        time.sleep(0.3)
        status, body = srv.request("GET", "/topics/src/feed/always/events")
        check(status == 200 and body["events"][0]["data"] == "kept while nobody reads",
              "an always feed fills the log: %r" % (body,))
    up.close()


def test_by_type_headers_and_forwarded_credentials(binary):
    up = Upstream()
    extra = ("--upstream-by-type", "src", "--upstream-headers", "src=X-Backend-Token: s3cret",
             "--upstreams", "src=%s,auth=%s" % (up.url, up.url),
             "--upstream-forward-auth", "auth")
    with Server(binary, *flags(up, *extra)) as srv:
        s = Stream(srv.port, "/upstream/src/feed/t")
        up.wait_live("/feed/t", 1)
        check(up.requests_for("/feed/t")[0].get("x-backend-token") == "s3cret", "header sent")
        up.publish("/feed/t", "one", event="update")
        up.publish("/feed/t", "two", event="delete")
        evs = s.events(2)
        check([e["data"] for e in evs] == ["one", "two"], "typed events reach the stream")
        check(evs[0]["event"] == "src/feed/t/update:update", "typed topic: %r" % evs)
        only = Stream(srv.port, "/events/src/feed/t/delete")
        up.publish("/feed/t", "three", event="delete")
        check(only.next_event()["data"] == "three", "a reader of one type's topic")
        a1 = Stream(srv.port, "/upstream/auth/feed/p", {"Authorization": "Bearer alice"})
        a2 = Stream(srv.port, "/upstream/auth/feed/p", {"Authorization": "Bearer bob"})
        a3 = Stream(srv.port, "/upstream/auth/feed/p", {"Authorization": "Bearer alice"})
        reqs = up.wait_requests("/feed/p", 2)
        time.sleep(0.3)
        auths = sorted(r.get("authorization") for r in up.requests_for("/feed/p"))
        check(auths == ["Bearer alice", "Bearer bob"], "one upstream per credential: %r" % auths)
        status, body = srv.request("GET", "/upstream/auth/feed/p")
        check(status == 401, "forward_auth needs credentials: %r" % (body,))
        check(len(reqs) >= 2, "both credentials went upstream")
        for c in (s, only, a1, a2, a3):
            c.close()
    up.close()


def test_plain_reader_opens_upstream(binary):
    up = Upstream()
    with Server(binary, *flags(up)) as srv:
        # A reader of the topic by /events opens the upstream its name says.
        s = Stream(srv.port, "/events/src/feed/e")
        up.wait_live("/feed/e", 1)
        up.publish("/feed/e", "via events")
        check(s.next_event()["data"] == "via events", "an /events reader is fed")
        s.close()
    up.close()


def test_held_back_publishes_pause_the_upstream(binary):
    """slow_policy block: a reader that stops reading holds publishes back; the upstream's
    events wait (the transfer paused) instead of being lost, across a reconnect of the
    upstream too, and flow once it is gone."""
    up = Upstream()
    extra = ("--slow-policy", "block", "--lag-events", "4", "--history-count", "16",
             "--stream-sndbuf", "4096")
    with Server(binary, *flags(up, *extra)) as srv:
        good = Stream(srv.port, "/upstream/src/feed/h")
        stuck = Stream(srv.port, "/upstream/src/feed/h", rcvbuf=4096)
        up.wait_live("/feed/h", 1)
        big = "x" * 30000
        for i in range(40):
            up.publish("/feed/h", "%d %s" % (i, big))
        got = [good.next_event()["data"].split(" ")[0] for _ in range(4)]
        check(got == ["0", "1", "2", "3"], "the first events: %r" % got)
        time.sleep(1.0)
        u = wait_state(srv, "src/feed/h", ["streaming"])
        check(u["events_in"] < 40, "the stuck reader holds the upstream back: %r" % u)
        # The upstream drops while an event is held (the paused transfer notices once it
        # goes on); what the drop cut off comes again after the reconnect.
        up.drop("/feed/h")
        time.sleep(0.3)
        stuck.close()
        got += [good.next_event()["data"].split(" ")[0] for _ in range(36)]
        check(got == [str(i) for i in range(40)], "every event once, in order: %r" % got)
        check(wait_state(srv, "src/feed/h", ["streaming"])["events_in"] == 40, "all taken in")
        reqs = up.requests_for("/feed/h")
        check(len(reqs) == 2 and reqs[1].get("last-event-id", "").startswith("u"),
              "reconnected once, resuming: %r" % reqs)
        good.close()
    up.close()


def test_upgrade_resumes_upstream(binary):
    """An upgrade (SIGUSR2) hands the clients over; the new process opens their upstream
    again and resumes it from the newest upstream id the handed-over log keeps."""
    up = Upstream()
    srv = Server(binary, *flags(up))
    new_pid = None
    try:
        s = Stream(srv.port, "/upstream/src/feed/g")
        up.wait_live("/feed/g", 1)
        for i in range(3):
            up.publish("/feed/g", "before %d" % i)
        check([e["data"] for e in s.events(3)] == ["before %d" % i for i in range(3)], "before")
        old_pid = support.health(srv)["pid"]
        new_pid = support.upgrade_step(srv, old_pid)
        reqs = up.wait_requests("/feed/g", 2)
        check(reqs[1].get("last-event-id") == "u3", "the new process resumes from u3: %r" % reqs)
        up.wait_live("/feed/g", 1)
        up.publish("/feed/g", "after")
        check(s.next_event()["data"] == "after", "the handed-over client goes on")
        s.close()
    finally:
        support.stop_new(srv, new_pid)
        up.close()


def test_unknown_upstream_and_bad_path(binary):
    up = Upstream()
    with Server(binary, *flags(up)) as srv:
        status, body = srv.request("GET", "/upstream/nope/x")
        check(status == 404 and "nope" in body["error"], "unknown upstream: %r" % (body,))
        status, body = srv.request("GET", "/upstream/src/a/../b")
        check(status in (400, 404), "a path with .. is refused: %r" % (body,))
        status, body = srv.request("GET", "/upstream/src/a%20b")
        check(status == 400, "a path outside topic names is refused: %r" % (body,))
    up.close()


if __name__ == "__main__":
    sys.exit(support.run([
        test_one_connection_for_many_clients,
        test_reconnect_sends_latest_id_and_drops_half_frame,
        test_upstream_retry_is_honoured,
        test_client_resume_across_its_own_reconnect,
        test_bom_cr_line_ends_split_reads,
        test_malformed_lines_and_slow_writer,
        test_huge_line_is_refused_clearly,
        test_statuses_stop_or_back_off,
        test_idle_close_and_always,
        test_by_type_headers_and_forwarded_credentials,
        test_plain_reader_opens_upstream,
        test_held_back_publishes_pause_the_upstream,
        test_upgrade_resumes_upstream,
        test_unknown_upstream_and_bad_path,
    ], sys.argv[1]))
