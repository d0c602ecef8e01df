#include "matrix/base64.hpp"

#include <sodium.h>

namespace axon::matrix {

namespace {

std::string encode(std::string_view bytes, int variant) {
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(out.size() - 1); // drop the terminating NUL
  return out;
}

/// The 64 digits of `variant` (RFC 4648 sections 4 and 5).
std::string_view alphabet(int variant) {
  static constexpr std::string_view standard =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static constexpr std::string_view url_safe =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  return variant == sodium_base64_VARIANT_URLSAFE_NO_PADDING ? url_safe
                                                             : standard;
}

std::optional<std::string> decode(std::string_view text, int variant) {
  // Padding is optional on input: strip at most two trailing '=' and decode
  // with the unpadded variant, which rejects any '=' left over.
  for (int i = 0; i < 2 && !text.empty() && text.back() == '='; ++i)
    text.remove_suffix(1);
  if (text.empty()) return std::string();
  // libsodium rejects non-zero unused bits in the last digit; Python's
  // decoder (Synapse) ignores them, and so must we: the spec's own signing
  // key seed (appendices, "Cryptographic Test Vectors") has them set.
  std::string copy;
  if (size_t rest = text.size() % 4; rest == 2 || rest == 3) {
    size_t value = alphabet(variant).find(text.back());
    size_t mask = rest == 2 ? 0x30 : 0x3C;
    if (value != std::string_view::npos && (value & ~mask) != 0) {
      copy = std::string(text);
      copy.back() = alphabet(variant)[value & mask];
      text = copy;
    }
  }
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()),
                        out.size(), text.data(), text.size(), nullptr, &len,
                        &end, variant) != 0
      || end != text.data() + text.size())
    return std::nullopt;
  out.resize(len);
  return out;
}

} // namespace

std::string base64_encode(std::string_view bytes) {
  return encode(bytes, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

std::string base64_url_encode(std::string_view bytes) {
  return encode(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

std::optional<std::string> base64_decode(std::string_view text) {
  return decode(text, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

std::optional<std::string> base64_url_decode(std::string_view text) {
  return decode(text, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

} // namespace axon::matrix
