/* SPDX-License-Identifier: MIT */
#include "core/topic_name.h"
