/* SPDX-License-Identifier: MIT */
#ifndef RP_OPS_DASHBOARD_H
#define RP_OPS_DASHBOARD_H
/*
 * GET /dashboard: one self-contained HTML page (src/ops/dashboard.html, compiled in by
 * scripts/embed.py) that charts the metrics the server publishes to `_revenprox/metrics`.
 * Not responsible for routing, headers or publishing the metrics. Any thread.
 */
#include <stddef.h>

/* The page's bytes (UTF-8 HTML) and their count in <len>: static, never freed, never NULL;
 * a NUL follows the last byte. Any thread. */
const char *rp_dashboard_page(size_t *len);

#endif
