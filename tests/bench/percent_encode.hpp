// tests/bench/percent_encode.hpp -- for the bench clients (axon_bench.cpp, longpoll_client.cpp).
#pragma once

#include <cctype>
#include <string>

namespace axon::bench {

/// Percent-encodes everything but RFC 3986 unreserved characters (for path segments and query).
inline std::string percent_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

} // namespace axon::bench
