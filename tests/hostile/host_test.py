#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""DNS rebinding: a page on attacker.example whose name the attacker points at 127.0.0.1
is same-origin with the server for the visitor's browser, so the cross-site POST check
passes and it can read streams. Its requests still say `Host: attacker.example`: they get
421 (allowed_hosts), nothing is published, and names that are ours keep working. The
first two cases failed on the build before the allow-list (the rebinding POST got 200;
allowed_hosts did not exist); the third holds what must not change: with auth, names work."""
import base64
import hashlib
import hmac
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from support import Server, Stream, check, run  # noqa: E402

JWT_SECRET = b"host-allow-list-secret-of-32-bytes!!"


def as_host(srv, method, path, host, body=b"", headers=None):
    """One request with the Host <host>: (status, parsed body)."""
    return srv.request(method, path, body, headers, host=host)


def hs256(claims):
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(claims).encode())
    sig = hmac.new(JWT_SECRET, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(sig)


def published(srv, topic):
    status, body = srv.request("GET", "/topics/%s" % topic)
    return body["published"] if status == 200 else 0


def test_rebinding_page_is_refused_without_auth(binary):
    with Server(binary) as srv:
        evil = "attacker.example:%d" % srv.port
        status, body = as_host(srv, "POST", "/publish/t", evil, b"forged",
                           {"Origin": "http://" + evil, "Content-Type": "text/plain"})
        check(status == 421, "the rebinding POST gets 421, not %d: %r" % (status, body))
        check("allowed_hosts" in body["error"], "the message names the setting: %r" % body)
        status, body = as_host(srv, "GET", "/events/t", evil,
                           headers={"Accept": "text/event-stream"})
        check(status == 421, "the rebinding stream gets 421, not %d" % status)
        for path in ("/topics", "/metrics", "/", "/dashboard"):
            check(as_host(srv, "GET", path, "ATTACKER.example")[0] == 421,
                  "%s refuses the name too" % path)
        check(published(srv, "t") == 0, "nothing was published")
        # Probes by any name still work (load balancers use names the node is not told).
        check(as_host(srv, "GET", "/healthz", evil)[0] == 200, "/healthz answers any Host")
        check(as_host(srv, "GET", "/readyz", evil)[0] == 200, "/readyz answers any Host")

        # The server's own names: its address, with or without the port, and localhost.
        for host in ("127.0.0.1:%d" % srv.port, "127.0.0.1", "localhost:%d" % srv.port,
                     "localhost"):
            status, body = as_host(srv, "POST", "/publish/t", host, b"ok",
                               {"Origin": "http://" + host})
            check(status == 200, "Host %s may publish: %d %r" % (host, status, body))
        s = Stream(srv.port, "/events/t")
        check(" 200 " in s.head.split("\r\n")[0], "a stream by localhost opens")
        s.close()
        check(published(srv, "t") == 4, "the four allowed publishes, no more")
        check(srv.metrics()["hosts_refused"] == 6, "refusals counted: %r" %
              srv.metrics()["hosts_refused"])


def test_allowed_hosts_with_auth(binary):
    config = ("auth_mode = jwt\nauth_jwt_secret = %s\nallowed_hosts = events.example\n" %
              JWT_SECRET.decode())
    with Server(binary, config=config) as srv:
        token = hs256({"sub": "a", "exp": int(time.time()) + 600, "read": ["#"], "write": ["#"]})
        auth = {"Authorization": "Bearer " + token}
        status, body = as_host(srv, "POST", "/publish/t", "Events.Example:%d" % srv.port, b"x",
                           auth)
        check(status == 200, "the listed name publishes: %d %r" % (status, body))
        for host in ("attacker.example", "127.0.0.1:%d" % srv.port, "localhost",
                     "sub.events.example"):
            status, body = as_host(srv, "POST", "/publish/t", host, b"y", auth)
            check(status == 421, "Host %s is not listed: %d %r" % (host, status, body))
            check(as_host(srv, "GET", "/events/t", host, headers=auth)[0] == 421,
                  "nor may it read (%s)" % host)
        status, body = as_host(srv, "GET", "/topics/t", "events.example", headers=auth)
        check(status == 200 and body["published"] == 1, "one publish only: %r" % body)


def test_auth_without_list_keeps_names_working(binary):
    # With credentials required, a deployment reached by its name needs no new setting.
    config = "auth_mode = jwt\nauth_jwt_secret = %s\n" % JWT_SECRET.decode()
    with Server(binary, config=config) as srv:
        token = hs256({"sub": "a", "exp": int(time.time()) + 600, "write": ["#"]})
        status, body = as_host(srv, "POST", "/publish/t", "push.example", b"x",
                           {"Authorization": "Bearer " + token})
        check(status == 200, "a name with a token publishes: %d %r" % (status, body))
        status, _ = as_host(srv, "POST", "/publish/t", "attacker.example", b"x")
        check(status == 401, "and without a token it is auth that refuses: %d" % status)


if __name__ == "__main__":
    sys.exit(run([test_rebinding_page_is_refused_without_auth,
                  test_allowed_hosts_with_auth,
                  test_auth_without_list_keeps_names_working], sys.argv[1]))
