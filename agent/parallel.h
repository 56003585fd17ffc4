// SPDX-License-Identifier: GPL-2.0-or-later
// A fixed pool of worker threads running one data-parallel loop at a time
// (mold's parallel_for, without TBB, which Debian ships only as a shared
// library). Work is split by index, so results land in fixed slots and the
// output is byte-identical for any thread count.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace salvage {

class ParallelFor {
 public:
  explicit ParallelFor(unsigned threads);
  ~ParallelFor();
  ParallelFor(const ParallelFor&) = delete;
  ParallelFor& operator=(const ParallelFor&) = delete;

  unsigned threads() const { return threads_; }
  // Calls fn(i, thread) for i in [0, n); thread in [0, threads()).
  // The calling thread is thread 0. Returns when all calls have returned.
  void run(size_t n, const std::function<void(size_t, unsigned)>& fn);

 private:
  void worker(unsigned id);
  unsigned threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void(size_t, unsigned)>* fn_ = nullptr;
  size_t n_ = 0;
  unsigned long generation_ = 0;
  unsigned pending_ = 0;
  bool stop_ = false;
};

}  // namespace salvage
