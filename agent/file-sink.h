// SPDX-License-Identifier: GPL-2.0-or-later
// Sinks backed by a file descriptor: positioned pwrite to a regular file or
// block device, or sequential write() to a pipe/stdout (for the flattened
// format, which only ever appends).
#pragma once

#include <memory>
#include <string>

#include "formats/sink.h"

namespace salvage {

class FileSink final : public Sink {
 public:
  // Creates (or truncates) a regular file; opens a block device as is.
  static Result<std::unique_ptr<FileSink>> create(const std::string& path);
  // Wraps an already open fd that only accepts sequential writes (stdout, a
  // pipe, a socket): write_at must be called with consecutive offsets. The fd
  // is not closed.
  static std::unique_ptr<FileSink> stream(int fd, std::string name);
  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  Result<void> write_at(FileOffset off, std::span<const std::byte> data) override;
  // Regular files and block devices: fdatasync. Streams: nothing to flush.
  Result<void> finish() override;
  std::string name() const override { return path_; }

 private:
  FileSink(std::string path, int fd, bool seekable, bool owned)
      : path_(std::move(path)), fd_(fd), seekable_(seekable), owned_(owned) {}
  std::string path_;
  int fd_;
  bool seekable_;
  bool owned_;
  u64 stream_pos_ = 0;
};

}  // namespace salvage
