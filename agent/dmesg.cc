// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage dmesg [-o FILE] [--partial] [--caller-id] DUMP`: the crashed
// kernel's log from any dump salvage reads, in the exact text of
// `makedumpfile --dump-dmesg` (1.7.2). The decoding is formats/printk.cc;
// this file only opens the dump and routes reads through the crashed
// kernel's page tables.
#include <cstdio>
#include <cstring>
#include <string>

#include "agent/commands.h"
#include "agent/file-source.h"
#include "agent/kernel-memory.h"
#include "formats/dump-reader.h"
#include "formats/printk.h"

namespace salvage {

namespace {

constexpr const char* kUsage = "usage: salvage dmesg [-o FILE] [--partial] [--caller-id] DUMP\n";

Result<DmesgLog> read_log(const std::string& path, const DmesgOptions& opt) {
  ASSIGN_OR_RETURN(auto src, FileSource::open(path));
  ASSIGN_OR_RETURN(auto dump, open_dump(*src));
  // open_dump's errors name the file; those below get it as context.
  ASSIGN_OR_RETURN(DumpIdentity id, identify(dump->notes()).context(path + ": reading the dump's notes"));
  if (!id.vmcoreinfo) return make_error(path + ": no VMCOREINFO note, cannot locate the kernel log");
  ASSIGN_OR_RETURN(KernelMemory km, KernelMemory::create(*dump, *id.vmcoreinfo).context(path));
  VirtReader read = [&km](VirtAddr va, std::span<std::byte> out) { return km.read_virt(va, out); };
  return extract_dmesg(*id.vmcoreinfo, read, opt).context(path);
}

Result<void> write_all(std::FILE* f, const std::string& name, const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), f) != text.size()) return Error::from_errno("writing " + name);
  if (std::fflush(f) != 0) return Error::from_errno("writing " + name);
  return Ok();
}

}  // namespace

int cmd_dmesg(int argc, char** argv) {
  std::string out_path, path;
  DmesgOptions opt;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-o") && i + 1 < argc) out_path = argv[++i];
    else if (!std::strcmp(argv[i], "--partial")) opt.partial = true;
    else if (!std::strcmp(argv[i], "--caller-id")) opt.caller_id = true;
    else if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (argv[i][0] == '-' || !path.empty()) {
      std::fputs(kUsage, stderr);
      return 2;
    } else path = argv[i];
  }
  if (path.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto log = read_log(path, opt);
  if (!log.ok()) {
    std::fprintf(stderr, "salvage dmesg: %s\n", log.error().message.c_str());
    return 1;
  }
  for (const auto& w : log->warnings) std::fprintf(stderr, "salvage dmesg: warning: %s\n", w.c_str());
  Result<void> wr = Ok();
  if (out_path.empty() || out_path == "-") {
    wr = write_all(stdout, "standard output", log->text);
  } else {
    std::FILE* f = std::fopen(out_path.c_str(), "wb");
    if (!f) wr = Error::from_errno("opening " + out_path);
    else {
      wr = write_all(f, out_path, log->text);
      if (std::fclose(f) != 0 && wr.ok()) wr = Error::from_errno("closing " + out_path);
    }
  }
  if (!wr.ok()) {
    std::fprintf(stderr, "salvage dmesg: %s\n", wr.error().message.c_str());
    return 1;
  }
  return 0;
}

}  // namespace salvage
