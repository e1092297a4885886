/* SPDX-License-Identifier: MIT */
/* Mercure's publish form: a query string in the body, checked field by field. */
#include "http/publish_form.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"

static int
refuse(struct rp_publish_form_error *err, int status, int rc, const char *message)
{
    err->status = status;
    snprintf(err->message, sizeof(err->message), "%s", message);
    return rc;
}

/* Sets a single-valued field; a second occurrence is refused rather than guessed at. */
static bool
set_once(const char **field, size_t *field_len, const struct rp_query_param *p)
{
    if (*field)
        return false;
    *field = p->value;
    *field_len = p->value_len;
    return true;
}

static bool
parse_retry(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 12)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int
rp_publish_form_parse(const char *body, size_t len, size_t max_topics, struct rp_publish_form *out,
                      struct rp_publish_form_error *err)
{
    memset(out, 0, sizeof(*out));
    out->retry_ms = -1;
    /* A form is a query string: the same decoder, with the body as its only cap. */
    const struct rp_query_limits limits = {
        .max_bytes = len,
        .max_params = max_topics + 16,
        .max_name = 64,
        .max_value = len,
    };
    struct rp_query_error qerr;
    int rc = rp_query_parse(&out->form, body ? body : "", len, &limits, &qerr);
    if (rc == -E2BIG)
        return refuse(err, 413, -E2BIG, "too many fields in the form");
    if (rc) {
        err->status = 400;
        snprintf(err->message, sizeof(err->message), "malformed form: %.180s", qerr.message);
        return -EINVAL;
    }
    size_t n = rp_query_count(&out->form, "topic");
    if (n == 0)
        return refuse(err, 400, -EINVAL, "missing \"topic\": an update needs at least one topic");
    if (n > max_topics) {
        err->status = 413;
        snprintf(err->message, sizeof(err->message),
                 "an update may have at most %zu topics (max_stream_topics)", max_topics);
        return -E2BIG;
    }
    out->topics = rp_xcalloc(n, sizeof(*out->topics));
    out->topic_lens = rp_xcalloc(n, sizeof(*out->topic_lens));
    const char *retry = NULL, *priv = NULL, *data = NULL;
    size_t retry_len = 0, priv_len = 0, data_len = 0;
    for (size_t i = 0; i < out->form.n_params; i++) {
        const struct rp_query_param *p = &out->form.params[i];
        bool ok = true;
        if (strcmp(p->name, "topic") == 0) {
            if (p->value_len == 0)
                return refuse(err, 400, -EINVAL, "a \"topic\" field is empty");
            out->topics[out->n_topics] = p->value;
            out->topic_lens[out->n_topics++] = p->value_len;
        } else if (strcmp(p->name, "data") == 0) {
            ok = set_once(&data, &data_len, p);
        } else if (strcmp(p->name, "private") == 0) {
            ok = set_once(&priv, &priv_len, p);
        } else if (strcmp(p->name, "id") == 0) {
            ok = set_once(&out->id, &out->id_len, p);
        } else if (strcmp(p->name, "type") == 0) {
            ok = set_once(&out->type, &out->type_len, p);
        } else if (strcmp(p->name, "retry") == 0) {
            ok = set_once(&retry, &retry_len, p);
        }
        if (!ok) {
            err->status = 400;
            snprintf(err->message, sizeof(err->message), "the field \"%s\" is given twice",
                     p->name);
            return -EINVAL;
        }
    }
    out->data = data ? data : "";
    out->data_len = data_len;
    out->is_private = priv != NULL;
    if (out->id && out->id_len && out->id[0] == '#')
        return refuse(err, 400, -EINVAL, "an \"id\" must not start with '#'");
    if (out->id && strpbrk(out->id, "\r\n"))
        return refuse(err, 400, -EINVAL, "an \"id\" must not contain a line break");
    if (out->type && strpbrk(out->type, "\r\n"))
        return refuse(err, 400, -EINVAL, "a \"type\" must not contain a line break");
    if (out->id && out->id_len == 0)
        out->id = NULL; /* an empty id asks for nothing: the hub's id is used */
    if (out->type && out->type_len == 0)
        out->type = NULL;
    if (retry && !parse_retry(retry, retry_len, &out->retry_ms))
        return refuse(err, 400, -EINVAL, "\"retry\" must be a non-negative integer (milliseconds)");
    return 0;
}

void
rp_publish_form_fini(struct rp_publish_form *f)
{
    free(f->topics);
    free(f->topic_lens);
    rp_query_fini(&f->form);
    memset(f, 0, sizeof(*f));
}

bool
rp_publish_form_content_type(const char *ct)
{
    if (!ct)
        return false;
    static const char want[] = "application/x-www-form-urlencoded";
    size_t len = strcspn(ct, ";");
    while (len && (ct[len - 1] == ' ' || ct[len - 1] == '\t'))
        len--;
    return len == sizeof(want) - 1 && strncasecmp(ct, want, len) == 0;
}
