/* SPDX-License-Identifier: MIT */
/* hiredis's event hooks mapped onto one rp_loop registration per connection. */
#include "cluster/redis_loop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <hiredis/async.h>

#include "base/alloc.h"
#include "base/list.h"
#include "loop/loop.h"

struct attachment {
    struct rp_loop_io io; /* first: the callback finds the attachment from it */
    struct rp_loop *loop;
    redisAsyncContext *ac;
    uint32_t want;    /* what hiredis asked for */
    bool registered;  /* io is in the loop */
    bool dispatching; /* inside on_ready: cleanup leaves the free to it */
    bool dead;        /* hiredis cleaned up during on_ready */
};

static void
on_ready(struct rp_loop_io *io, uint32_t events)
{
    struct attachment *a = RP_CONTAINER_OF(io, struct attachment, io);
    /* Either handler may disconnect and free the context, which cleans the attachment
     * up: while dispatching, cleanup only marks it dead and the free happens here. */
    a->dispatching = true;
    if (events & (RP_LOOP_READ | RP_LOOP_HUP))
        redisAsyncHandleRead(a->ac); /* a hang-up: the read sees EOF or the error */
    if (!a->dead && (events & RP_LOOP_WRITE))
        redisAsyncHandleWrite(a->ac);
    a->dispatching = false;
    if (a->dead)
        free(a);
}

static void
update(struct attachment *a, uint32_t want)
{
    a->want = want;
    if (want && !a->registered) {
        if (rp_loop_add(a->loop, &a->io, want) == 0)
            a->registered = true;
    } else if (want) {
        rp_loop_modify(a->loop, &a->io, want);
    } else if (a->registered) {
        rp_loop_remove(a->loop, &a->io);
        a->registered = false;
    }
}

static void
add_read(void *p)
{
    struct attachment *a = p;
    update(a, a->want | RP_LOOP_READ);
}

static void
del_read(void *p)
{
    struct attachment *a = p;
    update(a, a->want & ~(uint32_t)RP_LOOP_READ);
}

static void
add_write(void *p)
{
    struct attachment *a = p;
    update(a, a->want | RP_LOOP_WRITE);
}

static void
del_write(void *p)
{
    struct attachment *a = p;
    update(a, a->want & ~(uint32_t)RP_LOOP_WRITE);
}

static void
cleanup(void *p)
{
    struct attachment *a = p;
    update(a, 0);
    if (a->dispatching)
        a->dead = true;
    else
        free(a);
}

int
rp_redis_loop_attach(redisAsyncContext *ac, struct rp_loop *loop)
{
    if (ac->ev.data)
        return -EINVAL;
    struct attachment *a = rp_xcalloc(1, sizeof(*a));
    a->io.fd = ac->c.fd;
    a->io.fn = on_ready;
    a->loop = loop;
    a->ac = ac;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = a;
    return 0;
}
