// matrix/access_token.hpp -- Synapse-compatible access tokens and device ids.
// Format from Synapse's AuthHandler.generate_access_token
// (synapse/handlers/auth.py) and stringutils.base62_encode:
//   syt_<unpadded base64 of localpart>_<20 random letters>_<crc>
// where <crc> is the CRC-32 of everything before it, base62, 6 digits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace axon::matrix {

/// `value` in base62 with Synapse's alphabet (0-9, A-Z, a-z), most
/// significant digit first, left-padded with '0' to at least `min_width`.
std::string base62_encode(std::uint64_t value, size_t min_width = 1);

/// A fresh token for `localpart`. The localpart is encoded with the
/// standard unpadded base64 alphabet, as Synapse's `encode_base64` does.
class environment;
std::string generate_access_token(std::string_view localpart, environment& env);

/// The localpart inside a token from `generate_access_token`; nullopt when
/// the token lacks the `syt_` prefix, is malformed, or fails its CRC.
/// A CRC match proves only that the token is well formed, never that it is
/// valid: look it up in the store for that.
std::optional<std::string> localpart_from_token(std::string_view token);

/// A fresh device id: 10 upper-case letters (Synapse's
/// `random_string(10).upper()`).
std::string generate_device_id(environment& env);

} // namespace axon::matrix
