#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Three RevenProx nodes in an NNG mesh (cluster = nng), as users see them: an event published
on one node reaches the readers of its topic on the others, every one, once, in order; a node
with no reader of a topic is sent none of its events (its metrics say so); a partition made
with TCP proxies the test controls, with publishes on both sides during the cut, heals with
every event reaching the other side's readers, in order, once. Loopback only, every wait
bounded."""
import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from support import Server, Stream, check, free_port, log_text, run  # noqa: E402


# Under ASan: a leak inside libnng that is not ours (see the file).
os.environ["LSAN_OPTIONS"] = ":".join(filter(None, [
    os.environ.get("LSAN_OPTIONS"),
    "suppressions=" + os.path.join(os.path.dirname(os.path.abspath(__file__)), "lsan-nng.supp")]))


class Proxy:
    """A TCP relay to <target_port> on loopback; cut() drops every connection through it and
    refuses new ones until heal()."""

    def __init__(self, target_port):
        self.target = target_port
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []
        self.is_cut = False
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                cut = self.is_cut
            if cut:
                c.close()
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            threading.Thread(target=self._pump, args=(c, u), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c), daemon=True).start()

    def _pump(self, a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self.lock:
            self.is_cut = True
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def heal(self):
        with self.lock:
            self.is_cut = False

    def close(self):
        self.closed = True
        self.cut()
        self.lsock.close()


MESH = ("nng_reconnect_interval = 200ms\nnng_heartbeat_interval = 500ms\npeer_timeout = 30s\n"
        "nng_message_batch_timeout = 5ms\nbloom_filter_capacity = 1000\ngossip_interval = 1s\n")


def start_mesh(binary, listen, peers, extra=""):
    """Node i listens on listen[i] and dials peers[i] (a list of ports)."""
    nodes = []
    try:
        for i, port in enumerate(listen):
            conf = ("cluster = nng\nnng_listen_addresses = tcp://127.0.0.1:%d\n"
                    "nng_peer_addresses = %s\n" % (
                        port, ",".join("tcp://127.0.0.1:%d" % p for p in peers[i]))) + MESH + extra
            nodes.append(Server(binary, config=conf))
    except Exception:
        for n in nodes:
            n.proc.kill()
            n.proc.wait()
            n.cleanup()
        raise
    return nodes


def stop_all(nodes):
    """Stops every node, even when one fails to; each must exit cleanly."""
    rcs = []
    for n in nodes:
        try:
            rcs.append(n.stop())
        except Exception as e:  # noqa: BLE001 - keep stopping the others
            n.proc.kill()
            rcs.append("%s: %s" % (type(e).__name__, e))
    check(all(rc == 0 for rc in rcs), "every node exits cleanly: %r" % rcs)


def mesh_peers(srv):
    """This node's peers in /metrics?format=json, by epoch."""
    return {p["peer"]: p for p in srv.metrics()["mesh"]["peers"]}


def epoch_of(srv):
    """The node's epoch, which names it to its peers (from its "listening" log line)."""
    m = re.search(r'msg="listening" .* epoch=([0-9a-f]{8})', log_text(srv))
    check(m is not None, "the node logged its epoch")
    return m.group(1)


def wait_for(what, cond, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting: " + what)


def wait_connected(nodes, timeout=10):
    """Every node has a connection up to every other."""
    def all_up():
        for n in nodes:
            peers = mesh_peers(n)
            if len(peers) != len(nodes) - 1 or not all(p["connected"] for p in peers.values()):
                return False
        return True
    wait_for("every node connected to every other", all_up, timeout)


def wait_interest(node, peer_epoch, count, timeout=10):
    wait_for("%s's interest known" % peer_epoch,
             lambda: mesh_peers(node).get(peer_epoch, {}).get("interest", -1) >= count, timeout)


def read_all(stream, n, timeout=10):
    """<n> events, then nothing more for a moment (each event once)."""
    got = stream.events(n, timeout)
    try:
        extra = stream.next_event(timeout=0.5)
        raise AssertionError("an event more than expected: %r" % (extra,))
    except socket.timeout:
        pass
    return got


def test_publish_reaches_readers_on_other_nodes(binary):
    ports = [free_port() for _ in range(3)]
    nodes = start_mesh(binary, ports, [[p for p in ports if p != q] for q in ports])
    a, b, c = nodes
    try:
        wait_connected(nodes)
        ea, eb, ec = (epoch_of(n) for n in nodes)
        rb = Stream(b.port, "/events?topic=chat&topic=solo")
        rc = Stream(c.port, "/events?topic=chat")
        wait_interest(a, eb, 2)
        wait_interest(a, ec, 1)
        # 60 events in batches, interleaving a topic only B reads.
        for k in range(20):
            st, _ = a.publish([{"topic": "chat", "data": "c%d" % (3 * k)},
                               {"topic": "solo", "data": "s%d" % k},
                               {"topic": "chat", "data": "c%d" % (3 * k + 1)}])
            check(st == 200, "publish on A")
        got_b = [e["data"] for e in read_all(rb, 60)]
        got_c = [e["data"] for e in read_all(rc, 40)]
        want_chat = ["c%d" % (3 * k + j) for k in range(20) for j in (0, 1)]
        check([d for d in got_b if d.startswith("c")] == want_chat, "B: every chat event once, "
              "in order: %r" % got_b)
        check([d for d in got_b if d.startswith("s")] == ["s%d" % k for k in range(20)],
              "B: every solo event once, in order")
        check(got_c == want_chat, "C: every chat event once, in order: %r" % got_c)
        # C reads no 'solo': A sent it none of them, and C took none in.
        check(mesh_peers(a)[ec]["events_out"] == 40, "A sent C only its topic's events: %r" %
              mesh_peers(a)[ec])
        check(mesh_peers(c)[ea]["events_in"] == 40, "C took in only chat")
        check(mesh_peers(a)[eb]["events_out"] == 60, "A sent B both topics")
        # A node nobody reads on gets nothing: B publishes a topic only B reads.
        st, _ = b.publish([{"topic": "solo", "data": "local"}])
        check(st == 200, "publish on B")
        check(rb.next_event()["data"] == "local", "B's own reader")
        time.sleep(0.3)
        check(mesh_peers(b)[ea]["events_out"] == 0 and mesh_peers(b)[ec]["events_out"] == 0,
              "B sent its solo event to nobody")
        # Prometheus too
        st, text = a.request("GET", "/metrics")
        check('revenprox_mesh_peer_connected{peer="%s"} 1' % eb in text, "per-peer gauge")
        check('revenprox_mesh_peer_events_out_total{peer="%s"} 40' % ec in text,
              "per-peer counter")
        rb.close()
        rc.close()
    finally:
        stop_all(nodes)


def test_partition_heals(binary):
    """A alone on one side, B and C on the other; every link of A goes through a proxy."""
    ports = [free_port() for _ in range(3)]
    # proxies[(i, j)]: what node i dials to reach node j
    proxies = {}
    for i, j in ((0, 1), (0, 2), (1, 0), (2, 0)):
        proxies[(i, j)] = Proxy(ports[j])
    peers = [[proxies[(0, 1)].port, proxies[(0, 2)].port],
             [proxies[(1, 0)].port, ports[2]],
             [proxies[(2, 0)].port, ports[1]]]
    nodes = start_mesh(binary, ports, peers)
    a, b, c = nodes
    try:
        wait_connected(nodes)
        ea, eb, ec = (epoch_of(n) for n in nodes)
        ra = Stream(a.port, "/events?topic=room")
        rb = Stream(b.port, "/events?topic=room")
        rc = Stream(c.port, "/events?topic=room")
        for n, others in ((a, (eb, ec)), (b, (ea, ec)), (c, (ea, eb))):
            for e in others:
                wait_interest(n, e, 1)
        check(a.publish([{"topic": "room", "data": "before"}])[0] == 200, "publish before")
        for r in (ra, rb, rc):
            check(r.next_event()["data"] == "before", "everyone reads the first event")

        for p in proxies.values():
            p.cut()
        wait_for("A sees its peers gone", lambda: not any(
            p["connected"] for p in mesh_peers(a).values()))
        for k in range(10):
            check(a.publish([{"topic": "room", "data": "a%d" % k}])[0] == 200, "publish on A")
            check(b.publish([{"topic": "room", "data": "b%d" % k}])[0] == 200, "publish on B")
        # Each side reads its own side's events during the cut.
        check([e["data"] for e in ra.events(10)] == ["a%d" % k for k in range(10)],
              "A's reader during the cut")
        got_b = [e["data"] for e in rb.events(10)]
        got_c = [e["data"] for e in rc.events(10)]
        check(got_b == ["b%d" % k for k in range(10)], "B's reader during the cut: %r" % got_b)
        check(got_c == ["b%d" % k for k in range(10)], "C's reader during the cut: %r" % got_c)

        for p in proxies.values():
            p.heal()
        wait_connected(nodes, timeout=15)
        # After the heal each side gets the other's events, in order, once (or a resync).
        for name, r, want in (("A", ra, ["b%d" % k for k in range(10)]),
                              ("B", rb, ["a%d" % k for k in range(10)]),
                              ("C", rc, ["a%d" % k for k in range(10)])):
            got = []
            while len(got) < len(want):
                ev = r.next_event(timeout=10)
                if ev.get("event") == "resync":
                    break
                got.append(ev["data"])
            else:
                check(got == want, "%s after the heal: %r" % (name, got))
        check(mesh_peers(b)[ea]["gaps_filled"] >= 1, "B filled the gap from A")
        check(mesh_peers(a)[eb]["gaps_filled"] >= 1, "A filled the gap from B")
        # Live again.
        check(c.publish([{"topic": "room", "data": "after"}])[0] == 200, "publish after")
        for r in (ra, rb, rc):
            check(r.next_event()["data"] == "after", "everyone reads the event after the heal")
        for r in (ra, rb, rc):
            try:
                extra = r.next_event(timeout=0.5)
                raise AssertionError("an event more than expected: %r" % (extra,))
            except socket.timeout:
                pass
            r.close()
    finally:
        for p in proxies.values():
            p.heal()
        try:
            stop_all(nodes)
        finally:
            for p in proxies.values():
                p.close()


def test_gap_no_longer_kept_is_a_resync(binary):
    """A keeps only its 5 newest publishes: a reader on B that missed 20 during a cut is told
    (event: resync), then gets the 5 A still had, in order, and goes on live."""
    ports = [free_port() for _ in range(2)]
    proxies = [Proxy(ports[1]), Proxy(ports[0])]  # A -> B, B -> A
    nodes = start_mesh(binary, ports, [[proxies[0].port], [proxies[1].port]],
                       extra="nng_keep_events = 5\n")
    a, b = nodes
    try:
        wait_connected(nodes)
        ea = epoch_of(a)
        rb = Stream(b.port, "/events?topic=feed")
        wait_interest(a, epoch_of(b), 1)
        for p in proxies:
            p.cut()
        wait_for("A sees B gone", lambda: not mesh_peers(a)[epoch_of(b)]["connected"])
        for k in range(20):
            check(a.publish([{"topic": "feed", "data": "f%d" % k}])[0] == 200, "publish on A")
        for p in proxies:
            p.heal()
        ev = rb.next_event(timeout=15)
        check(ev.get("event") == "resync", "B's reader is told of the lost range: %r" % (ev,))
        got = [e["data"] for e in rb.events(5)]
        check(got == ["f%d" % k for k in range(15, 20)], "then what A kept, in order: %r" % got)
        check(mesh_peers(b)[ea]["gaps_lost"] == 1, "B counted the lost range")
        check(a.publish([{"topic": "feed", "data": "live"}])[0] == 200, "publish after")
        check(rb.next_event()["data"] == "live", "live again")
        rb.close()
    finally:
        for p in proxies:
            p.heal()
        try:
            stop_all(nodes)
        finally:
            for p in proxies:
                p.close()


def test_volume_in_order(binary):
    """10,000 events over two topics, published in batches of 200, reach a reader of both on
    the other node in the publisher's order, none twice, none missing. (A slow build may fill
    nng's queues: a dropped message is then a gap fetched from the origin, never a loss.)"""
    ports = [free_port() for _ in range(2)]
    nodes = start_mesh(binary, ports, [[ports[1]], [ports[0]]],
                       extra="history_count = 100000\nlag_events = 50000\n")
    a, b = nodes
    try:
        wait_connected(nodes)
        ea, eb = epoch_of(a), epoch_of(b)
        r = Stream(b.port, "/events?topic=x&topic=y")
        wait_interest(a, eb, 2)
        for k in range(50):
            st, _ = a.publish([{"topic": "x" if i % 2 else "y", "data": "%d" % (k * 200 + i)}
                               for i in range(200)])
            check(st == 200, "publish on A")
        got = [int(e["data"]) for e in read_all(r, 10000, timeout=30)]
        check(got == list(range(10000)), "every event once, in order")
        peer = mesh_peers(b)[ea]
        check(peer["events_in"] == 10000 and peer["gaps_lost"] == 0, "nothing lost: %r" % peer)
        r.close()
    finally:
        stop_all(nodes)


def test_one_list_for_all_and_silent_peer_down(binary):
    """Both nodes get the same peer list, by host name and including themselves: each dials
    every address the name resolves to, stops dialing itself, and finds the other. A peer
    that stops answering (SIGSTOP: its connection stays open, silent) is marked down after
    peer_timeout, and up again when it answers."""
    ports = [free_port() for _ in range(2)]
    peers = [ports, ports]  # every node: both addresses
    nodes = []
    try:
        for i, port in enumerate(ports):
            conf = ("cluster = nng\nnng_listen_addresses = tcp://127.0.0.1:%d\n"
                    "nng_peer_addresses = %s\n" % (
                        port, ",".join("tcp://localhost:%d" % p for p in peers[i]))) + MESH + (
                "nng_heartbeat_interval = 100ms\npeer_timeout = 1s\n")
            nodes.append(Server(binary, config=conf))
        a, b = nodes
        wait_connected(nodes)
        eb = epoch_of(b)
        check(list(mesh_peers(a)) == [eb], "A's only peer is B (not itself): %r" % mesh_peers(a))
        rb = Stream(b.port, "/events?topic=t")
        wait_interest(a, eb, 1)
        check(a.publish([{"topic": "t", "data": "x"}])[0] == 200, "publish on A")
        check(rb.next_event()["data"] == "x", "B's reader")
        check(mesh_peers(a)[eb]["down"] == 0, "B is up")
        os.kill(b.proc.pid, signal.SIGSTOP)
        try:
            wait_for("A marks B down", lambda: mesh_peers(a)[eb]["down"] == 1, timeout=10)
        finally:
            os.kill(b.proc.pid, signal.SIGCONT)
        wait_for("A hears B again", lambda: mesh_peers(a)[eb]["down"] == 0, timeout=10)
        rb.close()
    finally:
        stop_all(nodes)


if __name__ == "__main__":
    sys.exit(run([test_publish_reaches_readers_on_other_nodes, test_partition_heals,
                  test_gap_no_longer_kept_is_a_resync, test_volume_in_order,
                  test_one_list_for_all_and_silent_peer_down],
                 sys.argv[1]))
