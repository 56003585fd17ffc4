// SPDX-License-Identifier: GPL-2.0-or-later
// The collector's storage (quota, free-space floor, names, modes, rename
// on complete, resume state) and its credentials (enroll, bundle, allow
// list). The daemon itself is tested over loopback in
// tests/readers/collector-*.sh.
#include "agent/collector.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/file-util.h"
#include "tests/unit/temp-dir.h"

using namespace salvage;
namespace fs = std::filesystem;

namespace {

using salvage::testing::mode_of;
struct TempDir : salvage::testing::TempDir {
  TempDir() : salvage::testing::TempDir("salvage-collector") {}
};

std::vector<std::byte> bytes(size_t n, int seed) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::byte((i * 31 + seed) & 0xff);
  return v;
}

const Log kQuiet(0);
constexpr std::time_t kWhen = 1700000000;  // 2023-11-14 22:13:20 UTC

struct Fixture {
  TempDir tmp;
  StoreLimits limits;
  std::unique_ptr<DumpStore> store;
  explicit Fixture(StoreLimits l = {}) : limits(l), store(std::make_unique<DumpStore>(tmp.path + "/root", l, kQuiet)) {}
  std::unique_ptr<DumpDir> open(const std::string& host = "web-01", const std::string& id = "d1") {
    Refusal r;
    auto d = store->open_dump(host, id, kWhen, r);
    EXPECT_TRUE(d.ok()) << d.error().message;
    return d.ok() ? std::move(*d) : nullptr;
  }
};

}  // namespace

TEST(CollectorStore, LayoutModesAndRenameOnComplete) {
  Fixture f;
  auto d = f.open();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->path(), f.tmp.path + "/root/web-01/20231114-221320");
  EXPECT_EQ(mode_of(f.tmp.path + "/root"), 0700u);
  EXPECT_EQ(mode_of(f.tmp.path + "/root/web-01"), 0700u);
  EXPECT_EQ(mode_of(d->path()), 0700u);
  ASSERT_EQ(d->open_artifact({1, ArtifactKind::kSeekable, "vmcore"}).reason, ReasonCode::kNone);
  ASSERT_EQ(d->open_artifact({2, ArtifactKind::kSequential, "trace/cpu0"}).reason, ReasonCode::kNone);
  EXPECT_EQ(mode_of(d->path() + "/vmcore-incomplete"), 0600u);
  EXPECT_EQ(mode_of(d->path() + "/trace"), 0700u);
  EXPECT_EQ(mode_of(d->path() + "/trace/cpu0-incomplete"), 0600u);

  // Offset-addressed writes out of file order (the header is written last).
  auto body = bytes(8192, 1), head = bytes(4096, 2);
  u32 crc = 0;
  ASSERT_EQ(d->write({1, 0, 4096, body}).reason, ReasonCode::kNone);
  crc = stream_checksum(crc, 4096, body);
  ASSERT_EQ(d->write({1, 8192, 0, head}).reason, ReasonCode::kNone);
  crc = stream_checksum(crc, 0, head);
  auto pos = d->sync(1);
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(*pos, 12288u);
  u64 final_pos = 0;
  EXPECT_EQ(d->close_artifact({1, true, 12288, crc}, final_pos).reason, ReasonCode::kNone);
  EXPECT_EQ(final_pos, 12288u);
  EXPECT_FALSE(fs::exists(d->path() + "/vmcore-incomplete"));
  ASSERT_TRUE(fs::exists(d->path() + "/vmcore"));
  EXPECT_EQ(mode_of(d->path() + "/vmcore"), 0600u);
  auto text = read_file(d->path() + "/vmcore");
  ASSERT_TRUE(text.ok());
  ASSERT_EQ(text->size(), 12288u);
  EXPECT_EQ(std::memcmp(text->data(), head.data(), 4096), 0);
  EXPECT_EQ(std::memcmp(text->data() + 4096, body.data(), 8192), 0);
  // A second CLOSE (resent after a lost ACK) is harmless.
  EXPECT_EQ(d->close_artifact({1, true, 12288, crc}, final_pos).reason, ReasonCode::kNone);
}

TEST(CollectorStore, ChecksumMismatchOrIncompleteKeepsIncomplete) {
  Fixture f;
  auto d = f.open();
  ASSERT_EQ(d->open_artifact({1, ArtifactKind::kSeekable, "vmcore"}).reason, ReasonCode::kNone);
  ASSERT_EQ(d->open_artifact({2, ArtifactKind::kSequential, "dmesg.txt"}).reason, ReasonCode::kNone);
  auto b = bytes(100, 3);
  ASSERT_EQ(d->write({1, 0, 0, b}).reason, ReasonCode::kNone);
  ASSERT_EQ(d->write({2, 0, 0, b}).reason, ReasonCode::kNone);
  u64 p = 0;
  EXPECT_EQ(d->close_artifact({1, true, 100, stream_checksum(0, 0, b) ^ 1}, p).reason, ReasonCode::kChecksum);
  EXPECT_TRUE(fs::exists(d->path() + "/vmcore-incomplete"));
  EXPECT_FALSE(fs::exists(d->path() + "/vmcore"));
  EXPECT_EQ(d->close_artifact({2, false, 100, stream_checksum(0, 0, b)}, p).reason, ReasonCode::kNone);
  EXPECT_TRUE(fs::exists(d->path() + "/dmesg.txt-incomplete"));
  EXPECT_FALSE(fs::exists(d->path() + "/dmesg.txt"));
  // Length mismatch also refuses the rename.
  ASSERT_EQ(d->open_artifact({3, ArtifactKind::kSeekable, "summary.txt"}).reason, ReasonCode::kNone);
  ASSERT_EQ(d->write({3, 0, 0, b}).reason, ReasonCode::kNone);
  EXPECT_EQ(d->close_artifact({3, true, 101, stream_checksum(0, 0, b)}, p).reason, ReasonCode::kChecksum);
  EXPECT_FALSE(fs::exists(d->path() + "/summary.txt"));
}

TEST(CollectorStore, StreamOrderAndSequentialRules) {
  Fixture f;
  auto d = f.open();
  auto b = bytes(10, 4);
  EXPECT_EQ(d->write({7, 0, 0, b}).reason, ReasonCode::kProtocol);  // not open
  ASSERT_EQ(d->open_artifact({1, ArtifactKind::kSequential, "summary.txt"}).reason, ReasonCode::kNone);
  EXPECT_EQ(d->write({1, 5, 5, b}).reason, ReasonCode::kProtocol);  // gap in the stream
  EXPECT_EQ(d->write({1, 0, 100, b}).reason, ReasonCode::kProtocol);  // sequential at another offset
  EXPECT_EQ(d->write({1, 0, 0, b}).reason, ReasonCode::kNone);
  EXPECT_EQ(d->write({1, 0, 0, b}).reason, ReasonCode::kProtocol);  // replay of a received position
  // Same name under another id, or same id with another name: refused.
  EXPECT_EQ(d->open_artifact({2, ArtifactKind::kSequential, "summary.txt"}).reason, ReasonCode::kProtocol);
  EXPECT_EQ(d->open_artifact({1, ArtifactKind::kSequential, "other.txt"}).reason, ReasonCode::kProtocol);
  // Reopening the same artifact (a resume) is fine.
  EXPECT_EQ(d->open_artifact({1, ArtifactKind::kSequential, "summary.txt"}).reason, ReasonCode::kNone);
}

TEST(CollectorStore, QuotaEndsTransferAndKeepsIncomplete) {
  StoreLimits l;
  l.quota_bytes = 64 * 1024;
  Fixture f(l);
  auto d = f.open();
  ASSERT_EQ(d->open_artifact({1, ArtifactKind::kSeekable, "vmcore"}).reason, ReasonCode::kNone);
  auto b = bytes(16384, 5);
  u64 pos = 0;
  int accepted = 0;
  Refusal r;
  for (int i = 0; i < 10; ++i) {
    r = d->write({1, pos, pos, b});
    if (r.reason != ReasonCode::kNone) break;
    pos += b.size();
    ++accepted;
  }
  EXPECT_EQ(r.reason, ReasonCode::kQuota);
  EXPECT_NE(r.text.find("quota"), std::string::npos);
  EXPECT_EQ(accepted, 4);  // exactly the quota fits; a fifth 16 KiB does not
  // Rewriting inside the file does not grow it: allowed.
  EXPECT_EQ(d->write({1, pos, 0, b}).reason, ReasonCode::kNone);
  d->abandon();
  EXPECT_EQ(fs::file_size(d->path() + "/vmcore-incomplete"), 4u * 16384);
  d.reset();
  // A new dump from the same (full) host is refused up front, nothing created.
  Refusal refused;
  auto d2 = f.store->open_dump("web-01", "d2", kWhen + 60, refused);
  EXPECT_FALSE(d2.ok());
  EXPECT_EQ(refused.reason, ReasonCode::kQuota);
  EXPECT_FALSE(fs::exists(f.tmp.path + "/root/web-01/20231114-221420"));
  // Another host has its own quota.
  auto d3 = f.store->open_dump("web-02", "d1", kWhen, refused);
  EXPECT_TRUE(d3.ok());
}

TEST(CollectorStore, FreeSpaceFloor) {
  StoreLimits l;
  l.min_free_bytes = u64{1} << 62;  // more than any file system has
  Fixture f(l);
  Refusal refused;
  auto d = f.store->open_dump("web-01", "d1", kWhen, refused);
  EXPECT_FALSE(d.ok());
  EXPECT_EQ(refused.reason, ReasonCode::kFreeSpace);
  EXPECT_FALSE(fs::exists(f.tmp.path + "/root/web-01/20231114-221320"));
}

TEST(CollectorStore, BadNamesCreateNothing) {
  Fixture f;
  Refusal refused;
  EXPECT_FALSE(f.store->open_dump("../evil", "d1", kWhen, refused).ok());
  EXPECT_FALSE(f.store->open_dump("web-01", "../../x", kWhen, refused).ok());
  EXPECT_FALSE(f.store->open_dump("a/b", "d1", kWhen, refused).ok());
  EXPECT_FALSE(fs::exists(f.tmp.path + "/evil"));
  EXPECT_FALSE(fs::exists(f.tmp.path + "/root"));
}

TEST(CollectorStore, ResumeContinuesInSameDirectoryFromDurablePosition) {
  Fixture f;
  auto b1 = bytes(4096, 6), b2 = bytes(4096, 7), b3 = bytes(4096, 8);
  std::string path;
  u32 crc = 0;
  {
    auto d = f.open("web-01", "boot-1");
    path = d->path();
    ASSERT_EQ(d->open_artifact({1, ArtifactKind::kSeekable, "vmcore"}).reason, ReasonCode::kNone);
    ASSERT_EQ(d->write({1, 0, 0, b1}).reason, ReasonCode::kNone);
    crc = stream_checksum(crc, 0, b1);
    ASSERT_TRUE(d->sync(1).ok());
    ASSERT_EQ(d->write({1, 4096, 4096, b2}).reason, ReasonCode::kNone);
    crc = stream_checksum(crc, 4096, b2);
    // Connection lost: abandon makes the received bytes durable.
  }
  // A new store (a restarted collector) finds the dump by host + dump id.
  DumpStore again(f.tmp.path + "/root", {}, kQuiet);
  Refusal refused;
  auto d = again.open_dump("web-01", "boot-1", kWhen + 3600, refused);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ((*d)->path(), path);
  Resume r = (*d)->resume();
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].name, "vmcore");
  EXPECT_EQ(r.entries[0].acked_pos, 8192u);
  EXPECT_FALSE(r.entries[0].closed);
  ASSERT_EQ((*d)->open_artifact({1, ArtifactKind::kSeekable, "vmcore"}).reason, ReasonCode::kNone);
  EXPECT_EQ((*d)->write({1, 4096, 4096, b2}).reason, ReasonCode::kProtocol);  // already durable: not twice
  ASSERT_EQ((*d)->write({1, 8192, 8192, b3}).reason, ReasonCode::kNone);
  crc = stream_checksum(crc, 8192, b3);
  u64 p = 0;
  EXPECT_EQ((*d)->close_artifact({1, true, 12288, crc}, p).reason, ReasonCode::kNone);
  EXPECT_TRUE(fs::exists(path + "/vmcore"));
  // A different dump id gets a new directory.
  auto other = again.open_dump("web-01", "boot-2", kWhen + 3600, refused);
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)->path(), path);
}

TEST(CollectorStore, DamagedStateRecordIsIgnored) {
  Fixture f;
  std::string path;
  {
    auto d = f.open();
    path = d->path();
    ASSERT_EQ(d->open_artifact({1, ArtifactKind::kSeekable, "vmcore"}).reason, ReasonCode::kNone);
  }
  {
    std::fstream s(path + "/.state/1", std::ios::in | std::ios::out | std::ios::binary);
    s.seekp(30);
    s.put('X');
  }
  auto d = f.open();
  EXPECT_TRUE(d->resume().entries.empty());
}

TEST(CollectorCreds, EnrollWritesBundleAndAllowList) {
  TempDir t;
  const std::string cred = t.path + "/cred", bundle = t.path + "/web-01.bundle";
  ASSERT_TRUE(enroll_host(cred, "web-01", "192.0.2.1:7341", bundle, kQuiet).ok());
  EXPECT_EQ(mode_of(cred), 0700u);
  EXPECT_EQ(mode_of(bundle), 0600u);
  EXPECT_EQ(mode_of(cred + "/collector.key"), 0600u);
  EXPECT_EQ(mode_of(cred + "/allowed"), 0600u);
  auto b = read_bundle(bundle);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->host, "web-01");
  EXPECT_EQ(b->address, "192.0.2.1:7341");
  EXPECT_EQ(b->collector_fingerprint.size(), 64u);
  EXPECT_NE(b->key_pem.find("PRIVATE KEY"), std::string::npos);
  EXPECT_NE(b->cert_pem.find("CERTIFICATE"), std::string::npos);
  auto allowed = read_allow_list(cred);
  ASSERT_TRUE(allowed.ok());
  ASSERT_EQ(allowed->size(), 1u);
  EXPECT_EQ((*allowed)[0].host, "web-01");
  const auto first_fp = (*allowed)[0].fingerprint;

  // Second host: the collector key stays, both hosts allowed.
  ASSERT_TRUE(enroll_host(cred, "web-02", "192.0.2.1:7341", t.path + "/b2", kQuiet).ok());
  auto b2 = read_bundle(t.path + "/b2");
  ASSERT_TRUE(b2.ok());
  EXPECT_EQ(b2->collector_fingerprint, b->collector_fingerprint);
  EXPECT_EQ(read_allow_list(cred)->size(), 2u);
  // Re-enrolling web-01 replaces its old key.
  ASSERT_TRUE(enroll_host(cred, "web-01", "192.0.2.1:7341", bundle, kQuiet).ok());
  allowed = read_allow_list(cred);
  ASSERT_EQ(allowed->size(), 2u);
  for (const auto& e : *allowed) EXPECT_NE(e.fingerprint, first_fp);

  EXPECT_FALSE(enroll_host(cred, "../x", "192.0.2.1:7341", t.path + "/b3", kQuiet).ok());
  EXPECT_FALSE(parse_bundle("garbage").ok());
  EXPECT_FALSE(parse_bundle("salvage-collector-bundle 1\nhost ../x\n").ok());
}
