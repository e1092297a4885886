/* SPDX-License-Identifier: MIT */
#ifndef RP_BASE_QSBR_H
#define RP_BASE_QSBR_H
/*
 * Quiescent-state-based reclamation: frees objects that threads read without a lock or a
 * reference (hub topics, configuration snapshots) once no thread can still hold them.
 * Each such thread registers a slot; it is online while it may hold protected pointers
 * and offline, or passes a quiescent state, where it holds none: a worker goes online at
 * the start of each loop turn and offline before it sleeps. The owner of a structure
 * unlinks an object (so no thread can find it again), then retires it; rp_qsbr_reclaim
 * frees it once every slot has been offline or quiescent since. Not responsible for
 * unlinking, nor for what the free function does.
 *
 * Threads: a slot is used only by the thread that registered it; retire, epoch, advance
 * and passed from any thread; reclaim from a thread that is not online (the housekeeping
 * thread): free functions run there. A thread that has no slot may hold protected
 * pointers only if it is the one thread that calls rp_qsbr_reclaim, between its calls.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rp_qsbr;
struct rp_qsbr_slot;

typedef void (*rp_qsbr_free_fn)(void *ptr);

/* A domain with room for <max_slots> registered threads. */
struct rp_qsbr *rp_qsbr_new(size_t max_slots);
/* Frees every object still retired, then the domain. No slot may be online (asserted).
 * Accepts NULL. */
void rp_qsbr_free(struct rp_qsbr *q);

/* A slot for the calling thread, offline; NULL when <max_slots> are registered. */
struct rp_qsbr_slot *rp_qsbr_register(struct rp_qsbr *q);
/* Returns <s>, which must be offline, to the domain. Accepts NULL. */
void rp_qsbr_unregister(struct rp_qsbr_slot *s);
/*
 * The thread goes online (a worker: at the start of each loop turn): from now on it may
 * obtain and hold protected pointers. Online again while online is a quiescent state.
 * Costs an atomic load, and a full-barrier store when the epoch moved.
 */
void rp_qsbr_online(struct rp_qsbr_slot *s);
/* The thread holds no protected pointer any more (a worker: before it sleeps); objects
 * retired meanwhile do not wait for it. One release store. */
void rp_qsbr_offline(struct rp_qsbr_slot *s);
/* For a thread that stays online: it holds no protected pointer obtained before this call
 * (the same as rp_qsbr_online). */
void rp_qsbr_quiescent(struct rp_qsbr_slot *s);

/*
 * <ptr>, already unreachable for threads that look for it from now on, is freed with
 * <free_fn>(<ptr>) by a later rp_qsbr_reclaim, once every slot online now has been
 * offline or quiescent since. Takes ownership of <ptr>. Starts a new epoch.
 */
void rp_qsbr_retire(struct rp_qsbr *q, void *ptr, rp_qsbr_free_fn free_fn);
/* Frees every retired object past its grace period; returns how many. */
size_t rp_qsbr_reclaim(struct rp_qsbr *q);
/* Objects retired and not freed yet. */
size_t rp_qsbr_pending(struct rp_qsbr *q);

/*
 * For structures that must know when a pointer they handed out can no longer be held (the
 * hub unlinks a topic only once the threads that looked it up have moved on): stamp the
 * hand-out with rp_qsbr_epoch(); rp_qsbr_passed(<stamp>) is true once every slot has been
 * offline or quiescent after a later epoch began. Epochs begin with each retire, or with
 * rp_qsbr_advance, which returns the epoch that ended (call it periodically, or stamps
 * never pass while threads are online).
 */
uint64_t rp_qsbr_epoch(struct rp_qsbr *q);
uint64_t rp_qsbr_advance(struct rp_qsbr *q);
bool rp_qsbr_passed(struct rp_qsbr *q, uint64_t stamp);

#endif
