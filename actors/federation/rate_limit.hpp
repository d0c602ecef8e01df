// actors/federation/rate_limit.hpp -- `rc_federation`: each other server's
// signed requests (transactions excepted, as in Synapse) counted per
// window; past sleep_limit each waits sleep_delay, past reject_limit it is
// refused (429 M_LIMIT_EXCEEDED); at most `concurrent` of one server's are
// handled at once, the rest wait their turn. A wait holds no thread: the
// request parks as a long-poll does and resumes when its time comes.
#pragma once

#include "actors/http/http_types.hpp"

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace axon::config { struct federation_rate_limit; }

namespace axon::federation {

class origin_limiter {
public:
  explicit origin_limiter(const config::federation_rate_limit& cfg) : cfg_(cfg) {}

  enum class verdict { go, wait, reject };
  /// Counts a request from `origin` at `now_ms`: reject past reject_limit
  /// in the window, wait past sleep_limit, else go.
  verdict arrive(const std::string& origin, int64_t now_ms);
  /// Takes one of `origin`'s concurrent slots; false when all are taken.
  bool start(const std::string& origin);
  /// Gives the slot back.
  void finish(const std::string& origin);

  const config::federation_rate_limit& limits() const { return cfg_; }

private:
  struct host {
    std::deque<int64_t> times; ///< arrivals within the window
    int running = 0;
  };
  const config::federation_rate_limit& cfg_;
  std::mutex mu_;
  std::unordered_map<std::string, host> hosts_;
};

/// Runs `handler` for the authenticated `req.origin` under the limits of
/// `req.ctx->federation_limiter` (none: at once).
http::response limited(http::request& req, const http::handler_fn& handler);

/// `handler` under rc_federation: what the federation route tables register
/// for every signed endpoint but transactions (as Synapse).
inline http::handler_fn rate_limited(http::handler_fn handler) {
  return [handler = std::move(handler)](http::request& req) { return limited(req, handler); };
}

} // namespace axon::federation
