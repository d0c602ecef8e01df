// matrix/cross_signing.hpp -- checking cross-signing keys (client-server
// API, "End-to-End Encryption" > "Cross-signing"). Pure logic: callers turn
// a failure into the Matrix error it names.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace axon::matrix {

/// The public key of a CrossSigningKey: its only key, "ed25519:<unpadded
/// base64 of the 32-byte key>" mapped to that same base64.
struct cross_signing_public_key {
  std::string key_id; ///< "ed25519:<base64>"
  std::string base64; ///< the unpadded base64 (also the key's "device id")
  std::string raw;    ///< the 32 raw bytes
};

/// Why a key was refused: which Matrix error, and a message.
struct key_problem {
  enum kind_t { missing_param, invalid_param, invalid_signature } kind;
  std::string message;
};

/// The public key of `key`, or nullopt unless `keys` holds exactly one
/// ed25519 key whose id names its value.
std::optional<cross_signing_public_key> public_key_of(const nlohmann::json& key);

/// Checks a CrossSigningKey uploaded by `user_id` for `usage` ("master",
/// "self_signing", "user_signing"): an object, user_id the uploader, usage
/// containing `usage`, exactly one well-formed ed25519 key, and, when
/// `signer` is given, a valid signature by it (the master key, for the other
/// two). Returns the problem, or nullopt when the key is fine.
std::optional<key_problem> check_cross_signing_key(const nlohmann::json& key,
                                                   const std::string& user_id,
                                                   const std::string& usage,
                                                   const cross_signing_public_key* signer);

/// `obj` without "signatures" and "unsigned": what a signature covers, so
/// two uploads of the same key with different signatures compare equal.
nlohmann::json signed_part(const nlohmann::json& obj);

} // namespace axon::matrix
