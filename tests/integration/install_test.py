#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Packaging: `meson install --destdir` puts the binary, the sample config, the systemd unit
and the man page where docs/operations.md says, and they work together (the installed
binary runs, reads the installed config, the unit passes systemd-analyze). Then the systemd
notify protocol against the real server: READY=1 once it listens, STOPPING=1 on SIGTERM.

Run as: python3 tests/integration/install_test.py BUILD/src/cli/revenprox
(the build directory is the binary's parent's parent's parent)."""
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from support import check, run


def hermetic_env(**extra):
    """The environment without REVENPROX_* and systemd variables, which would change what
    the server does, plus <extra>."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REVENPROX_") and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC",
                                                           "WATCHDOG_PID", "SSE_SECRET")}
    env.update(extra)
    return env


def healthz(port):
    """GET /healthz directly (never through an http_proxy from the environment)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open("http://127.0.0.1:%d/healthz" % port, timeout=5) as r:
        return r.status


def build_dir(binary):
    d = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(binary))))
    check(os.path.isdir(os.path.join(d, "meson-info")),
          "%s is not a meson build directory (expected BUILD/src/cli/revenprox)" % d)
    return d


def build_options(builddir):
    out = subprocess.run(["meson", "introspect", builddir, "--buildoptions"],
                         capture_output=True, text=True, check=True).stdout
    return {o["name"]: o["value"] for o in json.loads(out)}


def under(destdir, path):
    """<path> (absolute, as installed) inside <destdir>."""
    return os.path.join(destdir, path.lstrip("/"))


def duration_s(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", text.strip())
    check(m is not None, "cannot read duration %r" % text)
    return int(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]


def test_meson_install(binary):
    builddir = build_dir(binary)
    opts = build_options(builddir)
    prefix = opts["prefix"]
    # meson's own rule: a relative bindir/sysconfdir/mandir is under the prefix.
    bindir = os.path.join(prefix, opts["bindir"])
    sysconfdir = os.path.join(prefix, opts["sysconfdir"])
    mandir = os.path.join(prefix, opts["mandir"])
    dest = tempfile.mkdtemp(prefix="rp-install-")
    try:
        r = subprocess.run(["meson", "install", "-C", builddir, "--destdir", dest,
                            "--no-rebuild", "--quiet"], capture_output=True, text=True)
        check(r.returncode == 0, "meson install failed (%d): %s%s" % (
            r.returncode, r.stdout[-2000:], r.stderr[-2000:]))

        exe = under(dest, os.path.join(bindir, "revenprox"))
        conf_path = os.path.join(sysconfdir, "revenprox", "revenprox.conf")
        conf = under(dest, conf_path)
        unit = under(dest, os.path.join(prefix, "lib", "systemd", "system", "revenprox.service"))
        man = under(dest, os.path.join(mandir, "man1", "revenprox.1"))
        for path in (exe, conf, unit, man):
            check(os.path.isfile(path), "not installed: %s" % os.path.relpath(path, dest))
        check(os.access(exe, os.X_OK), "installed binary is not executable")

        # The installed binary runs on its own (no build-tree rpath needed).
        r = subprocess.run([exe, "version"], capture_output=True, text=True, env=hermetic_env(),
                           timeout=10)
        check(r.returncode == 0 and r.stdout.startswith("revenprox "),
              "installed `revenprox version`: rc=%d out=%r err=%r" % (
                  r.returncode, r.stdout, r.stderr))

        # The installed config is the sample, and it parses.
        with open(conf) as f, open(os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                                                "revenprox.conf.example")) as g:
            check(f.read() == g.read(), "installed config differs from docs/revenprox.conf.example")
        r = subprocess.run([exe, "config", "dump", "--config", conf], capture_output=True,
                           text=True, env=hermetic_env(), timeout=10)
        check(r.returncode == 0, "installed config does not load: rc=%d %s" % (
            r.returncode, r.stderr.strip()))
        dump = {}
        for line in r.stdout.splitlines():
            if line.startswith("["):
                break  # global settings only
            if " = " in line and not line.startswith("#"):
                k, v = line.split(" = ", 1)
                dump[k.strip()] = v.strip().strip('"')
        check(dump.get("listen") == "0.0.0.0:8080",
              "config dump does not show the sample's listen: %r" % dump.get("listen"))

        # The unit starts this install's binary with this install's config, and waits longer
        # than the server's own drain before it kills.
        with open(unit) as f:
            text = f.read()
        keys = {}
        for line in text.splitlines():
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                keys.setdefault(k, v)
        want_exec = "%s serve --config %s" % (os.path.join(bindir, "revenprox"), conf_path)
        check(keys.get("ExecStart") == want_exec,
              "ExecStart=%r, expected %r" % (keys.get("ExecStart"), want_exec))
        check(keys.get("Type") == "notify", "Type=%r, expected notify" % keys.get("Type"))
        check(keys.get("LimitNOFILE") == "1048576", "LimitNOFILE=%r" % keys.get("LimitNOFILE"))
        check(keys.get("ExecReload") == "/bin/kill -HUP $MAINPID",
              "ExecReload=%r" % keys.get("ExecReload"))
        stop = duration_s(keys.get("TimeoutStopSec", "0"))
        drain = duration_s(dump.get("shutdown_timeout", "5s"))
        check(stop > drain, "TimeoutStopSec (%ss) must exceed shutdown_timeout (%ss)" % (
            stop, drain))

        # scripts/install-deps --with-tests installs systemd (systemd-analyze), man-db and groff-base.
        analyze = shutil.which("systemd-analyze")
        check(analyze, "systemd-analyze is missing: run scripts/install-deps --with-tests")
        # verify checks that ExecStart's binary exists, but it is only installed inside
        # the destdir: check a copy whose ExecStart points there. MANPATH lets the
        # Documentation=man:revenprox(1) check find the installed page.
        probe_dir = os.path.join(dest, "verify")
        os.mkdir(probe_dir)
        probe = os.path.join(probe_dir, "revenprox.service")
        with open(probe, "w") as f:
            f.write(text.replace("ExecStart=" + os.path.join(bindir, "revenprox"),
                                 "ExecStart=" + exe))
        env = hermetic_env(MANPATH=under(dest, mandir) + ":")
        r = subprocess.run([analyze, "verify", probe], capture_output=True, text=True,
                           env=env, timeout=60)
        out = (r.stdout + r.stderr).strip()
        check(r.returncode == 0 and "revenprox" not in out,
              "systemd-analyze verify: rc=%d %s" % (r.returncode, out))

        # The man page renders, with the sections operators look for.
        check(shutil.which("man"), "man is missing: run scripts/install-deps --with-tests")
        # Not a terminal and no MAN_KEEP_FORMATTING: man prints plain text.
        env = hermetic_env(MANWIDTH="100", MANPAGER="cat", PAGER="cat")
        env.pop("MAN_KEEP_FORMATTING", None)
        r = subprocess.run(["man", "-l", man], capture_output=True, text=True, env=env,
                           timeout=30)
        check(r.returncode == 0, "man -l failed: %s" % r.stderr.strip())
        for section in ("NAME", "SYNOPSIS", "SIGNALS", "ENVIRONMENT", "FILES",
                        "EXIT STATUS", "SEE ALSO"):
            check(re.search(r"^%s$" % section, r.stdout, re.M),
                  "man page lacks section %s" % section)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


class NotifySocket:
    """A datagram socket standing in for systemd's $NOTIFY_SOCKET."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rp-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.got = []

    def wait_for(self, line, timeout):
        """Reads datagrams until one has the line <line>; returns that datagram."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s on NOTIFY_SOCKET within %ss (got %r)" % (
                    line, timeout, self.got))
            self.sock.settimeout(left)
            try:
                msg = self.sock.recv(65536).decode("utf-8", "replace")
            except socket.timeout:
                continue
            self.got.append(msg)
            if line in msg.split("\n"):
                return msg

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_server(binary, env, data_dir):
    """The server with its disk log in <data_dir> (a temporary directory of the test's)."""
    proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--workers", "1",
                             "--data-dir", data_dir], stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        m = re.search(rb'msg="listening" addr=127\.0\.0\.1:(\d+)', line)
        if m:
            return proc, int(m.group(1))
    proc.kill()
    proc.wait()
    raise AssertionError("server did not log that it listens")


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=20)
    proc.stderr.close()
    return rc


def wait_ready(ns):
    try:
        return ns.wait_for("READY=1", 10)
    except AssertionError as e:
        raise AssertionError("%s; does the server call rp_sd_notify(\"READY=1...\") after it "
                             "listens (src/server/sd_notify.h)?" % e) from None


@contextlib.contextmanager
def notified_server(binary):
    """A server whose NOTIFY_SOCKET is a fresh NotifySocket: yields (socket, process, port);
    kills the server if the test did not stop it."""
    ns = NotifySocket()
    proc = None
    try:
        proc, port = start_server(binary, hermetic_env(NOTIFY_SOCKET=ns.path),
                                  os.path.join(ns.dir, "data"))
        yield ns, proc, port
    finally:
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
        ns.close()


# READY=1 after the listening line, STOPPING=1 when a SIGTERM/SIGINT stop begins.
def test_notify_ready_and_stopping(binary):
    with notified_server(binary) as (ns, proc, port):
        ready = wait_ready(ns)
        # READY means serving: the port answers right away.
        status = healthz(port)
        check(status == 200, "/healthz after READY=1 answered %d" % status)
        for line in ready.split("\n"):
            if line.startswith("STATUS="):
                check(str(port) in line, "STATUS does not name the port: %r" % line)
        proc.send_signal(signal.SIGTERM)
        ns.wait_for("STOPPING=1", 10)
        rc = proc.wait(timeout=20)
        check(rc == 0, "server exited %d after SIGTERM" % rc)


# On SIGHUP, RELOADING=1 with MONOTONIC_USEC (systemd's Type=notify-reload protocol) before
# the reload, then READY=1 once it is done.
def test_notify_reloading(binary):
    with notified_server(binary) as (ns, proc, _):
        wait_ready(ns)
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        proc.send_signal(signal.SIGHUP)
        msg = ns.wait_for("RELOADING=1", 10)
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        usec = [line for line in msg.split("\n") if line.startswith("MONOTONIC_USEC=")]
        check(len(usec) == 1, "RELOADING=1 without one MONOTONIC_USEC: %r" % msg)
        check(before <= int(usec[0].split("=", 1)[1]) <= after,
              "MONOTONIC_USEC is not the time of the reload: %r" % usec[0])
        ns.wait_for("READY=1", 10)
        rc = stop_server(proc)
        check(rc == 0, "server exited %d after SIGTERM" % rc)


def test_notify_socket_unreachable_is_harmless(binary):
    """A NOTIFY_SOCKET nobody listens on must neither stop the start nor the stop."""
    d = tempfile.mkdtemp(prefix="rp-notify-")
    try:
        proc, port = start_server(binary, hermetic_env(NOTIFY_SOCKET=os.path.join(d, "gone")),
                                  os.path.join(d, "data"))
        status = healthz(port)
        check(status == 200, "/healthz answered %d" % status)
        rc = stop_server(proc)
        check(rc == 0, "server exited %d after SIGTERM" % rc)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run([test_meson_install, test_notify_socket_unreachable_is_harmless,
                  test_notify_ready_and_stopping, test_notify_reloading], sys.argv[1]))
