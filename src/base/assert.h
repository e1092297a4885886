/* SPDX-License-Identifier: MIT */
#ifndef RP_BASE_ASSERT_H
#define RP_BASE_ASSERT_H
/*
 * Always-on invariants: cheap checks that abort with file:line. Never for peer input:
 * that is a protocol error, answered, not asserted. Any thread.
 */

_Noreturn void rp_assert_fail(const char *expr, const char *file, int line);

#define RP_ASSERT(cond) ((cond) ? (void)0 : rp_assert_fail(#cond, __FILE__, __LINE__))

#endif
