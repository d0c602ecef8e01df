// messages/ephemeral.hpp -- requests to the typing and receipts writers.
#pragma once

#include <caf/meta/type_name.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace axon::msg {

/// Starts (typing = true, for timeout_ms) or stops a user's typing notice in
/// a room; replies with the typing stream position after the change (the
/// current one when nothing changed).
struct set_typing {
  std::string room_id;
  std::string user_id;
  bool typing = false;
  int64_t timeout_ms = 0;
  static constexpr const char* wire_name = "set_typing";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, set_typing& x) {
  return f(caf::meta::type_name("set_typing"), x.room_id, x.user_id, x.typing, x.timeout_ms);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(set_typing, room_id, user_id, typing, timeout_ms)

/// Asks the typing writer (which keeps typing state in memory only) for the
/// typing users of those of `room_ids` that changed after `since` (every one
/// with someone typing when `since` is 0 or ahead of the writer, e.g. after
/// a writer restart). Replies with msg::typing_snapshot.
struct get_typing {
  std::vector<std::string> room_ids;
  int64_t since = 0;
  static constexpr const char* wire_name = "get_typing";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_typing& x) {
  return f(caf::meta::type_name("get_typing"), x.room_ids, x.since);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(get_typing, room_ids, since)

/// The users typing in one room (empty: nobody any more).
struct typing_room {
  std::string room_id;
  std::vector<std::string> user_ids;
  static constexpr const char* wire_name = "typing_room";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, typing_room& x) {
  return f(caf::meta::type_name("typing_room"), x.room_id, x.user_ids);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(typing_room, room_id, user_ids)

struct typing_snapshot {
  int64_t pos = 0; ///< the writer's position when answering
  std::vector<typing_room> rooms;
  static constexpr const char* wire_name = "typing_snapshot";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, typing_snapshot& x) {
  return f(caf::meta::type_name("typing_snapshot"), x.pos, x.rooms);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(typing_snapshot, pos, rooms)

/// Stores a receipt (replacing the user's previous one of that type and
/// thread in the room); replies with the receipts stream position.
struct put_receipt {
  std::string room_id;
  std::string receipt_type; ///< m.read or m.read.private
  std::string user_id;
  std::string event_id;
  std::string thread_id;    ///< "" unthreaded, "main", or a thread root event id
  std::string data;         ///< JSON object text, e.g. {"ts":...}
  static constexpr const char* wire_name = "put_receipt";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, put_receipt& x) {
  return f(caf::meta::type_name("put_receipt"), x.room_id, x.receipt_type, x.user_id, x.event_id,
           x.thread_id, x.data);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(put_receipt, room_id, receipt_type, user_id, event_id,
                                   thread_id, data)

} // namespace axon::msg
