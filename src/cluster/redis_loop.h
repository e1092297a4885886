/* SPDX-License-Identifier: MIT */
#ifndef RP_CLUSTER_REDIS_LOOP_H
#define RP_CLUSTER_REDIS_LOOP_H
/*
 * Runs a hiredis asynchronous connection on one of our loops: hiredis says when it wants to
 * read or write, the loop says when the socket is ready. hiredis 0.14 has no timers of its
 * own, so connect and command timeouts are the owner's (engine_redis keeps them on the
 * same loop). Owning thread only.
 */
struct redisAsyncContext;
struct rp_loop;

/* Attaches <ac> (just created, not yet attached) to <loop>; 0 or -ENOMEM / -EINVAL. The
 * attachment is freed by hiredis's cleanup when <ac> is freed or disconnected. */
int rp_redis_loop_attach(struct redisAsyncContext *ac, struct rp_loop *loop);

#endif
