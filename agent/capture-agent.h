// SPDX-License-Identifier: GPL-2.0-or-later
// The capture agent: salvage as /init (PID 1) of the capture kernel.
#pragma once

namespace salvage {

// True when this process is the capture kernel's init: started as "/init"
// (the initramfs name), or PID 1 under any name but "salvage" (so that a
// container running `salvage save` as its entry point stays a command).
bool is_capture_agent(int argc, char** argv);

// Runs the capture and ends in the configured final action. Never returns.
[[noreturn]] void run_capture_agent();

}  // namespace salvage
