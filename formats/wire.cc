// SPDX-License-Identifier: GPL-2.0-or-later
// Wire protocol framing (docs/formats/wire-protocol.md).
#include "formats/wire.h"

#include <cstdio>
#include <cstring>

#include "formats/crc32c.h"
#include "formats/endian.h"

namespace salvage {

namespace {

std::string hex_u(u64 v) {
  char b[32];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

// Appends little-endian fields to a frame under construction.
class Builder {
 public:
  explicit Builder(FrameType t, u16 flags = 0) : type_(t), flags_(flags) { buf_.resize(kFrameHeaderSize); }
  Builder& u8v(u8 v) { return raw(&v, 1); }
  Builder& u16v(u16 v) { u8 b[2]; store_le<u16>(b, v); return raw(b, 2); }
  Builder& u32v(u32 v) { u8 b[4]; store_le<u32>(b, v); return raw(b, 4); }
  Builder& u64v(u64 v) { u8 b[8]; store_le<u64>(b, v); return raw(b, 8); }
  Builder& str(std::string_view s) { u16v(static_cast<u16>(s.size())); return raw(s.data(), s.size()); }
  std::vector<std::byte> done() {
    FrameHeader h{kWireMagic, wire_frame_version(static_cast<u8>(type_)), static_cast<u8>(type_), flags_,
                  static_cast<u32>(buf_.size() - kFrameHeaderSize), 0};
    write_header(h, buf_.data());
    return std::move(buf_);
  }
  static void write_header(const FrameHeader& h, std::byte* out) {
    store_le<u32>(out, h.magic);
    out[4] = std::byte{h.version};
    out[5] = std::byte{h.type};
    store_le<u16>(out + 6, h.flags);
    store_le<u32>(out + 8, h.length);
    store_le<u32>(out + 12, h.reserved);
  }

 private:
  Builder& raw(const void* p, size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    buf_.insert(buf_.end(), b, b + n);
    return *this;
  }
  FrameType type_;
  u16 flags_;
  std::vector<std::byte> buf_;
};

// Reads little-endian fields from a payload; every error names the
// message, the field and its offset.
class Reader {
 public:
  Reader(const char* msg, std::span<const std::byte> p) : msg_(msg), p_(p) {}
  Result<u8> u8v(const char* field) {
    TRY(need(field, 1));
    return static_cast<u8>(p_[off_++]);
  }
  Result<u16> u16v(const char* field) {
    TRY(need(field, 2));
    u16 v = load_le<u16>(p_.data() + off_);
    off_ += 2;
    return v;
  }
  Result<u32> u32v(const char* field) {
    TRY(need(field, 4));
    u32 v = load_le<u32>(p_.data() + off_);
    off_ += 4;
    return v;
  }
  Result<u64> u64v(const char* field) {
    TRY(need(field, 8));
    u64 v = load_le<u64>(p_.data() + off_);
    off_ += 8;
    return v;
  }
  Result<std::string> str(const char* field, size_t max) {
    size_t at = off_;
    ASSIGN_OR_RETURN(u16 n, u16v(field));
    if (n > max) return err(field, at, "length " + std::to_string(n) + " exceeds " + std::to_string(max));
    TRY(need(field, n));
    std::string s(reinterpret_cast<const char*>(p_.data() + off_), n);
    off_ += n;
    return s;
  }
  std::span<const std::byte> rest() {
    auto r = p_.subspan(off_);
    off_ = p_.size();
    return r;
  }
  size_t offset() const { return off_; }
  Result<void> end() {
    if (off_ != p_.size())
      return err("payload", off_, std::to_string(p_.size() - off_) + " trailing bytes");
    return Ok();
  }
  Error err(const char* field, size_t at, const std::string& what) const {
    return make_error(std::string(msg_) + "." + field + " at payload offset " + std::to_string(at) + ": " + what);
  }

 private:
  Result<void> need(const char* field, size_t n) {
    if (p_.size() - off_ < n)
      return err(field, off_, "truncated (" + std::to_string(p_.size() - off_) + " of " + std::to_string(n) +
                                  " bytes)");
    return Ok();
  }
  const char* msg_;
  std::span<const std::byte> p_;
  size_t off_ = 0;
};

// The common character rule of every name that becomes a path component.
Result<void> validate_component(std::string_view s, size_t max, const char* what) {
  if (s.empty()) return make_error(std::string(what) + " is empty");
  if (s.size() > max)
    return make_error(std::string(what) + " is " + std::to_string(s.size()) + " bytes, at most " +
                      std::to_string(max));
  if (s == "." || s == "..") return make_error(std::string(what) + " \"" + std::string(s) + "\" is not a name");
  if (s[0] == '.' || s[0] == '-')
    return make_error(std::string(what) + " starts with '" + s[0] + "'");
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-' || c == '+';
    if (!ok) {
      std::string shown = (c < 0x20 || c >= 0x7f) ? hex_u(c) : std::string("'") + static_cast<char>(c) + "'";
      return make_error(std::string(what) + ": character " + shown + " at offset " + std::to_string(i) +
                        " is not allowed");
    }
  }
  if (s.find("..") != std::string_view::npos) return make_error(std::string(what) + " contains \"..\"");
  return Ok();
}

}  // namespace

u8 wire_frame_version(u8 t) {
  if (t >= static_cast<u8>(FrameType::kHello) && t <= static_cast<u8>(FrameType::kBye)) return kWireVersion;
  if (t == static_cast<u8>(FrameType::kProbe) || t == static_cast<u8>(FrameType::kProbeAck)) return kWireProbeVersion;
  return 0;
}

const char* frame_type_name(FrameType t) {
  switch (t) {
    case FrameType::kHello: return "HELLO";
    case FrameType::kHelloAck: return "HELLO_ACK";
    case FrameType::kRefuse: return "REFUSE";
    case FrameType::kOpenArtifact: return "OPEN_ARTIFACT";
    case FrameType::kWrite: return "WRITE";
    case FrameType::kCloseArtifact: return "CLOSE_ARTIFACT";
    case FrameType::kAck: return "ACK";
    case FrameType::kEnd: return "END";
    case FrameType::kResume: return "RESUME";
    case FrameType::kBye: return "BYE";
    case FrameType::kProbe: return "PROBE";
    case FrameType::kProbeAck: return "PROBE_ACK";
  }
  return "unknown";
}

const char* reason_name(ReasonCode r) {
  switch (r) {
    case ReasonCode::kNone: return "none";
    case ReasonCode::kVersion: return "unsupported version";
    case ReasonCode::kNotEnrolled: return "not enrolled";
    case ReasonCode::kWrongHost: return "wrong host name";
    case ReasonCode::kBadName: return "invalid name";
    case ReasonCode::kQuota: return "quota reached";
    case ReasonCode::kFreeSpace: return "free-space floor reached";
    case ReasonCode::kProtocol: return "protocol error";
    case ReasonCode::kChecksum: return "checksum mismatch";
    case ReasonCode::kBusy: return "busy";
    case ReasonCode::kStorage: return "storage error";
  }
  return "unknown reason";
}

Result<FrameHeader> decode_frame_header(std::span<const std::byte> b) {
  if (b.size() < kFrameHeaderSize)
    return make_error("frame header truncated: " + std::to_string(b.size()) + " of 16 bytes");
  FrameHeader h;
  h.magic = load_le<u32>(b.data());
  h.version = static_cast<u8>(b[4]);
  h.type = static_cast<u8>(b[5]);
  h.flags = load_le<u16>(b.data() + 6);
  h.length = load_le<u32>(b.data() + 8);
  h.reserved = load_le<u32>(b.data() + 12);
  if (h.magic != kWireMagic) return make_error("frame header.magic at offset 0: " + hex_u(h.magic) + " is not SLVW");
  // Version first: a type unknown here may be known in the newer version
  // the peer speaks, and "version" is what tells it so.
  if (h.version == 0 || h.version > kWireProtocolVersion)
    return make_error("frame header.version at offset 4: " + std::to_string(h.version) + " (this side speaks 1 to " +
                      std::to_string(kWireProtocolVersion) + ")");
  const u8 want = wire_frame_version(h.type);
  if (want == 0) return make_error("frame header.type at offset 5: unknown type " + std::to_string(h.type));
  if (h.version != want)
    return make_error("frame header.version at offset 4: " + std::to_string(h.version) + " for " +
                      frame_type_name(static_cast<FrameType>(h.type)) + ", which is framed as version " +
                      std::to_string(want));
  if (h.length > kMaxFramePayload)
    return make_error("frame header.length at offset 8: " + std::to_string(h.length) + " exceeds the maximum " +
                      std::to_string(kMaxFramePayload));
  if (h.reserved != 0) return make_error("frame header.reserved at offset 12: " + hex_u(h.reserved) + ", must be 0");
  return h;
}

u32 stream_checksum(u32 crc, u64 file_offset, std::span<const std::byte> data) {
  std::byte off[8];
  store_le<u64>(off, file_offset);
  crc = crc32c(off, crc);
  return crc32c(data, crc);
}

Result<void> validate_host_name(std::string_view s) { return validate_component(s, kMaxHostName, "host name"); }
Result<void> validate_dump_id(std::string_view s) { return validate_component(s, kMaxDumpId, "dump id"); }

Result<void> validate_artifact_name(std::string_view s) {
  if (s.size() > kMaxArtifactName)
    return make_error("artifact name is " + std::to_string(s.size()) + " bytes, at most " +
                      std::to_string(kMaxArtifactName));
  int parts = 0;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    std::string_view c = s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (++parts > 4) return make_error("artifact name has more than 4 components");
    auto r = validate_component(c, kMaxArtifactName, "artifact name component");
    if (!r.ok()) return std::move(r).error().with_context("artifact name \"" + std::string(s.substr(0, 160)) + "\"");
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Ok();
}

std::vector<std::byte> encode_hello(const Hello& m) {
  return Builder(FrameType::kHello).u32v(m.capabilities).str(m.host).str(m.dump_id).done();
}
std::vector<std::byte> encode_hello_ack(const HelloAck& m) {
  return Builder(FrameType::kHelloAck).u32v(m.capabilities).done();
}
std::vector<std::byte> encode_refusal(FrameType type, const Refusal& m) {
  std::string_view text = m.text;
  if (text.size() > kMaxReasonText) text = text.substr(0, kMaxReasonText);
  return Builder(type).u16v(static_cast<u16>(m.reason)).str(text).done();
}
std::vector<std::byte> encode_open_artifact(const OpenArtifact& m) {
  return Builder(FrameType::kOpenArtifact).u32v(m.artifact_id).u8v(static_cast<u8>(m.kind)).str(m.name).done();
}
void encode_write_prefix(const WriteFrame& m, u16 flags, std::span<std::byte> out) {
  FrameHeader h{kWireMagic, kWireVersion /* WRITE is version 1 */, static_cast<u8>(FrameType::kWrite), flags,
                static_cast<u32>(kWriteHeaderSize + m.data.size()), 0};
  Builder::write_header(h, out.data());
  std::byte* p = out.data() + kFrameHeaderSize;
  store_le<u32>(p, m.artifact_id);
  store_le<u32>(p + 4, 0);
  store_le<u64>(p + 8, m.stream_pos);
  store_le<u64>(p + 16, m.file_offset);
}
std::vector<std::byte> encode_write(const WriteFrame& m, u16 flags) {
  std::vector<std::byte> out(kFrameHeaderSize + kWriteHeaderSize + m.data.size());
  encode_write_prefix(m, flags, out);
  if (!m.data.empty()) std::memcpy(out.data() + kFrameHeaderSize + kWriteHeaderSize, m.data.data(), m.data.size());
  return out;
}
std::vector<std::byte> encode_close_artifact(const CloseArtifact& m) {
  return Builder(FrameType::kCloseArtifact)
      .u32v(m.artifact_id).u8v(m.complete ? 1 : 0).u64v(m.total_length).u32v(m.checksum).done();
}
std::vector<std::byte> encode_ack(const Ack& m, u16 flags) {
  return Builder(FrameType::kAck, flags).u32v(m.artifact_id).u64v(m.stream_pos).done();
}
std::vector<std::byte> encode_resume(const Resume& m) {
  Builder b(FrameType::kResume);
  b.u32v(static_cast<u32>(m.entries.size()));
  for (const auto& e : m.entries)
    b.u32v(e.artifact_id).u8v(static_cast<u8>(e.kind)).u8v(e.closed ? 1 : 0).u64v(e.acked_pos).str(e.name);
  return b.done();
}
std::vector<std::byte> encode_bye() { return Builder(FrameType::kBye).done(); }
std::vector<std::byte> encode_probe(const Probe& m) {
  return Builder(FrameType::kProbe).u32v(m.capabilities).str(m.host).done();
}
std::vector<std::byte> encode_probe_ack(const ProbeAck& m) {
  return Builder(FrameType::kProbeAck).u32v(m.capabilities).str(m.host).done();
}

namespace {
Result<ArtifactKind> read_kind(Reader& r, const char* msg) {
  size_t at = r.offset();
  ASSIGN_OR_RETURN(u8 k, r.u8v("kind"));
  if (k != static_cast<u8>(ArtifactKind::kSeekable) && k != static_cast<u8>(ArtifactKind::kSequential))
    return make_error(std::string(msg) + ".kind at payload offset " + std::to_string(at) + ": unknown kind " +
                      std::to_string(k));
  return static_cast<ArtifactKind>(k);
}
Result<bool> read_bool(Reader& r, const char* field) {
  size_t at = r.offset();
  ASSIGN_OR_RETURN(u8 v, r.u8v(field));
  if (v > 1) return r.err(field, at, "must be 0 or 1, got " + std::to_string(v));
  return v == 1;
}
Result<void> checked(Reader& r, const char* field, size_t at, Result<void> v) {
  if (!v.ok()) return r.err(field, at, v.error().message);
  return Ok();
}
Result<std::string> read_host(Reader& r) {
  const size_t at = r.offset();
  ASSIGN_OR_RETURN(std::string host, r.str("host", kMaxHostName));
  TRY(checked(r, "host", at, validate_host_name(host)));
  return host;
}
// PROBE and PROBE_ACK carry the same two fields.
template <class M>
Result<M> decode_capabilities_and_host(const char* what, std::span<const std::byte> p) {
  Reader r(what, p);
  M m;
  ASSIGN_OR_RETURN(m.capabilities, r.u32v("capabilities"));
  ASSIGN_OR_RETURN(m.host, read_host(r));
  TRY(r.end());
  return m;
}
}  // namespace

Result<Hello> decode_hello(std::span<const std::byte> p) {
  Reader r("HELLO", p);
  Hello m;
  ASSIGN_OR_RETURN(m.capabilities, r.u32v("capabilities"));
  ASSIGN_OR_RETURN(m.host, read_host(r));
  const size_t at = r.offset();
  ASSIGN_OR_RETURN(m.dump_id, r.str("dump_id", kMaxDumpId));
  TRY(checked(r, "dump_id", at, validate_dump_id(m.dump_id)));
  TRY(r.end());
  return m;
}

Result<HelloAck> decode_hello_ack(std::span<const std::byte> p) {
  Reader r("HELLO_ACK", p);
  HelloAck m;
  ASSIGN_OR_RETURN(m.capabilities, r.u32v("capabilities"));
  TRY(r.end());
  return m;
}

Result<Refusal> decode_refusal(std::span<const std::byte> p) {
  Reader r("REFUSE/END", p);
  Refusal m;
  ASSIGN_OR_RETURN(u16 code, r.u16v("reason"));
  if (code > static_cast<u16>(ReasonCode::kStorage)) return r.err("reason", 0, "unknown code " + std::to_string(code));
  m.reason = static_cast<ReasonCode>(code);
  ASSIGN_OR_RETURN(m.text, r.str("text", kMaxReasonText));
  // The text is shown to an operator: no control characters reach a terminal.
  for (char& c : m.text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  TRY(r.end());
  return m;
}

Result<OpenArtifact> decode_open_artifact(std::span<const std::byte> p) {
  Reader r("OPEN_ARTIFACT", p);
  OpenArtifact m;
  ASSIGN_OR_RETURN(m.artifact_id, r.u32v("artifact_id"));
  ASSIGN_OR_RETURN(m.kind, read_kind(r, "OPEN_ARTIFACT"));
  size_t at = r.offset();
  ASSIGN_OR_RETURN(m.name, r.str("name", kMaxArtifactName));
  TRY(checked(r, "name", at, validate_artifact_name(m.name)));
  TRY(r.end());
  return m;
}

Result<WriteFrame> decode_write(std::span<const std::byte> p) {
  Reader r("WRITE", p);
  WriteFrame m;
  ASSIGN_OR_RETURN(m.artifact_id, r.u32v("artifact_id"));
  ASSIGN_OR_RETURN(u32 reserved, r.u32v("reserved"));
  if (reserved != 0) return r.err("reserved", 4, "must be 0, got " + hex_u(reserved));
  ASSIGN_OR_RETURN(m.stream_pos, r.u64v("stream_pos"));
  ASSIGN_OR_RETURN(m.file_offset, r.u64v("file_offset"));
  m.data = r.rest();
  if (m.data.empty()) return r.err("data", kWriteHeaderSize, "empty WRITE");
  if (m.data.size() > kMaxWriteData) return r.err("data", kWriteHeaderSize, "more than " + std::to_string(kMaxWriteData) + " bytes");
  // Offsets up to 2^62: no u64 overflow when adding a length, and far past any dump.
  constexpr u64 kMaxOffset = u64{1} << 62;
  if (m.stream_pos > kMaxOffset) return r.err("stream_pos", 8, hex_u(m.stream_pos) + " is too large");
  if (m.file_offset > kMaxOffset) return r.err("file_offset", 16, hex_u(m.file_offset) + " is too large");
  return m;
}

Result<CloseArtifact> decode_close_artifact(std::span<const std::byte> p) {
  Reader r("CLOSE_ARTIFACT", p);
  CloseArtifact m;
  ASSIGN_OR_RETURN(m.artifact_id, r.u32v("artifact_id"));
  ASSIGN_OR_RETURN(m.complete, read_bool(r, "complete"));
  ASSIGN_OR_RETURN(m.total_length, r.u64v("total_length"));
  ASSIGN_OR_RETURN(m.checksum, r.u32v("checksum"));
  TRY(r.end());
  return m;
}

Result<Ack> decode_ack(std::span<const std::byte> p) {
  Reader r("ACK", p);
  Ack m;
  ASSIGN_OR_RETURN(m.artifact_id, r.u32v("artifact_id"));
  ASSIGN_OR_RETURN(m.stream_pos, r.u64v("stream_pos"));
  TRY(r.end());
  return m;
}

Result<Resume> decode_resume(std::span<const std::byte> p) {
  Reader r("RESUME", p);
  Resume m;
  ASSIGN_OR_RETURN(u32 n, r.u32v("count"));
  if (n > kMaxResumeEntries) return r.err("count", 0, std::to_string(n) + " exceeds " + std::to_string(kMaxResumeEntries));
  for (u32 i = 0; i < n; ++i) {
    ResumeEntry e;
    ASSIGN_OR_RETURN(e.artifact_id, r.u32v("artifact_id"));
    ASSIGN_OR_RETURN(e.kind, read_kind(r, "RESUME"));
    ASSIGN_OR_RETURN(e.closed, read_bool(r, "closed"));
    ASSIGN_OR_RETURN(e.acked_pos, r.u64v("acked_pos"));
    size_t at = r.offset();
    ASSIGN_OR_RETURN(e.name, r.str("name", kMaxArtifactName));
    TRY(checked(r, "name", at, validate_artifact_name(e.name)));
    m.entries.push_back(std::move(e));
  }
  TRY(r.end());
  return m;
}

Result<void> decode_bye(std::span<const std::byte> p) {
  Reader r("BYE", p);
  return r.end();
}

Result<Probe> decode_probe(std::span<const std::byte> p) { return decode_capabilities_and_host<Probe>("PROBE", p); }

Result<ProbeAck> decode_probe_ack(std::span<const std::byte> p) {
  return decode_capabilities_and_host<ProbeAck>("PROBE_ACK", p);
}

}  // namespace salvage
