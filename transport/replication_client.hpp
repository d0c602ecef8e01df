// transport/replication_client.hpp -- HTTP replication, the calling side:
// POST /_axon/replication/<wire_name> to the instance that owns a role,
// found through `instance_map`, with `worker_replication_secret` as a bearer
// token. Bodies: {"txn", "positions", "request"} -> {"positions", "reply"}.
// The wire is the instance's outbound HTTP client (actors/http/http_client),
// handed in as a function: transport/ sits below actors/.
#pragma once

#include "config/homeserver_config.hpp"
#include "messages/outbound_http.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace axon::transport {

/// What the other side answered: its reply and its stream positions.
struct replication_reply {
  nlohmann::json reply;
  std::vector<int64_t> positions;
};

/// Requests to the roles of other instances, as the routing transport makes
/// them. HTTP replication below; a simulated network in tests/sim.
class remote_calls {
public:
  virtual ~remote_calls() = default;
  /// Sends `request` to `instance` and returns its answer. Raises
  /// matrix_error: the receiver's error as it sent it, `unavailable` when
  /// the instance can't be reached, `timeout` when it doesn't answer.
  virtual replication_reply call(const std::string& instance, const std::string& wire_name,
                                 const nlohmann::json& request,
                                 const std::vector<int64_t>& positions) = 0;
};

/// The body of a replication request (transaction id, the caller's
/// positions, the request).
std::string replication_body(const std::string& txn, const nlohmann::json& request,
                             const std::vector<int64_t>& positions);
/// The answer of `instance` (HTTP status and JSON body) as a reply, or the
/// receiver's error raised as matrix_error.
replication_reply replication_answer(const std::string& instance, int status, nlohmann::json body);

/// Sends one request and waits for its answer (http::http_client::call).
using http_call = std::function<msg::outbound_response(msg::outbound_request)>;

/// The URL of `wire_name` on `loc`: http(s)://host:port/... or, for a unix
/// socket, unix:<path>:/...
std::string replication_url(const config::instance_location& loc, const std::string& wire_name);

class replication_client final : public remote_calls {
public:
  replication_client(std::map<std::string, config::instance_location> instance_map,
                     std::string secret, http_call http);
  ~replication_client() override;

  /// Retries once on a connection failure with the same transaction id (the
  /// receiver answers a repeated id from memory, so a retried write happens
  /// once); the client also retries a kept-alive connection the receiver
  /// closed, on a fresh one. A timeout is not retried: the request may be
  /// running there still.
  replication_reply call(const std::string& instance, const std::string& wire_name,
                         const nlohmann::json& request,
                         const std::vector<int64_t>& positions) override;

private:
  std::map<std::string, config::instance_location> instances_;
  std::string secret_;
  http_call http_;
};

} // namespace axon::transport
