#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Protocol test runner: raw HTTP/SSE byte exchanges against the real binary.

Each tests/protocol/cases/NNN-name.case is a script of steps, one per `% ` line:

  % config                 settings for this case (config-file syntax), before any step
  % send NAME              bytes to send on connection NAME (opened on first use); lines end
                           with CRLF; escapes \\r \\n \\t \\xNN; `{=var}` is substituted;
                           `Content-Length: auto` is replaced by the body's length; an
                           HTTP/1.1 head without a Host line gets `Host: localhost` after its
                           request line, as every client sends one (write `Host:` lines to
                           test Host itself)
  % send-raw NAME          as send, but lines end with LF and the final newline is dropped;
                           the bytes are sent as written (no Host is added)
  % response NAME          read one HTTP response: the first line is the status line (exact),
                           then header lines that must be present (any order); after a blank
                           line, the whole body (patterns allowed). An event stream's body is
                           not read here: use `% stream`
  % stream NAME            the next bytes of NAME, line by line, must match
  % closed NAME            the server closes NAME (EOF) within the timeout
  % silent NAME MS         nothing arrives on NAME for MS milliseconds
  % sleep MS
  % signal TERM|INT        signal the server
  % exits                  the server exits within the timeout, with status 0

Patterns in expected lines: {ID} an event id, {ID:var} an id captured into var, {=var} a
captured value, {NUM} digits, {*} anything up to the end of the line, {UUID} a UUID,
{POS} / {POS:var} a stream's opening id: an event id, or `<epoch>-0` before the epoch's
first event.
Lines starting with `#` before the first step are comments.
"""
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TIMEOUT = 5.0
ID_RE = r"[0-9a-f]{8}-[1-9][0-9]*"
POS_RE = r"[0-9a-f]{8}-(?:0|[1-9][0-9]*)"


class Failure(Exception):
    pass


def parse_case(path):
    steps, cur = [], None
    with open(path, encoding="utf-8") as f:
        text = f.read()
        if text.endswith("\n"):
            text = text[:-1]
        for line in text.split("\n"):
            if line.startswith("% "):
                parts = line[2:].split()
                cur = {"op": parts[0], "args": parts[1:], "lines": [], "at": len(steps)}
                steps.append(cur)
            elif cur is None:
                continue
            else:
                cur["lines"].append(line)
    for s in steps:
        while s["lines"] and s["lines"][-1] == "" and s["op"] not in ("send", "send-raw", "stream"):
            s["lines"].pop()
    return steps


def unescape(text):
    out = bytearray()
    i = 0
    b = text.encode("utf-8")
    while i < len(b):
        c = b[i:i + 1]
        if c == b"\\" and i + 1 < len(b):
            n = b[i + 1:i + 2]
            if n == b"r":
                out += b"\r"; i += 2; continue
            if n == b"n":
                out += b"\n"; i += 2; continue
            if n == b"t":
                out += b"\t"; i += 2; continue
            if n == b"x":
                out.append(int(b[i + 2:i + 4], 16)); i += 4; continue
            if n == b"\\":
                out += b"\\"; i += 2; continue
        out += c
        i += 1
    return bytes(out)


def pattern_to_regex(line, env, captures):
    rx, pos = "", 0
    for m in re.finditer(r"\{(ID|ID:\w+|POS|POS:\w+|=\w+|NUM|\*|UUID)\}", line):
        rx += re.escape(line[pos:m.start()])
        tok = m.group(1)
        if tok in ("ID", "POS"):
            rx += ID_RE if tok == "ID" else POS_RE
        elif tok.startswith(("ID:", "POS:")):
            name = tok.split(":", 1)[1]
            captures.append(name)
            rx += "(?P<%s>%s)" % (name, ID_RE if tok.startswith("ID:") else POS_RE)
        elif tok.startswith("="):
            if tok[1:] not in env:
                raise Failure("pattern uses {%s} before it was captured" % tok)
            rx += re.escape(env[tok[1:]])
        elif tok == "NUM":
            rx += "[0-9]+"
        elif tok == "UUID":
            rx += "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
        else:
            rx += ".*"
        pos = m.end()
    return rx + re.escape(line[pos:])


def match_line(expected, got, env, what):
    captures = []
    rx = pattern_to_regex(expected, env, captures)
    m = re.fullmatch(rx, got)
    if not m:
        raise Failure("%s: expected %r, got %r" % (what, expected, got))
    for name in captures:
        env[name] = m.group(name)


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""
        self.eof = False

    def fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_line(self, deadline, what):
        while b"\n" not in self.buf:
            if not self.fill(deadline):
                raise Failure("%s: no complete line arrived (have %r, eof=%s)"
                              % (what, self.buf[:200], self.eof))
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def read_exact(self, n, deadline, what):
        while len(self.buf) < n:
            if not self.fill(deadline):
                raise Failure("%s: body ended after %d of %d bytes" % (what, len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def build_send(step, env):
    raw = step["op"] == "send-raw"
    lines = [re.sub(r"\{=(\w+)\}", lambda m: env[m.group(1)], l) for l in step["lines"]]
    if raw:
        text = "\n".join(lines)
        if text.endswith("\n"):
            text = text[:-1]
        return unescape(text)
    # Trailing empty lines of the block are the request's terminating blank line.
    while lines and lines[-1] == "":
        lines.pop()
    if "" in lines:
        i = lines.index("")
        head, body = lines[:i], unescape("\r\n".join(lines[i + 1:]))
    else:
        head, body = lines, b""
    head = [("Content-Length: %d" % len(body)) if l == "Content-Length: auto" else l for l in head]
    if (head and re.fullmatch(r"[A-Z]+ \S+ HTTP/1\.1", head[0])
            and not any(l.lower().startswith("host:") for l in head)):
        head.insert(1, "Host: localhost")
    return unescape("\r\n".join(head)) + b"\r\n\r\n" + body


def run_case(path, binary):
    steps = parse_case(path)
    config = ""
    for s in steps:
        if s["op"] == "config":
            config += "\n".join(s["lines"]) + "\n"
    tmp = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    tmp.write(config)
    tmp.close()
    # Each case's server keeps its disk log in a directory of its own (cases run in
    # parallel, and a second process on one data_dir is refused), unless the case sets one.
    data_dir = tempfile.mkdtemp(prefix="rp-proto-data-")
    flags = [] if re.search(r"^\s*data_dir\s*=", config, re.M) else ["--data-dir", data_dir]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([binary, "serve", "--config", tmp.name, "--listen", "127.0.0.1:0",
                             "--workers", "2", "--log-level", "debug"] + flags,
                            stdout=log, stderr=subprocess.PIPE)
    port = None
    try:
        deadline = time.monotonic() + TIMEOUT
        early = b""
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            early += line
            m = re.search(rb'msg="listening" addr=127\.0\.0\.1:(\d+)', line)
            if m:
                port = int(m.group(1))
        if port is None:
            raise Failure("server did not start: %s" % early.decode("utf-8", "replace"))
        # Keep draining stderr so the server never blocks on a full pipe.
        drain = subprocess.Popen(["cat"], stdin=proc.stderr, stdout=log)
        conns, env = {}, {}

        def conn(name):
            if name not in conns:
                conns[name] = Conn(port)
            return conns[name]

        for s in steps:
            op, args = s["op"], s["args"]
            what = "step %d (%s %s)" % (s["at"] + 1, op, " ".join(args))
            deadline = time.monotonic() + TIMEOUT
            if op == "config":
                continue
            elif op in ("send", "send-raw"):
                conn(args[0]).sock.sendall(build_send(s, env))
            elif op == "response":
                c = conn(args[0])
                lines = s["lines"]
                blank = lines.index("") if "" in lines else len(lines)
                status_line, want_headers, body = lines[0], lines[1:blank], lines[blank + 1:]
                match_line(status_line, c.read_line(deadline, what).rstrip("\r"), env,
                           what + " status")
                headers = []
                while True:
                    l = c.read_line(deadline, what).rstrip("\r")
                    if l == "":
                        break
                    headers.append(l)
                for h in want_headers:
                    ok = False
                    for got in headers:
                        try:
                            match_line(h, got, env, what)
                            ok = True
                            break
                        except Failure:
                            pass
                    if not ok:
                        raise Failure("%s: header %r not in %r" % (what, h, headers))
                length = None
                for got in headers:
                    if got.lower().startswith("content-length:"):
                        length = int(got.split(":", 1)[1])
                if length is not None:
                    data = c.read_exact(length, deadline, what).decode("utf-8", "replace")
                    if body:
                        got_lines = data.rstrip("\n").split("\n")
                        if len(got_lines) != len(body):
                            raise Failure("%s: body %r, expected %r" % (what, data, body))
                        for e, g in zip(body, got_lines):
                            match_line(e, g, env, what + " body")
            elif op == "stream":
                c = conn(args[0])
                for e in s["lines"]:
                    match_line(e, c.read_line(deadline, what), env, what)
            elif op == "closed":
                c = conn(args[0])
                while c.fill(deadline):
                    pass
                if not c.eof:
                    raise Failure("%s: connection still open" % what)
                if c.buf.strip() and args[1:2] != ["any"]:
                    raise Failure("%s: unexpected bytes before close: %r" % (what, c.buf[:300]))
            elif op == "silent":
                c = conn(args[0])
                end = time.monotonic() + int(args[1]) / 1000.0
                while c.fill(end):
                    pass
                if c.buf:
                    raise Failure("%s: expected nothing, got %r" % (what, c.buf[:300]))
            elif op == "sleep":
                time.sleep(int(args[0]) / 1000.0)
            elif op == "signal":
                proc.send_signal(signal.SIGTERM if args[0] == "TERM" else signal.SIGINT)
            elif op == "exits":
                try:
                    rc = proc.wait(timeout=TIMEOUT)
                except subprocess.TimeoutExpired:
                    raise Failure("%s: server still running" % what)
                if rc != 0:
                    raise Failure("%s: server exited with %d" % (what, rc))
            else:
                raise Failure("unknown step %r" % op)
        for c in conns.values():
            c.sock.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise Failure("server did not stop within 10 s of SIGTERM")
            if rc != 0:
                raise Failure("server exited with status %d" % rc)
        drain.wait(timeout=5)
    except Failure:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.seek(0)
        sys.stderr.write(log.read().decode("utf-8", "replace")[-4000:])
        raise
    finally:
        os.unlink(tmp.name)
        shutil.rmtree(data_dir, ignore_errors=True)


def main():
    args = sys.argv[1:]
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases")
    if args[:1] == ["--list"]:
        for name in sorted(os.listdir(here)):
            if name.endswith(".case"):
                print(name[:-5])
        return 0
    binary, names = args[0], args[1:]
    failed = 0
    for name in names:
        path = name if name.endswith(".case") else os.path.join(here, name + ".case")
        try:
            run_case(path, binary)
            print("ok   %s" % os.path.basename(path))
        except Failure as e:
            failed += 1
            print("FAIL %s: %s" % (os.path.basename(path), e))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
