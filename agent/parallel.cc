// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/parallel.h"

namespace salvage {

ParallelFor::ParallelFor(unsigned threads) : threads_(threads ? threads : 1) {
  for (unsigned i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ParallelFor::~ParallelFor() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ParallelFor::worker(unsigned id) {
  unsigned long seen = 0;
  for (;;) {
    const std::function<void(size_t, unsigned)>* fn;
    size_t n;
    {
      std::unique_lock<std::mutex> lk(mu_);
      start_cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      fn = fn_;
      n = n_;
    }
    // Static interleaved split: index i goes to thread i % threads.
    for (size_t i = id; i < n; i += threads_) (*fn)(i, id);
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

void ParallelFor::run(size_t n, const std::function<void(size_t, unsigned)>& fn) {
  if (threads_ == 1 || n < 2) {
    for (size_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    fn_ = &fn;
    n_ = n;
    pending_ = threads_ - 1;
    ++generation_;
  }
  start_cv_.notify_all();
  for (size_t i = 0; i < n; i += threads_) fn(i, 0);
  std::unique_lock<std::mutex> lk(mu_);
  done_cv_.wait(lk, [&] { return pending_ == 0; });
}

}  // namespace salvage
