// Identifier grammar (appendices, "Identifier Grammar").
#include "matrix/identifiers.hpp"

#include "matrix/environment.hpp"

#include <doctest/doctest.h>

using namespace axon::matrix;

TEST_CASE("valid_server_name: spec examples and failures") {
  for (const char* ok : {"matrix.org", "matrix.org:8888", "1.2.3.4", "1.2.3.4:1234",
                         "[1234:5678::abcd]", "[1234:5678::abcd]:5678", "localhost",
                         "a-b.example", "MATRIX.ORG", "[::1]:8448"})
    CHECK_MESSAGE(valid_server_name(ok), ok);
  for (const char* bad : {"", ":80", "matrix.org:", "matrix.org:123456", "matrix.org:8a",
                          "matrix..org", ".matrix.org", "matrix.org.", "mat rix.org",
                          "matrix_org", "[1234:5678::abcd", "[]", "[zz::1]", "[::1]x",
                          "[::1]:", "1234:5678::abcd", "ex\xc3\xa9.org"})
    CHECK_FALSE_MESSAGE(valid_server_name(bad), bad);
  CHECK(valid_server_name(std::string(255, 'a')));
  CHECK_FALSE(valid_server_name(std::string(256, 'a')));
}

TEST_CASE("parse_user_id: compliant and historical ids") {
  auto id = parse_user_id("@alice:matrix.org:8448");
  REQUIRE(id);
  CHECK(id->localpart == "alice");
  CHECK(id->server == "matrix.org:8448");
  CHECK(id->str() == "@alice:matrix.org:8448");
  CHECK(parse_user_id("@a.b_c=d-e/f+g:x.y"));
  // Historical localparts: anything but ':' and NUL, even empty (spec MUST).
  CHECK(parse_user_id("@Alice!#$ \xc3\xa9:example.org"));
  CHECK(parse_user_id("@:example.org"));
  CHECK(parse_user_id("@x:[::1]"));
}

TEST_CASE("parse_user_id: rejects") {
  CHECK_FALSE(parse_user_id(""));
  CHECK_FALSE(parse_user_id("alice:matrix.org"));
  CHECK_FALSE(parse_user_id("#alice:matrix.org"));
  CHECK_FALSE(parse_user_id("@alice"));
  CHECK_FALSE(parse_user_id("@alice:"));
  CHECK_FALSE(parse_user_id("@alice:bad_server"));
  CHECK_FALSE(parse_user_id(std::string("@al\0ice:x.org", 13)));
  CHECK_FALSE(parse_user_id("@al\xff:x.org"));
  std::string at_limit = "@" + std::string(245, 'a') + ":x.org"; // 252 bytes
  CHECK(parse_user_id(at_limit));
  CHECK(parse_user_id(at_limit + "abc")); // 255
  CHECK_FALSE(parse_user_id(at_limit + "abcd")); // 256
}

TEST_CASE("valid_new_localpart: spec 1.8 character set") {
  CHECK(valid_new_localpart("alice"));
  CHECK(valid_new_localpart("a.b_c=d-e/f+g0123456789"));
  CHECK_FALSE(valid_new_localpart(""));
  CHECK_FALSE(valid_new_localpart("Alice"));
  CHECK_FALSE(valid_new_localpart("al ice"));
  CHECK_FALSE(valid_new_localpart("a:b"));
  CHECK_FALSE(valid_new_localpart("a*b"));
  CHECK_FALSE(valid_new_localpart("\xc3\xa9"));
}

TEST_CASE("room ids, aliases and event ids") {
  CHECK(valid_room_id("!abc:matrix.org"));
  CHECK(valid_room_id("!AbC123:[::1]:80"));
  CHECK_FALSE(valid_room_id("!abc"));
  CHECK_FALSE(valid_room_id("!:matrix.org"));
  CHECK_FALSE(valid_room_id("#abc:matrix.org"));
  CHECK_FALSE(valid_room_id("!abc:"));
  CHECK_FALSE(valid_room_id("!" + std::string(250, 'a') + ":x.org"));

  CHECK(valid_room_alias("#room:matrix.org"));
  CHECK(valid_room_alias("#r\xc3\xa9 !:matrix.org"));
  CHECK_FALSE(valid_room_alias("#room"));
  CHECK_FALSE(valid_room_alias("#:matrix.org"));
  CHECK_FALSE(valid_room_alias("!room:matrix.org"));

  CHECK(valid_event_id("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"));
  CHECK(valid_event_id("$0:domain"));
  CHECK_FALSE(valid_event_id("$"));
  CHECK_FALSE(valid_event_id("Rqnc"));
  CHECK_FALSE(valid_event_id("$" + std::string(255, 'a')));
  CHECK_FALSE(valid_event_id(std::string("$a\0b", 4)));
}

TEST_CASE("make_room_id and server_of") {
  std::string id = make_room_id("example.org:8448", system_environment());
  CHECK(id.size() == 1 + 18 + 1 + 16);
  CHECK(id[0] == '!');
  CHECK(valid_room_id(id));
  CHECK(server_of(id) == "example.org:8448");
  CHECK(make_room_id("x.org", system_environment()) != make_room_id("x.org", system_environment()));
  CHECK(server_of("@u:[::1]:80") == "[::1]:80");
  CHECK(server_of("#a:b") == "b");
  CHECK(server_of("$opaque") == "");
}
