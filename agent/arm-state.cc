// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/arm-state.h"

#include <sys/stat.h>

#include <cstdlib>

namespace salvage {

Result<FileStamp> stamp_file(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) < 0) return Error::from_errno("stat " + path);
  return FileStamp{path, static_cast<u64>(st.st_size), static_cast<i64>(st.st_mtime)};
}

std::string render_arm_state(const ArmState& s) {
  std::string o = "# written by salvage load; read by salvage status and salvage test\nversion=1\n";
  auto kv = [&](const char* k, const std::string& v) { o += std::string(k) + "=" + v + "\n"; };
  kv("kernel", s.kernel.path);
  kv("kernel_size", std::to_string(s.kernel.size));
  kv("kernel_mtime", std::to_string(s.kernel.mtime));
  kv("kernel_release", s.kernel_release);
  kv("initrd", s.initrd.path);
  kv("initrd_size", std::to_string(s.initrd.size));
  kv("initrd_mtime", std::to_string(s.initrd.mtime));
  kv("cmdline", s.cmdline);
  kv("method", s.method);
  kv("loaded_at", std::to_string(s.loaded_at));
  return o;
}

Result<ArmState> parse_arm_state(std::string_view text) {
  ArmState s;
  bool version = false;
  size_t lineno = 0;
  while (!text.empty()) {
    ++lineno;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return make_error("line " + std::to_string(lineno) + ": expected key=value");
    std::string_view k = line.substr(0, eq);
    std::string v(line.substr(eq + 1));
    auto num = [&]() { return std::strtoll(v.c_str(), nullptr, 10); };
    if (k == "version") {
      if (v != "1") return make_error("line " + std::to_string(lineno) + ": version " + v + " is not supported");
      version = true;
    } else if (k == "kernel") s.kernel.path = v;
    else if (k == "kernel_size") s.kernel.size = static_cast<u64>(num());
    else if (k == "kernel_mtime") s.kernel.mtime = num();
    else if (k == "kernel_release") s.kernel_release = v;
    else if (k == "initrd") s.initrd.path = v;
    else if (k == "initrd_size") s.initrd.size = static_cast<u64>(num());
    else if (k == "initrd_mtime") s.initrd.mtime = num();
    else if (k == "cmdline") s.cmdline = v;
    else if (k == "method") s.method = v;
    else if (k == "loaded_at") s.loaded_at = num();
    // Unknown keys are skipped: a newer salvage may add some.
  }
  if (!version) return make_error("no version line");
  if (s.kernel.path.empty()) return make_error("no kernel line");
  return s;
}

}  // namespace salvage
