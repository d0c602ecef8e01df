#include "matrix/server_acl.hpp"

#include "matrix/ip_range.hpp"
#include "matrix/push_rules.hpp"
#include "matrix/server_resolution.hpp"

namespace axon::matrix {

namespace {

/// Any of the string entries of `list` (when it is a list) matches `host`.
bool any_matches(const nlohmann::json& content, const char* key, const std::string& host) {
  auto list = content.find(key);
  if (list == content.end() || !list->is_array()) return false;
  for (auto& e : *list)
    if (e.is_string() && push_glob_matches(e.get<std::string>(), host, false)) return true;
  return false;
}

} // namespace

bool server_acl_allows(const nlohmann::json& content, std::string_view server_name) {
  if (!content.is_object()) return true; // no usable ACL
  auto address = parse_server_address(server_name);
  std::string host = address ? address->host : std::string(server_name);
  bool ip_literal = address ? address->ip_literal : (!host.empty() && (host[0] == '[' || parse_ip(host)));
  auto ip = content.find("allow_ip_literals");
  bool allow_ip = ip == content.end() || !ip->is_boolean() || ip->get<bool>();
  if (!allow_ip && ip_literal) return false;
  if (any_matches(content, "deny", host)) return false;
  return any_matches(content, "allow", host);
}

} // namespace axon::matrix
