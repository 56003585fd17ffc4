// SPDX-License-Identifier: GPL-2.0-or-later
// TLS contexts for the collector and the sending agent.
#include "agent/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <sys/random.h>

#include <cerrno>
#include <chrono>

#include "agent/file-util.h"

namespace salvage {

namespace ssl = boost::asio::ssl;

namespace {

// OpenSSL 3 registers OPENSSL_cleanup() with atexit() on its first use. In
// the unit-test binary (Debian's libcrypto 3.0.22, OpenSSL used by many
// tests in one process) that cleanup crashed about every other run inside
// CRYPTO_free_ex_data at exit, after every test had passed; valgrind saw
// no error in the process itself. Nothing of ours needs the cleanup (the
// process is ending, the kernel frees its memory), so OpenSSL is told not
// to register it, before anything else can initialise it. This runs before
// main; it sets no state of ours.
const bool kOpensslNoAtexit = OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr) == 1;

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (!e) return "unknown OpenSSL error";
  char b[256];
  ERR_error_string_n(e, b, sizeof b);
  ERR_clear_error();
  return b;
}

// Trust decision for the peer's certificate, made by fingerprint alone.
// We accept exactly one self-signed certificate (depth 0) and decide by its
// SHA-256 fingerprint, whatever OpenSSL's chain verification said: the
// certificate is self-signed (X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT), and
// X509_V_ERR_CERT_NOT_YET_VALID / X509_V_ERR_CERT_HAS_EXPIRED must not
// count because a capture kernel's clock is often wrong (no RTC sync, a VM
// restored from a snapshot, a CMOS battery gone) and a dump that cannot be
// sent because of the date is lost. A pinned key is a stronger statement
// than a date window anyway.
bool pin_check(const std::set<Fingerprint>& allowed, ssl::verify_context& vctx) {
  X509_STORE_CTX* sctx = vctx.native_handle();
  if (X509_STORE_CTX_get_error_depth(sctx) != 0) return false;
  X509* cert = X509_STORE_CTX_get_current_cert(sctx);
  if (!cert) return false;
  auto fp = cert_fingerprint(cert);
  if (!fp.ok() || !allowed.count(*fp)) return false;
  X509_STORE_CTX_set_error(sctx, X509_V_OK);
  return true;
}

Result<std::unique_ptr<ssl::context>> base_context(ssl::context::method m) {
  // No openssl.cnf: the capture kernel has none, and the host's must not
  // change how the collector behaves (providers, cipher policy).
  OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
  auto ctx = std::make_unique<ssl::context>(m);
  // TLS 1.3 only: forward secrecy always, no renegotiation, fewer round trips.
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx->native_handle(), TLS1_3_VERSION) != 1)
    return make_error("TLS 1.3 only: " + openssl_error());
  return ctx;
}

Result<void> use_key_and_cert(ssl::context& ctx, const std::string& key_pem, const std::string& cert_pem,
                              const std::string& what) {
  boost::system::error_code ec;
  ctx.use_certificate(boost::asio::buffer(cert_pem), ssl::context::pem, ec);
  if (ec) return make_error(what + " certificate: " + ec.message());
  ctx.use_private_key(boost::asio::buffer(key_pem), ssl::context::pem, ec);
  if (ec) return make_error(what + " key: " + ec.message());
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) return make_error(what + " key does not match its certificate");
  return Ok();
}

}  // namespace

Result<Fingerprint> cert_fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32) return make_error("X509_digest: " + openssl_error());
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) {
    s += kHex[md[i] >> 4];
    s += kHex[md[i] & 15];
  }
  return s;
}

Result<std::unique_ptr<ssl::context>> make_server_tls(const std::string& cred_dir, std::set<Fingerprint> allowed) {
  ASSIGN_OR_RETURN(auto ctx, base_context(ssl::context::tls_server));
  ASSIGN_OR_RETURN(std::string key, read_file(cred_dir + "/collector.key", 1 << 16));
  ASSIGN_OR_RETURN(std::string cert, read_file(cred_dir + "/collector.crt", 1 << 16));
  TRY(use_key_and_cert(*ctx, key, cert, cred_dir + "/collector"));
  boost::system::error_code ec;
  ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  if (ec) return make_error("set_verify_mode: " + ec.message());
  ctx->set_verify_callback([allowed = std::move(allowed)](bool, ssl::verify_context& v) { return pin_check(allowed, v); },
                           ec);
  if (ec) return make_error("set_verify_callback: " + ec.message());
  // No session tickets: every connection proves its key afresh.
  SSL_CTX_set_num_tickets(ctx->native_handle(), 0);
  return ctx;
}

Result<std::unique_ptr<ssl::context>> make_client_tls(const Bundle& b) {
  ASSIGN_OR_RETURN(auto ctx, base_context(ssl::context::tls_client));
  TRY(use_key_and_cert(*ctx, b.key_pem, b.cert_pem, "bundle"));
  boost::system::error_code ec;
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (ec) return make_error("set_verify_mode: " + ec.message());
  std::set<Fingerprint> pinned{b.collector_fingerprint};
  ctx->set_verify_callback([pinned](bool, ssl::verify_context& v) { return pin_check(pinned, v); }, ec);
  if (ec) return make_error("set_verify_callback: " + ec.message());
  return ctx;
}

// OpenSSL 3 seeds its DRBG from getrandom(2) (the default "os" seed
// source), which blocks until the kernel's CRNG is initialised. In a
// capture kernel that is early in boot with few interrupts. What we rely
// on, in Linux 6.1 drivers/char/random.c: getrandom() without GRND_NONBLOCK
// calls wait_for_random_bytes(), which, while the CRNG is not ready, loops
// over try_to_generate_entropy() -- the timer/cycle-counter jitter
// generator added in 5.4 (commit 50ee7529ec45, "random: try to actively add
// entropy rather than passively wait for it") and kept by the 5.17/5.18
// random.c rework -- so it returns within about a second even on an idle
// VM; on x86 RDSEED/RDRAND seed it at boot anyway. We probe with
// GRND_NONBLOCK first only to say on the console why we wait.
Result<void> ensure_entropy(const Log& log) {
  unsigned char b[16];
  ssize_t n = getrandom(b, sizeof b, GRND_NONBLOCK);
  if (n < 0 && errno == EAGAIN) {
    log.warn("kernel random pool not initialised yet; waiting for it (jitter entropy, about a second)");
    const auto t0 = std::chrono::steady_clock::now();
    do n = getrandom(b, sizeof b, 0);
    while (n < 0 && errno == EINTR);
    log.info("random pool ready after %.2f s",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (n < 0) return Error::from_errno("getrandom");
  if (RAND_status() != 1) return make_error("OpenSSL random generator not seeded: " + openssl_error());
  return Ok();
}

}  // namespace salvage
