#!/usr/bin/env python3
"""Summarizes the benchmark results in bench/results/<scenario>-<server>.jsonl.

    summarize.py SCENARIO...        median and range (min-max) of the key numbers per server
    summarize.py --all [--markdown] every scenario found, as text or as Markdown tables

Each line of a .jsonl file is one run of the load generator (revenprox-bench --json) with
"scenario", "server" and "repeat" added by bench/lib.sh.
"""
import argparse
import glob
import json
import os
import statistics
import sys

RESULTS = os.environ.get("BENCH_RESULTS") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
SERVERS = ["revenprox", "nchan", "pushpin"]
ORDER = ["A-idle", "B-fanout", "C-wide", "D5-latency", "P-publish"]

# (field, heading, format): the key numbers of each scenario
LAT = [
    ("lat_p50_ms", "p50 ms", "{:.2f}"),
    ("lat_p90_ms", "p90 ms", "{:.2f}"),
    ("lat_p99_ms", "p99 ms", "{:.2f}"),
    ("lat_p999_ms", "p99.9 ms", "{:.2f}"),
    ("lat_max_ms", "max ms", "{:.1f}"),
]
KEYS = {
    "A-idle": [
        ("conns_open", "conns open", "{:.0f}"),
        ("conns_failed", "failed", "{:.0f}"),
        ("connect_rate", "connects/s", "{:.0f}"),
        ("server_rss_kb_idle_before", "RSS before KiB", "{:.0f}"),
        ("server_rss_kb_connected", "RSS connected KiB", "{:.0f}"),
        ("rss_per_conn_bytes", "RSS/conn B", "{:.0f}"),
    ],
    "B-fanout": [
        ("conns_open", "subs", "{:.0f}"),
        ("pub_rate", "publishes/s", "{:.0f}"),
        ("events_per_s", "delivered ev/s", "{:.0f}"),
        ("delivery_ratio", "delivered", "{:.4f}"),
    ] + LAT + [("server_cpu_pct", "server CPU %", "{:.0f}")],
    "C-wide": [
        ("conns_open", "subs", "{:.0f}"),
        ("pub_rate", "publishes/s", "{:.0f}"),
        ("events_per_s", "delivered ev/s", "{:.0f}"),
        ("delivery_ratio", "delivered", "{:.4f}"),
    ] + LAT + [("server_cpu_pct", "server CPU %", "{:.0f}")],
    "D5-latency": [
        ("conns_open", "subs", "{:.0f}"),
        ("pub_rate", "publishes/s", "{:.1f}"),
        ("delivery_ratio", "delivered", "{:.4f}"),
    ] + LAT + [("server_cpu_pct", "server CPU %", "{:.0f}")],
    "P-publish": [
        ("acked", "acked", "{:.0f}"),
        ("pub_rate", "publishes/s", "{:.0f}"),
        ("server_cpu_pct", "server CPU %", "{:.0f}"),
    ],
}
COMMON_EXTRA = [
    ("missing", "missing", "{:.0f}"),
    ("duplicates", "dups", "{:.0f}"),
    ("disconnects", "disconnects", "{:.0f}"),
]


def load(scenario):
    runs = {}
    for path in sorted(glob.glob(os.path.join(RESULTS, scenario + "-*.jsonl"))):
        server = os.path.basename(path)[len(scenario) + 1:-len(".jsonl")]
        recs = []
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        recs.append(json.loads(line))
                    except ValueError:
                        pass
        if recs:
            runs[server] = recs
    return runs


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def cell(values, fmt):
    vals = [v for v in values if num(v)]
    if not vals:
        return "-"
    med = fmt.format(statistics.median(vals))
    if len(vals) == 1 or min(vals) == max(vals):
        return med
    return "%s (%s-%s)" % (med, fmt.format(min(vals)), fmt.format(max(vals)))


def table(scenario):
    runs = load(scenario)
    if not runs:
        return None, None
    keys = KEYS.get(scenario)
    if keys is None:  # an unknown scenario: every numeric field
        fields = sorted({k for recs in runs.values() for r in recs for k, v in r.items() if num(v)})
        keys = [(k, k, "{:.4g}") for k in fields if k != "repeat"]
    keys = keys + [k for k in COMMON_EXTRA if scenario not in ("A-idle", "P-publish")]
    # leave out columns no run reported
    keys = [k for k in keys if any(num(r.get(k[0])) for recs in runs.values() for r in recs)]
    servers = [s for s in SERVERS if s in runs] + sorted(s for s in runs if s not in SERVERS)
    rows = []
    for s in servers:
        recs = runs[s]
        rows.append([s, str(len(recs))] + [cell([r.get(k) for r in recs], fmt) for k, _, fmt in keys])
    head = ["server", "runs"] + [h for _, h, _ in keys]
    return head, rows


def print_text(scenario, head, rows):
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) for i in range(len(head))]
    print("== %s: median (min-max) over runs" % scenario)
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print()


def print_markdown(scenario, head, rows):
    print("#### %s\n" % scenario)
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] * len(head)) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()


def main():
    ap = argparse.ArgumentParser(description="median and range of the benchmark results")
    ap.add_argument("scenarios", nargs="*")
    ap.add_argument("--all", action="store_true", help="every scenario with results")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    scenarios = a.scenarios
    if a.all or not scenarios:
        found = sorted({os.path.basename(p).rsplit("-", 1)[0] for p in glob.glob(os.path.join(RESULTS, "*.jsonl"))})
        scenarios = [s for s in ORDER if s in found] + [s for s in found if s not in ORDER]
    shown = 0
    for sc in scenarios:
        head, rows = table(sc)
        if head is None:
            print("== %s: no results in %s" % (sc, RESULTS), file=sys.stderr)
            continue
        (print_markdown if a.markdown else print_text)(sc, head, rows)
        shown += 1
    return 0 if shown else 1


if __name__ == "__main__":
    sys.exit(main())
