#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Several RevenProx nodes on one real redis-server (cluster = redis), as users see them: an
event published on any node reaches the readers of its topic on every node, under the id its
publisher was told; a client whose node is killed resumes on another node, one that had no
reader of its topics, with exactly the events it missed; while Redis is unreachable publishes
are refused with 503 and a message, /readyz says why, streams stay open, and publishing comes
back with Redis; a Redis restarted without its data is a new log, and clients resuming on it
are told (event: resync). Everything on loopback, every wait bounded."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from support import Server, Stream, check, free_port, health, log_text, run, seq  # noqa: E402


class Redis:
    """A redis-server of the test's own, on a free loopback port, in a temporary directory.
    <persist>: with an append-only file, so a restart keeps the data."""

    def __init__(self, persist=False, replica_of=None):
        self.dir = tempfile.mkdtemp(prefix="rp-redis-")
        self.port = free_port()
        self.persist = persist
        self.replica_of = replica_of
        self.proc = None
        self.start()

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "yes" if self.persist else "no",
                "--appendfsync", "always", "--dir", self.dir, "--loglevel", "warning"]
        if self.replica_of:
            args += ["--replicaof", "127.0.0.1", str(self.replica_of.port)]
        try:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        except FileNotFoundError:
            raise RuntimeError("redis-server is missing: run scripts/install-deps --with-tests")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            check(self.proc.poll() is None, "redis-server exited at start")
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def close(self):
        if self.proc.poll() is None:
            self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def redis_command(port, *words):
    """One command to a Redis server or sentinel on loopback; the raw reply."""
    req = "*%d\r\n" % len(words) + "".join("$%d\r\n%s\r\n" % (len(w), w) for w in words)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(req.encode())
        return s.recv(65536).decode("utf-8", "replace")


class Sentinel:
    """A redis-sentinel watching <primary> under the name mymaster, quick to fail over."""

    def __init__(self, primary):
        self.dir = tempfile.mkdtemp(prefix="rp-sentinel-")
        self.port = free_port()
        conf = os.path.join(self.dir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\n"
                    "sentinel monitor mymaster 127.0.0.1 %d 1\n"
                    "sentinel down-after-milliseconds mymaster 500\n"
                    "sentinel failover-timeout mymaster 3000\n" % (self.port, self.dir, primary.port))
        try:
            self.proc = subprocess.Popen(["redis-sentinel", conf, "--loglevel", "warning"],
                                         stdout=subprocess.DEVNULL)
        except FileNotFoundError:
            raise RuntimeError("redis-sentinel is missing: run scripts/install-deps --with-tests")
        wait_for("the sentinel answers", lambda: self._answers())

    def _answers(self):
        try:
            return "127.0.0.1" in redis_command(self.port, "SENTINEL",
                                                "get-master-addr-by-name", "mymaster")
        except OSError:
            return False

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(what, fn, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("not within %ds: %s" % (timeout, what))


def node(binary, redis, *flags):
    """A node of the cluster, once ready (/readyz: connected to Redis)."""
    srv = Server(binary, "--cluster", "redis", "--redis-address", "127.0.0.1:%d" % redis.port,
                 "--redis-timeout", "1s", *flags)
    wait_for("the node is ready", lambda: srv.request("GET", "/readyz")[0] == 200)
    return srv


def test_publish_on_one_node_reaches_every_node(binary):
    with Redis() as redis, node(binary, redis) as n1, node(binary, redis) as n2, \
            node(binary, redis) as n3:
        streams = [Stream(n.port, "/events/news") for n in (n2, n3)]
        ids = []
        for i in range(5):
            status, body = n1.publish({"topic": "news", "data": "e%d" % i})
            check(status == 200, "publish on n1: %s %s" % (status, body))
            ids.append(body["id"])
        check([seq(i) for i in ids] == sorted(seq(i) for i in ids), "ids increase")
        for n, s in zip((n2, n3), streams):
            got = s.events(5)
            check([e["id"] for e in got] == ids, "every node delivers the publisher's ids: %r"
                  % [e["id"] for e in got])
            check([e["data"] for e in got] == ["e%d" % i for i in range(5)], "in order")
            # What the metrics tell an operator: this node listens to one topic and took
            # its events in.
            m = n.metrics()["redis"]
            check(m["channels"] == 1 and m["events_in"] == 5 and m["fills"] >= 1
                  and m["reconnects"] == 0, "a node with readers of news: %s" % m)
            s.close()
        # A publish on another node continues the same sequence.
        status, body = n2.publish({"topic": "news", "data": "from n2"})
        check(status == 200 and seq(body["id"]) == seq(ids[-1]) + 1,
              "one sequence for the cluster: %s" % body)
        m1 = n1.metrics()["redis"]
        check(m1["connected"] == 1 and m1["subscribed"] == 1, "n1 connected: %s" % m1)
        check(m1["publishes"] == 5 and m1["publish_failures"] == 0, "n1 published: %s" % m1)
        check(m1["channels"] == 0 and m1["events_in"] == 0, "n1 listens to nothing: %s" % m1)
        check("revenprox_redis_connected 1" in n2.request("GET", "/metrics")[1],
              "in Prometheus too")


def test_publisher_ids_are_one_cluster_wide(binary):
    """A publisher retrying on another node with the same publisher id (say after a 503 that
    said the publish may or may not have been stored) gets the first publish's id, and the
    readers get the event once; within a batch the second of two equal ids is one too."""
    with Redis() as redis, node(binary, redis) as n1, node(binary, redis) as n2:
        s = Stream(n2.port, "/events/orders")
        status, first = n1.publish({"topic": "orders", "data": "o42", "id": "order-42"})
        check(status == 200 and first["duplicate"] is False, "first: %s %s" % (status, first))
        status, again = n2.publish({"topic": "orders", "data": "o42", "id": "order-42"})
        check(status == 200 and again["duplicate"] is True and again["id"] == first["id"],
              "the retry on another node is the same event: %s" % again)
        status, other = n1.publish({"topic": "other", "data": "x", "id": "order-42"})
        check(status == 200 and other["duplicate"] is False,
              "a publisher id is per topic: %s" % other)
        status, b = n2.publish([
            {"topic": "orders", "data": "o43", "id": "order-43"},
            {"topic": "orders", "data": "o43 again", "id": "order-43"},
            {"topic": "orders", "data": "o42 again", "id": "order-42"},
            {"topic": "orders", "data": "no id"},
        ])
        check(status == 200 and b["duplicates"] == [1, 2], "batch duplicates: %s" % b)
        check(b["ids"][1] == b["ids"][0] and b["ids"][2] == first["id"], "their ids: %s" % b)
        check(seq(b["ids"][3]) == seq(b["ids"][0]) + 1, "duplicates take no sequence: %s" % b)
        got = s.events(3)
        check([e["data"] for e in got] == ["o42", "o43", "no id"],
              "every event once: %r" % got)
        check([e["id"] for e in got] == [first["id"], b["ids"][0], b["ids"][3]], "with its id")
        # The longest event type a publish allows reaches the other nodes too.
        longest = "t" * 128
        status, body = n1.publish({"topic": "orders", "data": "typed", "event": longest})
        check(status == 200, "publish: %s %s" % (status, body))
        ev = s.next_event()
        check(ev["data"] == "typed" and ev.get("event") == longest and ev["id"] == body["id"],
              "a 128-byte type arrives: %r" % ev)
        s.close()


def test_mercure_updates_go_through_the_cluster(binary):
    """Mercure publishes on any node reach subscribers on every node, once however many of
    their topics an update has, under the id the publisher supplied; a supplied id is taken
    cluster-wide (409 on another node)."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
    import mercure_test as mt  # noqa: E402 - its token and form helpers
    flags = ("--mercure", "true", "--mercure-jwt-secret", mt.SECRET, "--mercure-anonymous",
             "true")
    books = ["https://example.com/books/1", "https://example.com/books/2"]
    with Redis() as redis, node(binary, redis, *flags) as n1, node(binary, redis, *flags) as n2:
        s = Stream(n2.port, mt.hub_path(*books))
        status, body = n1.request(
            "POST", "/.well-known/mercure",
            urllib.parse.urlencode([("topic", books[0]), ("topic", books[1]), ("data", "both"),
                                    ("id", "urn:uuid:b1")]).encode(),
            {"Content-Type": "application/x-www-form-urlencoded",
             "Authorization": "Bearer " + mt.PUBLISHER})
        check(status == 200 and body == "urn:uuid:b1", "published on n1: %s %r" % (status, body))
        plain = mt.publish(n1, books[1], "second")
        ev = s.next_event()
        check(ev["data"] == "both" and ev["id"] == "urn:uuid:b1",
              "n2's subscriber gets the update once, with the supplied id: %r" % ev)
        ev = s.next_event()
        check(ev["data"] == "second" and ev["id"] == plain, "then the next: %r" % ev)
        status, body = mt.post(n2, {"topic": books[0], "data": "again", "id": "urn:uuid:b1"})
        check(status == 409, "the supplied id is taken on every node: %s %r" % (status, body))
        mt.publish(n2, books[0], "from n2")
        ev = s.next_event()
        check(ev["data"] == "from n2", "an update published on n2 arrives too: %r" % ev)
        s.close()


def test_failover_resumes_on_a_node_without_readers(binary):
    with Redis() as redis:
        n1 = node(binary, redis)
        try:
            with node(binary, redis) as n2, node(binary, redis) as n3:
                s = Stream(n1.port, "/events?topic=a&topic=b")
                sent = []
                for i in range(3):
                    status, body = n2.publish({"topic": "ab"[i % 2], "data": "x%d" % i})
                    check(status == 200, "publish")
                    sent.append(body["id"])
                first = s.next_event()
                check(first["id"] == sent[0], "the stream on n1 got the first event")
                n1.proc.send_signal(signal.SIGKILL)
                n1.proc.wait()
                for i in range(3, 5):
                    status, body = n2.publish({"topic": "ab"[i % 2], "data": "x%d" % i})
                    check(status == 200, "publish after the kill")
                    sent.append(body["id"])
                # n3 never had a reader of a or b.
                r = Stream(n3.port, "/events?topic=a&topic=b",
                           headers={"Last-Event-ID": first["id"]})
                got = r.events(4)
                check([e["id"] for e in got] == sent[1:],
                      "exactly the missed events, in order: %r vs %r"
                      % ([e["id"] for e in got], sent[1:]))
                check(all(e.get("event") != "resync" for e in got), "no resync")
                check([e["event"] for e in got] == ["b", "a", "b", "a"], "tagged by topic")
                r.close()
        finally:
            if n1.proc.poll() is None:
                n1.proc.kill()
            n1.cleanup()


def test_pattern_streams_read_topics_of_other_nodes(binary):
    """A pattern stream reads the topics it matches wherever they are published: ones that
    appear on another node after it opened, and, resuming on a node that never had any of
    them, the ones Redis already holds."""
    with Redis() as redis, node(binary, redis) as n1, node(binary, redis) as n2, \
            node(binary, redis) as n3:
        def pub(topic, data):
            status, body = n1.publish({"topic": topic, "data": data})
            check(status == 200, "publish %s: %s %s" % (topic, status, body))
            return body["id"]
        first = pub("sport/old", "o1")
        second = pub("sport/old", "o2")
        # A stream without Last-Event-ID starts where its node knows the cluster is, which
        # the node learns a moment after each publish: wait for it, to know what is new.
        wait_for("n2 knows the cluster's sequence",
                 lambda: n2.metrics()["last_seq"] >= seq(second))
        live = Stream(n2.port, "/events?topic=sport/%2B")
        time.sleep(0.3)  # (either way nothing is missed: a topic found by scanning fills)
        after = [("sport/new", "n1"), ("news/x", "not matched"), ("sport/old", "o3"),
                 ("sport/a/b", "a level too deep"), ("sport/new", "n2")]
        ids = {data: pub(topic, data) for topic, data in after}
        got = live.events(3)
        check([e["data"] for e in got] == ["n1", "o3", "n2"],
              "the live pattern stream reads the new and the old topic, in order: %r" % got)
        check([e["id"] for e in got] == [ids["n1"], ids["o3"], ids["n2"]], "with their ids")
        live.close()
        # n3 never had a reader of sport/...: a resume finds the topics in Redis.
        resumed = Stream(n3.port, "/events?topic=sport/%2B", headers={"Last-Event-ID": first})
        got = resumed.events(4)
        check([e["data"] for e in got] == ["o2", "n1", "o3", "n2"],
              "a resume on another node reads every matching topic after the id: %r" % got)
        check(all(e.get("event") != "resync" for e in got), "no resync")
        resumed.close()
        # `#` reaches every level below, and the parent itself.
        pub("sport", "the parent")
        deep = Stream(n3.port, "/events?topic=sport/%23", headers={"Last-Event-ID": first})
        got = deep.events(6)
        check([e["data"] for e in got] == ["o2", "n1", "o3", "a level too deep", "n2",
                                           "the parent"], "sport/# reads them all: %r" % got)
        deep.close()
        wait_for("the stream gone, n3 listens to no topic", lambda:
                 n3.metrics()["redis"]["channels"] == 0)


def test_redis_unreachable_refuses_and_recovers(binary):
    with Redis(persist=True) as redis, node(binary, redis) as n1, node(binary, redis) as n2:
        s = Stream(n2.port, "/events/news")
        status, before = n1.publish({"topic": "news", "data": "before"})
        check(status == 200, "publish while Redis is up")
        check(s.next_event()["id"] == before["id"], "delivered")
        redis.kill()
        status, body = n1.publish({"topic": "news", "data": "lost?"})
        check(status == 503, "refused while Redis is down: %s %s" % (status, body))
        check("Redis" in body["error"], "the message names Redis: %s" % body)
        status, ready = wait_for("readyz fails", lambda: (
            lambda r: r if r[0] == 503 else None)(n1.request("GET", "/readyz")))
        check("Redis" in ready["reason"], "/readyz says why: %s" % ready)
        # The stream stays open meanwhile (its heartbeat or nothing, but no close).
        s.sock.settimeout(0.5)
        try:
            check(s.sock.recv(1, socket.MSG_PEEK) != b"", "stream still open")
        except socket.timeout:
            pass
        redis.start()  # the same data: the same log, the same epoch

        def published():
            st, b = n1.publish({"topic": "news", "data": "after"})
            return b if st == 200 else None
        after = wait_for("publishing comes back", published, timeout=15)
        check(seq(after["id"]) > seq(before["id"]), "the sequence continues")
        check(after["id"].split("-")[0] == before["id"].split("-")[0], "the same epoch")
        check(s.next_event()["id"] == after["id"], "the old stream gets the new event")
        check(n1.request("GET", "/readyz")[0] == 200, "ready again")
        m = n1.metrics()["redis"]
        check(m["reconnects"] >= 1 and m["connected"] == 1,
              "the outage in the metrics: %s" % m)
        # n2's connections both came back, and it filled news again after the drop.
        wait_for("n2 reconnected and filled news again", lambda: (
            lambda m: m["fills"] >= 2 and m["reconnects"] >= 2 and m["subscribed"] == 1)(
                n2.metrics()["redis"]))


def test_redis_restarted_empty_is_a_new_log(binary):
    """Redis restarted without its data: the node does not serve on in a log that is gone
    (its streams' positions and its ids are of the old one): it refuses the publish that
    finds out and stops with exit status 1, for its service manager to start it again;
    started again it serves the new log, and a client of the old one is told."""
    with Redis() as redis:
        n1 = node(binary, redis)
        try:
            s = Stream(n1.port, "/events/news")
            status, old = n1.publish({"topic": "news", "data": "old"})
            check(status == 200, "publish")
            check(s.next_event()["id"] == old["id"], "delivered")
            redis.kill()
            redis.start()  # no persistence: the log is gone
            refusals = []

            def refused_or_gone():
                try:
                    st, body = n1.publish({"topic": "news", "data": "new"})
                except OSError:
                    return True  # stopped already
                if st == 503 and "restart" in body["error"]:
                    refusals.append(body)
                check(st == 503, "never accepted into the lost log: %s %s" % (st, body))
                return bool(refusals)
            wait_for("a publish is refused as of another log", refused_or_gone)
            wait_for("the node stops", lambda: n1.proc.poll() is not None)
            check(n1.proc.returncode == 1, "a failure exit: %s" % n1.proc.returncode)
            check("Redis lost the cluster's log; start this node again" in log_text(n1),
                  "it says why: %s" % log_text(n1)[-2000:])
            s.sock.settimeout(5)
            try:
                while s.sock.recv(4096):
                    pass  # the rest of what was sent, then the end
            except OSError:
                pass  # reset: ended too
        finally:
            if n1.proc.poll() is None:
                n1.proc.kill()
                n1.proc.wait()
            n1.cleanup()
        with node(binary, redis) as n2:
            s = Stream(n2.port, "/events/news", headers={"Last-Event-ID": old["id"]})
            ev = s.next_event()
            check(ev.get("event") == "resync" and '"epoch"' in ev["data"],
                  "a client of the lost log is told: %r" % ev)
            status, new = n2.publish({"topic": "news", "data": "in the new log"})
            check(status == 200 and new["id"].split("-")[0] != old["id"].split("-")[0],
                  "publishing goes on in the new log: %s" % new)
            # Before it, the refused publish that found the new log: Redis stored it there
            # (its 503 said so).
            got = [s.next_event()["data"] for _ in range(2)]
            check(got == ["new", "in the new log"], "the new log's events: %r" % got)
            s.close()


def test_wait_replicas_without_replicas_refuses(binary):
    """redis_wait_replicas 1 on a Redis with no replica: Redis stores the publish but no
    replica confirms it, and the publisher is told so (503), never a plain 200."""
    with Redis() as redis, node(binary, redis, "--redis-wait-replicas", "1") as n1:
        status, body = n1.publish({"topic": "news", "data": "x"})
        check(status == 503 and "replicas" in body["error"], "told: %s %s" % (status, body))
        m = n1.metrics()["redis"]
        check(m["publish_failures"] == 1 and m["publishes"] == 0,
              "counted as a failure, not a publish: %s" % m)


def test_sentinel_failover_is_followed(binary):
    """A primary, two replicas and a sentinel: the nodes find the primary through the
    sentinel; when it dies, they follow the promoted replica, and publishes confirmed by a
    replica (redis_wait_replicas 1) before the failover are all delivered, once, with the
    ones after it (the other replica now follows the new primary and confirms them)."""
    primary = Redis()
    replicas = [Redis(replica_of=primary), Redis(replica_of=primary)]
    sentinel = None
    nodes = []
    try:
        for replica in replicas:
            wait_for("the replica is in sync", lambda: "master_link_status:up" in
                     redis_command(replica.port, "INFO", "replication"))
        sentinel = Sentinel(primary)
        wait_for("the sentinel knows the replicas", lambda: redis_command(
            sentinel.port, "SENTINEL", "replicas", "mymaster").count("slave") >= 2)
        flags = ["--redis-sentinels", "127.0.0.1:%d" % sentinel.port, "--redis-timeout", "1s",
                 "--redis-wait-replicas", "1"]
        for _ in range(2):
            srv = Server(binary, "--cluster", "redis", *flags)
            nodes.append(srv)
            wait_for("the node is ready", lambda: srv.request("GET", "/readyz")[0] == 200)
        n1, n2 = nodes
        s = Stream(n2.port, "/events/news")
        sent = []
        for i in range(3):
            status, body = n1.publish({"topic": "news", "data": "before %d" % i})
            check(status == 200, "publish through the primary: %s %s" % (status, body))
            sent.append(body["id"])
        primary.kill()

        def published():
            st, b = n1.publish({"topic": "news", "data": "after"})
            return b if st == 200 else None
        after = wait_for("publishing goes on on the promoted replica", published, timeout=30)
        sent.append(after["id"])
        check(after["id"].split("-")[0] == sent[0].split("-")[0], "the same log (epoch)")
        # Attempts during the failover were answered 503 ("may or may not have been
        # stored": Redis took some before a replica confirmed them), so besides every
        # confirmed event the stream may carry some of those, never anything else.
        got = []
        while not got or got[-1]["id"] != after["id"]:
            check(len(got) < 64, "the confirmed events arrive: %r" % [e["id"] for e in got])
            got.append(s.next_event(timeout=30))
        ids = [e["id"] for e in got]
        check(ids == sorted(set(ids), key=seq), "once each, in order: %r" % ids)
        check(all(i in ids for i in sent), "every confirmed event: %r vs %r" % (ids, sent))
        check(all(e["data"] == "after" for e in got if e["id"] not in sent),
              "the others are unconfirmed attempts: %r" % got)
        s.close()
    finally:
        for srv in nodes:
            if srv.proc.poll() is None:
                srv.stop()
        if sentinel:
            sentinel.close()
        for replica in replicas:
            replica.close()
        primary.close()


if __name__ == "__main__":
    sys.exit(run([
        test_publish_on_one_node_reaches_every_node,
        test_publisher_ids_are_one_cluster_wide,
        test_mercure_updates_go_through_the_cluster,
        test_failover_resumes_on_a_node_without_readers,
        test_pattern_streams_read_topics_of_other_nodes,
        test_redis_unreachable_refuses_and_recovers,
        test_redis_restarted_empty_is_a_new_log,
        test_wait_replicas_without_replicas_refuses,
        test_sentinel_failover_is_followed,
    ], sys.argv[1]))
