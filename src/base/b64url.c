/* SPDX-License-Identifier: MIT */
#include "base/b64url.h"

#include <stdint.h>

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

bool
rp_b64url_valid(const char *s, size_t n)
{
    if (n % 4 == 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if (value((unsigned char)s[i]) < 0)
            return false;
    if (n % 4 == 2)
        return (value((unsigned char)s[n - 1]) & 0x0f) == 0;
    if (n % 4 == 3)
        return (value((unsigned char)s[n - 1]) & 0x03) == 0;
    return true;
}

size_t
rp_b64url_decode(const char *s, size_t n, unsigned char *out)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 6) | (uint32_t)value((unsigned char)s[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return o;
}

size_t
rp_b64url_encoded_len(size_t n)
{
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t
rp_b64url_encode(const unsigned char *p, size_t n, char *out)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = ALPHABET[(acc >> bits) & 0x3f];
        }
    }
    if (bits > 0)
        out[o++] = ALPHABET[(acc << (6 - bits)) & 0x3f];
    return o;
}
