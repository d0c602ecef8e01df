// Room server ACLs (matrix/server_acl.hpp), with the cases of Synapse's
// tests/federation/test_federation_server.py ServerACLsTestCase and the
// spec's rules.
#include "matrix/server_acl.hpp"

#include <doctest/doctest.h>

using axon::matrix::server_acl_allows;
using nlohmann::json;

TEST_CASE("server acl: deny before allow, globs, ports ignored") {
  json acl = {{"allow", {"*"}}, {"deny", {"evil.com", "*.evil.com"}}};
  CHECK_FALSE(server_acl_allows(acl, "evil.com"));
  CHECK_FALSE(server_acl_allows(acl, "evil.com:8448"));
  CHECK_FALSE(server_acl_allows(acl, "honestly.not.evil.com"));
  CHECK(server_acl_allows(acl, "evil.com.co"));
  CHECK(server_acl_allows(acl, "notevil.com"));
  CHECK(server_acl_allows(acl, "honest.com:1234"));
  // Case-insensitive, as Synapse's glob_to_regex.
  CHECK_FALSE(server_acl_allows(acl, "EVIL.com"));
  // `?` is one character.
  json q = {{"allow", {"matrix?.org"}}};
  CHECK(server_acl_allows(q, "matrix1.org"));
  CHECK_FALSE(server_acl_allows(q, "matrix.org"));
  CHECK_FALSE(server_acl_allows(q, "matrix12.org"));
}

TEST_CASE("server acl: no allow entries means nobody; IP literals") {
  CHECK_FALSE(server_acl_allows(json{{"deny", json::array()}}, "example.org"));
  CHECK_FALSE(server_acl_allows(json::object(), "example.org"));
  json acl = {{"allow", {"*"}}, {"allow_ip_literals", false}};
  CHECK_FALSE(server_acl_allows(acl, "1.2.3.4"));
  CHECK_FALSE(server_acl_allows(acl, "1.2.3.4:8448"));
  CHECK_FALSE(server_acl_allows(acl, "[1:2::]"));
  CHECK_FALSE(server_acl_allows(acl, "[1:2::]:8448"));
  CHECK(server_acl_allows(acl, "1.2.3.4.example.org"));
  CHECK(server_acl_allows(acl, "example.org"));
  json literal_ok = {{"allow", {"*"}}};
  CHECK(server_acl_allows(literal_ok, "1.2.3.4"));
  CHECK(server_acl_allows(literal_ok, "[::1]:8448"));
}

TEST_CASE("server acl: malformed fields are ignored, as Synapse does") {
  // A non-bool allow_ip_literals counts as true; non-list deny/allow as empty;
  // non-string entries are skipped.
  CHECK(server_acl_allows(json{{"allow", {"*"}}, {"allow_ip_literals", "no"}}, "1.2.3.4"));
  CHECK(server_acl_allows(json{{"allow", {"*"}}, {"deny", "evil.com"}}, "evil.com"));
  CHECK_FALSE(server_acl_allows(json{{"allow", "*"}}, "example.org"));
  CHECK(server_acl_allows(json{{"allow", {1, nullptr, "*"}}, {"deny", {2, json::object()}}}, "example.org"));
  // Content that is not an object is no ACL at all.
  CHECK(server_acl_allows(json("x"), "example.org"));
}
