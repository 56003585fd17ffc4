// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/relayres-source.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/cmdline.h"
#include "agent/file-source.h"
#include "formats/elf-vmcore.h"
#include "formats/hex.h"

namespace salvage {

namespace {

// memparse() (lib/cmdline.c): a number in C notation, then K/M/G/T.
Result<u64> parse_number(std::string_view s, const char* what) {
  if (s.empty()) return make_error(std::string(what) + " is empty");
  std::string t(s);
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(t.c_str(), &end, 0);
  if (errno || end == t.c_str() || t[0] == '-') return make_error(std::string(what) + " '" + t + "' is not a number");
  unsigned shift = 0;
  if (*end) {
    switch (*end) {
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      case 't': case 'T': shift = 40; break;
      default: return make_error(std::string(what) + " '" + t + "' has an unknown suffix");
    }
    if (end[1]) return make_error(std::string(what) + " '" + t + "' has trailing characters");
  }
  if (shift && v > (~0ull >> shift)) return make_error(std::string(what) + " '" + t + "' overflows");
  return static_cast<u64>(v) << shift;
}

std::string unquote(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != '"') out.push_back(c);
  return out;
}

// A window of a file (the vmcore's PT_LOAD data, or /dev/mem at the
// region's physical address) read with pread as the walk asks for it.
class RegionSource final : public ByteSource {
 public:
  struct Extent {
    u64 region_off, file_off, len;
  };
  RegionSource(std::string path, int fd, std::vector<Extent> ext, u64 size)
      : path_(std::move(path)), fd_(fd), ext_(std::move(ext)), size_(size) {}
  ~RegionSource() override { ::close(fd_); }
  RegionSource(const RegionSource&) = delete;
  RegionSource& operator=(const RegionSource&) = delete;
  u64 size() const override { return size_; }
  std::string name() const override { return path_; }

  Result<void> read_at(FileOffset off, std::span<std::byte> out) override {
    if (off.value > size_ || out.size() > size_ - off.value)
      return make_error(path_ + ": " + std::to_string(out.size()) + " bytes at region offset " + hex(off.value) +
                        " lie past the region's end (" + std::to_string(size_) + " bytes)");
    u64 cur = off.value;
    size_t done = 0;
    while (done < out.size()) {
      const Extent* e = nullptr;
      for (const auto& x : ext_)
        if (x.region_off <= cur && cur - x.region_off < x.len) e = &x;
      if (!e) return make_error(path_ + ": region offset " + hex(cur) + " is in no extent");
      const u64 file_off = e->file_off + (cur - e->region_off);
      const size_t want = static_cast<size_t>(std::min<u64>(out.size() - done, e->region_off + e->len - cur));
      ssize_t r = ::pread(fd_, out.data() + done, want, static_cast<off_t>(file_off));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        const int err = r < 0 ? errno : EIO;
        return Error{"reading " + path_ + " at " + hex(file_off) + ": " +
                         (r == 0 ? std::string("end of file") : std::string(std::strerror(err))),
                     err};
      }
      done += static_cast<size_t>(r);
      cur += static_cast<u64>(r);
    }
    return Ok();
  }

 private:
  std::string path_;
  int fd_;
  std::vector<Extent> ext_;
  u64 size_;
};

// The region through the vmcore's PT_LOADs, or nullopt when they do not
// cover all of it.
Result<std::optional<RegionReader>> open_via_vmcore(const RelayresSpec& spec, const std::string& vmcore) {
  if (vmcore.empty() || ::access(vmcore.c_str(), R_OK) != 0) return std::optional<RegionReader>();
  std::vector<RegionSource::Extent> ext;
  std::string used;
  {
    ASSIGN_OR_RETURN(auto src, FileSource::open(vmcore));
    ASSIGN_OR_RETURN(auto layout, parse_elf_vmcore_layout(*src).context(vmcore));
    const u64 end = spec.phys + spec.size;
    for (u64 cur = spec.phys; cur < end;) {
      const ElfSegment* seg = nullptr;
      size_t idx = 0;
      for (size_t i = 0; i < layout.loads.size(); ++i) {
        const auto& l = layout.loads[i];
        if (l.paddr.value <= cur && cur - l.paddr.value < l.filesz) {
          seg = &l;
          idx = i;
          break;
        }
      }
      if (!seg) return std::optional<RegionReader>();  // not (all) dumped memory
      const u64 n = std::min(end, seg->paddr.value + seg->filesz) - cur;
      ext.push_back({cur - spec.phys, seg->offset.value + (cur - seg->paddr.value), n});
      used += (used.empty() ? "" : ",") + std::to_string(idx);
      cur += n;
    }
  }
  int fd = ::open(vmcore.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("open " + vmcore);
  RegionReader out;
  out.src = std::make_unique<RegionSource>(vmcore, fd, std::move(ext), spec.size);
  out.via = vmcore + " (PT_LOAD " + used + ")";
  return std::optional<RegionReader>(std::move(out));
}

Result<RegionReader> open_via_dev_mem(const RelayresSpec& spec, const std::string& dev_mem) {
  int fd = ::open(dev_mem.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("open " + dev_mem);
  RegionReader out;
  out.src = std::make_unique<RegionSource>(dev_mem, fd, std::vector<RegionSource::Extent>{{0, spec.phys, spec.size}},
                                           spec.size);
  out.via = dev_mem;
  // The first page now, so an address outside memory fails here.
  std::vector<std::byte> page(std::min<u64>(spec.size, kPageSize));
  TRY(out.src->read_at(FileOffset(0), page));
  return out;
}

}  // namespace

std::string RelayresSpec::to_string() const {
  std::string s;
  if (size % (1 << 20) == 0) s = std::to_string(size >> 20) + "M";
  else if (size % 1024 == 0) s = std::to_string(size >> 10) + "K";
  else s = std::to_string(size);
  return s + "@" + hex(phys);
}

Result<RelayresSpec> parse_relayres_spec(std::string_view value) {
  const std::string v = unquote(value);
  const size_t at = v.find('@');
  if (at == std::string::npos) return make_error("relayres value '" + v + "' is not SIZE@ADDR");
  RelayresSpec s;
  ASSIGN_OR_RETURN(s.size, parse_number(std::string_view(v).substr(0, at), "relayres SIZE"));
  ASSIGN_OR_RETURN(s.phys, parse_number(std::string_view(v).substr(at + 1), "relayres ADDR"));
  if (s.size == 0 || s.size % kPageSize) return make_error("relayres SIZE in '" + v + "' is not a non-zero page multiple");
  if (s.phys % kPageSize) return make_error("relayres ADDR in '" + v + "' is not page aligned");
  if (s.phys + s.size < s.phys) return make_error("relayres region '" + v + "' wraps around the address space");
  return s;
}

Result<std::optional<RelayresSpec>> relayres_from_cmdline(std::string_view cmdline) {
  std::optional<RelayresSpec> found;
  for (const auto& tok : split_cmdline(cmdline).params) {
    const std::string key = param_key(tok);
    if (key != "relayres" && !(key.size() > 9 && key.ends_with(".relayres"))) continue;
    const std::string t = unquote(tok);
    const size_t eq = t.find('=');
    if (eq == std::string::npos) return make_error("kernel parameter '" + t + "' has no value (SIZE@ADDR)");
    ASSIGN_OR_RETURN(RelayresSpec s, parse_relayres_spec(std::string_view(t).substr(eq + 1)).context("kernel parameter " + key));
    s.param = key;
    found = s;
  }
  return found;
}

Result<RegionReader> open_relayres_region(const RelayresSpec& spec, const RelayresReadPaths& paths) {
  ASSIGN_OR_RETURN(auto from_core, open_via_vmcore(spec, paths.vmcore));
  if (from_core) return std::move(*from_core);
  auto r = open_via_dev_mem(spec, paths.dev_mem);
  if (r.ok()) return r;
  return make_error("the relayres region " + spec.to_string() + " is not in " +
                    (paths.vmcore.empty() ? std::string("a vmcore") : paths.vmcore + "'s PT_LOADs") + " and " +
                    r.error().message +
                    " (outside memory, System RAM, or claimed by a driver under CONFIG_IO_STRICT_DEVMEM; is the "
                    "address right and reserved with memmap=SIZE$ADDR?)");
}

Result<RegionBytes> read_relayres_region(const RelayresSpec& spec, const RelayresReadPaths& paths) {
  ASSIGN_OR_RETURN(RegionReader r, open_relayres_region(spec, paths));
  RegionBytes out;
  out.via = r.via;
  ASSIGN_OR_RETURN(out.bytes, read_bytes(*r.src, FileOffset(0), spec.size));
  return out;
}

Result<void> mark_relayres_consumed(const RelayresSpec& spec, const RelayresHeaderInfo& h, const std::string& dev_mem) {
  const u64 at = spec.phys + relayres_consumed_offset(h);
  int fd = ::open(dev_mem.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("open " + dev_mem + " to mark the channel consumed");
  const u32 one = 1;
  ssize_t w = ::pwrite(fd, &one, sizeof one, static_cast<off_t>(at));
  const int err = errno;
  u32 back = 0;
  ssize_t r = w == sizeof one ? ::pread(fd, &back, sizeof back, static_cast<off_t>(at)) : -1;
  ::close(fd);
  if (w != sizeof one) return Error::from_errno("writing consumed=1 at " + hex(at) + " in " + dev_mem, w < 0 ? err : EIO);
  if (r != sizeof back || back != 1) return make_error("consumed flag at " + hex(at) + " in " + dev_mem + " did not read back as 1");
  return Ok();
}

}  // namespace salvage
