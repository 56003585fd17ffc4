// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage test` for a net target: the capture agent's connection, made
// from the running host with the bundle the initramfs carries, and one
// PROBE instead of HELLO, so the collector checks the host exactly as it
// would for a dump and creates nothing (docs/formats/wire-protocol.md,
// version 2). Every step has a deadline: an operator's dry run must not
// hang on a black-holed address.
//
// Where a refusal shows up: the collector decides on the client
// certificate during the TLS 1.3 handshake, but a TLS 1.3 client finishes
// its side of the handshake before the server has checked the client's
// certificate (RFC 8446 4.4: the client's Certificate and Finished are its
// last flight). So an unenrolled host sees its handshake succeed and then
// the collector's alert on its first read; that alert is the "not
// enrolled" answer, while a failed handshake is a TLS problem of ours or
// of the address (pin mismatch, not a TLS collector).
#include <cerrno>
#include <cstring>
#include <utility>  // before asio: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <optional>

#include "agent/collector.h"
#include "agent/net-sink.h"
#include "agent/tls.h"

namespace salvage {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

const char* probe_outcome_name(ProbeOutcome o) {
  switch (o) {
    case ProbeOutcome::kAccepted: return "accepted";
    case ProbeOutcome::kRefused: return "refused";
    case ProbeOutcome::kUnreachable: return "unreachable";
    case ProbeOutcome::kTlsFailed: return "TLS failure";
    case ProbeOutcome::kOldCollector: return "old collector";
    case ProbeOutcome::kProtocol: return "protocol error";
    case ProbeOutcome::kSetup: return "setup error";
  }
  return "?";
}

namespace {

ProbeReport report(ProbeOutcome o, std::string msg) {
  ProbeReport r;
  r.outcome = o;
  r.message = std::move(msg);
  return r;
}

std::string errno_text(int e) {
  const char* name = ::strerrorname_np(e);
  return std::string(std::strerror(e)) + " (errno " + std::to_string(e) + (name ? std::string(", ") + name : "") + ")";
}

class Prober {
 public:
  Prober(const ProbeRequest& rq, const Log& log) : rq_(rq), log_(log) {}

  ProbeReport run() {
    const std::string where = net_endpoint_text(rq_.address, rq_.port);
    error_code ec;
    const auto ip = asio::ip::make_address(rq_.address, ec);
    if (ec) return report(ProbeOutcome::kSetup, "\"" + rq_.address + "\" is not a numeric IPv4 or IPv6 address");
    std::string host = rq_.host_name;
    if (!rq_.insecure) {
      auto b = parse_bundle(rq_.bundle_text);
      if (!b.ok()) return report(ProbeOutcome::kSetup, "the bundle: " + b.error().message);
      if (host.empty()) host = b->host;
      if (auto e = ensure_entropy(log_); !e.ok()) return report(ProbeOutcome::kSetup, e.error().message);
      auto ctx = make_client_tls(*b);
      if (!ctx.ok()) return report(ProbeOutcome::kSetup, "TLS setup from the bundle: " + ctx.error().message);
      ctx_ = std::move(*ctx);
    }
    if (auto v = validate_host_name(host); !v.ok()) return report(ProbeOutcome::kSetup, "this host's name: " + v.error().message);

    // 1. TCP.
    sock_.emplace(io_);
    const tcp::endpoint ep(ip, rq_.port);
    ec = run_op([&](auto h) { sock_->async_connect(ep, h); });
    if (ec) {
      ProbeReport r = report(ProbeOutcome::kUnreachable, "cannot connect to " + where + ": ");
      r.error = ec == asio::error::timed_out || ec.category() != asio::error::get_system_category() ? ETIMEDOUT : ec.value();
      r.message += ec == asio::error::timed_out ? "no answer within " + seconds() + " (" + errno_text(ETIMEDOUT) + ")"
                                                : errno_text(r.error);
      return r;
    }
    // 2. TLS.
    if (!rq_.insecure) {
      tls_.emplace(std::move(*sock_), *ctx_);
      sock_.reset();
      ec = run_op([&](auto h) { tls_->async_handshake(ssl::stream_base::client, h); });
      if (ec)
        return report(ProbeOutcome::kTlsFailed,
                      "TLS 1.3 handshake with " + where + " failed: " + ec.message() +
                          (ec.category() == asio::error::get_ssl_category()
                               ? " (is the collector's certificate the one pinned in the bundle?)"
                               : " (is the collector running with --insecure?)"));
    }
    // 3. PROBE, then one answer.
    const std::vector<std::byte> probe = encode_probe({kCapResume, host});
    const error_code sent = write(probe);
    std::byte hdr[kFrameHeaderSize];
    ec = read(hdr, sizeof hdr);
    if (ec) return lost_after_handshake(where, sent ? sent : ec);
    auto h = decode_frame_header(hdr);
    if (!h.ok())
      return report(ProbeOutcome::kProtocol, where + " answered something that is not the salvage wire protocol (" +
                                                 h.error().message + ")");
    std::vector<std::byte> payload(h->length);
    if (h->length) {
      ec = read(payload.data(), payload.size());
      if (ec) return lost_after_handshake(where, ec);
    }
    close();
    return answer(where, *h, payload);
  }

 private:
  std::string seconds() const { return std::to_string(static_cast<int>(rq_.timeout_s)) + " s"; }

  tcp::socket& raw() { return tls_ ? tls_->next_layer() : *sock_; }

  // One asynchronous operation, to completion or the deadline (then the
  // socket is closed, which cancels it, and the result is timed_out).
  template <class Start>
  error_code run_op(Start start) {
    bool done = false;
    error_code result;
    start([&](const error_code& e, auto&&...) {
      result = e;
      done = true;
    });
    io_.restart();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long>(rq_.timeout_s * 1000));
    while (!done && io_.run_one_until(deadline)) {
    }
    if (!done) {
      error_code ignored;
      raw().close(ignored);
      io_.restart();
      io_.run();
      return asio::error::timed_out;
    }
    return result;
  }
  error_code write(const std::vector<std::byte>& b) {
    if (tls_) return run_op([&](auto h) { asio::async_write(*tls_, asio::buffer(b), h); });
    return run_op([&](auto h) { asio::async_write(*sock_, asio::buffer(b), h); });
  }
  error_code read(std::byte* p, size_t n) {
    if (tls_) return run_op([&](auto h) { asio::async_read(*tls_, asio::buffer(p, n), h); });
    return run_op([&](auto h) { asio::async_read(*sock_, asio::buffer(p, n), h); });
  }
  void close() {
    error_code ignored;
    if (tls_ || sock_) raw().close(ignored);
  }

  // The connection ended before any answer frame.
  ProbeReport lost_after_handshake(const std::string& where, const error_code& ec) {
    close();
    if (ec == asio::error::timed_out)
      return report(ProbeOutcome::kProtocol, where + " accepted the connection but did not answer PROBE within " + seconds());
    if (rq_.insecure)
      return report(ProbeOutcome::kProtocol, where + " closed the connection without answering (" + ec.message() +
                                                 "); a TLS collector does that to a plaintext client: drop collector_insecure");
    // See the top of the file: the collector's verdict on our certificate.
    ProbeReport r = report(ProbeOutcome::kRefused,
                           where + " refused this host's certificate after the TLS handshake (" + ec.message() +
                               "): not enrolled there (salvage collector enroll HOST on the collector)");
    r.reason = ReasonCode::kNotEnrolled;
    return r;
  }

  ProbeReport answer(const std::string& where, const FrameHeader& h, std::span<const std::byte> payload) {
    const auto type = static_cast<FrameType>(h.type);
    if (type == FrameType::kProbeAck) {
      auto a = decode_probe_ack(payload);
      if (!a.ok()) return report(ProbeOutcome::kProtocol, where + ": " + a.error().message);
      ProbeReport r = report(ProbeOutcome::kAccepted, where + " accepts this host as " + a->host +
                                                          (rq_.insecure ? " (INSECURE plaintext)" : " (TLS 1.3, mutual)"));
      r.host = a->host;
      return r;
    }
    if (type == FrameType::kRefuse || type == FrameType::kEnd) {
      auto f = decode_refusal(payload);
      if (!f.ok()) return report(ProbeOutcome::kProtocol, where + ": " + f.error().message);
      if (f->reason == ReasonCode::kVersion) {
        // A version-1 collector: it completed our handshake (so, with TLS,
        // it allows our certificate) but cannot say more without a HELLO,
        // which would create a dump directory.
        ProbeReport r = report(ProbeOutcome::kOldCollector,
                               where + " speaks only wire protocol version 1 (" + f->text + "): reachable" +
                                   (rq_.insecure ? "" : ", this host's certificate accepted") +
                                   ", host name and room not checked (a HELLO would create a dump there)");
        r.reason = f->reason;
        return r;
      }
      ProbeReport r = report(ProbeOutcome::kRefused, where + " refuses this host: " + reason_name(f->reason) +
                                                         (f->text.empty() ? "" : ": " + f->text));
      r.reason = f->reason;
      return r;
    }
    return report(ProbeOutcome::kProtocol, where + " answered PROBE with " + frame_type_name(type));
  }

  const ProbeRequest& rq_;
  const Log& log_;
  asio::io_context io_;
  std::unique_ptr<ssl::context> ctx_;
  std::optional<tcp::socket> sock_;
  std::optional<ssl::stream<tcp::socket>> tls_;
};

}  // namespace

ProbeReport probe_collector(const ProbeRequest& r, const Log& log) { return Prober(r, log).run(); }

}  // namespace salvage
