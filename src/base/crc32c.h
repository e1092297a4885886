/* SPDX-License-Identifier: MIT */
#ifndef RP_BASE_CRC32C_H
#define RP_BASE_CRC32C_H
/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the disk log's
 * records: the SSE4.2 instruction where the CPU has it, a table otherwise (same results).
 * Not a MAC: it finds torn writes and bit rot, not an attacker. Any thread.
 */
#include <stddef.h>
#include <stdint.h>

/* Continues the CRC <crc> (0 to start) over <n> bytes at <p>; returns the new CRC. */
uint32_t rp_crc32c_update(uint32_t crc, const void *p, size_t n);
/* rp_crc32c_update always by table (the fallback, tested on CPUs with the instruction). */
uint32_t rp_crc32c_table(uint32_t crc, const void *p, size_t n);
/* The CRC of <n> bytes at <p>. */
uint32_t rp_crc32c(const void *p, size_t n);

#endif
