/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the Mercure publish form parser: any input either is refused with 400 or 413 and
 * a message, or yields an update whose strings are in bounds, NUL-free and of the lengths
 * given. Aborts on any broken invariant.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/publish_form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_str(const char *s, size_t len)
{
    if (!s || strlen(s) != len)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rp_publish_form f;
    struct rp_publish_form_error err;
    int rc = rp_publish_form_parse((const char *)data, size, 4, &f, &err);
    if (rc != 0) {
        if ((err.status != 400 && err.status != 413) || err.message[0] == '\0')
            abort();
        rp_publish_form_fini(&f);
        return 0;
    }
    if (f.n_topics == 0 || f.n_topics > 4)
        abort();
    for (size_t i = 0; i < f.n_topics; i++) {
        check_str(f.topics[i], f.topic_lens[i]);
        if (f.topic_lens[i] == 0)
            abort();
    }
    check_str(f.data, f.data_len);
    if (f.id) {
        check_str(f.id, f.id_len);
        if (f.id_len == 0 || f.id[0] == '#' || strpbrk(f.id, "\r\n"))
            abort();
    }
    if (f.type)
        check_str(f.type, f.type_len);
    if (f.retry_ms < -1)
        abort();
    rp_publish_form_fini(&f);
    return 0;
}
