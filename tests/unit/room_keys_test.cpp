// The key backup replacement rule (client-server API "Server-side key
// backups" > "Storing keys").
#include "matrix/room_keys.hpp"

#include <doctest/doctest.h>

using axon::matrix::room_key;
using axon::matrix::should_replace_room_key;

namespace {
room_key key(int64_t index, int64_t forwarded, bool verified) {
  return {index, forwarded, verified, "{}"};
}
} // namespace

TEST_CASE("room keys: a verified key replaces an unverified one, never the reverse") {
  CHECK(should_replace_room_key(key(5, 5, false), key(9, 9, true)));
  CHECK_FALSE(should_replace_room_key(key(9, 9, true), key(0, 0, false)));
}

TEST_CASE("room keys: with equal verification the lower first_message_index wins") {
  CHECK(should_replace_room_key(key(5, 0, false), key(4, 9, false)));
  CHECK_FALSE(should_replace_room_key(key(4, 0, true), key(5, 0, true)));
}

TEST_CASE("room keys: then the lower forwarded_count wins; an equal key is kept") {
  CHECK(should_replace_room_key(key(5, 2, false), key(5, 1, false)));
  CHECK_FALSE(should_replace_room_key(key(5, 1, false), key(5, 2, false)));
  CHECK_FALSE(should_replace_room_key(key(5, 1, true), key(5, 1, true)));
}
