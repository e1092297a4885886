/* SPDX-License-Identifier: MIT */
#include "http/response.h"
