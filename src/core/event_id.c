/* SPDX-License-Identifier: MIT */
#include "core/event_id.h"
