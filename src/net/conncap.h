/* SPDX-License-Identifier: MIT */
#ifndef RP_NET_CONNCAP_H
#define RP_NET_CONNCAP_H
/*
 * Caps on concurrent connections: per client address and in total, shared by all workers.
 * A connection acquires a slot when accepted and releases it when closed. A connection from
 * a trusted proxy is counted in the total only until its first request names the client,
 * which is then counted under its own address (rp_conncap_acquire_key). Not responsible for
 * choosing the address (net/addr_key) or for closing anything.
 * Any thread: per-address counts sit in mutex-protected stripes, the totals are atomics.
 */
#include <stdbool.h>
#include <stddef.h>

struct rp_addr_key;
struct rp_conncap;

/* Caps of <max_per_addr> connections per address, <max_total> in all, and <max_keys>
 * distinct addresses holding connections; 0 means unlimited for each. Only addresses with
 * at least one connection are held, so memory follows the open connections. Never fails. */
struct rp_conncap *rp_conncap_new(size_t max_per_addr, size_t max_total, size_t max_keys);
/* Frees <cap>; accepts NULL. No other thread may still use it. */
void rp_conncap_free(struct rp_conncap *cap);
/* Addresses whose connections count in the total only when accepted: the <n> trusted
 * proxies at <keys> (copied). Before any other thread uses <cap>. */
void rp_conncap_set_proxies(struct rp_conncap *cap, const struct rp_addr_key *keys, size_t n);
/* True when <key> is one of the trusted proxies. */
bool rp_conncap_is_proxy(const struct rp_conncap *cap, const struct rp_addr_key *key);
/* Counts one more connection from <key>, or in the total only when <key> is NULL. 0;
 * -EUSERS when <key> already holds max_per_addr (answer 429 or close); -EMFILE when
 * max_total connections are open (503); -ENOSPC when max_keys other addresses hold
 * connections (503). On failure nothing is counted. */
int rp_conncap_acquire(struct rp_conncap *cap, const struct rp_addr_key *key);
/* Counts a connection already in the total (acquired with NULL) under <key> as well. 0, or
 * -EUSERS / -ENOSPC as rp_conncap_acquire; on failure it stays in the total only. */
int rp_conncap_acquire_key(struct rp_conncap *cap, const struct rp_addr_key *key);
/* Counts a connection that is open already and cannot be refused (adopted in an upgrade)
 * under <key> (NULL: in the total only), past the caps if need be: new connections are then
 * refused until enough of them close. Never fails. */
void rp_conncap_adopt(struct rp_conncap *cap, const struct rp_addr_key *key);
/* Gives back a slot: <key> is the address it is counted under, or NULL when it is counted in
 * the total only. Asserts that <key> holds one. Its entry goes at 0. */
void rp_conncap_release(struct rp_conncap *cap, const struct rp_addr_key *key);
/* Connections <key> holds now. */
size_t rp_conncap_count(struct rp_conncap *cap, const struct rp_addr_key *key);
/* Connections held in all. */
size_t rp_conncap_total(struct rp_conncap *cap);
/* Addresses holding at least one connection. */
size_t rp_conncap_n_keys(struct rp_conncap *cap);

#endif
