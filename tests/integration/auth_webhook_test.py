#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""auth_mode webhook against a real webhook server on loopback that can be made slow,
failing or down: caching (one call for many connections), negative answers, TTL expiry, LRU
eviction, every circuit-breaker transition, and that a down webhook never stalls delivery to
clients already connected."""
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
from support import Server, Stream, check, run  # noqa: E402


class JsonWebhook:
    """A loopback application answering POST /verify with JSON: subclasses say what
    (answer(body) -> (status, bytes)); stop() takes it down."""

    def __init__(self):
        self.bodies = []
        self.down = False
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                if hook.down:  # a crashed application: the connection just drops
                    self.close_connection = True
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hook.lock:
                    hook.bodies.append(body)
                status, answer = hook.answer(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d/verify" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        # Kept-alive connections outlive the listener: they must fail too.
        self.down = True
        self.httpd.shutdown()
        self.httpd.server_close()


class Webhook(JsonWebhook):
    """The application's verifier. Tokens "good-..." may read news/# and write news/+,
    "bad-..." are refused, "plain-..." get a bare {"valid": true} (no filters) when every
    topic asked is in `plain_topics`, else {"valid": false}. `delay` slows every answer,
    `fail` answers 500."""

    def __init__(self):
        self.calls = {}
        self.delay = 0.0
        self.fail = False
        self.ttl = None
        self.plain_topics = {"news/a"}
        super().__init__()

    def answer(self, body):
        with self.lock:
            self.calls[body["token"]] = self.calls.get(body["token"], 0) + 1
        time.sleep(self.delay)
        if self.fail:
            return 500, b'{"error":"down for maintenance"}'
        if body["token"].startswith("plain-"):
            ok = all(t in self.plain_topics for t in body["topics"])
            return 200, json.dumps({"valid": ok}).encode()
        if body["token"].startswith("good-"):
            a = {"valid": True, "sub": body["token"], "read": ["news/#"], "write": ["news/+"]}
            if self.ttl is not None:
                a["ttl"] = self.ttl
            return 200, json.dumps(a).encode()
        return 200, b'{"valid":false,"reason":"unknown token"}'

    def count(self, token):
        with self.lock:
            return self.calls.get(token, 0)


class DocumentedWebhook(JsonWebhook):
    """A verifier written to the documented RevenProx's contract: POST {"jwt", "topic": the
    topic's UUID as 32 hex digits}, answer {"valid": bool}. Tokens "ok-..." are valid for the
    UUIDs in `allowed`; the first `fail_first` calls get a 500."""

    def __init__(self):
        self.allowed = set()
        self.fail_first = 0
        super().__init__()

    def answer(self, body):
        with self.lock:
            failing = len(self.bodies) <= self.fail_first
        if failing:
            return 500, b'{"error":"busy"}'
        ok = body["jwt"].startswith("ok-") and body["topic"] in self.allowed
        return 200, json.dumps({"valid": ok}).encode()


def topic_uuid_hex(topic):
    """A topic's UUID as docs/api.md derives it, as 32 hex digits (the documented form)."""
    return uuid.uuid5(uuid.UUID("cf11a541-ad16-4183-9cfe-8876de3cc0b9"), topic).hex


def server_for(binary, hook, extra=""):
    return Server(binary, config="auth_mode = webhook\nauth_webhook_url = %s\n"
                  "auth_webhook_timeout = 2s\n%s" % (hook.url, extra))


def bearer(token):
    return {"Authorization": "Bearer " + token}


def test_one_call_for_many_connections(binary):
    hook = Webhook()
    hook.delay = 0.5  # every connection arrives while the first call is in flight
    srv = server_for(binary, hook)
    try:
        results = []

        def connect():
            try:
                s = Stream(srv.port, "/events/news/uk", bearer("good-shared"))
                results.append(s.head.split("\r\n")[0])
                s.close()
            except Exception as e:  # noqa: BLE001
                results.append(repr(e))

        threads = [threading.Thread(target=connect) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        check(results == ["HTTP/1.1 200 OK"] * 40, "all 40 streams open: %r" % results[:5])
        check(hook.count("good-shared") == 1,
              "one webhook call for 40 connections, got %d" % hook.count("good-shared"))
        body = hook.bodies[0]
        check(body["topics"] == ["news/uk"] and body["action"] == "subscribe" and
              body["ip"] == "127.0.0.1", "the webhook hears topics, action, ip: %r" % body)
        m = srv.metrics()
        check(m["auth_webhook_calls"] == 1 and m["auth_cache_misses"] == 1,
              "metrics: 1 call, 1 miss: %r" % {k: m[k] for k in ("auth_webhook_calls",
                                                                 "auth_cache_misses")})
        # Each connection's answer came from the cache once the call finished (the first
        # connection's too: it is re-run when its own call completes).
        check(m["auth_cache_hits"] == 40, "40 connections answered from the cache: %d" %
              m["auth_cache_hits"])
        check(m["auth_webhook_latency_ms"]["le_1000"] == 1, "latency histogram: %r" %
              m["auth_webhook_latency_ms"])
    finally:
        check(srv.stop() == 0, "server exits cleanly")
        hook.stop()


def test_refusals_and_negative_cache(binary):
    hook = Webhook()
    srv = server_for(binary, hook)
    try:
        for _ in range(3):
            status, body = srv.request("GET", "/events/news/uk", headers=bearer("bad-1"))
            check(status == 401 and "rejected" in body["error"], "valid:false -> 401: %r" % body)
        check(hook.count("bad-1") == 1, "a refusal is cached: %d calls" % hook.count("bad-1"))
        status, body = srv.request("GET", "/events/sports", headers=bearer("good-2"))
        check(status == 403 and "sports" in body["error"], "read claim checked: %r" % body)
        status, body = srv.request("POST", "/publish/news/uk", b"hi", bearer("good-2"))
        check(status == 200, "write claim allows news/uk: %r" % (body,))
        status, body = srv.request("POST", "/publish/news/uk/x", b"hi", bearer("good-2"))
        check(status == 403, "write claim news/+ does not cover news/uk/x: %r" % (body,))
        check(hook.count("good-2") == 1, "one call for the token's four requests")
        status, body = srv.request("GET", "/events/news/uk")
        check(status == 401, "no token: 401 without a webhook call")
        m = srv.metrics()["auth_failures_by_reason"]
        check(m["rejected"] == 3 and m["forbidden"] == 2 and m["missing"] == 1,
              "failures by reason: %r" % m)
    finally:
        check(srv.stop() == 0, "server exits cleanly")
        hook.stop()


def test_valid_alone_grants_what_was_asked(binary):
    # A webhook that answers {"valid": true} without saying what it grants (the documented
    # RevenProx's contract: verify, then stream) grants exactly the topics it was asked
    # about, for the action asked; a refusal answers that question only.
    hook = Webhook()
    srv = server_for(binary, hook)
    try:
        s = Stream(srv.port, "/events/news/a", bearer("plain-1"))
        check(s.head.startswith("HTTP/1.1 200"), "valid alone admits the stream: %r" % s.head)
        status, body = srv.request("GET", "/events/news/b", headers=bearer("plain-1"))
        check(status == 401, "another topic is asked about again, and refused: %r" % (body,))
        check(hook.count("plain-1") == 2, "two questions, two calls: %d" % hook.count("plain-1"))
        s2 = Stream(srv.port, "/events/news/a", bearer("plain-1"))
        check(s2.head.startswith("HTTP/1.1 200"), "the same question again: admitted")
        check(hook.count("plain-1") == 2, "from the cache: %d" % hook.count("plain-1"))
        status, _ = srv.request("POST", "/publish/news/a", b"x", bearer("plain-1"))
        check(status == 200, "publishing is its own question, granted for that topic")
        check(hook.bodies[-1]["action"] == "publish", "asked as a publish")
        check(s.next_event()["data"] == "x" and s2.next_event()["data"] == "x", "delivered")
        # A control byte in a token (it could make a token read as a question's cache key):
        # refused before any call.
        calls = len(hook.bodies)
        status, body = srv.request("GET", "/events/news/a?auth=plain-%01news%2Fa")
        check(status == 401 and "malformed" in body["error"], "refused: %d %r" % (status, body))
        check(len(hook.bodies) == calls, "without a webhook call")
        s.close()
        s2.close()
    finally:
        check(srv.stop() == 0, "server exits cleanly")
        hook.stop()


def test_documented_webhook_contract(binary):
    # auth_webhook_format = documented: one call a topic with {"jwt", "topic": UUID hex},
    # {"valid": true} admits, one refused topic refuses the request; a publish is asked
    # apart (the request has no action) and allowed for the topics the answer validates.
    hook = DocumentedWebhook()
    srv = server_for(binary, hook, "auth_webhook_format = documented\nauth_publisher_key = pk\n")
    try:
        a, b = topic_uuid_hex("news/a"), topic_uuid_hex("news/b")
        check(len(a) == 32 and all(c in "0123456789abcdef" for c in a), "32 hex digits")
        hook.allowed = {a}
        s = Stream(srv.port, "/events/news/a", bearer("ok-1"))
        check(s.head.startswith("HTTP/1.1 200"), "valid admits: %r" % s.head)
        check(hook.bodies[-1] == {"jwt": "ok-1", "topic": a}, "the documented request: %r" %
              hook.bodies[-1])
        status, _ = srv.request("GET", "/events?topic=news/a&topic=news/b", headers=bearer("ok-1"))
        check(status == 401, "one refused topic refuses the request: %d" % status)
        check(sum(1 for x in hook.bodies if x["topic"] == b) == 1 and len(hook.bodies) == 2,
              "news/a came from the cache, news/b was asked once: %r" % hook.bodies)
        status, _ = srv.request("POST", "/publish/news/a", b"x", bearer("ok-1"))
        check(status == 200 and len(hook.bodies) == 3, "a publish is its own question: %d" %
              status)
        check(s.next_event()["data"] == "x", "and delivered")
        status, _ = srv.request("POST", "/publish/news/b", b"y", bearer("ok-1"))
        check(status == 401, "not to a topic the webhook refuses: %d" % status)
        s.close()
    finally:
        check(srv.stop() == 0, "server exits cleanly")
        hook.stop()


def test_documented_webhook_retries(binary):
    # retry_attempts: a failed call is retried after 100, 200, 300 ms before the request is
    # answered 503; the client only waits.
    hook = DocumentedWebhook()
    srv = server_for(binary, hook, "auth_webhook_format = documented\n"
                     "auth_webhook_retries = 3\nauth_publisher_key = pk\n")
    try:
        hook.allowed = {topic_uuid_hex("news/r")}
        hook.fail_first = 2
        start = time.monotonic()
        s = Stream(srv.port, "/events/news/r", bearer("ok-2"))
        took = time.monotonic() - start
        check(s.head.startswith("HTTP/1.1 200"), "admitted after two failures: %r" % s.head)
        check(len(hook.bodies) == 3, "three calls: %d" % len(hook.bodies))
        check(took >= 0.3, "after 100 + 200 ms of back-off (%.2f s)" % took)
        s.close()
        hook.bodies.clear()
        hook.fail_first = 10
        status, _ = srv.request("GET", "/events/news/r", headers=bearer("ok-3"))
        check(status == 503 and len(hook.bodies) == 4, "1 + 3 retries, then 503: %d, %d calls" %
              (status, len(hook.bodies)))
    finally:
        check(srv.stop() == 0, "server exits cleanly")
        hook.stop()


def test_ttl_expiry(binary):
    hook = Webhook()
    hook.ttl = 1  # the application's answer: reuse for 1 second
    srv = server_for(binary, hook)
    try:
        for _ in range(3):
            check(srv.request("GET", "/topics", headers=bearer("good-ttl"))[0] == 200, "ok")
        check(hook.count("good-ttl") == 1, "cached within the ttl")
        time.sleep(1.3)
        check(srv.request("GET", "/topics", headers=bearer("good-ttl"))[0] == 200, "ok")
        check(hook.count("good-ttl") == 2, "verified again after the ttl: %d" %
              hook.count("good-ttl"))
    finally:
        check(srv.stop() == 0, "server exits cleanly")
        hook.stop()


def test_lru_eviction(binary):
    hook = Webhook()
    srv = server_for(binary, hook, "auth_cache_size = 2\n")
    try:
        def ask(t):
            check(srv.request("GET", "/topics", headers=bearer(t))[0] == 200, "ok " + t)

        ask("good-a")
        ask("good-b")
        ask("good-a")  # a is now the most recently used
        ask("good-c")  # evicts b, the least recently used
        ask("good-a")
        ask("good-c")
        check(hook.count("good-a") == 1 and hook.count("good-c") == 1,
              "a and c stayed cached: %r" % hook.calls)
        ask("good-b")
        check(hook.count("good-b") == 2, "b was evicted and verified again: %r" % hook.calls)
        check(srv.metrics()["auth_cache_entries"] == 2, "the cache holds at most 2 tokens")
    finally:
        check(srv.stop() == 0, "server exits cleanly")
        hook.stop()


def breaker(srv):
    m = srv.metrics()["auth_breaker"]
    return m["state"], m["to_open"], m["to_half_open"], m["to_closed"]


def test_breaker_transitions(binary):
    hook = Webhook()
    srv = server_for(binary, hook, "auth_breaker_failures = 2\nauth_breaker_open = 1s\n"
                     "auth_breaker_probes = 1\n")
    try:
        check(breaker(srv) == ("closed", 0, 0, 0), "starts closed: %r" % (breaker(srv),))
        hook.fail = True
        for i in range(2):
            status, body = srv.request("GET", "/topics", headers=bearer("good-f%d" % i))
            check(status == 503 and "unavailable" in body["error"], "webhook 500 -> 503: %r" %
                  (body,))
        check(hook.count("good-f0") == 1 and hook.count("good-f1") == 1,
              "one call per failed request: %r" % hook.calls)
        check(breaker(srv) == ("open", 1, 0, 0), "2 failures open it: %r" % (breaker(srv),))
        calls = sum(hook.calls.values())
        status, body = srv.request("GET", "/topics", headers=bearer("good-f2"))
        check(status == 503, "open: refused at once")
        check(sum(hook.calls.values()) == calls, "open: the webhook is not called")
        time.sleep(1.1)
        # Half-open: one probe goes through; it fails, so the breaker opens again.
        check(srv.request("GET", "/topics", headers=bearer("good-f3"))[0] == 503, "probe fails")
        check(breaker(srv) == ("open", 2, 1, 0), "half-open -> open: %r" % (breaker(srv),))
        hook.fail = False
        time.sleep(1.1)
        check(srv.request("GET", "/topics", headers=bearer("good-f4"))[0] == 200, "probe ok")
        check(breaker(srv) == ("closed", 2, 2, 1), "half-open -> closed: %r" % (breaker(srv),))
        check(srv.request("GET", "/topics", headers=bearer("good-f5"))[0] == 200, "closed again")
    finally:
        check(srv.stop() == 0, "server exits cleanly")
        hook.stop()


def test_fallback_cached_while_open(binary):
    hook = Webhook()
    hook.ttl = 1
    srv = server_for(binary, hook, "auth_breaker_failures = 1\nauth_breaker_open = 10s\n"
                     "auth_breaker_fallback = cached\n")
    try:
        check(srv.request("GET", "/topics", headers=bearer("good-old"))[0] == 200, "cached")
        time.sleep(1.2)  # its cache entry has expired
        hook.stop()      # and the webhook is down
        status, _ = srv.request("GET", "/topics", headers=bearer("good-new"))
        check(status == 503, "an unknown token gets 503 while the webhook is down")
        check(breaker(srv)[0] == "open", "one failure opened the breaker")
        status, body = srv.request("GET", "/topics", headers=bearer("good-old"))
        check(status == 200, "fallback cached: an expired entry is admitted: %r" % (body,))
    finally:
        check(srv.stop() == 0, "server exits cleanly")


def test_down_webhook_never_stalls_delivery(binary):
    hook = Webhook()
    srv = server_for(binary, hook, "auth_publisher_key = pub-key\n")
    try:
        streams = [Stream(srv.port, "/events/news/uk", bearer("good-s%d" % i)) for i in range(5)]
        hook.delay = 5  # the webhook hangs: every new token waits up to auth_webhook_timeout
        waiting = []

        def slow_connect(i):
            try:
                waiting.append(srv.request("GET", "/events/news/uk",
                                           headers=bearer("good-new%d" % i), timeout=10)[0])
            except Exception as e:  # noqa: BLE001
                waiting.append(repr(e))

        threads = [threading.Thread(target=slow_connect, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        start = time.monotonic()
        for i in range(50):
            status, _ = srv.request("POST", "/publish/news/uk", b"event %d" % i,
                                    bearer("pub-key"))
            check(status == 200, "publishing is not held up")
        for s in streams:
            got = [e["data"] for e in s.events(50, timeout=5)]
            check(got == ["event %d" % i for i in range(50)], "every event, in order")
        took = time.monotonic() - start
        check(took < 2.0, "delivery went on while 20 requests waited (%.2fs)" % took)
        for t in threads:
            t.join(10)
        check(waiting == [503] * 20, "the waiting requests got 503 at the timeout: %r" % waiting)
        for s in streams:
            s.close()
    finally:
        check(srv.stop() == 0, "server exits cleanly")
        hook.stop()


JWT_SECRET = b"jwt-plus-webhook-secret-of-32-bytes!"


def hs256(claims, secret=JWT_SECRET):
    import base64
    import hashlib
    import hmac

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(claims).encode())
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(sig)


def test_jwt_then_webhook(binary):
    # JWTs our key can check are decided locally; other tokens go to the webhook.
    hook = Webhook()
    srv = server_for(binary, hook, "auth_mode = jwt+webhook\nauth_jwt_secret = %s\n"
                     "auth_max_token = 200\n" % JWT_SECRET.decode())
    try:
        exp = int(time.time()) + 600
        good = hs256({"sub": "j", "exp": exp, "read": ["news/#"]})
        check(srv.request("GET", "/topics/news/x", headers=bearer(good))[0] == 404,
              "a valid JWT passes (the topic just does not exist)")
        forged = hs256({"sub": "j", "exp": exp, "read": ["#"]}, b"x" * 32)
        status, body = srv.request("GET", "/topics", headers=bearer(forged))
        check(status == 401 and "signature" in body["error"],
              "a JWT for our key that fails is refused here: %r" % (body,))
        check(srv.request("GET", "/topics", headers=bearer("good-opaque"))[0] == 200,
              "an opaque token goes to the webhook")
        check(hook.calls == {"good-opaque": 1}, "only the opaque token reached the webhook: %r" %
              hook.calls)
        status, body = srv.request("GET", "/topics", headers=bearer("good-" + "x" * 200))
        check(status == 401 and "auth_max_token" in body["error"], "too long: %r" % (body,))
        check(srv.metrics()["auth_failures_by_reason"]["too_large"] == 1, "counted as too_large")
    finally:
        check(srv.stop() == 0, "server exits cleanly")
        hook.stop()


def test_auth_settings_checked_at_start(binary):
    import subprocess
    cases = [
        (["--auth-mode", "jwt"], "needs a key"),
        (["--auth-mode", "jwt", "--auth-jwt-secret", "short"], "too short"),
        (["--auth-mode", "webhook"], "auth_webhook_url"),
        (["--auth-mode", "branca"], "sse_secret"),
    ]
    env = {k: v for k, v in os.environ.items() if k != "SSE_SECRET"}
    for flags, why in cases:
        with tempfile.TemporaryDirectory(prefix="rp-data-") as data_dir:
            r = subprocess.run([binary, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                                data_dir] + flags, env=env, capture_output=True, text=True,
                               timeout=10)
        check(r.returncode != 0 and why in r.stderr,
              "%s: refused at start saying %r (rc %d: %s)" % (flags, why, r.returncode,
                                                             r.stderr[-300:]))


if __name__ == "__main__":
    sys.exit(run([test_one_call_for_many_connections, test_refusals_and_negative_cache, test_valid_alone_grants_what_was_asked,
                  test_documented_webhook_contract, test_documented_webhook_retries,
                  test_ttl_expiry, test_lru_eviction, test_breaker_transitions,
                  test_fallback_cached_while_open, test_down_webhook_never_stalls_delivery,
                  test_jwt_then_webhook, test_auth_settings_checked_at_start],
                 sys.argv[1]))
