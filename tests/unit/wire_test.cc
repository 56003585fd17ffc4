// SPDX-License-Identifier: GPL-2.0-or-later
// The network dump wire protocol: round trips of every message, and every
// validation failure names its field and offset.
#include "formats/wire.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace salvage;

namespace {

std::span<const std::byte> payload_of(const std::vector<std::byte>& f) {
  return std::span(f).subspan(kFrameHeaderSize);
}

FrameHeader header_of(const std::vector<std::byte>& f) {
  auto h = decode_frame_header(f);
  EXPECT_TRUE(h.ok()) << h.error().message;
  return *h;
}

std::string err_of(const Result<void>& r) { return r.ok() ? "" : r.error().message; }
template <class T>
std::string err_of(const Result<T>& r) {
  return r.ok() ? "" : r.error().message;
}

}  // namespace

TEST(Wire, HeaderLayoutIsLittleEndianAndFixed) {
  auto f = encode_hello({kCapResume, "web-01", "d1"});
  ASSERT_GE(f.size(), kFrameHeaderSize);
  EXPECT_EQ(std::memcmp(f.data(), "SLVW", 4), 0);
  EXPECT_EQ(static_cast<u8>(f[4]), kWireVersion);
  EXPECT_EQ(static_cast<u8>(f[5]), static_cast<u8>(FrameType::kHello));
  const u32 len = static_cast<u8>(f[8]) | static_cast<u8>(f[9]) << 8 | static_cast<u8>(f[10]) << 16;
  EXPECT_EQ(len, f.size() - kFrameHeaderSize);
}

TEST(Wire, HelloRoundTrip) {
  auto f = encode_hello({kCapResume, "web-01.example", "20261122-0300_boot-abc"});
  EXPECT_EQ(header_of(f).type, static_cast<u8>(FrameType::kHello));
  auto m = decode_hello(payload_of(f));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->host, "web-01.example");
  EXPECT_EQ(m->dump_id, "20261122-0300_boot-abc");
  EXPECT_EQ(m->capabilities, kCapResume);
}

TEST(Wire, AllMessagesRoundTrip) {
  auto ha = decode_hello_ack(payload_of(encode_hello_ack({7})));
  ASSERT_TRUE(ha.ok());
  EXPECT_EQ(ha->capabilities, 7u);

  auto rf = encode_refusal(FrameType::kEnd, {ReasonCode::kQuota, "quota 10 MiB"});
  EXPECT_EQ(header_of(rf).type, static_cast<u8>(FrameType::kEnd));
  auto r = decode_refusal(payload_of(rf));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->reason, ReasonCode::kQuota);
  EXPECT_EQ(r->text, "quota 10 MiB");

  auto o = decode_open_artifact(payload_of(encode_open_artifact({42, ArtifactKind::kSequential, "trace/cpu0"})));
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->artifact_id, 42u);
  EXPECT_EQ(o->kind, ArtifactKind::kSequential);
  EXPECT_EQ(o->name, "trace/cpu0");

  std::vector<std::byte> data(5000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = std::byte(i * 7);
  auto wf = encode_write({3, 1ull << 33, (1ull << 40) + 5, data}, kFlagAckRequest);
  EXPECT_EQ(header_of(wf).flags, kFlagAckRequest);
  auto w = decode_write(payload_of(wf));
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->artifact_id, 3u);
  EXPECT_EQ(w->stream_pos, 1ull << 33);
  EXPECT_EQ(w->file_offset, (1ull << 40) + 5);
  ASSERT_EQ(w->data.size(), data.size());
  EXPECT_EQ(std::memcmp(w->data.data(), data.data(), data.size()), 0);

  auto c = decode_close_artifact(payload_of(encode_close_artifact({3, true, 123456789012ull, 0xdeadbeef})));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->complete);
  EXPECT_EQ(c->total_length, 123456789012ull);
  EXPECT_EQ(c->checksum, 0xdeadbeefu);

  auto af = encode_ack({9, 1ull << 35}, kFlagClosed);
  EXPECT_EQ(header_of(af).flags, kFlagClosed);
  auto a = decode_ack(payload_of(af));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->artifact_id, 9u);
  EXPECT_EQ(a->stream_pos, 1ull << 35);

  Resume rs{{{1, ArtifactKind::kSeekable, false, 65536, "vmcore"}, {2, ArtifactKind::kSequential, true, 10, "dmesg.txt"}}};
  auto rr = decode_resume(payload_of(encode_resume(rs)));
  ASSERT_TRUE(rr.ok()) << rr.error().message;
  ASSERT_EQ(rr->entries.size(), 2u);
  EXPECT_EQ(rr->entries[0].acked_pos, 65536u);
  EXPECT_EQ(rr->entries[1].name, "dmesg.txt");
  EXPECT_TRUE(rr->entries[1].closed);

  EXPECT_TRUE(decode_bye(payload_of(encode_bye())).ok());
}

TEST(Wire, WritePrefixMatchesWholeFrame) {
  std::byte data[100] = {};
  WriteFrame w{5, 1000, 2000, data};
  auto whole = encode_write(w, 0);
  std::vector<std::byte> prefix(kFrameHeaderSize + kWriteHeaderSize);
  encode_write_prefix(w, 0, prefix);
  EXPECT_EQ(std::memcmp(prefix.data(), whole.data(), prefix.size()), 0);
}

TEST(Wire, HeaderValidation) {
  auto f = encode_bye();
  EXPECT_NE(err_of(decode_frame_header(std::span(f).first(15))).find("truncated"), std::string::npos);
  auto bad = f;
  bad[0] = std::byte{'X'};
  EXPECT_NE(err_of(decode_frame_header(bad)).find("magic at offset 0"), std::string::npos);
  bad = f;
  bad[4] = std::byte{2};
  EXPECT_NE(err_of(decode_frame_header(bad)).find("version at offset 4"), std::string::npos);
  bad = f;
  bad[5] = std::byte{0};
  EXPECT_NE(err_of(decode_frame_header(bad)).find("type at offset 5"), std::string::npos);
  bad = f;
  bad[5] = std::byte{99};
  EXPECT_NE(err_of(decode_frame_header(bad)).find("unknown type 99"), std::string::npos);
  bad = f;
  const u32 too_big = kMaxFramePayload + 1;
  std::memcpy(&bad[8], &too_big, 4);
  EXPECT_NE(err_of(decode_frame_header(bad)).find("length at offset 8"), std::string::npos);
  const u32 max = kMaxFramePayload;
  std::memcpy(&bad[8], &max, 4);
  EXPECT_TRUE(decode_frame_header(bad).ok());  // the maximum itself is allowed
  bad = f;
  bad[12] = std::byte{1};
  EXPECT_NE(err_of(decode_frame_header(bad)).find("reserved at offset 12"), std::string::npos);
}

TEST(Wire, HostNameValidation) {
  EXPECT_TRUE(validate_host_name("web-01").ok());
  EXPECT_TRUE(validate_host_name("db.example.com").ok());
  EXPECT_TRUE(validate_host_name(std::string(kMaxHostName, 'a')).ok());
  EXPECT_NE(err_of(validate_host_name("")).find("empty"), std::string::npos);
  EXPECT_NE(err_of(validate_host_name(std::string(kMaxHostName + 1, 'a'))).find("at most"), std::string::npos);
  EXPECT_FALSE(validate_host_name("..").ok());
  EXPECT_FALSE(validate_host_name(".").ok());
  EXPECT_FALSE(validate_host_name("../etc").ok());
  EXPECT_FALSE(validate_host_name("a/b").ok());
  EXPECT_FALSE(validate_host_name("/abs").ok());
  EXPECT_FALSE(validate_host_name("a..b").ok());
  EXPECT_FALSE(validate_host_name(".hidden").ok());
  EXPECT_FALSE(validate_host_name("-rf").ok());
  EXPECT_NE(err_of(validate_host_name("web\n01")).find("0xa at offset 3"), std::string::npos);
  EXPECT_FALSE(validate_host_name(std::string("we\0b", 4)).ok());
  EXPECT_FALSE(validate_host_name("web 01").ok());
  EXPECT_FALSE(validate_host_name("w\x7f").ok());
  EXPECT_FALSE(validate_host_name("caf\xc3\xa9").ok());
  EXPECT_FALSE(validate_host_name("a\\b").ok());
}

TEST(Wire, ArtifactNameValidation) {
  EXPECT_TRUE(validate_artifact_name("vmcore").ok());
  EXPECT_TRUE(validate_artifact_name("dmesg.txt").ok());
  EXPECT_TRUE(validate_artifact_name("trace/cpu0").ok());
  EXPECT_TRUE(validate_artifact_name("a/b/c/d").ok());
  EXPECT_NE(err_of(validate_artifact_name("a/b/c/d/e")).find("more than 4"), std::string::npos);
  EXPECT_FALSE(validate_artifact_name("../vmcore").ok());
  EXPECT_FALSE(validate_artifact_name("trace/../../etc").ok());
  EXPECT_FALSE(validate_artifact_name("/vmcore").ok());
  EXPECT_FALSE(validate_artifact_name("trace/").ok());
  EXPECT_FALSE(validate_artifact_name("trace//cpu0").ok());
  EXPECT_FALSE(validate_artifact_name("trace/.state").ok());
  EXPECT_FALSE(validate_artifact_name("").ok());
  EXPECT_FALSE(validate_artifact_name("vm\tcore").ok());
  EXPECT_FALSE(validate_artifact_name(std::string(kMaxArtifactName + 1, 'a')).ok());
  EXPECT_TRUE(validate_dump_id("2026-11-22T03.00.00Z_boot-1").ok());
  EXPECT_FALSE(validate_dump_id("a/b").ok());
}

TEST(Wire, DecoderErrorsNameFieldAndOffset) {
  // HELLO with a host name that escapes the root: rejected, field "host" at offset 4.
  auto f = encode_hello({kCapResume, "../../etc", "d1"});
  auto h = decode_hello(payload_of(f));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("HELLO.host at payload offset 4"), std::string::npos) << h.error().message;
  // Host name length beyond the bound is refused before reading it.
  auto f2 = encode_hello({kCapResume, std::string(200, 'a'), "d1"});
  EXPECT_NE(err_of(decode_hello(payload_of(f2))).find("length 200 exceeds 64"), std::string::npos);
  // Truncated payload.
  auto f3 = encode_hello({kCapResume, "web", "d1"});
  EXPECT_NE(err_of(decode_hello(payload_of(f3).first(7))).find("truncated"), std::string::npos);
  // Trailing bytes.
  auto f4 = encode_ack({1, 2}, 0);
  f4.push_back(std::byte{0});
  EXPECT_NE(err_of(decode_ack(payload_of(f4))).find("trailing"), std::string::npos);
  // Unknown artifact kind, with its offset (4).
  auto f5 = encode_open_artifact({1, ArtifactKind::kSeekable, "vmcore"});
  f5[kFrameHeaderSize + 4] = std::byte{9};
  EXPECT_NE(err_of(decode_open_artifact(payload_of(f5))).find("kind at payload offset 4"), std::string::npos);
  // CLOSE complete flag must be 0 or 1.
  auto f6 = encode_close_artifact({1, true, 5, 6});
  f6[kFrameHeaderSize + 4] = std::byte{2};
  EXPECT_NE(err_of(decode_close_artifact(payload_of(f6))).find("complete at payload offset 4"), std::string::npos);
  // WRITE: empty data, reserved bits, huge offsets.
  std::byte one[1] = {};
  auto w = encode_write({1, 0, 0, one}, 0);
  EXPECT_NE(err_of(decode_write(payload_of(w).first(kWriteHeaderSize))).find("empty WRITE"), std::string::npos);
  auto w2 = w;
  w2[kFrameHeaderSize + 4] = std::byte{1};
  EXPECT_NE(err_of(decode_write(payload_of(w2))).find("reserved at payload offset 4"), std::string::npos);
  auto w3 = encode_write({1, 0, ~0ull - 1, one}, 0);
  EXPECT_NE(err_of(decode_write(payload_of(w3))).find("file_offset at payload offset 16"), std::string::npos);
  auto w4 = encode_write({1, ~0ull, 0, one}, 0);
  EXPECT_NE(err_of(decode_write(payload_of(w4))).find("stream_pos at payload offset 8"), std::string::npos);
  // RESUME entry count beyond its bound.
  auto r = encode_resume({});
  const u32 n = kMaxResumeEntries + 1;
  std::memcpy(&r[kFrameHeaderSize], &n, 4);
  EXPECT_NE(err_of(decode_resume(payload_of(r))).find("count at payload offset 0"), std::string::npos);
  // Unknown reason code; control characters in reason text are neutralised.
  auto e = encode_refusal(FrameType::kRefuse, {ReasonCode::kQuota, "a\x1b[2Jb"});
  auto ed = decode_refusal(payload_of(e));
  ASSERT_TRUE(ed.ok());
  EXPECT_EQ(ed->text, "a?[2Jb");
  e[kFrameHeaderSize] = std::byte{200};
  EXPECT_NE(err_of(decode_refusal(payload_of(e))).find("unknown code 200"), std::string::npos);
  // BYE has no payload.
  std::byte extra[1] = {};
  EXPECT_FALSE(decode_bye(extra).ok());
}

TEST(Wire, StreamChecksumCoversPlacement) {
  std::byte d[4] = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  const u32 a = stream_checksum(0, 0, d);
  EXPECT_NE(a, stream_checksum(0, 4096, d));  // same bytes elsewhere: different dump
  EXPECT_EQ(a, stream_checksum(0, 0, d));
  EXPECT_NE(stream_checksum(stream_checksum(0, 0, std::span(d).first(2)), 2, std::span(d).subspan(2)), 0u);
}
