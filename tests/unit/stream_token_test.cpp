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

TEST_CASE("stream tokens carry the events writers ahead of the lowest") {
  auto t = parse_stream_token("s10~1.14~3.12_5_0");
  REQUIRE(t);
  CHECK(t->events == 10);
  CHECK(t->writers == std::vector<std::pair<int64_t, int64_t>>{{1, 14}, {3, 12}});
  CHECK(t->others == std::vector<int64_t>{5, 0});
  CHECK(t->to_string() == "s10~1.14~3.12_5_0");
  // A writer at the lowest position says nothing: it is left out.
  axon::matrix::stream_token u{10, {2}, {{1, 10}, {2, 11}}};
  CHECK(u.to_string() == "s10~2.11_2");
}

TEST_CASE("malformed stream tokens are refused") {
  for (auto bad : {"", "s", "42", "t1-2", "s-1", "s1_", "s1__2", "s1x", "s99999999999999999999",
                   "S1", "s 1", "s1~", "s1~2", "s1~2.", "s1~.3", "s1~2.3~", "s1_2~3.4", "s1~-2.3"})
    CHECK_FALSE(parse_stream_token(bad));
}
