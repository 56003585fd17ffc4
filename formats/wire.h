// SPDX-License-Identifier: GPL-2.0-or-later
// The network dump wire protocol (docs/formats/wire-protocol.md): framing
// and message encoding only, no I/O. Every frame is a fixed 16-byte
// little-endian header followed by `length` payload bytes; no frame is
// longer than kMaxFramePayload, so a reader needs at most one frame of
// memory per connection. Every decoder validates every field and says
// which field at which payload offset was wrong.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/result.h"
#include "formats/types.h"

namespace salvage {

inline constexpr u32 kWireMagic = 0x57564c53;  // "SLVW" little-endian
// Protocol version 2 is version 1 plus PROBE / PROBE_ACK. A frame's
// version byte is the version of its message (wire_frame_version): every
// version-1 message (the whole dump conversation) is framed as version 1,
// so a version-2 sender still talks to a version-1 collector; PROBE and
// PROBE_ACK are framed as version 2, which a version-1 collector answers
// with REFUSE "unsupported version" (docs/formats/wire-protocol.md).
inline constexpr u8 kWireVersion = 1;          // the frame version of HELLO ... BYE
inline constexpr u8 kWireProbeVersion = 2;     // the frame version of PROBE, PROBE_ACK
inline constexpr u8 kWireProtocolVersion = 2;  // the highest version this code speaks
inline constexpr u32 kMaxWriteData = u32{1} << 20;             // bytes of data in one WRITE
inline constexpr u32 kMaxFramePayload = kMaxWriteData + 64;    // WRITE header + data
inline constexpr size_t kMaxHostName = 64;
inline constexpr size_t kMaxDumpId = 64;
inline constexpr size_t kMaxArtifactName = 128;
inline constexpr size_t kMaxReasonText = 512;
inline constexpr u32 kMaxResumeEntries = 256;

enum class FrameType : u8 {
  kHello = 1,          // client -> collector
  kHelloAck = 2,       // collector -> client
  kRefuse = 3,         // collector -> client, then close
  kOpenArtifact = 4,   // client -> collector
  kWrite = 5,          // client -> collector
  kCloseArtifact = 6,  // client -> collector
  kAck = 7,            // collector -> client
  kEnd = 8,            // collector -> client: transfer ended (quota, floor...), then close
  kResume = 9,         // collector -> client, right after HELLO_ACK
  kBye = 10,           // client -> collector: session done
  // Version 2:
  kProbe = 11,         // client -> collector: may this host send? (nothing stored), then close
  kProbeAck = 12,      // collector -> client: yes; then the collector closes
};
const char* frame_type_name(FrameType t);
// The version a frame of this type carries (0 for an unknown type).
u8 wire_frame_version(u8 type);

// WRITE flags: the sender wants an ACK once this frame is durable.
inline constexpr u16 kFlagAckRequest = 1;
// ACK flags: the artifact is closed (renamed if complete) on the collector.
inline constexpr u16 kFlagClosed = 1;

struct FrameHeader {
  u32 magic;
  u8 version;
  u8 type;
  u16 flags;
  u32 length;    // payload bytes after the header
  u32 reserved;  // 0 in version 1
};
static_assert(sizeof(FrameHeader) == 16);
inline constexpr size_t kFrameHeaderSize = sizeof(FrameHeader);

// Parses and validates a header (magic, known type, the version of that
// type, length bound, reserved == 0). The payload follows.
Result<FrameHeader> decode_frame_header(std::span<const std::byte> b);

enum class ArtifactKind : u8 {
  kSeekable = 1,    // a dump reassembled from offset-addressed writes (vmcore)
  kSequential = 2,  // a plain file written front to back (dmesg.txt, summary.txt, traces)
};

// Capabilities in HELLO / HELLO_ACK (bit set).
inline constexpr u32 kCapResume = 1;

enum class ReasonCode : u16 {
  kNone = 0,
  kVersion = 1,       // unsupported protocol version
  kNotEnrolled = 2,   // client certificate not in the allow list
  kWrongHost = 3,     // HELLO host name is not the enrolled one
  kBadName = 4,       // host, dump id or artifact name invalid
  kQuota = 5,         // per-host quota reached
  kFreeSpace = 6,     // collector file system below its free-space floor
  kProtocol = 7,      // malformed or out-of-order frame
  kChecksum = 8,      // CLOSE checksum differs: kept as incomplete
  kBusy = 9,          // shutting down or too many connections
  kStorage = 10,      // the collector could not write (I/O error)
};
const char* reason_name(ReasonCode r);

struct Hello {
  u32 capabilities = kCapResume;
  std::string host;
  std::string dump_id;
};
struct HelloAck {
  u32 capabilities = kCapResume;
};
// PROBE (version 2): authenticate and ask whether a dump from `host` would
// be accepted now, without creating anything on the collector.
struct Probe {
  u32 capabilities = kCapResume;
  std::string host;
};
// PROBE_ACK: accepted; `host` is the name the collector stores this host's
// dumps under (the enrolled one with TLS).
struct ProbeAck {
  u32 capabilities = kCapResume;
  std::string host;
};
struct Refusal {  // REFUSE and END
  ReasonCode reason = ReasonCode::kNone;
  std::string text;
};
struct OpenArtifact {
  u32 artifact_id = 0;  // chosen by the sender, stable across reconnects
  ArtifactKind kind = ArtifactKind::kSeekable;
  std::string name;
};
struct WriteFrame {  // data is a view into the frame payload
  u32 artifact_id = 0;
  u64 stream_pos = 0;   // position of data[0] in the artifact's stream
  u64 file_offset = 0;  // where data[0] goes in the file
  std::span<const std::byte> data;
};
inline constexpr size_t kWriteHeaderSize = 4 + 4 + 8 + 8;  // id, reserved, stream_pos, file_offset
struct CloseArtifact {
  u32 artifact_id = 0;
  bool complete = false;
  u64 total_length = 0;  // stream bytes
  u32 checksum = 0;      // stream_checksum over the whole stream
};
struct Ack {
  u32 artifact_id = 0;
  u64 stream_pos = 0;  // every byte before this is durable (fdatasync'ed)
};
struct ResumeEntry {
  u32 artifact_id = 0;
  ArtifactKind kind = ArtifactKind::kSeekable;
  bool closed = false;
  u64 acked_pos = 0;
  std::string name;
};
struct Resume {
  std::vector<ResumeEntry> entries;
};

// The CLOSE checksum: CRC32C chained over, for each WRITE in stream order,
// the file offset (8 bytes LE) then the data. Both sides compute it as the
// writes go; it covers the placement of the data, not only the bytes.
u32 stream_checksum(u32 crc, u64 file_offset, std::span<const std::byte> data);

// Name validators (host names, dump ids, artifact names come from the wire
// and become path components): non-empty, bounded, no "." or "..", no '/'
// (artifact names: '/'-separated components, each valid, at most 4), no
// control characters, no leading '.' or '-' (hidden files, option look-alikes),
// only [A-Za-z0-9._+-] (ASCII). `what` names the field in the error.
Result<void> validate_host_name(std::string_view s);
Result<void> validate_dump_id(std::string_view s);
Result<void> validate_artifact_name(std::string_view s);

// Encoders: a whole frame (header + payload).
std::vector<std::byte> encode_hello(const Hello& m);
std::vector<std::byte> encode_hello_ack(const HelloAck& m);
std::vector<std::byte> encode_refusal(FrameType type, const Refusal& m);  // kRefuse or kEnd
std::vector<std::byte> encode_open_artifact(const OpenArtifact& m);
// Writes the WRITE frame header + payload header into out (which must have
// kFrameHeaderSize + kWriteHeaderSize bytes); the data follows separately,
// so a sender need not copy it.
void encode_write_prefix(const WriteFrame& m, u16 flags, std::span<std::byte> out);
std::vector<std::byte> encode_write(const WriteFrame& m, u16 flags);
std::vector<std::byte> encode_close_artifact(const CloseArtifact& m);
std::vector<std::byte> encode_ack(const Ack& m, u16 flags);
std::vector<std::byte> encode_resume(const Resume& m);
std::vector<std::byte> encode_bye();
std::vector<std::byte> encode_probe(const Probe& m);
std::vector<std::byte> encode_probe_ack(const ProbeAck& m);

// Decoders: payload only (after decode_frame_header); errors name the
// field and its payload offset.
Result<Hello> decode_hello(std::span<const std::byte> p);
Result<HelloAck> decode_hello_ack(std::span<const std::byte> p);
Result<Refusal> decode_refusal(std::span<const std::byte> p);
Result<OpenArtifact> decode_open_artifact(std::span<const std::byte> p);
Result<WriteFrame> decode_write(std::span<const std::byte> p);
Result<CloseArtifact> decode_close_artifact(std::span<const std::byte> p);
Result<Ack> decode_ack(std::span<const std::byte> p);
Result<Resume> decode_resume(std::span<const std::byte> p);
Result<void> decode_bye(std::span<const std::byte> p);
Result<Probe> decode_probe(std::span<const std::byte> p);
Result<ProbeAck> decode_probe_ack(std::span<const std::byte> p);

}  // namespace salvage
