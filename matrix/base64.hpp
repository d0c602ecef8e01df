// matrix/base64.hpp -- unpadded Base64 as Matrix uses it.
// Spec: appendices, "Unpadded Base64" and "URL-safe unpadded Base64".
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace axon::matrix {

/// Standard alphabet (`+`, `/`), no `=` padding.
std::string base64_encode(std::string_view bytes);

/// URL-safe alphabet (`-`, `_`), no `=` padding.
std::string base64_url_encode(std::string_view bytes);

/// Decodes the standard alphabet; accepts input with or without `=` padding
/// (the spec asks decoders to accept both) and ignores non-zero unused bits
/// in the last digit, as Python's decoder does. nullopt on any other
/// malformed input (bad characters, a length of 4n+1).
std::optional<std::string> base64_decode(std::string_view text);

/// As `base64_decode`, for the URL-safe alphabet.
std::optional<std::string> base64_url_decode(std::string_view text);

} // namespace axon::matrix
