// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/cpio-reader.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>

#include "formats/cpio.h"
#include "formats/hex.h"

namespace salvage {
namespace {

size_t round4(size_t v) { return (v + 3) & ~size_t{3}; }

bool has_magic(std::string_view s, size_t off, std::string_view magic) {
  return s.size() >= off + magic.size() && s.substr(off, magic.size()) == magic;
}

// One gzip member starting at `in`; returns the bytes it used.
Result<size_t> gunzip_member(std::string_view in, std::string& out) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return make_error("gzip: inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(std::min<size_t>(in.size(), UINT32_MAX));
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      std::string msg = zs.msg ? zs.msg : "inflate error " + std::to_string(rc);
      size_t at = zs.total_in;
      inflateEnd(&zs);
      return make_error("gzip: " + msg + " at input byte " + hex(at));
    }
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > kInitramfsMaxUnpacked) {
      inflateEnd(&zs);
      return make_error("gzip: unpacks to more than " + std::to_string(kInitramfsMaxUnpacked >> 20) + " MiB");
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return make_error("gzip: truncated stream");
    }
  }
  size_t used = zs.total_in;
  inflateEnd(&zs);
  return used;
}

// One zstd frame starting at `in`; returns the bytes it used.
Result<size_t> unzstd_frame(std::string_view in, std::string& out) {
  size_t frame = ZSTD_findFrameCompressedSize(in.data(), in.size());
  if (ZSTD_isError(frame)) return make_error(std::string("zstd: ") + ZSTD_getErrorName(frame));
  ZSTD_DStream* ds = ZSTD_createDStream();
  if (!ds) return make_error("zstd: out of memory");
  ZSTD_initDStream(ds);
  ZSTD_inBuffer ib{in.data(), frame, 0};
  char buf[1 << 16];
  while (ib.pos < ib.size) {
    ZSTD_outBuffer ob{buf, sizeof buf, 0};
    size_t rc = ZSTD_decompressStream(ds, &ob, &ib);
    if (ZSTD_isError(rc)) {
      ZSTD_freeDStream(ds);
      return make_error(std::string("zstd: ") + ZSTD_getErrorName(rc) + " at input byte " + hex(ib.pos));
    }
    out.append(buf, ob.pos);
    if (out.size() > kInitramfsMaxUnpacked) {
      ZSTD_freeDStream(ds);
      return make_error("zstd: unpacks to more than " + std::to_string(kInitramfsMaxUnpacked >> 20) + " MiB");
    }
  }
  ZSTD_freeDStream(ds);
  return frame;
}

// Walks newc archives at the start of `a` (several may follow each other,
// zero-padded between). Stops at the end of `a` or, after a trailer, at the
// first byte that starts no archive (a compressed segment); returns that
// offset.
Result<size_t> parse_archives(std::string_view a, InitramfsListing& out) {
  size_t off = 0;
  bool after_trailer = false;
  for (size_t idx = 0;; ++idx) {
    while (after_trailer && off < a.size() && a[off] == '\0') ++off;
    if (off >= a.size()) return off;
    if (after_trailer && !has_magic(a, off, "07070")) return off;
    std::string where = "cpio entry " + std::to_string(idx) + " at offset " + hex(off);
    ASSIGN_OR_RETURN(CpioHeader h, parse_cpio_header(a.substr(off)).context(where));
    size_t name_off = off + kCpioHeaderSize;
    if (h.namesize == 0 || h.namesize > 4096 || name_off + h.namesize > a.size())
      return make_error(where + ": namesize " + std::to_string(h.namesize) + " out of range");
    std::string name(a.substr(name_off, h.namesize - 1));
    size_t data_off = round4(name_off + h.namesize);
    if (data_off + h.filesize > a.size())
      return make_error(where + ": filesize " + std::to_string(h.filesize) + " runs past the end");
    off = round4(data_off + h.filesize);
    after_trailer = name == kCpioTrailer;
    if (after_trailer) continue;  // another archive may follow
    while (name.starts_with("./")) name.erase(0, 2);
    while (name.starts_with("/")) name.erase(0, 1);
    if (name.empty() || name == ".") continue;
    InitramfsFile f{name, h.mode, h.filesize, {}};
    bool regular = (h.mode & 0170000) == 0100000;
    if (regular) {
      out.unpacked_bytes += h.filesize;
      if (h.filesize <= kInitramfsKeepBytes) f.data = std::string(a.substr(data_off, h.filesize));
    }
    if ((h.mode & 0170000) == 0120000) f.data = std::string(a.substr(data_off, h.filesize));  // symlink target
    auto it = std::find_if(out.files.begin(), out.files.end(), [&](const InitramfsFile& e) { return e.name == name; });
    if (it != out.files.end()) {
      if ((it->mode & 0170000) == 0100000) out.unpacked_bytes -= it->size;  // the kernel replaces the file
      *it = std::move(f);
    }
    else out.files.push_back(std::move(f));
  }
}

}  // namespace

const InitramfsFile* InitramfsListing::find(std::string_view name) const {
  while (name.starts_with("/")) name.remove_prefix(1);
  for (const auto& f : files)
    if (f.name == name) return &f;
  return nullptr;
}

Result<InitramfsListing> read_initramfs(std::string_view file) {
  InitramfsListing out;
  size_t off = 0;
  while (off < file.size()) {
    if (file[off] == '\0') {
      ++off;
      continue;
    }
    std::string where = "initramfs segment " + std::to_string(out.segments.size()) + " at offset " + hex(off);
    if (has_magic(file, off, "07070")) {
      // A plain archive (or several); a compressed one may follow.
      ASSIGN_OR_RETURN(size_t used, parse_archives(file.substr(off), out).context(where));
      out.segments.push_back("plain");
      off += used;
      continue;
    }
    std::string unpacked;
    size_t used = 0;
    if (has_magic(file, off, "\x1f\x8b")) {
      ASSIGN_OR_RETURN(used, gunzip_member(file.substr(off), unpacked).context(where));
      out.segments.push_back("gzip");
    } else if (has_magic(file, off, "\x28\xb5\x2f\xfd")) {
      ASSIGN_OR_RETURN(used, unzstd_frame(file.substr(off), unpacked).context(where));
      out.segments.push_back("zstd");
    } else {
      return make_error(where + ": not a cpio archive, gzip or zstd stream (first bytes " +
                        hex(static_cast<u8>(file[off])) + "); xz/lz4/bzip2 initramfs are not read by salvage");
    }
    TRY_CTX(parse_archives(unpacked, out), where);
    off += used;
  }
  if (out.segments.empty()) return make_error("initramfs: empty file");
  return out;
}

}  // namespace salvage
