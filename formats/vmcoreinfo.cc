// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/vmcoreinfo.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace salvage {

Vmcoreinfo Vmcoreinfo::parse(std::string_view text) {
  Vmcoreinfo info;
  // The kernel pads the note; makedumpfile stops at the first NUL too.
  if (auto nul = text.find('\0'); nul != std::string_view::npos) text = text.substr(0, nul);
  info.raw_ = std::string(text);
  size_t pos = 0;
  int lineno = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    ++lineno;
    if (!line.empty()) {
      size_t eq = line.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "VMCOREINFO line %d at byte 0x%zx: ", lineno, pos);
        info.warnings_.push_back(std::string(buf) + "no KEY=value in \"" +
                                 std::string(line.substr(0, 60)) + "\"");
      } else {
        std::string key(line.substr(0, eq));
        // First definition wins, as with strstr()-based readers (crash).
        info.values_.emplace(std::move(key), std::string(line.substr(eq + 1)));
      }
    }
    pos = end + 1;
  }
  return info;
}

std::optional<std::string> Vmcoreinfo::string(std::string_view key) const {
  auto it = values_.find(std::string(key));
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

Result<u64> Vmcoreinfo::parse_unsigned(const std::string& key, int base) const {
  auto it = values_.find(key);
  if (it == values_.end()) return make_error("VMCOREINFO has no " + key);
  const std::string& s = it->second;
  if (s.empty()) return make_error("VMCOREINFO " + key + " is empty");
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, base);
  // strtoull skips blanks and negates a '-' ("SYMBOL(x)= -1" would become
  // 0xffffffffffffffff), so the value must start with a digit.
  if (errno != 0 || end == s.c_str() || *end != '\0' || !std::isxdigit(static_cast<unsigned char>(s[0])))
    return make_error("VMCOREINFO " + key + "=\"" + s.substr(0, 40) + "\" is not a valid " +
                      (base == 16 ? "hex" : "decimal") + " number");
  return static_cast<u64>(v);
}

Result<u64> Vmcoreinfo::symbol(std::string_view name) const {
  return parse_unsigned("SYMBOL(" + std::string(name) + ")", 16);
}
Result<u64> Vmcoreinfo::size(std::string_view name) const {
  return parse_unsigned("SIZE(" + std::string(name) + ")", 10);
}
Result<u64> Vmcoreinfo::offset(std::string_view member) const {
  return parse_unsigned("OFFSET(" + std::string(member) + ")", 10);
}
Result<u64> Vmcoreinfo::length(std::string_view name) const {
  return parse_unsigned("LENGTH(" + std::string(name) + ")", 10);
}
Result<u64> Vmcoreinfo::hex(std::string_view key) const { return parse_unsigned(std::string(key), 16); }

Result<i64> Vmcoreinfo::decimal(std::string_view key) const {
  std::string k(key);
  auto it = values_.find(k);
  if (it == values_.end()) return make_error("VMCOREINFO has no " + k);
  const std::string& s = it->second;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || errno != 0 || end == s.c_str() || *end != '\0')
    return make_error("VMCOREINFO " + k + "=\"" + s.substr(0, 40) + "\" is not a valid decimal number");
  return static_cast<i64>(v);
}

Result<i64> Vmcoreinfo::number(std::string_view name) const {
  return decimal("NUMBER(" + std::string(name) + ")");
}

}  // namespace salvage
