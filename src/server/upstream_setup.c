/* SPDX-License-Identifier: MIT */
#include "server/upstream_setup.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "client/upstream.h"

/* The upstream named by the text before the first <sep> of <item>, or NULL. */
static struct rp_upstream_def *
def_of(struct rp_upstream_def *defs, size_t n, const char *item, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(defs[i].name) == len && memcmp(defs[i].name, item, len) == 0)
            return &defs[i];
    return NULL;
}

static void
push(const char ***v, size_t *n, const char *s)
{
    *v = rp_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = s;
}

/* Names of the per-upstream lists, for their messages. */
static int
flag_list(const struct rp_config_list *l, const char *key, struct rp_upstream_def *defs, size_t n,
          size_t field, struct rp_diag *diag)
{
    for (size_t i = 0; i < l->n; i++) {
        struct rp_upstream_def *d = def_of(defs, n, l->items[i], strlen(l->items[i]));
        if (!d) {
            rp_diag_set(diag, "%s: '%s' is not an upstream of `upstreams`", key, l->items[i]);
            return -EINVAL;
        }
        *(bool *)((char *)d + field) = true;
    }
    return 0;
}

int
rp_upstream_setup(const struct rp_config_values *v, struct rp_hub *hub, unsigned n_workers,
                  struct rp_upstream_pool **out, struct rp_diag *diag)
{
    *out = NULL;
    size_t n = v->upstreams.n;
    if (n == 0)
        return 0;
    int err = -EINVAL;
    struct rp_upstream_def *defs = rp_xcalloc(n, sizeof(*defs));
    char **names = rp_xcalloc(n, sizeof(char *));
    const char ***headers = rp_xcalloc(n, sizeof(*headers));
    const char ***always = rp_xcalloc(n, sizeof(*always));
    for (size_t i = 0; i < n; i++) {
        const char *item = v->upstreams.items[i];
        const char *eq = strchr(item, '=');
        if (!eq || eq == item) {
            rp_diag_set(diag, "upstreams: '%s' is not name=URL", item);
            goto out;
        }
        names[i] = rp_xstrndup(item, (size_t)(eq - item));
        defs[i].name = names[i];
        defs[i].base_url = eq + 1;
    }
    for (size_t i = 0; i < v->upstream_headers.n; i++) {
        const char *item = v->upstream_headers.items[i];
        const char *eq = strchr(item, '=');
        struct rp_upstream_def *d = eq ? def_of(defs, n, item, (size_t)(eq - item)) : NULL;
        if (!d) {
            rp_diag_set(diag,
                        "upstream_headers: '%s' is not name=Header: value for an upstream of "
                        "`upstreams`",
                        item);
            goto out;
        }
        push(&headers[d - defs], &d->n_headers, eq + 1);
        d->headers = headers[d - defs];
    }
    for (size_t i = 0; i < v->upstream_always.n; i++) {
        const char *item = v->upstream_always.items[i];
        const char *slash = strchr(item, '/');
        size_t len = slash ? (size_t)(slash - item) : strlen(item);
        struct rp_upstream_def *d = def_of(defs, n, item, len);
        if (!d) {
            rp_diag_set(diag, "upstream_always: '%s' does not start with an upstream's name", item);
            goto out;
        }
        push(&always[d - defs], &d->n_always, slash ? slash + 1 : "");
        d->always = always[d - defs];
    }
    if (flag_list(&v->upstream_by_type, "upstream_by_type", defs, n,
                  offsetof(struct rp_upstream_def, by_type), diag) ||
        flag_list(&v->upstream_forward_auth, "upstream_forward_auth", defs, n,
                  offsetof(struct rp_upstream_def, forward_auth), diag))
        goto out;
    struct rp_upstream_config uc = {
        .defs = defs,
        .n_defs = n,
        .idle_ms = v->upstream_idle,
        .retry_min_ms = v->upstream_retry_min,
        .retry_max_ms = v->upstream_retry_max,
        .connect_timeout_ms = v->upstream_connect_timeout,
        .read_timeout_ms = v->upstream_read_timeout,
        .max_line = (size_t)v->upstream_max_line,
        .max_event = (size_t)v->max_data,
        .max_upstreams = (size_t)v->upstream_max,
    };
    char why[160] = "";
    *out = rp_upstream_pool_new(&uc, hub, n_workers, why);
    if (!*out) {
        rp_diag_set(diag, "%s", why);
        goto out;
    }
    err = 0;
out:
    for (size_t i = 0; i < n; i++) {
        free(headers[i]);
        free(always[i]);
        free(names[i]);
    }
    free(headers);
    free(always);
    free(defs);
    free(names);
    return err;
}
