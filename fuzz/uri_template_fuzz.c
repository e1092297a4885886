/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the URI-template compiler and matcher: the input is "<template>\n<IRI>". Any
 * template is compiled or refused with a reason; a compiled one matches any IRI without
 * crashing or hanging, and on small inputs agrees with the brute-force reference of the
 * unit test. Aborts on a disagreement.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/core/uri_template_ref.h"
#include "core/uri_template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t tlen = nl ? (size_t)(nl - s) : size;
    const char *iri = nl ? nl + 1 : "";
    size_t ilen = nl ? size - tlen - 1 : 0;
    struct rp_uri_template *t = NULL;
    const char *why = NULL;
    if (rp_uri_template_compile(s, tlen, &t, &why) != 0) {
        if (t || !why || !*why)
            abort();
        return 0;
    }
    bool got = rp_uri_template_matches(t, iri, ilen);
    rp_uri_template_free(t);
    /* The reference is exponential: only small inputs, and no NUL in the IRI (the
     * reference's class test uses strchr). */
    if (tlen <= 24 && ilen <= 12 && !memchr(iri, '\0', ilen)) {
        struct ref_tok toks[24];
        size_t nt = ref_tokens(s, tlen, toks);
        if (ref_match(toks, nt, iri, ilen, 0) != got)
            abort();
    }
    return 0;
}
