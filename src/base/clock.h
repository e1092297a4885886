/* SPDX-License-Identifier: MIT */
#ifndef RP_BASE_CLOCK_H
#define RP_BASE_CLOCK_H
/* Time in milliseconds: monotonic for timeouts and ages, wall for what users read. Any thread. */
#include <stdint.h>

int64_t rp_clock_now_ms(void);
int64_t rp_clock_wall_ms(void);

#endif
