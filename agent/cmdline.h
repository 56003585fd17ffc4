// SPDX-License-Identifier: GPL-2.0-or-later
// The capture kernel's command line, built from the running one. Pure
// functions: `salvage load` feeds them /proc/cmdline, tests feed strings.
// docs/arming.md lists every parameter and which distribution's kdump stack
// it comes from.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "formats/result.h"

namespace salvage {

// Splits a kernel command line the way the kernel's next_arg() does
// (lib/cmdline.c, Linux 6.1): whitespace separates, double quotes protect
// spaces ("a b" or key="a b"). Tokens keep their quotes so they can be
// passed on verbatim. A lone "--" and everything after it is kept as the
// last token set, because those words belong to init, not the kernel.
struct SplitCmdline {
  std::vector<std::string> params;    // kernel parameters, in order
  std::vector<std::string> init_args; // words after "--" (for the running init)
};
SplitCmdline split_cmdline(std::string_view cmdline);

// "kvm-intel.nested=1" -> "kvm_intel.nested": the part before '=', quotes
// removed, '-' folded to '_' because the kernel compares parameter names
// that way (parameqn() in kernel/params.c).
std::string param_key(std::string_view token);

// Why a running-kernel parameter is not passed to the capture kernel, or
// nullptr when it is kept. Exposed for tests and for `salvage load -v`.
const char* drop_reason(std::string_view token);

struct CaptureCmdlineOptions {
  // salvage.* options, as KEY=VALUE without the "salvage." prefix
  // (target=LABEL=dump, dump_level=31, ...). Emitted last but one.
  std::vector<std::pair<std::string, std::string>> salvage_options;
  // User additions (--append); they replace any earlier parameter with the
  // same key, including the defaults below (nr_cpus=2 replaces nr_cpus=1).
  std::string append;
  // x86: the boot CPU's initial APIC id, when known, for
  // disable_cpu_apicid= (see cmdline.cc). Negative = unknown, left out.
  long boot_cpu_apicid = -1;
};

// The capture kernel's defaults, in the order they are appended.
const std::vector<std::string>& capture_defaults();

// running cmdline -> capture cmdline. Fails only on a salvage option value
// that cannot be quoted (contains '"' or a newline).
Result<std::string> build_capture_cmdline(std::string_view running, const CaptureCmdlineOptions& opt);

// The value of the last KEY=... parameter (quotes removed), or "" if absent.
// Used by `salvage status` to show salvage.target from the loaded line.
std::string cmdline_value(std::string_view cmdline, std::string_view key);

// The options a kernel command line gives module `module` ("softdog" or
// "virtio-blk"; '-' and '_' are the same), as the parameter string
// finit_module takes: "soft_margin=5 nowayout" from
// "softdog.soft_margin=5 softdog.nowayout". The kernel applies MOD.PARAM=
// words only to built-in code; for loadable modules kmod's modprobe reads
// them from /proc/cmdline, and the capture agent, which loads modules
// itself, does the same. Values keep their quotes.
std::string module_options(std::string_view cmdline, std::string_view module);

}  // namespace salvage
