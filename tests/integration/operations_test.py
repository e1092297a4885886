#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Operating the real binary: SIGHUP reload (reloadable settings apply to connected
clients, the others are reported as needing a restart, an invalid file changes nothing,
nobody is disconnected), /readyz, access logs and JSON logs (never a token), metrics, the
open files limit, and fan-out writes with io_uring on and off."""
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from support import Server, Stream, check, log_text, run  # noqa: E402




def wait_log(srv, needle, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in log_text(srv):
            return True
        time.sleep(0.05)
    return False


def test_sighup_reload(binary):
    with Server(binary, config="heartbeat = 60s\nmax_batch = 1000\n") as srv:
        s = Stream(srv.port, "/events/t")
        check(srv.request("POST", "/publish", b'[{"topic":"t","data":"1"},{"topic":"t","data":"2"}]',
                          {"Content-Type": "application/json"})[0] == 200, "batch of 2 allowed")
        with open(srv.conf.name, "w") as f:
            f.write("heartbeat = 300ms\nmax_batch = 1\nmax_topics = 7\n")
        srv.proc.send_signal(signal.SIGHUP)
        check(wait_log(srv, 'msg="configuration reloaded"'), "reload logged")
        check('settings="max_topics"' in log_text(srv), "max_topics is reported as needing a restart")
        # Reloadable settings apply, to connections opened before the reload too.
        status, body = srv.request("POST", "/publish",
                                   b'[{"topic":"t","data":"3"},{"topic":"t","data":"4"}]',
                                   {"Content-Type": "application/json"})
        check(status == 413 and "max_batch" in body["error"], "max_batch 1 applies: %r" % (body,))
        check([e["data"] for e in s.events(2)] == ["1", "2"], "the stream kept its events")
        s.sock.settimeout(3)
        start = time.monotonic()
        data = b""
        while b":\n\n" not in data and time.monotonic() - start < 3:
            data += s.sock.recv(4096)
        check(b":\n\n" in data, "the open stream gets heartbeats at the new interval")
        # An invalid file: logged, nothing changes, the server keeps serving.
        with open(srv.conf.name, "w") as f:
            f.write("heartbeat = often\n")
        srv.proc.send_signal(signal.SIGHUP)
        check(wait_log(srv, "reload failed"), "the bad reload is refused")
        check("heartbeat" in log_text(srv).split("reload failed")[0].rsplit("\n", 3)[-2],
              "the error names the setting")
        check(srv.request("GET", "/healthz")[0] == 200, "still serving")
        check(srv.metrics()["streams_active"] == 1, "nobody was disconnected")
        s.close()


def test_readyz(binary):
    # A webhook that is down: the first failure opens the breaker, and readiness says so.
    with Server(binary, config="auth_mode = webhook\nauth_webhook_url = http://127.0.0.1:9/x\n"
                "auth_breaker_failures = 1\nauth_breaker_open = 60s\n") as srv:
        check(srv.request("GET", "/readyz") == (200, {"ready": True}), "ready after start")
        check(srv.request("GET", "/topics", headers={"Authorization": "Bearer t"})[0] == 503,
              "the webhook is unreachable")
        status, body = srv.request("GET", "/readyz")
        check(status == 503 and body["ready"] is False and "breaker" in body["reason"],
              "not ready while the auth webhook is down: %r" % (body,))
        check(srv.request("GET", "/healthz")[0] == 200, "but alive")


def test_documented_health_check(binary):
    # GET /health answers as the documented RevenProx's does, for load balancers set up by
    # its documentation: status, open connections and uptime, on any Host.
    with Server(binary) as srv:
        streams = [Stream(srv.port, "/events/h") for _ in range(3)]
        status, body = srv.request("GET", "/health", host="lb.internal")
        check(status == 200 and body["status"] == "healthy", "healthy: %r" % (body,))
        check(set(body) == {"status", "connections", "uptime_seconds"}, "the documented body")
        check(body["connections"] >= 4, "counts the three streams and itself: %r" % (body,))
        for s in streams:
            s.close()
        deadline = time.monotonic() + 10  # generous: TSan on a loaded machine is slow
        while srv.request("GET", "/health")[1]["connections"] > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        body = srv.request("GET", "/health")[1]
        check(body["connections"] == 1, "closed ones are not counted: %r" % (body,))


def test_documented_metric_names_exist(binary):
    # Every series docs/dropin.md maps a documented metric to is exported (the breaker's
    # only with a webhook), each under one name.
    with Server(binary, config="auth_mode = webhook\nauth_webhook_url = http://127.0.0.1:9/x\n"
                "auth_publisher_key = pk\n") as srv:
        text = srv.request("GET", "/metrics")[1]
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    for name in ("revenprox_connections_active", "revenprox_ratelimit_rejections_total",
                 "revenprox_hosts_refused_total", "revenprox_connection_duration_seconds",
                 "revenprox_drops_total", "revenprox_delivery_latency_seconds",
                 "revenprox_auth_cache_hits_total", "revenprox_auth_cache_misses_total",
                 "revenprox_auth_failures_total", "revenprox_auth_breaker_state",
                 "process_resident_memory_bytes", "process_cpu_seconds_total",
                 "process_open_fds", "revenprox_topics"):
        check(name in names, "%s is exported" % name)
    check('revenprox_auth_breaker_state{state="open"} 0' in text, "the breaker is closed: 0")


def test_access_log_never_shows_tokens(binary):
    with Server(binary, "--log-format", "json", "--auth-mode", "jwt", "--auth-jwt-secret",
                "access-log-test-secret-of-32-bytes!") as srv:
        status, _ = srv.request("GET", "/events/news?auth=SECRET-TOKEN-VALUE",
                                headers={"Cookie": "session=SECRET-COOKIE"})
        check(status == 401, "refused")
        srv.request("POST", "/publish/news", b"SECRET-BODY",
                    {"Authorization": "Bearer SECRET-BEARER"})
        time.sleep(0.3)
    text = log_text(srv)
    for secret in ("SECRET-TOKEN-VALUE", "SECRET-COOKIE", "SECRET-BODY", "SECRET-BEARER"):
        check(secret not in text, "%s is not logged" % secret)
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    refused = [x for x in lines if x.get("event") == "refused"]
    closed = [x for x in lines if x.get("event") == "close"]
    check(len(refused) == 2 and refused[0]["path"] == "/events/news" and
          refused[0]["status"] == "401" and refused[0]["method"] == "GET",
          "one line per refused request, path without query: %r" % refused)
    check(len(closed) >= 2 and all(x["client"] == "127.0.0.1" and "duration_ms" in x
                                   for x in closed), "one line per closed connection")
    check(all(re.fullmatch(r"127\.0\.0\.1:\d+", x["peer"]) and x["peer"] != "127.0.0.1:0"
              for x in closed), "the peer is address:port: %r" % [x["peer"] for x in closed])
    check(all(x["component"] for x in lines), "every line is JSON with a component")


def test_prometheus_names(binary):
    with Server(binary) as srv:
        status, text = srv.request("GET", "/metrics")
    check(status == 200, "metrics served")
    type_lines = [line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE")]
    types = dict(type_lines)
    check(len(types) == len(type_lines), "no metric family is declared twice")
    for name, kind in types.items():
        # Ours are prefixed; the process's figures keep the names every client library uses.
        check(name.startswith("revenprox_") or name.startswith("process_"), "prefixed: " + name)
        if kind == "counter":
            check(name.endswith("_total"), "a counter ends in _total: " + name)
        samples = [l for l in text.splitlines() if l.startswith(name) and not l.startswith("#")]
        check(samples or kind == "histogram", "%s has samples" % name)
    for name in ("revenprox_connections_active", "revenprox_connections_total",
                 "revenprox_messages_sent_total", "revenprox_bytes_sent_total",
                 "revenprox_auth_cache_hits_total", "revenprox_auth_failures_total"):
        check(name in types, "%s is exported" % name)


def test_process_and_connection_metrics(binary):
    # The process's own figures, read from /proc, and how long closed connections were
    # open: both move with what the node does.
    with Server(binary) as srv:
        def sample(name):
            text = srv.request("GET", "/metrics")[1]
            return float([l.split()[1] for l in text.splitlines()
                          if l.split(" ")[0] == name][0])
        fds = sample("process_open_fds")
        check(sample("process_max_fds") >= fds > 0, "open and max descriptors")
        check(sample("process_resident_memory_bytes") > 1 << 20, "resident memory")
        check(abs(sample("process_start_time_seconds") - time.time()) < 60, "start time")
        closed = sample("revenprox_connection_duration_seconds_count")
        streams = [Stream(srv.port, "/events/p") for _ in range(20)]
        check(sample("process_open_fds") >= fds + 20, "the streams' descriptors are counted")
        time.sleep(1.1)
        for s in streams:
            s.close()
        deadline = time.monotonic() + 5
        while (sample("revenprox_connection_duration_seconds_count") < closed + 20 and
               time.monotonic() < deadline):
            time.sleep(0.05)
        text = srv.request("GET", "/metrics")[1]
        over_1s = [l for l in text.splitlines()
                   if l.startswith('revenprox_connection_duration_seconds_bucket{le="10"}')]
        under_1s = [l for l in text.splitlines()
                    if l.startswith('revenprox_connection_duration_seconds_bucket{le="1"}')]
        check(float(over_1s[0].split()[1]) - float(under_1s[0].split()[1]) >= 20,
              "20 streams closed after more than a second: %r %r" % (under_1s, over_1s))
        cpu = sample("process_cpu_seconds_total")
        writes = sample("revenprox_delivery_latency_seconds_count")
        live = Stream(srv.port, "/events/p")
        for i in range(5):
            srv.publish([{"topic": "p", "data": "l%d" % i}])
            check(live.next_event()["data"] == "l%d" % i, "delivered")
        check(sample("revenprox_delivery_latency_seconds_count") >= writes + 5,
              "each live write is one latency sample")
        check(sample("process_cpu_seconds_total") >= cpu, "CPU time does not go back")
        live.close()


def test_load_metrics(binary):
    with Server(binary, "--history-count", "2000", "--lag-events", "1000",
                "--stream-sndbuf", "16k") as srv:
        first = srv.publish([{"topic": "m", "data": "x"}])[1]["ids"][0]
        srv.publish([{"topic": "m", "data": str(i)} for i in range(9)])
        replay = Stream(srv.port, "/events/m?lastEventId=" + first)
        check(len(replay.events(9)) == 9, "replayed")
        stalled = Stream(srv.port, "/events/m", rcvbuf=4096)  # never read
        big = "y" * 4000
        for _ in range(5):
            srv.publish([{"topic": "m", "data": big} for _ in range(100)])
        check(len(replay.events(500)) == 500, "the reading stream keeps up")
        time.sleep(5.5)  # the lag histogram is refreshed every 5 s
        m = srv.metrics()
        check(m["events_replayed"] >= 9, "replayed events counted: %d" % m["events_replayed"])
        lag = m["subscriber_lag_events"]
        check(lag["le_0"] + lag["le_10"] >= 1, "the reading stream is not behind: %r" % lag)
        check(lag["le_1000"] + lag["le_100"] >= 1, "the stalled one is hundreds behind: %r" % lag)
        check(m["log_events"] == 510 and m["log_bytes"] > 500 * 4000, "log sizes: %d events" %
              m["log_events"])
        check(sum(w["streams_active"] for w in m["workers_detail"]) == 2, "per worker")
        status, text = srv.request("GET", "/metrics")
        check('revenprox_connections{state="stream"} 2' in text, "connections by state")
        check('revenprox_worker_streams{worker="0"}' in text, "per-worker families")
        replay.close()
        stalled.close()


def test_open_files_limit_is_reported(binary):
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    with Server(binary, "--max-connections", str(hard * 2 if hard > 0 else 100000000)) as srv:
        check(wait_log(srv, "max_connections is"), "a capacity above the limit is reported")
        check("raise it" in log_text(srv), "and what to do about it")


def kernel_offers_io_uring():
    """Asks the kernel directly (io_uring_setup, x86-64 system call 425), not the server."""
    import ctypes
    import platform
    if platform.machine() != "x86_64":
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
    fd = libc.syscall(425, 4, params)
    if fd < 0:
        return False
    os.close(fd)
    return True


def test_fanout_with_io_uring_on_and_off(binary):
    offered = kernel_offers_io_uring()
    for flags, want in ((), 2 if offered else 0), (("--io-uring", "false"), 0):
        with Server(binary, "--history-count", "500", *flags) as srv:
            # Streams land on both workers; big events make writes that take several
            # calls, so batches put streams back to finish.
            streams = [Stream(srv.port, "/events/u") for _ in range(40)]
            time.sleep(0.2)
            datas = ["%03d" % i + "z" * (i * 97 % 6000) for i in range(120)]
            for i in range(0, 120, 30):
                check(srv.publish([{"topic": "u", "data": d} for d in datas[i:i + 30]])[0] == 200,
                      "published")
            for st in streams:
                got = [e["data"] for e in st.events(120)]
                check(got == datas, "every event once, in order (%s)" % " ".join(flags))
                st.close()
            if offered is not None:  # else this test cannot tell what the kernel allows
                m = srv.metrics()
                check(m["workers_io_uring"] == want, "workers_io_uring %d, want %d (%s)" %
                      (m["workers_io_uring"], want, " ".join(flags) or "default"))
                warned = "io_uring unavailable" in log_text(srv)
                check(warned == (not flags and not offered), "warned only when refused")


if __name__ == "__main__":
    sys.exit(run([test_sighup_reload, test_readyz, test_documented_health_check,
                  test_documented_metric_names_exist,
                  test_access_log_never_shows_tokens,
                  test_prometheus_names, test_process_and_connection_metrics, test_load_metrics,
                  test_open_files_limit_is_reported,
                  test_fanout_with_io_uring_on_and_off],
                 sys.argv[1]))
