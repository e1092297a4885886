/* SPDX-License-Identifier: MIT */
/*
 * Numbers are validated by hand against the specification's grammar, then the digits
 * without underscores go to strtoll/strtod, so the C library's laxer syntax (leading zeros,
 * hex floats, "infinity") never leaks in.
 */
#include "config/toml_number.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"

/* The digits kept for strtoll/strtod; a word longer than the cap is refused first. */
struct digits {
    char s[RP_TOML_NUMBER_CAP + 1];
    size_t n;
};

static void
keep(struct digits *d, char c)
{
    d->s[d->n++] = c;
    d->s[d->n] = '\0';
}

/*
 * Digits of base <base> from *<i> in <s> (<n> bytes), each `_` between two digits, kept in
 * <d>. Returns how many digits, or -1 for a misplaced `_`.
 */
static int
scan_digits(const char *s, size_t n, size_t *i, int base, struct digits *d)
{
    int count = 0;
    while (*i < n) {
        int h = rp_hex_value(s[*i]);
        if (h >= 0 && h < base) {
            keep(d, s[(*i)++]);
            count++;
        } else if (s[*i] == '_') {
            int next = *i + 1 < n ? rp_hex_value(s[*i + 1]) : -1;
            if (!count || next < 0 || next >= base)
                return -1;
            (*i)++;
        } else {
            break;
        }
    }
    return count;
}

/* An integer with a 0x, 0o or 0b prefix in <s> (<n> bytes, no sign). */
static int
parse_prefixed(const char *s, size_t n, struct rp_toml_value *out, const char **why)
{
    int base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
    size_t i = 2;
    struct digits d = {.n = 0};
    int count = scan_digits(s, n, &i, base, &d);
    uint64_t v = 0;

    if (count <= 0 || i != n) {
        *why = base == 16  ? "malformed hexadecimal integer"
               : base == 8 ? "malformed octal integer"
                           : "malformed binary integer";
        return -EINVAL;
    }
    for (int k = 0; k < count; k++) {
        uint64_t h = (uint64_t)rp_hex_value(d.s[k]);
        if (v > ((uint64_t)INT64_MAX - h) / (uint64_t)base) {
            *why = "the integer does not fit in 64 bits";
            return -EINVAL;
        }
        v = v * (uint64_t)base + h;
    }
    out->kind = RP_TOML_INT;
    out->u.i = (int64_t)v;
    return 0;
}

/* A decimal integer or a float in <s> (<n> bytes, sign included). */
static int
parse_decimal(const char *s, size_t n, struct rp_toml_value *out, const char **why)
{
    struct digits d = {.n = 0};
    size_t i = 0;
    bool is_float = false;

    if (s[i] == '+' || s[i] == '-')
        keep(&d, s[i++]);
    const char *int_part = s + i;
    int count = scan_digits(s, n, &i, 10, &d);
    if (count <= 0 || (int_part[0] == '0' && count > 1))
        goto bad;
    if (i < n && s[i] == '.') {
        keep(&d, s[i++]);
        if (scan_digits(s, n, &i, 10, &d) <= 0)
            goto bad;
        is_float = true;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        keep(&d, s[i++]);
        if (i < n && (s[i] == '+' || s[i] == '-'))
            keep(&d, s[i++]);
        if (scan_digits(s, n, &i, 10, &d) <= 0)
            goto bad;
        is_float = true;
    }
    if (i != n)
        goto bad;
    errno = 0;
    if (is_float) {
        out->kind = RP_TOML_FLOAT;
        out->u.f = strtod(d.s, NULL);
        return 0;
    }
    out->kind = RP_TOML_INT;
    out->u.i = strtoll(d.s, NULL, 10);
    if (errno == ERANGE) {
        *why = "the integer does not fit in 64 bits";
        return -EINVAL;
    }
    return 0;

bad:
    *why = "malformed number (allowed: 42, -7, 1_000, 0x1F, 0o17, 0b101, 3.14, 1e6, inf, nan; "
           "no leading zeros)";
    return -EINVAL;
}

int
rp_toml_number_parse(const char *s, size_t n, bool colon_follows, struct rp_toml_value *out,
                     const char **why)
{
    const char *u = n && (s[0] == '+' || s[0] == '-') ? s + 1 : s;
    size_t un = n - (size_t)(u - s);

    if (colon_follows || (n >= 5 && s[4] == '-' && strspn(s, "0123456789") >= 4)) {
        *why = "dates and times are not supported (no setting takes one)";
        return -EINVAL;
    }
    if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0)) {
        out->kind = RP_TOML_BOOL;
        out->u.b = n == 4;
        return 0;
    }
    if (un == 3 && (memcmp(u, "inf", 3) == 0 || memcmp(u, "nan", 3) == 0)) {
        out->kind = RP_TOML_FLOAT;
        out->u.f = u[0] == 'i' ? (s[0] == '-' ? -INFINITY : INFINITY) : NAN;
        return 0;
    }
    if (un == 0 || !(u[0] >= '0' && u[0] <= '9')) {
        *why = "expected a value (a \"string\", a number, true, false, [an, array] or "
               "{an = inline_table})";
        return -EINVAL;
    }
    if (n > RP_TOML_NUMBER_CAP) {
        *why = "the number is too long";
        return -EINVAL;
    }
    if (un > 2 && u[0] == '0' && (u[1] == 'x' || u[1] == 'o' || u[1] == 'b')) {
        if (u != s) {
            *why = "an integer with a 0x, 0o or 0b prefix takes no sign";
            return -EINVAL;
        }
        return parse_prefixed(s, n, out, why);
    }
    return parse_decimal(s, n, out, why);
}
