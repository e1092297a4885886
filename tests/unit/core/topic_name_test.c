/* SPDX-License-Identifier: MIT */
/* Unit tests of core/topic_name: name rules, UUIDv5 vectors and UUID formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/topic_name.h"

static const char *
check(const char *name)
{
    return rp_topic_name_check(name, strlen(name));
}

static void
test_valid_names(void **state)
{
    /* "...", ".a" and "a." are ordinary segments: only "." and ".." are refused. */
    static const char *const valid[] = {
        "a",       "Z",          "0",         "-",         "_",
        "news",    "...",        ".a",        "a./b.",     "v1.2.3",
        "x/.../y", "news/sport", "a/b/c/d/e", "A.b_c-d/0", "orders/eu-west/42",
    };
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        const char *why = check(valid[i]);
        if (why)
            fail_msg("'%s' should be valid, got: %s", valid[i], why);
    }
}

static void
test_length_bounds(void **state)
{
    char name[RP_TOPIC_NAME_MAX + 2];
    memset(name, 'x', sizeof(name));
    assert_null(rp_topic_name_check(name, RP_TOPIC_NAME_MAX));
    assert_string_equal(rp_topic_name_check(name, RP_TOPIC_NAME_MAX + 1),
                        "topic name is longer than 255 bytes");
    assert_string_equal(rp_topic_name_check(name, 0), "topic name is empty");
    /* Only <len> bytes are read: a longer buffer behind them does not matter. */
    assert_null(rp_topic_name_check("ab/+", 2));
}

struct bad_case {
    const char *name;
    const char *why;
};

static void
test_invalid_names(void **state)
{
    static const struct bad_case cases[] = {
        {"a/+/b", "topic name contains '+' (wildcards belong to subscription patterns)"},
        {"+", "topic name contains '+' (wildcards belong to subscription patterns)"},
        {"a/#", "topic name contains '#' (wildcards belong to subscription patterns)"},
        {"a#b", "topic name contains '#' (wildcards belong to subscription patterns)"},
        {"a b", "topic name contains a character outside a-z A-Z 0-9 - _ . /"},
        {"caf\xc3\xa9", "topic name contains a character outside a-z A-Z 0-9 - _ . /"},
        {"a\nb", "topic name contains a character outside a-z A-Z 0-9 - _ . /"},
        {"a:b", "topic name contains a character outside a-z A-Z 0-9 - _ . /"},
        {"a\\b", "topic name contains a character outside a-z A-Z 0-9 - _ . /"},
        {"/a", "topic name starts with '/'"},
        {"/", "topic name starts with '/'"},
        {"a/", "topic name ends with '/'"},
        {"a//b", "topic name contains an empty segment ('//')"},
        {".", "topic name contains a '.' segment"},
        {"a/./b", "topic name contains a '.' segment"},
        {"..", "topic name contains a '..' segment"},
        {"a/..", "topic name contains a '..' segment"},
        {"../etc/passwd", "topic name contains a '..' segment"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why = check(cases[i].name);
        if (!why)
            fail_msg("'%s' should be invalid", cases[i].name);
        assert_string_equal(why, cases[i].why);
    }
}

static void
test_nul_byte_is_invalid(void **state)
{
    assert_string_equal(rp_topic_name_check("a\0b", 3),
                        "topic name contains a character outside a-z A-Z 0-9 - _ . /");
}

static void
test_every_byte(void **state)
{
    /* Exactly the documented alphabet is accepted as a one-byte name. */
    for (int c = 0; c < 256; c++) {
        char name[1] = {(char)c};
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
        if (ok != (rp_topic_name_check(name, 1) == NULL))
            fail_msg("byte 0x%02x: expected %s", c, ok ? "valid" : "invalid");
    }
}

static void
uuid_str(const char *name, char out[RP_UUID_STR_LEN + 1])
{
    uint8_t u[16];
    rp_topic_uuid(name, strlen(name), u);
    rp_uuid_format(u, out);
}

/* Expected values from python3: uuid.uuid5(uuid.UUID(RP_TOPIC_UUID_NAMESPACE), name). */
static void
test_system_names(void **state)
{
    (void)state;
    assert_string_equal(RP_TOPIC_SYSTEM_PREFIX, "_revenprox/");
    assert_true(rp_topic_name_is_system("_revenprox/metrics", 18));
    assert_true(rp_topic_name_is_system("_revenprox/a/b", 14));
    assert_null(rp_topic_name_check("_revenprox/metrics", 18)); /* still a valid name */
    assert_false(rp_topic_name_is_system("_revenprox", 10));    /* the segment alone is not */
    assert_false(rp_topic_name_is_system("_revenprox/metrics", 10));
    assert_false(rp_topic_name_is_system("_revenproxy/metrics", 19));
    assert_false(rp_topic_name_is_system("a/_revenprox/metrics", 20));
    assert_false(rp_topic_name_is_system("_RevenProx/metrics", 18));
    assert_false(rp_topic_name_is_system("", 0));
}

static void
test_topic_uuid_vectors(void **state)
{
    static const struct {
        const char *name, *uuid;
    } vectors[] = {
        {"a", "ebf1c5bf-ddb5-5a29-94a6-b62eb06bbd64"},
        {"news", "ddaaa8b4-2e17-58af-ad21-1fe6d8905b7e"},
        {"news/sport", "39388d99-5c1a-5614-ac61-0e8ecd6ca1e8"},
        {"orders/eu-west/42", "5a085cef-22f4-5cab-bbf7-1e23a1375f4e"},
        {"A.b_c-d/0", "a91d21ce-cffb-533a-a2ae-89e22dd0e5c4"},
        {"", "021e3ebb-5b3d-58e3-9bb1-f905d817ae4f"},
    };
    char s[RP_UUID_STR_LEN + 1];
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uuid_str(vectors[i].name, s);
        assert_string_equal(s, vectors[i].uuid);
    }
    /* A name of the maximum length (255 'x'). */
    char name[RP_TOPIC_NAME_MAX + 1];
    memset(name, 'x', RP_TOPIC_NAME_MAX);
    name[RP_TOPIC_NAME_MAX] = '\0';
    uuid_str(name, s);
    assert_string_equal(s, "f33d8be9-eb88-5a35-ac64-df877b9c15ba");
}

static void
test_uuid_v5_rfc9562_vector(void **state)
{
    /* RFC 9562 appendix A.4: UUIDv5 of "www.example.com" in the DNS namespace. */
    static const uint8_t dns_ns[16] = {0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                       0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
    uint8_t u[16];
    char s[RP_UUID_STR_LEN + 1];
    rp_uuid_v5(dns_ns, "www.example.com", 15, u);
    rp_uuid_format(u, s);
    assert_string_equal(s, "2ed6657d-e927-568b-95e1-2665a8aea6a2");
    assert_int_equal(u[6] >> 4, 5);      /* version */
    assert_int_equal(u[8] & 0xc0, 0x80); /* variant */
}

static void
test_uuid_depends_on_exact_bytes(void **state)
{
    uint8_t a[16], b[16], c[16];
    rp_topic_uuid("news/sport", 10, a);
    rp_topic_uuid("news/sport", 4, b); /* "news" */
    rp_topic_uuid("news", 4, c);
    assert_memory_not_equal(a, b, 16);
    assert_memory_equal(b, c, 16);
}

static void
test_uuid_format(void **state)
{
    uint8_t u[16];
    for (int i = 0; i < 16; i++)
        u[i] = (uint8_t)(i * 17);
    char s[RP_UUID_STR_LEN + 2];
    memset(s, '@', sizeof(s));
    rp_uuid_format(u, s);
    assert_string_equal(s, "00112233-4455-6677-8899-aabbccddeeff");
    assert_int_equal(s[RP_UUID_STR_LEN + 1], '@'); /* nothing past the NUL */
    memset(u, 0xff, sizeof(u));
    rp_uuid_format(u, s);
    assert_string_equal(s, "ffffffff-ffff-ffff-ffff-ffffffffffff");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_names),
        cmocka_unit_test(test_system_names),
        cmocka_unit_test(test_length_bounds),
        cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_nul_byte_is_invalid),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_topic_uuid_vectors),
        cmocka_unit_test(test_uuid_v5_rfc9562_vector),
        cmocka_unit_test(test_uuid_depends_on_exact_bytes),
        cmocka_unit_test(test_uuid_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
