// storage/stores/rooms_store.hpp -- rooms, aliases, memberships and current
// state, as readers see them. Written by the events writer (events_store).
#pragma once

#include "storage/database.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace axon::storage {

struct room_row {
  std::string room_id;
  std::string room_version;
  std::string creator;
  bool is_public = false;
};

struct membership_row {
  std::string room_id;
  std::string membership; ///< join, invite, leave, ban, knock
  std::string event_id;
  int64_t stream_ordering = 0;
  bool forgotten = false;
};

class rooms_store {
public:
  explicit rooms_store(pool& p) : pool_(p) {}

  std::optional<room_row> get_room(const std::string& room_id);
  void set_public(const std::string& room_id, bool is_public);
  /// Rooms published in the public room directory.
  std::vector<room_row> public_rooms();

  /// False when the alias exists already.
  bool create_alias(const std::string& alias, const std::string& room_id,
                    const std::string& creator);
  std::optional<std::string> resolve_alias(const std::string& alias);
  std::optional<std::string> alias_creator(const std::string& alias);
  bool delete_alias(const std::string& alias);
  std::vector<std::string> aliases_for_room(const std::string& room_id);

  /// The local user's current membership in the room.
  std::optional<membership_row> membership(const std::string& user_id, const std::string& room_id);
  /// Every room the local user has a membership in (any kind).
  std::vector<membership_row> memberships(const std::string& user_id);
  /// memberships() as a statement, for a batch (connection::exec_many), and
  /// its rows.
  static statement memberships_query(const std::string& user_id);
  static std::vector<membership_row> membership_rows(const result& r);
  /// The user's membership in the room as of stream position `pos` (their
  /// newest member event at or before it); none if they had none then.
  std::optional<membership_row> membership_at(const std::string& user_id, const std::string& room_id,
                                              int64_t pos);
  /// Marks a left room as forgotten; false unless the user has left it.
  bool forget(const std::string& user_id, const std::string& room_id);

  /// Current state events of the room (full JSON, as stored).
  std::vector<nlohmann::json> current_state(const std::string& room_id);
  std::optional<nlohmann::json> current_state_event(const std::string& room_id,
                                                    const std::string& type,
                                                    const std::string& state_key);
  /// The user ids joined to the room now (its current state; no event read).
  std::vector<std::string> joined_users(const std::string& room_id);
  /// Member events of the current state, optionally only one membership.
  std::vector<nlohmann::json> current_members(const std::string& room_id,
                                              const std::string& membership = "");

private:
  pool& pool_;
};

} // namespace axon::storage
