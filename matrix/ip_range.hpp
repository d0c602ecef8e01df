// matrix/ip_range.hpp -- sets of IP ranges for outbound-request filtering
// (Synapse's ip_range_blacklist / ip_range_whitelist and their
// *_blocklist / *_allowlist spellings): CIDR parsing and membership, with
// Synapse's treatment of IPv4 ranges (each also blocks its IPv4-mapped,
// IPv4-compatible and 6to4 IPv6 forms, so an IPv6 spelling of a private
// IPv4 address is refused too).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace axon::matrix {

/// An address as 16 bytes (IPv4 as its IPv4-mapped IPv6 form).
using ip_bytes = std::array<unsigned char, 16>;

/// Parses an IPv4 or IPv6 address (no brackets, no port); nullopt otherwise.
std::optional<ip_bytes> parse_ip(std::string_view text);

struct ip_network {
  ip_bytes base{};
  int prefix = 128; ///< of the 16-byte form
  bool contains(const ip_bytes& a) const;
};

/// Parses "address" or "address/prefix" (IPv4 prefixes 0-32, IPv6 0-128);
/// host bits set below the prefix are accepted and cleared (netaddr does
/// the same). nullopt when malformed.
std::optional<ip_network> parse_ip_network(std::string_view text);

class ip_set {
public:
  ip_set() = default;
  /// The ranges, each IPv4 one with its IPv6 forms; nullopt (and the bad
  /// entry in `bad`) when one does not parse.
  static std::optional<ip_set> from(const std::vector<std::string>& ranges, std::string* bad = nullptr);
  void add(const ip_network& n) { nets_.push_back(n); }
  bool contains(const ip_bytes& a) const;
  bool contains(std::string_view address) const;
  bool empty() const { return nets_.empty(); }

private:
  std::vector<ip_network> nets_;
};

/// Synapse's default ip_range_blacklist: loopback, private, carrier-grade
/// NAT, link-local, documentation, multicast and site-local ranges.
const std::vector<std::string>& default_ip_range_blocklist();

/// Whether an outbound request may go to `address`: not in `blocked`
/// (to which 0.0.0.0 and :: always belong), or in `allowed`.
bool ip_allowed(const ip_bytes& address, const ip_set& blocked, const ip_set& allowed);

} // namespace axon::matrix
