// SPDX-License-Identifier: GPL-2.0-or-later
// Logging and step timing. A Log is created in main() and passed down
// explicitly; there is no global logger.
#pragma once

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <string>

namespace salvage {

class Log {
 public:
  explicit Log(int verbosity = 0, std::FILE* out = stderr) : verbosity_(verbosity), out_(out) {}
  void info(const char* fmt, ...) const __attribute__((format(printf, 2, 3))) {
    if (verbosity_ < 1) return;
    va_list ap;
    va_start(ap, fmt);
    emit("", fmt, ap);
    va_end(ap);
  }
  void warn(const char* fmt, ...) const __attribute__((format(printf, 2, 3))) {
    va_list ap;
    va_start(ap, fmt);
    emit("warning: ", fmt, ap);
    va_end(ap);
  }
  void error(const char* fmt, ...) const __attribute__((format(printf, 2, 3))) {
    va_list ap;
    va_start(ap, fmt);
    emit("error: ", fmt, ap);
    va_end(ap);
  }
  int verbosity() const { return verbosity_; }

 private:
  void emit(const char* prefix, const char* fmt, va_list ap) const {
    std::fprintf(out_, "salvage: %s", prefix);
    std::vfprintf(out_, fmt, ap);
    std::fputc('\n', out_);
  }
  int verbosity_;
  std::FILE* out_;
};

// Times one pipeline step and logs it at -v: "read headers: 0.012 s".
class StepTimer {
 public:
  StepTimer(const Log& log, const char* step) : log_(log), step_(step), t0_(std::chrono::steady_clock::now()) {}
  ~StepTimer() { log_.info("%s: %.3f s", step_, seconds()); }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

 private:
  const Log& log_;
  const char* step_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace salvage
