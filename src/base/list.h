/* SPDX-License-Identifier: MIT */
#ifndef RP_BASE_LIST_H
#define RP_BASE_LIST_H
/*
 * Intrusive circular doubly-linked list. A zeroed node is "not linked"; a list head must be
 * initialised with rp_list_init. No locking: the owner of the list serialises access.
 */
#include <stdbool.h>
#include <stddef.h>

struct rp_list {
    struct rp_list *prev, *next;
};

#define RP_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline void
rp_list_init(struct rp_list *head)
{
    head->prev = head->next = head;
}

static inline bool
rp_list_empty(const struct rp_list *head)
{
    return head->next == head;
}

static inline bool
rp_list_linked(const struct rp_list *node)
{
    return node->next != NULL;
}

static inline void
rp_list_insert_tail(struct rp_list *head, struct rp_list *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

/* Links the unlinked <node> right after <pos>, a linked node or the head (right after the
 * head is the front). To keep a list ordered, insert after the last node that sorts before
 * <node>, or after the head. */
static inline void
rp_list_insert_after(struct rp_list *pos, struct rp_list *node)
{
    rp_list_insert_tail(pos->next, node);
}

static inline void
rp_list_insert_head(struct rp_list *head, struct rp_list *node)
{
    rp_list_insert_tail(head->next, node);
}

/* Unlinks <node> if it is linked; leaves it zeroed (not linked). */
static inline void
rp_list_remove(struct rp_list *node)
{
    if (!node->next)
        return;
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = NULL;
}

#define RP_LIST_FOREACH_SAFE(pos, tmp, head)                                                       \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);                               \
         (pos) = (tmp), (tmp) = (pos)->next)

#endif
