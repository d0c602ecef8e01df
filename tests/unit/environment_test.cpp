// matrix/environment.hpp: ids and tokens come from the injected randomness,
// so a simulated run with the same seed produces the same ones.
#include "matrix/access_token.hpp"
#include "matrix/environment.hpp"
#include "matrix/identifiers.hpp"

#include <doctest/doctest.h>

#include <cstdint>

using namespace axon::matrix;

namespace {

/// A fixed clock and a linear congruential generator seeded by hand.
class fake_environment final : public environment {
public:
  explicit fake_environment(uint64_t seed) : state_(seed) {}
  int64_t now_ms() override { return 1'700'000'000'000; }
  uint32_t uniform(uint32_t upper) override {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(state_ >> 33) % upper;
  }

private:
  uint64_t state_;
};

} // namespace

TEST_CASE("ids and tokens from the same seed are the same; another seed differs") {
  fake_environment a(42), b(42), c(43);
  auto room_a = make_room_id("example.org", a), room_b = make_room_id("example.org", b);
  CHECK(room_a == room_b);
  CHECK(valid_room_id(room_a));
  CHECK(make_room_id("example.org", c) != room_a);
  CHECK(generate_access_token("alice", a) == generate_access_token("alice", b));
  CHECK(generate_device_id(a) == generate_device_id(b));
  CHECK(random_string(16, a).size() == 16);
}

TEST_CASE("the system environment's clock is the wall clock's") {
  auto now = system_environment().now_ms();
  CHECK(now > 1'600'000'000'000);
  CHECK(system_environment().uniform(1) == 0);
}
