/* SPDX-License-Identifier: MIT */
#ifndef RP_SERVER_UPSTREAM_SETUP_H
#define RP_SERVER_UPSTREAM_SETUP_H
/*
 * The concentrator's pool from the settings (upstreams, upstream_headers, upstream_by_type,
 * upstream_forward_auth, upstream_always and the upstream_* limits). Not responsible for
 * running upstreams (client/upstream). Called by the composition root at start.
 */
#include "config/config.h"

struct rp_hub;
struct rp_upstream_pool;

/* 0 and *<out> (NULL when no upstream is configured), or -EINVAL with <diag> filled. */
int rp_upstream_setup(const struct rp_config_values *v, struct rp_hub *hub, unsigned n_workers,
                      struct rp_upstream_pool **out, struct rp_diag *diag);

#endif
