// SPDX-License-Identifier: GPL-2.0-or-later
// The collector daemon: one Boost.Asio io_context on one thread, one C++20
// coroutine per connection. Memory per connection is bounded by one frame
// buffer (kMaxFramePayload): a frame is read whole, handled, then the next
// one is read. Each connection has an idle deadline, pushed forward by every
// frame; a stalled or silent peer is cut off when it passes. A malformed or
// oversized frame closes that connection only.
//
// pwrite runs on the io thread (it only fills the page cache). fdatasync,
// the state record and the rename at CLOSE run on a small pool while the
// connection's coroutine waits: a sync takes milliseconds to tens of them,
// and on the io thread it stalled every other connection's transfer. The
// connection itself reads no frame meanwhile, so the order of writes,
// syncs and ACKs within a dump is unchanged.
#include <fcntl.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <utility>  // before asio: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <csignal>
#include <memory>
#include <set>

#include "agent/collector.h"
#include "agent/file-util.h"
#include "agent/net-sink.h"
#include "agent/tls.h"

namespace salvage {

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

struct Server;

// One connection's state shared by its session and its watchdog.
struct Conn {
  Server& srv;
  std::string peer;
  tcp::socket* raw = nullptr;  // valid while !done
  Clock::time_point deadline;
  bool done = false;
  bool killed = false;  // replaced by a newer session of the same dump
  bool syncing = false;  // dir is in use on the sync pool: kill() must not free it
  std::unique_ptr<DumpDir> dir;
  std::string dump_key;
  asio::steady_timer timer;
  Conn(Server& s, asio::any_io_executor ex, std::string p) : srv(s), peer(std::move(p)), timer(ex) {}
  void kill();
};

struct Server {
  asio::io_context& io;
  const CollectorOptions& opt;
  const Log& log;
  DumpStore store;
  ssl::context* tls = nullptr;
  std::map<Fingerprint, std::string> enrolled;
  std::map<std::string, Conn*> active;  // dump directory -> its session
  size_t connections = 0;
  // Two threads: one sync per connection at a time, and the disks behind a
  // collector seldom gain from more concurrent fdatasyncs than that.
  asio::thread_pool syncs{2};
  Server(asio::io_context& i, const CollectorOptions& o, const Log& l)
      : io(i), opt(o), log(l), store(o.root, o.limits, l) {}
};

void Conn::kill() {
  killed = true;
  if (!syncing) dir.reset();  // abandon(): what was received is synced and recorded
                              // (while syncing, the session resets it when the sync returns)
  if (!done && raw) {
    error_code ec;
    raw->close(ec);
  }
}

void touch(Conn& c) {
  c.deadline = Clock::now() + std::chrono::milliseconds(static_cast<long>(c.srv.opt.idle_timeout_s * 1000));
}

awaitable<void> watchdog(std::shared_ptr<Conn> c) {
  while (!c->done) {
    c->timer.expires_at(c->deadline);
    error_code ec;
    co_await c->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (c->done) break;
    if (Clock::now() >= c->deadline) {
      c->srv.log.warn("%s: idle for %.0f s, closing", c->peer.c_str(), c->srv.opt.idle_timeout_s);
      c->raw->close(ec);
      break;
    }
  }
}

// Runs fn (storage work of c's DumpDir) on the sync pool and resumes on the
// io thread when it is done. The io_context runs on one thread, so the
// completion posted back cannot run before this coroutine waits.
template <class Fn>
awaitable<void> on_sync_pool(Conn& c, Fn fn) {
  auto ex = co_await asio::this_coro::executor;
  auto wake = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
  auto finished = std::make_shared<bool>(false);
  c.syncing = true;
  asio::post(c.srv.syncs, [wake, finished, ex, &fn] {
    fn();
    asio::post(ex, [wake, finished] {
      *finished = true;
      wake->cancel();
    });
  });
  error_code ec;
  while (!*finished) co_await wake->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  c.syncing = false;
  if (c.killed) c.dir.reset();  // kill() came while the pool had it
}

template <class Stream>
awaitable<bool> send(Stream& s, Conn& c, const std::vector<std::byte>& frame) {
  error_code ec;
  co_await asio::async_write(s, asio::buffer(frame), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) c.srv.log.info("%s: send: %s", c.peer.c_str(), ec.message().c_str());
  co_return !ec && !c.killed;
}

// After REFUSE or END the connection closes; but closing a socket with
// unread data makes the kernel send RST, which can destroy the refusal
// before the sender reads it (the sender may still be writing WRITE frames).
// So read and discard for a moment first, until the sender closes.
template <class Stream>
awaitable<void> linger(Stream& s, Conn& c) {
  c.deadline = Clock::now() + std::chrono::seconds(2);
  error_code ec;
  c.timer.cancel(ec);  // the watchdog re-arms with the nearer deadline
  std::vector<std::byte> discard(16384);
  while (!c.killed) {
    co_await s.async_read_some(asio::buffer(discard), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
}

template <class Stream>
awaitable<bool> send_refusal(Stream& s, Conn& c, FrameType t, const Refusal& r) {
  c.srv.log.warn("%s: %s %s: %s", c.peer.c_str(), frame_type_name(t), reason_name(r.reason), r.text.c_str());
  std::vector<std::byte> out = encode_refusal(t, r);
  const bool sent = co_await send(s, c, out);
  if (sent) co_await linger(s, c);
  co_return sent;
}

struct Frame {
  FrameHeader h{};
  std::span<const std::byte> payload;
};

// Reads one frame into buf (at most kMaxFramePayload). Returns false on
// end of stream or a bad header (the connection is closed by the caller).
template <class Stream>
awaitable<bool> read_frame(Stream& s, Conn& c, std::vector<std::byte>& buf, Frame& f) {
  std::byte hdr[kFrameHeaderSize];
  error_code ec;
  co_await asio::async_read(s, asio::buffer(hdr), asio::redirect_error(asio::use_awaitable, ec));
  if (ec || c.killed) co_return false;
  auto h = decode_frame_header(hdr);
  if (!h.ok()) {
    c.srv.log.warn("%s: %s; closing the connection", c.peer.c_str(), h.error().message.c_str());
    // Our magic but a version we do not speak (or a type framed with
    // another version than its own): say so, in version 1, before closing
    // (docs/formats/wire-protocol.md, versioning rule).
    if (std::memcmp(hdr, "SLVW", 4) == 0 && static_cast<u8>(hdr[4]) != wire_frame_version(static_cast<u8>(hdr[5]))) {
      Refusal r{ReasonCode::kVersion,
                "this collector speaks protocol versions 1 to " + std::to_string(kWireProtocolVersion)};
      std::vector<std::byte> out = encode_refusal(FrameType::kRefuse, r);
      co_await send(s, c, out);
    }
    co_return false;
  }
  f.h = *h;
  buf.resize(h->length);
  if (h->length) {
    co_await asio::async_read(s, asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    if (ec || c.killed) co_return false;
  }
  f.payload = buf;
  touch(c);
  co_return true;
}

// PROBE (`salvage test`): the checks HELLO makes before it creates a dump
// directory (name, enrolled host, room for a new dump), and nothing else:
// no directory, no file, no resume record. Then the connection ends.
template <class Stream>
awaitable<void> answer_probe(Stream& s, Conn& c, std::span<const std::byte> payload, const std::string& enrolled_host) {
  auto probe = decode_probe(payload);
  Refusal why;
  if (!probe.ok()) why = {ReasonCode::kBadName, probe.error().message};
  else if (!enrolled_host.empty() && probe->host != enrolled_host)
    why = {ReasonCode::kWrongHost, "certificate enrolled for " + enrolled_host + ", PROBE says " + probe->host};
  else why = c.srv.store.check_room(probe->host, 1);
  if (why.reason != ReasonCode::kNone) {
    co_await send_refusal(s, c, FrameType::kRefuse, why);
    co_return;
  }
  c.srv.log.info("%s: probe from %s: accepted (nothing stored)", c.peer.c_str(), probe->host.c_str());
  std::vector<std::byte> out = encode_probe_ack({kCapResume, probe->host});
  co_await send(s, c, out);
}

// The protocol after the (TLS) handshake. enrolled_host is the host the
// client certificate was enrolled for ("" in --insecure mode).
//
// Every co_await below takes named variables, never temporaries: GCC 12
// destroys some temporaries of a co_await full-expression twice (GCC bugs
// 101367, 100611), which showed here as a double free.
template <class Stream>
awaitable<void> serve(std::shared_ptr<Conn> c, Stream& s, std::string enrolled_host) {
  Server& srv = c->srv;
  std::vector<std::byte> buf, out;
  Frame f;
  Refusal why;
  FrameType why_type = FrameType::kRefuse;
  // 1. HELLO, checked before anything touches the disk.
  if (!co_await read_frame(s, *c, buf, f)) co_return;
  if (f.h.type == static_cast<u8>(FrameType::kProbe)) {
    co_await answer_probe(s, *c, f.payload, enrolled_host);
    co_return;
  }
  auto hello = decode_hello(f.payload);
  if (f.h.type != static_cast<u8>(FrameType::kHello)) {
    why = {ReasonCode::kProtocol, "expected HELLO"};
  } else if (!hello.ok()) {
    why = {ReasonCode::kBadName, hello.error().message};
  } else if (!enrolled_host.empty() && hello->host != enrolled_host) {
    why = {ReasonCode::kWrongHost, "certificate enrolled for " + enrolled_host + ", HELLO says " + hello->host};
  } else {
    c->peer += " (" + hello->host + ")";
    auto dir = srv.store.open_dump(hello->host, hello->dump_id, std::time(nullptr), why);
    if (dir.ok()) {
      // A reconnecting sender may find its old connection still half-open:
      // the newer one wins, the older one's data is synced and recorded first.
      const std::string key = (*dir)->path();
      if (auto old = srv.active.find(key); old != srv.active.end()) {
        srv.log.info("%s: replaces an older connection of the same dump", c->peer.c_str());
        old->second->kill();
        srv.active.erase(old);
        (*dir).reset();
        dir = srv.store.open_dump(hello->host, hello->dump_id, std::time(nullptr), why);  // reload the synced state
      }
    }
    if (!dir.ok() && why.reason == ReasonCode::kNone) why = {ReasonCode::kStorage, dir.error().message};
    if (dir.ok()) {
      c->dir = std::move(*dir);
      c->dump_key = c->dir->path();
      srv.active[c->dump_key] = c.get();
    }
  }
  if (why.reason != ReasonCode::kNone) {
    co_await send_refusal(s, *c, why_type, why);
    co_return;
  }
  out = encode_hello_ack({kCapResume});
  if (!co_await send(s, *c, out)) co_return;
  out = encode_resume(c->dir->resume());
  if (!co_await send(s, *c, out)) co_return;

  // 2. Artifacts until BYE; any refusal ends the transfer (END) after
  // making what we have durable, kept as NAME-incomplete.
  why_type = FrameType::kEnd;
  while (why.reason == ReasonCode::kNone && co_await read_frame(s, *c, buf, f)) {
    if (!c->dir) co_return;
    const auto type = static_cast<FrameType>(f.h.type);
    if (type == FrameType::kOpenArtifact) {
      auto m = decode_open_artifact(f.payload);
      why = m.ok() ? c->dir->open_artifact(*m) : Refusal{ReasonCode::kBadName, m.error().message};
    } else if (type == FrameType::kWrite) {
      auto m = decode_write(f.payload);
      why = m.ok() ? c->dir->write(*m) : Refusal{ReasonCode::kProtocol, m.error().message};
      if (why.reason == ReasonCode::kNone && (f.h.flags & kFlagAckRequest)) {
        Result<std::vector<Ack>> acks = make_error("not synced");
        DumpDir* dir = c->dir.get();
        const u32 id = m->artifact_id;
        co_await on_sync_pool(*c, [&] { acks = dir->sync_all(id); });
        if (!c->dir) co_return;  // killed meanwhile: a newer session has the dump
        if (!acks.ok()) {
          why = {ReasonCode::kStorage, acks.error().message};
          break;
        }
        for (const Ack& a : *acks) {
          out = encode_ack(a, 0);
          if (!co_await send(s, *c, out)) co_return;
        }
      }
    } else if (type == FrameType::kCloseArtifact) {
      auto m = decode_close_artifact(f.payload);
      u64 pos = 0;
      if (!m.ok()) {
        why = {ReasonCode::kProtocol, m.error().message};
      } else {
        DumpDir* dir = c->dir.get();
        co_await on_sync_pool(*c, [&] { why = dir->close_artifact(*m, pos); });
        if (!c->dir) co_return;
      }
      if (why.reason == ReasonCode::kNone) {
        out = encode_ack({m->artifact_id, pos}, kFlagClosed);
        if (!co_await send(s, *c, out)) co_return;
      }
    } else if (type == FrameType::kBye) {
      srv.log.info("%s: done", c->peer.c_str());
      co_return;
    } else {
      why = {ReasonCode::kProtocol, std::string("unexpected ") + frame_type_name(type)};
    }
  }
  if (why.reason != ReasonCode::kNone) {
    if (c->dir) c->dir->abandon();
    co_await send_refusal(s, *c, why_type, why);
  }
}

void finish(Conn& c) {
  c.done = true;
  error_code ec;
  c.timer.cancel(ec);
  if (!c.killed && !c.dump_key.empty()) {
    auto it = c.srv.active.find(c.dump_key);
    if (it != c.srv.active.end() && it->second == &c) c.srv.active.erase(it);
  }
  c.dir.reset();
  --c.srv.connections;
}

awaitable<void> session(Server& srv, tcp::socket sock) {
  error_code ec;
  auto ep = sock.remote_endpoint(ec);
  auto c = std::make_shared<Conn>(srv, sock.get_executor(), ec ? "?" : net_endpoint_text(ep.address().to_string(), ep.port()));
  touch(*c);
  sock.set_option(tcp::no_delay(true), ec);
  if (!srv.tls) {
    c->raw = &sock;
    asio::co_spawn(srv.io, watchdog(c), asio::detached);
    std::string no_host;
    co_await serve(c, sock, no_host);
    finish(*c);
    sock.close(ec);
    co_return;
  }
  ssl::stream<tcp::socket> s(std::move(sock), *srv.tls);
  c->raw = &s.next_layer();
  asio::co_spawn(srv.io, watchdog(c), asio::detached);
  co_await s.async_handshake(ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
  std::string host;
  if (ec) {
    srv.log.warn("%s: TLS handshake refused: %s", c->peer.c_str(), ec.message().c_str());
  } else {
    X509* cert = SSL_get1_peer_certificate(s.native_handle());
    auto fp = cert ? cert_fingerprint(cert) : Result<Fingerprint>(make_error("no client certificate"));
    if (cert) X509_free(cert);
    auto it = fp.ok() ? srv.enrolled.find(*fp) : srv.enrolled.end();
    if (it == srv.enrolled.end()) srv.log.warn("%s: client certificate not enrolled", c->peer.c_str());
    else host = it->second;
  }
  if (!host.empty()) {
    co_await serve(c, s, host);
    if (!c->killed) co_await s.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  }
  finish(*c);
  s.next_layer().close(ec);
}

awaitable<void> accept_loop(Server& srv, tcp::acceptor& acc) {
  for (;;) {
    error_code ec;
    tcp::socket sock = co_await acc.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      srv.log.warn("accept: %s", ec.message().c_str());
      continue;
    }
    if (srv.connections >= srv.opt.max_connections) {
      srv.log.warn("too many connections (%zu), refusing one", srv.connections);
      sock.close(ec);
      continue;
    }
    ++srv.connections;
    asio::co_spawn(srv.io, session(srv, std::move(sock)), asio::detached);
  }
}

}  // namespace

int run_collector(const CollectorOptions& opt, const Log& log) {
  asio::io_context io(1);
  Server srv(io, opt, log);
  std::unique_ptr<ssl::context> tls;
  if (!opt.insecure) {
    if (auto r = ensure_entropy(log); !r.ok()) {
      log.error("%s", r.error().message.c_str());
      return 1;
    }
    auto allowed = read_allow_list(opt.cred_dir);
    if (!allowed.ok()) {
      log.error("%s", allowed.error().message.c_str());
      return 1;
    }
    std::set<Fingerprint> fps;
    for (const auto& e : *allowed) {
      srv.enrolled[e.fingerprint] = e.host;
      fps.insert(e.fingerprint);
    }
    auto ctx = make_server_tls(opt.cred_dir, std::move(fps));
    if (!ctx.ok()) {
      log.error("TLS setup from %s: %s (run `salvage collector enroll HOST` first)", opt.cred_dir.c_str(),
                ctx.error().message.c_str());
      return 1;
    }
    tls = std::move(*ctx);
    srv.tls = tls.get();
    log.info("%zu hosts enrolled", srv.enrolled.size());
  } else {
    log.warn("--insecure: plaintext, no authentication (for labs only)");
  }
  if (auto r = make_dir_0700(opt.root); !r.ok()) {
    log.error("%s", r.error().message.c_str());
    return 1;
  }

  error_code ec;
  auto addr = asio::ip::make_address(opt.listen_address, ec);
  if (ec) {
    log.error("--listen: %s is not a numeric address", opt.listen_address.c_str());
    return 2;
  }
  tcp::acceptor acc(io);
  tcp::endpoint ep(addr, opt.port);
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    log.error("listening on %s:%u: %s", opt.listen_address.c_str(), opt.port, ec.message().c_str());
    return 1;
  }
  const unsigned port = acc.local_endpoint(ec).port();
  std::fprintf(stderr, "salvage: collector listening on %s:%u (%s), storing under %s\n", opt.listen_address.c_str(),
               port, opt.insecure ? "plaintext" : "TLS 1.3", opt.root.c_str());
  if (!opt.port_file.empty()) {
    std::string tmp = opt.port_file + ".tmp";
    if (FILE* f = std::fopen(tmp.c_str(), "w")) {
      std::fprintf(f, "%u\n", port);
      std::fclose(f);
      std::rename(tmp.c_str(), opt.port_file.c_str());
    }
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const error_code&, int sig) {
    log.warn("signal %d: stopping", sig);
    acc.close();
    io.stop();
  });
  asio::co_spawn(io, accept_loop(srv, acc), asio::detached);
  io.run();
  return 0;
}

}  // namespace salvage
