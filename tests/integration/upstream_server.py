# SPDX-License-Identifier: MIT
"""A real upstream SSE server for the concentrator's tests, misbehaving on demand.

Paths under /feed/ are well-behaved streams: each keeps its history (ids u1, u2, ...), replays
after the Last-Event-ID a client sends and then writes every new event to every open
connection. Other paths misbehave (see `handle`): a BOM with CR-only line ends split across
writes, malformed lines, a huge line, 204, 500, 301, a wrong content type, no answer at all,
and a slow writer. Every request is recorded (path and headers) for the test to look at.
"""
import socket
import threading
import time


class Upstream:
    def __init__(self, retry_ms=None):
        self.retry_ms = retry_ms
        self.lock = threading.Lock()
        self.requests = []  # (path, {header: value}) in arrival order
        self.history = {}  # path -> [(id, event, data)]
        self.live = {}  # path -> [socket]
        self.open_conns = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.stopped = True
        self.sock.close()
        self.drop_all()

    # ---- what the tests call ----

    def publish(self, path, data, event=None):
        """Appends an event to <path>'s history and writes it to its open connections."""
        with self.lock:
            hist = self.history.setdefault(path, [])
            eid = "u%d" % (len(hist) + 1)
            hist.append((eid, event, data))
            frame = self._frame(eid, event, data)
            conns = list(self.live.get(path, []))
        for c in conns:
            try:
                c.sendall(frame)
            except OSError:
                pass
        return eid

    def send_raw(self, path, raw):
        """Writes <raw> bytes to <path>'s open connections (a half frame, say)."""
        with self.lock:
            conns = list(self.live.get(path, []))
        for c in conns:
            try:
                c.sendall(raw)
            except OSError:
                pass

    def drop(self, path):
        """Closes every open connection of <path> (abruptly, mid-stream)."""
        with self.lock:
            conns = self.live.pop(path, [])
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def drop_all(self):
        with self.lock:
            paths = list(self.live)
        for p in paths:
            self.drop(p)

    def requests_for(self, path):
        with self.lock:
            return [h for p, h in self.requests if p == path]

    def live_count(self, path):
        with self.lock:
            return len(self.live.get(path, []))

    def wait_requests(self, path, n, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests_for(path)) >= n:
                return self.requests_for(path)
            time.sleep(0.02)
        raise AssertionError("upstream saw %d requests for %s, not %d" % (
            len(self.requests_for(path)), path, n))

    def wait_live(self, path, n, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.live_count(path) == n:
                return
            time.sleep(0.02)
        raise AssertionError("upstream has %d open streams for %s, not %d" % (
            self.live_count(path), path, n))

    # ---- the server ----

    @staticmethod
    def _frame(eid, event, data):
        out = "id: %s\n" % eid
        if event:
            out += "event: %s\n" % event
        for line in data.split("\n"):
            out += "data: %s\n" % line
        return (out + "\n").encode()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                chunk = c.recv(65536)
                if not chunk:
                    c.close()
                    return
                buf += chunk
        except OSError:
            c.close()
            return
        head = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        path = head[0].split(" ")[1]
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        with self.lock:
            self.requests.append((path, headers))
        try:
            self.handle(c, path, headers)
        except OSError:
            c.close()

    OK = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
          b"Connection: close\r\n\r\n")

    def handle(self, c, path, headers):
        if path.startswith("/feed/"):
            return self._feed(c, path, headers)
        if path == "/crbom":
            # A BOM, CR-only line ends, and every write split in awkward places.
            c.sendall(self.OK)
            body = ("\ufeffid: c1\revent: note\rdata: first\r\r"
                    "id: c2\rdata: second\rdata: line\r\r").encode()
            for i in range(0, len(body), 3):
                c.sendall(body[i:i + 3])
                time.sleep(0.005)
            return self._hold(c)
        if path == "/malformed":
            c.sendall(self.OK)
            c.sendall(b"garbage line without colon\n:comment\nunknown: field\nretry: x1\n"
                      b"id: m1\ndata: kept\n\n"
                      b"data\n\n"  # a field named data with no value: one empty data line
                      b"id: m2\ndata:  two spaces\n\n")
            return self._hold(c)
        if path == "/huge":
            c.sendall(self.OK)
            c.sendall(b"id: h1\ndata: small\n\n")
            c.sendall(b"data: " + b"x" * 200000 + b"\n\n")
            return self._hold(c)
        if path.startswith("/status/"):
            code = int(path.split("/")[2])
            reason = {204: "No Content", 500: "Internal Server Error",
                      301: "Moved Permanently", 404: "Not Found", 503: "Unavailable"}.get(code, "X")
            extra = b"Location: /feed/a\r\n" if code == 301 else b""
            body = b"" if code == 204 else b"nope"
            c.sendall(b"HTTP/1.1 %d %s\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                      % (code, reason.encode(), extra, len(body), body))
            c.close()
            return None
        if path == "/ctype":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                      b"\r\ndata: not an event stream\n\n")
            c.close()
            return None
        if path == "/hang":
            return self._hold(c)  # accepts, never answers
        if path == "/slow":
            c.sendall(self.OK)
            for b in b"id: s1\ndata: slow\n\n":
                c.sendall(bytes([b]))
                time.sleep(0.01)
            return self._hold(c)
        c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        c.close()
        return None

    def _hold(self, c):
        """Keeps <c> open until the peer closes it or the test drops it."""
        with self.lock:
            self.live.setdefault("(held)", []).append(c)
        try:
            while c.recv(4096):
                pass
        except OSError:
            pass
        c.close()

    def _feed(self, c, path, headers):
        last = headers.get("last-event-id")
        with self.lock:
            c.sendall(self.OK)
            if self.retry_ms is not None:
                c.sendall(b"retry: %d\n\n" % self.retry_ms)
            hist = self.history.get(path, [])
            start = 0
            if last:
                for i, (eid, _, _) in enumerate(hist):
                    if eid == last:
                        start = i + 1
            for eid, event, data in hist[start:]:
                c.sendall(self._frame(eid, event, data))
            self.live.setdefault(path, []).append(c)
        try:
            while c.recv(4096):
                pass
        except OSError:
            pass
        with self.lock:
            if c in self.live.get(path, []):
                self.live[path].remove(c)
        c.close()
