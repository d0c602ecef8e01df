// actors/federation/backfill.hpp -- history this server lacks, fetched from
// the room's other servers for clients paging back past the start of what
// it has (client-server /messages; server-server API "Backfilling and
// retrieving missing events"). Blocking, for request threads.
#pragma once

#include "actors/http/http_types.hpp"

#include <cstddef>
#include <string>

namespace axon::federation {

/// Asks the room's other servers (those with joined members, most members
/// first, three at most) for up to `limit` events before its backward
/// extremities (/backfill), checks them (steps 1-3 here, the rest in the
/// room's events writer), fetches what they need (auth chains, the state
/// after prev events this server lacks: /state_ids) and has the writer
/// store them as backfilled history. Returns how many events were added;
/// 0 when there is nothing to fetch or no server answered.
size_t backfill_room(http::server_context& ctx, const std::string& room_id, size_t limit);

} // namespace axon::federation
