// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the network dump frame decoder (formats/wire.h). Input: a byte
// stream of frames as a collector reads it from a socket. Every frame the
// decoder accepts must re-encode to the same bytes (the encoding is
// canonical), and every name it accepts must pass the path validators.
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <string>

#include "formats/wire.h"
#include "tests/fuzz/fuzz-common.h"

using namespace salvage;

namespace {

void check_roundtrip(std::span<const std::byte> frame, const std::vector<std::byte>& again) {
  FUZZ_CHECK(again.size() == frame.size());
  FUZZ_CHECK(std::memcmp(again.data(), frame.data(), frame.size()) == 0);
}

void one_frame(const FrameHeader& h, std::span<const std::byte> frame, std::span<const std::byte> p) {
  switch (static_cast<FrameType>(h.type)) {
    case FrameType::kHello:
      if (auto m = decode_hello(p); m.ok()) {
        FUZZ_CHECK(validate_host_name(m->host).ok() && validate_dump_id(m->dump_id).ok());
        FUZZ_CHECK(m->host.find("..") == std::string::npos && m->host.find('/') == std::string::npos);
        if (h.flags == 0) check_roundtrip(frame, encode_hello(*m));
      }
      break;
    case FrameType::kHelloAck:
      if (auto m = decode_hello_ack(p); m.ok() && h.flags == 0) check_roundtrip(frame, encode_hello_ack(*m));
      break;
    case FrameType::kRefuse:
    case FrameType::kEnd:
      if (auto m = decode_refusal(p); m.ok())
        for (char c : m->text) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
      break;
    case FrameType::kOpenArtifact:
      if (auto m = decode_open_artifact(p); m.ok()) {
        FUZZ_CHECK(validate_artifact_name(m->name).ok());
        FUZZ_CHECK(m->name.find("..") == std::string::npos && m->name[0] != '/');
        if (h.flags == 0) check_roundtrip(frame, encode_open_artifact(*m));
      }
      break;
    case FrameType::kWrite:
      if (auto m = decode_write(p); m.ok()) {
        FUZZ_CHECK(!m->data.empty() && m->data.size() <= kMaxWriteData);
        FUZZ_CHECK(m->file_offset + m->data.size() > m->file_offset);  // no overflow
        check_roundtrip(frame, encode_write(*m, h.flags));
      }
      break;
    case FrameType::kCloseArtifact:
      if (auto m = decode_close_artifact(p); m.ok() && h.flags == 0) check_roundtrip(frame, encode_close_artifact(*m));
      break;
    case FrameType::kAck:
      if (auto m = decode_ack(p); m.ok()) check_roundtrip(frame, encode_ack(*m, h.flags));
      break;
    case FrameType::kResume:
      if (auto m = decode_resume(p); m.ok()) {
        FUZZ_CHECK(m->entries.size() <= kMaxResumeEntries);
        if (h.flags == 0) check_roundtrip(frame, encode_resume(*m));
      }
      break;
    case FrameType::kBye:
      (void)decode_bye(p);
      break;
    case FrameType::kProbe:
      if (auto m = decode_probe(p); m.ok() && h.flags == 0) check_roundtrip(frame, encode_probe(*m));
      break;
    case FrameType::kProbeAck:
      if (auto m = decode_probe_ack(p); m.ok() && h.flags == 0) check_roundtrip(frame, encode_probe_ack(*m));
      break;
  }
}

void write_seed(const std::string& dir, const char* name, const std::vector<std::byte>& b) {
  std::ofstream(dir + "/" + name, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace

// run-fuzz.sh passes FUZZ_DIR/seeds/wire; make-seeds does not know this
// target, so the seeds are written here, before libFuzzer reads its corpora.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (int i = 1; i < *argc; ++i) {
    std::string a = (*argv)[i];
    if (a.size() < 10 || a.compare(a.size() - 10, 10, "seeds/wire") != 0) continue;
    mkdir(a.c_str(), 0755);
    write_seed(a, "hello", encode_hello({kCapResume, "web-01", "2026-11-22T03.00.00Z"}));
    std::byte data[100] = {};
    auto w = encode_write({3, 4096, 8192, data}, kFlagAckRequest);
    auto o = encode_open_artifact({3, ArtifactKind::kSeekable, "trace/cpu0"});
    o.insert(o.end(), w.begin(), w.end());
    auto c = encode_close_artifact({3, true, 4196, 0x1234});
    o.insert(o.end(), c.begin(), c.end());
    write_seed(a, "open-write-close", o);
    write_seed(a, "resume", encode_resume({{{1, ArtifactKind::kSeekable, false, 65536, "vmcore"},
                                            {2, ArtifactKind::kSequential, true, 10, "dmesg.txt"}}}));
    write_seed(a, "end", encode_refusal(FrameType::kEnd, {ReasonCode::kQuota, "quota of 10 MiB reached"}));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in = fuzz::as_bytes(data, size);
  size_t off = 0;
  while (in.size() - off >= kFrameHeaderSize) {
    auto h = decode_frame_header(in.subspan(off));
    if (!h.ok()) {
      FUZZ_CHECK(!h.error().message.empty());
      break;
    }
    FUZZ_CHECK(h->length <= kMaxFramePayload);
    if (in.size() - off - kFrameHeaderSize < h->length) break;  // a reader would wait for more
    auto frame = in.subspan(off, kFrameHeaderSize + h->length);
    one_frame(*h, frame, frame.subspan(kFrameHeaderSize));
    off += frame.size();
  }
  return 0;
}
