/* SPDX-License-Identifier: MIT */
#include "cli/cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/alloc.h"
#include "config/config.h"

extern char **environ;

#define CONNECT_TIMEOUT_MS 10000L
#define REQUEST_TIMEOUT_MS 60000L /* plus block_timeout */

void
rp_cmd_errorf(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "revenprox %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- options ---- */

static const struct rp_cmd_opt *
find_opt(const struct rp_cmd_opt *opts, const char *name, size_t len)
{
    for (const struct rp_cmd_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static void
list_push(struct rp_cmd_list *l, const char *s)
{
    l->items = rp_xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
    l->items[l->n++] = s;
}

static bool
is_long_flag(const char *s)
{
    return s[0] == '-' && s[1] == '-' && s[2] != '\0';
}

int
rp_cmd_args_parse(struct rp_cmd_args *a, const char *cmd, int argc, char **argv,
                  const struct rp_cmd_opt *opts)
{
    memset(a, 0, sizeof(*a));
    a->cmd = cmd;
    a->operands = rp_xcalloc((size_t)argc + 1, sizeof(*a->operands));
    a->settings = rp_xcalloc((size_t)argc + 1, sizeof(*a->settings));
    bool options_done = false;

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
            a->operands[a->n_operands++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            a->help = true;
            continue;
        }
        if (!is_long_flag(arg)) {
            rp_cmd_errorf(
                cmd, "unknown option %s (options are spelled --name; see `revenprox %s --help`)",
                arg, cmd);
            return -EINVAL;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        bool has_next = i + 1 < argc && !is_long_flag(argv[i + 1]);
        if (name_len == 6 && memcmp(name, "config", 6) == 0) {
            if (!eq && !has_next) {
                rp_cmd_errorf(cmd, "--config needs a FILE");
                return -EINVAL;
            }
            a->config_file = eq ? eq + 1 : argv[++i];
            continue;
        }
        const struct rp_cmd_opt *o = find_opt(opts, name, name_len);
        if (!o) {
            /* A setting (--listen ADDR, --auth-jwt-secret S, ...): rp_config_load judges it. */
            a->settings[a->n_settings++] = argv[i];
            if (!eq && has_next)
                a->settings[a->n_settings++] = argv[++i];
            continue;
        }
        if (o->kind == RP_CMD_OPT_SWITCH) {
            if (eq) {
                rp_cmd_errorf(cmd, "--%s takes no value", o->name);
                return -EINVAL;
            }
            *(bool *)o->dest = true;
            continue;
        }
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (has_next) {
            value = argv[++i];
        } else {
            rp_cmd_errorf(cmd,
                          "--%s needs a value (write --%s=VALUE for a value that starts with --)",
                          o->name, o->name);
            return -EINVAL;
        }
        if (o->kind == RP_CMD_OPT_VALUE)
            *(const char **)o->dest = value;
        else
            list_push(o->dest, value);
    }
    return 0;
}

void
rp_cmd_args_fini(struct rp_cmd_args *a)
{
    RP_FREE(a->operands);
    RP_FREE(a->settings);
    a->n_operands = 0;
    a->n_settings = 0;
}

void
rp_cmd_list_fini(struct rp_cmd_list *l)
{
    RP_FREE(l->items);
    l->n = 0;
}

int
rp_cmd_load_config(const struct rp_cmd_args *a, struct rp_config **out)
{
    struct rp_diag diag = {{0}};
    const char *file = a->config_file ? a->config_file : rp_config_path_arg(0, NULL);
    if (rp_config_load(file, environ, a->n_settings, a->settings, out, &diag) != 0) {
        rp_cmd_errorf(a->cmd, "%s", diag.msg);
        fprintf(stderr,
                "  (`revenprox %s --help` lists the command's options; settings such as "
                "--listen are taken as `serve` takes them)\n",
                a->cmd);
        return -EINVAL;
    }
    return 0;
}

/* ---- the server's URL ---- */

/* http://<listen>, with a wildcard host replaced by loopback: where a local server is. */
static char *
url_from_listen(const char *listen)
{
    const char *colon = strrchr(listen, ':');
    const char *port = colon ? colon + 1 : "8080";
    size_t host_len = colon ? (size_t)(colon - listen) : strlen(listen);
    char host[300];
    if (host_len >= sizeof(host))
        host_len = sizeof(host) - 1;
    memcpy(host, listen, host_len);
    host[host_len] = '\0';
    if (host[0] == '\0' || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    else if (strcmp(host, "[::]") == 0)
        snprintf(host, sizeof(host), "[::1]");
    size_t n = strlen(host) + strlen(port) + 16;
    char *url = rp_xmalloc(n);
    snprintf(url, n, "http://%s:%s", host, port);
    return url;
}

int
rp_cmd_client_init(struct rp_cmd_client *cl, const char *cmd, const char *url, const char *token,
                   const struct rp_config *cfg)
{
    memset(cl, 0, sizeof(*cl));
    cl->cmd = cmd;
    cl->token = token && *token ? token : NULL;
    cl->timeout_ms = REQUEST_TIMEOUT_MS + (long)cfg->v.block_timeout;
    if (!url) {
        cl->base = url_from_listen(cfg->v.listen);
        return 0;
    }
    const char *scheme_end = strstr(url, "://");
    if (scheme_end && strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
        rp_cmd_errorf(cmd, "--url %s: only http:// and https:// URLs are supported", url);
        return -EINVAL;
    }
    size_t n = strlen(url) + 8;
    cl->base = rp_xmalloc(n);
    snprintf(cl->base, n, "%s%s", scheme_end ? "" : "http://", url);
    size_t len = strlen(cl->base);
    while (len > 0 && cl->base[len - 1] == '/')
        cl->base[--len] = '\0';
    return 0;
}

void
rp_cmd_client_fini(struct rp_cmd_client *cl)
{
    RP_FREE(cl->base);
}

int
rp_cmd_url_escape(struct rp_buf *b, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
                     (keep && strchr(keep, *p));
        char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        int err = plain ? rp_buf_append(b, p, 1) : rp_buf_append(b, esc, 3);
        if (err)
            return err;
    }
    return 0;
}

CURL *
rp_cmd_client_handle(const struct rp_cmd_client *cl, const char *url, struct curl_slist **headers)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "revenprox/" RP_VERSION);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    /* A dead peer on a quiet stream is found by keep-alive probes (about a minute). */
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 10L);
    if (cl->token) {
        size_t n = strlen(cl->token) + 32;
        char *auth = rp_xmalloc(n);
        snprintf(auth, n, "Authorization: Bearer %s", cl->token);
        *headers = curl_slist_append(*headers, auth);
        free(auth);
    }
    /* No "Expect: 100-continue" round trip before a large body. */
    *headers = curl_slist_append(*headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *headers);
    return h;
}

/* ---- one request ---- */

static size_t
collect_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct rp_cmd_response *resp = userdata;
    size_t n = size * nmemb;
    return rp_buf_append(&resp->body, ptr, n) == 0 ? n : 0; /* 0 aborts: over the cap */
}

static size_t
collect_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct rp_cmd_response *resp = userdata;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof(name) - 1 && strncasecmp(ptr, name, sizeof(name) - 1) == 0) {
        const char *v = ptr + sizeof(name) - 1;
        size_t len = n - (sizeof(name) - 1);
        while (len && (*v == ' ' || *v == '\t')) {
            v++;
            len--;
        }
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        if (len >= sizeof(resp->retry_after))
            len = sizeof(resp->retry_after) - 1;
        memcpy(resp->retry_after, v, len);
        resp->retry_after[len] = '\0';
    }
    return n;
}

int
rp_cmd_request(const struct rp_cmd_client *cl, const char *method, const char *path,
               const char *body, size_t body_len, const char *content_type, size_t cap,
               struct rp_cmd_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    rp_buf_init(&resp->body, cap);
    size_t url_len = strlen(cl->base) + strlen(path) + 1;
    char *url = rp_xmalloc(url_len);
    snprintf(url, url_len, "%s%s", cl->base, path);
    struct curl_slist *headers = NULL;
    if (content_type) {
        char ct[160];
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        headers = curl_slist_append(headers, ct);
    }
    CURL *h = rp_cmd_client_handle(cl, url, &headers);
    if (!h) {
        rp_cmd_errorf(cl->cmd, "cannot set up an HTTP request (out of memory?)");
        curl_slist_free_all(headers);
        free(url);
        return RP_CMD_EXIT_CONNECT;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, cl->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(h);
    int exit_code = RP_CMD_EXIT_OK;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    if (rc == CURLE_WRITE_ERROR && resp->status) {
        rp_cmd_errorf(cl->cmd, "the answer from %s is larger than %zu bytes; giving up", url, cap);
        exit_code = RP_CMD_EXIT_REFUSED;
    } else if (rc != CURLE_OK) {
        exit_code = rp_cmd_transfer_failed(cl, rc, errbuf);
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    free(url);
    return exit_code;
}

int
rp_cmd_transfer_failed(const struct rp_cmd_client *cl, CURLcode rc, const char *errbuf)
{
    const char *detail = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
        rp_cmd_errorf(cl->cmd, "bad server URL %s: %s (give --url http://HOST:PORT)", cl->base,
                      detail);
        return RP_CMD_EXIT_USAGE;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        rp_cmd_errorf(cl->cmd, "no answer from the server at %s in time: %s", cl->base, detail);
        fprintf(stderr, "  Is it overloaded or stopped? Check `revenprox topics` or its "
                        "/healthz.\n");
        return RP_CMD_EXIT_CONNECT;
    }
    rp_cmd_errorf(cl->cmd, "cannot reach the server at %s: %s", cl->base, detail);
    fprintf(stderr, "  Is it running? Start it with `revenprox serve`, or point --url at it "
                    "(the default comes from the `listen` setting).\n");
    return RP_CMD_EXIT_CONNECT;
}

/* The "error" string of a JSON answer, copied into <out>; false when there is none. */
static bool
json_error_message(const char *body, size_t len, char *out, size_t cap)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    const char *msg = root ? json_string_value(json_object_get(root, "error")) : NULL;
    if (msg)
        snprintf(out, cap, "%s", msg);
    json_decref(root);
    return msg != NULL;
}

int
rp_cmd_refused(const struct rp_cmd_client *cl, long status, const char *body, size_t len,
               const char *retry_after)
{
    char msg[1024];
    if (!json_error_message(body, len, msg, sizeof(msg))) {
        /* Not RevenProx's JSON (a proxy in between?): show the start of what came. */
        size_t n = len < 200 ? len : 200;
        size_t o = 0;
        for (size_t i = 0; i < n && o + 1 < sizeof(msg); i++)
            msg[o++] = (body[i] == '\n' || body[i] == '\r') ? ' ' : body[i];
        msg[o] = '\0';
        if (o == 0)
            snprintf(msg, sizeof(msg), "(no message)");
    }
    rp_cmd_errorf(cl->cmd, "the server refused (HTTP %ld): %s", status, msg);
    if (status == 401)
        fprintf(stderr, "  %s\n",
                cl->token ? "The token was not accepted: mint a new one with `revenprox token` "
                            "using the server's key and audience."
                          : "The server requires a token: give --token TOKEN (mint one with "
                            "`revenprox token`).");
    else if (status == 403)
        fprintf(stderr, "  The token does not cover this topic: mint one with a matching "
                        "--read or --write filter.\n");
    else if (status == 429 || status == 503)
        fprintf(stderr, "  The server is busy or limiting this client: retry %s%s%s.\n",
                *retry_after ? "after " : "later", retry_after, *retry_after ? " seconds" : "");
    return RP_CMD_EXIT_REFUSED;
}
