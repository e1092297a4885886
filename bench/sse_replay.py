#!/usr/bin/env python3
"""Times one resuming SSE client: GET URL with Last-Event-ID, until COUNT events (frames with
an id: line) have arrived, or the time runs out. Prints one JSON line: events, seconds (from
sending the request to the COUNT-th event), events_per_s, first_event_s, last_id, resyncs (the
`event: resync` frames, which carry no id) and bytes.

  bench/sse_replay.py --url http://127.0.0.1:PORT/events/replay --last-event-id ID \
      --count 100000 [--timeout 120] [--idle 5]

It gives up after --timeout seconds in all, or --idle seconds without a byte (a stream that
stopped short: "stalled" in the output).

Loopback only. It counts "\\nid:" in the raw bytes (a frame's id line always follows the line
before it, and the stream starts with ":ok"), so it reads at memory speed and is not what
limits the rate.
"""
import argparse
import json
import socket
import sys
import time
from urllib.parse import urlsplit

ID_MARK = b"\nid:"
RESYNC_MARK = b"\nevent: resync\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--last-event-id", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--idle", type=float, default=5.0)
    a = ap.parse_args()

    u = urlsplit(a.url)
    host, port = u.hostname, u.port or 80
    if not host.startswith("127."):
        sys.exit("sse_replay: loopback addresses only")
    path = u.path + ("?" + u.query if u.query else "")
    req = (
        "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n"
        "Last-Event-ID: %s\r\n\r\n" % (path, host, port, a.last_event_id)
    ).encode()

    s = socket.create_connection((host, port), timeout=a.timeout)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    s.sendall(req)

    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("sse_replay: connection closed before the answer's head")
        head += chunk
    head, _, body = head.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if " 200 " not in status + " ":
        sys.exit("sse_replay: %s" % status)

    events = resyncs = 0
    nbytes = len(body)
    first_event_s = None
    last_id = None
    t_done = None
    # Counted over whole lines only: <carry> is the text from the last newline on (that
    # newline included, as every mark starts with one), so a mark split across reads is
    # counted once, and every counted id line is whole.
    carry = b"\n"  # the stream starts with ":ok", never with an id
    timed_out = stalled = False
    data = body
    while True:
        if data:
            buf = carry + data
            k = buf.rfind(b"\n")
            whole, carry = buf[: k + 1], buf[k:]
            n = whole.count(ID_MARK)
            if n:
                if first_event_s is None:
                    first_event_s = time.monotonic() - t0
                events += n
                i = whole.rfind(ID_MARK)
                last_id = whole[i + len(ID_MARK): whole.find(b"\n", i + 1)].strip().decode("latin-1")
            resyncs += whole.count(RESYNC_MARK)
            if events >= a.count:
                t_done = time.monotonic()
                break
        now = time.monotonic()
        if now >= deadline:
            timed_out = True
            break
        s.settimeout(min(deadline - now, a.idle))
        try:
            data = s.recv(1 << 20)
        except socket.timeout:
            if time.monotonic() >= deadline:
                timed_out = True
            else:
                stalled = True
            break
        if not data:
            break
        nbytes += len(data)
    s.close()
    end = t_done if t_done is not None else time.monotonic()
    secs = end - t0
    print(
        json.dumps(
            {
                "events": events,
                "count": a.count,
                "seconds": round(secs, 4),
                "events_per_s": round(events / secs, 1) if secs > 0 else None,
                "first_event_s": round(first_event_s, 4) if first_event_s is not None else None,
                "last_id": last_id,
                "resyncs": resyncs,
                "bytes": nbytes,
                "timed_out": timed_out,
                "stalled": stalled,
            },
            sort_keys=True,
        )
    )
    return 0 if events >= a.count else 1


if __name__ == "__main__":
    sys.exit(main())
