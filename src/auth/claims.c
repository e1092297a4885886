/* SPDX-License-Identifier: MIT */
/* Mercure's `mercure` claim, read once per request from the verified claims. */
#include "auth/claims.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "core/uri_template.h"
#include "core/url_pattern.h"

static void
free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static bool
copy_list(const json_t *v, char ***out, size_t *n_out)
{
    if (!json_is_array(v) || json_array_size(v) > RP_CLAIMS_MAX_SELECTORS)
        return false;
    size_t n = json_array_size(v);
    char **list = rp_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(v, i);
        if (!json_is_string(s)) {
            free_list(list, i);
            return false;
        }
        list[i] = rp_xstrndup(json_string_value(s), json_string_length(s));
    }
    *out = list;
    *n_out = n;
    return true;
}

static void
push(char ***list, size_t *n, const char *s, size_t len)
{
    *list = rp_xrealloc(*list, (*n + 1) * sizeof(char *));
    (*list)[(*n)++] = rp_xstrndup(s, len);
}

/*
 * Protocol 1.0's `authorization_details` (RFC 9396): each `mercure` entry grants its
 * `actions` (publish, subscribe) on its `topics` (matcher objects: `match`, optional
 * `matchType` Exact or URLPattern; a URL pattern is kept behind RP_CLAIMS_URL_PATTERN_MARK).
 * Any malformed entry
 * refuses the whole token, as the protocol asks.
 */
static bool
read_details(const json_t *details, struct rp_claims_mercure *out)
{
    if (!json_is_array(details))
        return false;
    size_t i;
    const json_t *d;
    json_array_foreach (details, i, d) {
        if (!json_is_object(d))
            return false;
        const char *type = json_string_value(json_object_get(d, "type"));
        if (!type)
            return false;
        if (strcmp(type, "mercure") != 0)
            continue; /* another API's detail */
        const json_t *actions = json_object_get(d, "actions");
        const json_t *topics = json_object_get(d, "topics");
        if (!json_is_array(actions) || !json_array_size(actions) || !json_is_array(topics) ||
            !json_array_size(topics) || json_array_size(topics) > RP_CLAIMS_MAX_SELECTORS)
            return false;
        bool pub = false, sub = false;
        size_t k;
        const json_t *a;
        json_array_foreach (actions, k, a) {
            const char *v = json_string_value(a);
            if (v && strcmp(v, "publish") == 0)
                pub = true;
            else if (v && strcmp(v, "subscribe") == 0)
                sub = true;
            else
                return false;
        }
        const json_t *t;
        json_array_foreach (topics, k, t) {
            const json_t *match = json_object_get(t, "match");
            const json_t *mt = json_object_get(t, "matchType");
            if (!json_is_object(t) || !json_is_string(match) || (mt && !json_is_string(mt)))
                return false;
            const char *kind = mt ? json_string_value(mt) : "Exact";
            const char *v = json_string_value(match);
            size_t len = json_string_length(match);
            if (strcmp(kind, "Exact") != 0 && strcmp(kind, "URLPattern") != 0)
                return false;
            if (strcmp(kind, "URLPattern") == 0 && strcmp(v, "*") != 0) {
                /* Kept behind its mark; one this hub cannot compile (a regular-expression
                 * group) grants nothing, as an invalid URI template does. */
                char *marked = rp_xmalloc(len + 1);
                marked[0] = RP_CLAIMS_URL_PATTERN_MARK;
                memcpy(marked + 1, v, len);
                if (pub)
                    push(&out->publish, &out->n_publish, marked, len + 1);
                if (sub)
                    push(&out->subscribe, &out->n_subscribe, marked, len + 1);
                free(marked);
                continue;
            }
            if (pub)
                push(&out->publish, &out->n_publish, v, len);
            if (sub)
                push(&out->subscribe, &out->n_subscribe, v, len);
        }
        out->has_publish |= pub;
        out->has_subscribe |= sub;
        if (out->n_publish + out->n_subscribe > 2 * RP_CLAIMS_MAX_SELECTORS)
            return false;
    }
    return true;
}

enum rp_auth_result
rp_claims_mercure_read(const struct json_t *claims, struct rp_claims_mercure *out)
{
    memset(out, 0, sizeof(*out));
    const json_t *details = json_object_get(claims, "authorization_details");
    if (details && !read_details(details, out)) {
        rp_claims_mercure_fini(out);
        return RP_AUTH_MALFORMED;
    }
    const json_t *m = json_object_get(claims, "mercure");
    if (!m)
        return RP_AUTH_OK;
    if (!json_is_object(m))
        return RP_AUTH_MALFORMED;
    const json_t *payload = json_object_get(m, "payload");
    if (payload && !json_is_null(payload))
        out->payload = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
    const json_t *pub = json_object_get(m, "publish");
    const json_t *sub = json_object_get(m, "subscribe");
    /* A null list is what a PHP array left unset encodes to: the same as absent. */
    char **list = NULL;
    size_t n = 0;
    if (pub && !json_is_null(pub)) {
        if (!copy_list(pub, &list, &n))
            goto malformed;
        for (size_t i = 0; i < n; i++)
            push(&out->publish, &out->n_publish, list[i], strlen(list[i]));
        free_list(list, n);
        out->has_publish = true;
    }
    if (sub && !json_is_null(sub)) {
        if (!copy_list(sub, &list, &n))
            goto malformed;
        for (size_t i = 0; i < n; i++)
            push(&out->subscribe, &out->n_subscribe, list[i], strlen(list[i]));
        free_list(list, n);
        out->has_subscribe = true;
    }
    return RP_AUTH_OK;
malformed:
    rp_claims_mercure_fini(out);
    return RP_AUTH_MALFORMED;
}

void
rp_claims_mercure_fini(struct rp_claims_mercure *m)
{
    free_list(m->publish, m->n_publish);
    free_list(m->subscribe, m->n_subscribe);
    free(m->payload);
    memset(m, 0, sizeof(*m));
}

bool
rp_claims_selectors_match(char *const *selectors, size_t n, const char *topic, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        const char *s = selectors[i];
        if (strcmp(s, "*") == 0)
            return true;
        size_t slen = strlen(s);
        if (s[0] == RP_CLAIMS_URL_PATTERN_MARK) {
            struct rp_url_pattern *p = NULL;
            const char *why;
            if (rp_url_pattern_compile(s + 1, slen - 1, &p, &why) == 0) {
                bool m = rp_url_pattern_matches(p, topic, len);
                rp_url_pattern_free(p);
                if (m)
                    return true;
            }
            continue;
        }
        if (slen == len && memcmp(s, topic, len) == 0)
            return true; /* an exact IRI, or a template equal to the topic, as Mercure has it */
        if (!rp_uri_template_is_template(s, slen))
            continue;
        struct rp_uri_template *t = NULL;
        const char *why;
        /* An invalid template grants nothing (it was the token issuer's to get right). */
        if (rp_uri_template_compile(s, slen, &t, &why) == 0) {
            bool m = rp_uri_template_matches(t, topic, len);
            rp_uri_template_free(t);
            if (m)
                return true;
        }
    }
    return false;
}

bool
rp_claims_selectors_all(char *const *selectors, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(selectors[i], "*") == 0)
            return true;
    return false;
}
