// tests/unit/actors/request_pool_test.cpp -- a listener's handler actors
// (actors/http/request_pool.hpp): every job runs on one of them, at most as
// many at once as there are handlers, the rest queued; stop() drops what has
// not started and waits for what runs.
#include <doctest/doctest.h>

#include "actors/http/request_pool.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

using namespace axon;
using namespace std::chrono_literals;

namespace {

/// Jobs that wait until the test opens the gate, and count themselves.
struct gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int started = 0;
  int finished = 0;
  std::set<std::thread::id> threads;

  std::function<void()> job() {
    return [this] {
      std::unique_lock<std::mutex> lk(mu);
      ++started;
      threads.insert(std::this_thread::get_id());
      cv.notify_all();
      cv.wait(lk, [&] { return open; });
      ++finished;
      cv.notify_all();
    };
  }
  /// Waits (at most 10 s, a guard against a hang) until `pred` holds.
  bool until(const std::function<bool()>& pred) {
    std::unique_lock<std::mutex> lk(mu);
    return cv.wait_for(lk, 10s, pred);
  }
  void release() {
    std::lock_guard<std::mutex> lk(mu);
    open = true;
    cv.notify_all();
  }
};

struct pool_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
};

} // namespace

TEST_CASE_FIXTURE(pool_fixture, "a request pool runs jobs on its handlers side by side and queues the rest") {
  http::request_pool pool(sys, 2);
  gate g;
  pool.post(g.job());
  pool.post(g.job());
  REQUIRE(g.until([&] { return g.started == 2; }));
  // Both handlers are busy: the third waits in the queue.
  pool.post(g.job());
  CHECK(pool.queued() == 1);
  CHECK(g.started == 2);
  g.release();
  REQUIRE(g.until([&] { return g.finished == 3; }));
  CHECK(pool.queued() == 0);
  // Two handlers, each on its own thread, none of them this one.
  CHECK(g.threads.size() == 2);
  CHECK(g.threads.count(std::this_thread::get_id()) == 0);
  pool.stop();
}

TEST_CASE_FIXTURE(pool_fixture, "a job that throws leaves its handler in the pool") {
  http::request_pool pool(sys, 1);
  pool.post([] { throw std::runtime_error("handler failed"); });
  std::promise<void> ran;
  pool.post([&] { ran.set_value(); });
  CHECK(ran.get_future().wait_for(10s) == std::future_status::ready);
  pool.stop();
}

TEST_CASE_FIXTURE(pool_fixture, "stop drops the jobs not started, lets the running one finish, and drops later ones") {
  http::request_pool pool(sys, 1);
  gate g;
  pool.post(g.job());
  REQUIRE(g.until([&] { return g.started == 1; }));
  auto held = std::make_shared<int>(0);
  bool queued_ran = false;
  pool.post([held, &queued_ran] { queued_ran = true; });
  CHECK(held.use_count() == 2);
  auto stopped = std::async(std::launch::async, [&] { pool.stop(); });
  // stop() drops the queued job (what it holds is freed) while the running
  // one still runs, then waits for that one.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (pool.queued() > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  REQUIRE(pool.queued() == 0);
  CHECK(held.use_count() == 1);
  CHECK(stopped.wait_for(0s) == std::future_status::timeout);
  g.release();
  CHECK(stopped.wait_for(10s) == std::future_status::ready);
  CHECK(g.finished == 1);
  CHECK_FALSE(queued_ran);
  CHECK(held.use_count() == 1);
  bool late_ran = false;
  pool.post([held, &late_ran] { late_ran = true; });
  CHECK_FALSE(late_ran);
  CHECK(held.use_count() == 1);
}
