// actors/http/http_server.hpp -- the HTTP listener role: one Poco server per
// configured listener, dispatching to the route table.
//
// Request threads belong to Poco's pool, not to CAF's scheduler, so handlers
// may block on the database and on transport calls.
#pragma once

#include "actors/http/http_types.hpp"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace axon::config { struct listener_config; }

namespace axon::http {

class router;

/// One request as it arrived, apart from the wire that brought it (Poco's
/// listener below; the placement simulation calls dispatch() directly).
struct incoming {
  std::string method;
  std::string uri;           ///< path and query, undecoded
  std::string remote_addr;   ///< the client (X-Forwarded-For already applied)
  std::string authorization; ///< the Authorization header, if any
  std::string user_agent;    ///< the User-Agent header, if any
  /// Reads the body into its argument; called once the route is known, and
  /// may raise matrix_error (too_large).
  std::function<void(std::string&)> read_body;
};

/// Routes, authenticates and runs the handler; every failure becomes the
/// Matrix error's status and JSON body. The only place errors become
/// responses.
std::pair<int, nlohmann::json> dispatch(const router& r, server_context* ctx, const incoming& in);

class listener {
public:
  virtual ~listener() = default;
  virtual void stop() = 0;
  virtual int port() const = 0;
};

/// Starts serving `lc` (HTTP or HTTPS per `lc.tls`); throws std::runtime_error
/// naming the address when it cannot bind.
std::unique_ptr<listener> start_listener(const config::listener_config& lc,
                                         const std::vector<route>& routes, server_context* ctx,
                                         const std::string& tls_cert, const std::string& tls_key);

} // namespace axon::http
