// matrix/canonical_json.hpp -- the byte encoding that Matrix signs and hashes.
// Spec: appendices, "Canonical JSON" (strictly enforced from room v6,
// rooms/fragments/v6-canonical-json).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace axon::matrix {

/// Largest magnitude a canonical JSON integer may have: 2^53 - 1.
inline constexpr long long canonical_json_max_int = (1LL << 53) - 1;

/// True when `value` is a number canonical JSON allows: an integer in
/// [-(2^53)+1, (2^53)-1]. Floats are rejected, even integral ones.
bool is_canonical_number(const nlohmann::json& value);

/// True when `s` is well-formed UTF-8: no overlong forms, surrogates or
/// code points above U+10FFFF (Unicode, table 3-7).
bool is_valid_utf8(std::string_view s);

/// True when `value` may be encoded as canonical JSON: every number passes
/// `is_canonical_number`, every string and key is valid UTF-8, and there are
/// no binary values. On false, `why` (if given) names the first offence.
/// Bad input is the expected case here (federation, clients): never throws.
bool valid_for_canonical(const nlohmann::json& value, std::string* why = nullptr);

/// The canonical encoding of `value`: keys sorted by code point, no
/// insignificant whitespace, UTF-8 left unescaped, only `"`, `\` and the
/// ASCII control characters escaped (`\b \t \n \f \r`, else `\u00xx`).
/// Floats with an integral value within range are written as integers (the
/// spec's `{"a":-0,"b":1e10}` example). Total: for input failing
/// `valid_for_canonical`, the output is deterministic but not canonical
/// (other floats keep a decimal form, invalid UTF-8 becomes U+FFFD).
std::string canonical_json(const nlohmann::json& value);

} // namespace axon::matrix
