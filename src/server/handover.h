/* SPDX-License-Identifier: MIT */
#ifndef RP_SERVER_HANDOVER_H
#define RP_SERVER_HANDOVER_H
/*
 * Zero-downtime upgrade, both sides (the wire format is server/handover_wire.h). SIGUSR2
 * makes the running process start its binary again with one end of a socket pair; the
 * successor says it is ready, the old process quiesces its workers (each hands over its
 * listener and connections and leaves its loop: nothing is published meanwhile, so the
 * logs sent are complete), sends the state and the descriptors, and goes once the
 * successor says it took over. Main thread only.
 *
 *   old: start successor --"R"--> quiesce workers --state + fds--> wait for "K" --> exit
 *   new: load config, send "R", receive, restore hub, adopt connections, send "K", serve
 */
#include <stdbool.h>

#include "server/handover_wire.h"
#include "server/server.h"

/* The environment variable naming the successor's end of the socket. */
#define RP_HANDOVER_FD_ENV "REVENPROX_UPGRADE_FD"

/* Old side (SIGUSR2): returns true when this process is done (handed over, or gave up
 * after quiescing), false when the upgrade was aborted before anything changed (the new
 * process did not start or get ready): we keep serving. */
bool rp_handover_old_side(struct rp_server *srv);

/* New side: the socket to the previous process (and forgets the variable, which the
 * configuration would refuse as unknown), or -1 for a normal start. */
int rp_handover_socket(void);
/* New side: says ready and receives the state into the zeroed <st>. 0, or -errno with the
 * reason logged. */
int rp_handover_take(int sock, struct rp_handover_state *st);
/* New side, before the workers start: spreads the handed-over connections over them. */
void rp_handover_adopt(struct rp_handover_state *st, struct rp_worker **workers, unsigned n);
/* New side: tells the previous process it may go (<ok>) or not, and closes <sock>. */
void rp_handover_finish(int sock, bool ok);

#endif
