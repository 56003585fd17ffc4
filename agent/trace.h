// SPDX-License-Identifier: GPL-2.0-or-later
// salvage trace (agent/trace.cc): show, extract and check a flight-recorder
// channel. The entry point is cmd_trace in agent/commands.h; the reading and
// the files are agent/relayres-source.h and agent/capture-trace.h.
#pragma once

#include "agent/commands.h"
