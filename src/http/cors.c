/* SPDX-License-Identifier: MIT */
#include "http/cors.h"

#include <string.h>

bool
rp_cors_allowed(const struct rp_cors *cors, const char *origin)
{
    if (!origin)
        return false;
    for (size_t i = 0; i < cors->n_origins; i++)
        if (strcmp(cors->origins[i], "*") == 0 || strcmp(cors->origins[i], origin) == 0)
            return true;
    return false;
}

int
rp_cors_headers(const struct rp_cors *cors, const char *origin, struct rp_buf *out)
{
    if (!rp_cors_allowed(cors, origin))
        return 0;
    bool any = false;
    for (size_t i = 0; i < cors->n_origins; i++)
        any |= strcmp(cors->origins[i], "*") == 0;
    int err;
    if (any && !cors->credentials)
        err = rp_buf_append_str(out, "Access-Control-Allow-Origin: *\r\n");
    else
        err = rp_buf_printf(out, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", origin);
    if (!err && cors->credentials)
        err = rp_buf_append_str(out, "Access-Control-Allow-Credentials: true\r\n");
    return err;
}

/* A header list is echoed only if it is plain tokens, commas and spaces. */
static bool
token_list(const char *s)
{
    for (; *s; s++)
        if (!(*s == ',' || *s == ' ' || *s == '-' || *s == '_' || (*s >= '0' && *s <= '9') ||
              (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return false;
    return true;
}

int
rp_cors_preflight_headers(const struct rp_cors *cors, const char *origin,
                          const char *request_headers, struct rp_buf *out)
{
    int err = rp_cors_headers(cors, origin, out);
    if (err || !rp_cors_allowed(cors, origin))
        return err;
    const char *hdrs = "Last-Event-ID, Content-Type, Authorization, Cache-Control";
    if (request_headers && *request_headers && strlen(request_headers) < 512 &&
        token_list(request_headers))
        hdrs = request_headers;
    return rp_buf_printf(out,
                         "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
                         "Access-Control-Allow-Headers: %s\r\n"
                         "Access-Control-Max-Age: 600\r\n",
                         hdrs);
}
