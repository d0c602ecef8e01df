// actors/client/cross_signing.hpp -- the cross-signing parts of
// POST /keys/query (actors/client/cross_signing_handlers.cpp).
#pragma once

#include "actors/client/common.hpp"

#include <string>
#include <vector>

namespace axon::client {

/// Completes a /keys/query answer for the local `users` queried: merges the
/// uploaded signatures into their device keys (`device_keys` is
/// {user: {device: DeviceKeys}}) and adds master_keys, self_signing_keys and
/// (the requester's own only) user_signing_keys to `out`. Signatures shown
/// are those by the key's owner and by the requester `viewer` (spec: a
/// user's signatures of others' master keys are visible to that user only);
/// another server (`viewer` "") sees the owners' only, and no
/// user_signing_keys.
void add_cross_signing_to_query(request& req, const std::vector<std::string>& users,
                                json& device_keys, json& out, const std::string& viewer);

} // namespace axon::client
