// Synapse-format access tokens (synapse/handlers/auth.py generate_access_token,
// synapse/util/stringutils.py base62_encode).
#include "matrix/access_token.hpp"

#include "matrix/environment.hpp"

#include <doctest/doctest.h>

using namespace axon::matrix;

TEST_CASE("base62_encode: Synapse's alphabet and padding") {
  CHECK(base62_encode(0) == "0"); // Synapse pads to minwidth=1
  CHECK(base62_encode(0, 6) == "000000");
  CHECK(base62_encode(9) == "9");
  CHECK(base62_encode(10) == "A");
  CHECK(base62_encode(36) == "a");
  CHECK(base62_encode(61) == "z");
  CHECK(base62_encode(62) == "10");
  CHECK(base62_encode(4294967295u, 6) == "4gfFC3");
}

TEST_CASE("localpart_from_token: tokens as Synapse makes them") {
  // Built with Python: zlib.crc32 and Synapse's base62_encode(minwidth=6).
  CHECK(localpart_from_token("syt_YWxpY2U_abcdefghijklmnopqrst_1TMI8I") == std::string("alice"));
  CHECK(localpart_from_token("syt_YS9iK2M/_abcdefghijklmnopqrst_0K7pgJ") == std::string("a/b+c?"));
}

TEST_CASE("generate_access_token: format and round trip") {
  std::string token = generate_access_token("alice", system_environment());
  CHECK(token.size() == 4 + 7 + 1 + 20 + 1 + 6);
  CHECK(token.rfind("syt_YWxpY2U_", 0) == 0);
  CHECK(localpart_from_token(token) == std::string("alice"));
  CHECK(generate_access_token("alice", system_environment()) != token);
  CHECK(localpart_from_token(generate_access_token("", system_environment())) == std::string());
  CHECK(localpart_from_token(generate_access_token("\xc3\xa9t\xc3\xa9", system_environment())) == std::string("\xc3\xa9t\xc3\xa9"));
}

TEST_CASE("localpart_from_token: rejects") {
  std::string token = generate_access_token("bob", system_environment());
  CHECK_FALSE(localpart_from_token(""));
  CHECK_FALSE(localpart_from_token("syt_"));
  CHECK_FALSE(localpart_from_token("syr" + token.substr(3)));
  std::string flipped = token;
  flipped[15] = flipped[15] == 'a' ? 'b' : 'a';
  CHECK_FALSE(localpart_from_token(flipped));
  CHECK_FALSE(localpart_from_token(token.substr(0, token.size() - 1)));
  CHECK_FALSE(localpart_from_token(token + "x"));
  CHECK_FALSE(localpart_from_token("syt_YWxpY2U_abcdefghijklmnopqrst_1TMI8J"));
  CHECK_FALSE(localpart_from_token("some-opaque-token"));
}

TEST_CASE("generate_device_id: 10 upper-case letters") {
  std::string id = generate_device_id(system_environment());
  CHECK(id.size() == 10);
  for (char c : id) CHECK((c >= 'A' && c <= 'Z'));
  CHECK(generate_device_id(system_environment()) != id);
}
