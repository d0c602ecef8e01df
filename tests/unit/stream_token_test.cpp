#include "matrix/stream_token.hpp"

#include <doctest/doctest.h>

using axon::matrix::parse_stream_token;

TEST_CASE("stream tokens round-trip") {
  auto t = parse_stream_token("s42");
  REQUIRE(t);
  CHECK(t->events == 42);
  CHECK(t->others.empty());
  CHECK(t->to_string() == "s42");
  auto u = parse_stream_token("s7_3_0");
  REQUIRE(u);
  CHECK(u->events == 7);
  CHECK(u->others == std::vector<int64_t>{3, 0});
  CHECK(u->to_string() == "s7_3_0");
}

TEST_CASE("malformed stream tokens are refused") {
  for (auto bad : {"", "s", "42", "t1-2", "s-1", "s1_", "s1__2", "s1x", "s99999999999999999999",
                   "S1", "s 1"})
    CHECK_FALSE(parse_stream_token(bad));
}
