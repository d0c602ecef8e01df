// config/federation.cpp -- where outbound requests may go: ip_range_blocklist
// / ip_range_blacklist, ip_range_allowlist / ip_range_whitelist,
// federation_ip_range_blacklist (deprecated) and federation_domain_whitelist,
// as Synapse reads them; every range is checked here so a typo stops
// start-up naming the key.
#include "config/sections.hpp"

#include "matrix/identifiers.hpp"
#include "matrix/ip_range.hpp"

namespace axon::config::detail {

namespace {

/// Reads a list of CIDR ranges under whichever of `names` is given (an
/// error when more than one is: they are the same setting).
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

} // namespace

void parse_federation(const merged_doc& doc, homeserver_config& cfg) {
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
