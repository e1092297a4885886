/* SPDX-License-Identifier: MIT */
#include "auth/auth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "core/pattern.h"

const char *
rp_auth_result_name(enum rp_auth_result r)
{
    static const char *const names[] = {
#define RP_AUTH_NAME(name, label) label,
        RP_AUTH_FAILURE_TABLE(RP_AUTH_NAME)
#undef RP_AUTH_NAME
    };
    return (unsigned)r < RP_AUTH__COUNT ? names[r] : "unknown";
}

static void
free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void
rp_grant_fini(struct rp_grant *g)
{
    free(g->sub);
    free_list(g->read, g->n_read);
    free_list(g->write, g->n_write);
    memset(g, 0, sizeof(*g));
}

static char **
copy_list(char *const *src, size_t n)
{
    if (!n)
        return NULL;
    char **dst = rp_xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        dst[i] = rp_xstrdup(src[i]);
    return dst;
}

void
rp_grant_copy(struct rp_grant *dst, const struct rp_grant *src)
{
    dst->sub = src->sub ? rp_xstrdup(src->sub) : NULL;
    dst->expires_ms = src->expires_ms;
    dst->read = copy_list(src->read, src->n_read);
    dst->n_read = src->n_read;
    dst->write = copy_list(src->write, src->n_write);
    dst->n_write = src->n_write;
}

static int
add_filter(char ***list, size_t *n, const char *filter, size_t len)
{
    if (rp_pattern_check(filter, len))
        return -EINVAL;
    *list = rp_xrealloc(*list, (*n + 1) * sizeof(char *));
    char *copy = rp_xmalloc(len + 1);
    memcpy(copy, filter, len);
    copy[len] = '\0';
    (*list)[(*n)++] = copy;
    return 0;
}

int
rp_grant_add_read(struct rp_grant *g, const char *filter, size_t len)
{
    return add_filter(&g->read, &g->n_read, filter, len);
}

int
rp_grant_add_write(struct rp_grant *g, const char *filter, size_t len)
{
    return add_filter(&g->write, &g->n_write, filter, len);
}

bool
rp_grant_may_read(const struct rp_grant *g, const char *filter, size_t len)
{
    for (size_t i = 0; i < g->n_read; i++)
        if (rp_pattern_covers(g->read[i], strlen(g->read[i]), filter, len))
            return true;
    return false;
}

bool
rp_grant_may_write(const struct rp_grant *g, const char *topic, size_t len)
{
    for (size_t i = 0; i < g->n_write; i++)
        if (rp_pattern_matches(g->write[i], strlen(g->write[i]), topic, len))
            return true;
    return false;
}
