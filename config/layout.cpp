// config/layout.cpp -- Synapse's sharding function (see layout.hpp).
#include "config/layout.hpp"

#include <sodium.h>

namespace axon::config {

std::string stream_writer_for(const std::vector<std::string>& writers, std::string_view key) {
  if (writers.empty())
    return {};
  return writers[stream_writer_index(writers, key)];
}

size_t stream_writer_index(const std::vector<std::string>& writers, std::string_view key) {
  if (writers.size() < 2)
    return 0;
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  // Horner's rule from the most significant byte, which in little-endian
  // order is the last one. r < n keeps r * 256 + 255 far from overflow.
  const unsigned __int128 n = writers.size();
  unsigned __int128 r = 0;
  for (size_t i = crypto_hash_sha256_BYTES; i-- > 0;)
    r = (r * 256 + digest[i]) % n;
  return static_cast<size_t>(r);
}

} // namespace axon::config
