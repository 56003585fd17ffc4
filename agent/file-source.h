// SPDX-License-Identifier: GPL-2.0-or-later
// ByteSource over a file or /proc/vmcore. Reads go through 4 MiB read-only
// mmap windows, as makedumpfile does, because /proc/vmcore's read() copies
// through a bounce page per call (fs/proc/vmcore.c); when mmap is refused
// (older kernels, odd files) it falls back to pread for good.
#pragma once

#include <memory>
#include <string>

#include "formats/byte-source.h"

namespace salvage {

class FileSource final : public ByteSource {
 public:
  static Result<std::unique_ptr<FileSource>> open(const std::string& path, bool use_mmap = true);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  Result<void> read_at(FileOffset off, std::span<std::byte> out) override;
  u64 size() const override { return size_; }
  std::string name() const override { return path_; }

 private:
  FileSource(std::string path, int fd, u64 size, bool use_mmap)
      : path_(std::move(path)), fd_(fd), size_(size), use_mmap_(use_mmap) {}
  Result<void> pread_all(u64 off, std::span<std::byte> out);
  std::string path_;
  int fd_ = -1;
  u64 size_ = 0;
  bool use_mmap_ = true;
  void* win_ = nullptr;
  u64 win_off_ = 0;
  u64 win_len_ = 0;
};

}  // namespace salvage
