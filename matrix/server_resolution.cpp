#include "matrix/server_resolution.hpp"

#include "matrix/identifiers.hpp"
#include "matrix/ip_range.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace axon::matrix {

std::optional<server_address> parse_server_address(std::string_view name) {
  if (!valid_server_name(name)) return std::nullopt;
  server_address out;
  size_t colon;
  if (name[0] == '[') {
    auto close = name.find(']');
    out.host = std::string(name.substr(0, close + 1));
    out.ip_literal = true;
    colon = close + 1 < name.size() ? close + 1 : std::string_view::npos;
  } else {
    colon = name.find(':');
    out.host = std::string(name.substr(0, colon));
    out.ip_literal = parse_ip(out.host).has_value(); // a dotted-quad IPv4 literal
  }
  if (colon != std::string_view::npos) {
    int port = 0;
    for (char c : name.substr(colon + 1)) port = port * 10 + (c - '0');
    if (port < 1 || port > 65535) return std::nullopt;
    out.port = port;
  }
  return out;
}

std::optional<std::string> parse_well_known_server(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto m = j.find("m.server");
  if (m == j.end() || !m->is_string()) return std::nullopt;
  auto s = m->get<std::string>();
  if (!parse_server_address(s)) return std::nullopt;
  return s;
}

std::vector<srv_record> order_srv(std::vector<srv_record> records,
                                  const std::function<uint64_t(uint64_t)>& uniform) {
  if (records.size() == 1 && (records[0].target == "." || records[0].target.empty())) return {};
  records.erase(std::remove_if(records.begin(), records.end(),
                               [](const srv_record& r) { return r.target.empty() || r.target == "."; }),
                records.end());
  std::stable_sort(records.begin(), records.end(),
                   [](const srv_record& a, const srv_record& b) { return a.priority < b.priority; });
  std::vector<srv_record> out;
  for (size_t i = 0; i < records.size();) {
    size_t j = i;
    while (j < records.size() && records[j].priority == records[i].priority) ++j;
    std::vector<srv_record> group(records.begin() + i, records.begin() + j);
    // RFC 2782: zero-weight records first in the running sum, so they are
    // picked only rarely when others have weight.
    std::stable_sort(group.begin(), group.end(),
                     [](const srv_record& a, const srv_record& b) { return a.weight == 0 && b.weight != 0; });
    while (!group.empty()) {
      uint64_t total = 0;
      for (auto& r : group) total += static_cast<uint64_t>(std::max(r.weight, 0));
      size_t pick = 0;
      if (total > 0) {
        uint64_t x = uniform(total + 1), sum = 0;
        for (pick = 0; pick < group.size(); ++pick) {
          sum += static_cast<uint64_t>(std::max(group[pick].weight, 0));
          if (sum >= x) break;
        }
        if (pick == group.size()) pick = group.size() - 1;
      }
      out.push_back(group[pick]);
      group.erase(group.begin() + static_cast<std::ptrdiff_t>(pick));
    }
    i = j;
  }
  return out;
}

namespace {

/// SRV targets for `host` (_matrix-fed._tcp, then _matrix._tcp), presented
/// as `host`; empty when neither has records.
std::vector<federation_target> by_srv(const std::string& host, const resolution_lookups& io) {
  std::vector<federation_target> out;
  for (const char* service : {"_matrix-fed._tcp.", "_matrix._tcp."}) {
    if (!io.srv) break;
    for (auto& r : io.srv(service + host)) out.push_back({r.target, r.port, host, host});
    if (!out.empty()) break;
  }
  return out;
}

} // namespace

std::vector<federation_target> resolve_server_name(const std::string& server_name,
                                                   const resolution_lookups& io) {
  auto name = parse_server_address(server_name);
  if (!name) return {};
  // 1. An IP literal: that address, the given port or 8448.
  // 2. A host name with an explicit port: that host and port.
  if (name->ip_literal || name->port)
    return {{name->host, name->port.value_or(8448), name->str(), name->host}};
  // 3. Delegation through /.well-known/matrix/server.
  if (io.well_known)
    if (auto delegated = io.well_known(name->host)) {
      auto d = parse_server_address(*delegated);
      if (d) {
        // 3.1, 3.2: an IP literal or an explicit port.
        if (d->ip_literal || d->port) return {{d->host, d->port.value_or(8448), d->str(), d->host}};
        // 3.3, 3.4: SRV of the delegated host; 3.5: the host on 8448.
        auto srv = by_srv(d->host, io);
        if (!srv.empty()) return srv;
        return {{d->host, 8448, d->host, d->host}};
      }
    }
  // 4, 5: SRV of the server name's host; 6: the host on 8448.
  auto srv = by_srv(name->host, io);
  if (!srv.empty()) return srv;
  return {{name->host, 8448, name->host, name->host}};
}

} // namespace axon::matrix
