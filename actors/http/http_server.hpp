// actors/http/http_server.hpp -- the HTTP listener role: one Poco server per
// configured listener, dispatching to the route table.
//
// Request threads belong to Poco's pool, not to CAF's scheduler, so handlers
// may block on the database and on transport calls.
#pragma once

#include "actors/http/http_types.hpp"

#include <memory>
#include <string>
#include <vector>

namespace axon::config { struct listener_config; }

namespace axon::http {

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
