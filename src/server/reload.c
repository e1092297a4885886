/* SPDX-License-Identifier: MIT */
/*
 * SIGHUP: loads the configuration again; settings that need a restart keep their running
 * values (and are named in the log); the rest take effect on each worker at its next loop
 * turn. An invalid file changes nothing. Nobody is disconnected. A replaced snapshot is
 * freed once no worker uses it (each worker publishes the one it uses: server/worker.h), so
 * reloading does not grow the process.
 */
#include <stdlib.h>

#include "base/alloc.h"
#include "base/log.h"
#include "server/server.h"
#include "server/worker.h"

static bool
in_use(struct rp_server *srv, const struct rp_config *cfg)
{
    if (cfg == atomic_load(&srv->cfg))
        return true;
    for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
        if (srv->workers[i] && rp_worker_config_in_use(srv->workers[i]) == cfg)
            return true;
    return false;
}

void
rp_server_free_unused_configs(struct rp_server *srv)
{
    size_t k = 0;
    for (size_t i = 0; i < srv->n_owned; i++) {
        if (in_use(srv, srv->owned[i]))
            srv->owned[k++] = srv->owned[i];
        else
            rp_config_free(srv->owned[i]);
    }
    srv->n_owned = k;
}

void
rp_server_reload(struct rp_server *srv)
{
    if (!srv->reload) {
        RP_LOG(RP_LOG_WARN, "server", "msg=\"SIGHUP ignored: no configuration source to reload\"");
        return;
    }
    RP_LOG(RP_LOG_INFO, "server", "msg=\"reloading the configuration\"");
    struct rp_config *next = srv->reload(srv->reload_ctx);
    if (!next) {
        RP_LOG(RP_LOG_ERROR, "server", "msg=\"reload failed; the running configuration stays\"");
        return;
    }
    const struct rp_config *running = atomic_load(&srv->cfg);
    char changed[512];
    size_t n = rp_config_keep_restart_settings(next, running, changed, sizeof(changed));
    if (n)
        RP_LOG(RP_LOG_WARN, "server",
               "msg=\"%zu changed setting(s) need a restart and keep their running values\" "
               "settings=\"%s\"",
               n, changed);
    srv->owned = rp_xrealloc(srv->owned, (srv->n_owned + 1) * sizeof(*srv->owned));
    srv->owned[srv->n_owned++] = next;
    rp_server_apply_logging(&next->v);
    /* Workers switch at their next loop turn; the old snapshot is freed once none uses it
     * (here, or at a later housekeeping pass). */
    atomic_store(&srv->cfg, next);
    for (unsigned i = 0; i < srv->n_workers; i++)
        rp_worker_auth_wake(srv->workers[i]); /* a prompt turn */
    rp_server_free_unused_configs(srv);
    RP_LOG(RP_LOG_INFO, "server", "msg=\"configuration reloaded\" restart_needed=%zu", n);
}
