/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of base/b64url: the RFC 4648 test vectors (in the url alphabet, unpadded),
 * bytes that need the url characters, round trips of every length up to 64, and the strict
 * checks (padding, length, alphabet, non-zero unused bits) that make each encoding unique.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/b64url.h"

static void
test_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        size_t n = rp_b64url_encode((const unsigned char *)plain[i], strlen(plain[i]), out);
        assert_int_equal(n, strlen(coded[i]));
        assert_int_equal(n, rp_b64url_encoded_len(strlen(plain[i])));
        assert_memory_equal(out, coded[i], n);
        assert_true(rp_b64url_valid(coded[i], n));
        unsigned char back[16];
        assert_int_equal(rp_b64url_decode(coded[i], n, back), strlen(plain[i]));
        assert_memory_equal(back, plain[i], strlen(plain[i]));
    }
}

static void
test_url_alphabet(void **state)
{
    (void)state;
    /* 0xfb 0xff 0xbf is "+/+/" in standard base64: "-_-_" here. */
    static const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
    char out[8];
    assert_int_equal(rp_b64url_encode(bytes, 3, out), 4);
    assert_memory_equal(out, "-_-_", 4);
    assert_false(rp_b64url_valid("+/+/", 4));
}

static void
test_round_trip_every_length(void **state)
{
    (void)state;
    unsigned char data[64], back[64];
    char text[100];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof(data); n++) {
        size_t len = rp_b64url_encode(data, n, text);
        assert_int_equal(len, rp_b64url_encoded_len(n));
        assert_true(rp_b64url_valid(text, len));
        assert_int_equal(rp_b64url_decode(text, len, back), n);
        assert_memory_equal(back, data, n);
    }
}

static void
test_strict(void **state)
{
    (void)state;
    assert_false(rp_b64url_valid("Zg==", 4));  /* padding */
    assert_false(rp_b64url_valid("Zm9vY", 5)); /* a length no byte string encodes to */
    assert_false(rp_b64url_valid("Zm 9", 4));  /* outside the alphabet */
    assert_false(rp_b64url_valid("Zh", 2));    /* "f" with non-zero unused bits */
    assert_false(rp_b64url_valid("Zm9", 3));   /* "fo" with non-zero unused bits */
    assert_true(rp_b64url_valid("Zg", 2));
    assert_true(rp_b64url_valid("Zm8", 3));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_url_alphabet),
        cmocka_unit_test(test_round_trip_every_length),
        cmocka_unit_test(test_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
