// Resolving server names (server-server API): each step of the spec.
#include "matrix/server_resolution.hpp"

#include <doctest/doctest.h>

#include <map>

using namespace axon::matrix;

namespace {

/// Lookups from tables; records which were asked.
struct fake_dns {
  std::map<std::string, std::string> well_known;            // host -> m.server
  std::map<std::string, std::vector<srv_record>> srv;       // name -> records
  std::vector<std::string> asked;
  resolution_lookups io() {
    return {[this](const std::string& host) -> std::optional<std::string> {
              asked.push_back("wk " + host);
              auto i = well_known.find(host);
              if (i == well_known.end()) return std::nullopt;
              return i->second;
            },
            [this](const std::string& name) {
              asked.push_back("srv " + name);
              auto i = srv.find(name);
              return i == srv.end() ? std::vector<srv_record>{} : i->second;
            }};
  }
};

federation_target t(std::string host, int port, std::string header, std::string tls) {
  return {std::move(host), port, std::move(header), std::move(tls)};
}

} // namespace

TEST_CASE("parse_server_address") {
  auto a = parse_server_address("example.org:8448");
  REQUIRE(a);
  CHECK(a->host == "example.org");
  CHECK(a->port == 8448);
  CHECK_FALSE(a->ip_literal);
  auto b = parse_server_address("[2001:db8::1]:99");
  REQUIRE(b);
  CHECK(b->host == "[2001:db8::1]");
  CHECK(b->port == 99);
  CHECK(b->ip_literal);
  CHECK(parse_server_address("127.0.0.1")->ip_literal);
  CHECK_FALSE(parse_server_address("127.0.0.256")->ip_literal);
  CHECK_FALSE(parse_server_address("1.2.3.4.example")->ip_literal);
  CHECK(parse_server_address("localhost:1")->str() == "localhost:1");
  for (const char* bad : {"", "example.org:", "example.org:0", "example.org:65536", "exa mple.org", "[::1",
                          "[zz::1]", "example.org:12a"})
    CHECK_MESSAGE(!parse_server_address(bad), bad);
}

TEST_CASE("resolve_server_name: the spec's steps in order") {
  fake_dns dns;
  SUBCASE("1: IP literals, with and without a port; no lookups") {
    CHECK(resolve_server_name("1.2.3.4", dns.io()) == std::vector{t("1.2.3.4", 8448, "1.2.3.4", "1.2.3.4")});
    CHECK(resolve_server_name("[::1]:8000", dns.io()) == std::vector{t("[::1]", 8000, "[::1]:8000", "[::1]")});
    CHECK(dns.asked.empty());
  }
  SUBCASE("2: an explicit port: that host and port, Host with the port; no lookups") {
    CHECK(resolve_server_name("localhost:8081", dns.io()) ==
          std::vector{t("localhost", 8081, "localhost:8081", "localhost")});
    CHECK(dns.asked.empty());
  }
  SUBCASE("3.1/3.2: delegation to an IP literal or host with a port") {
    dns.well_known["a.example"] = "[2001:db8::2]";
    dns.well_known["b.example"] = "matrix.b.example:443";
    CHECK(resolve_server_name("a.example", dns.io()) ==
          std::vector{t("[2001:db8::2]", 8448, "[2001:db8::2]", "[2001:db8::2]")});
    CHECK(resolve_server_name("b.example", dns.io()) ==
          std::vector{t("matrix.b.example", 443, "matrix.b.example:443", "matrix.b.example")});
  }
  SUBCASE("3.3/3.4/3.5: delegation to a host without a port: its SRV, then 8448") {
    dns.well_known["c.example"] = "m.c.example";
    dns.srv["_matrix._tcp.m.c.example"] = {{"srv.c.example", 8443, 10, 0}};
    CHECK(resolve_server_name("c.example", dns.io()) ==
          std::vector{t("srv.c.example", 8443, "m.c.example", "m.c.example")});
    // _matrix-fed wins over the deprecated _matrix.
    dns.srv["_matrix-fed._tcp.m.c.example"] = {{"fed.c.example", 8444, 10, 0}};
    CHECK(resolve_server_name("c.example", dns.io()) ==
          std::vector{t("fed.c.example", 8444, "m.c.example", "m.c.example")});
    dns.well_known["d.example"] = "m.d.example";
    CHECK(resolve_server_name("d.example", dns.io()) ==
          std::vector{t("m.d.example", 8448, "m.d.example", "m.d.example")});
    // The server name's own SRV is not consulted after a valid delegation.
    CHECK(std::find(dns.asked.begin(), dns.asked.end(), "srv _matrix-fed._tcp.d.example") == dns.asked.end());
  }
  SUBCASE("4/5/6: no delegation: the name's SRV, then 8448") {
    dns.srv["_matrix-fed._tcp.e.example"] = {{"a.e.example", 1, 10, 0}, {"b.e.example", 2, 20, 0}};
    CHECK(resolve_server_name("e.example", dns.io()) ==
          std::vector{t("a.e.example", 1, "e.example", "e.example"), t("b.e.example", 2, "e.example", "e.example")});
    CHECK(resolve_server_name("f.example", dns.io()) == std::vector{t("f.example", 8448, "f.example", "f.example")});
    CHECK(dns.asked == std::vector<std::string>{"wk e.example", "srv _matrix-fed._tcp.e.example", "wk f.example",
                                                "srv _matrix-fed._tcp.f.example", "srv _matrix._tcp.f.example"});
  }
  SUBCASE("an invalid name resolves to nothing") {
    CHECK(resolve_server_name("bad name", dns.io()).empty());
  }
}

TEST_CASE("parse_well_known_server: invalid answers mean no delegation") {
  CHECK(parse_well_known_server(R"({"m.server": "matrix.example.org:443"})") == "matrix.example.org:443");
  CHECK(parse_well_known_server(R"({"m.server": "matrix.example.org", "other": 1})") == "matrix.example.org");
  for (const char* bad : {"", "not json", "[]", "{}", R"({"m.server": 5})", R"({"m.server": "bad name"})",
                          R"({"m.server": "host:0"})", R"({"m.server": ""})"})
    CHECK_MESSAGE(!parse_well_known_server(bad), bad);
}

TEST_CASE("order_srv: priority first, weighted within one priority") {
  std::vector<srv_record> recs{{"c", 3, 20, 0}, {"a", 1, 10, 5}, {"b", 2, 10, 0}, {"d", 4, 5, 0}};
  // uniform always 0: the first in the running sum (a zero-weight record first).
  auto lowest = order_srv(recs, [](uint64_t) { return 0; });
  REQUIRE(lowest.size() == 4);
  CHECK(lowest[0].target == "d");
  CHECK(lowest[1].target == "b");
  CHECK(lowest[2].target == "a");
  CHECK(lowest[3].target == "c");
  // uniform always the top: the last of the sum.
  auto highest = order_srv(recs, [](uint64_t n) { return n - 1; });
  CHECK(highest[0].target == "d");
  CHECK(highest[1].target == "a");
  CHECK(highest[2].target == "b");
  CHECK(order_srv({{".", 0, 0, 0}}, [](uint64_t) { return 0; }).empty());
}

TEST_CASE("well_known_cache_period: Cache-Control before Expires, as Synapse reads them") {
  // 2026-01-01T00:00:00Z in ms.
  const int64_t now = 1767225600000;
  CHECK(well_known_cache_period("", "", now) == std::nullopt);
  CHECK(well_known_cache_period("max-age=3600", "", now) == 3600000);
  CHECK(well_known_cache_period("public, Max-Age = 60 ", "", now) == 60000);
  CHECK(well_known_cache_period("max-age=60, no-store", "", now) == 0);
  // An unreadable max-age falls through to Expires.
  CHECK(well_known_cache_period("max-age=soon", "Thu, 01 Jan 2026 02:00:00 GMT", now) == 7200000);
  CHECK(well_known_cache_period("", "Thu, 01 Jan 2026 00:10:00 GMT", now) == 600000);
  // In the past, or not a date: already expired.
  CHECK(well_known_cache_period("", "Wed, 31 Dec 2025 00:00:00 GMT", now) == 0);
  CHECK(well_known_cache_period("", "0", now) == 0);
  // The caller clamps to [5 min, 48 h].
  CHECK(well_known_cache::min_ms == 300000);
  CHECK(well_known_cache::max_ms == 48LL * 3600 * 1000);
}
