// actors/http/http_server.hpp -- the HTTP listener role: one event-driven
// server per configured listener (listener.cpp, Boost.Beast on Asio),
// dispatching to the route table.
//
// Connections wait in the listener's event loop, not in threads. A parsed
// request is a message to one of the listener's handler actors
// (request_pool.hpp: a bounded pool of detached actors, not CAF's
// scheduler), where handlers may block on the database and on transport
// calls; a long-poll parks on the notifier without a thread (deferred in
// http_types.hpp) and resumes as a message to a handler actor. The
// listener actor that owns a server is in listener_actor.hpp.
#pragma once

#include <string_view>

#include "actors/http/http_types.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace axon::config { struct listener_config; }
namespace caf { class actor_system; }

namespace axon::http {

class router;

/// Largest request body accepted; events are further limited to 65536
/// bytes by the event size check.
constexpr size_t max_json_body = 1024 * 1024;
/// Largest federation transaction (PUT /_matrix/federation/v1/send/...):
/// 50 PDUs and 100 EDUs of up to 64 KiB each, with room to spare.
constexpr size_t max_transaction_body = 12 * 1024 * 1024;

/// The body limit for a request target (path and query as sent).
inline size_t body_limit_for(std::string_view target) {
  return target.rfind("/_matrix/federation/v1/send/", 0) == 0 ? max_transaction_body : max_json_body;
}

/// Between a parked request and its connection. dispatch_async tells it
/// when the request parks (with the transport's wait id) and wakes; the wire
/// calls client_gone() when the client disconnects meanwhile: the wait is
/// cancelled (what it holds is freed now, not at its timeout) and the
/// handler does not resume. `on_park` (set by the wire) runs when the
/// request has parked, so the wire can watch the connection only then.
class wait_link {
public:
  std::function<void()> on_park;

  uint64_t begin_park();
  void parked(uint64_t park, transport::transport* t, uint64_t id);
  void woken(uint64_t park);
  void client_gone();
  bool gone() const;
  /// How many times a request on this connection parked so far.
  uint64_t parks() const;

private:
  mutable std::mutex mu_;
  uint64_t park_ = 0;  ///< the current park's number
  bool woken_ = false; ///< the current park has been answered
  bool gone_ = false;
  transport::transport* transport_ = nullptr;
  uint64_t id_ = 0; ///< the current park's wait id (0: none to cancel)
};

/// One request as it arrived, apart from the wire that brought it (the
/// Beast listener, listener.cpp; the placement simulation calls dispatch()
/// directly).
struct incoming {
  std::string method;
  std::string uri;           ///< path and query, undecoded
  std::string remote_addr;   ///< the client (X-Forwarded-For already applied)
  std::string authorization; ///< the Authorization header, if any
  std::string user_agent;    ///< the User-Agent header, if any
  std::string content_type;  ///< the Content-Type header, if any
  std::string range;         ///< the Range header, if any
  /// A file_body route's body, already read to this temporary file; it is
  /// deleted when the last holder of `body_file_guard` goes.
  std::string body_file;
  uint64_t body_size = 0;
  std::shared_ptr<void> body_file_guard;
  std::string request_id;    ///< e.g. "GET-42": in every log line the request causes
  /// Reads the body into its argument; called once the route is known, and
  /// may raise matrix_error (too_large).
  std::function<void(std::string&)> read_body;
  /// The connection's side of a long-poll (null: nobody watches, e.g. the
  /// simulation).
  std::shared_ptr<wait_link> link;
};

/// Routes, authenticates and runs the handler; every failure becomes the
/// Matrix error's status and JSON body. The only place errors become
/// responses.
/// A deferred answer (a long-poll) is waited for here, blocking the caller:
/// for the placement simulation and tests. A raw (media) body is dropped.
std::pair<int, nlohmann::json> dispatch(const router& r, server_context* ctx, const incoming& in);

/// The answer to a request: status and JSON, or a raw body (media).
using answer_fn = std::function<void(int, nlohmann::json, std::shared_ptr<raw_body>)>;

/// The same without blocking on waits: call it on a handler actor; a
/// deferred answer parks on the notifier and resumes through `post` (which
/// runs its argument on a handler actor); `done` gets the answer.
void dispatch_async(const router& r, server_context* ctx, std::shared_ptr<incoming> in,
                    std::function<void(std::function<void()>)> post, answer_fn done);

/// A temporary file that is deleted when this goes (a streamed body).
std::shared_ptr<void> temp_file_guard(std::string path);

/// A listener's overload figures (the metrics endpoint comes later).
struct listener_figures {
  int64_t open = 0;      ///< connections open now
  uint64_t refused = 0;  ///< connections refused so far (http.max_connections, out of descriptors)
  int64_t in_flight = 0; ///< requests running, queued for a handler actor, or parked
  size_t queued = 0;     ///< of those, waiting for a handler actor
  int port = 0;          ///< the TCP port (0: a Unix socket)
};

class listener {
public:
  virtual ~listener() = default;
  virtual void stop() = 0;
  virtual int port() const = 0;
  virtual listener_figures figures() const = 0;
};

/// Starts serving `lc` (HTTP or HTTPS per `lc.tls`), its handler actors in
/// `sys`; throws std::runtime_error naming the address when it cannot bind.
std::unique_ptr<listener> start_listener(caf::actor_system& sys, const config::listener_config& lc,
                                         const std::vector<route>& routes, server_context* ctx,
                                         const std::string& tls_cert, const std::string& tls_key);

} // namespace axon::http
