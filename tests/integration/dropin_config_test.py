#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The documented RevenProx's TOML file, rebuilt from the keys its documentation lists, run as
its documentation runs it (`revenprox --config FILE`, or config/proxy.toml found in the
working directory): the server listens where the file says and behaves as it says (workers,
heartbeat, header and connection caps, CORS origins, authentication through the webhook,
drop_newest), and each key it does not honour is named once in the log."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
from support import Server, Stream, check, free_port, log_text, run  # noqa: E402

PAYLOAD = "x" * 4000
AUTH = {"Authorization": "Bearer good-reader"}

# Every documented key, with realistic values (ports and the webhook filled in per test).
DOCUMENTED = """\
# RevenProx configuration
proxy_id = "proxy-eu-1"
log_level = "info"
metrics_enabled = true

[http]
bind_address = "127.0.0.1:{port}"
max_connections = 4
connection_timeout_sec = 300
keepalive_interval_sec = 1
max_message_queue_size = 100
thread_pool_size = 2
max_request_line_size = 8192
max_header_size = 16384
max_headers = 20
rate_limit_per_ip = 1000
rate_limit_window_sec = 60
cors_allowed_origins = [
    "https://app.example.com",
    "https://admin.example.com",  # a trailing comma, as TOML allows
]
backpressure_policy = "drop_newest"

[jwt_verifier]
webhook_url = "http://127.0.0.1:{hook}/verify"
timeout_ms = 2000
retry_attempts = 3
cache_ttl_sec = 300
cache_max_size = 10000
circuit_breaker_threshold = 5
circuit_breaker_timeout_sec = 30
rate_limit_per_sec = 1000
require_authentication = true

[nng]
listen_addresses = ["tcp://0.0.0.0:5555"]
peer_addresses = ["tcp://10.0.0.2:5555", "tcp://10.0.0.3:5555"]
pub_buffer_size = 1000
sub_buffer_size = 1000
reconnect_interval_ms = 1000
heartbeat_interval_sec = 5
message_batch_size = 100
message_batch_timeout_ms = 10

[distributed_state]
gossip_interval_sec = 1
bloom_filter_capacity = 100000
bloom_filter_fpr = 0.01
peer_timeout_sec = 30

[limits]
max_topics = 50000
max_message_size = 65536
max_subscriptions_total = 100

# RevenProx's own settings, by their names: enough history for the drop_newest check.
[revenprox]
history_count = 5000
"""

NOT_HONOURED = ["proxy_id", "[nng] pub_buffer_size", "[nng] sub_buffer_size",
                "[jwt_verifier] rate_limit_per_sec", "[limits] max_subscriptions_total"]


class Webhook:
    """A verifier that admits tokens "good-..." to every topic, in either request shape (ours
    sends {"token"}, the documented one {"jwt", "topic"})."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                token = body.get("token", body.get("jwt", ""))
                if token.startswith("good-"):
                    answer = {"valid": True, "sub": token, "read": ["#"], "write": ["#"]}
                else:
                    answer = {"valid": False}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class DropinServer(Server):
    """The server started as the documented RevenProx starts: `revenprox --config FILE`,
    or `revenprox` alone in a directory with config/proxy.toml. No flags."""

    def __init__(self, binary, text, port, args=None, cwd=None, path=None):
        if path is None:
            fd, path = tempfile.mkstemp(suffix=".toml")
            os.close(fd)
        with open(path, "w") as f:
            f.write(text)
        self.conf = type("Conf", (), {"name": path})()
        self.log = tempfile.TemporaryFile()
        self.port = None
        # Without flags, the disk log goes where REVENPROX_DATA_DIR says: a temporary
        # directory of this server's; in a working directory of the test's, its ./data.
        self.own_data = None if cwd else tempfile.mkdtemp(prefix="rp-data-")
        env = dict(os.environ)
        env.pop("REVENPROX_DATA_DIR", None)
        if self.own_data:
            env["REVENPROX_DATA_DIR"] = self.own_data
        self.proc = subprocess.Popen([os.path.abspath(binary)] + (args if args is not None else ["--config", path]),
                                     stderr=subprocess.PIPE, cwd=cwd, env=env)
        deadline = time.monotonic() + 20
        while self.port is None and time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.write(line)
            m = re.search(rb'msg="listening" addr=127\.0\.0\.1:(\d+)', line)
            if m:
                self.port = int(m.group(1))
        if self.port is None:
            self.log.seek(0)
            self.cleanup()
            raise RuntimeError("server did not start: " + self.log.read().decode()[-2000:])
        check(self.port == port, "listens on the file's bind_address: %d, not %d" % (
            self.port, port))
        threading.Thread(target=self._drain, daemon=True).start()


def raw_get(port, path, headers):
    """Status and head of one GET on a fresh connection (the body is not awaited)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    req = "GET %s HTTP/1.1\r\nHost: localhost\r\n" % path
    for k, v in headers.items():
        req += "%s: %s\r\n" % (k, v)
    s.sendall(req.encode() + b"\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head = data.split(b"\r\n\r\n")[0].decode("latin-1")
    return int(head.split(" ")[1]) if head else 0, head


def publish(srv, events):
    return srv.request("POST", "/publish", json.dumps(events).encode(),
                       {"Content-Type": "application/json",
                        "Authorization": "Bearer good-publisher"})


def check_notices_once(srv, binary, path):
    # The notices follow the "listening" line: wait until the log has them all.
    deadline = time.monotonic() + 5
    while True:
        lines = [ln for ln in log_text(srv).splitlines() if "not honoured" in ln]
        if len(lines) >= len(NOT_HONOURED) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    time.sleep(0.2)
    lines = [ln for ln in log_text(srv).splitlines() if "not honoured" in ln]
    for key in NOT_HONOURED:
        n = sum(1 for ln in lines if (": %s: not honoured" % key) in ln)
        check(n == 1, "%d notices for %s in:\n%s" % (n, key, "\n".join(lines)))
    # retry_attempts and the webhook's request shape are honoured once their settings exist.
    dump = subprocess.run([binary, "config", "dump", "--config", path], capture_output=True,
                          text=True, check=True).stdout
    pending = [("[jwt_verifier] retry_attempts", "auth_webhook_retries"),
               ("[jwt_verifier] webhook_url", "auth_webhook_format")]
    for key, setting in pending:
        n = sum(1 for ln in lines if (": %s: not honoured" % key) in ln)
        want = 0 if re.search(r"^%s = " % setting, dump, re.M) else 1
        check(n == want, "%d notices for %s (want %d)" % (n, key, want))
    check(len(lines) == len(NOT_HONOURED) + sum(
        0 if re.search(r"^%s = " % s, dump, re.M) else 1 for _, s in pending),
        "unexpected notices:\n" + "\n".join(lines))


def check_cors_and_auth(srv):
    status, head = raw_get(srv.port, "/events/t", {})
    check(status == 401, "require_authentication: no token gets 401, not %d" % status)
    status, head = raw_get(srv.port, "/events/t", {"Authorization": "Bearer bad-token"})
    check(status in (401, 403), "a token the webhook refuses: %d" % status)
    status, head = raw_get(srv.port, "/events/t",
                           dict(AUTH, Origin="https://admin.example.com"))
    check(status == 200, "a good token reads: %d" % status)
    check("Access-Control-Allow-Origin: https://admin.example.com" in head,
          "a listed origin is allowed:\n" + head)
    status, head = raw_get(srv.port, "/events/t", dict(AUTH, Origin="https://evil.example"))
    check("Access-Control-Allow-Origin" not in head, "an unlisted origin is not:\n" + head)


def check_drop_newest(srv):
    s = Stream(srv.port, "/events/slow", headers=AUTH, rcvbuf=4096)
    for i in range(0, 2000, 100):
        status, body = publish(srv, [{"topic": "slow", "data": "%d %s" % (k, PAYLOAD)}
                                     for k in range(i, i + 100)])
        check(status == 200, "publish: %s %s" % (status, body))
    time.sleep(0.2)
    seen, resync = [], None
    while resync is None:
        ev = s.next_event(timeout=5)
        if ev.get("event") == "resync":
            resync = json.loads(ev["data"])
        else:
            seen.append(int(ev["data"].split(" ", 1)[0]))
    s.close()
    check(resync["policy"] == "drop_newest", "backpressure_policy drop_newest: %s" % resync)
    check(seen == list(range(len(seen))), "drop_newest keeps the oldest, in order")


def check_caps(srv):
    headers = {"X-H%d" % i: "v" for i in range(25)}
    status, _ = raw_get(srv.port, "/healthz", headers)
    check(status == 431, "max_headers 20: 25 headers get 431, not %d" % status)
    streams = []
    try:
        while len(streams) < 4:
            streams.append(Stream(srv.port, "/events/t", headers=AUTH))
    except (OSError, EOFError):
        pass
    status, head = raw_get(srv.port, "/healthz", {})
    check(status == 503, "max_connections 4: the fifth connection gets 503, not %d (%d open)" % (
        status, len(streams)))
    for s in streams:
        s.close()


def test_documented_file_as_written(binary):
    hook = Webhook()
    port = free_port()
    text = DOCUMENTED.format(port=port, hook=hook.port)
    srv = DropinServer(binary, text, port)
    try:
        check_notices_once(srv, binary, srv.conf.name)
        status, m = srv.request("GET", "/metrics?format=json", headers=AUTH)
        check(status == 200 and m["workers"] == 2, "thread_pool_size 2: %s" % m.get("workers"))
        s = Stream(srv.port, "/events/quiet", headers=AUTH)
        time.sleep(2.5)
        status, m = srv.request("GET", "/metrics?format=json", headers=AUTH)
        check(m["heartbeats_sent"] >= 1, "keepalive_interval_sec 1: no heartbeat in 2.5 s")
        s.close()
        check_cors_and_auth(srv)
        check_drop_newest(srv)
        time.sleep(0.3)
        check_caps(srv)
        # A reload reads the TOML file again and does not repeat the notices.
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "configuration reloaded" not in log_text(srv) and time.monotonic() < deadline:
            time.sleep(0.05)
        check("configuration reloaded" in log_text(srv), "SIGHUP reloads the TOML file")
        check_notices_once(srv, binary, srv.conf.name)
    finally:
        rc = srv.stop()
        hook.stop()
    check(rc == 0, "server exits cleanly")


def test_default_file_in_working_directory(binary):
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "config"))
        text = ('[http]\nbind_address = "127.0.0.1:%d"\ncors_allowed_origins = ["*"]\n'
                'backpressure_policy = "drop_newest"\n' % port)
        # No arguments at all, as the documented server starts.
        srv = DropinServer(binary, text, port, args=[], cwd=d,
                           path=os.path.join(d, "config", "proxy.toml"))
        try:
            status, head = raw_get(srv.port, "/events/t", {"Origin": "https://any.example"})
            check(status == 200 and "Access-Control-Allow-Origin: *" in head,
                  "the documented CORS default, set explicitly, is exactly `*`:\n" + head)
            check("not honoured" not in log_text(srv), "no notice for honoured keys")
        finally:
            rc = srv.stop()
        check(rc == 0, "server exits cleanly")


def test_bad_file_names_line_and_column(binary):
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
        f.write('[http]\nmax_connections = "many"\n')
        f.flush()
        p = subprocess.run([binary, "--config", f.name], capture_output=True, text=True,
                           timeout=20)
        check(p.returncode == 2, "a bad file is refused at start: %d" % p.returncode)
        check("%s:2:19: [http] max_connections" % f.name in p.stderr and
              "expected an integer" in p.stderr, "the refusal says where and what: " + p.stderr)


if __name__ == "__main__":
    sys.exit(run([test_documented_file_as_written, test_default_file_in_working_directory,
                  test_bad_file_names_line_and_column], sys.argv[1]))
