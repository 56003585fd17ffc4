// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/cmdline.h"

#include <gtest/gtest.h>

namespace salvage {
namespace {

bool has_word(const std::string& line, const std::string& w) {
  for (const auto& p : split_cmdline(line).params)
    if (p == w) return true;
  return false;
}
int count_key(const std::string& line, const std::string& key) {
  int n = 0;
  for (const auto& p : split_cmdline(line).params) n += param_key(p) == key;
  return n;
}

TEST(Cmdline, SplitHonoursQuotesAndDashes) {
  auto s = split_cmdline("  a=1 b=\"x y\" \"c=d e\"  -- --init-arg z ");
  ASSERT_EQ(s.params.size(), 3u);
  EXPECT_EQ(s.params[1], "b=\"x y\"");
  EXPECT_EQ(s.params[2], "\"c=d e\"");
  ASSERT_EQ(s.init_args.size(), 2u);
  EXPECT_EQ(s.init_args[0], "--init-arg");
}

TEST(Cmdline, KeyFoldsDashesAndQuotes) {
  EXPECT_EQ(param_key("kvm-intel.nested=1"), "kvm_intel.nested");
  EXPECT_EQ(param_key("\"console=ttyS0,115200\""), "console");
  EXPECT_EQ(param_key("irqpoll"), "irqpoll");
}

// A Debian cloud kernel line with the parameters every distribution drops.
constexpr const char* kDebian =
    "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-cloud-amd64 root=UUID=1234 ro console=ttyS0,115200 quiet "
    "crashkernel=256M hugepages=512 hugepagesz=2M default_hugepagesz=2M panic=1 nr_cpus=8 rdinit=/bin/sh "
    "rd.lvm.lv=vg/root systemd.unit=multi-user.target salvage.target=LABEL=old memmap=4G!12G "
    "relayres=16M trace.relayres=8M kvm-intel.nested=1 -- --from-init";

TEST(Cmdline, DropsWhatDistributionsDrop) {
  auto r = build_capture_cmdline(kDebian, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::string& c = *r;
  for (const char* gone : {"crashkernel", "hugepages", "hugepagesz", "default_hugepagesz", "BOOT_IMAGE", "root", "ro",
                           "quiet", "rdinit", "rd.lvm.lv", "systemd.unit", "memmap"})
    EXPECT_EQ(count_key(c, gone), 0) << gone << " in " << c;
  EXPECT_EQ(c.find("--from-init"), std::string::npos) << "init args of the running system leak: " << c;
  EXPECT_EQ(c.find("salvage.target=LABEL=old"), std::string::npos);
}

TEST(Cmdline, KeepsConsoleRelayAndUnrelated) {
  auto r = build_capture_cmdline(kDebian, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(has_word(*r, "console=ttyS0,115200"));
  EXPECT_TRUE(has_word(*r, "relayres=16M"));
  EXPECT_TRUE(has_word(*r, "trace.relayres=8M"));
  EXPECT_TRUE(has_word(*r, "kvm-intel.nested=1"));
  // The kept console comes before the appended defaults.
  EXPECT_LT(r->find("console="), r->find("irqpoll"));
}

TEST(Cmdline, AddsCaptureDefaultsOnceEach) {
  auto r = build_capture_cmdline(kDebian, {});
  ASSERT_TRUE(r.ok());
  for (const char* w : {"irqpoll", "nr_cpus=1", "reset_devices", "panic=10", "cgroup_disable=memory", "mce=off",
                        "numa=off", "transparent_hugepage=never", "cma=0", "hugetlb_cma=0", "novmcoredd"})
    EXPECT_TRUE(has_word(*r, w)) << w << " missing from " << *r;
  EXPECT_EQ(count_key(*r, "panic"), 1);    // the running panic=1 is replaced
  EXPECT_EQ(count_key(*r, "nr_cpus"), 1);  // nr_cpus=8 is replaced
}

TEST(Cmdline, SalvageOptionsAndUserAppend) {
  CaptureCmdlineOptions o;
  o.salvage_options = {{"target", "LABEL=dump"}, {"target", "fs:LABEL=my disk:/crash"}, {"dump_level", "31"}};
  o.append = "nr_cpus=2 foo=bar";
  o.boot_cpu_apicid = 0;
  auto r = build_capture_cmdline("console=ttyS0 nr_cpus=4", o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(has_word(*r, "salvage.target=LABEL=dump"));
  EXPECT_TRUE(has_word(*r, "salvage.target=\"fs:LABEL=my disk:/crash\""));
  EXPECT_EQ(cmdline_value(*r, "salvage.dump_level"), "31");
  EXPECT_TRUE(has_word(*r, "nr_cpus=2"));  // the user's value wins over the default
  EXPECT_EQ(count_key(*r, "nr_cpus"), 1);
  EXPECT_TRUE(has_word(*r, "disable_cpu_apicid=0"));
  EXPECT_TRUE(r->ends_with("nr_cpus=2 foo=bar"));
}

TEST(Cmdline, RejectsUnquotableOption) {
  CaptureCmdlineOptions o;
  o.salvage_options = {{"target", "LABEL=a\"b"}};
  EXPECT_FALSE(build_capture_cmdline("", o).ok());
}

TEST(Cmdline, EveryDropHasAReason) {
  EXPECT_NE(drop_reason("crashkernel=1G-4G:192M"), nullptr);
  EXPECT_NE(drop_reason("rd.luks.uuid=x"), nullptr);
  EXPECT_EQ(drop_reason("console=ttyS0"), nullptr);
  EXPECT_EQ(drop_reason("foo.relayres=1M"), nullptr);
}

TEST(Cmdline, ModuleOptionsForLoadableModules) {
  const char* line = "root=/dev/vda1 softdog.soft_margin=5 virtio_blk.queue_depth=64 softdog.nowayout "
                     "softdogx.a=1 softdog=1 \"softdog.msg=a b\" soft-dog.x=2 salvage.target=LABEL=d";
  EXPECT_EQ(module_options(line, "softdog"), "soft_margin=5 nowayout msg=\"a b\"");
  // '-' and '_' are one character in module and parameter names.
  EXPECT_EQ(module_options(line, "virtio-blk"), "queue_depth=64");
  EXPECT_EQ(module_options(line, "soft_dog"), "x=2");
  EXPECT_EQ(module_options(line, "ext4"), "");
  EXPECT_EQ(module_options("softdog.=3 softdog.", "softdog"), "");
}

TEST(Cmdline, CaptureKernelSkipsTracefsEventDirectories) {
  auto r = build_capture_cmdline("root=/dev/vda1", {});
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->find(" initcall_blacklist=tracer_init_tracefs"), std::string::npos) << *r;
  CaptureCmdlineOptions o;
  o.append = "initcall_blacklist=foo_init";  // the user's own list replaces ours
  r = build_capture_cmdline("", o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->find("tracer_init_tracefs"), std::string::npos) << *r;
}

TEST(Cmdline, CaptureKernelSkipsCryptoSelfTests) {
  auto r = build_capture_cmdline("root=/dev/vda1", {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(has_word(*r, "cryptomgr.notests")) << *r;
  CaptureCmdlineOptions o;
  o.append = "cryptomgr.notests=0";  // a user who wants them back gets one word, theirs
  r = build_capture_cmdline("", o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(count_key(*r, "cryptomgr.notests"), 1) << *r;
  EXPECT_TRUE(has_word(*r, "cryptomgr.notests=0")) << *r;
}

}  // namespace
}  // namespace salvage
