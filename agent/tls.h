// SPDX-License-Identifier: GPL-2.0-or-later
// TLS 1.3 contexts for the network dump, both ends (agent/tls.cc). Trust
// is by certificate fingerprint only: the collector allows the SHA-256
// fingerprints it enrolled, a host pins its collector's fingerprint. No CA
// chain and no dates (a capture kernel's clock is wrong).
#pragma once

#include <openssl/x509.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <set>
#include <string>

#include "agent/collector.h"
#include "agent/log.h"
#include "formats/result.h"

namespace salvage {

// SHA-256 of the certificate's DER encoding, lowercase hex.
Result<Fingerprint> cert_fingerprint(X509* cert);

// Server side: the collector's key and certificate from cred_dir; a client
// is accepted only if its certificate's fingerprint is in `allowed`.
Result<std::unique_ptr<boost::asio::ssl::context>> make_server_tls(const std::string& cred_dir,
                                                                    std::set<Fingerprint> allowed);
// Client side: the host's key and certificate from the bundle; the server
// must present the pinned fingerprint.
Result<std::unique_ptr<boost::asio::ssl::context>> make_client_tls(const Bundle& b);

// Makes sure OpenSSL's random generator can be seeded without hanging the
// capture: see the comment in tls.cc. Logs when the kernel pool is not
// ready yet.
Result<void> ensure_entropy(const Log& log);

}  // namespace salvage
