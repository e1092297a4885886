/* SPDX-License-Identifier: MIT */
/*
 * The TOML reader against the cases of the TOML 1.0 specification: each section of the
 * specification (keys, strings, integers, floats, booleans, arrays, tables, inline tables)
 * has its valid examples and the invalid ones it names, checked for value or for the line,
 * column and message of the refusal.
 */
#include "config/toml.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static struct rp_toml_table *
parse_ok(const char *text)
{
    struct rp_toml_table *t = NULL;
    struct rp_diag diag = {{0}};
    if (rp_toml_parse(text, strlen(text), &t, &diag) != 0)
        fail_msg("parse failed: %s\n--- text ---\n%s", diag.msg, text);
    return t;
}

/* <text> must be refused with a message that starts with <where> and holds <what>. */
static void
parse_bad(const char *text, const char *where, const char *what)
{
    struct rp_toml_table *t = (struct rp_toml_table *)1;
    struct rp_diag diag = {{0}};
    if (rp_toml_parse(text, strlen(text), &t, &diag) == 0)
        fail_msg("accepted:\n%s", text);
    assert_null(t);
    if (strncmp(diag.msg, where, strlen(where)) != 0 || !strstr(diag.msg, what))
        fail_msg("message \"%s\" is not \"%s ... %s ...\" for:\n%s", diag.msg, where, what, text);
}

/* The value at the dotted path <path> ("a.b.c"; no quoted parts) of <t>. */
static const struct rp_toml_value *
at(const struct rp_toml_table *t, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    const struct rp_toml_value *v = NULL;
    for (char *part = buf, *dot; part; part = dot ? dot + 1 : NULL) {
        dot = strchr(part, '.');
        if (dot)
            *dot = '\0';
        v = rp_toml_get(t, part);
        if (!v) {
            fail_msg("no key %s (in %s)", part, path);
            break;
        }
        if (dot) {
            assert_int_equal(v->kind, RP_TOML_TABLE);
            t = v->u.tab;
        }
    }
    if (!v)
        abort();
    return v;
}

static void
assert_str(const struct rp_toml_table *t, const char *path, const char *want)
{
    const struct rp_toml_value *v = at(t, path);
    assert_int_equal(v->kind, RP_TOML_STRING);
    assert_string_equal(v->u.str.s, want);
}

static void
assert_int(const struct rp_toml_table *t, const char *path, int64_t want)
{
    const struct rp_toml_value *v = at(t, path);
    assert_int_equal(v->kind, RP_TOML_INT);
    assert_true(v->u.i == want);
}

static void
test_comments_and_keys(void **state)
{
    (void)state;
    struct rp_toml_table *t = parse_ok("# a whole-line comment\n"
                                       "key = \"value\"  # a comment after a value\n"
                                       "bare_key-1 = 1\n"
                                       "1234 = 2\n"
                                       "\"127.0.0.1\" = \"quoted, with dots\"\n"
                                       "'literal key' = 3\n"
                                       "\"\" = \"empty quoted key\"\n"
                                       "site.\"google.com\" = true\n"
                                       "fruit . color = \"yellow\"\r\n");
    assert_str(t, "key", "value");
    assert_int(t, "bare_key-1", 1);
    assert_int(t, "1234", 2);
    assert_string_equal(rp_toml_get(t, "127.0.0.1")->u.str.s, "quoted, with dots");
    assert_int_equal(rp_toml_get(t, "literal key")->u.i, 3);
    assert_str(t, "", "empty quoted key");
    const struct rp_toml_value *site = rp_toml_get(t, "site");
    assert_true(rp_toml_get(site->u.tab, "google.com")->u.b);
    assert_str(t, "fruit.color", "yellow");
    rp_toml_free(t);

    parse_bad("key = # no value\n", "1:7:", "expected a value");
    parse_bad("= \"no key\"\n", "1:1:", "expected a key");
    parse_bad("first = \"Tom\" last = \"Preston\"\n", "1:15:", "unexpected text after a value");
    parse_bad("name = \"a\"\nname = \"b\"\n", "2:1:", "duplicate key `name`");
    parse_bad("spelling = 1\n\"spelling\" = 2\n", "2:1:", "duplicate key");
    parse_bad("fruit.apple = 1\nfruit.apple.smooth = true\n",
              "2:1:", "`fruit.apple` is already an integer");
    parse_bad("a = 1 # bell \x07 in a comment\n", "1:14:", "control character in a comment");
    parse_bad("a = \"\xff\"\n", "1:6:", "invalid UTF-8");
}

static void
test_basic_strings(void **state)
{
    (void)state;
    struct rp_toml_table *t =
        parse_ok("str = \"I'm a string. \\\"Quote me\\\". Name\\tJos\\u00E9\\nLocation\\tSF.\"\n"
                 "esc = \"\\b\\t\\n\\f\\r\\\"\\\\\"\n"
                 "big = \"\\U0001F600\"\n"
                 "nul = \"a\\u0000b\"\n");
    assert_str(t, "str", "I'm a string. \"Quote me\". Name\tJos\xc3\xa9\nLocation\tSF.");
    assert_str(t, "esc", "\b\t\n\f\r\"\\");
    assert_str(t, "big", "\xf0\x9f\x98\x80");
    const struct rp_toml_value *nul = at(t, "nul");
    assert_int_equal(nul->u.str.len, 3);
    assert_memory_equal(nul->u.str.s, "a\0b", 3);
    rp_toml_free(t);

    parse_bad("a = \"bad \\x escape\"\n", "1:10:", "unknown escape `\\x`");
    parse_bad("a = \"\\e\"\n", "1:6:", "unknown escape");
    parse_bad("a = \"\\u12\"\n", "1:6:", "needs 4 hexadecimal digits");
    parse_bad("a = \"\\uD800\"\n", "1:6:", "not a Unicode scalar value");
    parse_bad("a = \"\\U00110000\"\n", "1:6:", "not a Unicode scalar value");
    parse_bad("a = \"no end\n", "1:12:", "a string ends on its own line");
    parse_bad("a = \"tab\tok, bell \x01 not\"\n", "1:19:", "control character in a string");
    parse_bad("a = \"open", "1:5:", "not closed");
}

static void
test_multiline_strings(void **state)
{
    (void)state;
    struct rp_toml_table *t =
        parse_ok("s1 = \"\"\"\nRoses are red\nViolets are blue\"\"\"\n"
                 "s2 = \"\"\"\r\nOne\r\nTwo\"\"\"\n"
                 "s3 = \"\"\"\nThe quick brown \\\n\n\n  fox jumps \\\n"
                 "    over the lazy dog.\"\"\"\n"
                 "s4 = \"\"\"Here are two quotation marks: \"\". Simple.\"\"\"\n"
                 "s5 = \"\"\"Here are three: \"\"\\\". Done.\"\"\"\n"
                 "s6 = \"\"\"\"This,\" she said, \"is a quote.\"\"\"\"\n"
                 "l1 = 'C:\\Users\\nodejs\\templates'\n"
                 "l2 = '<\\i\\c*\\s*>'\n"
                 "l3 = '''\nThe first newline is\ntrimmed in raw strings.\n'''\n"
                 "l4 = ''''That,' she said, 'is still pointless.''''\n"
                 "l5 = '''I [dw]on't need \\d{2} apples'''\n");
    assert_str(t, "s1", "Roses are red\nViolets are blue");
    assert_str(t, "s2", "One\nTwo");
    assert_str(t, "s3", "The quick brown fox jumps over the lazy dog.");
    assert_str(t, "s4", "Here are two quotation marks: \"\". Simple.");
    assert_str(t, "s5", "Here are three: \"\"\". Done.");
    assert_str(t, "s6", "\"This,\" she said, \"is a quote.\"");
    assert_str(t, "l1", "C:\\Users\\nodejs\\templates");
    assert_str(t, "l2", "<\\i\\c*\\s*>");
    assert_str(t, "l3", "The first newline is\ntrimmed in raw strings.\n");
    assert_str(t, "l4", "'That,' she said, 'is still pointless.'");
    assert_str(t, "l5", "I [dw]on't need \\d{2} apples");
    rp_toml_free(t);

    parse_bad("a = \"\"\"six quotes end too late\"\"\"\"\"\"\n", "1:", "too many quotes");
    parse_bad("a = 'literal\nover two lines'\n", "1:13:", "use ''' for several lines");
    parse_bad("\"\"\"key\"\"\" = 1\n", "1:1:", "a key cannot be a multi-line string");
    parse_bad("a = \"\"\"\\ x\n\"\"\"\n", "1:8:", "unknown escape");
}

static void
test_integers(void **state)
{
    (void)state;
    struct rp_toml_table *t = parse_ok("a = +99\nb = 42\nc = 0\nd = -17\ne = 1_000\n"
                                       "f = 5_349_221\ng = 53_49_221\nh = 1_2_3_4_5\n"
                                       "i = 0xDEADBEEF\nj = 0xdead_beef\nk = 0o01234567\n"
                                       "l = 0o755\nm = 0b11010110\nn = -0\no = +0\n"
                                       "max = 9_223_372_036_854_775_807\n"
                                       "min = -9223372036854775808\n"
                                       "hmax = 0x7FFFFFFFFFFFFFFF\n");
    assert_int(t, "a", 99);
    assert_int(t, "d", -17);
    assert_int(t, "e", 1000);
    assert_int(t, "f", 5349221);
    assert_int(t, "g", 5349221);
    assert_int(t, "h", 12345);
    assert_int(t, "i", 0xDEADBEEF);
    assert_int(t, "j", 0xDEADBEEF);
    assert_int(t, "k", 01234567);
    assert_int(t, "l", 0755);
    assert_int(t, "m", 214);
    assert_int(t, "n", 0);
    assert_int(t, "max", INT64_MAX);
    assert_int(t, "min", INT64_MIN);
    assert_int(t, "hmax", INT64_MAX);
    rp_toml_free(t);

    parse_bad("a = 012\n", "1:5:", "no leading zeros");
    parse_bad("a = 1__2\n", "1:5:", "malformed number");
    parse_bad("a = _1\n", "1:5:", "expected a value");
    parse_bad("a = 1_\n", "1:5:", "malformed number");
    parse_bad("a = 9223372036854775808\n", "1:5:", "does not fit in 64 bits");
    parse_bad("a = 0x8000000000000000\n", "1:5:", "does not fit in 64 bits");
    parse_bad("a = +0x1F\n", "1:5:", "takes no sign");
    parse_bad("a = 0X1F\n", "1:5:", "malformed number");
    parse_bad("a = 0o8\n", "1:5:", "malformed octal integer");
    parse_bad("a = 0b102\n", "1:5:", "malformed binary integer");
    parse_bad("a = 0x\n", "1:5:", "malformed number");
}

static void
test_floats_and_booleans(void **state)
{
    (void)state;
    struct rp_toml_table *t =
        parse_ok("f1 = +1.0\nf2 = 3.1415\nf3 = -0.01\nf4 = 5e+22\nf5 = 1e06\nf6 = -2E-2\n"
                 "f7 = 6.626e-34\nf8 = 224_617.445_991_228\nf9 = inf\nf10 = +inf\nf11 = -inf\n"
                 "f12 = nan\nf13 = -0.0\nyes = true\nno = false\n");
    assert_true(at(t, "f1")->kind == RP_TOML_FLOAT && at(t, "f1")->u.f == 1.0);
    assert_true(at(t, "f2")->u.f == 3.1415);
    assert_true(at(t, "f4")->u.f == 5e22);
    assert_true(at(t, "f5")->u.f == 1e6);
    assert_true(at(t, "f6")->u.f == -2e-2);
    assert_true(at(t, "f8")->u.f == 224617.445991228);
    assert_true(isinf(at(t, "f9")->u.f) && at(t, "f9")->u.f > 0);
    assert_true(isinf(at(t, "f11")->u.f) && at(t, "f11")->u.f < 0);
    assert_true(isnan(at(t, "f12")->u.f));
    assert_true(at(t, "yes")->kind == RP_TOML_BOOL && at(t, "yes")->u.b);
    assert_false(at(t, "no")->u.b);
    rp_toml_free(t);

    parse_bad("a = .7\n", "1:5:", "expected a value");
    parse_bad("a = 7.\n", "1:5:", "malformed number");
    parse_bad("a = 3.e+20\n", "1:5:", "malformed number");
    parse_bad("a = 01.5\n", "1:5:", "no leading zeros");
    parse_bad("a = True\n", "1:5:", "expected a value");
    parse_bad("a = infinity\n", "1:5:", "expected a value");
    parse_bad("a = 1979-05-27T07:32:00Z\n", "1:5:", "dates and times are not supported");
    parse_bad("a = 07:32:00\n", "1:5:", "dates and times are not supported");
}

static void
test_arrays(void **state)
{
    (void)state;
    struct rp_toml_table *t = parse_ok("integers = [ 1, 2, 3 ]\n"
                                       "colors = [ \"red\", 'yellow', \"\"\"green\"\"\" ]\n"
                                       "nested = [ [ 1, 2 ], [3, 4, 5] ]\n"
                                       "mixed = [ 0.1, \"x\", { a = 1 } ]\n"
                                       "empty = []\n"
                                       "multi = [\n  1, # one\n  2,\n  # a comment line\n]\n");
    const struct rp_toml_value *v = at(t, "integers");
    assert_int_equal(v->kind, RP_TOML_ARRAY);
    assert_int_equal(v->u.arr.n, 3);
    assert_true(v->u.arr.items[2].u.i == 3);
    assert_string_equal(at(t, "colors")->u.arr.items[2].u.str.s, "green");
    v = at(t, "nested");
    assert_int_equal(v->u.arr.items[1].u.arr.n, 3);
    assert_int_equal(at(t, "mixed")->u.arr.items[2].kind, RP_TOML_TABLE);
    assert_int_equal(at(t, "empty")->u.arr.n, 0);
    assert_int_equal(at(t, "multi")->u.arr.n, 2);
    rp_toml_free(t);

    parse_bad("a = [1, 2\n", "1:5:", "expected `,` or `]`");
    parse_bad("a = [1 2]\n", "1:8:", "expected `,` or `]`");
    parse_bad("a = [,]\n", "1:6:", "expected a value");
    parse_bad("a = [1,,2]\n", "1:8:", "expected a value");
    char deep[200] = "a = ";
    for (int i = 0; i < 70; i++)
        strcat(deep, "[");
    parse_bad(deep, "1:", "nest deeper than 64");
}

static void
test_tables(void **state)
{
    (void)state;
    struct rp_toml_table *t = parse_ok("[table-1]\nkey1 = \"some string\"\n"
                                       "[dog.\"tater.man\"]\ntype.name = \"pug\"\n"
                                       "[ j . \"ʞ\" . 'l' ]\nx = 1\n"
                                       "[x.y.z.w]\n[x]\na = 1\n"
                                       "[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n"
                                       "[fruit.apple.texture]\nsmooth = true\n");
    assert_str(t, "table-1.key1", "some string");
    const struct rp_toml_value *dog = rp_toml_get(t, "dog");
    const struct rp_toml_value *tater = rp_toml_get(dog->u.tab, "tater.man");
    assert_string_equal(rp_toml_get(rp_toml_get(tater->u.tab, "type")->u.tab, "name")->u.str.s,
                        "pug");
    assert_int(t, "x.a", 1);
    assert_int_equal(at(t, "x.y.z.w")->kind, RP_TOML_TABLE);
    assert_true(at(t, "fruit.apple.texture.smooth")->u.b);
    rp_toml_free(t);

    parse_bad("[fruit]\napple = \"red\"\n[fruit]\norange = 1\n",
              "3:1:", "table [fruit] is defined twice");
    parse_bad("[fruit]\napple = \"red\"\n[fruit.apple]\n", "3:1:", "`fruit.apple` is already a");
    parse_bad("[fruit]\napple.color = \"red\"\n[fruit.apple]\n",
              "3:1:", "dotted keys made it before");
    parse_bad("[a.b]\nc = 1\n[a]\nb.d = 2\n", "4:1:", "has its own header");
    parse_bad("[a]\n[a.b]\n[a]\n", "3:1:", "defined twice");
    parse_bad("[]\n", "1:2:", "expected a key");
    parse_bad("[a\nb = 1\n", "1:3:", "expected `]`");
    parse_bad("[a] b = 1\n", "1:5:", "unexpected text after a table header");
    parse_bad("[[products]]\n", "1:1:", "arrays of tables");
}

static void
test_inline_tables(void **state)
{
    (void)state;
    struct rp_toml_table *t =
        parse_ok("name = { first = \"Tom\", last = \"Preston-Werner\" }\n"
                 "point = { x = 1, y = 2 }\nanimal = { type.name = \"pug\" }\nnone = {}\n");
    assert_str(t, "name.last", "Preston-Werner");
    assert_int(t, "point.y", 2);
    assert_str(t, "animal.type.name", "pug");
    assert_int_equal(at(t, "none")->u.tab->n, 0);
    rp_toml_free(t);

    parse_bad("a = { x = 1, }\n", "1:14:", "no comma after its last key");
    parse_bad("a = { x = 1,\n y = 2 }\n", "1:13:", "expected a key");
    parse_bad("a = { x = 1\n}\n", "1:12:", "stays on one line");
    parse_bad("a = { x = 1, x = 2 }\n", "1:14:", "duplicate key `x`");
    parse_bad("[product]\ntype = { name = \"Nail\" }\ntype.edible = false\n",
              "3:1:", "inline table, which cannot be extended");
    parse_bad("[product]\ntype.name = \"Nail\"\n[product.type]\n", "3:1:", "defined twice");
    parse_bad("a = { b = 1 }\n[a.c]\n", "2:1:", "inline table, which cannot be extended");
}

static void
test_positions_and_caps(void **state)
{
    (void)state;
    unsigned line, col;
    const char *text = "a = 1\n\xc3\xa9t\xc3\xa9 = x\n";
    rp_toml_position(text, strlen(text), 14, &line, &col);
    assert_int_equal(line, 2);
    assert_int_equal(col, 7); /* characters, not bytes: é counts once */
    parse_bad("a = 1\n\xc3\xa9t\xc3\xa9 = x\n", "2:1:", "expected a key");
    parse_bad("a = 1\rb = 2\n", "1:6:", "unexpected text after a value");

    char *big = malloc(RP_TOML_TEXT_CAP + 2);
    memset(big, '#', RP_TOML_TEXT_CAP + 1);
    big[RP_TOML_TEXT_CAP + 1] = '\0';
    struct rp_toml_table *t = NULL;
    struct rp_diag diag;
    assert_int_not_equal(rp_toml_parse(big, RP_TOML_TEXT_CAP + 1, &t, &diag), 0);
    assert_non_null(strstr(diag.msg, "larger than 1 MiB"));
    free(big);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comments_and_keys),
        cmocka_unit_test(test_basic_strings),
        cmocka_unit_test(test_multiline_strings),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_floats_and_booleans),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_inline_tables),
        cmocka_unit_test(test_positions_and_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
