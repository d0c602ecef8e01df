// actors/federation/rate_limit.cpp -- see rate_limit.hpp. Synapse's
// FederationRateLimiter (_PerHostRatelimiter), without its thread-holding
// sleeps: a wait is a parked request (http::wait_then) that wakes after
// the delay, or earlier when the notifier wakes everyone, and then checks
// again.
#include "actors/federation/rate_limit.hpp"

#include "config/homeserver_config.hpp"
#include "transport/transport.hpp"

#include <memory>

namespace axon::federation {

namespace {

/// How long a request waits for one of its server's slots before looking
/// again.
constexpr int64_t slot_wait_ms = 50;

struct slot_guard {
  origin_limiter* limiter;
  std::string origin;
  ~slot_guard() { limiter->finish(origin); }
};

/// Waits `ms` without a thread, then `then()`.
http::response after(http::request& req, int64_t ms, std::function<http::response()> then) {
  // Nothing concerns the user "": only the timeout (or a wake of everyone) answers.
  return http::wait_then("", req.ctx->transport->positions(), {}, ms,
                         [then = std::move(then)](std::vector<int64_t>) { return then(); });
}

http::response run_when_free(http::request& req, const http::handler_fn& handler) {
  auto* l = req.ctx->federation_limiter;
  if (!l->start(req.origin))
    return after(req, slot_wait_ms, [&req, handler] { return run_when_free(req, handler); });
  slot_guard guard{l, req.origin};
  return handler(req);
}

} // namespace

origin_limiter::verdict origin_limiter::arrive(const std::string& origin, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (hosts_.size() > 100000) hosts_.clear(); // bounded: an attack on the map itself
  auto& h = hosts_[origin];
  while (!h.times.empty() && h.times.front() <= now_ms - cfg_.window_size_ms) h.times.pop_front();
  h.times.push_back(now_ms);
  auto n = static_cast<int64_t>(h.times.size());
  if (n > cfg_.reject_limit) {
    h.times.pop_back(); // a refused request is not counted
    return verdict::reject;
  }
  return n > cfg_.sleep_limit ? verdict::wait : verdict::go;
}

bool origin_limiter::start(const std::string& origin) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& h = hosts_[origin];
  if (h.running >= cfg_.concurrent) return false;
  ++h.running;
  return true;
}

void origin_limiter::finish(const std::string& origin) {
  std::lock_guard<std::mutex> lock(mu_);
  auto i = hosts_.find(origin);
  if (i != hosts_.end() && i->second.running > 0) --i->second.running;
}

http::response limited(http::request& req, const http::handler_fn& handler) {
  auto* l = req.ctx->federation_limiter;
  if (!l) return handler(req);
  switch (l->arrive(req.origin, req.ctx->env->now_ms())) {
  case origin_limiter::verdict::reject: {
    auto e = matrix_error(errc::limit_exceeded, "Too Many Requests");
    e.extra_json = "{\"retry_after_ms\":" + std::to_string(l->limits().window_size_ms) + "}";
    throw e;
  }
  case origin_limiter::verdict::wait:
    return after(req, l->limits().sleep_delay_ms, [&req, handler] { return run_when_free(req, handler); });
  case origin_limiter::verdict::go: break;
  }
  return run_when_free(req, handler);
}

} // namespace axon::federation
