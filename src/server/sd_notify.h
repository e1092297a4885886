/* SPDX-License-Identifier: MIT */
#ifndef RP_SERVER_SD_NOTIFY_H
#define RP_SERVER_SD_NOTIFY_H
/*
 * The systemd notify protocol (sd_notify(3)) without libsystemd: state lines such as
 * "READY=1" sent as one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET, and the
 * watchdog interval read from $WATCHDOG_USEC. Not a systemd client library: no fd store,
 * no credentials passing, no vsock. Any thread, but it reads the environment, so not while
 * another thread calls setenv(). Every call is a no-op when systemd did not ask for it.
 */
#include <stdint.h>

/* Sends <state> (newline-separated VAR=value lines, e.g. "READY=1\nSTATUS=listening") as
 * one datagram to $NOTIFY_SOCKET: a path ("/run/...") or an abstract name ("@name").
 * 0 when sent, or when $NOTIFY_SOCKET is unset or empty; -EINVAL for an empty <state> or a
 * name too long for sockaddr_un, -EAFNOSUPPORT for a name that is neither, or the negative
 * errno of socket()/sendto(). */
int rp_sd_notify(const char *state);

/* Sends "RELOADING=1\nMONOTONIC_USEC=<now>" (CLOCK_MONOTONIC, microseconds), the message
 * Type=notify-reload expects when a reload starts; follow it with "READY=1" when the reload
 * is done. Fails as rp_sd_notify(). */
int rp_sd_notify_monotonic_reloading(void);

/* Reads the watchdog interval systemd asked for (WatchdogSec=): sets <*usec> to
 * $WATCHDOG_USEC, or to 0 when the watchdog is off (unset, or $WATCHDOG_PID names another
 * process). The caller then sends "WATCHDOG=1" at least every <*usec>/2 microseconds.
 * 0, or -EINVAL (with <*usec> = 0) when a variable is not a positive decimal number. */
int rp_sd_watchdog_usec(uint64_t *usec);

#endif
