// actors/http/request_pool.cpp -- the handler actors of request_pool.hpp.
//
// The message is local only: a closure (the request, its connection and its
// answer callback) that never leaves the process, so it is not in the
// type-ID block of messages/caf_types.hpp and is never serialised.
#include "actors/http/request_pool.hpp"

#include <caf/all.hpp>

#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <vector>

namespace axon::http::detail {

/// One request to run (or a long-poll to resume) on a handler actor.
struct request_job {
  std::function<void()> run;
};

} // namespace axon::http::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(axon::http::detail::request_job)

namespace axon::http {

using detail::request_job;

// ---- state -------------------------------------------------------------------------------

/// The handler actor's interface: it runs what it is sent.
using request_handler_actor = caf::typed_actor<caf::reacts_to<request_job>>;

struct request_pool::shared {
  caf::actor_system& sys;
  mutable std::mutex mu;
  std::condition_variable ended; ///< a handler ended (live fell)
  std::vector<request_handler_actor> handlers;
  std::vector<size_t> idle;      ///< handlers waiting for a message, by index
  std::deque<std::function<void()>> backlog; ///< jobs no handler was free for
  size_t in_mailboxes = 0;       ///< jobs sent to a handler, not started
  size_t live = 0;               ///< handlers not ended
  bool stopped = false;

  explicit shared(caf::actor_system& s) : sys(s) {}
};

struct request_handler_state {
  static inline const char* name = "request_handler";
};

// ---- helpers -----------------------------------------------------------------------------

namespace {

/// Runs one job; what escapes it is logged, so the handler stays in the pool.
void run_job(std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    std::cerr << "http request handler: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "http request handler: unknown exception\n";
  }
  fn = nullptr; // what the job holds (its connection) goes now, not at the next job
}

// ---- behavior ----------------------------------------------------------------------------

request_handler_actor::behavior_type
request_handler(request_handler_actor::stateful_pointer<request_handler_state> self,
                std::shared_ptr<request_pool::shared> pool, size_t index) {
  self->attach_functor([pool] {
    std::lock_guard<std::mutex> lk(pool->mu);
    --pool->live;
    pool->ended.notify_all();
  });
  return {
    [=](request_job& job) {
      {
        std::lock_guard<std::mutex> lk(pool->mu);
        --pool->in_mailboxes;
      }
      // Then whatever queued meanwhile, before going back to idle: a busy
      // handler is never sent a job, so its mailbox stays empty.
      for (auto fn = std::move(job.run);;) {
        run_job(fn);
        std::lock_guard<std::mutex> lk(pool->mu);
        if (pool->stopped) return;
        if (pool->backlog.empty()) {
          pool->idle.push_back(index);
          return;
        }
        fn = std::move(pool->backlog.front());
        pool->backlog.pop_front();
      }
    },
  };
}

} // namespace

// ---- the pool ----------------------------------------------------------------------------

request_pool::request_pool(caf::actor_system& sys, size_t handlers) : shared_(std::make_shared<shared>(sys)) {
  handlers = std::max<size_t>(1, handlers);
  std::lock_guard<std::mutex> lk(shared_->mu);
  for (size_t i = 0; i < handlers; ++i) {
    shared_->handlers.push_back(sys.spawn<caf::detached>(request_handler, shared_, i));
    ++shared_->live;
    // Taken from the back: the handler that ran last runs next (its stack
    // and caches are warm), the others stay asleep.
    shared_->idle.push_back(handlers - 1 - i);
  }
}

request_pool::~request_pool() { stop(); }

void request_pool::post(std::function<void()> job) {
  std::unique_lock<std::mutex> lk(shared_->mu);
  if (shared_->stopped) {
    lk.unlock(); // the job's destructors may post again
    return;
  }
  if (shared_->idle.empty()) {
    shared_->backlog.push_back(std::move(job));
    return;
  }
  auto to = shared_->handlers[shared_->idle.back()];
  shared_->idle.pop_back();
  ++shared_->in_mailboxes;
  lk.unlock();
  caf::anon_send(to, request_job{std::move(job)});
}

size_t request_pool::queued() const {
  std::lock_guard<std::mutex> lk(shared_->mu);
  return shared_->backlog.size() + shared_->in_mailboxes;
}

void request_pool::stop() {
  std::deque<std::function<void()>> dropped;
  std::vector<request_handler_actor> handlers;
  {
    std::lock_guard<std::mutex> lk(shared_->mu);
    if (shared_->stopped) return;
    shared_->stopped = true;
    dropped.swap(shared_->backlog);
    handlers = shared_->handlers;
  }
  dropped.clear(); // outside the lock: a dropped job's destructors may post
  for (auto& h : handlers) caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  handlers.clear();
  std::unique_lock<std::mutex> lk(shared_->mu);
  shared_->ended.wait(lk, [&] { return shared_->live == 0; });
  shared_->handlers.clear();
}

} // namespace axon::http
