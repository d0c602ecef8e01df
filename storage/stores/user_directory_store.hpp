// storage/stores/user_directory_store.hpp -- the user directory's tables.
#pragma once

#include "storage/database.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace axon::storage {

struct directory_user {
  std::string user_id;
  std::optional<std::string> display_name, avatar_url;
};

class user_directory_store {
public:
  explicit user_directory_store(pool& p) : pool_(p) {}

  /// Events position the updater has processed (0 at first).
  int64_t position();
  /// State events of the kinds the directory follows in (from, to], oldest
  /// first, at most `limit`.
  std::vector<std::pair<int64_t, nlohmann::json>> relevant_events(int64_t from, int64_t to,
                                                                  size_t limit);
  /// Whether the room is public for the directory, from its current state.
  bool room_is_public(const std::string& room_id);
  /// Applies one membership: joined (with the member's profile) or not.
  void set_membership(const std::string& user_id, const std::string& room_id, bool joined,
                      bool room_public, const std::optional<std::string>& display_name,
                      const std::optional<std::string>& avatar_url);
  void set_room_public(const std::string& room_id, bool is_public);
  void set_position(int64_t pos);

  /// Users matching `term` (user id or display name, case-insensitive) who
  /// share a room with `searcher` or are in a public room, `limit` + 1 at most.
  std::vector<directory_user> search(const std::string& searcher, const std::string& term,
                                     int64_t limit);

private:
  pool& pool_;
};

} // namespace axon::storage
