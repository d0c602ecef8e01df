// Identical woken long-polls build their answer once (actors/client/sync_share.hpp).
#include "actors/client/sync_share.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

using namespace axon;
using nlohmann::json;

namespace {

http::response built(int n) { return {200, json{{"n", n}}}; }

} // namespace

TEST_CASE("shared answers: identical requests woken at the same positions build once") {
  client::shared_answers share;
  auto a = share.join("k");
  auto b = share.join("k");
  auto c = share.join("k");
  CHECK(share.groups() == 1);
  int builds = 0;
  auto build = [&] { return built(++builds); };
  CHECK(share.answer(*a, {5, 1}, build).body == json{{"n", 1}});
  CHECK(share.answer(*b, {5, 1}, build).body == json{{"n", 1}});
  // Other positions are another answer.
  CHECK(share.answer(*c, {6, 1}, build).body == json{{"n", 2}});
  CHECK(builds == 2);
  CHECK(share.copied() == 1);
  a.reset();
  b.reset();
  c.reset();
  // The group and its answers end with the last request.
  CHECK(share.groups() == 0);
}

TEST_CASE("shared answers: a request alone builds and keeps nothing; keys are apart") {
  client::shared_answers share;
  int builds = 0;
  auto build = [&] { return built(++builds); };
  {
    auto alone = share.join("k1");
    CHECK(share.answer(*alone, {1}, build).body == json{{"n", 1}});
  }
  auto x = share.join("k2");
  auto y = share.join("k3");
  CHECK(share.answer(*x, {1}, build).body == json{{"n", 2}});
  CHECK(share.answer(*y, {1}, build).body == json{{"n", 3}});
  CHECK(share.built() == 0);
  CHECK(share.copied() == 0);
}

TEST_CASE("shared answers: a failed build or one that waits again is not shared") {
  client::shared_answers share;
  auto a = share.join("k");
  auto b = share.join("k");
  CHECK_THROWS(share.answer(*a, {1}, []() -> http::response { throw std::runtime_error("db"); }));
  int builds = 0;
  CHECK(share.answer(*b, {1}, [&] { return built(++builds); }).body == json{{"n", 1}});
  CHECK(builds == 1);

  auto c = share.join("w");
  auto d = share.join("w");
  auto again = share.answer(*c, {2}, [] {
    return http::wait_then("@u:x", {2}, {}, 1000, [](std::vector<int64_t>) { return http::response{}; });
  });
  CHECK(again.later);
  CHECK(share.answer(*d, {2}, [&] { return built(++builds); }).body == json{{"n", 2}});
}

TEST_CASE("shared answers: requests woken on other threads wait for the one building") {
  client::shared_answers share;
  constexpr int n = 8;
  std::vector<std::shared_ptr<client::shared_answers::ticket>> tickets;
  for (int i = 0; i < n; ++i) tickets.push_back(share.join("k"));
  std::atomic<int> builds{0};
  std::promise<void> release;
  auto gate = release.get_future().share();
  auto build = [&] {
    ++builds;
    gate.wait(); // slow: the others arrive meanwhile
    return built(7);
  };
  std::vector<std::future<http::response>> answers;
  for (int i = 0; i < n; ++i)
    answers.push_back(std::async(std::launch::async, [&, i] { return share.answer(*tickets[i], {3}, build); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  release.set_value();
  for (auto& a : answers) CHECK(a.get().body == json{{"n", 7}});
  CHECK(builds == 1);
  CHECK(share.copied() == n - 1);
}
