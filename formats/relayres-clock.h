// Record timestamps of a relayres= channel (formats/relayres-layout.h) as
// nanoseconds: since the writing kernel's boot (its local_clock() scale) and
// since the epoch. RELAYRES_CLOCK_LOCAL stamps are already local_clock() ns;
// RELAYRES_CLOCK_TSC stamps are raw TSC cycles, converted through the
// header's tsc_khz and the anchor taken at initialisation (anchor_tsc read
// with anchor_clock_ns and anchor_real_ns). Kept apart from the channel
// parser so its one job, the arithmetic, is tested on its own.
#pragma once

#include <optional>
#include <string>

#include "formats/relayres-layout.h"
#include "formats/types.h"

namespace salvage {

struct RelayresClock {
  u32 clock_id = RELAYRES_CLOCK_LOCAL;
  u32 tsc_khz = 0;
  u64 anchor_tsc = 0, anchor_clock_ns = 0, anchor_real_ns = 0;

  // ns between the anchor and a stamp (negative for a stamp before it).
  i64 since_anchor_ns(u64 ts) const;
  // The writing kernel's local_clock() ns for a stamp.
  i64 clock_ns(u64 ts) const { return static_cast<i64>(anchor_clock_ns) + since_anchor_ns(ts); }
  // Wall-clock ns since the epoch for a stamp.
  i64 wall_ns(u64 ts) const { return static_cast<i64>(anchor_real_ns) + since_anchor_ns(ts); }
};

// The clock fields of a header (any version-1 header; before the TSC clock
// the new fields were reserved zeros).
RelayresClock relayres_clock(const relayres_header& hd);

// What makes times from this clock a guess (an unknown clock_id, a TSC clock
// without tsc_khz), as a channel warning naming the field; nullopt if none.
// Such stamps are then read as local_clock() ns, as before the TSC clock.
std::optional<std::string> relayres_clock_problem(const RelayresClock& c);

}  // namespace salvage
