// config/server.cpp -- server, registration, media, presence and rate-limit keys.
#include <arpa/inet.h>
#include <fstream>

#include "config/sections.hpp"

#include <regex>
#include <set>
#include "matrix/room_version.hpp"

#include <nlohmann/json.hpp>

namespace axon::config::detail {

namespace {

/// A YAML value as JSON: maps, lists, and plain scalars read as YAML 1.2's
/// core schema does (null, true/false, integers, floats; the rest and every
/// quoted scalar a string).
nlohmann::json yaml_to_json(const YAML::Node& n) {
  if (n.IsMap()) {
    auto out = nlohmann::json::object();
    for (auto it = n.begin(); it != n.end(); ++it) out[it->first.as<std::string>()] = yaml_to_json(it->second);
    return out;
  }
  if (n.IsSequence()) {
    auto out = nlohmann::json::array();
    for (auto it = n.begin(); it != n.end(); ++it) out.push_back(yaml_to_json(*it));
    return out;
  }
  if (!n.IsScalar()) return nullptr;
  const auto& v = n.Scalar();
  if (n.Tag() == "!") return v; // quoted
  if (v == "~" || v == "null" || v == "Null" || v == "NULL") return nullptr;
  if (v == "true" || v == "True" || v == "TRUE") return true;
  if (v == "false" || v == "False" || v == "FALSE") return false;
  try {
    size_t used = 0;
    auto i = std::stoll(v, &used);
    if (used == v.size()) return i;
    auto d = std::stod(v, &used);
    if (used == v.size()) return d;
  } catch (const std::exception&) {
  }
  return v;
}

bool valid_dns_name(std::string_view host) {
  // Synapse's VALID_HOST_REGEX: labels of [0-9A-Za-z-] joined by single dots.
  if (host.empty() || host.size() > 255)
    return false;
  bool label_empty = true;
  for (char c : host) {
    if (c == '.') {
      if (label_empty)
        return false;
      label_empty = true;
    } else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '-') {
      label_empty = false;
    } else {
      return false;
    }
  }
  return !label_empty;
}

/// Why `name` is not a valid server name (spec: appendices, "Server Name";
/// Synapse's parse_and_validate_server_name), or "" when it is.
std::string server_name_problem(const std::string& name) {
  std::string host = name;
  if (!name.empty() && name.back() != ']') {
    const auto colon = name.rfind(':');
    if (colon != std::string::npos && name.find('[') == std::string::npos &&
        name.find(':') != colon)
      return "has more than one ':' (an IPv6 address must be in [brackets])";
    if (colon != std::string::npos) {
      host = name.substr(0, colon);
      const std::string port = name.substr(colon + 1);
      if (port.empty() || port.size() > 5 ||
          port.find_first_not_of("0123456789") != std::string::npos || std::stol(port) < 1 ||
          std::stol(port) > 65535)
        return "has an invalid port '" + port + "'";
    }
  }
  if (host.empty())
    return "is empty";
  if (host.front() == '[') {
    if (host.back() != ']')
      return "has mismatched [...]";
    const std::string addr = host.substr(1, host.size() - 2);
    unsigned char buf[16];
    if (addr.empty() || inet_pton(AF_INET6, addr.c_str(), buf) != 1)
      return "is not a valid IPv6 address";
    return {};
  }
  if (!valid_dns_name(host))
    return "has an invalid host name (letters, digits, '-' and '.' only)";
  return {};
}

/// Reads `per_second` and `burst_count` from the map at `path` under `n`.
void read_rate_limit_at(reader& r, const YAML::Node& n, const std::string& key,
                        const std::vector<std::string>& path, size_t depth, rate_limit& out) {
  if (!r.expect_map(n, key))
    return;
  if (depth < path.size()) {
    read_rate_limit_at(r, n[path[depth]], key + "." + path[depth], path, depth + 1, out);
    return;
  }
  double per_second = out.per_second;
  double burst = out.burst_count;
  if (r.read(n["per_second"], key + ".per_second", per_second)) {
    if (per_second < 0)
      r.error(key + ".per_second", "must not be negative" + line_of(n["per_second"]));
    else
      out.per_second = per_second;
  }
  // Synapse takes int(burst_count), so 3.0 is fine.
  if (r.read(n["burst_count"], key + ".burst_count", burst)) {
    if (burst < 0 || burst > 1e9)
      r.error(key + ".burst_count",
              "must be between 0 and 1000000000" + line_of(n["burst_count"]));
    else
      out.burst_count = static_cast<int>(burst);
  }
}

void read_rate_limit(const merged_doc& doc, const std::string& top,
                     const std::vector<std::string>& path, rate_limit& out) {
  reader r = doc.at(top);
  read_rate_limit_at(r, doc.get(top), top, path, 0, out);
}

/// The media repository's keys (Synapse's config/repository.py).
void read_media(const merged_doc& doc, media_config& m) {
  if (doc.has("thumbnail_sizes")) {
    const std::string key = "thumbnail_sizes";
    reader r = doc.at(key);
    auto n = doc.get(key);
    if (r.expect_sequence(n, key)) {
      std::vector<thumbnail_spec> sizes;
      for (size_t i = 0; i < n.size(); ++i) {
        auto k = key + "[" + std::to_string(i) + "]";
        if (!r.expect_map(n[i], k)) continue;
        thumbnail_spec t;
        t.method = "scale";
        if (!r.read(n[i]["width"], k + ".width", t.width, 1, 10000) ||
            !r.read(n[i]["height"], k + ".height", t.height, 1, 10000)) {
          r.error(k, "needs a width and a height between 1 and 10000" + line_of(n[i]));
          continue;
        }
        r.read(n[i]["method"], k + ".method", t.method);
        if (t.method != "crop" && t.method != "scale") {
          r.error(k + ".method", "must be crop or scale" + line_of(n[i]["method"]));
          continue;
        }
        sizes.push_back(t);
      }
      m.thumbnail_sizes = std::move(sizes);
    }
  }
  doc.at("dynamic_thumbnails").read(doc.get("dynamic_thumbnails"), "dynamic_thumbnails", m.dynamic_thumbnails);
  doc.at("enable_authenticated_media")
    .read(doc.get("enable_authenticated_media"), "enable_authenticated_media", m.enable_authenticated_media);
  for (auto [key, field] : {std::pair{"max_image_pixels", &m.max_image_pixels},
                            {"remote_media_download_burst_count", &m.remote_media_download_burst_count},
                            {"remote_media_download_per_second", &m.remote_media_download_per_second}}) {
    reader r = doc.at(key);
    if (r.read_size(doc.get(key), key, *field) && *field <= 0) r.error(key, "must be larger than 0");
  }
  {
    reader r = doc.at("max_pending_media_uploads");
    if (r.read(doc.get("max_pending_media_uploads"), "max_pending_media_uploads", m.max_pending_media_uploads) &&
        m.max_pending_media_uploads < 0)
      r.error("max_pending_media_uploads", "must not be negative");
  }
  {
    reader r = doc.at("unused_expiration_time");
    if (r.read_duration(doc.get("unused_expiration_time"), "unused_expiration_time", m.unused_expiration_time_ms) &&
        m.unused_expiration_time_ms <= 0)
      r.error("unused_expiration_time", "must be larger than 0");
  }
  doc.at("prevent_media_downloads_from")
    .read_list(doc.get("prevent_media_downloads_from"), "prevent_media_downloads_from",
               m.prevent_media_downloads_from);
  if (doc.has("media_retention")) {
    const std::string key = "media_retention";
    reader r = doc.at(key);
    auto n = doc.get(key);
    if (!n.IsNull() && r.expect_map(n, key)) {
      for (auto [name, field] : {std::pair{"local_media_lifetime", &m.retention_local_ms},
                                 {"remote_media_lifetime", &m.retention_remote_ms}}) {
        if (!n[name] || n[name].IsNull()) continue;
        int64_t ms = 0;
        auto k = key + "." + name;
        if (r.read_duration(n[name], k, ms)) {
          if (ms <= 0) r.error(k, "must be larger than 0");
          else *field = ms;
        }
      }
    }
  }
  doc.at("url_preview_enabled").read(doc.get("url_preview_enabled"), "url_preview_enabled", m.url_preview_enabled);
  {
    bool given = read_ranges(doc, {"url_preview_ip_range_blocklist", "url_preview_ip_range_blacklist"},
                             m.url_preview_ip_range_blocklist);
    if (m.url_preview_enabled && !given)
      doc.at("url_preview_ip_range_blacklist")
        .error("url_preview_ip_range_blacklist",
               "is required when url_preview_enabled is true: for security, list the addresses previews must "
               "never fetch (private ranges at least)");
    m.url_preview_ip_range_blocklist.push_back("0.0.0.0");
    m.url_preview_ip_range_blocklist.push_back("::");
    read_ranges(doc, {"url_preview_ip_range_allowlist", "url_preview_ip_range_whitelist"},
                m.url_preview_ip_range_allowlist);
  }
  for (const char* key : {"url_preview_url_blocklist", "url_preview_url_blacklist"}) {
    if (!doc.has(key)) continue;
    reader r = doc.at(key);
    auto n = doc.get(key);
    if (!r.expect_sequence(n, key)) continue;
    static const std::set<std::string> parts{"scheme", "netloc", "hostname", "port", "path",
                                             "query", "fragment", "username", "password"};
    for (size_t i = 0; i < n.size(); ++i) {
      auto k = std::string(key) + "[" + std::to_string(i) + "]";
      if (!r.expect_map(n[i], k)) continue;
      std::vector<std::pair<std::string, std::string>> entry;
      for (auto it = n[i].begin(); it != n[i].end(); ++it) {
        auto part = it->first.as<std::string>("");
        std::string pattern;
        if (!parts.count(part)) {
          r.error(k, "'" + part + "' is not a part of a URL (scheme, netloc, hostname, port, path, query, "
                     "fragment, username, password)");
          continue;
        }
        if (!r.read(it->second, k + "." + part, pattern)) continue;
        if (!pattern.empty() && pattern[0] == '^') {
          try {
            std::regex check(pattern);
          } catch (const std::regex_error&) {
            r.error(k + "." + part, "is not a valid regular expression: '" + pattern + "'");
            continue;
          }
        }
        entry.emplace_back(part, pattern);
      }
      m.url_preview_url_blocklist.push_back(std::move(entry));
    }
  }
  {
    reader r = doc.at("max_spider_size");
    if (r.read_size(doc.get("max_spider_size"), "max_spider_size", m.max_spider_size) && m.max_spider_size <= 0)
      r.error("max_spider_size", "must be larger than 0");
  }
  if (doc.has("url_preview_accept_language"))
    doc.at("url_preview_accept_language")
      .read_list(doc.get("url_preview_accept_language"), "url_preview_accept_language", m.url_preview_accept_language);
  if (doc.has("media_upload_limits")) {
    const std::string key = "media_upload_limits";
    reader r = doc.at(key);
    auto n = doc.get(key);
    if (r.expect_sequence(n, key)) {
      for (size_t i = 0; i < n.size(); ++i) {
        auto k = key + "[" + std::to_string(i) + "]";
        if (!r.expect_map(n[i], k)) continue;
        media_upload_limit l;
        if (!r.read_duration(n[i]["time_period"], k + ".time_period", l.time_period_ms) ||
            !r.read_size(n[i]["max_size"], k + ".max_size", l.max_size) || l.time_period_ms <= 0 ||
            l.max_size < 0) {
          r.error(k, "needs a time_period (a duration) and a max_size (a size)" + line_of(n[i]));
          continue;
        }
        m.upload_limits.push_back(l);
      }
    }
  }
}

} // namespace
void parse_server(const merged_doc& doc, homeserver_config& cfg) {
  {
    reader r = doc.at("server_name");
    if (!doc.has("server_name"))
      r.error("server_name", "is required (the domain in user ids, e.g. example.com)");
    else if (r.read(doc.get("server_name"), "server_name", cfg.server_name)) {
      const auto why = server_name_problem(cfg.server_name);
      if (!why.empty())
        r.error("server_name", "'" + cfg.server_name + "' " + why);
    }
  }
  {
    reader r = doc.at("public_baseurl");
    if (r.read(doc.get("public_baseurl"), "public_baseurl", cfg.public_baseurl)) {
      const auto scheme_end = cfg.public_baseurl.find("://");
      const std::string scheme = scheme_end == std::string::npos
                                     ? std::string()
                                     : cfg.public_baseurl.substr(0, scheme_end);
      if ((scheme != "http" && scheme != "https") ||
          cfg.public_baseurl.size() <= scheme_end + 3)
        r.error("public_baseurl", "must be an http:// or https:// URL, got '" +
                                      cfg.public_baseurl + "'");
      if (!cfg.public_baseurl.empty() && cfg.public_baseurl.back() != '/')
        cfg.public_baseurl += '/';
    }
    cfg.serve_client_wellknown = !cfg.public_baseurl.empty();
    if (cfg.public_baseurl.empty() && !cfg.server_name.empty())
      cfg.public_baseurl = "https://" + cfg.server_name + "/";
  }
  doc.at("serve_server_wellknown")
    .read(doc.get("serve_server_wellknown"), "serve_server_wellknown", cfg.serve_server_wellknown);
  if (doc.has("extra_well_known_client_content")) {
    const std::string key = "extra_well_known_client_content";
    reader r = doc.at(key);
    auto n = doc.get(key);
    if (r.expect_map(n, key)) {
      auto j = yaml_to_json(n);
      if (j.contains("m.homeserver"))
        r.error(key, "m.homeserver is not supported here, use public_baseurl instead");
      else if (j.contains("m.identity_server"))
        r.error(key, "m.identity_server is not supported here, use default_identity_server instead");
      else
        cfg.extra_well_known_client_content = j.dump();
    }
  }
  for (auto [key, field] : {std::pair{"pid_file", &cfg.pid_file},
                            {"log_config", &cfg.log_config},
                            {"media_store_path", &cfg.media_store_path},
                            {"tls_certificate_path", &cfg.tls_certificate_path},
                            {"tls_private_key_path", &cfg.tls_private_key_path},
                            {"signing_key_path", &cfg.signing_key_path}})
    doc.at(key).read(doc.get(key), key, *field);
  if (cfg.signing_key_path.empty() && !cfg.server_name.empty())
    cfg.signing_key_path = (cfg.config_dir.empty() ? std::string() : cfg.config_dir + "/") +
                           cfg.server_name + ".signing.key";

  for (auto [key, field] :
       {std::pair{"report_stats", &cfg.report_stats},
        {"enable_registration", &cfg.enable_registration},
        {"enable_registration_without_verification",
         &cfg.enable_registration_without_verification},
        {"allow_guest_access", &cfg.allow_guest_access},
        {"enable_media_repo", &cfg.enable_media_repo}})
    doc.at(key).read(doc.get(key), key, *field);
  bool disable_registration = false;
  if (doc.at("disable_registration")
          .read(doc.get("disable_registration"), "disable_registration", disable_registration))
    cfg.enable_registration = !disable_registration;
  if (cfg.enable_registration && !cfg.enable_registration_without_verification)
    doc.at("enable_registration")
        .error("enable_registration",
               "open registration without verification: Axon supports none of captcha, "
               "email or token verification, so also set "
               "enable_registration_without_verification: true to allow it");

  {
    reader r = doc.at("registration_shared_secret");
    r.read(doc.get("registration_shared_secret"), "registration_shared_secret",
           cfg.registration_shared_secret);
    if (doc.has("registration_shared_secret_path")) {
      reader rp = doc.at("registration_shared_secret_path");
      if (!cfg.registration_shared_secret.empty())
        rp.error("registration_shared_secret_path",
                 "cannot be used together with registration_shared_secret");
      else
        rp.read_file_contents(doc.get("registration_shared_secret_path"),
                              "registration_shared_secret_path",
                              cfg.registration_shared_secret);
    }
  }
  {
    reader r = doc.at("default_room_version");
    if (r.read(doc.get("default_room_version"), "default_room_version",
               cfg.default_room_version) &&
        !matrix::find_room_version(cfg.default_room_version)) {
      std::string known;
      for (auto* v = matrix::supported_room_versions(); *v; ++v)
        known += std::string(known.empty() ? "" : ", ") + "\"" + *v + "\"";
      r.error("default_room_version", "room version \"" + cfg.default_room_version +
                                          "\" is not supported; supported: " + known);
    }
  }
  {
    reader r = doc.at("max_upload_size");
    if (r.read_size(doc.get("max_upload_size"), "max_upload_size", cfg.max_upload_size) &&
        cfg.max_upload_size <= 0)
      r.error("max_upload_size", "must be larger than 0");
  }
  read_media(doc, cfg.media);
  {
    // `presence.enabled` (true, false or "untracked"); legacy `use_presence`.
    reader r = doc.at("presence");
    const YAML::Node p = doc.get("presence");
    if (r.expect_map(p, "presence") && present(p["enabled"])) {
      if (p["enabled"].IsScalar() && p["enabled"].Scalar() == "untracked")
        cfg.presence_enabled = true;
      else
        r.read(p["enabled"], "presence.enabled", cfg.presence_enabled);
    } else {
      doc.at("use_presence").read(doc.get("use_presence"), "use_presence", cfg.presence_enabled);
    }
  }
  {
    // `user_directory` (Synapse's config/user_directory.py).
    reader r = doc.at("user_directory");
    const YAML::Node u = doc.get("user_directory");
    if (present(u) && r.expect_map(u, "user_directory")) {
      auto& d = cfg.user_directory;
      r.read(u["enabled"], "user_directory.enabled", d.enabled);
      r.read(u["search_all_users"], "user_directory.search_all_users", d.search_all_users);
      r.read(u["prefer_local_users"], "user_directory.prefer_local_users", d.prefer_local_users);
    }
  }
  {
    // `http` (Axon's listener limits).
    reader r = doc.at("http");
    const YAML::Node h = doc.get("http");
    if (present(h) && r.expect_map(h, "http")) {
      auto& c = cfg.http;
      r.read(h["request_threads"], "http.request_threads", c.request_threads, 1, 4096);
      r.read(h["max_connections"], "http.max_connections", c.max_connections, 1, 10000000);
      r.read(h["max_header_size"], "http.max_header_size", c.max_header_size, 1024, 16 * 1024 * 1024);
      r.read(h["keep_alive_timeout_ms"], "http.keep_alive_timeout_ms", c.keep_alive_timeout_ms, 1, 86400000);
      r.read(h["header_timeout_ms"], "http.header_timeout_ms", c.header_timeout_ms, 1, 86400000);
      r.read(h["body_timeout_ms"], "http.body_timeout_ms", c.body_timeout_ms, 1, 86400000);
    }
  }
  {
    // `http_client` (Axon's outbound HTTP client).
    reader r = doc.at("http_client");
    const YAML::Node h = doc.get("http_client");
    if (present(h) && r.expect_map(h, "http_client")) {
      auto& c = cfg.http_client;
      r.read(h["connect_timeout_ms"], "http_client.connect_timeout_ms", c.connect_timeout_ms, 1, 86400000);
      r.read(h["request_timeout_ms"], "http_client.request_timeout_ms", c.request_timeout_ms, 1, 86400000);
      r.read(h["max_connections_per_destination"], "http_client.max_connections_per_destination",
             c.max_connections_per_destination, 1, 100000);
      r.read(h["max_connections"], "http_client.max_connections", c.max_connections, 1, 1000000);
      r.read(h["idle_timeout_ms"], "http_client.idle_timeout_ms", c.idle_timeout_ms, 1, 86400000);
      if (r.read_size(h["max_response_size"], "http_client.max_response_size", c.max_response_size) &&
          c.max_response_size <= 0)
        r.error("http_client.max_response_size", "must be larger than 0");
      if (r.read_list(h["ca_files"], "http_client.ca_files", c.ca_files))
        for (auto& f : c.ca_files)
          if (!std::ifstream(f)) r.error("http_client.ca_files", "cannot read " + f);
    }
  }
}
void parse_rate_limits(const merged_doc& doc, rc_config& rc) {
  if (doc.has("rc_message")) {
    read_rate_limit(doc, "rc_message", {}, rc.message);
  } else {
    // Synapse's legacy spelling.
    reader r = doc.at("rc_messages_per_second");
    double per_second = rc.message.per_second;
    if (r.read(doc.get("rc_messages_per_second"), "rc_messages_per_second", per_second)) {
      if (per_second < 0)
        r.error("rc_messages_per_second", "must not be negative");
      else
        rc.message.per_second = per_second;
    }
    doc.at("rc_message_burst_count")
        .read(doc.get("rc_message_burst_count"), "rc_message_burst_count",
              rc.message.burst_count, 0, 1000000000);
  }
  read_rate_limit(doc, "rc_registration", {}, rc.registration);
  read_rate_limit(doc, "rc_login", {"address"}, rc.login_address);
  read_rate_limit(doc, "rc_login", {"account"}, rc.login_account);
  read_rate_limit(doc, "rc_login", {"failed_attempts"}, rc.login_failed_attempts);
  read_rate_limit(doc, "rc_joins", {"local"}, rc.joins_local);
  read_rate_limit(doc, "rc_joins", {"remote"}, rc.joins_remote);
  read_rate_limit(doc, "rc_invites", {"per_room"}, rc.invites_per_room);
  read_rate_limit(doc, "rc_invites", {"per_user"}, rc.invites_per_user);
  if (doc.has("rc_federation")) {
    reader r = doc.at("rc_federation");
    auto n = doc.get("rc_federation");
    if (r.expect_map(n, "rc_federation")) {
      auto& f = rc.federation;
      r.read(n["window_size"], "rc_federation.window_size", f.window_size_ms, 1, 3600000);
      r.read(n["sleep_limit"], "rc_federation.sleep_limit", f.sleep_limit, 0, 1000000000);
      r.read(n["sleep_delay"], "rc_federation.sleep_delay", f.sleep_delay_ms, 0, 3600000);
      r.read(n["reject_limit"], "rc_federation.reject_limit", f.reject_limit, 0, 1000000000);
      r.read(n["concurrent"], "rc_federation.concurrent", f.concurrent, 1, 1000000000);
    }
  }
}

} // namespace axon::config::detail
