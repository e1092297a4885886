# SPDX-License-Identifier: MIT
"""Helpers for integration tests: start the real server, publish, read SSE streams."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def own_data_dir(flags, config=""):
    """A fresh temporary data_dir for a server, unless <flags> or <config> already name one
    (then None). Tests run in parallel and one data_dir takes one process only, so no two
    servers of the suite may fall back to the default ./data of the working directory."""
    if "--data-dir" in flags or any(f.startswith("--data-dir=") for f in flags):
        return None
    if re.search(r"^\s*data_dir\s*=", config, re.M):
        return None
    return tempfile.mkdtemp(prefix="rp-data-")


class Server:
    """The real server on an ephemeral loopback port. Its disk log goes to a temporary
    directory of its own, removed by stop(), unless the test names one (`data_dir` in
    <config> or `--data-dir` in <flags>): then it is the test's to keep or remove."""

    def __init__(self, binary, *flags, config=""):
        self.own_data = own_data_dir(flags, config)
        self.conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
        self.conf.write(config)
        self.conf.close()
        self.log = tempfile.TemporaryFile()
        extra = ["--data-dir", self.own_data] if self.own_data else []
        self.proc = subprocess.Popen(
            [binary, "serve", "--config", self.conf.name, "--listen", "127.0.0.1:0",
             "--workers", "2"] + extra + list(flags), stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        self.port = None
        while self.port is None and time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.write(line)
            # key=value or JSON (log_format json)
            m = re.search(rb'msg="listening" addr=127\.0\.0\.1:(\d+)|'
                          rb'"msg":"listening","addr":"127\.0\.0\.1:(\d+)"', line)
            if m:
                self.port = int(m.group(1) or m.group(2))
        if self.port is None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.log.seek(0)
            early = self.log.read().decode("utf-8", "replace")[-2000:]
            self.cleanup()
            raise RuntimeError("server did not start: %s" % early)
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stderr:
            self.log.write(line)

    # `with Server(...) as srv:` stops it at the end and checks that it exited cleanly.
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        check(self.stop() == 0, "server exits cleanly")
        return False

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=20)
        self.cleanup()
        if rc != 0:
            self.log.seek(0)
            sys.stderr.write(self.log.read().decode("utf-8", "replace")[-3000:])
        return rc

    def cleanup(self):
        """Removes the config file and the data_dir this object made (once the process
        that used them is gone); a data_dir the test named stays."""
        if os.path.exists(self.conf.name):
            os.unlink(self.conf.name)
        if self.own_data:
            shutil.rmtree(self.own_data, ignore_errors=True)

    def request(self, method, path, body=b"", headers=None, timeout=10, host="localhost"):
        """One request on a fresh connection: (status, parsed JSON or text)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        h = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: %d\r\n" % (
            method, path, host, len(body))
        for k, v in (headers or {}).items():
            h += "%s: %s\r\n" % (k, v)
        s.sendall(h.encode() + b"\r\n" + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        try:
            return status, json.loads(rest)
        except ValueError:
            return status, rest.decode("utf-8", "replace")

    def publish(self, events):
        return self.request("POST", "/publish", json.dumps(events).encode(),
                            {"Content-Type": "application/json"})

    def metrics(self):
        return self.request("GET", "/metrics?format=json")[1]


class Stream:
    """An SSE client over a raw socket; rcvbuf makes it a deliberately small reader."""

    def __init__(self, port, path, headers=None, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        req = "GET %s HTTP/1.1\r\nHost: localhost\r\n" % path
        for k, v in (headers or {}).items():
            req += "%s: %s\r\n" % (k, v)
        self.sock.sendall(req.encode() + b"\r\n")
        self.buf = b""
        self.eof = False
        self.bare_ids = []  # ids of `id:`-only blocks (a live start's opening id), in order
        self.head = self._read_until(b"\r\n\r\n").decode()

    def _read_until(self, sep):
        while sep not in self.buf:
            chunk = self.sock.recv(262144)
            if not chunk:
                self.eof = True
                raise EOFError("stream closed")
            self.buf += chunk
        out, self.buf = self.buf.split(sep, 1)
        return out

    def _next_block(self):
        """The next block up to a blank line, as a dict of its fields (data: a list)."""
        block = self._read_until(b"\n\n").decode("utf-8")
        ev = {"data": []}
        for line in block.split("\n"):
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                ev["data"].append(value)
            elif name in ("event", "id", "retry"):
                ev[name] = value
        if not ev["data"] and "id" in ev:
            self.bare_ids.append(ev["id"])
        return ev

    def next_event(self, timeout=10):
        """The next dispatched event as a dict (comments and retry-only blocks skipped; the
        id of an `id:`-only block is kept in bare_ids)."""
        self.sock.settimeout(timeout)
        while True:
            ev = self._next_block()
            if ev["data"]:
                ev["data"] = "\n".join(ev["data"])
                return ev

    def opening_id(self, timeout=3):
        """The id a live start opens with (`id:` and a blank line, before any event), or None
        when none arrived within <timeout>. An event before it is an error."""
        self.sock.settimeout(timeout)
        try:
            while not self.bare_ids:
                ev = self._next_block()
                if ev["data"]:
                    raise AssertionError("an event came before the opening id: %r" % ev)
        except socket.timeout:
            return None
        return self.bare_ids[0]

    def events(self, n, timeout=10):
        return [self.next_event(timeout) for _ in range(n)]

    def close(self):
        self.sock.close()


def seq(event_id):
    return int(event_id.split("-")[1])


def log_text(srv):
    """What the server has logged so far."""
    srv.log.flush()
    fd = srv.log.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")


def health(srv, timeout=5):
    status, body = srv.request("GET", "/healthz", timeout=timeout)
    check(status == 200, "healthz answers")
    return body


def wait_pid_change(srv, old_pid, timeout=15):
    """The pid of the process that answers once an upgrade replaced <old_pid>."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid = health(srv)["pid"]
            if pid != old_pid:
                return pid
        except (OSError, AssertionError, KeyError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError("no new process answered within %ds (old process %s)" % (
        timeout, "exited %s" % srv.proc.poll() if srv.proc.poll() is not None else "alive"))


def terminate(pid, timeout=10):
    """SIGTERM to <pid> (not a child of ours), then waits up to <timeout> s for it to go."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def stop_new(srv, pid):
    """Stops the server, and the successor <pid> an upgrade started (None: none did)."""
    if pid:
        terminate(pid)
    if srv.proc.poll() is None:
        srv.stop()
    else:
        srv.cleanup()


def free_port():
    """A loopback port free right now (for a helper server the test starts)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def run(tests, binary):
    failed = 0
    for t in tests:
        start = time.monotonic()
        try:
            t(binary)
            print("ok   %s (%.1fs)" % (t.__name__, time.monotonic() - start))
        except Exception as e:  # noqa: BLE001 - report every failure the same way
            failed += 1
            print("FAIL %s: %s: %s" % (t.__name__, type(e).__name__, e))
    return 1 if failed else 0


def upgrade_step(srv, pid):
    """`revenprox upgrade`; the pid of the process that answers afterwards."""
    out = subprocess.run([srv.proc.args[0], "upgrade", "--url", "http://127.0.0.1:%d" % srv.port],
                         capture_output=True, text=True, timeout=40)
    check(out.returncode == 0, "revenprox upgrade: %r %r" % (out.stdout, out.stderr))
    return wait_pid_change(srv, pid)


def failed_upgrade_step(srv, pid):
    """A SIGUSR2 whose successor cannot start; the old process <pid> still serves."""
    # The successor says ready, then cannot start: its JWT key file is missing.
    with open(srv.conf.name, "w") as f:
        f.write("auth_mode = jwt\nauth_jwt_key_file = /nonexistent/revenprox.pem\n")
    before = log_text(srv).count("still serving")
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + 15
    while log_text(srv).count("still serving") == before:
        check(time.monotonic() < deadline, "the failed upgrade is logged")
        time.sleep(0.02)
    with open(srv.conf.name, "w") as f:
        f.write("")
    check(health(srv)["pid"] == pid, "the old process still serves")
    return pid
