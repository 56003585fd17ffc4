// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/header-info.h"

#include <cstring>

namespace salvage {

namespace {
// struct new_utsname: six char[65] (include/uapi/linux/utsname.h).
constexpr size_t kUtsField = 65;

std::string field(const std::byte* p) {
  const char* c = reinterpret_cast<const char*>(p);
  return std::string(c, strnlen(c, kUtsField));
}
}  // namespace

void fill_header_identity(DumpHeaderInfo& info, const DumpIdentity& id, KernelMemory* mem,
                          std::vector<std::string>& degradations) {
  info.cpus = id.cpus;
  if (!id.vmcoreinfo) {
    degradations.push_back("no VMCOREINFO note: header has no release, crash time or KASLR offset");
    return;
  }
  const Vmcoreinfo& vi = *id.vmcoreinfo;
  info.vmcoreinfo = &vi;
  info.uts.release = vi.osrelease();
  if (auto t = vi.decimal("CRASHTIME"); t.ok()) info.crash_time = *t;
  info.kernel_offset = vi.kernel_offset();
  if (auto pb = vi.number("phys_base"); pb.ok()) info.phys_base = static_cast<u64>(*pb);
  if (!mem) return;
  info.phys_base = mem->phys_base();
  // The full utsname lives in init_uts_ns; VMCOREINFO only has the release.
  auto sym = vi.symbol("init_uts_ns");
  auto off = vi.offset("uts_namespace.name");
  if (!sym.ok() || !off.ok()) {
    degradations.push_back("utsname: " + (sym.ok() ? off.error().message : sym.error().message));
    return;
  }
  std::byte uts[6 * kUtsField];
  auto r = mem->read_virt(VirtAddr(*sym + *off), uts);
  if (!r.ok()) {
    degradations.push_back("utsname: " + r.error().message);
    return;
  }
  info.uts.sysname = field(uts);
  info.uts.nodename = field(uts + kUtsField);
  std::string release = field(uts + 2 * kUtsField);
  if (!release.empty()) info.uts.release = release;
  info.uts.version = field(uts + 3 * kUtsField);
  info.uts.machine = field(uts + 4 * kUtsField);
  info.uts.domainname = field(uts + 5 * kUtsField);
}

}  // namespace salvage
