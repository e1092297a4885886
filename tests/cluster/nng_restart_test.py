#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Restarts of a node of a two-node NNG mesh (cluster = nng) with its disk log, as its clients
see them. Node B takes A's events in under its own sequences, which its disk log never
writes: B still publishes after taking in more events than its log reserves ahead (about a
million), and neither a clean restart nor a kill -9 makes B hand out again an id a client
already saw (B keeps its epoch), while a client resuming from inside what B no longer has is
told (event: resync). Loopback only, every wait bounded."""
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from support import Server, Stream, check, free_port, log_text, run  # noqa: E402
from nng_mesh_test import (MESH, epoch_of, mesh_peers, wait_connected,  # noqa: E402
                           wait_for, wait_interest)


def node_conf(port, peer, data_dir=None, extra=""):
    conf = ("cluster = nng\nnng_listen_addresses = tcp://127.0.0.1:%d\n"
            "nng_peer_addresses = tcp://127.0.0.1:%d\n" % (port, peer)) + MESH + extra
    if data_dir:
        conf += "data_dir = %s\n" % data_dir
    return conf


def parse_id(event_id):
    """The node's own part of a mesh id (the first; the others are its origins')."""
    epoch, seq = event_id.split(".")[0].split("-")
    return epoch, int(seq)


def stop(node):
    if node is None:
        return
    if node.proc.poll() is None:
        check(node.stop() == 0, "the node exits cleanly")
    else:
        node.cleanup()


def kill9(node):
    node.proc.send_signal(signal.SIGKILL)
    node.proc.wait(timeout=10)
    node.cleanup()


def read_data(stream, n):
    """<n> events: their (data, id). An announcement (event: resync) is passed over: a flood
    that overflows nng's queues past what the origin keeps is a gap told to every reader of
    the node, which says nothing about the ids checked here."""
    got = []
    while len(got) < n:
        e = stream.next_event()
        if e.get("event") != "resync":
            got.append((e["data"], e["id"]))
    return got


def check_new_ids(b, seen, what):
    """A local publish on B after its restart: accepted, same epoch, a sequence after every
    id <seen> holds (a client that saw them would otherwise skip the new event)."""
    st, body = b.publish([{"topic": "probe", "data": "after-" + what}])
    check(st == 200, "B publishes after %s: %r %r" % (what, st, body))
    new_epoch, new_seq = parse_id(body["ids"][0])
    epochs = {parse_id(i)[0] for i in seen}
    check(epochs == {new_epoch}, "B kept its epoch across %s: %r, %r" % (what, epochs, new_epoch))
    top = max(parse_id(i)[1] for i in seen)
    check(new_seq > top, "B's first id after %s (%d) is after every id a client saw (%d)" % (
        what, new_seq, top))


def check_told(b, resume_id, what):
    """A client resuming on B from <resume_id>, inside what B no longer has, is told."""
    r = Stream(b.port, "/events?topic=probe", headers={"Last-Event-ID": resume_id})
    ev = r.next_event(timeout=10)
    r.close()
    check(ev.get("event") == "resync", "resuming from %s after %s is told: %r" % (
        resume_id, what, ev))


def test_clean_restart_never_reuses_ids(binary):
    """B publishes once between events it took in from A, then stops cleanly: its disk log
    ends at its own event, but its ids went on with the events it took in."""
    ports = [free_port() for _ in range(2)]
    data_b = tempfile.mkdtemp(prefix="rp-data-b-")
    conf_b = node_conf(ports[1], ports[0], data_b)
    a = b = None
    try:
        a = Server(binary, config=node_conf(ports[0], ports[1]))
        b = Server(binary, config=conf_b)
        wait_connected([a, b])
        eb = epoch_of(b)
        rb = Stream(b.port, "/events?topic=probe")
        wait_interest(a, eb, 1)
        check(a.publish([{"topic": "probe", "data": "a%d" % k} for k in range(5)])[0] == 200,
              "publish on A")
        got = read_data(rb, 5)
        check(b.publish([{"topic": "probe", "data": "own"}])[0] == 200, "publish on B")
        got += read_data(rb, 1)
        check(a.publish([{"topic": "probe", "data": "a%d" % k} for k in range(5, 10)])[0] == 200,
              "publish on A again")
        got += read_data(rb, 5)
        rb.close()
        check([d for d, _ in got] == ["a%d" % k for k in range(5)] + ["own"] +
              ["a%d" % k for k in range(5, 10)], "B's reader got every event: %r" % got)
        seen = [i for _, i in got]

        check(b.stop() == 0, "B stops cleanly")
        b = Server(binary, config=conf_b)
        wait_connected([a, b])
        check(epoch_of(b) == eb, "B is the same origin after its restart")
        check_told(b, got[-3][1], "a clean restart")
        check_new_ids(b, seen, "a clean restart")
    finally:
        stop(b)
        stop(a)
        shutil.rmtree(data_b, ignore_errors=True)


def drain(sock):
    """Reads and drops everything: a reader of the topic, so B wants its events (one that
    falls behind loses the oldest, slow_policy drop_oldest, and stays)."""
    try:
        while sock.recv(1 << 20):
            pass
    except OSError:
        pass


def test_many_taken_in_then_publish_and_kill(binary):
    """B takes in more of A's events than its log reserves ahead, publishes (not refused),
    then is killed (SIGKILL) after taking in more: restarted, it hands out no id it gave
    before."""
    n_bulk, per_request = 1100000, 100000
    ports = [free_port() for _ in range(2)]
    data_b = tempfile.mkdtemp(prefix="rp-data-b-")
    extra = ("max_batch = %d\nmax_body = 64m\nnng_message_batch_size = 10000\n"
             "history_count = 1000\nslow_policy = drop_oldest\n" % per_request)
    conf_b = node_conf(ports[1], ports[0], data_b, extra)
    a = b = None
    try:
        a = Server(binary, config=node_conf(ports[0], ports[1], extra=extra))
        b = Server(binary, config=conf_b)
        wait_connected([a, b])
        ea, eb = epoch_of(a), epoch_of(b)
        bulk = Stream(b.port, "/events?topic=bulk")
        bulk.sock.settimeout(None)
        threading.Thread(target=drain, args=(bulk.sock,), daemon=True).start()
        rb = Stream(b.port, "/events?topic=probe")
        wait_interest(a, eb, 2)
        body = json.dumps([{"topic": "bulk", "data": "x"}] * per_request).encode()
        for k in range(n_bulk // per_request):
            st, _ = a.request("POST", "/publish", body, {"Content-Type": "application/json"},
                              timeout=60)
            check(st == 200, "bulk publish on A")
            # B keeps up before the next: on a busy machine nng's queues overflow, and a
            # range older than what A keeps (100,000 events) would be lost, not fetched.
            want = (k + 1) * per_request
            wait_for("B took in %d events" % want,
                     lambda: mesh_peers(b)[ea]["events_in"] >= want, timeout=60)
        check(a.publish([{"topic": "probe", "data": "p1"}])[0] == 200, "publish on A")
        got = read_data(rb, 1)
        check(mesh_peers(b)[ea]["events_in"] == n_bulk + 1, "B took in every event of A: %r" %
              mesh_peers(b)[ea])
        check(parse_id(got[0][1])[1] > n_bulk, "B's sequence went past its first reservation")
        st, res = b.publish([{"topic": "probe", "data": "own"}])
        check(st == 200, "B publishes after taking in %d events: %r %r" % (n_bulk, st, res))
        got += read_data(rb, 1)
        check(a.publish([{"topic": "probe", "data": "p2"}])[0] == 200, "publish on A again")
        got += read_data(rb, 1)
        check([d for d, _ in got] == ["p1", "own", "p2"], "B's reader: %r" % got)
        seen = [i for _, i in got]
        rb.close()
        bulk.close()

        kill9(b)
        b = Server(binary, config=conf_b)
        wait_connected([a, b])
        check(epoch_of(b) == eb, "B is the same origin after its restart: %s" % " | ".join(
            line for line in log_text(b).splitlines() if "component=store" in line))
        check_told(b, got[0][1], "a kill -9")
        check_new_ids(b, seen, "a kill -9")
    finally:
        stop(b)
        stop(a)
        shutil.rmtree(data_b, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run([test_clean_restart_never_reuses_ids, test_many_taken_in_then_publish_and_kill],
                 sys.argv[1]))
