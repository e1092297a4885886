/* SPDX-License-Identifier: MIT */
#ifndef RP_HTTP_PUBLISH_JSON_H
#define RP_HTTP_PUBLISH_JSON_H
/*
 * The body of POST /publish: one JSON object {"topic", "data", "event"?, "id"?} or an
 * array of them. "data" may be a string (sent as is) or any other JSON value (sent as its
 * compact JSON text). Strings stay in the parsed document, which the batch owns.
 * Not responsible for validating topic names or sizes (the hub does). Any thread.
 */
#include <stddef.h>

#include "core/hub.h"

struct rp_publish_batch {
    struct rp_publish_item *items;
    size_t n;
    void *doc;     /* the parsed JSON document (json_t *) */
    char **dumped; /* compact JSON text of non-string data, one slot per item */
    int is_array;
};

/* Why a body was refused: status and message for the client. */
struct rp_publish_json_error {
    int status;
    char message[200];
};

/* Parses <body>; 0 and <out> filled (free with rp_publish_batch_fini), or -EINVAL with
 * <err> filled (400 malformed, 422 wrong shape, 413 more than <max_batch> events). */
int rp_publish_json_parse(const char *body, size_t len, size_t max_batch,
                          struct rp_publish_batch *out, struct rp_publish_json_error *err);
/* rp_publish_json_parse for a body whose target the URL names (a session's events): every
 * object must leave out "topic" (422 otherwise); the items' topics are left NULL. */
int rp_publish_json_parse_targeted(const char *body, size_t len, size_t max_batch,
                                   struct rp_publish_batch *out, struct rp_publish_json_error *err);
void rp_publish_batch_fini(struct rp_publish_batch *b);

#endif
