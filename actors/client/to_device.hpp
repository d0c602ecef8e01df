// actors/client/to_device.hpp -- to-device messages for this server's users'
// devices, shared by the client API (PUT /sendToDevice) and the federation
// API (m.direct_to_device EDUs: actors/federation/transaction_handlers.cpp).
#pragma once

#include "actors/client/common.hpp"
#include "messages/to_device.hpp"

#include <string>
#include <vector>

namespace axon::client {

/// One delivery per (local user, existing device) of `messages` ({user:
/// {device or "*": content}}) from `sender`: an explicit device id
/// overrides "*" for that device (Synapse keeps one message per device);
/// unknown devices, other servers' users and entries that are not objects
/// are skipped.
std::vector<msg::to_device_delivery> local_deliveries(request& req, const json& messages, const std::string& sender,
                                                      const std::string& type);

} // namespace axon::client
