// SPDX-License-Identifier: GPL-2.0-or-later
// Where format writers put their bytes. A writer says where each byte goes
// (write_at); a sink decides how: pwrite to a file or block device, or a
// makedumpfile flattened stream for pipes and the network.
#pragma once

#include <span>
#include <string>

#include "formats/result.h"
#include "formats/types.h"

namespace salvage {

class Sink {
 public:
  virtual ~Sink() = default;
  virtual Result<void> write_at(FileOffset off, std::span<const std::byte> data) = 0;
  // Flushes and makes the data durable where that means something.
  virtual Result<void> finish() = 0;
  virtual std::string name() const = 0;
};

}  // namespace salvage
