#include "matrix/identifiers.hpp"

#include "matrix/environment.hpp"

#include "matrix/canonical_json.hpp"
#include "matrix/crypto.hpp"

#include <arpa/inet.h>

namespace axon::matrix {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_alnum(char c) {
  return is_digit(c) || is_lower(c) || (c >= 'A' && c <= 'Z');
}

/// Valid UTF-8 without NUL: the historical localpart alphabet less ':'
/// (the caller has split at the first ':').
bool valid_opaque(std::string_view s) {
  return s.find('\0') == std::string_view::npos && is_valid_utf8(s);
}

/// dns-name: 1-255 chars; labels of [0-9A-Za-z-], none empty
/// (Synapse's VALID_HOST_REGEX).
bool valid_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  size_t label = 0;
  for (char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (is_alnum(c) || c == '-') {
      ++label;
    } else {
      return false;
    }
  }
  return label > 0;
}

bool valid_ipv6(std::string_view address) {
  // Spec grammar: 2*45 IPv6char; RFC 3513 form checked by inet_pton.
  if (address.size() < 2 || address.size() > 45) return false;
  std::string terminated(address);
  unsigned char buf[16];
  return inet_pton(AF_INET6, terminated.c_str(), buf) == 1;
}

/// Checks "<sigil>localpart:server" with a non-empty localpart.
bool valid_sigil_id(std::string_view id, char sigil) {
  if (id.size() > max_identifier_length || id.size() < 2 || id[0] != sigil)
    return false;
  size_t colon = id.find(':');
  if (colon == std::string_view::npos || colon == 1) return false;
  return valid_opaque(id.substr(1, colon - 1))
         && valid_server_name(id.substr(colon + 1));
}

} // namespace

std::optional<user_id> parse_user_id(std::string_view id) {
  if (id.size() > max_identifier_length || id.empty() || id[0] != '@')
    return std::nullopt;
  size_t colon = id.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view localpart = id.substr(1, colon - 1);
  std::string_view server = id.substr(colon + 1);
  if (!valid_opaque(localpart) || !valid_server_name(server))
    return std::nullopt;
  return user_id{std::string(localpart), std::string(server)};
}

bool valid_new_localpart(std::string_view localpart) {
  if (localpart.empty() || localpart.size() > max_identifier_length)
    return false;
  for (char c : localpart) {
    bool ok = is_digit(c) || is_lower(c) || c == '.' || c == '_' || c == '='
              || c == '-' || c == '/' || c == '+';
    if (!ok) return false;
  }
  return true;
}

bool valid_server_name(std::string_view name) {
  std::string_view host = name;
  std::string_view port;
  if (!name.empty() && name[0] == '[') {
    size_t close = name.find(']');
    if (close == std::string_view::npos) return false;
    host = name.substr(0, close + 1);
    std::string_view rest = name.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
    if (!valid_ipv6(host.substr(1, host.size() - 2))) return false;
  } else {
    size_t colon = name.find(':');
    if (colon != std::string_view::npos) {
      host = name.substr(0, colon);
      port = name.substr(colon + 1);
      if (port.empty()) return false;
    }
    if (!valid_dns_name(host)) return false;
  }
  if (port.size() > 5) return false;
  for (char c : port)
    if (!is_digit(c)) return false;
  return true;
}

bool valid_room_id(std::string_view id) { return valid_sigil_id(id, '!'); }

bool valid_room_alias(std::string_view id) { return valid_sigil_id(id, '#'); }

bool valid_event_id(std::string_view id) {
  return id.size() >= 2 && id.size() <= max_identifier_length && id[0] == '$'
         && valid_opaque(id.substr(1));
}

std::string make_room_id(std::string_view server, environment& env) {
  return "!" + random_string(18, env) + ":" + std::string(server);
}

std::string server_of(std::string_view id) {
  size_t colon = id.find(':');
  if (colon == std::string_view::npos) return {};
  return std::string(id.substr(colon + 1));
}

} // namespace axon::matrix
