// config/listeners.cpp -- `listeners` and `worker_listeners` entries
// (Synapse: synapse/config/server.py, parse_listener_def).
#include <algorithm>

#include "config/sections.hpp"

namespace axon::config {

bool listener_config::has_resource(std::string_view name) const {
  for (const auto& res : resources)
    for (const auto& n : res.names)
      if (n == name)
        return true;
  return false;
}

namespace detail {

namespace {

// Synapse's KNOWN_RESOURCES.
const std::vector<std::string> known_resources = {
    "client", "consent", "federation", "health", "keys",
    "media",  "metrics", "openid",     "replication", "static"};

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v)
    s += (s.empty() ? "" : ", ") + x;
  return s;
}

void parse_resources(reader& r, const YAML::Node& list, const std::string& key,
                     listener_config& l) {
  if (!r.expect_sequence(list, key))
    return;
  for (size_t j = 0; j < list.size(); ++j) {
    const YAML::Node item = list[j];
    const std::string key_j = key + "[" + std::to_string(j) + "]";
    if (!present(item) || !item.IsMap()) {
      r.error(key_j, "expected a mapping with `names`" + line_of(item));
      continue;
    }
    listener_resource res;
    r.read_list(item["names"], key_j + ".names", res.names);
    for (const auto& name : res.names)
      if (std::find(known_resources.begin(), known_resources.end(), name) ==
          known_resources.end())
        r.error(key_j + ".names", "unknown resource '" + name + "' (known: " +
                                      joined(known_resources) + ")" + line_of(item["names"]));
    r.read(item["compress"], key_j + ".compress", res.compress);
    l.resources.push_back(std::move(res));
  }
}

std::optional<listener_config> parse_one(reader& r, const YAML::Node& item,
                                         const std::string& key, bool tls_ready) {
  if (!present(item) || !item.IsMap()) {
    r.error(key, "expected a mapping" + line_of(item));
    return std::nullopt;
  }
  listener_config l;
  r.read(item["type"], key + ".type", l.type);
  if (l.type == "replication") {
    r.error(key + ".type", "direct TCP replication is gone (as in Synapse); use an http "
                           "listener with the `replication` resource");
    return std::nullopt;
  }
  if (l.type == "metrics" || l.type == "manhole") {
    r.warn(key + " in " + r.file() + ": listener type '" + l.type +
           "' is not supported by Axon; the listener is ignored");
  } else if (l.type != "http") {
    r.error(key + ".type", "unknown listener type '" + l.type +
                               "' (expected http, metrics or manhole)" + line_of(item["type"]));
    return std::nullopt;
  }

  const bool has_port = present(item["port"]);
  r.read(item["port"], key + ".port", l.port, 1, 65535);
  r.read(item["path"], key + ".path", l.path);
  if (has_port && !l.path.empty())
    r.error(key, "has both `port` and `path`; a listener is either TCP or a unix socket");
  else if (!has_port && l.path.empty())
    r.error(key, "needs a `port` (or a unix socket `path`)" + line_of(item));

  if (r.expect_sequence(item["bind_addresses"], key + ".bind_addresses"))
    r.read_list(item["bind_addresses"], key + ".bind_addresses", l.bind_addresses);
  std::string bind_address;
  if (r.read(item["bind_address"], key + ".bind_address", bind_address) && !bind_address.empty())
    l.bind_addresses.push_back(bind_address);
  if (l.bind_addresses.empty()) {
    if (l.type == "metrics")
      l.bind_addresses = {"0.0.0.0"}; // Synapse: the metrics listener has no IPv6
    else
      l.bind_addresses = {"::", "0.0.0.0"};
  }

  r.read(item["tls"], key + ".tls", l.tls);
  if (l.tls && l.path.empty() && !tls_ready)
    r.error(key + ".tls",
            "a TLS listener needs tls_certificate_path and tls_private_key_path");
  // Behind a unix socket the proxy's header is the only client address there is.
  l.x_forwarded = !l.path.empty();
  r.read(item["x_forwarded"], key + ".x_forwarded", l.x_forwarded);
  r.read(item["mode"], key + ".mode", l.mode, 0, 07777);
  if (l.type == "http")
    parse_resources(r, item["resources"], key + ".resources", l);
  return l;
}

bool share_an_address(const listener_config& a, const listener_config& b) {
  for (const auto& x : a.bind_addresses)
    if (std::find(b.bind_addresses.begin(), b.bind_addresses.end(), x) != b.bind_addresses.end())
      return true;
  return false;
}

} // namespace

void parse_listeners(reader& r, const YAML::Node& list, const std::string& key,
                     bool tls_ready, std::vector<listener_config>& out) {
  std::vector<size_t> index; // position in `list` of each entry of `out`
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string key_i = key + "[" + std::to_string(i) + "]";
    auto l = parse_one(r, list[i], key_i, tls_ready);
    if (!l)
      continue;
    for (size_t j = 0; j < out.size(); ++j)
      if (l->port != 0 && l->port == out[j].port && share_an_address(*l, out[j]))
        r.error(key_i + ".port", "port " + std::to_string(l->port) + " is also used by " +
                                     key + "[" + std::to_string(index[j]) + "]");
    out.push_back(std::move(*l));
    index.push_back(i);
  }
}

} // namespace detail
} // namespace axon::config
