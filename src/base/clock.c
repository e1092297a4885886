/* SPDX-License-Identifier: MIT */
#include "base/clock.h"

#include <time.h>

static int64_t
read_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
rp_clock_now_ms(void)
{
    return read_clock(CLOCK_MONOTONIC);
}

int64_t
rp_clock_wall_ms(void)
{
    return read_clock(CLOCK_REALTIME);
}
