// SPDX-License-Identifier: GPL-2.0-or-later
// The VMCOREINFO note: "KEY=value\n" lines the crashed kernel wrote about
// itself (include/linux/crash_core.h). Parsed once into a typed table so that
// nothing downstream re-parses text. Malformed lines are kept as warnings,
// never fatal: a capture with a damaged line still has every other key.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/result.h"
#include "formats/types.h"

namespace salvage {

class Vmcoreinfo {
 public:
  // Parses the note's descriptor text. Never fails: bad lines become
  // warnings ("line 12 at byte 0x1a3: no '=' in ...").
  static Vmcoreinfo parse(std::string_view text);

  const std::string& raw() const { return raw_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  bool has(std::string_view key) const { return values_.count(std::string(key)) != 0; }
  std::optional<std::string> string(std::string_view key) const;

  // Typed getters. Each fails with the key and the offending value.
  Result<u64> symbol(std::string_view name) const;    // SYMBOL(name)=hex
  Result<u64> size(std::string_view name) const;      // SIZE(name)=dec
  Result<u64> offset(std::string_view member) const;  // OFFSET(struct.member)=dec
  Result<u64> length(std::string_view name) const;    // LENGTH(name)=dec
  Result<i64> number(std::string_view name) const;    // NUMBER(name)=signed dec
  Result<u64> hex(std::string_view key) const;        // e.g. KERNELOFFSET
  Result<i64> decimal(std::string_view key) const;    // e.g. CRASHTIME, PAGESIZE

  std::string osrelease() const { return string("OSRELEASE").value_or(""); }
  u64 kernel_offset() const {
    auto r = hex("KERNELOFFSET");
    return r.ok() ? *r : 0;
  }
  const std::map<std::string, std::string>& entries() const { return values_; }

 private:
  Result<u64> parse_unsigned(const std::string& key, int base) const;
  std::string raw_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> warnings_;
};

}  // namespace salvage
