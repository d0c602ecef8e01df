// matrix/identifiers.hpp -- parsing and checking Matrix identifiers.
// Spec: appendices, "Identifier Grammar" (Server Name, User Identifiers,
// Historical User IDs, Room IDs, Room Aliases, Event IDs).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace axon::matrix {

/// Longest identifier the spec allows, sigil and domain included (bytes).
inline constexpr size_t max_identifier_length = 255;

/// A user id split at its first ':'.
struct user_id {
  std::string localpart;
  std::string server;

  /// "@" + localpart + ":" + server.
  std::string str() const { return "@" + localpart + ":" + server; }
  friend bool operator==(const user_id& a, const user_id& b) {
    return a.localpart == b.localpart && a.server == b.server;
  }
};

/// Parses "@localpart:server". Accepts the historical localparts the spec
/// says servers MUST accept (any valid UTF-8 but ':' and NUL, even empty);
/// the server must pass `valid_server_name`; at most 255 bytes in all.
std::optional<user_id> parse_user_id(std::string_view id);

/// True when `localpart` may be given to a new user: non-empty and only
/// a-z 0-9 . _ = - / + (spec 1.8 grammar `user_id_localpart`).
bool valid_new_localpart(std::string_view localpart);

/// True when `name` is hostname [":" port]: a DNS name (labels of
/// [0-9A-Za-z-] separated by '.'; this also covers dotted-quad IPv4) or a
/// bracketed IPv6 literal, and a port of 1 to 5 digits.
bool valid_server_name(std::string_view name);

/// True for "!localpart:server": non-empty localpart without ':' or NUL,
/// valid server, at most 255 bytes (room versions 1-11 need the domain).
bool valid_room_id(std::string_view id);

/// True for "#localpart:server", with the rules of `valid_room_id`.
bool valid_room_alias(std::string_view id);

/// True for "$" + a non-empty opaque id of valid UTF-8 without NUL, at
/// most 255 bytes (both the v4+ hash form and the old "$x:domain" form).
bool valid_event_id(std::string_view id);

/// A fresh room id: "!" + 18 random letters + ":" + server.
class environment;
/// A fresh room id on `server`, its opaque part from `env`.
std::string make_room_id(std::string_view server, environment& env);

/// The server part of a "&localpart:server" id: everything after the first
/// ':' (a port stays attached). Empty when there is no ':'.
std::string server_of(std::string_view id);

} // namespace axon::matrix
