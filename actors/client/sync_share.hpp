// actors/client/sync_share.hpp -- identical parked /sync requests woken by
// the same row build their answer once.
//
// A client often has several long-polls open with the same token (retries
// after a dropped connection, several tabs of one session, a proxy's
// retries), and each is woken by the same row, at the same positions: each
// would build the same answer. Synapse serves identical /sync requests from
// one computation (its sync response cache, keyed by user, device, since,
// filter, full_state and timeout); here the first woken request builds the
// answer and the others with the same key and the same positions copy it.
// An answer is kept only while another identical request is still parked or
// not yet answered, so nothing outlives the waits.
#pragma once

#include "actors/http/http_types.hpp"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace axon::client {

class shared_answers {
public:
  /// One parked request's place in its key's group: the group (and the
  /// answers it keeps) lives as long as one of its tickets.
  class ticket {
  public:
    ticket(shared_answers& owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    ~ticket();
    ticket(const ticket&) = delete;
    ticket& operator=(const ticket&) = delete;

  private:
    friend class shared_answers;
    shared_answers& owner_;
    std::string key_;
  };

  /// Joins `key`'s group, for a request about to park.
  std::shared_ptr<ticket> join(std::string key);

  /// The answer for positions `woke`: a copy of the one an identical
  /// request built (waiting for it while it is being built), else built now
  /// by `build`. A request alone in its group builds without keeping
  /// anything. An answer that fails or waits again (`later`) is not shared:
  /// the others build their own.
  http::response answer(const ticket& t, const std::vector<int64_t>& woke,
                        const std::function<http::response()>& build);

  /// Groups now (tests, figures).
  size_t groups() const;
  /// Answers built and kept for others, and answers copied, since start.
  uint64_t built() const;
  uint64_t copied() const;

  /// This process's (the handlers' keys start with their instance's context).
  static shared_answers& instance();

private:
  struct result {
    std::vector<int64_t> woke;
    bool ready = false;
    bool shared = false; ///< ready and the others may copy it
    http::response answer;
  };
  struct group {
    int members = 0;
    std::vector<std::shared_ptr<result>> results; ///< newest last, a few
  };
  /// Answers kept per group: positions move on between wake-ups, and a
  /// request woken at older ones is answered soon after.
  static constexpr size_t max_results = 4;

  void leave(const std::string& key);

  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::unordered_map<std::string, group> groups_;
  uint64_t built_ = 0, copied_ = 0;
};

} // namespace axon::client
