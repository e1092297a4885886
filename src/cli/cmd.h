/* SPDX-License-Identifier: MIT */
#ifndef RP_CLI_CMD_H
#define RP_CLI_CMD_H
/*
 * The command-line tools: `revenprox pub`, `sub` and `topics` talk to a running server over
 * HTTP (libcurl's easy interface: a blocking CLI needs no event loop); `token` mints a JWT
 * from the loaded configuration. This header is their shared face: the entry points
 * (cmd_pub.c, cmd_sub.c, cmd_topics.c, cmd_token.c) and the helpers of cmd.c (option
 * scanning, config loading, the server's URL, one request, error reporting, exit codes).
 * Not responsible for the server. Single-threaded: only main's thread calls these.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <curl/curl.h>

#include "base/buf.h"

struct rp_config;

#define RP_VERSION "0.1.0"

/* What every command returns to the shell (docs/cli.md). */
enum rp_cmd_exit {
    RP_CMD_EXIT_OK = 0,
    RP_CMD_EXIT_REFUSED = 1, /* the server refused (its message and status are printed) */
    RP_CMD_EXIT_USAGE = 2,   /* bad arguments, options, config or key files */
    RP_CMD_EXIT_CONNECT = 3, /* the server could not be reached */
};

/*
 * The commands. Each takes the arguments after its name (<argv>[0] is the first option or
 * operand), prints its result on stdout and its problems on stderr, and returns an
 * enum rp_cmd_exit value.
 */
int rp_cmd_pub_main(int argc, char **argv);
int rp_cmd_sub_main(int argc, char **argv);
int rp_cmd_topics_main(int argc, char **argv);
int rp_cmd_token_main(int argc, char **argv);
int rp_cmd_upgrade_main(int argc, char **argv);

/* ---- option scanning ---- */

enum rp_cmd_opt_kind {
    RP_CMD_OPT_SWITCH = 0, /* --name; dest is a bool * */
    RP_CMD_OPT_VALUE,      /* --name VALUE or --name=VALUE; dest is a const char ** (last wins) */
    RP_CMD_OPT_LIST,       /* repeatable --name VALUE; dest is a struct rp_cmd_list * */
};

/* The values of a repeatable option, in order; the strings are borrowed from argv. */
struct rp_cmd_list {
    const char **items; /* owned: free with rp_cmd_list_fini */
    size_t n;
};

struct rp_cmd_opt {
    const char *name; /* without the leading "--"; NULL ends a table */
    enum rp_cmd_opt_kind kind;
    void *dest;
};

/* What rp_cmd_args_parse found besides the command's own options. */
struct rp_cmd_args {
    const char *cmd;       /* "pub", used in messages */
    const char **operands; /* owned array of borrowed strings, in order */
    size_t n_operands;
    char **settings; /* owned array: the --SETTING [VALUE] flags, for rp_config_load */
    int n_settings;
    const char *config_file; /* --config FILE, or NULL */
    bool help;               /* -h or --help was given */
};

/*
 * Scans <argv>[0..<argc>) of command <cmd> against <opts> (terminated by a NULL name).
 * `--config FILE`, `-h`/`--help` and `--` (end of options) are built in; `-` is an operand;
 * any other `--name[=value]` is kept as a configuration flag (with the next argument as its
 * value unless that starts with `--`), checked later by rp_cmd_load_config. Returns 0, or
 * -EINVAL after printing what is wrong on stderr. Fini <a> and the lists either way.
 */
int rp_cmd_args_parse(struct rp_cmd_args *a, const char *cmd, int argc, char **argv,
                      const struct rp_cmd_opt *opts);
void rp_cmd_args_fini(struct rp_cmd_args *a);
void rp_cmd_list_fini(struct rp_cmd_list *l);

/*
 * Loads the configuration as `serve` does (defaults < --config file < REVENPROX_*
 * environment < flags) into *<out> (free with rp_config_free). 0, or -EINVAL after printing
 * the problem on stderr.
 */
int rp_cmd_load_config(const struct rp_cmd_args *a, struct rp_config **out);

/* Prints "revenprox <cmd>: <message>" and a newline on stderr. */
void rp_cmd_errorf(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- talking to the server ---- */

struct rp_cmd_client {
    const char *cmd;   /* borrowed, for messages */
    char *base;        /* the server's URL without a trailing '/'; owned */
    const char *token; /* borrowed; NULL: no Authorization header */
    long timeout_ms;   /* longest wait for a whole answer (not for streams) */
};

/*
 * Sets up <cl> for command <cmd>: the base URL is <url> (http:// is added when it names
 * no scheme) or, when NULL, http://<the `listen` setting of <cfg>> (a wildcard host becomes
 * loopback). <token> (may be NULL) is sent as a bearer token. Answers are awaited a minute
 * plus <cfg>'s block_timeout (a blocked publish waits that long). 0, or -EINVAL after printing
 * the problem (an unsupported scheme) on stderr. Fini <cl> either way.
 */
int rp_cmd_client_init(struct rp_cmd_client *cl, const char *cmd, const char *url,
                       const char *token, const struct rp_config *cfg);
void rp_cmd_client_fini(struct rp_cmd_client *cl);

/* Appends <s> percent-encoded to <b>, keeping unreserved characters and those in <keep>. */
int rp_cmd_url_escape(struct rp_buf *b, const char *s, const char *keep);

/*
 * A curl easy handle for <url> with the client's common options (user agent, bearer token,
 * connect timeout, keep-alive probes, no redirects, http/https only). The header list in
 * *<headers> (NULL or a list to extend) is installed; the caller frees both. NULL if curl
 * cannot allocate one.
 */
CURL *rp_cmd_client_handle(const struct rp_cmd_client *cl, const char *url,
                           struct curl_slist **headers);

/* The answer to one request. */
struct rp_cmd_response {
    long status;          /* the HTTP status */
    struct rp_buf body;   /* capped at the cap given to rp_cmd_request */
    char retry_after[32]; /* the Retry-After header, or "" */
};

/*
 * Sends <method> <path> (path and query, starting with '/') with the <body_len> bytes at
 * <body> (NULL for none) as <content_type>, and fills <resp> (which it inits; the caller
 * finis resp->body) with at most <cap> bytes of answer. Returns RP_CMD_EXIT_OK when an
 * answer of any status arrived; otherwise prints why on stderr (what to do included) and
 * returns RP_CMD_EXIT_CONNECT, or RP_CMD_EXIT_USAGE for a malformed URL.
 */
int rp_cmd_request(const struct rp_cmd_client *cl, const char *method, const char *path,
                   const char *body, size_t body_len, const char *content_type, size_t cap,
                   struct rp_cmd_response *resp);

/*
 * Reports a refusal: the status, the server's own message (the "error" of its JSON answer,
 * else the start of the body) and a hint for 401, 403, 429 and 503 on stderr.
 * Returns RP_CMD_EXIT_REFUSED.
 */
int rp_cmd_refused(const struct rp_cmd_client *cl, long status, const char *body, size_t len,
                   const char *retry_after);

/*
 * Reports a transfer that failed with <rc> (<errbuf>: curl's detail, may be "") before an
 * answer arrived, and returns the exit code: RP_CMD_EXIT_USAGE for a malformed URL,
 * otherwise RP_CMD_EXIT_CONNECT.
 */
int rp_cmd_transfer_failed(const struct rp_cmd_client *cl, CURLcode rc, const char *errbuf);

#endif
