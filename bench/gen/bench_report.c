/* SPDX-License-Identifier: MIT */
#include "gen/bench_report.h"

#include <math.h>

/* The derived figures, computed once for both outputs; NAN where they do not apply. */
struct figures {
    double connect_rate;
    double pub_rate;
    double delivery_ratio;
    double missing;
    double events_per_s;
    double lat_ms[5]; /* p50, p90, p99, p99.9, max */
    double lat_mean_ms;
    double rss_before, rss_connected, rss_end;
    double rss_per_conn;
    double cpu_s, cpu_pct;
};

static double
ratio(double a, double b)
{
    return b > 0 ? a / b : NAN;
}

static void
derive(const struct bench_report *r, struct figures *f)
{
    const struct bench_sub_stats *s = &r->sub;
    f->connect_rate = r->has_subs ? ratio((double)s->n_open, r->connect_seconds) : NAN;
    f->pub_rate = NAN;
    if (r->has_pubs && r->pub.last_ack_ns > r->pub.first_send_ns)
        f->pub_rate =
            (double)r->pub.acked / ((double)(r->pub.last_ack_ns - r->pub.first_send_ns) / 1e9);
    f->delivery_ratio = NAN;
    f->missing = r->has_subs ? (double)s->seq_gaps : NAN;
    if (r->has_expected) {
        /* Nothing expected (nothing acknowledged, or nobody listening): no ratio to give. */
        f->delivery_ratio = r->expected ? (double)s->delivered / (double)r->expected : NAN;
        f->missing = r->expected > s->delivered ? (double)(r->expected - s->delivered) : 0;
    }
    f->events_per_s = r->has_subs ? ratio((double)s->delivered, r->window_s) : NAN;
    static const double pcts[4] = {50, 90, 99, 99.9};
    for (int i = 0; i < 4; i++)
        f->lat_ms[i] = r->has_subs && r->hist.count
                           ? (double)bench_hist_percentile_ns(&r->hist, pcts[i]) / 1e6
                           : NAN;
    f->lat_ms[4] = r->has_subs && r->hist.count ? (double)r->hist.max_ns / 1e6 : NAN;
    f->lat_mean_ms =
        r->has_subs && r->hist.count ? (double)r->hist.sum_ns / (double)r->hist.count / 1e6 : NAN;
    f->rss_before = r->srv_before.ok ? (double)r->srv_before.rss_kb : NAN;
    f->rss_connected = r->srv_connected.ok ? (double)r->srv_connected.rss_kb : NAN;
    f->rss_end = r->srv_end.ok ? (double)r->srv_end.rss_kb : NAN;
    f->rss_per_conn = r->has_subs && s->n_open
                          ? (f->rss_connected - f->rss_before) * 1024 / (double)s->n_open
                          : NAN;
    f->cpu_s = f->cpu_pct = NAN;
    if (r->srv_cpu_start.ok && r->srv_end.ok) {
        f->cpu_s = r->srv_end.cpu_s - r->srv_cpu_start.cpu_s;
        double wall = (double)(r->srv_end.at_ns - r->srv_cpu_start.at_ns) / 1e9;
        f->cpu_pct = ratio(f->cpu_s * 100, wall);
    }
}

/* Prints "name":value with the given precision, or null. */
static void
jnum(FILE *out, const char *name, double v, int prec)
{
    if (isnan(v) || isinf(v))
        fprintf(out, ",\"%s\":null", name);
    else
        fprintf(out, ",\"%s\":%.*f", name, prec, v);
}

static void
jint(FILE *out, const char *name, bool present, uint64_t v)
{
    if (present)
        fprintf(out, ",\"%s\":%llu", name, (unsigned long long)v);
    else
        fprintf(out, ",\"%s\":null", name);
}

static void
print_json(const struct bench_report *r, const struct figures *f, FILE *out)
{
    const struct bench_opts *o = r->opts;
    const struct bench_sub_stats *s = &r->sub;
    bool sb = r->has_subs, pb = r->has_pubs;
    fprintf(out, "{\"mode\":\"%s\",\"timed_out\":%s", bench_opts_mode_name(o->mode),
            r->timed_out ? "true" : "false");
    jint(out, "topics", true, o->topics);
    jint(out, "procs", sb, o->procs);
    jint(out, "size", true, o->size);
    jint(out, "conns_target", sb, o->conns);
    jint(out, "conns_open", sb, s->n_open);
    jint(out, "conns_failed", sb, s->n_failed);
    jint(out, "fail_connect", sb, s->fail_connect);
    jint(out, "fail_status", sb, s->fail_status);
    jint(out, "fail_closed", sb, s->fail_closed);
    jint(out, "fail_pending", sb, s->fail_pending);
    jnum(out, "connect_seconds", sb ? r->connect_seconds : NAN, 3);
    jnum(out, "connect_rate", f->connect_rate, 1);
    jint(out, "publishers", pb, o->publishers);
    jnum(out, "pub_rate_target", pb ? o->pub_rate : NAN, 1);
    jint(out, "published", pb, r->pub.published);
    jint(out, "acked", pb, r->pub.acked);
    jint(out, "pub_failed", pb, r->pub.failed);
    jint(out, "pub_unacked", pb, r->pub.unacked);
    jint(out, "pub_conn_errors", pb, r->pub.conn_errors);
    jnum(out, "pub_rate", f->pub_rate, 1);
    jint(out, "expected", r->has_expected, r->expected);
    jint(out, "delivered", sb, s->delivered);
    jnum(out, "delivery_ratio", f->delivery_ratio, 4);
    jnum(out, "missing", f->missing, 0);
    jint(out, "seq_gaps", sb, s->seq_gaps);
    jint(out, "duplicates", sb, s->duplicates);
    jint(out, "reordered", sb, s->reordered);
    jint(out, "other", sb, s->other);
    jint(out, "stale", sb, s->stale);
    jint(out, "bytes", sb, s->bytes);
    jint(out, "parse_errors", sb, s->parse_errors);
    jint(out, "disconnects", sb, s->disconnects);
    jnum(out, "events_per_s", f->events_per_s, 1);
    jnum(out, "lat_p50_ms", f->lat_ms[0], 3);
    jnum(out, "lat_p90_ms", f->lat_ms[1], 3);
    jnum(out, "lat_p99_ms", f->lat_ms[2], 3);
    jnum(out, "lat_p999_ms", f->lat_ms[3], 3);
    jnum(out, "lat_max_ms", f->lat_ms[4], 3);
    jnum(out, "lat_mean_ms", f->lat_mean_ms, 3);
    jnum(out, "server_rss_kb_idle_before", f->rss_before, 0);
    jnum(out, "server_rss_kb_connected", f->rss_connected, 0);
    jnum(out, "server_rss_kb_end", f->rss_end, 0);
    jnum(out, "rss_per_conn_bytes", f->rss_per_conn, 0);
    jnum(out, "server_cpu_s", f->cpu_s, 2);
    jnum(out, "server_cpu_pct", f->cpu_pct, 1);
    jnum(out, "bench_sub_cpu_s", sb ? r->bench_sub_cpu_s : NAN, 2);
    jnum(out, "bench_pub_cpu_s", pb ? r->bench_pub_cpu_s : NAN, 2);
    jnum(out, "duration_s", r->duration_s, 3);
    jnum(out, "total_s", r->total_s, 3);
    fputs("}\n", out);
}

/* <v> with <prec> decimals into <buf>, or "n/a" when it does not apply. */
static const char *
hnum(char *buf, size_t cap, double v, int prec)
{
    if (isnan(v) || isinf(v))
        snprintf(buf, cap, "n/a");
    else
        snprintf(buf, cap, "%.*f", prec, v);
    return buf;
}

#define H(i, v, prec) hnum(b[i], sizeof(b[i]), (v), (prec))

static void
print_human(const struct bench_report *r, const struct figures *f, FILE *out)
{
    const struct bench_opts *o = r->opts;
    const struct bench_sub_stats *s = &r->sub;
    char b[8][32];
    fprintf(out, "revenprox-bench %s%s: %u topic(s), %u-byte events, %.3f s\n",
            bench_opts_mode_name(o->mode),
            r->timed_out ? " (TIMED OUT: cut short by --timeout)" : "", o->topics, o->size,
            r->total_s);
    if (r->has_subs) {
        fprintf(out,
                "  connect    %llu/%u open in %.3f s (%s/s) over %u process(es); failed %llu "
                "(connect %llu, status %llu, closed %llu, pending %llu)\n",
                (unsigned long long)s->n_open, o->conns, r->connect_seconds,
                H(0, f->connect_rate, 0), o->procs, (unsigned long long)s->n_failed,
                (unsigned long long)s->fail_connect, (unsigned long long)s->fail_status,
                (unsigned long long)s->fail_closed, (unsigned long long)s->fail_pending);
    }
    if (r->has_pubs) {
        fprintf(out,
                "  publish    %llu sent, %llu acked, %llu failed, %llu unacked in %.3f s "
                "(%s acked/s; %u publisher(s), target %s; %llu connection errors)\n",
                (unsigned long long)r->pub.published, (unsigned long long)r->pub.acked,
                (unsigned long long)r->pub.failed, (unsigned long long)r->pub.unacked,
                r->duration_s, H(0, f->pub_rate, 1), o->publishers,
                o->pub_rate > 0 ? H(1, o->pub_rate, 0) : "as fast as acked",
                (unsigned long long)r->pub.conn_errors);
    }
    if (r->has_subs) {
        if (r->has_expected)
            fprintf(out, "  delivery   %llu of %llu expected (ratio %s), missing %s\n",
                    (unsigned long long)s->delivered, (unsigned long long)r->expected,
                    H(0, f->delivery_ratio, 4), H(1, f->missing, 0));
        else
            fprintf(out, "  delivery   %llu events, sequence gaps %llu\n",
                    (unsigned long long)s->delivered, (unsigned long long)s->seq_gaps);
        fprintf(out,
                "  integrity  duplicates %llu, reordered %llu, other %llu (stale %llu), parse "
                "errors %llu, disconnects %llu\n",
                (unsigned long long)s->duplicates, (unsigned long long)s->reordered,
                (unsigned long long)s->other, (unsigned long long)s->stale,
                (unsigned long long)s->parse_errors, (unsigned long long)s->disconnects);
        fprintf(out, "  throughput %s events/s over %.3f s (%.1f MB read; subscriber CPU %.2f s)\n",
                H(0, f->events_per_s, 0), r->window_s, (double)s->bytes / 1e6, r->bench_sub_cpu_s);
        fprintf(out, "  latency    p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s ms\n",
                H(0, f->lat_ms[0], 3), H(1, f->lat_ms[1], 3), H(2, f->lat_ms[2], 3),
                H(3, f->lat_ms[3], 3), H(4, f->lat_ms[4], 3), H(5, f->lat_mean_ms, 3));
    }
    if (r->srv_before.ok || r->srv_end.ok) {
        fprintf(out,
                "  server     RSS %s kB before, %s kB connected, %s kB at end; %s bytes/conn; "
                "CPU %s s (%s%%)\n",
                H(0, f->rss_before, 0), H(1, f->rss_connected, 0), H(2, f->rss_end, 0),
                H(3, f->rss_per_conn, 0), H(4, f->cpu_s, 2), H(5, f->cpu_pct, 1));
    }
}

#undef H

void
bench_report_print(const struct bench_report *r, FILE *out)
{
    struct figures f;
    derive(r, &f);
    print_human(r, &f, out);
    if (r->opts->json)
        print_json(r, &f, out);
    fflush(out);
}
