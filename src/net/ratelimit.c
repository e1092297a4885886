/* SPDX-License-Identifier: MIT */
#include "net/ratelimit.h"
