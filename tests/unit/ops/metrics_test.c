/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of ops/metrics: fixed counters of two workers and fixed node figures render,
 * as Prometheus text and as JSON, exactly as the committed metrics_test.prom and
 * metrics_test.json say (what scrapers and dashboards already read); the Prometheus text
 * keeps the exposition format's rules (HELP and TYPE once per family, before its samples;
 * counters named _total; histogram and lag buckets cumulative up to +Inf); the JSON parses
 * and carries every stat; a buffer too small is refused with -ENOBUFS.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "auth/auth.h"
#include "ops/metrics.h"

#define N_WORKERS 2
#define OUT_CAP (1 << 20)

/* ---- fixed input ---- */

static struct rp_stats workers[N_WORKERS];

static void
set(struct rp_stats *s, enum rp_stat_id id, uint64_t v)
{
    atomic_store(&s->v[id], v);
}

/* Every stat of worker <w> gets a distinct value, so a stat rendered in another's place
 * shows; the connection gauges are chosen so that some connections are plain HTTP. */
static void
fill_workers(void)
{
    memset(workers, 0, sizeof(workers));
    for (unsigned w = 0; w < N_WORKERS; w++) {
        struct rp_stats *s = &workers[w];
        for (int i = 0; i < RP_STAT__COUNT; i++)
            set(s, (enum rp_stat_id)i, 1000 * (w + 1) + 7 * (uint64_t)i);
        set(s, RP_STAT_connections_active, 50 + w);
        set(s, RP_STAT_streams_active, 20 + w);
        set(s, RP_STAT_connections_waiting, 5);
        for (int i = 0; i < RP_STATS_AUTH_REASONS; i++)
            atomic_store(&s->auth_failures_by[i], (uint64_t)(i * 2 + w));
        for (int i = 0; i <= RP_STATS_WEBHOOK_BUCKETS; i++)
            atomic_store(&s->webhook_ms[i], (uint64_t)((i + w) % 3));
        atomic_store(&s->webhook_ms_sum, 12345 + w);
        for (int i = 0; i <= RP_STATS_CONN_BUCKETS; i++)
            atomic_store(&s->conn_ms[i], (uint64_t)((2 * i + w) % 5));
        atomic_store(&s->conn_ms_sum, 3600000 + w);
        for (int i = 0; i <= RP_STATS_DELIVERY_BUCKETS; i++)
            atomic_store(&s->delivery_ms[i], (uint64_t)((i + 2 * w) % 4));
        atomic_store(&s->delivery_ms_sum, 5000 + w);
        for (int i = 0; i <= RP_STATS_LAG_BUCKETS; i++)
            atomic_store(&s->lag[i], (uint64_t)(i + 1 + w));
    }
}

static const struct rp_process_stats busy_process = {
    .cpu_seconds = 12.5,
    .rss_bytes = 31457280,
    .vsize_bytes = 1073741824,
    .open_fds = 42,
    .max_fds = 20000,
    .start_time_s = 1796000000,
    .threads = 4,
};

static const struct rp_metrics_node busy_node = {
    .topics = 12,
    .last_seq = 3456,
    .uptime_s = 789,
    .workers = N_WORKERS,
    .has_breaker = true,
    .breaker_state = RP_BREAKER_OPEN,
    .breaker_transitions = {4, 3, 2},
    .auth_cache_entries = 5,
    .log_events = 100,
    .log_bytes = 20000,
    .sessions = {.connected = 7,
                 .disconnected = 3,
                 .buffered_bytes = 512,
                 .created = 11,
                 .resumes = 4,
                 .expiries = 1,
                 .hijacks_refused = 2},
    .process = &busy_process,
};

/* Renders the two workers with <node>; the caller frees the text. */
static char *
render(size_t n, const struct rp_metrics_node *node, bool json)
{
    struct rp_stats *stats[N_WORKERS];
    for (size_t w = 0; w < N_WORKERS; w++)
        stats[w] = &workers[w];
    struct rp_buf b;
    rp_buf_init(&b, OUT_CAP);
    assert_int_equal(rp_metrics_render(stats, n, node, json, &b), 0);
    char *text = strndup(b.data ? b.data : "", b.len);
    assert_non_null(text);
    rp_buf_fini(&b);
    return text;
}

/* ---- the committed expected output ---- */

static char *
read_source_file(const char *rel)
{
    const char *root = getenv("RP_SOURCE_ROOT");
    char path[4096];
    if (!root)
        fail_msg("RP_SOURCE_ROOT is not set");
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/*
 * <got> must equal the file <rel>. Otherwise the rendering is written to the current
 * directory under the file's base name (to review, and to commit when the change is meant)
 * and the first differing line is shown.
 */
static void
expect_same_as_file(const char *got, const char *rel)
{
    char *want = read_source_file(rel);
    if (want && strcmp(got, want) == 0) {
        free(want);
        return;
    }
    const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    FILE *f = fopen(base, "wb");
    if (f) {
        fputs(got, f);
        fclose(f);
    }
    if (!want)
        fail_msg("%s is missing; the rendering is in ./%s", rel, base);
    size_t line = 1, i = 0;
    while (got[i] && got[i] == want[i]) {
        if (got[i] == '\n')
            line++;
        i++;
    }
    size_t start = i;
    while (start > 0 && got[start - 1] != '\n')
        start--;
    print_error("%s:%zu: expected: %.*s\n", rel, line, (int)strcspn(want + start, "\n"),
                want + start);
    print_error("%s:%zu: got:      %.*s\n", rel, line, (int)strcspn(got + start, "\n"),
                got + start);
    free(want);
    fail_msg("the rendering differs from %s (now in ./%s)", rel, base);
}

static void
test_prometheus_text(void **state)
{
    fill_workers();
    char *text = render(N_WORKERS, &busy_node, false);
    expect_same_as_file(text, "tests/unit/ops/metrics_test.prom");
    free(text);
}

static void
test_json_text(void **state)
{
    fill_workers();
    char *text = render(N_WORKERS, &busy_node, true);
    expect_same_as_file(text, "tests/unit/ops/metrics_test.json");
    free(text);
}

/* ---- the Prometheus text format's rules ---- */

#define MAX_FAMILIES 128
#define MAX_SERIES 512
#define NAME_CAP 128

struct family {
    char name[NAME_CAP];
    char type[16];
    bool has_samples;
};

struct prom_check {
    struct family families[MAX_FAMILIES];
    size_t n_families;
    char *series[MAX_SERIES];
    size_t n_series;
    struct family *cur;          /* the family of the last TYPE line */
    char pending_help[NAME_CAP]; /* a HELP line not yet followed by its TYPE */
    /* Buckets of the current family, by `le`: cumulative counts up to +Inf. */
    double last_le;
    double last_count;
    bool saw_inf;
    bool in_buckets;
    double inf_count;
};

static bool
valid_name(const char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                  (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static struct family *
find_family(struct prom_check *pc, const char *name)
{
    for (size_t i = 0; i < pc->n_families; i++)
        if (strcmp(pc->families[i].name, name) == 0)
            return &pc->families[i];
    return NULL;
}

/* Closes the current family's buckets: they must have ended at +Inf. */
static void
end_buckets(struct prom_check *pc, const char *where)
{
    if (pc->in_buckets && !pc->saw_inf)
        fail_msg("%s: %s: buckets do not end with le=\"+Inf\"", where, pc->cur->name);
    pc->in_buckets = false;
    pc->saw_inf = false;
    pc->last_le = -1.0;
    pc->last_count = 0.0;
}

static void
check_comment(struct prom_check *pc, const char *line, const char *where)
{
    char name[NAME_CAP], rest[512];
    if (sscanf(line, "# HELP %127s %511[^\n]", name, rest) == 2) {
        if (pc->pending_help[0])
            fail_msg("%s: HELP for %s follows a HELP without TYPE", where, name);
        if (find_family(pc, name))
            fail_msg("%s: second HELP for %s", where, name);
        snprintf(pc->pending_help, sizeof(pc->pending_help), "%s", name);
        return;
    }
    if (sscanf(line, "# TYPE %127s %511s", name, rest) != 2)
        fail_msg("%s: a comment that is neither HELP nor TYPE: %s", where, line);
    if (strcmp(pc->pending_help, name) != 0)
        fail_msg("%s: TYPE %s without its HELP line just before", where, name);
    pc->pending_help[0] = '\0';
    if (strcmp(rest, "counter") != 0 && strcmp(rest, "gauge") != 0 &&
        strcmp(rest, "histogram") != 0)
        fail_msg("%s: %s has type %s", where, name, rest);
    if (strcmp(rest, "counter") == 0 && !ends_with(name, "_total"))
        fail_msg("%s: counter %s is not named ..._total", where, name);
    if (pc->cur)
        end_buckets(pc, where);
    assert_true(pc->n_families < MAX_FAMILIES);
    pc->cur = &pc->families[pc->n_families++];
    snprintf(pc->cur->name, sizeof(pc->cur->name), "%s", name);
    snprintf(pc->cur->type, sizeof(pc->cur->type), "%.15s", rest);
}

/* A bucket sample (a label le="..."): its le grows and its count never drops. */
static void
check_bucket(struct prom_check *pc, const char *le, double v, const char *where)
{
    if (pc->saw_inf)
        fail_msg("%s: %s: a bucket after le=\"+Inf\"", where, pc->cur->name);
    double bound = 0;
    if (strcmp(le, "+Inf") == 0) {
        pc->saw_inf = true;
        pc->inf_count = v;
    } else {
        char *end;
        bound = strtod(le, &end);
        if (*end || end == le)
            fail_msg("%s: le=\"%s\" is not a number", where, le);
        if (pc->in_buckets && bound <= pc->last_le)
            fail_msg("%s: %s: le=\"%s\" does not grow", where, pc->cur->name, le);
    }
    if (pc->in_buckets && v < pc->last_count)
        fail_msg("%s: %s: buckets are not cumulative at le=\"%s\"", where, pc->cur->name, le);
    pc->in_buckets = true;
    pc->last_le = bound;
    pc->last_count = v;
}

static void
check_sample(struct prom_check *pc, const char *line, const char *where)
{
    size_t name_len = strcspn(line, "{ ");
    char name[NAME_CAP];
    if (!valid_name(line, name_len) || name_len >= sizeof(name))
        fail_msg("%s: bad metric name: %s", where, line);
    memcpy(name, line, name_len);
    name[name_len] = '\0';
    if (!pc->cur)
        fail_msg("%s: sample %s before any TYPE", where, name);
    const char *fam = pc->cur->name;
    size_t fam_len = strlen(fam);
    bool histogram = strcmp(pc->cur->type, "histogram") == 0;
    bool ours = strcmp(name, fam) == 0 ||
                (histogram && strncmp(name, fam, fam_len) == 0 &&
                 (strcmp(name + fam_len, "_bucket") == 0 || strcmp(name + fam_len, "_sum") == 0 ||
                  strcmp(name + fam_len, "_count") == 0));
    if (!ours)
        fail_msg("%s: sample %s is not of the family %s of the TYPE above it", where, name, fam);
    pc->cur->has_samples = true;

    const char *p = line + name_len;
    char le[64] = "";
    if (*p == '{') {
        const char *close = strchr(p, '}');
        if (!close)
            fail_msg("%s: labels not closed", where);
        for (const char *q = p + 1; q < close;) {
            size_t k = strcspn(q, "=");
            if (!valid_name(q, k) || q[k] != '=' || q[k + 1] != '"')
                fail_msg("%s: bad label in %s", where, line);
            const char *v = q + k + 2, *vend = strchr(v, '"');
            if (!vend || vend > close)
                fail_msg("%s: label value not closed in %s", where, line);
            if (k == 2 && strncmp(q, "le", 2) == 0)
                snprintf(le, sizeof(le), "%.*s", (int)(vend - v), v);
            q = vend + 1;
            if (*q == ',')
                q++;
            else if (q != close)
                fail_msg("%s: labels not separated by commas in %s", where, line);
        }
        p = close + 1;
    }
    if (*p != ' ')
        fail_msg("%s: no space before the value: %s", where, line);
    char *end;
    double v = strtod(p + 1, &end);
    if (end == p + 1 || *end)
        fail_msg("%s: bad value in %s", where, line);
    if (histogram && ends_with(name, "_bucket") && !le[0])
        fail_msg("%s: bucket without le: %s", where, line);
    if (le[0])
        check_bucket(pc, le, v, where);
    if (histogram && ends_with(name, "_count") && (!pc->saw_inf || v != pc->inf_count))
        fail_msg("%s: %s is not the +Inf bucket's count", where, name);

    for (size_t i = 0; i < pc->n_series; i++)
        if (strncmp(pc->series[i], line, (size_t)(p - line)) == 0 &&
            strlen(pc->series[i]) == (size_t)(p - line))
            fail_msg("%s: series repeated: %.*s", where, (int)(p - line), line);
    assert_true(pc->n_series < MAX_SERIES);
    pc->series[pc->n_series++] = strndup(line, (size_t)(p - line));
}

/* Checks <text> line by line; the families it declares are left in <pc>. */
static void
check_prometheus(struct prom_check *pc, const char *text)
{
    memset(pc, 0, sizeof(*pc));
    pc->last_le = -1.0;
    size_t n = strlen(text);
    assert_true(n > 0 && text[n - 1] == '\n');
    size_t line_no = 0;
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        char line[1024], where[32];
        size_t len = (size_t)(eol - p);
        assert_true(len < sizeof(line));
        memcpy(line, p, len);
        line[len] = '\0';
        snprintf(where, sizeof(where), "line %zu", ++line_no);
        if (len == 0)
            fail_msg("%s: empty line", where);
        if (line[0] == '#')
            check_comment(pc, line, where);
        else
            check_sample(pc, line, where);
        p = eol + 1;
    }
    if (pc->cur)
        end_buckets(pc, "end");
    if (pc->pending_help[0])
        fail_msg("HELP %s without TYPE", pc->pending_help);
    for (size_t i = 0; i < pc->n_families; i++)
        if (!pc->families[i].has_samples)
            fail_msg("family %s has no samples", pc->families[i].name);
    for (size_t i = 0; i < pc->n_series; i++)
        free(pc->series[i]);
}

static void
test_prometheus_rules(void **state)
{
    fill_workers();
    struct prom_check *pc = calloc(1, sizeof(*pc));
    assert_non_null(pc);
    char *text = render(N_WORKERS, &busy_node, false);
    check_prometheus(pc, text);
    struct family *f = find_family(pc, "revenprox_auth_webhook_duration_seconds");
    assert_non_null(f);
    assert_string_equal(f->type, "histogram");
    assert_non_null(find_family(pc, "revenprox_auth_breaker_state"));
    assert_non_null(find_family(pc, "revenprox_subscriber_lag_events"));
    /* Every stat is there, as its own family or (auth_failures) as the family by reason. */
    assert_non_null(find_family(pc, "revenprox_connections_total"));
    assert_non_null(find_family(pc, "revenprox_messages_sent_total"));
    assert_non_null(find_family(pc, "revenprox_auth_failures_total"));
    assert_non_null(strstr(text, "\nrevenprox_auth_breaker_state{state=\"open\"} 1\n"));
    assert_non_null(strstr(text, "\nrevenprox_auth_breaker_state{state=\"closed\"} 0\n"));
    /* 50+51 open, 20+21 streams, 5+5 waiting: 50 plain HTTP. */
    assert_non_null(strstr(text, "\nrevenprox_connections{state=\"http\"} 50\n"));
    free(text);

    /* One idle worker, no webhook: still well formed, and no breaker families. */
    memset(workers, 0, sizeof(workers));
    struct rp_metrics_node idle = {.workers = 1};
    text = render(1, &idle, false);
    check_prometheus(pc, text);
    assert_null(find_family(pc, "revenprox_auth_breaker_state"));
    assert_null(find_family(pc, "revenprox_auth_breaker_transitions_total"));
    assert_non_null(strstr(text, "\nrevenprox_worker_connections{worker=\"0\"} 0\n"));
    assert_null(strstr(text, "worker=\"1\""));
    free(text);
    free(pc);
}

/* ---- JSON ---- */

static json_t *
load_json(const char *text)
{
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        fail_msg("not JSON: %s (line %d, column %d)", je.text, je.line, je.column);
    assert_true(json_is_object(root));
    return root;
}

static uint64_t
stat_sum(enum rp_stat_id id, size_t n)
{
    uint64_t sum = 0;
    for (size_t w = 0; w < n; w++)
        sum += rp_stat_get(&workers[w], id);
    return sum;
}

static void
test_json_content(void **state)
{
    static const char *const stat_names[] = {
#define STAT_NAME(name, kind, help) #name,
        RP_STATS_TABLE(STAT_NAME)
#undef STAT_NAME
    };
    fill_workers();
    char *text = render(N_WORKERS, &busy_node, true);
    json_t *root = load_json(text);
    for (int i = 0; i < RP_STAT__COUNT; i++) {
        json_t *v = json_object_get(root, stat_names[i]);
        if (!json_is_integer(v))
            fail_msg("%s is missing or not a number", stat_names[i]);
        assert_int_equal(json_integer_value(v), stat_sum((enum rp_stat_id)i, N_WORKERS));
    }
    json_t *by = json_object_get(root, "auth_failures_by_reason");
    assert_int_equal(json_object_size(by), RP_AUTH__COUNT - 1);
    /* Reason i: i * 2 + w over both workers. */
    assert_int_equal(json_integer_value(json_object_get(by, "expired")),
                     2 * (RP_AUTH_EXPIRED * 2) + 1);
    json_t *breaker = json_object_get(root, "auth_breaker");
    assert_string_equal(json_string_value(json_object_get(breaker, "state")), "open");
    assert_int_equal(json_integer_value(json_object_get(breaker, "to_half_open")), 2);
    json_t *detail = json_object_get(root, "workers_detail");
    assert_int_equal(json_array_size(detail), N_WORKERS);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(detail, 1), "worker")), 1);
    assert_int_equal(json_integer_value(json_object_get(root, "uptime_seconds")), 789);
    assert_int_equal(json_integer_value(json_object_get(root, "last_seq")), 3456);
    json_decref(root);
    free(text);

    memset(workers, 0, sizeof(workers));
    struct rp_metrics_node idle = {.workers = 1};
    text = render(1, &idle, true);
    root = load_json(text);
    assert_null(json_object_get(root, "auth_breaker"));
    assert_int_equal(json_array_size(json_object_get(root, "workers_detail")), 1);
    json_decref(root);
    free(text);
}

/* ---- limits ---- */

/* Any buffer smaller than the rendering gets -ENOBUFS; one byte more than it suffices. */
static void
test_buffer_too_small(void **state)
{
    fill_workers();
    struct rp_stats *stats[N_WORKERS] = {&workers[0], &workers[1]};
    for (int json = 0; json <= 1; json++) {
        char *full = render(N_WORKERS, &busy_node, json);
        size_t len = strlen(full);
        for (size_t cap = 0; cap < len; cap += cap < 64 ? 1 : 61) {
            struct rp_buf b;
            rp_buf_init(&b, cap);
            assert_int_equal(rp_metrics_render(stats, N_WORKERS, &busy_node, json, &b), -ENOBUFS);
            rp_buf_fini(&b);
        }
        struct rp_buf b;
        rp_buf_init(&b, len + 1);
        assert_int_equal(rp_metrics_render(stats, N_WORKERS, &busy_node, json, &b), 0);
        assert_int_equal(b.len, len);
        rp_buf_fini(&b);
        free(full);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prometheus_text),  cmocka_unit_test(test_json_text),
        cmocka_unit_test(test_prometheus_rules), cmocka_unit_test(test_json_content),
        cmocka_unit_test(test_buffer_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
