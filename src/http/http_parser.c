/* SPDX-License-Identifier: MIT */
#include "http/http_parser.h"

#include <errno.h>
#include <llhttp.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/buf.h"
#include "http/query.h"

/*
 * llhttp hands us the request in spans, possibly split across feeds. Each span is copied
 * as it arrives into a buffer of the parser, so the caller may reuse its read buffer at
 * once. Buffers can move when they grow, so while parsing we only keep offsets, and the
 * pointers of struct rp_http_request are computed once, when the request is complete.
 *
 *   line   the raw target, NUL-terminated               cap max_request_line + 1
 *   uri    decoded path NUL raw query NUL               cap max_request_line + 2
 *   hdr    name NUL value NUL, one pair per header      cap max_header_bytes + 2 per header
 *   body   the decoded body                             cap max_body
 *
 * Limits are checked before a span is stored, so a buffer never holds more than its limit
 * allows (a failed append is still answered, with the limit's status).
 *
 * From the caller's side:
 *
 *   idle --first byte--> in request --last byte (pause)--> DONE --reset--> idle
 *                            |
 *                            +--limit or syntax--> ERROR --reset--> idle
 *
 * Pausing llhttp in on_message_complete is what stops a feed after exactly one request;
 * reset re-initialises llhttp, so the next request starts from a clean state.
 *
 * Strict line ends: Debian's llhttp 8.1 sources, built as they come (no LLHTTP_STRICT_MODE,
 * which would also refuse raw bytes over 0x7f in targets; no lenient flag governs this),
 * take any byte for the LF after a chunk size line's CR or after the CR of the blank line
 * ending the head or trailers, and any two for the CRLF after chunk data ("3\r\nabcXX0\r\n
 * \r\n" is the body "abc"): a smuggling primitive behind a proxy. The callbacks after those
 * line ends pause llhttp; feed checks the bytes before the pause (the last two of earlier
 * feeds are kept), then resumes.
 */

/*
 * A body buffer larger than this is released at reset rather than kept for the next
 * request, so one large publish does not pin megabytes to an idle keep-alive connection.
 */
#define BODY_KEEP_ALLOC (64 * 1024)
#define HDR_ALLOC_MIN 16

#define REASON_BAD_TE "unsupported Transfer-Encoding; only chunked is accepted"
#define REASON_CHUNK_LINE "malformed chunked body: a chunk size line must end with CRLF"
#define REASON_CHUNK_DATA "malformed chunked body: chunk data must be followed by CRLF"
#define REASON_CHUNK_END "malformed chunked body: the trailer section must end with CRLF"
#define REASON_HEAD_END "malformed request: the header section must end with an empty line"

/*
 * Bytes of the request line that llhttp reports in no span: the space after the method
 * and " HTTP/" before the version, so line_bytes matches strlen("GET /x HTTP/1.1").
 */
#define LINE_AFTER_METHOD 1
#define LINE_AFTER_TARGET 6

enum hdr_state {
    HDR_NONE = 0, /* between headers */
    HDR_NAME,     /* name spans arriving */
    HDR_VALUE,    /* value spans arriving */
};

struct hdr_span {
    size_t name_off, name_len;
    size_t value_off, value_len;
};

struct rp_http_parser {
    llhttp_t llh;
    struct rp_http_limits limits;

    struct rp_buf line;
    struct rp_buf uri;
    struct rp_buf hdr;
    struct rp_buf body;

    struct hdr_span *spans;         /* headers being parsed, as offsets into hdr */
    struct rp_http_header *headers; /* the same, as pointers, filled on completion */
    size_t hdr_alloc;               /* entries allocated in both arrays */
    size_t n_headers;               /* headers stored (trailers are not) */
    size_t n_fields;                /* header and trailer fields seen, for max_headers */
    size_t field_name_len;          /* of the field being parsed, stored or not */
    enum hdr_state hdr_state;

    size_t line_bytes;
    size_t header_bytes;
    size_t path_len;
    size_t query_off, query_len;

    bool begun;        /* on_message_begin fired */
    bool target_done;  /* path and query decoded */
    bool headers_done; /* later header fields are trailers */
    bool complete;     /* on_message_complete fired: the request is ready */
    bool keep_alive;
    bool expect_continue;     /* the client waits for "100 Continue" before sending its body */
    const char *check_reason; /* a line end to check at the pause (see the top), or NULL */
    bool check_crlf;          /* it is CRLF; else LF alone will do (the head's end) */
    char tail[2]; /* the last two bytes of earlier feeds, for a check at a feed's start */

    struct rp_http_error err; /* status 0 while no error */
    struct rp_http_request req;
};

static struct rp_http_parser *
parser_of(llhttp_t *llh)
{
    return llh->data;
}

/* Records the first error only: later callbacks must not overwrite the reason. */
static int
fail(struct rp_http_parser *p, int status, const char *reason)
{
    if (p->err.status == 0) {
        p->err.status = status;
        p->err.reason = reason;
    }
    return -1;
}

/* Adds <n> to the counter <total> under <limit>; past it the request fails with <status>. */
static int
add_bytes(struct rp_http_parser *p, size_t *total, size_t limit, size_t n, int status,
          const char *reason)
{
    if (n > limit || *total > limit - n)
        return fail(p, status, reason);
    *total += n;
    return 0;
}

static int
add_line_bytes(struct rp_http_parser *p, size_t n)
{
    return add_bytes(p, &p->line_bytes, p->limits.max_request_line, n, 414,
                     "request line is longer than max_request_line");
}

static int
add_header_bytes(struct rp_http_parser *p, size_t n)
{
    return add_bytes(p, &p->header_bytes, p->limits.max_header_bytes, n, 431,
                     "headers are larger than max_header_bytes");
}

/*
 * The offset where the path of an absolute-form target ("http://host/p?q") begins, 0 for
 * any other target, or -1 when the host is empty.
 */
static long
absolute_path_start(const char *t, size_t len)
{
    size_t i;
    if (len >= 7 && strncasecmp(t, "http://", 7) == 0)
        i = 7;
    else if (len >= 8 && strncasecmp(t, "https://", 8) == 0)
        i = 8;
    else
        return 0;
    size_t host = i;
    while (i < len && t[i] != '/' && t[i] != '?' && t[i] != '#')
        i++;
    return i == host ? -1 : (long)i;
}

/*
 * Splits the target into decoded path and raw query. Origin-form ("/p?q") is what clients
 * send to a server; absolute-form ("http://host/p?q") is accepted too, as RFC 9112 3.2.2
 * requires, its path being "/" when empty. Authority-form (CONNECT) and "*" are 400.
 * A fragment, which clients should not send, is dropped.
 */
static int
finish_target(struct rp_http_parser *p)
{
    p->target_done = true;
    const char *t = rp_buf_cstr(&p->line);
    size_t len = p->line.len;
    if (!t || len == 0)
        return fail(p, 400, "request target is empty");
    long abs = absolute_path_start(t, len);
    if (abs < 0)
        return fail(p, 400, "request target has an empty host");
    size_t start = (size_t)abs;
    bool implicit_slash = false;
    if (start > 0)
        implicit_slash = start == len || t[start] != '/';
    else if (t[0] != '/')
        return fail(p, 400, "request target must be a path starting with '/'");

    size_t path_end = start;
    while (path_end < len && t[path_end] != '?' && t[path_end] != '#')
        path_end++;
    size_t q = path_end, q_end = path_end;
    if (path_end < len && t[path_end] == '?') {
        q = path_end + 1;
        q_end = q;
        while (q_end < len && t[q_end] != '#')
            q_end++;
    }

    size_t need = (path_end - start) + (implicit_slash ? 1 : 0) + 1 + (q_end - q) + 1;
    char *dst = rp_buf_reserve(&p->uri, need);
    if (!dst)
        return fail(p, 414, "request line is longer than max_request_line");
    size_t o = 0;
    if (implicit_slash)
        dst[o++] = '/';
    long n = rp_query_pct_decode(t + start, path_end - start, dst + o, false);
    if (n == -EINVAL)
        return fail(p, 400, "path has a malformed percent escape");
    if (n < 0)
        return fail(p, 400, "path decodes to a NUL byte");
    o += (size_t)n;
    p->path_len = o;
    dst[o++] = '\0';
    p->query_off = o;
    p->query_len = q_end - q;
    memcpy(dst + o, t + q, p->query_len);
    o += p->query_len;
    dst[o++] = '\0';
    p->uri.len += o;
    return 0;
}

static bool
version_supported(const llhttp_t *llh)
{
    return llh->http_major == 1 && (llh->http_minor == 0 || llh->http_minor == 1);
}

static int
on_message_begin(llhttp_t *llh)
{
    parser_of(llh)->begun = true;
    return 0;
}

static int
on_method(llhttp_t *llh, const char *at, size_t len)
{
    return add_line_bytes(parser_of(llh), len);
}

static int
on_method_complete(llhttp_t *llh)
{
    return add_line_bytes(parser_of(llh), LINE_AFTER_METHOD);
}

static int
on_url(llhttp_t *llh, const char *at, size_t len)
{
    struct rp_http_parser *p = parser_of(llh);
    if (add_line_bytes(p, len) != 0)
        return -1;
    if (rp_buf_append(&p->line, at, len) != 0)
        return fail(p, 414, "request line is longer than max_request_line");
    return 0;
}

static int
on_url_complete(llhttp_t *llh)
{
    struct rp_http_parser *p = parser_of(llh);
    if (add_line_bytes(p, LINE_AFTER_TARGET) != 0)
        return -1;
    return finish_target(p);
}

static int
on_version(llhttp_t *llh, const char *at, size_t len)
{
    return add_line_bytes(parser_of(llh), len);
}

static int
on_version_complete(llhttp_t *llh)
{
    if (!version_supported(llh))
        return fail(parser_of(llh), 505, "HTTP version not supported; use HTTP/1.1");
    return 0;
}

/* Opens a header (or trailer) field: counts it against max_headers and makes room. */
static int
begin_field(struct rp_http_parser *p)
{
    if (p->n_fields >= p->limits.max_headers)
        return fail(p, 431, "more headers than max_headers");
    p->n_fields++;
    p->hdr_state = HDR_NAME;
    p->field_name_len = 0;
    if (p->headers_done)
        return 0;
    if (p->n_headers == p->hdr_alloc) {
        size_t n = p->hdr_alloc ? p->hdr_alloc * 2 : HDR_ALLOC_MIN;
        if (n > p->limits.max_headers)
            n = p->limits.max_headers;
        p->spans = rp_xrealloc(p->spans, n * sizeof(*p->spans));
        p->headers = rp_xrealloc(p->headers, n * sizeof(*p->headers));
        p->hdr_alloc = n;
    }
    p->spans[p->n_headers].name_off = p->hdr.len;
    return 0;
}

static int
store_header_bytes(struct rp_http_parser *p, const char *at, size_t len)
{
    if (add_header_bytes(p, len) != 0)
        return -1;
    if (p->headers_done)
        return 0; /* trailers are counted, not kept */
    if (rp_buf_append(&p->hdr, at, len) != 0)
        return fail(p, 431, "headers are larger than max_header_bytes");
    return 0;
}

static int
on_header_field(llhttp_t *llh, const char *at, size_t len)
{
    struct rp_http_parser *p = parser_of(llh);
    if (p->hdr_state != HDR_NAME && begin_field(p) != 0)
        return -1;
    p->field_name_len += len;
    return store_header_bytes(p, at, len);
}

static int
on_header_field_complete(llhttp_t *llh)
{
    struct rp_http_parser *p = parser_of(llh);
    if (p->hdr_state != HDR_NAME && begin_field(p) != 0)
        return -1;
    /* llhttp lets ": value" through; a field name is a token of at least one byte. */
    if (p->field_name_len == 0)
        return fail(p, 400, "header with an empty name");
    p->hdr_state = HDR_VALUE;
    if (p->headers_done)
        return 0;
    struct hdr_span *s = &p->spans[p->n_headers];
    s->name_len = p->hdr.len - s->name_off;
    /* llhttp 8 refuses "Host\t: x" but lets "Host : x" through; RFC 9112 5.1 refuses both
     * (a proxy in front may read another header than we do). */
    if (memchr(p->hdr.data + s->name_off, ' ', s->name_len) ||
        memchr(p->hdr.data + s->name_off, '\t', s->name_len))
        return fail(p, 400, "whitespace between a header name and its colon");
    if (rp_buf_append(&p->hdr, "", 1) != 0)
        return fail(p, 431, "headers are larger than max_header_bytes");
    s->value_off = p->hdr.len;
    return 0;
}

static int
on_header_value(llhttp_t *llh, const char *at, size_t len)
{
    struct rp_http_parser *p = parser_of(llh);
    if (p->hdr_state != HDR_VALUE)
        return fail(p, 400, "header value without a name");
    return store_header_bytes(p, at, len);
}

static bool
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int
on_header_value_complete(llhttp_t *llh)
{
    struct rp_http_parser *p = parser_of(llh);
    if (p->hdr_state != HDR_VALUE)
        return fail(p, 400, "header value without a name");
    p->hdr_state = HDR_NONE;
    if (p->headers_done)
        return 0;
    struct hdr_span *s = &p->spans[p->n_headers];
    size_t b = s->value_off, e = p->hdr.len;
    while (b < e && is_ows(p->hdr.data[b]))
        b++;
    while (e > b && is_ows(p->hdr.data[e - 1]))
        e--;
    s->value_off = b;
    s->value_len = e - b;
    p->hdr.len = e;
    if (rp_buf_append(&p->hdr, "", 1) != 0)
        return fail(p, 431, "headers are larger than max_header_bytes");
    p->n_headers++;
    return 0;
}

/* How many headers are named <name> (lower case). */
static size_t
count_headers(const struct rp_http_parser *p, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_headers; i++)
        n += strcasecmp(p->hdr.data + p->spans[i].name_off, name) == 0;
    return n;
}

/* True when the request has "Expect: 100-continue" (RFC 9110 10.1.1). */
static bool
expects_continue(const struct rp_http_parser *p)
{
    for (size_t i = 0; i < p->n_headers; i++) {
        const struct hdr_span *s = &p->spans[i];
        if (strcasecmp(p->hdr.data + s->name_off, "expect") == 0 && s->value_len == 12 &&
            strncasecmp(p->hdr.data + s->value_off, "100-continue", 12) == 0)
            return true;
    }
    return false;
}

/* True when every Transfer-Encoding header lists only "chunked": we decode no other coding. */
static bool
only_chunked_coding(const struct rp_http_parser *p)
{
    for (size_t i = 0; i < p->n_headers; i++) {
        const struct hdr_span *s = &p->spans[i];
        if (strcasecmp(p->hdr.data + s->name_off, "transfer-encoding") != 0)
            continue;
        const char *v = p->hdr.data + s->value_off, *end = v + s->value_len;
        while (v < end) {
            const char *comma = memchr(v, ',', (size_t)(end - v));
            const char *te = comma ? comma : end;
            while (v < te && is_ows(*v))
                v++;
            const char *e = te;
            while (e > v && is_ows(e[-1]))
                e--;
            if (e - v != 7 || strncasecmp(v, "chunked", 7) != 0)
                return false;
            v = comma ? comma + 1 : end;
        }
    }
    return true;
}

/* Pauses llhttp so that feed checks the line end just consumed, failing with <reason>. */
static int
check_line_end(struct rp_http_parser *p, bool crlf, const char *reason)
{
    p->check_reason = reason;
    p->check_crlf = crlf;
    return HPE_PAUSED;
}

static int
on_headers_complete(llhttp_t *llh)
{
    struct rp_http_parser *p = parser_of(llh);
    p->headers_done = true;
    if (!p->target_done && finish_target(p) != 0)
        return -1;
    /* A request line without a version ("GET /") reaches here as HTTP/0.9. */
    if (!version_supported(llh))
        return fail(p, 505, "HTTP version not supported; use HTTP/1.1");
    /* RFC 9112 3.2: two Host headers are refused (a proxy in front may route by the other). */
    if (count_headers(p, "host") > 1)
        return fail(p, 400, "more than one Host header");
    bool has_length = (llh->flags & F_CONTENT_LENGTH) != 0;
    bool chunked = (llh->flags & F_CHUNKED) != 0;
    /*
     * llhttp refuses a coding after chunked too, but only after this callback, where 411
     * would win; a coding before chunked ("gzip, chunked") it would let through.
     */
    if ((llh->flags & F_TRANSFER_ENCODING) && (!chunked || !only_chunked_coding(p)))
        return fail(p, 400, REASON_BAD_TE);
    if ((llh->method == HTTP_POST || llh->method == HTTP_PUT) && !has_length && !chunked)
        return fail(p, 411, "POST and PUT need a Content-Length or a chunked body");
    if (has_length && llh->content_length > p->limits.max_body)
        return fail(p, 413, "body is larger than max_body");
    if ((chunked || (has_length && llh->content_length > 0)) && expects_continue(p))
        p->expect_continue = true;
    /* RFC 9112 3.2; HTTP/1.0 had no Host. Checked last, so a framing error is named first. */
    if (llh->http_minor == 1 && count_headers(p, "host") == 0)
        return fail(p, 400, "HTTP/1.1 request without a Host header");
    return check_line_end(p, false, REASON_HEAD_END);
}

bool
rp_http_parser_take_continue(struct rp_http_parser *p)
{
    bool e = p->expect_continue && !p->complete && p->err.status == 0;
    p->expect_continue = false;
    return e;
}

/* A chunk announcing more than max_body allows is refused before its data arrives. */
static int
on_chunk_header(llhttp_t *llh)
{
    struct rp_http_parser *p = parser_of(llh);
    if (llh->content_length > p->limits.max_body - p->body.len)
        return fail(p, 413, "body is larger than max_body");
    return check_line_end(p, true, REASON_CHUNK_LINE);
}

/* After a chunk's data, or after the trailer section that follows the last chunk. */
static int
on_chunk_complete(llhttp_t *llh)
{
    bool last = (llh->flags & F_TRAILING) != 0;
    return check_line_end(parser_of(llh), true, last ? REASON_CHUNK_END : REASON_CHUNK_DATA);
}

static int
on_body(llhttp_t *llh, const char *at, size_t len)
{
    struct rp_http_parser *p = parser_of(llh);
    if (len > p->limits.max_body || p->body.len > p->limits.max_body - len)
        return fail(p, 413, "body is larger than max_body");
    if (rp_buf_append(&p->body, at, len) != 0)
        return fail(p, 413, "body is larger than max_body");
    return 0;
}

/* Pausing here is what makes feed stop after exactly one request (see feed). */
static int
on_message_complete(llhttp_t *llh)
{
    struct rp_http_parser *p = parser_of(llh);
    p->complete = true;
    p->keep_alive = llhttp_should_keep_alive(llh) != 0;
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_method = on_method,
    .on_method_complete = on_method_complete,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_version = on_version,
    .on_version_complete = on_version_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_chunk_header = on_chunk_header,
    .on_chunk_complete = on_chunk_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static enum rp_http_method
method_of(uint8_t m)
{
    switch (m) {
    case HTTP_GET:
        return RP_HTTP_METHOD_GET;
    case HTTP_HEAD:
        return RP_HTTP_METHOD_HEAD;
    case HTTP_POST:
        return RP_HTTP_METHOD_POST;
    case HTTP_PUT:
        return RP_HTTP_METHOD_PUT;
    case HTTP_DELETE:
        return RP_HTTP_METHOD_DELETE;
    case HTTP_OPTIONS:
        return RP_HTTP_METHOD_OPTIONS;
    default:
        return RP_HTTP_METHOD_OTHER;
    }
}

/* Points the public request into the buffers, which no longer grow until reset. */
static void
finish_request(struct rp_http_parser *p)
{
    struct rp_http_request *req = &p->req;
    req->method = method_of(p->llh.method);
    req->method_name = llhttp_method_name((llhttp_method_t)p->llh.method);
    req->target = p->line.data;
    req->target_len = p->line.len;
    req->path = p->uri.data;
    req->path_len = p->path_len;
    req->query = p->uri.data + p->query_off;
    req->query_len = p->query_len;
    for (size_t i = 0; i < p->n_headers; i++) {
        const struct hdr_span *s = &p->spans[i];
        p->headers[i].name = p->hdr.data + s->name_off;
        p->headers[i].name_len = s->name_len;
        p->headers[i].value = p->hdr.data + s->value_off;
        p->headers[i].value_len = s->value_len;
    }
    req->headers = p->headers;
    req->n_headers = p->n_headers;
    req->body = "";
    req->body_len = p->body.len;
    if (p->body.len > 0)
        req->body = rp_buf_cstr(&p->body);
    req->http_major = p->llh.http_major;
    req->http_minor = p->llh.http_minor;
    req->keep_alive = p->keep_alive;
}

/* Errors llhttp detects itself, in words a client developer can act on. */
static struct rp_http_error
error_from_llhttp(llhttp_errno_t e, const char *llhttp_reason)
{
    struct rp_http_error err = {400, llhttp_reason ? llhttp_reason : "malformed request"};
    switch (e) {
    case HPE_INVALID_VERSION:
    case HPE_PAUSED_H2_UPGRADE:
        err.status = 505;
        err.reason = "HTTP version not supported; use HTTP/1.1";
        break;
    case HPE_INVALID_METHOD:
        err.reason = "malformed request line: unknown method";
        break;
    case HPE_INVALID_URL:
        err.reason = "malformed request target";
        break;
    case HPE_INVALID_CONSTANT:
        err.reason = "malformed request line: expected HTTP/1.1";
        break;
    case HPE_INVALID_CONTENT_LENGTH:
        err.reason = "invalid Content-Length";
        break;
    case HPE_INVALID_CHUNK_SIZE:
        err.reason = "invalid chunk size in chunked body";
        break;
    case HPE_INVALID_TRANSFER_ENCODING:
        err.reason = REASON_BAD_TE;
        break;
    default:
        /* llhttp's own reasons are static strings, e.g. "Invalid header value char". */
        break;
    }
    return err;
}

struct rp_http_parser *
rp_http_parser_new(const struct rp_http_limits *limits)
{
    struct rp_http_parser *p = rp_xcalloc(1, sizeof(*p));
    p->limits = *limits;
    rp_buf_init(&p->line, limits->max_request_line + 1);
    rp_buf_init(&p->uri, limits->max_request_line + 2);
    rp_buf_init(&p->hdr, limits->max_header_bytes + 2 * limits->max_headers);
    rp_buf_init(&p->body, limits->max_body);
    llhttp_init(&p->llh, HTTP_REQUEST, &settings);
    p->llh.data = p;
    return p;
}

void
rp_http_parser_free(struct rp_http_parser *p)
{
    if (!p)
        return;
    rp_buf_fini(&p->line);
    rp_buf_fini(&p->uri);
    rp_buf_fini(&p->hdr);
    rp_buf_fini(&p->body);
    free(p->spans);
    free(p->headers);
    free(p);
}

/* The pending line-end check at <pos>: false (and the error recorded) when it fails. */
static bool
line_end_ok(struct rp_http_parser *p, const char *data, const char *pos)
{
    size_t off = (size_t)(pos - data);
    char last = off >= 1 ? pos[-1] : p->tail[1];
    char before = off >= 2 ? pos[-2] : off == 1 ? p->tail[1] : p->tail[0];
    const char *reason = p->check_reason;
    p->check_reason = NULL;
    if (last == '\n' && (!p->check_crlf || before == '\r'))
        return true;
    fail(p, 400, reason);
    return false;
}

/* Runs llhttp over <data>, resuming after each line-end check that passes. */
static llhttp_errno_t
execute(struct rp_http_parser *p, const char *data, size_t len)
{
    const char *at = data;
    for (;;) {
        llhttp_errno_t e = llhttp_execute(&p->llh, at, len - (size_t)(at - data));
        if (e != HPE_PAUSED || !p->check_reason)
            return e;
        const char *pos = llhttp_get_error_pos(&p->llh);
        RP_ASSERT(pos >= at && pos <= data + len);
        if (!line_end_ok(p, data, pos))
            return HPE_USER;
        llhttp_resume(&p->llh);
        at = pos;
    }
}

enum rp_parse_result
rp_http_parser_feed(struct rp_http_parser *p, const char *data, size_t len, size_t *consumed)
{
    /* A DONE request is still referenced by the caller; feeding would overwrite it. */
    RP_ASSERT(!p->complete);
    *consumed = 0;
    if (p->err.status != 0)
        return RP_PARSE_ERROR;
    if (len == 0)
        return RP_PARSE_MORE;

    llhttp_errno_t e = execute(p, data, len);
    if (e == HPE_OK) {
        *consumed = len;
        for (size_t i = len > 2 ? len - 2 : 0; i < len; i++) { /* for line_end_ok */
            p->tail[0] = p->tail[1];
            p->tail[1] = data[i];
        }
        return RP_PARSE_MORE;
    }
    const char *pos = llhttp_get_error_pos(&p->llh);
    *consumed = pos && pos >= data && pos <= data + len ? (size_t)(pos - data) : len;
    if (p->complete && (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE)) {
        /* The request is complete: an Upgrade or CONNECT is not honoured, only parsed. */
        finish_request(p);
        return RP_PARSE_DONE;
    }
    p->complete = false;
    if (p->err.status == 0)
        p->err = error_from_llhttp(e, llhttp_get_error_reason(&p->llh));
    return RP_PARSE_ERROR;
}

const struct rp_http_request *
rp_http_parser_request(const struct rp_http_parser *p)
{
    RP_ASSERT(p->complete);
    return &p->req;
}

struct rp_http_error
rp_http_parser_error(const struct rp_http_parser *p)
{
    return p->err;
}

void
rp_http_parser_reset(struct rp_http_parser *p)
{
    llhttp_reset(&p->llh);
    p->line.len = 0;
    p->uri.len = 0;
    p->hdr.len = 0;
    p->body.len = 0;
    if (p->body.alloc > BODY_KEEP_ALLOC)
        rp_buf_fini(&p->body);
    p->n_headers = 0;
    p->n_fields = 0;
    p->hdr_state = HDR_NONE;
    p->line_bytes = 0;
    p->header_bytes = 0;
    p->path_len = 0;
    p->query_off = 0;
    p->query_len = 0;
    p->begun = false;
    p->target_done = false;
    p->headers_done = false;
    p->complete = false;
    p->keep_alive = false;
    p->expect_continue = false;
    p->check_reason = NULL;
    p->err = (struct rp_http_error){0, NULL};
    memset(&p->req, 0, sizeof(p->req));
}

bool
rp_http_parser_in_request(const struct rp_http_parser *p)
{
    return p->begun && !p->complete;
}

const char *
rp_http_request_header(const struct rp_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}
