// SPDX-License-Identifier: GPL-2.0-or-later
// A temporary directory removed with everything in it at scope end, and the
// permission bits of a path: the tests that check file modes (0600/0700).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

namespace salvage::testing {

struct TempDir {
  std::string path;
  explicit TempDir(const std::string& prefix = "salvage-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

inline unsigned mode_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

}  // namespace salvage::testing
