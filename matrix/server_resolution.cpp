#include "matrix/server_resolution.hpp"

#include "matrix/identifiers.hpp"
#include "matrix/ip_range.hpp"

#include <Poco/DateTime.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Timestamp.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

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

std::optional<int64_t> well_known_cache_period(const std::string& cache_control, const std::string& expires,
                                               int64_t now_ms) {
  auto trim = [](std::string s) {
    auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  std::optional<std::string> max_age;
  bool no_store = false;
  size_t start = 0;
  while (start <= cache_control.size()) {
    auto end = cache_control.find(',', start);
    if (end == std::string::npos) end = cache_control.size();
    auto directive = cache_control.substr(start, end - start);
    auto eq = directive.find('=');
    auto name = lower(trim(directive.substr(0, eq)));
    if (name == "no-store") no_store = true;
    if (name == "max-age" && eq != std::string::npos) max_age = trim(directive.substr(eq + 1));
    start = end + 1;
  }
  if (no_store) return 0;
  if (max_age && !max_age->empty() && max_age->size() < 12 &&
      std::all_of(max_age->begin(), max_age->end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::stoll(*max_age) * 1000;
  if (!trim(expires).empty()) {
    Poco::DateTime at;
    int tz = 0;
    // RFC 9111 5.3: an invalid date means "already expired".
    if (!Poco::DateTimeParser::tryParse(trim(expires), at, tz)) return 0;
    auto ms = (at.timestamp().epochMicroseconds() - static_cast<int64_t>(tz) * 1000000) / 1000;
    return std::max<int64_t>(0, ms - now_ms);
  }
  return std::nullopt;
}

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
