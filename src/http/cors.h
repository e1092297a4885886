/* SPDX-License-Identifier: MIT */
#ifndef RP_HTTP_CORS_H
#define RP_HTTP_CORS_H
/*
 * Cross-origin access: which origins may read streams and call the API from a browser.
 * With credentials the exact Origin is echoed (never `*`), as browsers require.
 * Not responsible for authorisation. Any thread.
 */
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

struct rp_cors {
    char *const *origins; /* allowed origins, or "*" for any; borrowed */
    size_t n_origins;
    bool credentials;
};

/* True when <origin> (a request's Origin header) may read responses. */
bool rp_cors_allowed(const struct rp_cors *cors, const char *origin);
/* Appends the response headers for a request with <origin> (NULL: none; nothing is
 * added), when it is allowed. 0 or -ENOBUFS. */
int rp_cors_headers(const struct rp_cors *cors, const char *origin, struct rp_buf *out);
/* Appends the headers of a preflight answer (methods, headers, max age). */
int rp_cors_preflight_headers(const struct rp_cors *cors, const char *origin,
                              const char *request_headers, struct rp_buf *out);

#endif
