// messages/to_device.hpp -- requests to the to_device writer
// (client-server API "Send-to-Device messaging").
#pragma once

#include <caf/meta/type_name.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace axon::msg {

/// One message for one device of a local user.
struct to_device_delivery {
  std::string user_id;
  std::string device_id;
  std::string message; ///< JSON object text: the event as delivered, {sender, type, content}
  static constexpr const char* wire_name = "to_device_delivery";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, to_device_delivery& x) {
  return f(caf::meta::type_name("to_device_delivery"), x.user_id, x.device_id, x.message);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(to_device_delivery, user_id, device_id, message)

/// The messages of one request for the users of one other server: an
/// m.direct_to_device EDU the federation sender delivers (Synapse's
/// device_federation_outbox).
struct remote_to_device {
  std::string destination;
  std::string message_id;
  std::string content; ///< JSON object text: the EDU content {sender, type, message_id, messages}
  static constexpr const char* wire_name = "remote_to_device";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_to_device& x) {
  return f(caf::meta::type_name("remote_to_device"), x.destination, x.message_id, x.content);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(remote_to_device, destination, message_id, content)

/// PUT /sendToDevice with `*` already expanded: stores every delivery at one
/// new to_device position and replies with it. A transaction id the sending
/// device used before stores nothing and replies with the first position.
struct send_to_device {
  std::string sender;        ///< the sending user
  std::string sender_device; ///< the device of the access token (transaction scope)
  std::string txn_id;
  std::vector<to_device_delivery> deliveries; ///< at most one per (user_id, device_id)
  /// For other servers' users: stored in the same transaction, at the same
  /// position, then sent by the federation sender. At most one per destination.
  std::vector<remote_to_device> remote;
  static constexpr const char* wire_name = "send_to_device";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, send_to_device& x) {
  return f(caf::meta::type_name("send_to_device"), x.sender, x.sender_device, x.txn_id,
           x.deliveries, x.remote);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(send_to_device, sender, sender_device, txn_id, deliveries, remote)

/// The device has received every message up to `up_to` (it synced with a
/// token at or past it): deletes them; replies with the stream position.
struct ack_to_device {
  std::string user_id;
  std::string device_id;
  int64_t up_to = 0;
  static constexpr const char* wire_name = "ack_to_device";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ack_to_device& x) {
  return f(caf::meta::type_name("ack_to_device"), x.user_id, x.device_id, x.up_to);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ack_to_device, user_id, device_id, up_to)

} // namespace axon::msg
