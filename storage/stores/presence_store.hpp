// storage/stores/presence_store.hpp -- the presence stream's table
// (`presence_stream`), written only by the presence writer.
#pragma once

#include "storage/database.hpp"

#include <optional>
#include <string>
#include <vector>

namespace axon::storage {

/// One user's presence as last persisted. Timestamps in ms since the epoch
/// (0: never).
struct presence_row {
  std::string user_id;
  std::string state = "offline"; ///< online, unavailable, offline
  std::string status_msg;        ///< "" for none
  int64_t last_active_ts = 0;
  int64_t last_user_sync_ts = 0;
  bool currently_active = false;
  int64_t stream_id = 0;
};

class presence_store {
public:
  explicit presence_store(pool& p) : pool_(p) {}

  /// Newest stream position (0 when empty).
  int64_t max_stream_id();
  /// Writes (or replaces) the user's row; `r.stream_id` is its position.
  void put(const presence_row& r);
  std::optional<presence_row> get(const std::string& user_id);
  /// Rows changed in (from, to], oldest first (every row for from = 0).
  std::vector<presence_row> changed(int64_t from, int64_t to);
  /// Rows whose state is not offline (the writer's start-up state).
  std::vector<presence_row> not_offline();

private:
  pool& pool_;
};

} // namespace axon::storage
