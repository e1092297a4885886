/* SPDX-License-Identifier: MIT */
#include "auth/auth_webhook.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/diag.h"
#include "core/pattern.h"
#include "core/topic_name.h"
#include "http/response.h"

/* ---- the request ---- */

static void
append_string(struct rp_buf *b, const char *s, size_t len)
{
    if (!s) {
        rp_buf_append_str(b, "null");
        return;
    }
    rp_buf_append_str(b, "\"");
    rp_json_escape(b, s, len);
    rp_buf_append_str(b, "\"");
}

char *
rp_webhook_request_body(const char *token, size_t token_len, const char *const *topics,
                        size_t n_topics, const char *ip, const char *user_agent, const char *action,
                        size_t *len)
{
    size_t ip_len = ip ? strlen(ip) : 0;
    size_t ua_len = user_agent ? strlen(user_agent) : 0;
    size_t action_len = action ? strlen(action) : 0;
    /* Escaping turns a byte into at most 6 ("\u00XX", "\ufffd"): the cap is never hit. */
    size_t raw = token_len + ip_len + ua_len + action_len;
    size_t punct = 128 + 3 * n_topics;
    for (size_t i = 0; i < n_topics; i++)
        raw += strlen(topics[i]);
    struct rp_buf b;
    rp_buf_init(&b, 6 * raw + punct);
    rp_buf_append_str(&b, "{\"token\":");
    append_string(&b, token ? token : "", token ? token_len : 0);
    rp_buf_append_str(&b, ",\"topics\":[");
    for (size_t i = 0; i < n_topics; i++) {
        if (i)
            rp_buf_append_str(&b, ",");
        append_string(&b, topics[i], strlen(topics[i]));
    }
    rp_buf_append_str(&b, "],\"ip\":");
    append_string(&b, ip, ip_len);
    rp_buf_append_str(&b, ",\"user_agent\":");
    append_string(&b, user_agent, ua_len);
    rp_buf_append_str(&b, ",\"action\":");
    append_string(&b, action, action_len);
    rp_buf_append_str(&b, "}");
    /* The storage is the caller's now: rp_buf allocates with malloc and keeps room for NUL. */
    rp_buf_cstr(&b);
    *len = b.len;
    return b.data;
}

char *
rp_webhook_request_body_documented(const char *token, size_t token_len, const char *topic,
                                   size_t *len)
{
    uint8_t uuid[16];
    rp_topic_uuid(topic, strlen(topic), uuid);
    struct rp_buf b;
    rp_buf_init(&b, 6 * token_len + 64);
    rp_buf_append_str(&b, "{\"jwt\":");
    append_string(&b, token ? token : "", token ? token_len : 0);
    rp_buf_append_str(&b, ",\"topic\":\"");
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        char two[2] = {hex[uuid[i] >> 4], hex[uuid[i] & 15]};
        rp_buf_append(&b, two, 2);
    }
    rp_buf_append_str(&b, "\"}");
    rp_buf_cstr(&b);
    *len = b.len;
    return b.data;
}

/* ---- the answer ---- */

static enum rp_auth_result not_understood(struct rp_grant *g, int64_t *ttl_ms, struct rp_diag *diag,
                                          const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum rp_auth_result
not_understood(struct rp_grant *g, int64_t *ttl_ms, struct rp_diag *diag, const char *fmt, ...)
{
    rp_grant_fini(g);
    *ttl_ms = 0;
    va_list ap;
    va_start(ap, fmt);
    rp_diag_vset(diag, fmt, ap);
    va_end(ap);
    return RP_AUTH_UNAVAILABLE;
}

/* A member that may be absent or null. */
static json_t *
member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

/* Seconds (a JSON integer or real) in milliseconds, saturated; false when not a number or
 * below <min_s>. */
static bool
seconds_to_ms(json_t *v, double min_s, int64_t *ms)
{
    if (json_is_integer(v)) {
        json_int_t s = json_integer_value(v);
        if ((double)s < min_s)
            return false;
        *ms = s > INT64_MAX / 1000 ? INT64_MAX : (int64_t)s * 1000;
        return true;
    }
    if (!json_is_real(v))
        return false;
    double s = json_real_value(v);
    if (!isfinite(s) || s < min_s)
        return false;
    double m = s * 1000.0;
    *ms = m >= 9.2e18 ? INT64_MAX : (int64_t)m;
    return true;
}

/* Copies the filters of the array <arr> named <key> into <g>; NULL, or what is wrong. */
static const char *
add_filters(struct rp_grant *g, json_t *arr, bool read, char *why, size_t why_cap)
{
    const char *key = read ? "read" : "write";
    if (!json_is_array(arr)) {
        snprintf(why, why_cap, "\"%s\" is not an array of topic filters", key);
        return why;
    }
    if (json_array_size(arr) > RP_WEBHOOK_MAX_FILTERS) {
        snprintf(why, why_cap, "\"%s\" has %zu filters, more than the %d accepted", key,
                 json_array_size(arr), RP_WEBHOOK_MAX_FILTERS);
        return why;
    }
    size_t i;
    json_t *f;
    json_array_foreach (arr, i, f) {
        if (!json_is_string(f)) {
            snprintf(why, why_cap, "\"%s\"[%zu] is not a string", key, i);
            return why;
        }
        const char *s = json_string_value(f);
        size_t n = json_string_length(f);
        const char *bad = rp_pattern_check(s, n);
        if (bad) {
            snprintf(why, why_cap, "\"%s\"[%zu] is not a valid topic filter: %s", key, i, bad);
            return why;
        }
        int rc = read ? rp_grant_add_read(g, s, n) : rp_grant_add_write(g, s, n);
        if (rc) {
            snprintf(why, why_cap, "\"%s\"[%zu] is not a valid topic filter", key, i);
            return why;
        }
    }
    return NULL;
}

/* The application's reason, made safe for a key=value log line: control characters become
 * spaces, and truncation does not split a UTF-8 sequence. */
static void
copy_reason(struct rp_diag *diag, const char *reason, size_t len)
{
    if (!diag)
        return;
    if (!reason)
        len = 0;
    if (len > sizeof(diag->msg) - 1) {
        len = sizeof(diag->msg) - 1;
        while (len && ((unsigned char)reason[len] & 0xC0) == 0x80)
            len--;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)reason[i];
        diag->msg[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    diag->msg[len] = '\0';
}

static enum rp_auth_result
parse_object(json_t *root, struct rp_grant *g, int64_t *ttl_ms, bool *filters_given,
             struct rp_diag *diag)
{
    if (!json_is_object(root))
        return not_understood(g, ttl_ms, diag, "the answer is not a JSON object");
    json_t *valid = json_object_get(root, "valid");
    if (!json_is_boolean(valid))
        return not_understood(g, ttl_ms, diag, "the answer has no boolean \"valid\" member");
    json_t *v = member(root, "ttl");
    if (v && !seconds_to_ms(v, 0, ttl_ms))
        return not_understood(g, ttl_ms, diag, "\"ttl\" is not a non-negative number of seconds");

    if (json_is_false(valid)) {
        /* The refusal is clear whatever the reason's type: a bad reason is only dropped. */
        json_t *reason = member(root, "reason");
        copy_reason(diag, json_string_value(reason), json_string_length(reason));
        return RP_AUTH_REJECTED;
    }

    v = member(root, "sub");
    if (v) {
        if (!json_is_string(v))
            return not_understood(g, ttl_ms, diag, "\"sub\" is not a string");
        g->sub = rp_xstrndup(json_string_value(v), json_string_length(v));
    }
    v = member(root, "exp");
    if (v && (!seconds_to_ms(v, 0, &g->expires_ms) || g->expires_ms <= 0))
        return not_understood(g, ttl_ms, diag, "\"exp\" is not a positive number (unix seconds)");
    char why[160];
    for (int w = 0; w < 2; w++) {
        v = member(root, w ? "write" : "read");
        if (v && filters_given)
            *filters_given = true;
        const char *bad = v ? add_filters(g, v, !w, why, sizeof(why)) : NULL;
        if (bad)
            return not_understood(g, ttl_ms, diag, "%s", bad);
    }
    rp_diag_clear(diag);
    return RP_AUTH_OK;
}

enum rp_auth_result
rp_webhook_parse_answer(const char *body, size_t len, struct rp_grant *g, int64_t *ttl_ms,
                        bool *filters_given, struct rp_diag *diag)
{
    *ttl_ms = 0;
    if (filters_given)
        *filters_given = false;
    json_error_t je;
    /* Duplicate keys are refused: {"valid":false,"valid":true} must not mean either. */
    json_t *root =
        json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!root)
        /* Position only: the text quotes the input, and answers are not logged. */
        return not_understood(g, ttl_ms, diag, "the answer is not JSON (byte %d)", je.position);
    enum rp_auth_result r = parse_object(root, g, ttl_ms, filters_given, diag);
    json_decref(root);
    return r;
}
