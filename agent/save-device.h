// SPDX-License-Identifier: GPL-2.0-or-later
// The raw dump device (or a file standing in for one in tests), opened for
// writing in place: never created, never truncated, unlike FileSink::create.
// `salvage save` marks sections saved through it; the container test tool
// builds containers with it.
#pragma once

#include <memory>
#include <string>

#include "formats/sink.h"

namespace salvage {

class DeviceSink final : public Sink {
 public:
  static Result<std::unique_ptr<DeviceSink>> open(const std::string& path);
  ~DeviceSink() override;
  DeviceSink(const DeviceSink&) = delete;
  DeviceSink& operator=(const DeviceSink&) = delete;

  Result<void> write_at(FileOffset off, std::span<const std::byte> data) override;
  Result<void> finish() override;  // fdatasync
  std::string name() const override { return path_; }
  u64 size() const { return size_; }  // block device size, or file size

 private:
  DeviceSink(std::string path, int fd, u64 size) : path_(std::move(path)), fd_(fd), size_(size) {}
  std::string path_;
  int fd_;
  u64 size_;
};

}  // namespace salvage
