// actors/federation/hierarchy.hpp -- spaces: what /hierarchy (client-server
// API "Spaces", server-server API "Spaces") says of a room and its
// m.space.child rooms, as Synapse 1.67 computes it (handlers/room_summary.py):
// who may see which room, the children in their order, and asking another
// server for a room this one is not in. Blocking, for request threads.
#pragma once

#include "actors/http/http_types.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace axon::federation {

/// Whether the room (one this server has the state of) may be shown to
/// `user_id` (a client request) or to server `origin` (federation; pass an
/// empty user): public or knock join rules, world_readable history, the
/// user joined or invited (the server: one of its users joined or invited),
/// or a restricted room whose allowed rooms hold them.
bool local_room_accessible(http::server_context& ctx, const std::string& room_id, const std::string& user_id,
                           const std::string& origin);

/// The room's summary (room_directory_entry; with `for_federation`, the
/// allowed_room_ids of a restricted room) and, when it is a space and
/// `with_children`, its m.space.child events stripped (those with a valid
/// `via`; `suggested_only`: the suggested ones), in the spec's order.
nlohmann::json local_room_entry(http::server_context& ctx, const std::string& room_id, bool for_federation,
                                bool suggested_only, bool with_children);

/// Another server's /hierarchy of a room: the room (with children_state),
/// summaries of the children it gave, the children it said are not for us.
struct remote_hierarchy {
  nlohmann::json room;
  std::map<std::string, nlohmann::json> children;
  std::set<std::string> inaccessible;
};

/// Asks the first three servers of `via` that answer; nullopt when none
/// gave a well-formed answer.
std::optional<remote_hierarchy> fetch_hierarchy(http::server_context& ctx, const std::string& room_id,
                                                const std::vector<std::string>& via, bool suggested_only);

/// Whether a room summarised by another server may be shown to `user_id`
/// (Synapse's _is_remote_room_accessible).
bool remote_room_accessible(http::server_context& ctx, const std::string& user_id, const std::string& room_id,
                            const nlohmann::json& summary);

} // namespace axon::federation
