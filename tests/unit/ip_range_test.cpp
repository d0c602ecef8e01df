// Outbound-request IP filtering (Synapse's ip_range_blacklist/whitelist).
#include "matrix/ip_range.hpp"

#include <doctest/doctest.h>

using namespace axon::matrix;

TEST_CASE("parse_ip_network") {
  CHECK(parse_ip_network("10.0.0.0/8"));
  CHECK(parse_ip_network("10.1.2.3/8")); // host bits cleared
  CHECK(parse_ip_network("::1/128"));
  CHECK(parse_ip_network("fe80::/10"));
  CHECK(parse_ip_network("192.0.2.1"));
  for (const char* bad : {"", "10.0.0.0/33", "::/129", "10.0.0/8", "banana", "10.0.0.0/", "10.0.0.0/a",
                          "[::1]", "1.2.3.4/8/8"})
    CHECK_MESSAGE(!parse_ip_network(bad), bad);
}

TEST_CASE("the default blocklist refuses private addresses in every spelling") {
  auto blocked = *ip_set::from(default_ip_range_blocklist());
  ip_set none;
  auto allowed = [&](const char* a) { return ip_allowed(*parse_ip(a), blocked, none); };
  for (const char* a : {"127.0.0.1", "10.20.30.40", "172.16.5.4", "172.31.255.255", "192.168.1.1",
                        "100.64.0.1", "169.254.169.254", "224.0.0.1", "::1", "fe80::1", "fd00::1",
                        "::ffff:127.0.0.1", "::ffff:10.0.0.1",   // IPv4-mapped
                        "::127.0.0.1",                           // IPv4-compatible
                        "2002:7f00:1::",                         // 6to4 of 127.0.0.1
                        "0.0.0.0", "::"})
    CHECK_MESSAGE(!allowed(a), a);
  for (const char* a : {"8.8.8.8", "172.32.0.1", "2001:4860:4860::8888", "1.1.1.1", "::ffff:8.8.8.8"})
    CHECK_MESSAGE(allowed(a), a);
}

TEST_CASE("the allowlist overrides the blocklist") {
  auto blocked = *ip_set::from(default_ip_range_blocklist());
  auto allowed = *ip_set::from({"127.0.0.1/32"});
  CHECK(ip_allowed(*parse_ip("127.0.0.1"), blocked, allowed));
  CHECK(ip_allowed(*parse_ip("::ffff:127.0.0.1"), blocked, allowed));
  CHECK_FALSE(ip_allowed(*parse_ip("127.0.0.2"), blocked, allowed));
  // An empty blocklist still refuses 0.0.0.0 and ::.
  CHECK_FALSE(ip_allowed(*parse_ip("0.0.0.0"), ip_set{}, ip_set{}));
  CHECK(ip_allowed(*parse_ip("10.0.0.1"), ip_set{}, ip_set{}));
  std::string bad;
  CHECK_FALSE(ip_set::from({"10.0.0.0/8", "nope"}, &bad));
  CHECK(bad == "nope");
}
