/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the URL-pattern compiler and matcher: the input is "<pattern>\n<IRI>". Any pattern
 * is compiled or refused with a reason; a compiled one matches any IRI without crashing or
 * hanging. The pattern's path-like part, taken as one component (each delimiter in turn),
 * agrees on small inputs with the brute-force reference of the unit test. Aborts on a
 * disagreement.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/core/url_pattern_ref.h"
#include "core/url_pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t plen = nl ? (size_t)(nl - s) : size;
    const char *iri = nl ? nl + 1 : "";
    size_t ilen = nl ? size - plen - 1 : 0;
    struct rp_url_pattern *p = NULL;
    const char *why = NULL;
    if (rp_url_pattern_compile(s, plen, &p, &why) != 0) {
        if (p || !why || !*why)
            abort();
    } else {
        (void)rp_url_pattern_matches(p, iri, ilen);
        rp_url_pattern_free(p);
    }
    /* The reference is exponential: only small inputs. */
    if (plen <= 24 && ilen <= 10) {
        static const char delims[] = {'/', '.', 0};
        for (size_t d = 0; d < sizeof(delims); d++) {
            int want = ref_component_matches(s, plen, delims[d], iri, ilen);
            int got = rp_url_pattern_component_matches(s, plen, delims[d], iri, ilen);
            if (want != (got == -EINVAL ? -1 : got))
                abort();
        }
    }
    return 0;
}
