/* SPDX-License-Identifier: MIT */
#include "base/assert.h"

#include <stdio.h>
#include <stdlib.h>

void
rp_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "level=fatal component=assert msg=\"assertion failed\" expr=\"%s\" at=%s:%d\n",
            expr, file, line);
    abort();
}
