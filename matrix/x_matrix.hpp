// matrix/x_matrix.hpp -- request authentication between servers
// (server-server API, "Request Authentication"): the signed JSON of a
// request and its `Authorization: X-Matrix ...` header.
#pragma once

#include "matrix/crypto.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace axon::matrix {

/// The parameters of one X-Matrix Authorization header.
struct x_matrix_auth {
  std::string origin;
  std::string destination; ///< empty when the header has none (before spec v1.3)
  std::string key_id;
  std::string sig;         ///< unpadded base64
};

/// Parses `Authorization` header `value` as RFC 9110 credentials with the
/// X-Matrix scheme (case-insensitive): comma-separated name=value pairs,
/// values tokens or quoted strings with backslash escapes, names
/// case-insensitive, whitespace around them allowed. origin, key and sig are
/// required and origin must be a valid server name; nullopt otherwise (the
/// caller answers 401 M_UNAUTHORIZED).
std::optional<x_matrix_auth> parse_x_matrix(std::string_view value);

/// The object a request's signature covers: method, uri (the path and
/// query exactly as sent), origin, destination, and content when the
/// request has a JSON body (`content` not null).
nlohmann::json request_signing_object(const std::string& method, const std::string& uri,
                                      const std::string& origin, const std::string& destination,
                                      const nlohmann::json& content = nullptr);

/// The Authorization header value for a request `origin` sends to
/// `destination`, signed with `key`.
std::string sign_request(const signing_key& key, const std::string& method, const std::string& uri,
                         const std::string& origin, const std::string& destination,
                         const nlohmann::json& content = nullptr);

/// True when `auth.sig` is `auth.origin`'s signature of the request with
/// public key `pub_raw` (32 raw bytes) as `destination` received it. An
/// `auth.destination` that is set must be `destination` (else false).
bool verify_request(const x_matrix_auth& auth, std::string_view pub_raw, const std::string& method,
                    const std::string& uri, const std::string& destination,
                    const nlohmann::json& content = nullptr);

} // namespace axon::matrix
