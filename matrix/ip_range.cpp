#include "matrix/ip_range.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace axon::matrix {

std::optional<ip_bytes> parse_ip(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  std::string s(text);
  ip_bytes out{};
  unsigned char v4[4];
  if (inet_pton(AF_INET, s.c_str(), v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, v4, 4);
    return out;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.data()) == 1) return out;
  return std::nullopt;
}

bool ip_network::contains(const ip_bytes& a) const {
  int bits = prefix;
  for (size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((a[i] & mask) != (base[i] & mask)) return false;
  }
  return true;
}

namespace {

void clear_host_bits(ip_network& n) {
  for (int i = 0; i < 16; ++i) {
    int keep = n.prefix - i * 8;
    if (keep >= 8) continue;
    n.base[i] &= keep <= 0 ? 0 : static_cast<unsigned char>(0xff << (8 - keep));
  }
}

bool is_v4_mapped(const ip_bytes& a) {
  for (int i = 0; i < 10; ++i)
    if (a[i]) return false;
  return a[10] == 0xff && a[11] == 0xff;
}

} // namespace

std::optional<ip_network> parse_ip_network(std::string_view text) {
  auto slash = text.find('/');
  auto addr = parse_ip(text.substr(0, slash));
  if (!addr) return std::nullopt;
  bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  ip_network n{*addr, 128};
  if (slash != std::string_view::npos) {
    auto p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3) return std::nullopt;
    int prefix = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return std::nullopt;
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > (v4 ? 32 : 128)) return std::nullopt;
    n.prefix = v4 ? 96 + prefix : prefix;
  }
  clear_host_bits(n);
  return n;
}

std::optional<ip_set> ip_set::from(const std::vector<std::string>& ranges, std::string* bad) {
  ip_set out;
  for (auto& r : ranges) {
    auto n = parse_ip_network(r);
    if (!n) {
      if (bad) *bad = r;
      return std::nullopt;
    }
    out.add(*n);
    if (is_v4_mapped(n->base) && n->prefix >= 96) {
      // IPv4-compatible (::a.b.c.d) and 6to4 (2002:aabb:ccdd::) forms.
      ip_network compat = *n;
      compat.base[10] = compat.base[11] = 0;
      out.add(compat);
      ip_network six{};
      six.base[0] = 0x20;
      six.base[1] = 0x02;
      std::memcpy(six.base.data() + 2, n->base.data() + 12, 4);
      six.prefix = 16 + (n->prefix - 96);
      clear_host_bits(six);
      out.add(six);
    }
  }
  return out;
}

bool ip_set::contains(const ip_bytes& a) const {
  for (auto& n : nets_)
    if (n.contains(a)) return true;
  return false;
}

bool ip_set::contains(std::string_view address) const {
  auto a = parse_ip(address);
  return a && contains(*a);
}

const std::vector<std::string>& default_ip_range_blocklist() {
  static const std::vector<std::string> ranges{
    "127.0.0.0/8",    "10.0.0.0/8",      "172.16.0.0/12",  "192.168.0.0/16", "100.64.0.0/10",
    "192.0.0.0/24",   "169.254.0.0/16",  "192.88.99.0/24", "198.18.0.0/15",  "192.0.2.0/24",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",    "::1/128",        "fe80::/10",
    "fc00::/7",       "2001:db8::/32",   "ff00::/8",       "fec0::/10"};
  return ranges;
}

bool ip_allowed(const ip_bytes& address, const ip_set& blocked, const ip_set& allowed) {
  static const ip_set always = *ip_set::from({"0.0.0.0", "::"});
  if (!blocked.contains(address) && !always.contains(address)) return true;
  return allowed.contains(address);
}

} // namespace axon::matrix
