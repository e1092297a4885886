/* SPDX-License-Identifier: MIT */
#include "core/pattern.h"
