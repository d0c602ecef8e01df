// actors/client/directory.hpp -- this server's public room directory as
// answers give it, shared by the client API (/publicRooms) and the
// federation API (/_matrix/federation/v1/publicRooms).
#pragma once

#include "actors/client/common.hpp"

#include <optional>
#include <string>

namespace axon::client {

/// A room as directories and /hierarchy show it, from its current state:
/// room_id, name, topic, canonical_alias, avatar_url, num_joined_members,
/// world_readable, guest_can_join, join_rule, room_type.
json room_directory_entry(http::server_context& ctx, const std::string& room_id);
/// The same from `state`, the room's current state events already read.
json room_directory_entry(const std::string& room_id, const std::vector<json>& state);

struct public_rooms_query {
  std::optional<int64_t> limit;
  std::optional<std::string> since; ///< a next_batch/prev_batch token
  std::string term;                 ///< filter.generic_search_term
};

/// The POST /publicRooms body's limit, since and filter.generic_search_term
/// (M_BAD_JSON for a bad limit).
public_rooms_query public_rooms_body(const json& body);

/// One page of the public rooms, largest first: {chunk, next_batch?,
/// prev_batch?, total_room_count_estimate}. M_INVALID_PARAM for a bad
/// since token.
json public_rooms_page(request& req, std::optional<int64_t> limit, const std::optional<std::string>& since,
                       const std::string& term);

} // namespace axon::client
