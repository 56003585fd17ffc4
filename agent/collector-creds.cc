// SPDX-License-Identifier: GPL-2.0-or-later
// Credentials of the network dump: `salvage collector enroll HOST`, the
// allow list and the host's bundle. Keys are Ed25519 (fast to make, small,
// TLS 1.3 signs with them); certificates are self-signed and trusted only
// by SHA-256 fingerprint (agent/tls.cc), so their dates are irrelevant:
// they are issued valid from 1970 for 100 years anyway, so that other tools
// (openssl s_client) do not complain about a capture kernel's clock either.
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <sstream>

#include "agent/collector.h"
#include "agent/file-util.h"
#include "agent/tls.h"

namespace salvage {

namespace {

struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct X509Free { void operator()(X509* p) const { X509_free(p); } };
struct BioFree { void operator()(BIO* p) const { BIO_free(p); } };
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Bio = std::unique_ptr<BIO, BioFree>;

std::string bio_string(BIO* b) {
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  return std::string(p, static_cast<size_t>(n));
}

Result<void> write_0600(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Error::from_errno("create " + tmp);
  ::fchmod(fd, 0600);  // an existing file keeps its mode through O_CREAT
  bool good = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!good) return Error::from_errno("write " + tmp, err);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Error::from_errno("rename " + tmp);
  return Ok();
}

struct KeyAndCert {
  std::string key_pem, cert_pem;
  Fingerprint fingerprint;
};

Result<KeyAndCert> make_key_and_cert(const std::string& cn) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) return make_error("Ed25519 key generation failed");
  Cert x(X509_new());
  X509_set_version(x.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return make_error("RAND_bytes failed");
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()));
  BN_free(bn);
  ASN1_TIME_set(X509_getm_notBefore(x.get()), 0);
  X509_time_adj_ex(X509_getm_notAfter(x.get()), 36525, 0, nullptr);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509_set_pubkey(x.get(), key.get());
  if (X509_sign(x.get(), key.get(), nullptr) <= 0) return make_error("signing the certificate for " + cn + " failed");
  KeyAndCert out;
  Bio kb(BIO_new(BIO_s_mem())), cb(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_X509(cb.get(), x.get()) != 1)
    return make_error("PEM encoding failed");
  out.key_pem = bio_string(kb.get());
  out.cert_pem = bio_string(cb.get());
  ASSIGN_OR_RETURN(out.fingerprint, cert_fingerprint(x.get()));
  return out;
}

Result<Fingerprint> fingerprint_of_pem(const std::string& pem) {
  Bio b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert x(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
  if (!x) return make_error("not a PEM certificate");
  return cert_fingerprint(x.get());
}

}  // namespace

Result<std::vector<EnrolledHost>> read_allow_list(const std::string& cred_dir) {
  std::vector<EnrolledHost> out;
  auto text = read_file(cred_dir + "/allowed", 1 << 22);
  if (!text.ok()) {
    if (text.error().sys_errno == ENOENT) return out;
    return std::move(text).error();
  }
  std::istringstream in(*text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    EnrolledHost h;
    ls >> h.fingerprint >> h.host;
    if (h.fingerprint.size() != 64 || !validate_host_name(h.host).ok())
      return make_error(cred_dir + "/allowed line " + std::to_string(n) + ": expected \"SHA256HEX HOST\"");
    out.push_back(std::move(h));
  }
  return out;
}

Result<void> enroll_host(const std::string& cred_dir, const std::string& host, const std::string& address,
                         const std::string& bundle_out, const Log& log) {
  TRY(validate_host_name(host));
  TRY(make_dir_0700(cred_dir));
  // 1. The collector's own identity, made once.
  const std::string ckey = cred_dir + "/collector.key", ccert = cred_dir + "/collector.crt";
  if (::access(ckey.c_str(), F_OK) != 0) {
    ASSIGN_OR_RETURN(KeyAndCert c, make_key_and_cert("salvage-collector"));
    TRY(write_0600(ckey, c.key_pem));
    TRY(write_0600(ccert, c.cert_pem));
    log.info("created the collector's key, fingerprint %s", c.fingerprint.c_str());
  }
  ASSIGN_OR_RETURN(std::string cert_pem, read_file(ccert, 1 << 16));
  ASSIGN_OR_RETURN(Fingerprint collector_fp, fingerprint_of_pem(cert_pem));

  // 2. The host's key pair; re-enrolling a host replaces its old key.
  ASSIGN_OR_RETURN(KeyAndCert h, make_key_and_cert(host));
  ASSIGN_OR_RETURN(auto allowed, read_allow_list(cred_dir));
  std::string list = "# salvage collector allow list: SHA-256 of the certificate, host name\n";
  for (const auto& e : allowed)
    if (e.host != host) list += e.fingerprint + " " + e.host + "\n";
  list += h.fingerprint + " " + host + "\n";
  TRY(write_0600(cred_dir + "/allowed", list));

  // 3. The bundle the host carries.
  std::string bundle = "salvage-collector-bundle 1\nhost " + host + "\ncollector " + address +
                       "\ncollector-fingerprint " + collector_fp + "\n" + h.key_pem + h.cert_pem;
  TRY(write_0600(bundle_out, bundle));
  log.info("enrolled %s, fingerprint %s", host.c_str(), h.fingerprint.c_str());
  return Ok();
}

Result<Bundle> parse_bundle(const std::string& text) {
  Bundle b;
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != "salvage-collector-bundle 1") return make_error("not a salvage collector bundle (version 1)");
  size_t pem_at = std::string::npos;
  while (std::getline(in, line)) {
    if (line.rfind("-----BEGIN", 0) == 0) {
      pem_at = text.find(line);
      break;
    }
    auto sp = line.find(' ');
    std::string k = line.substr(0, sp), v = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (k == "host") b.host = v;
    else if (k == "collector") b.address = v;
    else if (k == "collector-fingerprint") b.collector_fingerprint = v;
    else return make_error("bundle: unknown line \"" + k + "\"");
  }
  if (pem_at == std::string::npos) return make_error("bundle: no key and certificate");
  TRY_CTX(validate_host_name(b.host), "bundle");
  if (b.collector_fingerprint.size() != 64) return make_error("bundle: collector-fingerprint is not a SHA-256");
  const std::string pem = text.substr(pem_at);
  const size_t cert_at = pem.find("-----BEGIN CERTIFICATE-----");
  if (cert_at == std::string::npos) return make_error("bundle: no certificate");
  b.key_pem = pem.substr(0, cert_at);
  b.cert_pem = pem.substr(cert_at);
  return b;
}

Result<Bundle> read_bundle(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, read_file(path, 1 << 16));
  auto b = parse_bundle(text);
  if (!b.ok()) return std::move(b).error().with_context(path);
  return b;
}

}  // namespace salvage
