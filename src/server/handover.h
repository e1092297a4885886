/* SPDX-License-Identifier: MIT */
#ifndef RP_SERVER_HANDOVER_H
#define RP_SERVER_HANDOVER_H
/*
 * Zero-downtime upgrade, both sides (the wire format is server/handover_wire.h). SIGUSR2
 * makes the running process start its binary again with one end of a socket pair; the
 * successor says it is ready, the old process quiesces its workers (each hands over its
 * listener and connections and leaves its loop: nothing is published meanwhile, so the
 * logs sent are complete), sends the state and the descriptors, and goes once the
 * successor has committed. Main thread only.
 *
 *   old: start successor --"R"--> quiesce workers --state + fds--> "K"? --"G"--> exit
 *   new: load config, send "R", receive, restore hub, build workers, "K", wait "G" (or
 *        the old side gone), adopt connections, start workers, serve
 *
 * The successor commits ("K") after every step that can fail but starting its worker
 * threads, and touches no handed-over socket before it: so until "K" the old process
 * still owns every connection exactly as it left it. If anything else comes first (the
 * successor exits, crashes, refuses the state, or stays silent for 30 s), the old process
 * stops it and gives the listeners and connections back to its workers, which run again:
 * still serving, and a later SIGUSR2 tries again. "G" closes the race of a "K" sent as the
 * old side gives up.
 */
#include <stdbool.h>

#include "server/handover_wire.h"
#include "server/server.h"

/* The environment variable naming the successor's end of the socket. */
#define RP_HANDOVER_FD_ENV "REVENPROX_UPGRADE_FD"

/* Old side (SIGUSR2): returns true when this process is done (handed over, or could not
 * resume after a failed hand-over: <srv>->resume_failed), false when it keeps serving (the
 * upgrade failed, logged as "upgrade failed: ...; still serving"). */
bool rp_handover_old_side(struct rp_server *srv);

/* New side: the socket to the previous process (and forgets the variable, which the
 * configuration would refuse as unknown), or -1 for a normal start. */
int rp_handover_socket(void);
/* New side: says ready and receives the state into the zeroed <st>, which keeps <sock> as
 * its peer. 0, or -errno with the reason logged. */
int rp_handover_take(int sock, struct rp_handover_state *st);
/* New side, once everything that can fail is built and before any handed-over socket is
 * touched: commits ("K") and waits for the previous process to let go. From here on this
 * process serves; before it, failing (or exiting) leaves the previous one serving. */
void rp_handover_commit(struct rp_handover_state *st);
/* New side, after the commit and before the workers start: spreads the handed-over
 * connections over them. */
void rp_handover_adopt(struct rp_handover_state *st, struct rp_worker **workers, unsigned n);

#endif
