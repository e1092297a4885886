/* SPDX-License-Identifier: MIT */
#include "gen/bench_opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gen/bench_payload.h"

/* Subscriber connections one process takes by default, and the most it may hold. */
#define CONNS_PER_PROC_DEFAULT 15000
#define FDS_PER_PROC_MAX 19000
#define FDS_PER_PROC_SPARE 64

void
bench_opts_usage(FILE *out)
{
    fputs("usage: revenprox-bench run|sub|pub [options]\n"
          "  run   subscribers connect, then publishers publish, then report\n"
          "  sub   subscribers only (connect, hold, count) until --duration ends\n"
          "  pub   publishers only\n"
          "options:\n"
          "  --sub-url T        subscribe URL template; {topic} is the topic index\n"
          "                     (http://127.0.0.1:8080/events/t{topic}); repeat it (up to\n"
          "                     8) to spread connections round-robin over several servers\n"
          "  --pub-url T        publish URL template (http://127.0.0.1:8080/publish/t{topic})\n"
          "  --pub-format F     raw (POST body = data) | pushpin (POST Pushpin publish JSON,\n"
          "                     channel t<topic>, to e.g. http://127.0.0.1:5561/publish/) |\n"
          "                     mercure (a Mercure form, topic https://bench.example/t<topic>)\n"
          "  --topics K         topics 0..K-1 (default 1)\n"
          "  --conns N          subscriber connections, round-robin over the topics (default 100)\n"
          "  --procs P          subscriber processes (default ceil(N/15000); < 19000 fds each)\n"
          "  --connect-rate R   new connections/s over all processes (0 = no limit; default 0)\n"
          "  --connect-timeout S  longest connect phase (default 30 + N/R)\n"
          "  --source-ips A-B   bind subscriber sockets to addresses A..B round-robin\n"
          "  --publishers C     publisher keep-alive connections (default 1); topic t is\n"
          "                     published by publisher t % C\n"
          "  --pub-rate R       publishes/s over all publishers (0 = as fast as acknowledged;\n"
          "                     default 100)\n"
          "  --pipeline W       outstanding requests per publisher connection (default 16)\n"
          "  --duration S       publishing time (sub: holding time) in seconds (default 10)\n"
          "  --count N          stop publishing after N publishes, or at --duration, whichever\n"
          "                     comes first (0 = no limit; default 0)\n"
          "  --size B           event data bytes (default 100)\n"
          "  --settle S         after publishing, wait up to S s for deliveries (default 3)\n"
          "  --server-pid PID   sample this process tree's RSS and CPU time; repeat it (up\n"
          "                     to 8) to sum several servers (a cluster's nodes)\n"
          "  --json             print one JSON line at the end, after the summary\n"
          "  --timeout S        hard cap on the whole run in seconds (default 120)\n"
          "Every address must be in 127.0.0.0/8.\n",
          out);
}

const char *
bench_opts_mode_name(enum bench_mode mode)
{
    switch (mode) {
    case BENCH_MODE_SUB:
        return "sub";
    case BENCH_MODE_PUB:
        return "pub";
    default:
        return "run";
    }
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints what was wrong with the command line; always returns -EINVAL. */
static int
fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("revenprox-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(revenprox-bench --help lists the options)\n", stderr);
    va_end(ap);
    return -EINVAL;
}

static int
parse_u32(const char *name, const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x < min || x > max)
        return fail("%s wants a whole number from %u to %u", name, min, max);
    *out = (uint32_t)x;
    return 0;
}

static int
parse_seconds(const char *name, const char *v, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < min || x > max)
        return fail("%s wants a number from %g to %g", name, min, max);
    *out = x;
    return 0;
}

static bool
is_loopback(uint32_t addr_be)
{
    return (ntohl(addr_be) >> 24) == 127;
}

static int
parse_ipv4(const char *name, const char *s, size_t n, uint32_t *out)
{
    char tmp[32];
    if (n == 9 && memcmp(s, "localhost", 9) == 0) {
        s = "127.0.0.1";
        n = 9;
    }
    if (n >= sizeof(tmp))
        return fail("%s: '%.*s' is not an IPv4 address", name, (int)n, s);
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, tmp, &a) != 1)
        return fail("%s: '%s' is not an IPv4 address (use 127.x.y.z or localhost)", name, tmp);
    if (!is_loopback(a.s_addr))
        return fail("%s: %s is not in 127.0.0.0/8; the benchmark only talks to loopback", name,
                    tmp);
    *out = a.s_addr;
    return 0;
}

static int
parse_url(const char *name, const char *v, struct bench_url *u)
{
    memset(u, 0, sizeof(*u));
    if (strncmp(v, "http://", 7) != 0)
        return fail("%s: '%s' is not an http:// URL", name, v);
    const char *h = v + 7;
    const char *path = strchr(h, '/');
    size_t hlen = path ? (size_t)(path - h) : strlen(h);
    if (hlen == 0 || hlen >= sizeof(u->host))
        return fail("%s: '%s' has no usable host", name, v);
    memcpy(u->host, h, hlen);
    const char *colon = memchr(h, ':', hlen);
    uint32_t port = 80;
    if (colon) {
        char pbuf[8];
        size_t plen = hlen - (size_t)(colon + 1 - h);
        if (plen == 0 || plen >= sizeof(pbuf))
            return fail("%s: '%s' has a bad port", name, v);
        memcpy(pbuf, colon + 1, plen);
        pbuf[plen] = '\0';
        if (parse_u32(name, pbuf, 1, 65535, &port) != 0)
            return -EINVAL;
    }
    uint32_t ip;
    if (parse_ipv4(name, h, colon ? (size_t)(colon - h) : hlen, &ip) != 0)
        return -EINVAL;
    u->addr.sin_family = AF_INET;
    u->addr.sin_port = htons((uint16_t)port);
    u->addr.sin_addr.s_addr = ip;
    const char *p = path ? path : "/";
    if (strlen(p) >= sizeof(u->path))
        return fail("%s: the path of '%s' is too long", name, v);
    memcpy(u->path, p, strlen(p) + 1);
    return 0;
}

static int
parse_ip_range(const char *name, const char *v, struct bench_opts *o)
{
    const char *dash = strchr(v, '-');
    uint32_t a, b;
    if (parse_ipv4(name, v, dash ? (size_t)(dash - v) : strlen(v), &a) != 0)
        return -EINVAL;
    b = a;
    if (dash && parse_ipv4(name, dash + 1, strlen(dash + 1), &b) != 0)
        return -EINVAL;
    uint32_t lo = ntohl(a), hi = ntohl(b);
    if (hi < lo)
        return fail("%s: the range '%s' runs backwards", name, v);
    if (hi - lo >= BENCH_OPTS_MAX_SRC_IPS)
        return fail("%s: '%s' holds too many addresses (at most 1024)", name, v);
    o->n_src_ips = hi - lo + 1;
    for (uint32_t i = 0; i < o->n_src_ips; i++)
        o->src_ips[i] = htonl(lo + i);
    return 0;
}

static void
set_defaults(struct bench_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->topics = 1;
    o->conns = 100;
    o->connect_timeout = -1;
    o->publishers = 1;
    o->pub_rate = 100;
    o->pipeline = 16;
    o->duration = 10;
    o->size = 100;
    o->settle = 3;
    o->timeout = 120;
}

/* One option with its value; <v> is NULL for flags. Returns 0 or -EINVAL. */
static int
apply(struct bench_opts *o, const char *name, const char *v)
{
    uint32_t pid = 0;
    if (strcmp(name, "--sub-url") == 0) {
        if (o->n_sub_urls == BENCH_OPTS_MAX_URLS)
            return fail("--sub-url is given more than %d times", BENCH_OPTS_MAX_URLS);
        return parse_url(name, v, &o->sub_urls[o->n_sub_urls++]);
    }
    if (strcmp(name, "--pub-url") == 0) {
        o->has_pub_url = true;
        return parse_url(name, v, &o->pub_url);
    }
    if (strcmp(name, "--pub-format") == 0) {
        if (strcmp(v, "raw") == 0)
            o->pub_format = BENCH_PUB_FORMAT_RAW;
        else if (strcmp(v, "pushpin") == 0)
            o->pub_format = BENCH_PUB_FORMAT_PUSHPIN;
        else if (strcmp(v, "mercure") == 0)
            o->pub_format = BENCH_PUB_FORMAT_MERCURE;
        else
            return fail("%s: '%s' is neither raw, pushpin nor mercure", name, v);
        return 0;
    }
    if (strcmp(name, "--topics") == 0)
        return parse_u32(name, v, 1, 10000000, &o->topics);
    if (strcmp(name, "--conns") == 0)
        return parse_u32(name, v, 0, 10000000, &o->conns);
    if (strcmp(name, "--procs") == 0)
        return parse_u32(name, v, 1, 256, &o->procs);
    if (strcmp(name, "--connect-rate") == 0)
        return parse_seconds(name, v, 0, 1e9, &o->connect_rate);
    if (strcmp(name, "--connect-timeout") == 0)
        return parse_seconds(name, v, 0.1, 86400, &o->connect_timeout);
    if (strcmp(name, "--source-ips") == 0)
        return parse_ip_range(name, v, o);
    if (strcmp(name, "--publishers") == 0)
        return parse_u32(name, v, 1, 10000, &o->publishers);
    if (strcmp(name, "--pub-rate") == 0)
        return parse_seconds(name, v, 0, 1e9, &o->pub_rate);
    if (strcmp(name, "--pipeline") == 0)
        return parse_u32(name, v, 1, 4096, &o->pipeline);
    if (strcmp(name, "--duration") == 0)
        return parse_seconds(name, v, 0, 86400, &o->duration);
    if (strcmp(name, "--count") == 0)
        return parse_u32(name, v, 0, 4000000000u, &o->count);
    if (strcmp(name, "--size") == 0)
        return parse_u32(name, v, 1, 16 << 20, &o->size);
    if (strcmp(name, "--settle") == 0)
        return parse_seconds(name, v, 0, 86400, &o->settle);
    if (strcmp(name, "--server-pid") == 0) {
        if (parse_u32(name, v, 1, 1 << 30, &pid) != 0)
            return -EINVAL;
        if (o->n_server_pids == BENCH_OPTS_MAX_URLS)
            return fail("--server-pid is given more than %d times", BENCH_OPTS_MAX_URLS);
        o->server_pids[o->n_server_pids++] = (pid_t)pid;
        return 0;
    }
    if (strcmp(name, "--timeout") == 0)
        return parse_seconds(name, v, 0.1, 86400, &o->timeout);
    return fail("unknown option %s", name);
}

static int
check(struct bench_opts *o)
{
    if (o->mode != BENCH_MODE_PUB && o->n_sub_urls == 0)
        return fail("%s needs --sub-url", bench_opts_mode_name(o->mode));
    if (o->mode != BENCH_MODE_SUB && !o->has_pub_url)
        return fail("%s needs --pub-url", bench_opts_mode_name(o->mode));
    if (o->mode == BENCH_MODE_SUB && o->conns == 0)
        return fail("sub needs --conns of at least 1");
    if (o->mode == BENCH_MODE_PUB)
        o->conns = 0;
    if (o->procs == 0)
        o->procs = (o->conns + CONNS_PER_PROC_DEFAULT - 1) / CONNS_PER_PROC_DEFAULT;
    if (o->procs > o->conns)
        o->procs = o->conns;
    if (o->conns > 0) {
        uint32_t per = (o->conns + o->procs - 1) / o->procs;
        if (per + FDS_PER_PROC_SPARE > FDS_PER_PROC_MAX)
            return fail("%u connections per process are too many: raise --procs so that each "
                        "holds at most %u",
                        per, FDS_PER_PROC_MAX - FDS_PER_PROC_SPARE);
    }
    if (o->connect_timeout < 0)
        o->connect_timeout = 30 + (o->connect_rate > 0 ? o->conns / o->connect_rate : 0);
    if (o->pub_format == BENCH_PUB_FORMAT_PUSHPIN && o->size > (1u << 20))
        return fail("--size is at most 1 MiB with --pub-format pushpin");
    return 0;
}

int
bench_opts_parse(struct bench_opts *o, int argc, char **argv)
{
    set_defaults(o);
    if (argc < 2)
        return fail("no command: give run, sub or pub");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        bench_opts_usage(stdout);
        return 1;
    }
    if (strcmp(argv[1], "run") == 0)
        o->mode = BENCH_MODE_RUN;
    else if (strcmp(argv[1], "sub") == 0)
        o->mode = BENCH_MODE_SUB;
    else if (strcmp(argv[1], "pub") == 0)
        o->mode = BENCH_MODE_PUB;
    else
        return fail("unknown command '%s': give run, sub or pub", argv[1]);
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            bench_opts_usage(stdout);
            return 1;
        }
        if (strcmp(arg, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0)
            return fail("unexpected argument '%s'", arg);
        char name[64];
        const char *eq = strchr(arg, '=');
        const char *v;
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nlen >= sizeof(name))
            return fail("unknown option %s", arg);
        memcpy(name, arg, nlen);
        name[nlen] = '\0';
        if (eq) {
            v = eq + 1;
        } else {
            if (i + 1 >= argc)
                return fail("%s needs a value", name);
            v = argv[++i];
        }
        if (apply(o, name, v) != 0)
            return -EINVAL;
    }
    return check(o);
}

size_t
bench_url_path(const struct bench_url *u, uint32_t topic, char *out, size_t cap)
{
    static const char tag[] = "{topic}";
    size_t n = 0;
    const char *p = u->path;
    while (*p && n + 1 < cap) {
        if (*p == '{' && strncmp(p, tag, sizeof(tag) - 1) == 0) {
            char num[20];
            size_t k = bench_payload_u64(num, topic);
            if (n + k + 1 > cap)
                break;
            memcpy(out + n, num, k);
            n += k;
            p += sizeof(tag) - 1;
            continue;
        }
        out[n++] = *p++;
    }
    out[n] = '\0';
    return n;
}
