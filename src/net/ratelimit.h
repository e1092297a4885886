/* SPDX-License-Identifier: MIT */
#ifndef RP_NET_RATELIMIT_H
#define RP_NET_RATELIMIT_H
/* placeholder: written next */
#endif
