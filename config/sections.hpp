// config/sections.hpp -- internal: the merged top-level document and the
// parsers of each group of keys. Not for use outside config/.
#pragma once

#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/homeserver_config.hpp"
#include "config/reader.hpp"

namespace axon::config::detail {

/// A top-level key's value and the file it came from (the last file that set it).
struct top_entry {
  YAML::Node node;
  std::string file;
};

/// All files merged as Synapse merges them: later files replace whole top-level keys.
class merged_doc {
public:
  merged_doc(diagnostics& diag, std::string first_file)
    : diag_(&diag), first_file_(std::move(first_file)) {}

  /// Records `key` from `file`, replacing an earlier file's value.
  void set(const std::string& key, YAML::Node node, const std::string& file);
  /// The entry, or nullptr when the key is absent.
  const top_entry* find(const std::string& key) const;
  /// The value, or an undefined node when absent (safe to read from).
  YAML::Node get(const std::string& key) const;
  /// True when the key is set to something other than null.
  bool has(const std::string& key) const { return present(get(key)); }
  /// A reader for the file `key` came from (the first file when absent).
  reader at(const std::string& key) const;
  const std::map<std::string, top_entry>& entries() const { return entries_; }
  diagnostics& diag() const { return *diag_; }

private:
  diagnostics* diag_;
  std::string first_file_;
  std::map<std::string, top_entry> entries_;
};

/// server_name, public_baseurl, paths, registration, media, presence, room versions.
void parse_server(const merged_doc& doc, homeserver_config& cfg);
/// old_signing_keys, key_refresh_interval, trusted_key_servers, suppress_key_server_warning.
void parse_keys(const merged_doc& doc, homeserver_config& cfg);
/// ip_range_blocklist/allowlist (and Synapse 1.67's *_blacklist/*_whitelist),
/// federation_ip_range_blacklist, federation_domain_whitelist.
void parse_federation(const merged_doc& doc, homeserver_config& cfg);
/// Reads a list of CIDR ranges under whichever of `names` is given (an
/// error when more than one is: they are the same setting). Whether one was.
bool read_ranges(const merged_doc& doc, std::initializer_list<const char*> names, std::vector<std::string>& out);
/// `database` (and legacy `database_path`).
void parse_database(const merged_doc& doc, database_config& db);
/// `rc_*` rate limits.
void parse_rate_limits(const merged_doc& doc, rc_config& rc);
/// `redis`.
void parse_redis(const merged_doc& doc, redis_config& redis);
/// A `listeners` / `worker_listeners` list; `key` names it in errors.
/// tls_ready says whether tls_certificate_path and tls_private_key_path are set.
void parse_listeners(reader& r, const YAML::Node& list, const std::string& key,
                     bool tls_ready, std::vector<listener_config>& out);
/// worker_* keys, instance_map, stream_writers and the other placement keys,
/// with Synapse's cross-checks (synapse/config/workers.py). Runs after the others.
void parse_workers(const merged_doc& doc, homeserver_config& cfg);
/// The duty keys (placement.cpp); needs worker identity and instance_map parsed.
void parse_placement(const merged_doc& doc, homeserver_config& cfg);
/// Reads a list of instance names (a string is a list of one): "master"
/// becomes "main"; empty names and repeats are errors. False on error.
bool read_instances(reader& r, const YAML::Node& n, const std::string& key,
                    std::vector<std::string>& out);

/// True for top-level keys Axon reads.
bool is_implemented_key(std::string_view key);
/// True for Synapse keys that Axon accepts and ignores.
bool is_ignored_synapse_key(std::string_view key);
/// For ignored keys whose absence of effect changes who may do what (e.g.
/// registration_requires_token), the reason to warn when they are set; else "".
std::string_view ignored_key_risk(std::string_view key);

} // namespace axon::config::detail
