/* SPDX-License-Identifier: MIT */
#include "config/config.h"
