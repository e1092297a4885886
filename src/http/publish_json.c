/* SPDX-License-Identifier: MIT */
#include "http/publish_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

static int fail(struct rp_publish_json_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct rp_publish_json_error *err, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->status = status;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* The optional string member <key> of <obj>; -EINVAL when present but not a string. */
static int
opt_string(json_t *obj, const char *key, const char **s, size_t *len)
{
    json_t *v = json_object_get(obj, key);
    *s = NULL;
    *len = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -EINVAL;
    *s = json_string_value(v);
    *len = json_string_length(v);
    return 0;
}

static int
parse_item(struct rp_publish_batch *b, size_t i, json_t *obj, bool targeted,
           struct rp_publish_json_error *err)
{
    char where[32] = "";
    if (b->is_array)
        snprintf(where, sizeof(where), "event %zu: ", i);
    if (!json_is_object(obj))
        return fail(err, 422, "%sexpected a JSON object with \"topic\" and \"data\"", where);
    struct rp_publish_item *it = &b->items[i];
    const char *key;
    json_t *value;
    json_object_foreach (obj, key, value) {
        if (strcmp(key, "topic") && strcmp(key, "data") && strcmp(key, "event") &&
            strcmp(key, "id"))
            return fail(err, 422, "%sunknown field \"%.40s\" (allowed: topic, data, event, id)",
                        where, key);
    }
    json_t *topic = json_object_get(obj, "topic");
    if (targeted && topic)
        return fail(err, 422, "%sleave out \"topic\": the URL names where the event goes", where);
    if (!targeted && !topic)
        return fail(err, 422, "%s\"topic\" is missing", where);
    if (topic && !json_is_string(topic))
        return fail(err, 422, "%s\"topic\" must be a string", where);
    if (topic) {
        it->topic = json_string_value(topic);
        it->topic_len = json_string_length(topic);
    }
    if (opt_string(obj, "event", &it->event, &it->event_len))
        return fail(err, 422, "%s\"event\" must be a string", where);
    if (opt_string(obj, "id", &it->pub_id, &it->pub_id_len))
        return fail(err, 422, "%s\"id\" must be a string", where);
    json_t *data = json_object_get(obj, "data");
    if (!data)
        return fail(err, 422, "%s\"data\" is missing", where);
    if (json_is_string(data)) {
        it->data = json_string_value(data);
        it->data_len = json_string_length(data);
    } else {
        b->dumped[i] = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!b->dumped[i])
            return fail(err, 422, "%s\"data\" cannot be encoded", where);
        it->data = b->dumped[i];
        it->data_len = strlen(b->dumped[i]);
    }
    return 0;
}

static int
parse_body(const char *body, size_t len, size_t max_batch, bool targeted,
           struct rp_publish_batch *out, struct rp_publish_json_error *err)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return fail(err, 400, "body is not valid JSON: %s (line %d, column %d)", jerr.text,
                    jerr.line, jerr.column);
    out->doc = doc;
    size_t n = 1;
    if (json_is_array(doc)) {
        out->is_array = 1;
        n = json_array_size(doc);
        if (n == 0) {
            rp_publish_batch_fini(out);
            return fail(err, 422, "the batch is empty: send at least one event");
        }
        if (n > max_batch) {
            rp_publish_batch_fini(out);
            return fail(err, 413, "the batch has %zu events; max_batch allows %zu", n, max_batch);
        }
    }
    out->items = rp_xcalloc(n, sizeof(*out->items));
    out->dumped = rp_xcalloc(n, sizeof(*out->dumped));
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        json_t *obj = out->is_array ? json_array_get(doc, i) : doc;
        int rc = parse_item(out, i, obj, targeted, err);
        if (rc) {
            rp_publish_batch_fini(out);
            return rc;
        }
    }
    return 0;
}

int
rp_publish_json_parse(const char *body, size_t len, size_t max_batch, struct rp_publish_batch *out,
                      struct rp_publish_json_error *err)
{
    return parse_body(body, len, max_batch, false, out, err);
}

int
rp_publish_json_parse_targeted(const char *body, size_t len, size_t max_batch,
                               struct rp_publish_batch *out, struct rp_publish_json_error *err)
{
    return parse_body(body, len, max_batch, true, out, err);
}

void
rp_publish_batch_fini(struct rp_publish_batch *b)
{
    if (b->dumped)
        for (size_t i = 0; i < b->n; i++)
            free(b->dumped[i]);
    free(b->dumped);
    free(b->items);
    json_decref(b->doc);
    memset(b, 0, sizeof(*b));
}
