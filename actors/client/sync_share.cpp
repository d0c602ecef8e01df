// actors/client/sync_share.cpp
#include "actors/client/sync_share.hpp"

#include <algorithm>

namespace axon::client {

shared_answers::ticket::~ticket() { owner_.leave(key_); }

std::shared_ptr<shared_answers::ticket> shared_answers::join(std::string key) {
  auto t = std::make_shared<ticket>(*this, key);
  std::lock_guard<std::mutex> lock(mu_);
  ++groups_[std::move(key)].members;
  return t;
}

void shared_answers::leave(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(key);
  if (g == groups_.end()) return;
  if (--g->second.members <= 0) groups_.erase(g);
}

http::response shared_answers::answer(const ticket& t, const std::vector<int64_t>& woke,
                                      const std::function<http::response()>& build) {
  std::unique_lock<std::mutex> lock(mu_);
  auto g = groups_.find(t.key_);
  if (g == groups_.end() || g->second.members <= 1) {
    lock.unlock();
    return build();
  }
  auto& results = g->second.results;
  auto found = std::find_if(results.begin(), results.end(), [&](auto& r) { return r->woke == woke; });
  if (found != results.end()) {
    auto r = *found; // the group may drop it meanwhile
    ready_.wait(lock, [&] { return r->ready; });
    if (r->shared) {
      ++copied_;
      return r->answer;
    }
    lock.unlock();
    return build();
  }
  auto mine = std::make_shared<result>();
  mine->woke = woke;
  results.push_back(mine);
  if (results.size() > max_results) results.erase(results.begin());
  lock.unlock();

  http::response out;
  try {
    out = build();
  } catch (...) {
    lock.lock();
    mine->ready = true;
    ready_.notify_all();
    throw;
  }
  lock.lock();
  mine->ready = true;
  if (!out.later) {
    mine->shared = true;
    mine->answer = out;
    ++built_;
  }
  ready_.notify_all();
  return out;
}

size_t shared_answers::groups() const {
  std::lock_guard<std::mutex> lock(mu_);
  return groups_.size();
}

uint64_t shared_answers::built() const {
  std::lock_guard<std::mutex> lock(mu_);
  return built_;
}

uint64_t shared_answers::copied() const {
  std::lock_guard<std::mutex> lock(mu_);
  return copied_;
}

shared_answers& shared_answers::instance() {
  // Never destroyed: tickets held by waits still being torn down at exit
  // must find it.
  static auto* one = new shared_answers;
  return *one;
}

} // namespace axon::client
