// config/federation.cpp -- where outbound requests may go: ip_range_blocklist
// / ip_range_blacklist, ip_range_allowlist / ip_range_whitelist,
// federation_ip_range_blacklist (deprecated) and federation_domain_whitelist,
// as Synapse reads them; every range is checked here so a typo stops
// start-up naming the key.
#include "config/sections.hpp"

#include <algorithm>

#include "matrix/identifiers.hpp"
#include "matrix/ip_range.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

namespace axon::config::detail {

bool read_ranges(const merged_doc& doc, std::initializer_list<const char*> names,
                 std::vector<std::string>& out) {
  const char* given = nullptr;
  for (auto* n : names) {
    if (!doc.find(n)) continue;
    if (given) {
      doc.at(n).error(n, std::string("is the same setting as ") + given + ": give only one of them");
      return false;
    }
    given = n;
  }
  if (!given) return false;
  reader r = doc.at(given);
  auto node = doc.get(given);
  if (!present(node)) {
    out.clear();
    return true;
  }
  std::vector<std::string> ranges;
  if (!node.IsSequence()) {
    r.error(given, "must be a list of IP addresses or CIDR ranges");
    return false;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    std::string range;
    auto key = std::string(given) + "[" + std::to_string(i) + "]";
    if (!r.read(node[i], key, range)) continue;
    if (!matrix::parse_ip_network(range)) {
      r.error(key, "invalid IP range provided: '" + range + "'");
      continue;
    }
    ranges.push_back(std::move(range));
  }
  out = std::move(ranges);
  return true;
}

namespace {


/// True when `pem` holds at least one X.509 certificate that OpenSSL reads.
bool has_certificate(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) return false;
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  bool ok = cert != nullptr;
  X509_free(cert);
  BIO_free(bio);
  return ok;
}

void parse_federation_tls(const merged_doc& doc, homeserver_config& cfg) {
  doc.at("federation_verify_certificates")
    .read(doc.get("federation_verify_certificates"), "federation_verify_certificates",
          cfg.federation_verify_certificates);
  {
    const std::string key = "federation_client_minimum_tls_version";
    auto n = doc.get(key);
    if (present(n)) {
      // Synapse takes str() of the value: 1, 1.2 and "1.2" alike.
      std::string v = n.IsScalar() ? n.Scalar() : "";
      if (v != "1" && v != "1.1" && v != "1.2" && v != "1.3")
        doc.at(key).error(key, "must be one of: 1, 1.1, 1.2, 1.3");
      else
        cfg.federation_client_minimum_tls_version = v;
    }
  }
  {
    const std::string key = "federation_certificate_verification_whitelist";
    auto n = doc.get(key);
    reader r = doc.at(key);
    if (present(n)) {
      if (!n.IsSequence()) r.error(key, "must be a list of server names (globs allowed)");
      else
        for (size_t i = 0; i < n.size(); ++i) {
          std::string entry;
          auto k = key + "[" + std::to_string(i) + "]";
          if (!r.read(n[i], k, entry)) continue;
          bool ascii = std::all_of(entry.begin(), entry.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
          if (!ascii || entry.empty()) {
            r.error(k, "IDNA domain names are not allowed: '" + entry + "' (use its ASCII form)");
            continue;
          }
          cfg.federation_certificate_verification_whitelist.push_back(std::move(entry));
        }
    }
  }
  {
    const std::string key = "federation_custom_ca_list";
    auto n = doc.get(key);
    reader r = doc.at(key);
    if (present(n)) {
      if (!n.IsSequence()) {
        r.error(key, "must be a list of PEM files");
        return;
      }
      if (n.size() == 0) {
        r.error(key, "specified without any certificate files");
        return;
      }
      std::vector<std::string> files;
      for (size_t i = 0; i < n.size(); ++i) {
        auto k = key + "[" + std::to_string(i) + "]";
        std::string path, pem;
        if (!r.read(n[i], k, path)) continue;
        if (!r.read_file_contents(n[i], k, pem)) continue;
        if (!has_certificate(pem)) {
          r.error(k, "error parsing custom CA certificate file " + path + ": no PEM certificate in it");
          continue;
        }
        files.push_back(path);
      }
      cfg.federation_custom_ca_list = std::move(files);
    }
  }
}

} // namespace

void parse_federation(const merged_doc& doc, homeserver_config& cfg) {
  parse_federation_tls(doc, cfg);
  {
    bool allow = false;
    doc.at("allow_public_rooms_over_federation")
      .read(doc.get("allow_public_rooms_over_federation"), "allow_public_rooms_over_federation", allow);
    cfg.allow_public_rooms_over_federation = allow;
  }
  cfg.ip_range_blocklist_set = read_ranges(doc, {"ip_range_blocklist", "ip_range_blacklist"}, cfg.ip_range_blocklist);
  if (!cfg.ip_range_blocklist_set) cfg.ip_range_blocklist = matrix::default_ip_range_blocklist();
  read_ranges(doc, {"ip_range_allowlist", "ip_range_whitelist"}, cfg.ip_range_allowlist);
  std::vector<std::string> fed;
  if (read_ranges(doc, {"federation_ip_range_blacklist"}, fed)) cfg.federation_ip_range_blocklist = fed;

  const std::string key = "federation_domain_whitelist";
  if (doc.has(key)) {
    reader r = doc.at(key);
    auto node = doc.get(key);
    if (!node.IsSequence()) {
      r.error(key, "must be a list of server names");
      return;
    }
    std::vector<std::string> names;
    for (size_t i = 0; i < node.size(); ++i) {
      std::string name;
      auto k = key + "[" + std::to_string(i) + "]";
      if (!r.read(node[i], k, name)) continue;
      if (!matrix::valid_server_name(name)) {
        r.error(k, "'" + name + "' is not a server name");
        continue;
      }
      names.push_back(std::move(name));
    }
    cfg.federation_domain_whitelist = std::move(names);
  }
}

} // namespace axon::config::detail
