/* SPDX-License-Identifier: MIT */
#ifndef RP_SERVER_SERVE_H
#define RP_SERVER_SERVE_H
/*
 * `revenprox serve`: loads the configuration (file, environment, flags), starts the server
 * (or takes over from a previous process during an upgrade), runs it until a stop signal or
 * a hand-over, and stops it. The only entry the command line (cli/) has into the server.
 */

/* <argc>/<argv>: the flags after `serve`; <exec_argv>: the whole command line, for an
 * upgrade to start the binary again the same way. Returns the process's exit status. */
int rp_serve_main(int argc, char **argv, char **exec_argv);

#endif
