// storage/stores/user_directory_store.hpp -- the user directory's tables.
//
// user_directory_rooms holds, for every user joined to a room the server is
// in, that room and whether it is public for the directory (Synapse's
// users_in_public_rooms and users_who_share_private_rooms in one table:
// a search joins it with the searcher's own rows). user_directory holds the
// profiles seen in membership events, which are what remote users' entries
// show; local users show their own profile (profiles), as in Synapse.
#pragma once

#include "storage/database.hpp"

#include <optional>
#include <string>
#include <vector>

namespace axon::storage {

struct directory_user {
  std::string user_id;
  std::optional<std::string> display_name, avatar_url;
};

/// A state event the directory follows: a membership, join rules or history
/// visibility.
struct directory_change {
  int64_t pos = 0;
  std::string room_id, type, state_key;
};

/// Who a search may find (the `user_directory` config section).
struct directory_search_options {
  bool search_all_users = false;
  /// Not empty: rank this server's users first (prefer_local_users).
  std::string prefer_server;
};

class user_directory_store {
public:
  explicit user_directory_store(pool& p) : pool_(p) {}

  /// Events position the updater has processed (0 at first).
  int64_t position();
  void set_position(int64_t pos);
  /// State events of the kinds the directory follows in (from, to], oldest
  /// first, at most `limit`.
  std::vector<directory_change> relevant_events(int64_t from, int64_t to, size_t limit);

  /// Whether the room is public for the directory from its current state:
  /// join rule `public` or history `world_readable` (Synapse's
  /// is_room_world_readable_or_publicly_joinable).
  bool room_is_public(const std::string& room_id);
  /// Brings one user's row for the room in line with the room's current
  /// state: joined (with the member event's profile) or gone. When no local
  /// user is joined any more, the server has left the room and every row of
  /// it goes.
  void refresh_membership(const std::string& room_id, const std::string& user_id);
  /// Brings the room's public flag in line with its current state, so that
  /// its members appear to, or disappear from, everyone else's searches.
  void refresh_room(const std::string& room_id);

  /// Users matching `term` whom `searcher` may find, best first, `limit` + 1
  /// at most (the caller reports `limited`): those sharing a room with them
  /// and those in public rooms, or every local user with search_all_users;
  /// deactivated users never, the searcher only through a public room.
  std::vector<directory_user> search(const std::string& searcher, const std::string& term,
                                     int64_t limit, const directory_search_options& opts = {});

private:
  pool& pool_;
};

} // namespace axon::storage
