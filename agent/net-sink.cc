// SPDX-License-Identifier: GPL-2.0-or-later
// The sending side of the network dump (agent/net-sink.h). Blocking calls
// built from Boost.Asio asynchronous operations run on a private
// io_context with a deadline, so every connect, handshake, read and write
// has a timeout; a timed-out or failed operation drops the connection and
// the session reconnects and resumes.
//
// Window: every WRITE frame sent stays in memory, encoded, until the
// collector ACKs its stream position. Every half window a frame carries
// ACK_REQUEST (the collector answers it by syncing every artifact), so
// whenever write_at has to wait for room, requests are outstanding and the
// wait ends; the collector fdatasyncs every 4 MiB with the default window.
#include "agent/net-sink.h"

#include <utility>  // before asio: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <thread>

#include "agent/collector.h"
#include "agent/tls.h"

namespace salvage {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

std::string net_endpoint_text(const std::string& address, uint16_t port) {
  // IPv6 literals carry colons: bracket them, or the port cannot be told apart.
  return (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

Result<void> parse_net_address(const std::string& spec, std::string& address, uint16_t& port) {
  std::string host, p;
  if (!spec.empty() && spec[0] == '[') {
    auto close = spec.find("]:");
    if (close == std::string::npos) return make_error("\"" + spec + "\": expected [V6ADDR]:PORT");
    host = spec.substr(1, close - 1);
    p = spec.substr(close + 2);
  } else {
    auto colon = spec.rfind(':');
    if (colon == std::string::npos || spec.find(':') != colon)
      return make_error("\"" + spec + "\": expected ADDR:PORT (IPv6 as [ADDR]:PORT)");
    host = spec.substr(0, colon);
    p = spec.substr(colon + 1);
  }
  error_code ec;
  asio::ip::make_address(host, ec);  // numeric only: there is no DNS in a capture kernel
  if (ec) return make_error("\"" + host + "\" is not a numeric IPv4 or IPv6 address");
  char* end = nullptr;
  unsigned long n = std::strtoul(p.c_str(), &end, 10);
  if (p.empty() || *end || n > 65535) return make_error("\"" + p + "\" is not a port number");
  address = host;
  port = static_cast<uint16_t>(n);
  return Ok();
}

namespace {

struct SentFrame {
  u64 stream_pos;
  u64 len;  // data bytes
  std::vector<std::byte> frame;
};

struct Artifact {
  u32 id;
  std::string name;
  ArtifactKind kind;
  u64 sent = 0;   // stream bytes handed to the connection (or pending)
  u64 acked = 0;  // durable on the collector
  u32 crc = 0;    // stream_checksum of everything written
  std::deque<SentFrame> window;
  // Coalescing: consecutive small writes become one WRITE frame.
  std::vector<std::byte> pending;
  u64 pending_offset = 0;
  bool close_sent = false, complete = false, closed = false;
};

}  // namespace

struct NetSession::Impl {
  NetTarget target;
  std::string dump_id;
  const Log& log;
  std::optional<Bundle> bundle;
  std::unique_ptr<ssl::context> ctx;
  asio::io_context io;
  std::unique_ptr<tcp::socket> plain;
  std::unique_ptr<ssl::stream<tcp::socket>> tls;
  bool connected = false;
  NetStop stop = NetStop::kNone;
  Error stop_error;  // why we stopped, repeated by every later call
  std::map<u32, Artifact> arts;
  u32 next_id = 1;
  u64 unacked = 0;  // bytes in all windows
  u64 acked_total = 0;
  u64 epoch = 0;  // connections made so far
  u64 unrequested = 0;  // bytes sent since the last frame with ACK_REQUEST
  Clock::time_point last_progress = Clock::now();
  std::vector<std::byte> rbuf;

  Impl(const NetTarget& t, std::string id, const Log& l) : target(t), dump_id(std::move(id)), log(l) {
    target.window_bytes = std::max<size_t>(target.window_bytes, 4 * (kMaxWriteData + 64));
  }

  tcp::socket& raw() { return tls ? tls->next_layer() : *plain; }

  // Time left for the current failure streak: timeout_s from the first
  // failure (or from the last ACK, if one came since).
  double remaining(Clock::time_point first_failure) const {
    const auto since = std::max(first_failure, last_progress);
    return target.timeout_s - std::chrono::duration<double>(Clock::now() - since).count();
  }

  // Runs one asynchronous operation to completion or until the deadline.
  template <class Start>
  Result<void> run(const char* what, Start start) {
    bool done = false;
    error_code result;
    start([&](const error_code& ec, auto&&...) {
      result = ec;
      done = true;
    });
    io.restart();
    // Each operation gets the whole timeout: a sender that computed for a
    // while without sending has not lost its collector.
    const double left = target.timeout_s;
    const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<long>(left * 1000));
    while (!done && io.run_one_until(deadline)) {
    }
    if (!done) {
      error_code ec;
      raw().close(ec);  // cancels the operation
      io.restart();
      io.run();
      return make_error(std::string(what) + ": timed out");
    }
    if (result) {
      // An error from OpenSSL itself (an alert: certificate refused, pin
      // mismatch, no TLS 1.3) will not go away by reconnecting with the same
      // credentials: stop, so the agent moves to its next target. A
      // connection cut mid-record is stream_truncated, another category.
      if (result.category() == asio::error::get_ssl_category())
        return stopped(NetStop::kRefused, make_error(std::string(what) + ": TLS: " + result.message()));
      return make_error(std::string(what) + ": " + result.message());
    }
    return Ok();
  }

  Result<void> send(const std::vector<std::byte>& frame) {
    if (tls) return run("send", [&](auto h) { asio::async_write(*tls, asio::buffer(frame), h); });
    return run("send", [&](auto h) { asio::async_write(*plain, asio::buffer(frame), h); });
  }

  Result<void> read_exact(std::span<std::byte> b) {
    if (tls) return run("receive", [&](auto h) { asio::async_read(*tls, asio::buffer(b.data(), b.size()), h); });
    return run("receive", [&](auto h) { asio::async_read(*plain, asio::buffer(b.data(), b.size()), h); });
  }

  Result<FrameHeader> read_frame() {
    std::byte hdr[kFrameHeaderSize];
    TRY(read_exact(hdr));
    auto hr = decode_frame_header(hdr);
    // Not a collector speaking our protocol (a TLS server answering a
    // plaintext client, another service): retrying cannot help.
    if (!hr.ok()) return stopped(NetStop::kProtocol, std::move(hr).error().with_context("from the collector"));
    const FrameHeader h = *hr;
    rbuf.resize(h.length);
    if (h.length) TRY(read_exact(rbuf));
    return h;
  }

  void disconnect() {
    error_code ec;
    if (tls || plain) raw().close(ec);
    tls.reset();
    plain.reset();
    connected = false;
  }

  Error stopped(NetStop why, Error e) {
    stop = why;
    stop_error = e;
    disconnect();
    return e;
  }

  // Handles one frame from the collector (ACK or END).
  Result<void> handle(const FrameHeader& h) {
    const auto type = static_cast<FrameType>(h.type);
    if (type == FrameType::kAck) {
      ASSIGN_OR_RETURN(Ack a, decode_ack(rbuf));
      auto it = arts.find(a.artifact_id);
      if (it == arts.end()) return stopped(NetStop::kProtocol, make_error("ACK for unknown artifact " + std::to_string(a.artifact_id)));
      acknowledge(it->second, a.stream_pos);
      if (h.flags & kFlagClosed) it->second.closed = true;
      return Ok();
    }
    if (type == FrameType::kEnd || type == FrameType::kRefuse) {
      ASSIGN_OR_RETURN(Refusal r, decode_refusal(rbuf));
      const NetStop why = (r.reason == ReasonCode::kQuota || r.reason == ReasonCode::kFreeSpace) ? NetStop::kQuota
                          : r.reason == ReasonCode::kProtocol || r.reason == ReasonCode::kChecksum ? NetStop::kProtocol
                                                                                                    : NetStop::kRefused;
      return stopped(why, make_error(std::string("collector ended the transfer (") + reason_name(r.reason) + "): " + r.text));
    }
    return stopped(NetStop::kProtocol, make_error(std::string("unexpected ") + frame_type_name(type) + " from the collector"));
  }

  void acknowledge(Artifact& a, u64 pos) {
    if (pos <= a.acked) return;
    a.acked = pos;
    while (!a.window.empty() && a.window.front().stream_pos + a.window.front().len <= pos) {
      unacked -= a.window.front().len;
      acked_total += a.window.front().len;
      a.window.pop_front();
    }
    last_progress = Clock::now();
  }

  // Reads ACKs already waiting in the socket, without blocking on an empty one.
  Result<void> drain_ready() {
    while (connected) {
      error_code ec;
      if (raw().available(ec) == 0 || ec) break;
      auto h = read_frame();
      if (!h.ok()) return h.error();
      TRY(handle(*h));
    }
    return Ok();
  }

  Result<void> connect_once() {
    disconnect();
    tcp::endpoint ep(asio::ip::make_address(target.address), target.port);
    plain = std::make_unique<tcp::socket>(io);
    TRY(run("connect", [&](auto h) { plain->async_connect(ep, h); }));
    error_code ec;
    plain->set_option(tcp::no_delay(true), ec);
    if (!target.insecure) {
      tls = std::make_unique<ssl::stream<tcp::socket>>(std::move(*plain), *ctx);
      plain.reset();
      TRY(run("TLS handshake", [&](auto h) { tls->async_handshake(ssl::stream_base::client, h); }));
    }
    connected = true;
    ++epoch;
    TRY(send(encode_hello({kCapResume, target.host_name, dump_id})));
    ASSIGN_OR_RETURN(FrameHeader h, read_frame());
    if (h.type != static_cast<u8>(FrameType::kHelloAck)) {
      if (h.type == static_cast<u8>(FrameType::kRefuse)) {
        auto r = handle(h);
        return std::move(r).error();
      }
      return stopped(NetStop::kProtocol, make_error("expected HELLO_ACK"));
    }
    TRY(decode_hello_ack(rbuf));
    ASSIGN_OR_RETURN(h, read_frame());
    if (h.type != static_cast<u8>(FrameType::kResume)) return stopped(NetStop::kProtocol, make_error("expected RESUME"));
    ASSIGN_OR_RETURN(Resume resume, decode_resume(rbuf));
    // Not progress by itself: a collector that accepts and then ends every
    // connection must not keep us retrying past timeout_s.
    return resume_from(resume);
  }

  // After a reconnect: what the collector has durably, and resend the rest.
  Result<void> resume_from(const Resume& r) {
    std::map<u32, const ResumeEntry*> known;
    for (const auto& e : r.entries) known[e.artifact_id] = &e;
    for (auto& [id, a] : arts) {
      if (a.closed) continue;
      auto it = known.find(id);
      const u64 have = it == known.end() ? 0 : it->second->acked_pos;
      if (it != known.end() && (it->second->name != a.name || it->second->kind != a.kind))
        return stopped(NetStop::kProtocol, make_error("collector has artifact " + std::to_string(id) + " as " + it->second->name));
      if (have < a.acked)
        return stopped(NetStop::kProtocol, make_error(a.name + ": the collector lost acknowledged data (has " +
                                                       std::to_string(have) + ", acknowledged " + std::to_string(a.acked) + ")"));
      acknowledge(a, have);
      if (!a.window.empty() && a.window.front().stream_pos != have)
        return stopped(NetStop::kProtocol, make_error(a.name + ": collector resumes at " + std::to_string(have) +
                                                       ", not a frame boundary"));
      if (it != known.end() && it->second->closed) {
        a.closed = true;
        continue;
      }
      TRY(send(encode_open_artifact({id, a.kind, a.name})));
      unrequested = 0;
      for (auto& f : a.window) {
        // Every resent frame asks for an ACK: cheap, and the window drains.
        f.frame[6] = static_cast<std::byte>(static_cast<u8>(f.frame[6]) | kFlagAckRequest);
        TRY(send(f.frame));
      }
      if (a.close_sent) TRY(send(encode_close_artifact({id, a.complete, a.sent, a.crc})));
      if (have || !a.window.empty())
        log.info("%s: resumed at %llu, resent %llu bytes", a.name.c_str(), static_cast<unsigned long long>(have),
                 static_cast<unsigned long long>(a.sent - have - a.pending.size()));
    }
    return Ok();
  }

  // Retries fn until it succeeds, the collector stops us, or no progress
  // for timeout_s; reconnecting with backoff in between.
  template <class Fn>
  Result<void> with_reconnect(Fn fn) {
    double backoff = 0.1;
    std::optional<Clock::time_point> first_failure;
    for (;;) {
      if (stop != NetStop::kNone) return stop_error;
      Result<void> r = connected ? fn() : make_error("not connected");
      if (r.ok()) return r;
      if (stop != NetStop::kNone) return stop_error;
      if (connected) log.warn("connection to %s:%u lost: %s; reconnecting", target.address.c_str(), target.port,
                              r.error().message.c_str());
      disconnect();
      if (!first_failure) first_failure = Clock::now();
      for (;;) {
        if (remaining(*first_failure) <= 0)
          return stopped(NetStop::kTimeout, r.error().with_context("no progress for " +
                                                                   std::to_string(static_cast<int>(target.timeout_s)) + " s"));
        auto c = connect_once();
        if (c.ok()) break;
        if (stop != NetStop::kNone) return stop_error;
        log.info("reconnect to %s:%u: %s", target.address.c_str(), target.port, c.error().message.c_str());
        r = std::move(c);
        disconnect();
        std::this_thread::sleep_for(
            std::chrono::duration<double>(std::min(backoff, std::max(remaining(*first_failure), 0.0))));
        backoff = std::min(backoff * 2, 5.0);
      }
    }
  }

  // Sends the coalesced pending bytes of a as one WRITE frame.
  Result<void> flush(Artifact& a, bool want_ack) {
    if (a.pending.empty()) return Ok();
    const u64 len = a.pending.size();
    // Room in the window first (reading ACKs), then the frame.
    TRY(with_reconnect([&]() -> Result<void> {
      TRY(drain_ready());
      while (unacked > 0 && unacked + len > target.window_bytes) {
        ASSIGN_OR_RETURN(FrameHeader h, read_frame());
        TRY(handle(h));
      }
      return Ok();
    }));
    const u64 pos = a.sent - len;
    // Ask for an ACK every half window: when write_at waits for room
    // (unacked > window - 1 MiB, window >= 4 MiB), less than half a window
    // was sent since the last request, so requests are outstanding and
    // ACKs will come.
    const bool request = want_ack || unrequested + len >= target.window_bytes / 2;
    const u16 flags = request ? kFlagAckRequest : 0;
    unrequested = request ? 0 : unrequested + len;
    // The checksum is over WRITE frames as sent (offset, data): computed
    // here, where frames are cut, exactly as the collector computes it.
    a.crc = stream_checksum(a.crc, a.pending_offset, a.pending);
    SentFrame f{pos, len, encode_write({a.id, pos, a.pending_offset, a.pending}, flags)};
    a.window.push_back(std::move(f));
    unacked += len;
    a.pending.clear();
    // If the connection drops here, resume_from resends the window, this frame included.
    const u64 e = epoch;  // a reconnect in between has resent it from the window already
    return with_reconnect([&]() { return epoch != e ? Ok() : send(a.window.back().frame); });
  }

  Result<void> write(Artifact& a, u64 off, std::span<const std::byte> data) {
    if (stop != NetStop::kNone) return stop_error;
    if (a.close_sent) return make_error(a.name + ": write after close");
    while (!data.empty()) {
      const bool contiguous = !a.pending.empty() && a.pending_offset + a.pending.size() == off;
      if (!a.pending.empty() && (!contiguous || a.pending.size() >= kMaxWriteData)) TRY(flush(a, false));
      if (a.pending.empty()) a.pending_offset = off;
      const size_t n = std::min<size_t>(data.size(), kMaxWriteData - a.pending.size());
      a.pending.insert(a.pending.end(), data.begin(), data.begin() + n);
      a.sent += n;
      off += n;
      data = data.subspan(n);
    }
    return Ok();
  }

  Result<void> wait_acked(Artifact& a, bool closing) {
    return with_reconnect([&]() -> Result<void> {
      while (closing ? !a.closed : a.acked < a.sent) {
        ASSIGN_OR_RETURN(FrameHeader h, read_frame());
        TRY(handle(h));
      }
      return Ok();
    });
  }
};

namespace {

class ArtifactSink final : public Sink {
 public:
  ArtifactSink(NetSession::Impl& s, u32 id) : s_(s), id_(id) {}
  Result<void> write_at(FileOffset off, std::span<const std::byte> data) override {
    return s_.write(s_.arts.at(id_), off.value, data).context("sending " + name());
  }
  Result<void> finish() override {
    Artifact& a = s_.arts.at(id_);
    TRY_CTX(s_.flush(a, true), "sending " + name());
    return s_.wait_acked(a, false).context("waiting for the collector to store " + name());
  }
  std::string name() const override { return "collector " + net_endpoint_text(s_.target.address, s_.target.port) + " " + s_.arts.at(id_).name; }
  u32 id() const { return id_; }

 private:
  NetSession::Impl& s_;
  u32 id_;
};

}  // namespace

NetSession::NetSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NetSession::~NetSession() {
  if (impl_) impl_->disconnect();
}

Result<std::unique_ptr<NetSession>> NetSession::open(const NetTarget& target, const std::string& dump_id,
                                                     const Log& log) {
  auto impl = std::make_unique<Impl>(target, dump_id, log);
  TRY(validate_dump_id(dump_id));
  {
    std::string a;
    uint16_t p;
    TRY(parse_net_address(net_endpoint_text(target.address, target.port), a, p));
  }
  if (!target.insecure) {
    ASSIGN_OR_RETURN(Bundle b, read_bundle(target.bundle_path));
    if (impl->target.host_name.empty()) impl->target.host_name = b.host;
    TRY(ensure_entropy(log));
    ASSIGN_OR_RETURN(impl->ctx, make_client_tls(b));
    impl->bundle = std::move(b);
  }
  TRY_CTX(validate_host_name(impl->target.host_name), "this host's name");
  TRY(impl->with_reconnect([]() { return Ok(); }));
  return std::unique_ptr<NetSession>(new NetSession(std::move(impl)));
}

Result<std::unique_ptr<Sink>> NetSession::open_artifact(const std::string& name, ArtifactKind kind) {
  Impl& s = *impl_;
  TRY(validate_artifact_name(name));
  for (const auto& [id, a] : s.arts)
    if (a.name == name) return make_error("artifact " + name + " is already open");
  const u32 id = s.next_id++;
  Artifact a{};
  a.id = id;
  a.name = name;
  a.kind = kind;
  s.arts.emplace(id, std::move(a));
  const u64 e = s.epoch;  // a reconnect sends OPEN_ARTIFACT for every open artifact itself
  TRY(s.with_reconnect([&]() { return s.epoch != e ? Ok() : s.send(encode_open_artifact({id, kind, name})); }));
  return std::unique_ptr<Sink>(new ArtifactSink(s, id));
}

Result<void> NetSession::close_artifact(Sink& sink, bool complete) {
  auto* as = dynamic_cast<ArtifactSink*>(&sink);
  if (!as) return make_error("close_artifact: not a network artifact");
  Impl& s = *impl_;
  Artifact& a = s.arts.at(as->id());
  TRY(s.flush(a, true));
  a.close_sent = true;
  a.complete = complete;
  const u64 e = s.epoch;
  TRY(s.with_reconnect(
      [&]() { return s.epoch != e ? Ok() : s.send(encode_close_artifact({a.id, complete, a.sent, a.crc})); }));
  return s.wait_acked(a, true).context("closing " + a.name);
}

Result<void> NetSession::close() {
  Impl& s = *impl_;
  if (s.connected) {
    auto r = s.send(encode_bye());
    if (s.tls) {
      boost::system::error_code ec;
      s.raw().shutdown(tcp::socket::shutdown_send, ec);
    }
    s.disconnect();
    return r;
  }
  return Ok();
}

NetStop NetSession::stopped() const { return impl_->stop; }
uint64_t NetSession::acknowledged_bytes() const { return impl_->acked_total; }

}  // namespace salvage
