/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of base/list: insertion at both ends and after a node (front, middle, back),
 * removal that leaves a node unlinked, and an ordered insert as front/conn.c keeps its
 * expiry list, checked in both directions so prev and next agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/list.h"

struct item {
    int key;
    struct rp_list node;
};

/* Checks that <head> holds exactly <want>[0..n) front to back, walking next and prev. */
static void
assert_keys(struct rp_list *head, const int *want, size_t n)
{
    size_t i = 0;
    for (struct rp_list *p = head->next; p != head; p = p->next, i++) {
        assert_true(i < n);
        assert_int_equal(RP_CONTAINER_OF(p, struct item, node)->key, want[i]);
        assert_ptr_equal(p->next->prev, p);
    }
    assert_int_equal(i, n);
    for (struct rp_list *p = head->prev; p != head; p = p->prev) {
        i--;
        assert_int_equal(RP_CONTAINER_OF(p, struct item, node)->key, want[i]);
        assert_ptr_equal(p->prev->next, p);
    }
    assert_int_equal(i, 0);
}

static void
test_insert_after(void **state)
{
    struct rp_list head;
    rp_list_init(&head);
    struct item a = {.key = 1}, b = {.key = 2}, c = {.key = 3}, d = {.key = 4};

    rp_list_insert_after(&head, &b.node); /* after the head of an empty list: the only one */
    assert_keys(&head, (int[]){2}, 1);
    rp_list_insert_after(&head, &a.node); /* after the head: the front */
    assert_keys(&head, (int[]){1, 2}, 2);
    rp_list_insert_after(&b.node, &d.node); /* after the last: the back */
    assert_keys(&head, (int[]){1, 2, 4}, 3);
    rp_list_insert_after(&b.node, &c.node); /* in the middle */
    assert_keys(&head, (int[]){1, 2, 3, 4}, 4);

    rp_list_remove(&c.node);
    assert_false(rp_list_linked(&c.node));
    assert_keys(&head, (int[]){1, 2, 4}, 3);
    rp_list_remove(&c.node); /* not linked: a no-op */
    assert_keys(&head, (int[]){1, 2, 4}, 3);
    rp_list_insert_after(&a.node, &c.node); /* a removed node can be linked again */
    assert_keys(&head, (int[]){1, 3, 2, 4}, 4);
}

static void
test_head_and_tail(void **state)
{
    struct rp_list head;
    rp_list_init(&head);
    assert_true(rp_list_empty(&head));
    struct item a = {.key = 1}, b = {.key = 2}, c = {.key = 3};
    assert_false(rp_list_linked(&a.node));
    rp_list_insert_tail(&head, &b.node);
    rp_list_insert_tail(&head, &c.node);
    rp_list_insert_head(&head, &a.node);
    assert_false(rp_list_empty(&head));
    assert_true(rp_list_linked(&a.node));
    assert_keys(&head, (int[]){1, 2, 3}, 3);

    struct rp_list *pos, *tmp;
    RP_LIST_FOREACH_SAFE (pos, tmp, &head)
        rp_list_remove(pos);
    assert_true(rp_list_empty(&head));
}

/* Keeps <head> sorted by key, equal keys in arrival order: walk from the tail to the last
 * node not after <it>, as front/conn.c orders streams by token expiry. */
static void
insert_sorted(struct rp_list *head, struct item *it)
{
    struct rp_list *pos = head->prev;
    while (pos != head && RP_CONTAINER_OF(pos, struct item, node)->key > it->key)
        pos = pos->prev;
    rp_list_insert_after(pos, &it->node);
}

static void
test_ordered_insert(void **state)
{
    enum { N = 200 };
    static struct item items[N];
    struct rp_list head;
    rp_list_init(&head);
    uint32_t x = 2463534242u;
    for (int i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        items[i] = (struct item){.key = (int)(x % 50)};
        insert_sorted(&head, &items[i]);
    }
    int n = 0;
    const struct item *prev = NULL;
    for (struct rp_list *p = head.next; p != &head; p = p->next, n++) {
        const struct item *it = RP_CONTAINER_OF(p, struct item, node);
        if (prev) {
            assert_true(prev->key <= it->key);
            if (prev->key == it->key)
                assert_true(prev < it); /* equal keys keep arrival order */
        }
        assert_ptr_equal(p->next->prev, p);
        prev = it;
    }
    assert_int_equal(n, N);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_after),
        cmocka_unit_test(test_head_and_tail),
        cmocka_unit_test(test_ordered_insert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
