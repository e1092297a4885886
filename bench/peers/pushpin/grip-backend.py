#!/usr/bin/env python3
"""Tiny GRIP origin for the Pushpin peer in the benchmarks.

Pushpin proxies each subscriber's request here; the answer tells it to hold the connection
open as an event stream subscribed to one channel:

    GET /sub/<channel>  ->  200, Content-Type: text/event-stream, Grip-Hold: stream,
                            Grip-Channel: <channel>, body ":ok\\n\\n"

Published items then reach the subscribers through Pushpin's publish API; this process sees
no more of them. Anything else gets 404. Listens on loopback only.

    grip-backend.py [--port 7000] [--host 127.0.0.1]
"""
import argparse
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHANNEL = re.compile(r"^/sub/([A-Za-z0-9_.\-]{1,128})/?(?:\?.*)?$")
BODY = b":ok\n\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: Pushpin reuses connections to the origin

    def do_GET(self):
        m = CHANNEL.match(self.path)
        if not m:
            body = b"not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Grip-Hold", "stream")
        self.send_header("Grip-Channel", m.group(1))
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, fmt, *args):  # no per-request logging
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 4096
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7000)
    a = ap.parse_args()
    if not a.host.startswith("127.") and a.host != "localhost":
        sys.exit("grip-backend: loopback addresses only")
    srv = Server((a.host, a.port), Handler)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
