// matrix/crypto.hpp -- the primitives Matrix and Synapse-compatible auth use:
// SHA-256, ed25519 signing keys, password hashing, HMACs, random strings.
// All binary values are raw bytes in std::string unless a name says `b64`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace axon::matrix {

/// SHA-256 of `data`: 32 raw bytes.
std::string sha256(std::string_view data);

/// A server's ed25519 signing key (spec: appendices, "Signing Details").
struct signing_key {
  std::string version;    ///< key identifier after "ed25519:", e.g. "a_AbCd"
  std::string seed;       ///< 32 raw bytes; the rest derives from it
  std::string public_key; ///< 32 raw bytes
  std::string secret_key; ///< 64 raw bytes (libsodium form: seed + public)

  /// A fresh random key with a Synapse-style version "a_" + 4 letters.
  static signing_key generate();

  /// Derives the key pair from a 32-byte seed; nullopt on a wrong size.
  static std::optional<signing_key> from_seed(std::string version,
                                              std::string_view seed);

  /// Parses one line of a Synapse signing key file,
  /// "ed25519 <version> <unpadded base64 seed>" (trailing whitespace and
  /// newline allowed). nullopt on another algorithm or a malformed line.
  static std::optional<signing_key> from_synapse_line(std::string_view line);

  /// The line `from_synapse_line` reads, without a newline.
  std::string to_synapse_line() const;

  /// "ed25519:" + version.
  std::string key_id() const;

  /// The public key as unpadded standard base64 (as in /_matrix/key/v2).
  std::string public_b64() const;

  /// Detached ed25519 signature of `msg`, unpadded standard base64.
  std::string sign_b64(std::string_view msg) const;
};

/// True when `sig_b64` (unpadded or padded base64) is a valid ed25519
/// signature of `msg` by the 32-byte key `pub_raw`. False on any malformed
/// argument.
bool verify_ed25519(std::string_view msg, std::string_view sig_b64,
                    std::string_view pub_raw);

/// Argon2id hash in libsodium's self-describing string form
/// (crypto_pwhash_str_alg, OPSLIMIT/MEMLIMIT_INTERACTIVE). Empty when the
/// hash could not be computed (out of memory).
std::string hash_password(std::string_view password);

/// True when `password` matches a hash made by `hash_password`. False for
/// a malformed or foreign hash.
bool check_password(std::string_view hash, std::string_view password);

/// Compares in time independent of the content. Different lengths compare
/// unequal at once: only the length can leak, never the content.
bool constant_time_equal(std::string_view a, std::string_view b);

/// `n` letters from [a-zA-Z], uniformly from the system CSPRNG (Synapse's
/// `stringutils.random_string`). Request handling uses the instance's
/// environment instead (matrix/environment.hpp).
std::string random_string(size_t n);
class environment;
std::string random_string(size_t n, environment& env);

/// Lower-case hex of raw bytes.
std::string hex_encode(std::string_view bytes);

/// How an access token is stored and looked up: hex SHA-256 of the token,
/// so a database leak reveals no usable token.
inline std::string token_hash(std::string_view token) { return hex_encode(sha256(token)); }

/// HMAC-SHA1 as lower-case hex; Synapse's shared-secret registration
/// (`/_synapse/admin/v1/register`) uses it for its `mac` field.
std::string hmac_sha1_hex(std::string_view key, std::string_view msg);

/// HMAC-SHA256: 32 raw bytes. Any key length.
std::string hmac_sha256(std::string_view key, std::string_view msg);

} // namespace axon::matrix
