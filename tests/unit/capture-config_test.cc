// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/capture-config.h"

#include <gtest/gtest.h>

namespace salvage {
namespace {

TEST(CaptureConfig, TargetSpecs) {
  auto l = parse_target_spec("LABEL=dump");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->kind, TargetSpec::Kind::kLabel);
  EXPECT_EQ(l->value, "dump");
  EXPECT_FALSE(l->file_system);
  auto f = parse_target_spec("fs:UUID=0b9e-11:/var/crash");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->kind, TargetSpec::Kind::kUuid);
  EXPECT_EQ(f->value, "0b9e-11");
  EXPECT_TRUE(f->file_system);
  EXPECT_EQ(f->dir, "/var/crash");
  EXPECT_EQ(f->device_spec(), "UUID=0b9e-11");
  auto p = parse_target_spec("fs:/dev/vdb1:/");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, TargetSpec::Kind::kPath);
  EXPECT_EQ(p->value, "/dev/vdb1");
  for (const char* s : {"LABEL=dump", "UUID=abc", "PARTUUID=1234-02", "/dev/vdb", "fs:LABEL=crash:/var/crash"}) {
    auto t = parse_target_spec(s);
    ASSERT_TRUE(t.ok()) << s;
    EXPECT_EQ(t->to_string(), s);
  }
  for (const char* bad : {"", "dump", "LABEL=", "vdb", "/dev/", "fs:LABEL=x", "fs:LABEL=x:rel", "fs:LABEL=x:/a/../b",
                          "LABEL=a\nb"})
    EXPECT_FALSE(parse_target_spec(bad).ok()) << bad;
}

TEST(CaptureConfig, RoundTrip) {
  CaptureConfig c;
  c.targets.push_back(*parse_target_spec("LABEL=dump"));
  c.targets.push_back(*parse_target_spec("fs:LABEL=crash:/var/crash"));
  c.dump_level = 17;
  c.compression = "lzo";
  c.format = "elf";
  c.final_action = FinalAction::kPoweroff;
  c.timeout_s = 900;
  c.device_wait_s = 5;
  c.kernel_release = "6.1.0-56-cloud-amd64";
  std::string text = render_capture_config(c);
  auto back = parse_capture_config(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->targets.size(), 2u);
  EXPECT_EQ(back->targets[0].to_string(), "LABEL=dump");
  EXPECT_EQ(back->targets[1].to_string(), "fs:LABEL=crash:/var/crash");
  EXPECT_EQ(back->dump_level, 17);
  EXPECT_EQ(back->compression, "lzo");
  EXPECT_EQ(back->format, "elf");
  EXPECT_EQ(back->final_action, FinalAction::kPoweroff);
  EXPECT_EQ(back->timeout_s, 900u);
  EXPECT_EQ(back->device_wait_s, 5u);
  EXPECT_EQ(back->kernel_release, "6.1.0-56-cloud-amd64");
  EXPECT_EQ(render_capture_config(*back), text);
}

TEST(CaptureConfig, DefaultsAndComments) {
  auto c = parse_capture_config("# comment\n\n  target = /dev/vdb  \r\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->targets.at(0).value, "/dev/vdb");
  EXPECT_EQ(c->dump_level, 31);
  EXPECT_EQ(c->compression, "zstd");
  EXPECT_EQ(c->format, "kdump");
  EXPECT_EQ(c->final_action, FinalAction::kReboot);
}

TEST(CaptureConfig, ErrorsNameTheLine) {
  struct Case {
    const char* text;
    const char* needle;
  } cases[] = {
      {"version=1\ndump_level=32\n", "line 2"},
      {"dump_levle=3\n", "unknown key 'dump_levle'"},
      {"version=2\n", "version 2"},
      {"target\n", "key=value"},
      {"compression=gzip\n", "compression"},
      {"format=raw\n", "format"},
      {"final_action=explode\n", "final_action"},
      {"timeout=-1\n", "timeout"},
      {"device_wait=10s\n", "device_wait"},
      {"\n\ntarget=sda\n", "line 3"},
  };
  for (const auto& k : cases) {
    auto r = parse_capture_config(k.text);
    ASSERT_FALSE(r.ok()) << k.text;
    EXPECT_NE(r.error().message.find(k.needle), std::string::npos) << r.error().message;
  }
}

TEST(CaptureConfig, CommandLineOverrides) {
  CaptureConfig c = *parse_capture_config("target=LABEL=dump\ntarget=/dev/vdc\ndump_level=31\n");
  auto problems = apply_capture_cmdline(
      c, "BOOT_IMAGE=/vmlinuz root=/dev/vda1 elfcorehdr=0x1000 salvage.target=\"fs:LABEL=my crash:/var/crash\" "
         "salvage.target=/dev/vdd salvage.dump_level=1 salvage.final_action=halt salvage.timeout=60 irqpoll");
  EXPECT_TRUE(problems.empty());
  ASSERT_EQ(c.targets.size(), 2u);  // the first salvage.target= replaced the baked-in list
  EXPECT_EQ(c.targets[0].value, "my crash");
  EXPECT_TRUE(c.targets[0].file_system);
  EXPECT_EQ(c.targets[1].value, "/dev/vdd");
  EXPECT_EQ(c.dump_level, 1);
  EXPECT_EQ(c.final_action, FinalAction::kHalt);
  EXPECT_EQ(c.timeout_s, 60u);
}

TEST(CaptureConfig, BadCommandLineKeepsTheBakedInValues) {
  CaptureConfig c = *parse_capture_config("target=LABEL=dump\ndump_level=31\n");
  auto problems = apply_capture_cmdline(c, "salvage.target=nonsense salvage.dump_level=99 salvage.bogus=1 salvage.format");
  EXPECT_EQ(problems.size(), 4u);
  ASSERT_EQ(c.targets.size(), 1u);
  EXPECT_EQ(c.targets[0].value, "dump");
  EXPECT_EQ(c.dump_level, 31);
  EXPECT_NE(problems[1].find("salvage.dump_level=99"), std::string::npos);
}

TEST(CaptureConfig, ModuleList) {
  std::vector<std::string> paths = {"/lib/modules/6.1/kernel/drivers/virtio/virtio_ring.ko",
                                    "/lib/modules/6.1/kernel/drivers/virtio/virtio.ko"};
  auto back = parse_module_list(render_module_list(paths, "6.1"));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, paths);
  auto bad = parse_module_list("# x\n/ok.ko\nrelative.ko\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("line 3"), std::string::npos);
}

TEST(CaptureConfig, TestHangHookRoundTripsAndIsOffByDefault) {
  CaptureConfig c;
  EXPECT_EQ(c.test_hang_s, 0u);
  EXPECT_EQ(render_capture_config(c).find("test_hang"), std::string::npos);
  EXPECT_TRUE(apply_capture_cmdline(c, "salvage.test_hang=40").empty());
  EXPECT_EQ(c.test_hang_s, 40u);
  auto back = parse_capture_config(render_capture_config(c));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->test_hang_s, 40u);
  EXPECT_FALSE(apply_capture_cmdline(c, "salvage.test_hang=soon").empty());
}

}  // namespace
}  // namespace salvage
