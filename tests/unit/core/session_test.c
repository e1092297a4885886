/* SPDX-License-Identifier: MIT */
/* Unit tests of core/session: the session table, ownership, the buffer cap, expiry by sweep
 * and the persisted form. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/session.h"

static const struct rp_session_config cfg = {.ttl_ms = 30000, .buffer = 3};

static void
note_expired(void *ctx, const char *id)
{
    char *last = ctx;
    memcpy(last, id, RP_SESSION_ID_LEN + 1);
}

static void
test_create_ids(void **state)
{
    (void)state;
    struct rp_session_table *t = rp_session_table_new(&cfg);
    const char *topics[] = {"news", "a/+"};
    char a[RP_SESSION_ID_LEN + 1], b[RP_SESSION_ID_LEN + 1];
    assert_int_equal(rp_session_create(t, "ip:127.0.0.1", topics, 2, 1000, a), 0);
    assert_int_equal(rp_session_create(t, "ip:127.0.0.1", topics, 2, 1000, b), 0);
    assert_int_equal(strlen(a), RP_SESSION_ID_LEN);
    assert_true(rp_session_id_valid(a, strlen(a)));
    assert_string_not_equal(a, b);
    assert_false(rp_session_id_valid("ABCDEF", 6));
    assert_false(rp_session_id_valid("0123456789abcdef0123456789abcdeG", 32));

    struct rp_session_info info;
    assert_int_equal(rp_session_get(t, a, &info), 0);
    assert_string_equal(info.owner, "ip:127.0.0.1");
    assert_int_equal(info.n_topics, 2);
    assert_string_equal(info.topics[1], "a/+");
    assert_int_equal(info.n_streams, 1);
    rp_session_info_fini(&info);
    assert_int_equal(rp_session_get(t, "00000000000000000000000000000000", &info), -ENOENT);
    assert_int_equal(rp_session_get(t, "short", &info), -ENOENT);

    struct rp_session_totals tot;
    rp_session_totals(t, &tot);
    assert_int_equal(tot.connected, 2);
    assert_int_equal(tot.created, 2);
    rp_session_table_free(t);
}

static void
test_owner_and_resume(void **state)
{
    (void)state;
    struct rp_session_table *t = rp_session_table_new(&cfg);
    const char *topics[] = {"news"};
    char id[RP_SESSION_ID_LEN + 1];
    assert_int_equal(rp_session_create(t, "sub:alice", topics, 1, 1000, id), 0);
    rp_session_detach(t, id, 42, 2000);

    struct rp_session_info info;
    /* Another subject is refused and counted; the session stays as it was. */
    assert_int_equal(rp_session_attach(t, id, "sub:mallory", NULL, 0, &info), -EPERM);
    assert_int_equal(rp_session_peek(t, id, "sub:mallory", &info), -EPERM);
    struct rp_session_totals tot;
    rp_session_totals(t, &tot);
    assert_int_equal(tot.hijacks_refused, 1);
    assert_int_equal(tot.disconnected, 1);
    assert_int_equal(tot.resumes, 0);

    assert_int_equal(rp_session_attach(t, id, "sub:alice", NULL, 0, &info), 0);
    assert_int_equal(info.last_seq, 42);
    assert_int_equal(info.n_topics, 1);
    assert_string_equal(info.topics[0], "news");
    rp_session_info_fini(&info);
    rp_session_totals(t, &tot);
    assert_int_equal(tot.connected, 1);
    assert_int_equal(tot.disconnected, 0);
    assert_int_equal(tot.resumes, 1);

    /* New topics replace the remembered ones. */
    const char *more[] = {"news", "sport"};
    assert_int_equal(rp_session_attach(t, id, "sub:alice", more, 2, NULL), 0);
    rp_session_detach(t, id, 50, 3000);
    assert_int_equal(rp_session_get(t, id, &info), 0);
    assert_int_equal(info.n_streams, 1); /* two attached, one left */
    assert_int_equal(info.n_topics, 2);
    assert_int_equal(info.last_seq, 50);
    rp_session_info_fini(&info);
    rp_session_table_free(t);
}

static void
test_sweep_in_disconnect_order(void **state)
{
    (void)state;
    struct rp_session_table *t = rp_session_table_new(&cfg);
    char a[RP_SESSION_ID_LEN + 1], b[RP_SESSION_ID_LEN + 1], c[RP_SESSION_ID_LEN + 1];
    char last[RP_SESSION_ID_LEN + 1] = "";
    rp_session_create(t, "", NULL, 0, 0, a);
    rp_session_create(t, "", NULL, 0, 0, b);
    rp_session_create(t, "", NULL, 0, 0, c);
    rp_session_detach(t, b, 0, 1000);
    rp_session_detach(t, a, 0, 5000);
    /* c stays connected: never expires. */
    assert_int_equal(rp_session_sweep(t, 30999, note_expired, last), 0);
    assert_int_equal(rp_session_sweep(t, 31000, note_expired, last), 1);
    assert_string_equal(last, b);
    assert_int_equal(rp_session_get(t, b, &(struct rp_session_info){0}), -ENOENT);
    assert_int_equal(rp_session_sweep(t, 35000, note_expired, last), 1);
    assert_string_equal(last, a);
    assert_int_equal(rp_session_sweep(t, 1000000, note_expired, last), 0);
    assert_int_equal(rp_session_count(t), 1);
    struct rp_session_totals tot;
    rp_session_totals(t, &tot);
    assert_int_equal(tot.expiries, 2);
    /* An expired id is unknown: attach says so. */
    assert_int_equal(rp_session_attach(t, a, "", NULL, 0, NULL), -ENOENT);
    rp_session_table_free(t);
}

static void
test_buffer_cap_expires(void **state)
{
    (void)state;
    struct rp_session_table *t = rp_session_table_new(&cfg);
    char id[RP_SESSION_ID_LEN + 1], last[RP_SESSION_ID_LEN + 1] = "";
    rp_session_create(t, "", NULL, 0, 0, id);
    /* Connected: sends are not counted against the buffer. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(rp_session_note_send(t, id, 10, note_expired, last), 0);
    rp_session_detach(t, id, 0, 100);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rp_session_note_send(t, id, 10, note_expired, last), 0);
    struct rp_session_totals tot;
    rp_session_totals(t, &tot);
    assert_int_equal(tot.buffered_bytes, 30);
    assert_int_equal(rp_session_note_send(t, id, 10, note_expired, last), -ENOSPC);
    assert_string_equal(last, id);
    assert_int_equal(rp_session_note_send(t, id, 10, note_expired, last), -ENOENT);
    rp_session_totals(t, &tot);
    assert_int_equal(tot.buffered_bytes, 0);
    assert_int_equal(tot.disconnected, 0);
    assert_int_equal(tot.expiries, 1);
    rp_session_table_free(t);
}

static void
test_adopt(void **state)
{
    (void)state;
    struct rp_session_table *t = rp_session_table_new(&cfg);
    char id[RP_SESSION_ID_LEN + 1];
    rp_session_create(t, "sub:alice", NULL, 0, 0, id);
    rp_session_detach(t, id, 9, 100);
    rp_session_note_send(t, id, 5, NULL, NULL);
    /* A handed-over stream: no owner check, counted connected, the buffer handed to it. */
    assert_int_equal(rp_session_adopt(t, id), 0);
    struct rp_session_totals tot;
    rp_session_totals(t, &tot);
    assert_int_equal(tot.connected, 1);
    assert_int_equal(tot.disconnected, 0);
    assert_int_equal(tot.buffered_bytes, 0);
    assert_int_equal(rp_session_sweep(t, 1000000, NULL, NULL), 0); /* connected: stays */
    assert_int_equal(rp_session_adopt(t, "0123456789abcdef0123456789abcdef"), -ENOENT);
    rp_session_table_free(t);
}

static void
test_owned_by(void **state)
{
    (void)state;
    struct rp_session_table *t = rp_session_table_new(&cfg);
    char a[RP_SESSION_ID_LEN + 1], b[RP_SESSION_ID_LEN + 1], c[RP_SESSION_ID_LEN + 1];
    rp_session_create(t, "sub:alice", NULL, 0, 0, a);
    rp_session_create(t, "sub:bob", NULL, 0, 0, b);
    rp_session_create(t, "sub:alice", NULL, 0, 0, c);
    char ids[4][RP_SESSION_ID_LEN + 1];
    assert_int_equal(rp_session_owned_by(t, "sub:alice", ids, 4), 2);
    assert_true(strcmp(ids[0], a) == 0 || strcmp(ids[1], a) == 0);
    assert_true(strcmp(ids[0], c) == 0 || strcmp(ids[1], c) == 0);
    assert_int_equal(rp_session_owned_by(t, "sub:alice", ids, 1), 2);
    assert_int_equal(rp_session_owned_by(t, "sub:carol", ids, 4), 0);
    rp_session_table_free(t);
}

static void
test_encode_decode(void **state)
{
    (void)state;
    struct rp_session_table *t = rp_session_table_new(&cfg);
    const char *topics[] = {"news", "a/#"};
    char a[RP_SESSION_ID_LEN + 1], b[RP_SESSION_ID_LEN + 1];
    rp_session_create(t, "ua:Mozilla/5.0 (X11; 100%)\n", topics, 2, 10, a);
    rp_session_create(t, "", NULL, 0, 20, b);
    rp_session_detach(t, a, 77, 500);
    rp_session_note_send(t, a, 12, NULL, NULL);

    struct rp_buf buf;
    rp_buf_init(&buf, 1 << 20);
    assert_true(rp_session_table_encode(t, false, &buf));
    struct rp_buf again;
    rp_buf_init(&again, 1 << 20);
    assert_false(rp_session_table_encode(t, false, &again)); /* nothing changed */
    assert_int_equal(again.len, 0);
    rp_buf_fini(&again);

    struct rp_session_table *u = rp_session_table_new(&cfg);
    assert_int_equal(rp_session_table_decode(u, buf.data, buf.len, 9000), 2);
    struct rp_session_info info;
    assert_int_equal(rp_session_get(u, a, &info), 0);
    assert_string_equal(info.owner, "ua:Mozilla/5.0 (X11; 100%)\n");
    assert_int_equal(info.n_topics, 2);
    assert_string_equal(info.topics[1], "a/#");
    assert_int_equal(info.last_seq, 77);
    assert_int_equal(info.n_buffered, 1);
    assert_int_equal(info.n_streams, 0);
    assert_int_equal(info.disconnected_ms, 9000); /* restored: disconnected since the start */
    assert_int_equal(info.created_ms, 10);
    rp_session_info_fini(&info);
    /* b was connected: restored disconnected too. */
    assert_int_equal(rp_session_get(u, b, &info), 0);
    assert_int_equal(info.n_streams, 0);
    rp_session_info_fini(&info);
    struct rp_session_totals tot;
    rp_session_totals(u, &tot);
    assert_int_equal(tot.disconnected, 2);
    assert_int_equal(tot.buffered_bytes, 12);
    assert_int_equal(rp_session_sweep(u, 9000 + 30000, NULL, NULL), 2);

    /* Damaged input: bad lines are skipped, a foreign header refused. */
    assert_int_equal(rp_session_table_decode(u, "garbage\n", 8, 0), -EINVAL);
    const char *bad = "revenprox-sessions 1\nnot a line\n"
                      "0123456789abcdef0123456789abcdef 1 2 3 4 5 =own%4 0\n"
                      "0123456789abcdef0123456789abcdef 1 2 3 4 5 =own 2 x\n"
                      "0123456789abcdef0123456789abcdef 1 2 3 4 5 =own%20er 1 t\n";
    assert_int_equal(rp_session_table_decode(u, bad, strlen(bad), 0), 1);
    assert_int_equal(rp_session_get(u, "0123456789abcdef0123456789abcdef", &info), 0);
    assert_string_equal(info.owner, "own er");
    rp_session_info_fini(&info);
    rp_buf_fini(&buf);
    rp_session_table_free(u);
    rp_session_table_free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_ids),
        cmocka_unit_test(test_owner_and_resume),
        cmocka_unit_test(test_sweep_in_disconnect_order),
        cmocka_unit_test(test_buffer_cap_expires),
        cmocka_unit_test(test_adopt),
        cmocka_unit_test(test_owned_by),
        cmocka_unit_test(test_encode_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
