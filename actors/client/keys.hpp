// actors/client/keys.hpp -- this server's users' E2EE keys as answers give
// them, shared by the client API (/keys/query, /keys/claim) and the
// federation API (/user/keys/query, /user/keys/claim, /user/devices:
// actors/federation/user_handlers.cpp).
#pragma once

#include "actors/client/common.hpp"

#include <string>
#include <vector>

namespace axon::client {

/// A valid user id of this server.
bool is_local_user(request& req, const std::string& user_id);

/// The device keys of local `user_id` for `device_ids` (every device when
/// empty): {device_id: DeviceKeys}, each with unsigned.device_display_name
/// when the device has a name.
json local_device_keys(request& req, const std::string& user_id, const std::vector<std::string>& device_ids);

/// Checks a {user: [device ids] or null} query (`device_keys` of both
/// /keys/query): M_BAD_JSON when a value is neither; returns each user with
/// the devices asked for (empty: all). Invalid user ids are left out.
std::vector<std::pair<std::string, std::vector<std::string>>> device_keys_query(const json& wanted);

/// Checks a {user: {device: algorithm}} claim (`one_time_keys` of both
/// /keys/claim): M_BAD_JSON when malformed. Invalid user ids are left out.
json one_time_keys_claim(const json& wanted);

} // namespace axon::client
