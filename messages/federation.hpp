// messages/federation.hpp -- requests to the federation sender
// (actors/federation/federation_sender.hpp).
#pragma once

#include <caf/meta/type_name.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace axon::msg {

/// Something is queued for these destinations (stored first: the sender
/// reads its queues from the database), or, with `server_up`, they just
/// sent us a signed request: any backoff towards them ends and their queue
/// is sent now (Synapse's notify_remote_server_up). No reply; a lost one
/// is made good by the sender's periodic scan.
///
/// `edus` (JSON text of {"edu_type", "content"} objects) go along to every
/// destination: room EDUs (typing, receipts, presence), which the sender
/// keeps in memory only, as Synapse's does (they are soon stale; a typing
/// notice a server missed while down is better lost than late).
struct wake_federation {
  std::vector<std::string> destinations;
  bool server_up = false;
  std::vector<std::string> edus;
  static constexpr const char* wire_name = "wake_federation";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wake_federation& x) {
  return f(caf::meta::type_name("wake_federation"), x.destinations, x.server_up, x.edus);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(wake_federation, destinations, server_up, edus)

/// A request to another homeserver, made by an instance that may send
/// federation requests (outbound_federation_restricted_to) for one that may
/// not: it is signed and sent there, and the answer comes back.
struct federation_request {
  std::string destination;
  std::string method;
  std::string path;    ///< path and query, percent-encoded
  std::string content; ///< JSON body text; "" for none
  bool sign = true;
  int64_t timeout_ms = 0;
  static constexpr const char* wire_name = "federation_request";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, federation_request& x) {
  return f(caf::meta::type_name("federation_request"), x.destination, x.method, x.path, x.content, x.sign,
           x.timeout_ms);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(federation_request, destination, method, path, content, sign, timeout_ms)

/// Its answer: the other server's status and body, or why none came.
struct federation_reply {
  int status = 0; ///< 0: no answer
  std::string body;
  std::string error;
  static constexpr const char* wire_name = "federation_reply";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, federation_reply& x) {
  return f(caf::meta::type_name("federation_reply"), x.status, x.body, x.error);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(federation_reply, status, body, error)

} // namespace axon::msg
