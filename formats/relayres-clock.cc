#include "formats/relayres-clock.h"

#include <cstddef>
#include <limits>

namespace salvage {

namespace {

i64 clamp_i64(__int128 v) {
  if (v > std::numeric_limits<i64>::max()) return std::numeric_limits<i64>::max();
  if (v < std::numeric_limits<i64>::min()) return std::numeric_limits<i64>::min();
  return static_cast<i64>(v);
}

}  // namespace

i64 RelayresClock::since_anchor_ns(u64 ts) const {
  if (clock_id == RELAYRES_CLOCK_TSC && tsc_khz != 0) {
    // cycles * 1e6 / kHz = ns; 128 bits so that a 64-bit cycle difference
    // times 10^6 cannot overflow, rounded to nearest.
    const __int128 cycles = static_cast<__int128>(ts) - static_cast<__int128>(anchor_tsc);
    const __int128 scaled = cycles * 1000000;
    const __int128 half = tsc_khz / 2;
    return clamp_i64(scaled >= 0 ? (scaled + half) / tsc_khz : (scaled - half) / tsc_khz);
  }
  return clamp_i64(static_cast<__int128>(ts) - static_cast<__int128>(anchor_clock_ns));
}

RelayresClock relayres_clock(const relayres_header& hd) {
  return RelayresClock{.clock_id = hd.clock_id, .tsc_khz = hd.tsc_khz, .anchor_tsc = hd.anchor_tsc,
                       .anchor_clock_ns = hd.anchor_clock_ns, .anchor_real_ns = hd.anchor_real_ns};
}

std::optional<std::string> relayres_clock_problem(const RelayresClock& c) {
  if (c.clock_id == RELAYRES_CLOCK_LOCAL) return std::nullopt;
  if (c.clock_id == RELAYRES_CLOCK_TSC) {
    if (c.tsc_khz != 0) return std::nullopt;
    return "clock_id TSC but tsc_khz (header offset " + std::to_string(offsetof(relayres_header, tsc_khz)) +
           ") is 0: stamps read as ns, wall times are a guess";
  }
  return "clock_id " + std::to_string(c.clock_id) + " (header offset " + std::to_string(offsetof(relayres_header, clock_id)) +
         ") unknown: wall times are a guess";
}

}  // namespace salvage
