/* SPDX-License-Identifier: MIT */
/*
 * `revenprox sub FILTER...`: one event stream (GET /events?topic=...) printed as it
 * arrives. The body goes through the SSE parser; a stream that ends is reopened after the
 * server's retry time (longer after failures) with Last-Event-ID, so nothing is missed.
 *
 *   connect --(200 text/event-stream)--> streaming --(count reached)--> exit 0
 *      |                                     |
 *      | refused / unreachable               | ended (server closed, network error)
 *      v                                     v
 *   first attempt: exit 1 / exit 3       wait (retry, then backoff) --> connect
 *   after a stream was open: 429/5xx and unreachable wait and retry; other refusals exit 1.
 */
#include "cli/cmd.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/backoff.h"
#include "base/buf.h"
#include "base/clock.h"
#include "config/config.h"
#include "core/pattern.h"
#include "sse/sse_parser.h"

#define DEFAULT_RETRY_MS 2000      /* until the server sends `retry:` (its default too) */
#define BACKOFF_FLOOR_MS 100       /* the shortest wait after a failed attempt */
#define BACKOFF_CAP_MS 30000       /* the longest wait between attempts */
#define EVENT_CAP_MIN (16u << 20)  /* events up to max(max_data, this) bytes are accepted */
#define ERROR_BODY_CAP (64 * 1024) /* what is kept of a refusal's body */

static void
usage(FILE *out)
{
    fputs("Usage: revenprox sub FILTER... [--json] [--count N] [--last-event-id ID]\n"
          "                     [--url URL] [--token TOKEN] [--config FILE] [--SETTING VALUE ...]\n"
          "\n"
          "Subscribes to one or more topics or patterns (+ one level, # the rest) and prints\n"
          "events as they arrive, one line each:\n"
          "  [TOPIC] TYPE ID: DATA           (further lines of DATA are indented)\n"
          "  !! resync (REASON): ...         when the server says events were skipped\n"
          "When the stream ends it reconnects, after the server's retry time (longer after\n"
          "failures), with Last-Event-ID, so no event is missed or repeated.\n"
          "\n"
          "  --json              one JSON object per line: {\"id\",\"event\",\"topic\",\"data\"};\n"
          "                      a resync is {\"resync\":{...the server's announcement}}\n"
          "  --count N           exit after N events (resync announcements do not count)\n"
          "  --last-event-id ID  start after event ID (replays what the server still keeps)\n"
          "  --url URL           the server (default http://<listen setting>)\n"
          "  --token TOKEN       sent as Authorization: Bearer TOKEN\n"
          "  --config FILE       a config file, read as `serve` reads it (for listen, max_data)\n"
          "\n"
          "Exit status: 0 after --count events (or when stdout closes), 1 the server refused\n"
          "(its status and message are printed), 2 usage error, 3 the server could not be\n"
          "reached at the first attempt (later, it keeps retrying).\n",
          out);
}

struct sub {
    const struct rp_cmd_client *cl;
    struct rp_sse_parser *parser;
    const char *single_topic; /* an untagged stream's one topic; NULL: types name topics */
    bool json;
    uint64_t count; /* 0: no limit */
    uint64_t seen;
    uint64_t retry_ms;
    bool stop;         /* --count reached or stdout closed */
    bool auth_expired; /* the server said the token expired */
    bool reconnecting; /* announce the next stream that opens */
    /* The current connection. */
    CURL *h;
    bool head_checked;
    bool streaming;
    struct rp_buf err_body;
};

/* ---- output ---- */

/* Writes <n> bytes for a terminal: control characters other than tab as \xNN, and each
 * line break followed by <indent> spaces. */
static void
put_text(const char *s, size_t n, int indent)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            printf("\n%*s", indent, "");
        else if ((c < 0x20 && c != '\t') || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

static json_t *
jstr(const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    return v ? v : json_null(); /* the parser gives valid UTF-8; never expected */
}

static void
print_json(json_t *o)
{
    char *txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (txt)
        printf("%s\n", txt);
    free(txt);
}

/* Flushes stdout; a reader that went away (a closed pipe) ends the command. */
static void
flush_out(struct sub *s)
{
    if (fflush(stdout) != 0 || ferror(stdout))
        s->stop = true;
}

static const char *
jget(json_t *o, const char *key, char *buf, size_t cap)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else
        snprintf(buf, cap, "?");
    return buf;
}

/* A `resync` announcement (docs/api.md "Replay and resync"), in words or as JSON. */
static void
print_resync(struct sub *s, const char *data, size_t len)
{
    json_t *o = json_loadb(data, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_pack("{s:s%}", "raw", data, len);
    }
    if (s->json) {
        json_t *line = json_pack("{s:O}", "resync", o);
        print_json(line);
        json_decref(line);
        json_decref(o);
        flush_out(s);
        return;
    }
    char reason[64], a[300], b[300], c[300], d[64], e[300];
    jget(o, "reason", reason, sizeof(reason));
    printf("!! resync (%s): ", reason);
    if (strcmp(reason, "expired") == 0)
        printf("events of %s before %s are no longer kept; continuing from %s",
               jget(o, "topic", a, sizeof(a)), jget(o, "from", b, sizeof(b)), b);
    else if (strcmp(reason, "epoch") == 0)
        printf("id %s is from another incarnation of the server's log (it restarted without "
               "its history); continuing from the oldest event it keeps",
               jget(o, "requested", a, sizeof(a)));
    else if (strcmp(reason, "unknown_id") == 0)
        printf("the server does not know id %s; continuing with live events after %s",
               jget(o, "requested", a, sizeof(a)), jget(o, "after", b, sizeof(b)));
    else if (strcmp(reason, "lagged") == 0)
        printf("%s events of %s were skipped (policy %s, this reader fell behind), up to %s; "
               "continuing from %s",
               jget(o, "dropped", d, sizeof(d)), jget(o, "topic", a, sizeof(a)),
               jget(o, "policy", b, sizeof(b)), jget(o, "after", c, sizeof(c)),
               jget(o, "from", e, sizeof(e)));
    else
        put_text(data, len, 0);
    putchar('\n');
    json_decref(o);
    flush_out(s);
}

static void
print_event(struct sub *s, const struct rp_sse_event *ev)
{
    const char *topic = s->single_topic, *type = ev->type;
    size_t topic_len = topic ? strlen(topic) : 0, type_len = ev->type_len;
    if (!topic) {
        /* Tagged: the type is <topic> or <topic>:<type>; topic names hold no ':'. */
        const char *colon = memchr(ev->type, ':', ev->type_len);
        topic = ev->type;
        topic_len = colon ? (size_t)(colon - ev->type) : ev->type_len;
        type = colon ? colon + 1 : "message";
        type_len = colon ? ev->type_len - topic_len - 1 : strlen("message");
    }
    if (s->json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", jstr(ev->last_id, ev->last_id_len));
        json_object_set_new(o, "event", jstr(type, type_len));
        json_object_set_new(o, "topic", jstr(topic, topic_len));
        json_object_set_new(o, "data", jstr(ev->data, ev->data_len));
        print_json(o);
        json_decref(o);
    } else {
        int start = printf("[%.*s] ", (int)topic_len, topic);
        put_text(type, type_len, 0);
        int rest = printf(" %s: ", ev->last_id_len ? ev->last_id : "-");
        put_text(ev->data, ev->data_len, start + (int)type_len + rest);
        putchar('\n');
    }
    flush_out(s);
}

static bool
type_is(const struct rp_sse_event *ev, const char *want)
{
    return ev->type_len == strlen(want) && memcmp(ev->type, want, ev->type_len) == 0;
}

static int
on_event(void *ctx, const struct rp_sse_event *ev)
{
    struct sub *s = ctx;
    /* The server's own announcements carry no id; published events always have one. */
    if (!ev->has_id && type_is(ev, "resync")) {
        print_resync(s, ev->data, ev->data_len);
        return s->stop;
    }
    if (!ev->has_id && type_is(ev, "auth_expired")) {
        s->auth_expired = true;
        return 0;
    }
    print_event(s, ev);
    s->seen++;
    if (s->count && s->seen >= s->count)
        s->stop = true;
    return s->stop;
}

static int
on_retry(void *ctx, uint64_t ms)
{
    struct sub *s = ctx;
    s->retry_ms = ms < BACKOFF_CAP_MS ? ms : BACKOFF_CAP_MS;
    return 0;
}

/* ---- one connection ---- */

static bool
is_event_stream(CURL *h)
{
    long status = 0;
    char *ct = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    return status == 200 && ct && strncasecmp(ct, "text/event-stream", 17) == 0;
}

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sub *s = userdata;
    size_t n = size * nmemb;
    if (!s->head_checked) {
        s->head_checked = true;
        s->streaming = is_event_stream(s->h);
        if (s->streaming && s->reconnecting) {
            rp_cmd_errorf(s->cl->cmd, "reconnected");
            s->reconnecting = false;
        }
    }
    if (!s->streaming) {
        rp_buf_append(&s->err_body, ptr, n); /* past the cap, the start is enough */
        return n;
    }
    size_t off = 0;
    while (off < n) {
        size_t used = 0;
        enum rp_sse_parse_result r = rp_sse_parser_feed(s->parser, ptr + off, n - off, &used);
        off += used;
        if (r == RP_SSE_PARSE_MORE)
            break;
        if (r == RP_SSE_PARSE_ERROR || s->stop)
            return 0; /* aborts the transfer */
    }
    return n;
}

enum outcome {
    OUT_STOPPED = 0, /* --count reached, or stdout closed */
    OUT_ENDED,       /* a stream was open, then ended */
    OUT_REFUSED,     /* an HTTP error status */
    OUT_NOT_STREAM,  /* 200 but not text/event-stream */
    OUT_BAD_STREAM,  /* the parser refused the stream */
    OUT_UNREACHABLE, /* no answer at all */
};

struct attempt {
    CURLcode rc;
    char errbuf[CURL_ERROR_SIZE];
    long status;
    char retry_after[32];
};

static enum outcome
connect_once(struct sub *s, const char *url, struct attempt *at)
{
    memset(at, 0, sizeof(*at));
    rp_sse_parser_restart(s->parser);
    s->head_checked = false;
    s->streaming = false;
    s->err_body.len = 0;

    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Accept: text/event-stream");
    size_t id_len = 0;
    const char *id = rp_sse_parser_last_id(s->parser, &id_len);
    if (id_len) {
        size_t n = id_len + 32;
        char *line = rp_xmalloc(n);
        snprintf(line, n, "Last-Event-ID: %s", id);
        headers = curl_slist_append(headers, line);
        free(line);
    }
    s->h = rp_cmd_client_handle(s->cl, url, &headers);
    if (!s->h) {
        curl_slist_free_all(headers);
        at->rc = CURLE_OUT_OF_MEMORY;
        return OUT_UNREACHABLE;
    }
    curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, at->errbuf);
    curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
    at->rc = curl_easy_perform(s->h);
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &at->status);
    struct curl_header *ra = NULL;
    if (at->status && curl_easy_header(s->h, "Retry-After", 0, CURLH_HEADER, -1, &ra) == CURLHE_OK)
        snprintf(at->retry_after, sizeof(at->retry_after), "%s", ra->value);
    bool stream = s->streaming || (!s->head_checked && is_event_stream(s->h));
    curl_easy_cleanup(s->h);
    s->h = NULL;
    curl_slist_free_all(headers);

    if (s->stop)
        return OUT_STOPPED;
    if (rp_sse_parser_error(s->parser))
        return OUT_BAD_STREAM;
    if (stream)
        return OUT_ENDED;
    if (at->status == 200)
        return OUT_NOT_STREAM;
    if (at->status)
        return OUT_REFUSED;
    return OUT_UNREACHABLE;
}

/* ---- waiting between attempts ---- */

/* <ms> +-20 %, so clients dropped together do not come back together. */
static uint64_t
jitter(uint64_t ms)
{
    return (uint64_t)rp_backoff_jitter_ms((int64_t)(ms - ms / 5), (int64_t)(ms + ms / 5));
}

/* The wait before the next attempt: the server's retry time after a stream that worked,
 * then doubling per failed attempt, between BACKOFF_FLOOR_MS and BACKOFF_CAP_MS. */
static uint64_t
backoff_ms(const struct sub *s, unsigned failures)
{
    if (failures == 0)
        return s->retry_ms;
    uint64_t ms = s->retry_ms > BACKOFF_FLOOR_MS ? s->retry_ms : BACKOFF_FLOOR_MS;
    for (unsigned i = 1; i < failures && ms < BACKOFF_CAP_MS; i++)
        ms *= 2;
    return jitter(ms < BACKOFF_CAP_MS ? ms : BACKOFF_CAP_MS);
}

static void
sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Retry-After in seconds (the server sends delta-seconds), as ms; 0 when absent. */
static uint64_t
retry_after_ms(const char *v)
{
    char *end;
    errno = 0;
    unsigned long long secs = strtoull(v, &end, 10);
    if (end == v || *end || errno || secs > 3600)
        return 0;
    return secs * 1000;
}

/* ---- the command ---- */

static int
parse_count(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end || errno || v == 0)
        return -EINVAL;
    *out = v;
    return 0;
}

static int
build_path(struct rp_buf *path, const struct rp_cmd_args *a)
{
    int err = rp_buf_append_str(path, "/events");
    for (size_t i = 0; i < a->n_operands && !err; i++) {
        err = rp_buf_append_str(path, i ? "&topic=" : "?topic=");
        /* '+' stays literal (the server reads it so in a query); '#' must be %23. */
        err = err ? err : rp_cmd_url_escape(path, a->operands[i], "/+");
    }
    return err ? err : (rp_buf_cstr(path) ? 0 : -ENOBUFS);
}

/* Runs attempts until the count is reached, the stream is refused or stdout closes. */
static int
run(struct sub *s, const char *url)
{
    const char *cmd = s->cl->cmd;
    bool opened_once = false;
    unsigned failures = 0;
    for (;;) {
        struct attempt at;
        enum outcome o = connect_once(s, url, &at);
        const char *detail = at.errbuf[0] ? at.errbuf : curl_easy_strerror(at.rc);
        uint64_t wait;
        switch (o) {
        case OUT_STOPPED:
            return RP_CMD_EXIT_OK;
        case OUT_BAD_STREAM:
            rp_cmd_errorf(cmd, "the stream from %s is not one this client accepts: %s", url,
                          rp_sse_parser_error(s->parser));
            return RP_CMD_EXIT_REFUSED;
        case OUT_NOT_STREAM:
            rp_cmd_errorf(cmd,
                          "%s answered 200 but not with an event stream; is --url a "
                          "RevenProx server?",
                          url);
            return RP_CMD_EXIT_REFUSED;
        case OUT_REFUSED: {
            bool transient =
                at.status == 429 || at.status == 502 || at.status == 503 || at.status == 504;
            if (!opened_once || !transient)
                return rp_cmd_refused(s->cl, at.status, s->err_body.data, s->err_body.len,
                                      at.retry_after);
            wait = retry_after_ms(at.retry_after);
            failures++;
            if (!wait)
                wait = backoff_ms(s, failures);
            rp_cmd_errorf(cmd, "the server answered HTTP %ld; retrying in %.1f s", at.status,
                          (double)wait / 1000);
            break;
        }
        case OUT_UNREACHABLE:
            if (!opened_once)
                return rp_cmd_transfer_failed(s->cl, at.rc, at.errbuf);
            failures++;
            wait = backoff_ms(s, failures);
            rp_cmd_errorf(cmd, "cannot reach %s (%s); retrying in %.1f s", s->cl->base, detail,
                          (double)wait / 1000);
            break;
        case OUT_ENDED:
        default:
            if (s->auth_expired) {
                rp_cmd_errorf(cmd,
                              "the token expired and the server closed the stream; mint a "
                              "new one (`revenprox token`) and subscribe again with "
                              "--last-event-id %s",
                              rp_sse_parser_last_id(s->parser, NULL));
                return RP_CMD_EXIT_REFUSED;
            }
            opened_once = true;
            failures = 0;
            wait = backoff_ms(s, 0);
            rp_cmd_errorf(cmd, "the stream ended (%s); reconnecting in %.1f s%s%s",
                          at.rc == CURLE_OK ? "the server closed it" : detail, (double)wait / 1000,
                          *rp_sse_parser_last_id(s->parser, NULL) ? " after " : "",
                          rp_sse_parser_last_id(s->parser, NULL));
            break;
        }
        s->reconnecting = true;
        sleep_ms(wait);
    }
}

int
rp_cmd_sub_main(int argc, char **argv)
{
    const char *url = NULL, *token = NULL, *count = NULL, *last_id = NULL;
    bool json = false;
    const struct rp_cmd_opt opts[] = {
        {"url", RP_CMD_OPT_VALUE, &url},
        {"token", RP_CMD_OPT_VALUE, &token},
        {"json", RP_CMD_OPT_SWITCH, &json},
        {"count", RP_CMD_OPT_VALUE, &count},
        {"last-event-id", RP_CMD_OPT_VALUE, &last_id},
        {NULL, RP_CMD_OPT_SWITCH, NULL},
    };
    struct rp_cmd_args a;
    struct rp_config *cfg = NULL;
    struct rp_cmd_client cl = {0};
    struct rp_buf path;
    rp_buf_init(&path, 64 * 1024);
    struct sub s = {.cl = &cl, .retry_ms = DEFAULT_RETRY_MS};
    rp_buf_init(&s.err_body, ERROR_BODY_CAP);
    int rc = RP_CMD_EXIT_USAGE;

    if (rp_cmd_args_parse(&a, "sub", argc, argv, opts) != 0)
        goto out;
    if (a.help) {
        usage(stdout);
        rc = RP_CMD_EXIT_OK;
        goto out;
    }
    s.json = json;
    if (a.n_operands == 0) {
        rp_cmd_errorf("sub", "give at least one FILTER (a topic, or a pattern such as news/+ "
                             "or news/#)");
        goto out;
    }
    for (size_t i = 0; i < a.n_operands; i++) {
        if (a.operands[i][0] == '\0') {
            rp_cmd_errorf("sub", "an empty FILTER subscribes to nothing");
            goto out;
        }
    }
    if (count && parse_count(count, &s.count) != 0) {
        rp_cmd_errorf("sub", "--count %s: give a whole number of events, at least 1", count);
        goto out;
    }
    if (rp_cmd_load_config(&a, &cfg) != 0)
        goto out;
    if (rp_cmd_client_init(&cl, "sub", url, token, cfg) != 0)
        goto out;
    if (build_path(&path, &a) != 0) {
        rp_cmd_errorf("sub", "the filters are too long for one URL");
        goto out;
    }

    /* The server's stream names topics in event types unless it is one concrete topic. */
    s.single_topic =
        a.n_operands == 1 && !rp_pattern_has_wildcard(a.operands[0], strlen(a.operands[0]))
            ? a.operands[0]
            : NULL;
    size_t max_event =
        (size_t)cfg->v.max_data > EVENT_CAP_MIN ? (size_t)cfg->v.max_data : EVENT_CAP_MIN;
    struct rp_sse_limits lim = {.max_line = max_event + 64, .max_event = max_event};
    s.parser = rp_sse_parser_new(&lim, on_event, on_retry, &s);
    if (last_id && rp_sse_parser_set_last_id(s.parser, last_id, strlen(last_id)) != 0) {
        rp_cmd_errorf("sub", "--last-event-id: an id has no line breaks (ids look like "
                             "5f3a9c21-42)");
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);

    size_t url_len = strlen(cl.base) + path.len + 1;
    char *full = rp_xmalloc(url_len);
    snprintf(full, url_len, "%s%s", cl.base, path.data);
    rc = run(&s, full);
    free(full);
out:
    rp_sse_parser_free(s.parser);
    rp_buf_fini(&s.err_body);
    rp_buf_fini(&path);
    rp_cmd_client_fini(&cl);
    rp_config_free(cfg);
    rp_cmd_args_fini(&a);
    return rc;
}
