// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage info DUMP`: what a dump is, what it holds, and the crash command
// line that opens it (crash needs --kaslr and phys_base for LKCD, which has
// no VMCOREINFO; salvage keeps those notes in the LKCD header area).
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

#include "agent/commands.h"
#include "agent/file-source.h"
#include "formats/dump-reader.h"

namespace salvage {

int cmd_info(int argc, char** argv) {
  std::string vmlinux = "vmlinux";
  std::string path;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--vmlinux") && i + 1 < argc) vmlinux = argv[++i];
    else if (argv[i][0] == '-') {
      std::fprintf(stderr, "usage: salvage info [--vmlinux PATH] DUMP\n");
      return 2;
    } else path = argv[i];
  }
  if (path.empty()) {
    std::fprintf(stderr, "usage: salvage info [--vmlinux PATH] DUMP\n");
    return 2;
  }
  auto src = FileSource::open(path);
  if (!src.ok()) {
    std::fprintf(stderr, "salvage info: %s\n", src.error().message.c_str());
    return 1;
  }
  auto dump = open_dump(**src);
  if (!dump.ok()) {
    std::fprintf(stderr, "salvage info: %s\n", dump.error().message.c_str());
    return 1;
  }
  DumpReader& d = **dump;
  const auto& m = d.metadata();
  std::printf("file:         %s\n", path.c_str());
  std::printf("format:       %s\n", m.format.c_str());
  std::printf("compression:  %s\n", m.compression.c_str());
  std::printf("dump level:   %d\n", m.dump_level);
  std::printf("complete:     %s\n", m.incomplete ? "no (incomplete dump)" : "yes");
  u64 ram = 0;
  for (const auto& r : d.ram()) ram += r.size;
  std::printf("max pfn:      0x%" PRIx64 "\n", d.max_pfn().value);
  std::printf("ram:          %" PRIu64 " MiB in %zu ranges\n", ram >> 20, d.ram().size());
  auto id = identify(d.notes());
  u64 kaslr = 0, phys_base = 0;
  if (!id.ok()) {
    std::printf("notes:        unreadable: %s\n", id.error().message.c_str());
  } else {
    std::printf("cpus:         %zu (NT_PRSTATUS notes)\n", id->cpus.size());
    if (id->vmcoreinfo) {
      const auto& vi = *id->vmcoreinfo;
      kaslr = vi.kernel_offset();
      if (auto pb = vi.number("phys_base"); pb.ok()) phys_base = static_cast<u64>(*pb);
      std::printf("release:      %s\n", vi.osrelease().c_str());
      std::printf("build-id:     %s\n", vi.string("BUILD-ID").value_or("?").c_str());
      std::printf("crash time:   %s\n", vi.string("CRASHTIME").value_or("?").c_str());
      std::printf("kaslr offset: 0x%" PRIx64 "\n", kaslr);
      std::printf("phys_base:    0x%" PRIx64 "\n", phys_base);
      auto l5 = vi.number("pgtable_l5_enabled");
      std::printf("paging:       %d-level\n", l5.ok() && *l5 == 1 ? 5 : 4);
      for (const auto& w : vi.warnings()) std::printf("warning:      %s\n", w.c_str());
    } else {
      std::printf("vmcoreinfo:   none\n");
    }
  }
  for (const auto& n : m.notes_for_user) std::printf("note:         %s\n", n.c_str());
  // crash reads KASLR and phys_base from VMCOREINFO in ELF and kdump files;
  // for LKCD they must be given on the command line.
  if (m.format == "lkcd")
    std::printf("crash:        crash --kaslr=0x%" PRIx64 " --machdep phys_base=0x%" PRIx64 " %s %s\n", kaslr,
                phys_base, vmlinux.c_str(), path.c_str());
  else
    std::printf("crash:        crash %s %s\n", vmlinux.c_str(), path.c_str());
  return 0;
}

}  // namespace salvage
