/* SPDX-License-Identifier: MIT */
#ifndef RP_HTTP_PUBLISH_FORM_H
#define RP_HTTP_PUBLISH_FORM_H
/*
 * The body of a Mercure publish (POST /.well-known/mercure): an
 * application/x-www-form-urlencoded form with `topic` (repeatable: the canonical topic
 * first, then alternates), `data`, `private` (present means private, whatever its value),
 * `id`, `type` and `retry`. Unknown fields are ignored, as the protocol asks.
 * Not responsible for what a topic may be (api/mercure) or for authorisation. Pure; any
 * thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/query.h"

/* One update. Strings are borrowed from <form> (decoded, NUL-terminated, no NUL inside). */
struct rp_publish_form {
    const char **topics; /* in the order of the body */
    size_t *topic_lens;
    size_t n_topics;
    const char *data; /* "" when absent */
    size_t data_len;
    bool is_private;
    const char *id; /* NULL when absent */
    size_t id_len;
    const char *type; /* NULL when absent */
    size_t type_len;
    int64_t retry_ms;     /* -1 when absent */
    struct rp_query form; /* owns every string */
};

/* Why a body was refused: the status (400, 413) and what was wrong, for the publisher. */
struct rp_publish_form_error {
    int status;
    char message[200];
};

/*
 * Parses the <len> bytes of <body> into the zeroed <out>: 0, or -EINVAL (400: malformed
 * encoding, a decoded NUL, no topic, an empty topic, a field other than `topic` given
 * twice, an `id` starting with '#', an `id` or `type` with CR or LF, a `retry` that is not a
 * non-negative integer) or -E2BIG (413: more than <max_topics> topics) with <err> filled. Free
 * <out> with rp_publish_form_fini in both cases.
 */
int rp_publish_form_parse(const char *body, size_t len, size_t max_topics,
                          struct rp_publish_form *out, struct rp_publish_form_error *err);
/* Frees what <f> holds and zeroes it; accepts a zeroed form. */
void rp_publish_form_fini(struct rp_publish_form *f);
/* True when the Content-Type <ct> (NULL: absent) is application/x-www-form-urlencoded,
 * with or without parameters such as charset. */
bool rp_publish_form_content_type(const char *ct);

#endif
