#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Resuming on another node of an NNG mesh (cluster = nng), as users see it: a mesh id
carries a part per origin (docs/internals/ids.md), so a client that moves to any node with its
Last-Event-ID gets every event of its topics it had not received, once, each origin's in order,
also from a node that never had a reader of those topics (it fetches what the origins keep),
also when the node it left was killed; a resume from further back than the origins keep is
told (event: resync); and a client that starts live on a node fetching a topic's history is not
sent that history. Loopback only, every wait bounded."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from support import Stream, check, free_port, run  # noqa: E402
from nng_mesh_test import (epoch_of, mesh_peers, start_mesh, stop_all,  # noqa: E402
                           wait_connected, wait_for, wait_interest)


def full_mesh(binary, n, extra=""):
    ports = [free_port() for _ in range(n)]
    nodes = start_mesh(binary, ports, [[p for p in ports if p != q] for q in ports], extra)
    wait_connected(nodes)
    return nodes


def nothing_more(stream, what):
    try:
        extra = stream.next_event(timeout=0.7)
        raise AssertionError("%s: an event more than expected: %r" % (what, extra))
    except socket.timeout:
        pass


def by_prefix(events, prefix):
    return [e["data"] for e in events if e["data"].startswith(prefix)]


def publish_pairs(a, c, start, stop):
    """A publishes a<k> on topic x, C publishes c<k> on topic y, alternately."""
    for k in range(start, stop):
        check(a.publish([{"topic": "x", "data": "a%d" % k}])[0] == 200, "publish on A")
        check(c.publish([{"topic": "y", "data": "c%d" % k}])[0] == 200, "publish on C")


def resume_elsewhere(binary, kill_first):
    """A client of x (published on A) and y (published on C) reads 12 events on B, leaves,
    and resumes on C, which never had a reader of x or y, after 20 more publishes."""
    nodes = full_mesh(binary, 3)
    a, b, c = nodes
    try:
        eb = epoch_of(b)
        rb = Stream(b.port, "/events?topic=x&topic=y")
        wait_interest(a, eb, 2)
        wait_interest(c, eb, 2)
        publish_pairs(a, c, 0, 10)
        seen = rb.events(12)
        last = seen[-1]["id"]
        check(len(last.split(".")) == 3,
              "the id names B and both origins: %r" % last)
        rb.close()
        if kill_first:
            b.proc.kill()  # kill -9: no goodbye to the mesh
            b.proc.wait()
            wait_for("C sees B gone", lambda: not mesh_peers(c)[eb]["connected"])
        publish_pairs(a, c, 10, 20)
        rc = Stream(c.port, "/events?topic=x&topic=y", headers={"Last-Event-ID": last})
        have_a, have_c = by_prefix(seen, "a"), by_prefix(seen, "c")
        want_a = ["a%d" % k for k in range(len(have_a), 20)]
        want_c = ["c%d" % k for k in range(len(have_c), 20)]
        got = rc.events(len(want_a) + len(want_c))
        check(all(e.get("event") != "resync" for e in got), "nothing was lost: %r" % got)
        check(by_prefix(got, "a") == want_a, "A's events the client lacked, once, in order: "
              "%r after %r" % (by_prefix(got, "a"), have_a))
        check(by_prefix(got, "c") == want_c, "C's events the client lacked, once, in order: "
              "%r after %r" % (by_prefix(got, "c"), have_c))
        nothing_more(rc, "C")
        # And it goes on live there, from either origin.
        publish_pairs(a, c, 20, 21)
        check(sorted(e["data"] for e in rc.events(2)) == ["a20", "c20"], "live on C")
        rc.close()
    finally:
        stop_all([n for n in nodes if n.proc.poll() is None])


def test_resume_on_a_node_that_never_read(binary):
    resume_elsewhere(binary, kill_first=False)


def test_resume_after_kill_9(binary):
    resume_elsewhere(binary, kill_first=True)


def test_resume_further_back_than_kept_is_a_resync(binary):
    """A keeps its 5 newest publishes: a client 20 events behind that moves to a node that
    never read the topic is told of the gap, then gets the 5, in order."""
    nodes = full_mesh(binary, 3, extra="nng_keep_events = 5\n")
    a, b, c = nodes
    try:
        rb = Stream(b.port, "/events?topic=x")
        wait_interest(a, epoch_of(b), 1)
        for k in range(2):
            check(a.publish([{"topic": "x", "data": "a%d" % k}])[0] == 200, "publish on A")
        last = rb.events(2)[-1]["id"]
        rb.close()
        for k in range(2, 22):
            check(a.publish([{"topic": "x", "data": "a%d" % k}])[0] == 200, "publish on A")
        rc = Stream(c.port, "/events?topic=x", headers={"Last-Event-ID": last})
        ev = rc.next_event()
        check(ev.get("event") == "resync" and '"expired"' in ev["data"],
              "the gap is told first: %r" % (ev,))
        got = [e["data"] for e in rc.events(5)]
        check(got == ["a%d" % k for k in range(17, 22)], "then what A keeps: %r" % got)
        nothing_more(rc, "C")
        rc.close()
    finally:
        stop_all(nodes)


def test_live_start_skips_fetched_history(binary):
    """A client that starts live on a node that fetches the topic's history gets only what is
    published after it started (as far as the node heard from the origin: its heartbeat says
    how far it is); a client resuming there gets the history."""
    nodes = full_mesh(binary, 2)
    a, c = nodes
    try:
        for k in range(5):
            check(a.publish([{"topic": "x", "data": "old%d" % k}])[0] == 200, "publish on A")
        time.sleep(1.2)  # two of A's heartbeats (500 ms): C has heard how far A is
        live = Stream(c.port, "/events?topic=x")
        wait_interest(a, epoch_of(c), 1)
        check(a.publish([{"topic": "x", "data": "new"}])[0] == 200, "publish on A")
        ev = live.next_event()
        check(ev["data"] == "new", "the live client gets the new event only: %r" % (ev,))
        nothing_more(live, "live")
        # One that had A's first event (its id names A only) gets the rest from C.
        rb_id = "%s-%d" % (epoch_of(a), 1)
        back = Stream(c.port, "/events?topic=x", headers={"Last-Event-ID": rb_id})
        got = [e["data"] for e in back.events(5)]
        check(got == ["old1", "old2", "old3", "old4", "new"], "history after A's first: %r" % got)
        nothing_more(back, "resumed")
        # Published on A right after a live client's stream opened on C, while C still asks A
        # for the topic's history: the client gets it (it may be in A's answer, not live).
        fresh = Stream(c.port, "/events?topic=z")
        check(a.publish([{"topic": "z", "data": "right after"}])[0] == 200, "publish on A")
        check(fresh.next_event()["data"] == "right after", "an event published after the "
              "client connected is never skipped")
        live.close()
        back.close()
        fresh.close()
    finally:
        stop_all(nodes)


def test_pattern_reads_topics_first_published_elsewhere(binary):
    """A pattern stream on B gets the events of topics it matches that exist only on A (B
    announced the pattern), each once, in order; not those it does not match."""
    nodes = full_mesh(binary, 2)
    a, b = nodes
    try:
        rb = Stream(b.port, "/events?topic=sport/%2B")
        wait_interest(a, epoch_of(b), 1)
        for k in range(3):
            for t in ("sport/a", "sport/b", "news/x", "sport/a/deep"):
                check(a.publish([{"topic": t, "data": "%s %d" % (t, k)}])[0] == 200,
                      "publish on A")
        got = [e["data"] for e in rb.events(6)]
        check(sorted(got) == sorted("%s %d" % (t, k) for t in ("sport/a", "sport/b")
                                    for k in range(3)), "the matching topics: %r" % got)
        for t in ("sport/a", "sport/b"):
            check([d for d in got if d.startswith(t + " ")] == ["%s %d" % (t, k) for k in range(3)],
                  "%s in order" % t)
        nothing_more(rb, "B")
        rb.close()
    finally:
        stop_all(nodes)


def test_peer_back_under_a_new_epoch_replaces_the_old(binary):
    """B restarts without its log (a new epoch): A forgets the old one, and ids stop carrying
    its part (else every restart of a memory-only node would grow every id for good)."""
    ports = [free_port(), free_port()]
    a, b = start_mesh(binary, ports, [[ports[1]], [ports[0]]])
    nodes = [a, b]
    try:
        wait_connected(nodes)
        eb = epoch_of(b)
        ra = Stream(a.port, "/events?topic=x")
        wait_interest(b, epoch_of(a), 1)
        check(b.publish([{"topic": "x", "data": "b0"}])[0] == 200, "publish on B")
        first = ra.next_event()
        check(first["data"] == "b0" and eb + "-" in first["id"], "B's part: %r" % first)
        check(b.stop() == 0, "B stops cleanly")
        nodes = [a]
        b2 = start_mesh(binary, [ports[1]], [[ports[0]]])[0]
        nodes = [a, b2]
        eb2 = epoch_of(b2)
        check(eb2 != eb, "B came back under a new epoch")
        wait_for("A knows B under its new epoch only", lambda: list(mesh_peers(a)) == [eb2])
        wait_interest(b2, epoch_of(a), 1)
        check(b2.publish([{"topic": "x", "data": "b1"}])[0] == 200, "publish on B again")
        ev = ra.next_event()
        check(ev["data"] == "b1" and eb2 + "-" in ev["id"] and eb not in ev["id"],
              "the id carries the new part, not the old: %r" % ev)
        ra.close()
    finally:
        stop_all(nodes)


def test_resume_past_memory_is_not_served_from_the_disk_log(binary):
    """A mesh node's disk log holds only its own publishes: a resume from before what a topic
    keeps in memory is told of the gap (event: resync), not served from the disk log, which
    would skip the events taken in from peers without a word."""
    ports = [free_port(), free_port()]
    a, b = start_mesh(binary, ports, [[ports[1]], [ports[0]]], extra="history_count = 3\n")
    nodes = [a, b]
    try:
        wait_connected(nodes)
        keeper = Stream(b.port, "/events?topic=x")  # B reads x throughout
        rb = Stream(b.port, "/events?topic=x")
        wait_interest(a, epoch_of(b), 1)
        check(b.publish([{"topic": "x", "data": "b0"}])[0] == 200, "publish on B")
        first = rb.next_event()
        check(first["data"] == "b0", "B's reader")
        rb.close()
        for k in range(5):
            check(a.publish([{"topic": "x", "data": "a%d" % k}])[0] == 200, "publish on A")
        wait_for("B took A's events in", lambda: mesh_peers(b)[epoch_of(a)]["events_in"] == 5)
        st, body = b.publish([{"topic": "x", "data": "b1"}])
        check(st == 200 and body["ids"][0].endswith("-7"), "b1 is B's 7th event: %r" % body)
        again = Stream(b.port, "/events?topic=x", headers={"Last-Event-ID": first["id"]})
        ev = again.next_event()
        check(ev.get("event") == "resync", "the gap is told: %r" % (ev,))
        got = [e["data"] for e in again.events(3)]
        check(got == ["a3", "a4", "b1"], "then what B keeps: %r" % got)
        again.close()
        keeper.close()
    finally:
        stop_all(nodes)


def test_mercure_subscriber_resumes_on_another_node(binary):
    """A Mercure subscriber on B of a topic published on A moves to C with its Last-Event-ID
    (a mesh id): it gets the updates it lacked, once, in order, and the hub answers with the
    id it resumes from."""
    import mercure_test as mt  # noqa: E402 - its token and form helpers
    extra = "mercure = true\nmercure_jwt_secret = %s\nmercure_anonymous = true\n" % mt.SECRET
    nodes = full_mesh(binary, 3, extra)
    a, b, c = nodes
    try:
        sb = Stream(b.port, mt.hub_path(mt.BOOK))
        wait_interest(a, epoch_of(b), 1)
        for k in range(4):
            mt.publish(a, mt.BOOK, "u%d" % k)
        got = sb.events(2)
        sb.close()
        last = got[-1]["id"]
        check(len(last.split(".")) == 2, "a mesh id names B and A: %r" % last)
        mt.publish(a, mt.BOOK, "u4")
        sc = Stream(c.port, mt.hub_path(mt.BOOK), headers={"Last-Event-ID": last})
        check(("Last-Event-ID: %s" % last) in sc.head, "the hub answers the id: %r" % sc.head)
        check([e["data"] for e in sc.events(3)] == ["u2", "u3", "u4"], "the updates it lacked")
        nothing_more(sc, "C")
        sc.close()
    finally:
        stop_all(nodes)


def test_mercure_update_of_several_topics_arrives_once(binary):
    """A Mercure update published on A under two topics, with a supplied id, reaches a
    subscriber of both on B once, under that id: the update's grouping and its publisher id
    travel with the events."""
    import mercure_test as mt  # noqa: E402 - its token and form helpers
    import urllib.parse
    extra = "mercure = true\nmercure_jwt_secret = %s\nmercure_anonymous = true\n" % mt.SECRET
    nodes = full_mesh(binary, 2, extra)
    a, b = nodes
    books = ["https://example.com/books/1", "https://example.com/books/2"]
    try:
        s = Stream(b.port, mt.hub_path(*books))
        wait_interest(a, epoch_of(b), 2)
        status, body = a.request(
            "POST", "/.well-known/mercure",
            urllib.parse.urlencode([("topic", books[0]), ("topic", books[1]), ("data", "both"),
                                    ("id", "urn:uuid:m1")]).encode(),
            {"Content-Type": "application/x-www-form-urlencoded",
             "Authorization": "Bearer " + mt.PUBLISHER})
        check(status == 200 and body == "urn:uuid:m1", "published on A: %s %r" % (status, body))
        mt.publish(a, books[1], "second")
        ev = s.next_event()
        check(ev["data"] == "both" and ev["id"] == "urn:uuid:m1",
              "B's subscriber gets the update once, with the supplied id: %r" % ev)
        ev = s.next_event()
        check(ev["data"] == "second", "then the next: %r" % ev)
        nothing_more(s, "B")
        s.close()
    finally:
        stop_all(nodes)


if __name__ == "__main__":
    sys.exit(run([test_resume_on_a_node_that_never_read, test_resume_after_kill_9,
                  test_resume_further_back_than_kept_is_a_resync,
                  test_live_start_skips_fetched_history,
                  test_pattern_reads_topics_first_published_elsewhere,
                  test_peer_back_under_a_new_epoch_replaces_the_old,
                  test_resume_past_memory_is_not_served_from_the_disk_log,
                  test_mercure_subscriber_resumes_on_another_node,
                  test_mercure_update_of_several_topics_arrives_once],
                 sys.argv[1]))
