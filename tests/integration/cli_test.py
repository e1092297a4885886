#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The command-line tools against the real server: `pub` then `sub --json` reads exactly
what was published (live and replayed), patterns and several filters keep id order, `sub`
reconnects through a dropped connection and across a server restart (resync) without losing
an event, `--last-event-id` resumes, `topics` lists counts, `token` mints JWTs a jwt-mode
server accepts (and one with another key refuses), and the exit codes: 1 with the server's
message, 2 for usage errors, 3 when nothing listens."""
import json
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from support import Server, check, free_port, run, seq  # noqa: E402

SECRET = "a-secret-of-at-least-32-bytes-long!!"
OTHER_SECRET = "another-secret-of-at-least-32-bytes!!"


def cli(binary, *args, stdin=None, timeout=30):
    """Runs `revenprox ARGS...` to completion: (exit code, stdout, stderr)."""
    p = subprocess.run([binary] + list(args), input=stdin, capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def url(srv):
    return "--url=http://127.0.0.1:%d" % srv.port


class Sub:
    """A running `revenprox sub`, its stdout lines read as they come."""

    def __init__(self, binary, *args):
        self.proc = subprocess.Popen([binary, "sub"] + list(args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.lines = queue.Queue()
        self.err = []
        threading.Thread(target=self._read, args=(self.proc.stdout, self.lines.put),
                         daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.err.append),
                         daemon=True).start()

    @staticmethod
    def _read(f, put):
        for line in f:
            put(line.decode("utf-8", "replace").rstrip("\n"))

    def line(self, timeout=15):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("sub printed nothing for %ss; stderr: %s" %
                                 (timeout, " | ".join(self.err)))

    def json_lines(self, n, timeout=15):
        return [json.loads(self.line(timeout)) for _ in range(n)]

    def wait(self, timeout=15):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("sub did not exit; stderr: %s" % " | ".join(self.err))
        time.sleep(0.05)  # let the reader threads drain
        return rc

    def stderr(self):
        return "\n".join(self.err)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_subscribed(srv, topic, n=1, headers=None):
    """Waits until <topic> has <n> subscribers, so what is published next is live for them."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, body = srv.request("GET", "/topics/" + topic, headers=headers)
        if status == 200 and body["subscribers"] >= n:
            return
        time.sleep(0.05)
    raise AssertionError("no subscriber on %s" % topic)


class Proxy:
    """A loopback TCP relay whose connections can be cut, as a server or a network would."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.accepted = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.upstream))
            with self.lock:
                self.conns.append((c, u))
                self.accepted += 1
            threading.Thread(target=self._pipe, args=(c, u), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
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
            conns, self.conns = self.conns, []
        for pair in conns:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self):
        self.lsock.close()
        self.cut()


# ---- pub and sub ----

def test_pub_then_sub_json_live(binary):
    with Server(binary) as srv:
        sub = Sub(binary, "news", "--json", "--count", "4", url(srv))
        wait_subscribed(srv, "news")
        published = []
        rc, out, err = cli(binary, "pub", "news", "hello world", url(srv))
        check(rc == 0 and err == "", "pub exits 0 quietly: %d %r" % (rc, err))
        published.append((out.strip(), "message", "hello world"))
        rc, out, _ = cli(binary, "pub", "news", "-", "--event", "update", url(srv),
                         stdin=b"line one\nline two\n")
        check(rc == 0, "pub from stdin")
        published.append((out.strip(), "update", "line one\nline two"))
        rc, out, _ = cli(binary, "pub", "--event=note", url(srv), "news", stdin="día ✓".encode())
        check(rc == 0, "pub with DATA missing reads stdin")
        published.append((out.strip(), "note", "día ✓"))
        rc, out, _ = cli(binary, "pub", "news", "", url(srv))
        check(rc == 0, "empty data is an event too")
        published.append((out.strip(), "message", ""))
        got = sub.json_lines(4)
        check(sub.wait() == 0, "sub exits 0 after --count events")
        want = [{"id": i, "event": e, "topic": "news", "data": d} for i, e, d in published]
        check(got == want, "sub reads exactly what was published:\n%r\n%r" % (got, want))
        check(sub.lines.empty(), "nothing after the counted events")
        # The server's own log agrees on the data (the trailing newline of stdin dropped).
        _, log = srv.request("GET", "/topics/news/events")
        check([e["data"] for e in log["events"]] == [d for _, _, d in published], "log data")


def test_sub_human_format(binary):
    with Server(binary) as srv:
        start = cli(binary, "pub", "news", "before", url(srv))[1].strip()
        ids = [cli(binary, "pub", "news", d, url(srv))[1].strip() for d in ("a\nb", "tab\there")]
        rc, out, err = cli(binary, "sub", "news", "--count", "2", "--last-event-id", start,
                           url(srv))
        check(rc == 0, "sub exits 0: %s" % err)
        want = ("[news] message %s: a\n" % ids[0] + " " * len("[news] message %s: " % ids[0]) +
                "b\n[news] message %s: tab\there\n" % ids[1])
        check(out == want, "human format, continuation lines aligned:\n%r\n%r" % (out, want))


def test_sub_patterns_keep_id_order(binary):
    with Server(binary) as srv:
        sub = Sub(binary, "sport/+", "news", "--json", "--count", "5", url(srv))
        wait_subscribed(srv, "news")
        sent = []
        for topic, data, event in [("sport/football", "goal", None), ("news", "n1", None),
                                   ("weather", "not subscribed", None),
                                   ("sport/tennis", "ace", "point"), ("sport/a/b", "too deep", None),
                                   ("news", "n2", "update"), ("sport/golf", "birdie", None)]:
            args = ["pub", topic, data, url(srv)] + (["--event", event] if event else [])
            rc, out, _ = cli(binary, *args)
            check(rc == 0, "published to %s" % topic)
            if topic.startswith("sport/") and topic.count("/") == 1 or topic == "news":
                sent.append({"id": out.strip(), "event": event or "message", "topic": topic,
                             "data": data})
        got = sub.json_lines(5)
        check(sub.wait() == 0, "sub exits 0")
        check(got == sent, "the matching events, topics named, in order:\n%r\n%r" % (got, sent))
        check([seq(e["id"]) for e in got] == sorted(seq(e["id"]) for e in got), "ids ascend")


def test_sub_resumes_from_last_event_id(binary):
    with Server(binary) as srv:
        ids = [cli(binary, "pub", "t/x", "e%d" % i, url(srv))[1].strip() for i in range(5)]
        rc, out, _ = cli(binary, "sub", "t/#", "--json", "--count", "3", "--last-event-id",
                         ids[1], url(srv))
        check(rc == 0, "sub exits 0")
        got = [json.loads(line) for line in out.splitlines()]
        check([e["id"] for e in got] == ids[2:], "replays after the given id: %r" % got)
        check([e["data"] for e in got] == ["e2", "e3", "e4"], "in order")
        # An id the server never gave: announced, then live events.
        sub = Sub(binary, "t/x", "--json", "--count", "1", "--last-event-id", "zz", url(srv))
        first = json.loads(sub.line())
        check(first.get("resync", {}).get("reason") == "unknown_id", "resync: %r" % first)
        rc, out, _ = cli(binary, "pub", "t/x", "live", url(srv))
        got = json.loads(sub.line())
        check(got["id"] == out.strip() and got["data"] == "live", "then live: %r" % got)
        check(sub.wait() == 0, "a resync does not count as an event")


def test_sub_reconnects_after_a_dropped_connection(binary):
    srv = Server(binary, "--retry", "100ms")
    proxy = Proxy(srv.port)
    sub = Sub(binary, "news", "--json", "--count", "10", "--url",
              "http://127.0.0.1:%d" % proxy.port)
    try:
        ids = []
        for rnd in range(2):
            wait_subscribed(srv, "news")
            for i in range(3):
                ids.append(cli(binary, "pub", "news", "r%d-%d" % (rnd, i), url(srv))[1].strip())
            got = sub.json_lines(3)
            check([e["id"] for e in got] == ids[-3:], "round %d, live: %r" % (rnd, got))
            proxy.cut()
            # Published while the subscriber is away: it gets them after reconnecting.
            for i in range(2):
                ids.append(cli(binary, "pub", "news", "gap%d-%d" % (rnd, i), url(srv))[1].strip())
            got = sub.json_lines(2)
            check([e["id"] for e in got] == ids[-2:], "round %d, after the cut: %r" % (rnd, got))
        check(sub.wait() == 0, "sub exits 0 after --count events")
        check(proxy.accepted >= 3, "it reconnected: %d connections" % proxy.accepted)
        err = sub.stderr()
        check("reconnecting" in err and "reconnected" in err, "says so on stderr: " + err)
    finally:
        sub.kill()
        proxy.close()
        check(srv.stop() == 0, "server exits cleanly")


def test_sub_survives_a_server_restart(binary):
    srv = Server(binary, "--retry", "100ms")
    port = srv.port
    sub = Sub(binary, "news", "--json", "--count", "2", url(srv))
    try:
        wait_subscribed(srv, "news")
        first = cli(binary, "pub", "news", "before", url(srv))[1].strip()
        check(sub.json_lines(1)[0]["id"] == first, "the first event")
        check(srv.stop() == 0, "first server exits cleanly")
        srv = Server(binary, "--retry", "100ms", "--listen", "127.0.0.1:%d" % port)
        wait_subscribed(srv, "news")
        resync = json.loads(sub.line())
        check(resync.get("resync", {}).get("reason") == "epoch" and
              resync["resync"].get("requested") == first, "a new epoch is announced: %r" % resync)
        second = cli(binary, "pub", "news", "after", url(srv))[1].strip()
        got = json.loads(sub.line())
        check(got["id"] == second and got["data"] == "after", "then the new server's events")
        check(second.split("-")[0] != first.split("-")[0], "another epoch")
        check(sub.wait() == 0, "sub exits 0")
    finally:
        sub.kill()
        check(srv.stop() == 0, "server exits cleanly")


# ---- topics ----

def test_topics_table_and_json(binary):
    with Server(binary) as srv:
        for topic, n in [("news", 3), ("sport/football", 2), ("sport/tennis", 1)]:
            for i in range(n):
                check(cli(binary, "pub", topic, "x" * (i + 1), url(srv))[0] == 0, "published")
        rc, out, _ = cli(binary, "topics", url(srv))
        check(rc == 0, "topics exits 0")
        lines = out.splitlines()
        check(lines[0].split() == ["TOPIC", "EVENTS", "BYTES", "SUBSCRIBERS", "PUBLISHED", "LAST",
                                   "ID"], "a header: %r" % lines[0])
        rows = {f[0]: f for f in (line.split() for line in lines[1:])}
        check(list(rows) == ["news", "sport/football", "sport/tennis"], "sorted: %r" % lines)
        check(rows["news"][1] == "3" and rows["news"][4] == "3", "counts: %r" % rows["news"])
        check(rows["sport/tennis"][1] == "1", "counts: %r" % rows["sport/tennis"])
        rc, out, _ = cli(binary, "topics", "sport/#", "--json", url(srv))
        body = json.loads(out)
        check(rc == 0 and body["count"] == 2, "a pattern filters: %r" % body)
        check({t["name"]: t["events"] for t in body["topics"]} ==
              {"sport/football": 2, "sport/tennis": 1}, "raw JSON: %r" % body)
        rc, out, _ = cli(binary, "topics", "nothing/+", url(srv))
        check(rc == 0 and out.strip() == "no topics", "none: %r" % out)
        rc, _, err = cli(binary, "topics", "bad#pattern", url(srv))
        check(rc == 1 and "HTTP 400" in err, "a bad pattern is the server's 400: " + err)


# ---- token ----

def test_token_is_accepted_by_a_jwt_server(binary):
    srv = Server(binary, "--auth-mode", "jwt", "--auth-jwt-secret", SECRET)
    other = Server(binary, "--auth-mode", "jwt", "--auth-jwt-secret", OTHER_SECRET)
    conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    try:
        rc, out, err = cli(binary, "token", "--auth-jwt-secret", SECRET, "--sub", "alice",
                           "--read", "news/#", "--write", "news", "--write", "news/uk",
                           "--ttl", "10m")
        check(rc == 0 and err == "", "token exits 0: %s" % err)
        token = out.strip()
        check(token.count(".") == 2, "a compact JWS: %r" % token)
        ids = []
        for data in ("first", "with a token"):
            rc, out, err = cli(binary, "pub", "news", data, "--token", token, url(srv))
            check(rc == 0, "the server accepts the token for writing: %s" % err)
            ids.append(out.strip())
        pub_id = ids[1]
        rc, out, err = cli(binary, "sub", "news/#", "--json", "--count", "1", "--token", token,
                           "--last-event-id", ids[0], url(srv))
        check(rc == 0 and json.loads(out)["id"] == pub_id, "and for reading: %s %s" % (out, err))
        rc, _, err = cli(binary, "pub", "sport", "not allowed", "--token", token, url(srv))
        check(rc == 1 and "HTTP 403" in err and "sport" in err, "403 outside write: " + err)
        rc, _, err = cli(binary, "pub", "news", "no token", url(srv))
        check(rc == 1 and "HTTP 401" in err and "--token" in err, "401 without: " + err)
        rc, _, err = cli(binary, "pub", "news", "x", "--token", token, url(other))
        check(rc == 1 and "HTTP 401" in err and "signature" in err,
              "another secret refuses it: " + err)
        rc, _, err = cli(binary, "topics", "--token", token, url(other))
        check(rc == 1 and "HTTP 401" in err, "for topics too: " + err)
        # The same key from a config file or the environment, as serve reads it.
        conf.write('auth_jwt_secret = "%s"\nauth_jwt_audience = news-app\n' % OTHER_SECRET)
        conf.close()
        rc, out, _ = cli(binary, "token", "--config", conf.name, "--write", "news")
        check(rc == 0, "token from a config file")
        payload = json.loads(b64url(out.strip().split(".")[1]))
        check(payload["aud"] == "news-app" and payload["write"] == ["news"] and
              payload["read"] == [] and payload["exp"] - payload["iat"] == 3600,
              "aud from the config, ttl 1h by default: %r" % payload)
        rc, _, err = cli(binary, "pub", "news", "x", "--token", out.strip(), url(other))
        check(rc == 0, "the other server takes a token of its own secret: " + err)
        env = dict(os.environ, REVENPROX_AUTH_JWT_SECRET=SECRET)
        p = subprocess.run([binary, "token", "--write", "news", "--iss", "me"],
                           capture_output=True, env=env, timeout=10)
        payload = json.loads(b64url(p.stdout.decode().strip().split(".")[1]))
        check(p.returncode == 0 and payload["iss"] == "me", "from the environment: %r" % payload)
        check(cli(binary, "pub", "news", "x", "--token", p.stdout.decode().strip(),
                  url(srv))[0] == 0, "accepted")
    finally:
        os.unlink(conf.name)
        check(srv.stop() == 0, "server exits cleanly")
        check(other.stop() == 0, "server exits cleanly")


def b64url(s):
    import base64
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def test_token_es256_private_key(binary):
    d = tempfile.mkdtemp()
    key, pub = os.path.join(d, "es256.key"), os.path.join(d, "es256.pub")
    # The openssl command comes from scripts/install-deps.
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
                    key], check=True, capture_output=True)
    subprocess.run(["openssl", "ec", "-in", key, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    srv = Server(binary, "--auth-mode", "jwt", "--auth-jwt-key-file", pub)
    try:
        rc, out, err = cli(binary, "token", "--private-key", key, "--write", "a/#")
        check(rc == 0, "signed with the private key: " + err)
        header = json.loads(b64url(out.split(".")[0]))
        check(header["alg"] == "ES256", "ES256: %r" % header)
        rc, _, err = cli(binary, "pub", "a/b", "x", "--token", out.strip(), url(srv))
        check(rc == 0, "accepted by a server with the public key: " + err)
        rc, _, err = cli(binary, "token", "--private-key", os.path.join(d, "missing.pem"))
        check(rc == 2 and "missing.pem" in err, "a missing key file is a usage error: " + err)
    finally:
        check(srv.stop() == 0, "server exits cleanly")
        for f in (key, pub):
            os.unlink(f)
        os.rmdir(d)


# ---- exit codes ----

def test_server_refusal_is_exit_1_with_its_message(binary):
    with Server(binary) as srv:
        rc, out, err = cli(binary, "pub", "bad//topic", "x", url(srv))
        check(rc == 1 and out == "", "exit 1: %d" % rc)
        check("HTTP 400" in err and "invalid topic name" in err, "the server's message: " + err)
        rc, _, err = cli(binary, "pub", "news/+", "x", url(srv))
        check(rc == 1 and "wildcards" in err, "a pattern is not a topic: " + err)
        rc, _, err = cli(binary, "sub", "bad//filter", url(srv))
        check(rc == 1 and "HTTP 400" in err, "sub too: " + err)
        rc, _, err = cli(binary, "pub", "news", "x", "--event", "bad\ntype", url(srv))
        check(rc == 1 and "HTTP 400" in err, "a bad event type: " + err)


def test_nothing_listening_is_exit_3(binary):
    port = free_port()
    for args in (["pub", "news", "x"], ["sub", "news"], ["topics"]):
        rc, out, err = cli(binary, *args, "--url", "http://127.0.0.1:%d" % port, timeout=20)
        check(rc == 3 and out == "", "%s: exit 3, got %d" % (args[0], rc))
        check("cannot reach" in err and "revenprox serve" in err, "says what to do: " + err)
    # The default URL comes from the listen setting.
    rc, _, err = cli(binary, "topics", "--listen", "127.0.0.1:%d" % port)
    check(rc == 3 and "127.0.0.1:%d" % port in err, "default URL from --listen: " + err)


def test_default_url_from_config_file(binary):
    srv = Server(binary)
    conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    try:
        conf.write("listen = 0.0.0.0:%d\n" % srv.port)
        conf.close()
        rc, out, err = cli(binary, "pub", "--config", conf.name, "news", "via config")
        check(rc == 0, "pub finds the server from the config's listen: " + err)
        rc, out, _ = cli(binary, "topics", "--config=" + conf.name, "--json")
        check(rc == 0 and json.loads(out)["count"] == 1, "topics too")
    finally:
        os.unlink(conf.name)
        check(srv.stop() == 0, "server exits cleanly")


def test_usage_errors_are_exit_2(binary):
    cases = [
        (["pub"], "TOPIC"),
        (["pub", "a", "b", "c"], "too many"),
        (["pub", "news", "x", "--evnt", "e"], "unknown flag"),
        (["pub", "news", "x", "--event"], "needs a value"),
        (["pub", "news", "x", "--url", "ftp://host/"], "http://"),
        (["pub", "news", "x", "-e", "t"], "unknown option"),
        (["sub"], "FILTER"),
        (["sub", "news", "--count", "0"], "--count"),
        (["sub", "news", "--count", "x"], "--count"),
        (["sub", "news", "--json=yes"], "no value"),
        (["topics", "a", "b"], "at most one"),
        (["token", "--auth-jwt-secret", SECRET, "--ttl", "soon"], "--ttl"),
        (["token", "--auth-jwt-secret", SECRET, "--ttl", "0"], "--ttl"),
        (["token", "--auth-jwt-secret", SECRET, "--read", "a/#/b"], "--read a/#/b"),
        (["token", "--auth-jwt-secret", "short"], "at least 32"),
        (["token"], "no signing key"),
        (["token", "extra"], "unexpected argument"),
        (["nonsense"], "unknown command"),
    ]
    for args, words in cases:
        rc, out, err = cli(binary, *args)
        check(rc == 2, "%s: exit 2, got %d (%s)" % (args, rc, err.strip()))
        check(words in err and out == "", "%s: says %r: %r" % (args, words, err))
    for cmd in ("pub", "sub", "topics", "token"):
        rc, out, _ = cli(binary, cmd, "--help")
        check(rc == 0 and out.startswith("Usage: revenprox " + cmd) and "Exit status" in out,
              "%s --help" % cmd)
    rc, out, _ = cli(binary, "--help")
    check(rc == 0 and "revenprox sub FILTER" in out and "3 the server could not be reached" in out,
          "revenprox --help lists the tools and their exit codes")


if __name__ == "__main__":
    sys.exit(run([
        test_pub_then_sub_json_live,
        test_sub_human_format,
        test_sub_patterns_keep_id_order,
        test_sub_resumes_from_last_event_id,
        test_sub_reconnects_after_a_dropped_connection,
        test_sub_survives_a_server_restart,
        test_topics_table_and_json,
        test_token_is_accepted_by_a_jwt_server,
        test_token_es256_private_key,
        test_server_refusal_is_exit_1_with_its_message,
        test_nothing_listening_is_exit_3,
        test_default_url_from_config_file,
        test_usage_errors_are_exit_2,
    ], sys.argv[1]))
