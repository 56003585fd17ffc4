// SPDX-License-Identifier: GPL-2.0-or-later
// Errors are values. A Result<T> holds either a T or an Error; callers add
// context on the way up, so a failure deep in a writer reads like
// "writing page_desc at 0x3000: pwrite /dev/vdb: No space left on device".
// std::expected is C++23; this is the small C++20 subset we need.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace salvage {

struct Error {
  std::string message;
  int sys_errno = 0;  // errno of the failing system call, 0 if none

  static Error from_errno(std::string what, int err = errno) {
    return Error{what + ": " + std::strerror(err), err};
  }
  // Prefix context: "reading header: " + message.
  Error with_context(const std::string& ctx) const& {
    return Error{ctx + ": " + message, sys_errno};
  }
  Error with_context(const std::string& ctx) && {
    message = ctx + ": " + message;
    return std::move(*this);
  }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

  Result context(const std::string& ctx) && {
    if (!ok()) return std::move(*this).error().with_context(ctx);
    return std::move(*this);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), has_err_(true) {}  // NOLINT
  bool ok() const { return !has_err_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { return err_; }
  Error&& error() && { return std::move(err_); }
  Result context(const std::string& ctx) && {
    if (has_err_) err_ = std::move(err_).with_context(ctx);
    return std::move(*this);
  }

 private:
  Error err_;
  bool has_err_ = false;
};

inline Result<void> Ok() { return {}; }

inline Error make_error(std::string message) { return Error{std::move(message), 0}; }

}  // namespace salvage

// TRY(expr): evaluate a Result, return its error from the enclosing function.
#define SALVAGE_CONCAT_(a, b) a##b
#define SALVAGE_CONCAT(a, b) SALVAGE_CONCAT_(a, b)
#define TRY(expr)                                            \
  do {                                                       \
    auto&& SALVAGE_CONCAT(try_r_, __LINE__) = (expr);        \
    if (!SALVAGE_CONCAT(try_r_, __LINE__).ok())              \
      return std::move(SALVAGE_CONCAT(try_r_, __LINE__)).error(); \
  } while (0)
// TRY_CTX(expr, ctx): same, prefixing ctx (a std::string expression).
#define TRY_CTX(expr, ctx)                                   \
  do {                                                       \
    auto&& SALVAGE_CONCAT(try_r_, __LINE__) = (expr);        \
    if (!SALVAGE_CONCAT(try_r_, __LINE__).ok())              \
      return std::move(SALVAGE_CONCAT(try_r_, __LINE__)).error().with_context(ctx); \
  } while (0)
// ASSIGN_OR_RETURN(lhs, expr): lhs = value of expr or return its error.
#define ASSIGN_OR_RETURN(lhs, expr)                          \
  auto SALVAGE_CONCAT(aor_r_, __LINE__) = (expr);            \
  if (!SALVAGE_CONCAT(aor_r_, __LINE__).ok())                \
    return std::move(SALVAGE_CONCAT(aor_r_, __LINE__)).error(); \
  lhs = std::move(SALVAGE_CONCAT(aor_r_, __LINE__)).value()
