// matrix/signing.hpp -- signing and checking JSON objects.
// Spec: appendices, "Signing Details" and "Checking for a Signature".
#pragma once

#include "matrix/crypto.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace axon::matrix {

/// Signs `obj` as `server_name` with `key`: the canonical JSON of `obj`
/// without `signatures` and `unsigned` is signed and the signature stored at
/// signatures[server_name][key.key_id()]. Other signatures and `unsigned`
/// are kept. `obj` is our own data and must be an object; anything else is
/// left unchanged.
void sign_json(nlohmann::json& obj, const std::string& server_name,
               const signing_key& key);

/// True when signatures[server_name][key_id] of `obj` is a valid signature
/// of `obj` (without `signatures` and `unsigned`) by the 32-byte public key
/// `pub_raw`. False when the signature is absent or malformed, or when `obj`
/// is not an object.
bool verify_json(const nlohmann::json& obj, const std::string& server_name,
                 const std::string& key_id, std::string_view pub_raw);

} // namespace axon::matrix
