// SPDX-License-Identifier: GPL-2.0-or-later
// Which block device is the dump target: LABEL= falls back to the GPT
// partition name, UUIDs ignore case, paths match exactly.
#include <gtest/gtest.h>

#include "agent/capture-target.h"

namespace salvage {
namespace {

TargetSpec spec(const char* s) {
  auto t = parse_target_spec(s);
  EXPECT_TRUE(t.ok()) << s;
  return *t;
}

TEST(CaptureTarget, LabelMatchesFileSystemLabelOrPartitionName) {
  BlockIds fs{.label = "dump", .uuid = "", .partuuid = "", .partlabel = ""};
  BlockIds part{.label = "", .uuid = "", .partuuid = "", .partlabel = "dump"};
  BlockIds other{.label = "root", .uuid = "", .partuuid = "", .partlabel = "rootpart"};
  EXPECT_TRUE(target_matches(spec("LABEL=dump"), "/dev/vdb", fs));
  EXPECT_TRUE(target_matches(spec("LABEL=dump"), "/dev/vda1", part));
  EXPECT_FALSE(target_matches(spec("LABEL=dump"), "/dev/vda2", other));
  EXPECT_FALSE(target_matches(spec("LABEL=Dump"), "/dev/vdb", fs)) << "labels are case-sensitive";
  EXPECT_FALSE(target_matches(spec("LABEL=dump"), "/dev/vdc", BlockIds{})) << "empty ids never match";
}

TEST(CaptureTarget, UuidsCompareWithoutCase) {
  BlockIds ids{.label = "", .uuid = "0a1b-2c3d", .partuuid = "ABCDEF01-02", .partlabel = ""};
  EXPECT_TRUE(target_matches(spec("UUID=0A1B-2C3D"), "/dev/sda", ids));
  EXPECT_TRUE(target_matches(spec("PARTUUID=abcdef01-02"), "/dev/sda2", ids));
  EXPECT_FALSE(target_matches(spec("UUID=abcdef01-02"), "/dev/sda2", ids)) << "UUID= is not PARTUUID=";
  EXPECT_FALSE(target_matches(spec("PARTUUID=0a1b-2c3d"), "/dev/sda", ids));
}

TEST(CaptureTarget, PathMatchesOnlyThatDevice) {
  EXPECT_TRUE(target_matches(spec("/dev/vdb"), "/dev/vdb", BlockIds{}));
  EXPECT_FALSE(target_matches(spec("/dev/vdb"), "/dev/vdb1", BlockIds{}));
}

TEST(CaptureTarget, WaitForMissingPathGivesUpAndSaysWhat) {
  auto r = wait_for_target(spec("/dev/salvage-no-such-device"), 0.3);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/dev/salvage-no-such-device did not appear"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace salvage
