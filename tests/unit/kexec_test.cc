// SPDX-License-Identifier: GPL-2.0-or-later
// Pure parts of agent/kexec.cc. Never calls kexec_file_load: that would arm
// (or disarm) the machine running the tests.
#include "agent/kexec.h"

#include <gtest/gtest.h>

#include "tests/unit/fake-host.h"

namespace salvage {
namespace {

TEST(Kexec, ParsesBzImageHeader) {
  auto b = parse_bzimage(testing::fake_bzimage("6.1.0-18-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP", 0x2a00000));
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->protocol, 0x020f);
  EXPECT_EQ(b->init_size, 0x2a00000u);
  EXPECT_EQ(b->release(), "6.1.0-18-cloud-amd64");
}

TEST(Kexec, RejectsNonBzImage) {
  auto b = parse_bzimage(std::string(0x1000, '\x7f'));
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("HdrS"), std::string::npos);
}

TEST(Kexec, KexecToolsArgv) {
  KexecRequest r{"/boot/vmlinuz", "/var/lib/salvage/i.img", "console=ttyS0 irqpoll"};
  auto a = kexec_tools_load_argv(r, "kexec");
  std::vector<std::string> want = {"kexec", "-p", "/boot/vmlinuz", "--initrd=/var/lib/salvage/i.img",
                                   "--command-line=console=ttyS0 irqpoll"};
  EXPECT_EQ(a, want);
  EXPECT_EQ(kexec_tools_unload_argv("kexec"), (std::vector<std::string>{"kexec", "-p", "-u"}));
}

TEST(Kexec, ExplainsErrors) {
  EXPECT_NE(explain_kexec_errno(EKEYREJECTED).find("signature"), std::string::npos);
  EXPECT_NE(explain_kexec_errno(EADDRNOTAVAIL).find("crashkernel"), std::string::npos);
  EXPECT_NE(explain_kexec_errno(EPERM).find("lockdown"), std::string::npos);
}

}  // namespace
}  // namespace salvage
