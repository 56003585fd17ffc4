// SPDX-License-Identifier: GPL-2.0-or-later
// Capture command line: what is dropped from the running kernel's line, what
// is added, and where each rule comes from. Sources (read 2026):
//   RH   = rhkdump/kdump-utils kdump-lib.sh prepare_cmdline() (always drops
//          crashkernel, panic_on_warn, root, rd.lvm.lv rd.luks.uuid rd.dm.uuid
//          rd.md.uuid fcoe netroot rd.iscsi.initiator iscsi_initiator) and
//          /etc/sysconfig/kdump KDUMP_COMMANDLINE_REMOVE ("hugepages hugepagesz
//          slub_debug quiet log_buf_len swiotlb") and gen-kdump-sysconfig.sh
//          x86_64 KDUMP_COMMANDLINE_APPEND.
//   DEB  = Debian kdump-tools kdump-config kdump_load(): drops crashkernel,
//          hugepages, hugepagesz, abm; the veLinux fork of it also drops
//          isolcpus, default_hugepagesz, edac_report, BOOT_IMAGE.
//   ARCH = kdumpst (Arch/SteamOS), "stolen from Debian kdump": crashkernel,
//          hugepages, hugepagesz.
//   OURS = salvage's own reason, given inline.
#include "agent/cmdline.h"

#include <algorithm>
#include <cctype>

namespace salvage {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

struct DropRule {
  const char* key;  // normalised key ('-' folded to '_')
  const char* why;
};

// Exact keys. The capture kernel gets its own value for several of these
// from capture_defaults(); the rule then also removes duplicates.
constexpr DropRule kDrop[] = {
    {"crashkernel", "reservation for the capture kernel itself (RH, DEB, ARCH)"},
    {"panic_on_warn", "a warning must not stop the capture (RH)"},
    {"hugepages", "huge page pools would eat the reserved memory (RH, DEB, ARCH)"},
    {"hugepagesz", "huge page pools would eat the reserved memory (RH, DEB, ARCH)"},
    {"default_hugepagesz", "huge page pools would eat the reserved memory (DEB fork)"},
    {"hugetlb_cma", "CMA reservation; capture uses hugetlb_cma=0 (RH)"},
    {"cma", "CMA reservation; capture uses cma=0 (RH)"},
    {"slub_debug", "debug metadata costs memory (RH)"},
    {"log_buf_len", "a large log buffer costs reserved memory (RH)"},
    {"swiotlb", "a large bounce buffer costs reserved memory (RH)"},
    {"quiet", "a capture kernel that fails must say why on the console (RH)"},
    {"abm", "Debian kdump-tools drops it (DEB)"},
    {"isolcpus", "with nr_cpus=1 it could isolate the only CPU (DEB fork)"},
    {"nohz_full", "CPU isolation makes no sense with nr_cpus=1 (OURS, like isolcpus)"},
    {"rcu_nocbs", "CPU isolation makes no sense with nr_cpus=1 (OURS, like isolcpus)"},
    {"edac_report", "Debian kdump-tools fork drops it (DEB fork)"},
    {"edac_core.edac_report", "Debian kdump-tools fork drops it (DEB fork)"},
    {"BOOT_IMAGE", "bootloader bookkeeping (DEB fork)"},
    {"initrd", "bootloader's initrd path; the capture initramfs is loaded explicitly (OURS)"},
    {"root", "the capture runs from its initramfs, never mounts a root (RH)"},
    {"rootflags", "no root file system in the capture (OURS, with root)"},
    {"rootfstype", "no root file system in the capture (OURS, with root)"},
    {"rootwait", "no root file system in the capture (OURS, with root)"},
    {"rootdelay", "no root file system in the capture (OURS, with root)"},
    {"ro", "no root file system in the capture (OURS, with root)"},
    {"rw", "no root file system in the capture (OURS, with root)"},
    {"init", "the capture initramfs's /init is salvage (OURS)"},
    {"rdinit", "would replace salvage as the capture's /init (OURS)"},
    {"fcoe", "dracut host-only setting (RH)"},
    {"netroot", "dracut network root (RH)"},
    {"iscsi_initiator", "dracut iSCSI setting (RH)"},
    {"ip", "kernel/dracut network autoconfiguration would delay the capture (OURS)"},
    {"resume", "the capture must never resume a hibernation image over crashed memory (OURS)"},
    {"resume_offset", "the capture must never resume a hibernation image (OURS)"},
    {"mem", "the capture kernel's memory map comes from kexec, not the first kernel (OURS)"},
    {"memmap", "a first-kernel memmap= could hand crashed memory to the capture kernel (OURS)"},
    {"maxcpus", "replaced by nr_cpus=1 (OURS)"},
};

// Prefixes: whole families of options that only mean something to the
// running system.
constexpr DropRule kDropPrefix[] = {
    {"rd.", "dracut options for the running system's initramfs (RH drops rd.lvm/luks/dm/md/iscsi)"},
    {"systemd.", "no systemd in the capture initramfs (OURS)"},
    {"salvage.", "replaced by the salvage.* options of this load (OURS)"},
};

std::string unquote(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c != '"') out.push_back(c);
  return out;
}

bool keeps_relay(std::string_view key) {
  // relayres= and <module>.relayres= reserve the trace relay region; later
  // issues need them in the capture kernel too, so they are never dropped.
  return key == "relayres" || (key.size() > 9 && key.ends_with(".relayres"));
}

std::string quote_if_needed(const std::string& key, const std::string& value) {
  bool space = std::any_of(value.begin(), value.end(), is_space);
  return space ? key + "=\"" + value + "\"" : key + "=" + value;
}

}  // namespace

SplitCmdline split_cmdline(std::string_view s) {
  SplitCmdline out;
  size_t i = 0;
  bool after_dashes = false;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size()) break;
    size_t start = i;
    bool in_quote = false;
    for (; i < s.size(); ++i) {
      if (s[i] == '"') in_quote = !in_quote;
      else if (!in_quote && is_space(s[i])) break;
    }
    std::string tok(s.substr(start, i - start));
    if (after_dashes) out.init_args.push_back(std::move(tok));
    else if (tok == "--") after_dashes = true;
    else out.params.push_back(std::move(tok));
  }
  return out;
}

std::string param_key(std::string_view token) {
  std::string t = unquote(token);
  std::string key = t.substr(0, t.find('='));
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

const char* drop_reason(std::string_view token) {
  std::string key = param_key(token);
  if (keeps_relay(key)) return nullptr;
  for (const auto& r : kDrop)
    if (key == r.key) return r.why;
  for (const auto& r : kDropPrefix)
    if (key.starts_with(r.key)) return r.why;
  return nullptr;
}

const std::vector<std::string>& capture_defaults() {
  // The x86_64 capture line. RH = kdump-utils gen-kdump-sysconfig.sh x86_64
  // KDUMP_COMMANDLINE_APPEND; DEB = kdump-tools KDUMP_CMDLINE_APPEND
  // ("reset_devices nr_cpus=1 irqpoll nousb systemd.unit=...").
  static const std::vector<std::string> kDefaults = {
      "irqpoll",                    // RH, DEB: interrupts may be routed to dead CPUs
      "nr_cpus=1",                  // RH, DEB: one CPU; less memory for per-CPU data
      "reset_devices",              // RH, DEB: drivers reset devices left mid-DMA
      "panic=10",                   // RH: a capture kernel panic reboots after 10 s
      "cgroup_disable=memory",      // RH: no memcg page_cgroup arrays
      "mce=off",                    // RH: no machine-check handling in the capture
      "numa=off",                   // RH: one node, no per-node structures
      "acpi_no_memhotplug",         // RH: ignore ACPI memory devices
      "transparent_hugepage=never", // RH: no THP (memory, khugepaged)
      "nokaslr",                    // RH: fixed layout inside the reservation
      "hest_disable",               // RH: no APEI HEST tables (memory)
      "cma=0",                      // RH: no CMA area in the reservation
      "hugetlb_cma=0",              // RH
      "pcie_ports=compat",          // RH: no PCIe port services (AER, PME, hotplug)
      "novmcoredd",                 // RH: no device dumps in /proc/vmcore (memory)
      "kfence.sample_interval=0",   // RH: no KFENCE pool
      // Ours: in 6.1 tracefs creates a directory of inodes and dentries for
      // every trace event at boot (event_trace_init, ~7 MiB of slab on
      // Debian's cloud kernel, measured in the lab: the capture kernel ran
      // out of memory there at crashkernel=64M). A capture needs no tracing;
      // eventfs made those directories lazy only in 6.6.
      "initcall_blacklist=tracer_init_tracefs",
      // Ours: Debian's 6.1 config runs the crypto self-tests at boot
      // (CONFIG_CRYPTO_MANAGER_DISABLE_TESTS unset), a kthread per algorithm
      // with its own allocations. In the lab at crashkernel=64M the capture
      // kernel went to the OOM killer in them (order-2, kthreadd); without
      // them it boots and captures. They also cost ~0.3 s of boot.
      "cryptomgr.notests",
  };
  // Left out on purpose: udev.children-max=2 and initramfs_options=size=90%
  // (RH) tune udev and dracut's squashfs, neither of which salvage runs;
  // nousb (DEB) would lose a USB dump disk.
  return kDefaults;
}

Result<std::string> build_capture_cmdline(std::string_view running, const CaptureCmdlineOptions& opt) {
  std::vector<std::string> tail;  // defaults + salvage.* + disable_cpu_apicid + user
  std::vector<std::string> user = split_cmdline(opt.append).params;
  std::vector<std::string> user_keys;
  for (const auto& t : user) user_keys.push_back(param_key(t));
  auto user_has = [&](const std::string& key) {
    return std::find(user_keys.begin(), user_keys.end(), key) != user_keys.end();
  };
  for (const auto& d : capture_defaults())
    if (!user_has(param_key(d))) tail.push_back(d);
  // kdump-utils adds disable_cpu_apicid=<boot CPU> on x86: if the panic
  // happened on another CPU the capture kernel boots there, and must never
  // send INIT to the boot CPU (that resets the whole machine) when more
  // than one CPU is brought up.
  if (opt.boot_cpu_apicid >= 0 && !user_has("disable_cpu_apicid"))
    tail.push_back("disable_cpu_apicid=" + std::to_string(opt.boot_cpu_apicid));
  for (const auto& [k, v] : opt.salvage_options) {
    if (k.empty() || v.find_first_of("\"\n") != std::string::npos || k.find_first_of(" \t\"=\n") != std::string::npos)
      return make_error("salvage option '" + k + "=" + v + "': key or value cannot go on a kernel command line");
    std::string key = "salvage." + k;
    if (!user_has(param_key(key))) tail.push_back(quote_if_needed(key, v));
  }
  for (const auto& u : user) tail.push_back(u);

  std::vector<std::string> tail_keys;
  for (const auto& t : tail) tail_keys.push_back(param_key(t));
  std::string out;
  auto add = [&](const std::string& t) {
    if (!out.empty()) out.push_back(' ');
    out += t;
  };
  for (const auto& p : split_cmdline(running).params) {
    if (drop_reason(p)) continue;
    std::string key = param_key(p);
    if (!keeps_relay(key) && std::find(tail_keys.begin(), tail_keys.end(), key) != tail_keys.end()) continue;
    add(p);
  }
  // Words after "--" in the running line are the running init's arguments;
  // they would be handed to salvage as /init's argv, so they are dropped.
  for (const auto& t : tail) add(t);
  return out;
}

std::string cmdline_value(std::string_view cmdline, std::string_view key) {
  std::string value;
  for (const auto& p : split_cmdline(cmdline).params) {
    std::string t = unquote(p);
    auto eq = t.find('=');
    if (eq == std::string::npos) continue;
    if (param_key(p) == key) value = t.substr(eq + 1);
  }
  return value;
}

std::string module_options(std::string_view cmdline, std::string_view module) {
  std::string want(module);
  std::replace(want.begin(), want.end(), '-', '_');
  want += '.';
  std::string out;
  for (const auto& token : split_cmdline(cmdline).params) {
    // Compare the folded key; pass the token's own "param=value" on.
    if (!param_key(token).starts_with(want)) continue;
    std::string t = unquote(token);
    std::string opt = t.substr(t.find('.') + 1);
    if (opt.empty() || opt[0] == '=') continue;
    // finit_module parses its string like the command line: a value with
    // spaces needs its quotes back.
    if (size_t eq = opt.find('='); eq != std::string::npos && opt.find(' ') != std::string::npos)
      opt = opt.substr(0, eq + 1) + '"' + opt.substr(eq + 1) + '"';
    out += (out.empty() ? "" : " ") + opt;
  }
  return out;
}

}  // namespace salvage
