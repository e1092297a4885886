/* SPDX-License-Identifier: MIT */
#ifndef RP_BASE_HEX_H
#define RP_BASE_HEX_H
/* Hex digits. Pure; any thread. */

/* The value of hex digit <c> (either case), or -1 when it is not one. */
static inline int
rp_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
