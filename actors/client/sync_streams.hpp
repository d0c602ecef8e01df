// actors/client/sync_streams.hpp -- how each stream adds its part to a /sync
// response. The rooms (events stream) are built in sync_handler.cpp; every
// other stream has one `add_*` function here, called in token order.
#pragma once

#include "actors/client/common.hpp"
#include "matrix/filter.hpp"
#include "messages/streams.hpp"
#include "storage/database.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace axon::client {

struct sync_context {
  request& req;
  const matrix::sync_filter& filter;
  std::optional<std::vector<int64_t>> since; ///< the client's token, token order
  std::vector<int64_t> pos;                  ///< the positions this response covers
  bool full_state = false;
  std::vector<std::string> joined_rooms;     ///< rooms the user is joined to at `pos`
  /// Rooms whose entry in rooms.join was built from scratch in this response
  /// (initial sync, new join, full_state): streams send them everything.
  std::vector<std::string> full_rooms;
  /// Read by the rooms' first round trip (sync_handler.cpp), for the
  /// sections that need them; unset: they read it themselves.
  std::optional<std::pair<std::map<std::string, int64_t>, std::vector<std::string>>> key_state;
  /// False when no m.room.member event lies in the events range (since, pos]:
  /// then no one started or stopped sharing a room with the user.
  std::optional<bool> memberships_moved;
  /// The unread counts' rows, read with the timelines of the rooms shown
  /// for their new events (sync_handler.cpp); add_unread_counts reads the
  /// other rooms' itself.
  std::map<std::string, storage::result> unread_rows;

  const std::string& user_id() const { return req.auth().user_id; }
  /// The client's position of `s` (0 for an initial sync). Events: the
  /// lowest writer's; a room's own is room_position(req, pos, room_id).
  int64_t since_of(stream_id s) const { return since ? (*since)[index(s)] : 0; }
  int64_t pos_of(stream_id s) const { return pos[index(s)]; }
  /// True when the stream has rows the client has not seen.
  bool moved(stream_id s) const { return !since || since_of(s) < pos_of(s); }

  /// The positions written into next_batch: `pos`, except where a stream
  /// delivered only part of its rows up to `pos` (to_device's per-response
  /// cap) and called hold_back, so the client's next token asks for the rest.
  /// Mutable: streams get the context as const and only ever lower an entry.
  mutable std::vector<int64_t> next_pos;
  void hold_back(stream_id s, int64_t p) const {
    if (next_pos.empty()) next_pos = pos;
    next_pos[index(s)] = std::min(next_pos[index(s)], p);
  }
  const std::vector<int64_t>& next_positions() const { return next_pos.empty() ? pos : next_pos; }
};

/// The positions a response for token `since` (none: an initial sync)
/// covers: after the read barrier, and once this instance has caught up with
/// a token from another that is ahead (bounded wait). /sync and the legacy
/// event stream (legacy_sync_handlers.cpp) start here.
std::vector<int64_t> sync_positions(request& req, const std::optional<std::vector<int64_t>>& since);

/// rooms.join[room_id], created as a minimal valid entry when absent.
json& joined_entry(json& out, const std::string& room_id, const sync_context& c);

/// Adds every stream's sections to `out`; true when any of them is news.
bool add_stream_sections(const sync_context& c, json& out);

// One per stream, in token order after events.
bool add_typing(const sync_context& c, json& out);
bool add_receipts(const sync_context& c, json& out);
bool add_presence(const sync_context& c, json& out);
bool add_account_data(const sync_context& c, json& out);

/// A /sync with `set_presence` online (the default) or unavailable marks the
/// user as syncing for `timeout_ms` (presence_handlers.cpp); call before
/// taking the positions the response covers.
void presence_on_sync(request& req, int64_t timeout_ms);
bool add_to_device(const sync_context& c, json& out);
/// After add_account_data (it creates out["account_data"]).
bool add_push_rules(const sync_context& c, json& out);
bool add_device_lists(const sync_context& c, json& out);
/// Last: unread_notifications (and unread_thread_notifications when the
/// filter asks) for every room in rooms.join. Never news on its own: counts
/// change only with events or the user's receipts, which are.
void add_unread_counts(const sync_context& c, json& out);

} // namespace axon::client
