/* SPDX-License-Identifier: MIT */
#include "http/http_parser.h"
