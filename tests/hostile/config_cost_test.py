#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A careless operator's configuration: a long cors_origins list and thousands of [topic]
sections. Loading it, and reloading it, costs memory in proportion to the file, not to
sections x origins (each section copied every global list: 3.3 GB for this 685 KB file).
Asserts memory, not time (performance targets live in bench/)."""
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

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from support import check, run  # noqa: E402

N_ORIGINS = 20000
N_SECTIONS = 3000
PEAK_MB = 200  # a linear load of this file needs about 12 MB


def big_config():
    origins = ", ".join("https://o%05d.example.com" % i for i in range(N_ORIGINS))
    text = 'cors_origins = "%s"\n\n' % origins
    text += "".join('[topic "sec%04d/#"]\nhistory_count = %d\n\n' % (i, 10 + i)
                    for i in range(N_SECTIONS))
    return text


def peak_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmHWM for %d" % pid)


class Log:
    """The server's stderr, read on a thread, so a slow start cannot block the test."""

    def __init__(self, proc):
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc):
        for line in proc.stderr:
            with self.cond:
                self.lines.append(line.decode("utf-8", "replace"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)
            self.cond.notify_all()

    def wait_count(self, needle, n, seconds):
        """Waits for <n> lines holding <needle>; returns the last one, or None."""
        deadline = time.monotonic() + seconds
        with self.cond:
            while True:
                found = [ln for ln in self.lines if ln is not None and needle in ln]
                if len(found) >= n:
                    return found[n - 1]
                left = deadline - time.monotonic()
                if left <= 0 or None in self.lines:
                    return None
                self.cond.wait(left)


def healthz(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = s.recv(100)
    s.close()
    return answer


def test_big_configuration_loads_and_reloads_in_bounded_memory(binary):
    fd, path = tempfile.mkstemp(suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(big_config())
    data_dir = tempfile.mkdtemp(prefix="rp-data-")
    proc = subprocess.Popen([binary, "serve", "--config", path, "--listen", "127.0.0.1:0",
                             "--workers", "2", "--data-dir", data_dir], stderr=subprocess.PIPE)
    try:
        log = Log(proc)
        # A generous deadline that only stops a hung test; memory is what is asserted.
        line = log.wait_count('msg="listening"', 1, 120)
        check(line is not None, "the server starts with the big file (exit %r)" % proc.poll())
        port = int(re.search(r"addr=127\.0\.0\.1:(\d+)", line).group(1))
        check(healthz(port).startswith(b"HTTP/1.1 200"), "and serves")
        peak = peak_mb(proc.pid)
        check(peak < PEAK_MB, "peak memory after the load: %.0f MB (bound %d MB)" %
              (peak, PEAK_MB))
        for n in (1, 2):
            proc.send_signal(signal.SIGHUP)
            check(log.wait_count('msg="configuration reloaded"', n, 120) is not None,
                  "reload %d of the big file" % n)
        check(healthz(port).startswith(b"HTTP/1.1 200"), "serving after the reloads")
        peak = peak_mb(proc.pid)
        check(peak < PEAK_MB, "peak memory after two reloads: %.0f MB (bound %d MB)" %
              (peak, PEAK_MB))
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(timeout=20) == 0, "server exits cleanly")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.unlink(path)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_config_dump_of_the_big_file(binary):
    fd, path = tempfile.mkstemp(suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(big_config())
    try:
        with tempfile.TemporaryFile() as out:
            proc = subprocess.Popen([binary, "config", "dump", "--config", path], stdout=out,
                                    stderr=subprocess.DEVNULL)
            # wait4 gives this child's own peak (ru_maxrss, KiB).
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            text = out.read()
        check(proc.returncode == 0, "config dump succeeds: %r" % proc.returncode)
        check(text.count(b"[topic ") == N_SECTIONS, "every section is dumped")
        check(b"https://o19999.example.com" in text, "with the whole origin list")
        check(usage.ru_maxrss / 1024.0 < PEAK_MB, "config dump's peak memory: %.0f MB (bound "
              "%d MB)" % (usage.ru_maxrss / 1024.0, PEAK_MB))
    finally:
        os.unlink(path)


if __name__ == "__main__":
    sys.exit(run([test_big_configuration_loads_and_reloads_in_bounded_memory,
                  test_config_dump_of_the_big_file], sys.argv[1]))
