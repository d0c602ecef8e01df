#include "matrix/access_token.hpp"

#include "matrix/environment.hpp"

#include "matrix/base64.hpp"
#include "matrix/crypto.hpp"

#include <Poco/Checksum.h>

#include <algorithm>
#include <cctype>

namespace axon::matrix {

namespace {

constexpr std::string_view token_prefix = "syt_";
constexpr size_t crc_width = 6; // 62^6 > 2^32: a CRC-32 always fits

/// The checksum suffix Synapse appends: base62 of zlib's CRC-32.
std::string crc_of(std::string_view base) {
  Poco::Checksum crc(Poco::Checksum::TYPE_CRC32);
  crc.update(base.data(), static_cast<unsigned>(base.size()));
  return base62_encode(crc.checksum(), crc_width);
}

} // namespace

std::string base62_encode(std::uint64_t value, size_t min_width) {
  static constexpr char alphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string digits;
  for (; value != 0; value /= 62) digits.push_back(alphabet[value % 62]);
  if (digits.size() < min_width) digits.append(min_width - digits.size(), '0');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

std::string generate_access_token(std::string_view localpart, environment& env) {
  std::string base = std::string(token_prefix) + base64_encode(localpart) + "_"
                     + random_string(20, env);
  return base + "_" + crc_of(base);
}

std::optional<std::string> localpart_from_token(std::string_view token) {
  if (token.substr(0, token_prefix.size()) != token_prefix)
    return std::nullopt;
  size_t last = token.rfind('_');
  std::string_view base = token.substr(0, last);
  if (last < token_prefix.size() || crc_of(base) != token.substr(last + 1))
    return std::nullopt;
  // Standard base64 has no '_', so the localpart ends at the next one.
  std::string_view rest = base.substr(token_prefix.size());
  size_t split = rest.find('_');
  if (split == std::string_view::npos || split + 1 == rest.size())
    return std::nullopt;
  return base64_decode(rest.substr(0, split));
}

std::string generate_device_id(environment& env) {
  std::string id = random_string(10, env);
  for (auto& c : id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return id;
}

} // namespace axon::matrix
