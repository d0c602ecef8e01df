// messages/federation.hpp -- requests to the federation sender
// (actors/federation/federation_sender.hpp).
#pragma once

#include <caf/meta/type_name.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace axon::msg {

/// Something is queued for these destinations (stored first: the sender
/// reads its queues from the database), or, with `server_up`, they just
/// sent us a signed request: any backoff towards them ends and their queue
/// is sent now (Synapse's notify_remote_server_up). No reply; a lost one
/// is made good by the sender's periodic scan.
struct wake_federation {
  std::vector<std::string> destinations;
  bool server_up = false;
  static constexpr const char* wire_name = "wake_federation";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wake_federation& x) {
  return f(caf::meta::type_name("wake_federation"), x.destinations, x.server_up);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(wake_federation, destinations, server_up)

} // namespace axon::msg
