// SPDX-License-Identifier: GPL-2.0-or-later
// /etc/salvage.conf and /etc/salvage.modules: parse and render. The format is
// documented in docs/formats/initramfs.md; keep the two in step.
#include "agent/capture-config.h"

#include <charconv>

#include "formats/codec.h"

namespace salvage {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

Result<unsigned> parse_uint(std::string_view key, std::string_view v, unsigned max) {
  unsigned out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty() || out > max)
    return make_error(std::string(key) + ": '" + std::string(v) + "' is not a number in 0.." + std::to_string(max));
  return out;
}

bool has_control(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

}  // namespace

std::string TargetSpec::device_spec() const {
  switch (kind) {
    case Kind::kLabel: return "LABEL=" + value;
    case Kind::kUuid: return "UUID=" + value;
    case Kind::kPartUuid: return "PARTUUID=" + value;
    case Kind::kPath: return value;
    case Kind::kNet: return value.empty() ? "net" : "net:" + value;
  }
  return value;
}

std::string net_target_collector(const TargetSpec& t, const NetConfig& n) {
  return t.value.empty() ? n.collector : t.value;
}

std::string TargetSpec::to_string() const {
  return file_system ? "fs:" + device_spec() + ":" + dir : device_spec();
}

Result<TargetSpec> parse_target_spec(std::string_view spec) {
  std::string whole(spec);
  TargetSpec t;
  if (spec == "net" || spec.starts_with("net:")) {
    t.kind = TargetSpec::Kind::kNet;
    t.value = spec.size() > 4 ? std::string(spec.substr(4)) : std::string();
    if (spec.size() > 3 && t.value.empty()) return make_error("target '" + whole + "': expected net or net:ADDR:PORT");
    NetConfig scratch;  // validates ADDR:PORT as the collector= key does
    if (!t.value.empty()) TRY_CTX(set_net_key(scratch, "collector", t.value), "target '" + whole + "'");
    return t;
  }
  if (spec.starts_with("fs:")) {
    spec.remove_prefix(3);
    // The directory follows the last ':' (labels rarely hold a ':', paths of
    // the directory never need one).
    size_t colon = spec.rfind(':');
    if (colon == std::string_view::npos)
      return make_error("target '" + whole + "': a file-system target is fs:<device>:<dir>");
    t.file_system = true;
    t.dir = std::string(spec.substr(colon + 1));
    spec = spec.substr(0, colon);
    if (t.dir.empty() || t.dir[0] != '/')
      return make_error("target '" + whole + "': directory '" + t.dir + "' is not absolute");
    if (t.dir.find("/../") != std::string::npos || t.dir.ends_with("/.."))
      return make_error("target '" + whole + "': directory must not contain '..'");
  }
  auto take = [&](std::string_view prefix, TargetSpec::Kind k) {
    if (!spec.starts_with(prefix)) return false;
    t.kind = k;
    t.value = std::string(spec.substr(prefix.size()));
    return true;
  };
  if (!take("LABEL=", TargetSpec::Kind::kLabel) && !take("UUID=", TargetSpec::Kind::kUuid) &&
      !take("PARTUUID=", TargetSpec::Kind::kPartUuid)) {
    if (!spec.starts_with("/dev/"))
      return make_error("target '" + whole + "': expected LABEL=, UUID=, PARTUUID=, /dev/... or fs:<device>:<dir>");
    t.kind = TargetSpec::Kind::kPath;
    t.value = std::string(spec);
  }
  if (t.value.empty() || (t.kind == TargetSpec::Kind::kPath && t.value == "/dev/"))
    return make_error("target '" + whole + "': empty device name");
  if (has_control(whole)) return make_error("target '" + whole + "': control character in target");
  return t;
}

Result<std::vector<TargetSpec>> parse_target_list(std::string_view list) {
  std::vector<TargetSpec> out;
  for (size_t a = 0; a <= list.size();) {
    size_t b = list.find(',', a);
    if (b == std::string_view::npos) b = list.size();
    ASSIGN_OR_RETURN(TargetSpec t, parse_target_spec(list.substr(a, b - a)));
    out.push_back(std::move(t));
    a = b + 1;
  }
  return out;
}

const char* final_action_name(FinalAction a) {
  switch (a) {
    case FinalAction::kReboot: return "reboot";
    case FinalAction::kPoweroff: return "poweroff";
    case FinalAction::kHalt: return "halt";
  }
  return "reboot";
}

Result<void> set_capture_key(CaptureConfig& c, std::string_view key, std::string_view v) {
  std::string k(key);
  if (key == "version") {
    ASSIGN_OR_RETURN(unsigned ver, parse_uint(key, v, 1000000));
    if (ver != static_cast<unsigned>(kCaptureConfigVersion))
      return make_error("version " + std::to_string(ver) + " is not supported (this salvage reads version " +
                        std::to_string(kCaptureConfigVersion) + ")");
  } else if (key == "target") {
    ASSIGN_OR_RETURN(auto ts, parse_target_list(v));
    for (auto& t : ts) c.targets.push_back(std::move(t));
  } else if (key == "dump_level") {
    ASSIGN_OR_RETURN(unsigned lvl, parse_uint(key, v, 31));
    c.dump_level = static_cast<int>(lvl);
  } else if (key == "compression") {
    if (!encoding_from_name(v)) return make_error("compression: '" + std::string(v) + "' is not one of raw zlib lzo snappy zstd");
    c.compression = std::string(v);
  } else if (key == "format") {
    if (v != "kdump" && v != "elf" && v != "lkcd") return make_error("format: '" + std::string(v) + "' is not one of kdump elf lkcd");
    c.format = std::string(v);
  } else if (key == "final_action") {
    if (v == "reboot") c.final_action = FinalAction::kReboot;
    else if (v == "poweroff") c.final_action = FinalAction::kPoweroff;
    else if (v == "halt") c.final_action = FinalAction::kHalt;
    else return make_error("final_action: '" + std::string(v) + "' is not one of reboot poweroff halt");
  } else if (key == "timeout") {
    ASSIGN_OR_RETURN(c.timeout_s, parse_uint(key, v, 7 * 24 * 3600));
  } else if (key == "device_wait") {
    ASSIGN_OR_RETURN(c.device_wait_s, parse_uint(key, v, 24 * 3600));
  } else if (key == "test_hang") {
    ASSIGN_OR_RETURN(c.test_hang_s, parse_uint(key, v, 24 * 3600));
  } else if (is_net_key(key)) {
    return set_net_key(c.net, key, v);
  } else if (key == "kernel_release") {
    if (has_control(v)) return make_error("kernel_release: control character");
    c.kernel_release = std::string(v);
  } else {
    return make_error("unknown key '" + k + "'");
  }
  return Ok();
}

Result<CaptureConfig> parse_capture_config(std::string_view text) {
  CaptureConfig c;
  size_t lineno = 0;
  while (!text.empty()) {
    ++lineno;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    std::string where = std::string(kCaptureConfigPath) + " line " + std::to_string(lineno);
    if (eq == std::string_view::npos) return make_error(where + ": expected key=value");
    TRY_CTX(set_capture_key(c, trim(line.substr(0, eq)), trim(line.substr(eq + 1))), where);
  }
  return c;
}

std::string render_capture_config(const CaptureConfig& c) {
  std::string s = "# salvage capture configuration, written by salvage mkinitramfs.\n"
                  "# Format: docs/formats/initramfs.md. salvage.KEY=VALUE on the kernel\n"
                  "# command line overrides a key.\n";
  s += "version=" + std::to_string(kCaptureConfigVersion) + "\n";
  for (const auto& t : c.targets) s += "target=" + t.to_string() + "\n";
  s += "dump_level=" + std::to_string(c.dump_level) + "\n";
  s += "compression=" + c.compression + "\n";
  s += "format=" + c.format + "\n";
  s += std::string("final_action=") + final_action_name(c.final_action) + "\n";
  s += "timeout=" + std::to_string(c.timeout_s) + "\n";
  s += "device_wait=" + std::to_string(c.device_wait_s) + "\n";
  if (c.test_hang_s) s += "test_hang=" + std::to_string(c.test_hang_s) + "\n";
  if (!c.kernel_release.empty()) s += "kernel_release=" + c.kernel_release + "\n";
  s += render_net_config(c.net);
  return s;
}

std::vector<std::string> apply_capture_cmdline(CaptureConfig& c, std::string_view cmdline) {
  std::vector<std::string> problems;
  bool replaced_targets = false;
  size_t i = 0;
  while (i < cmdline.size()) {
    while (i < cmdline.size() && (cmdline[i] == ' ' || cmdline[i] == '\t' || cmdline[i] == '\n')) ++i;
    if (i >= cmdline.size()) break;
    // A word ends at whitespace outside double quotes (the kernel's
    // next_arg() rule, lib/cmdline.c); the quotes themselves are dropped.
    std::string word;
    bool quoted = false;
    for (; i < cmdline.size(); ++i) {
      char ch = cmdline[i];
      if (ch == '"') { quoted = !quoted; continue; }
      if (!quoted && (ch == ' ' || ch == '\t' || ch == '\n')) break;
      word.push_back(ch);
    }
    if (!word.starts_with("salvage.")) continue;
    size_t eq = word.find('=');
    if (eq == std::string::npos) {
      problems.push_back("kernel command line: '" + word + "' has no value");
      continue;
    }
    std::string key = word.substr(8, eq - 8), value = word.substr(eq + 1);
    if (key == "version") {
      problems.push_back("kernel command line: salvage.version cannot be overridden");
      continue;
    }
    if (key == "target" && !replaced_targets) {
      // Validate before dropping the baked-in list: a typo must not leave no target.
      if (auto t = parse_target_list(value); !t.ok()) {
        problems.push_back("kernel command line: " + t.error().message);
        continue;
      }
      c.targets.clear();
      replaced_targets = true;
    }
    if (auto r = set_capture_key(c, key, value); !r.ok())
      problems.push_back("kernel command line: salvage." + key + "=" + value + ": " + r.error().message);
  }
  return problems;
}

Result<std::vector<std::string>> parse_module_list(std::string_view text) {
  std::vector<std::string> out;
  size_t lineno = 0;
  while (!text.empty()) {
    ++lineno;
    size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() != '/' || has_control(line))
      return make_error(std::string(kCaptureModulesPath) + " line " + std::to_string(lineno) + ": '" +
                        std::string(line) + "' is not an absolute module path");
    out.emplace_back(line);
  }
  return out;
}

std::string render_module_list(const std::vector<std::string>& paths, std::string_view kernel_release) {
  std::string s = "# Kernel modules for ";
  s += kernel_release;
  s += ", in load order (dependencies first), written by salvage mkinitramfs.\n";
  for (const auto& p : paths) s += p + "\n";
  return s;
}

}  // namespace salvage
