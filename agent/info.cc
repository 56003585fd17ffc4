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
#include "agent/info.h"
#include "formats/dump-reader.h"

namespace salvage {

void print_dump_info(std::FILE* out, const std::string& path, DumpReader& d, const std::string& vmlinux) {
  const auto& m = d.metadata();
  std::fprintf(out, "file:         %s\n", path.c_str());
  std::fprintf(out, "format:       %s\n", m.format.c_str());
  std::fprintf(out, "compression:  %s\n", m.compression.c_str());
  std::fprintf(out, "dump level:   %d\n", m.dump_level);
  std::fprintf(out, "complete:     %s\n", m.incomplete ? "no (incomplete dump)" : "yes");
  u64 ram = 0;
  for (const auto& r : d.ram()) ram += r.size;
  std::fprintf(out, "max pfn:      0x%" PRIx64 "\n", d.max_pfn().value);
  std::fprintf(out, "ram:          %" PRIu64 " MiB in %zu ranges\n", ram >> 20, d.ram().size());
  auto id = identify(d.notes());
  u64 kaslr = 0, phys_base = 0;
  if (!id.ok()) {
    std::fprintf(out, "notes:        unreadable: %s\n", id.error().message.c_str());
  } else {
    std::fprintf(out, "cpus:         %zu (NT_PRSTATUS notes)\n", id->cpus.size());
    if (id->vmcoreinfo) {
      const auto& vi = *id->vmcoreinfo;
      kaslr = vi.kernel_offset();
      if (auto pb = vi.number("phys_base"); pb.ok()) phys_base = static_cast<u64>(*pb);
      std::fprintf(out, "release:      %s\n", vi.osrelease().c_str());
      std::fprintf(out, "build-id:     %s\n", vi.string("BUILD-ID").value_or("?").c_str());
      std::fprintf(out, "crash time:   %s\n", vi.string("CRASHTIME").value_or("?").c_str());
      std::fprintf(out, "kaslr offset: 0x%" PRIx64 "\n", kaslr);
      std::fprintf(out, "phys_base:    0x%" PRIx64 "\n", phys_base);
      auto l5 = vi.number("pgtable_l5_enabled");
      std::fprintf(out, "paging:       %d-level\n", l5.ok() && *l5 == 1 ? 5 : 4);
      for (const auto& w : vi.warnings()) std::fprintf(out, "warning:      %s\n", w.c_str());
    } else {
      std::fprintf(out, "vmcoreinfo:   none\n");
    }
  }
  for (const auto& n : m.notes_for_user) std::fprintf(out, "note:         %s\n", n.c_str());
  // crash reads KASLR and phys_base from VMCOREINFO in ELF and kdump files;
  // for LKCD they must be given on the command line.
  if (m.format == "lkcd")
    std::fprintf(out, "crash:        crash --kaslr=0x%" PRIx64 " --machdep phys_base=0x%" PRIx64 " %s %s\n", kaslr,
                 phys_base, vmlinux.c_str(), path.c_str());
  else
    std::fprintf(out, "crash:        crash %s %s\n", vmlinux.c_str(), path.c_str());
}

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
  print_dump_info(stdout, path, **dump, vmlinux);
  return 0;
}

}  // namespace salvage
