// storage/stores/receipts_store.hpp -- the receipts stream's table.
#pragma once

#include "storage/database.hpp"

#include <string>
#include <vector>

namespace axon::storage {

struct receipt_row {
  std::string room_id;
  std::string receipt_type;
  std::string user_id;
  std::string thread_id; ///< "" when unthreaded
  std::string event_id;
  std::string data;      ///< JSON object text
  int64_t stream_id = 0;
};

class receipts_store {
public:
  explicit receipts_store(pool& p) : pool_(p) {}

  /// Newest stream position (0 when empty).
  int64_t max_stream_id();
  /// Writes the user's receipt of that type and thread, replacing an
  /// existing one only when `r.event_id` comes later in the events stream.
  /// False when nothing was written (an older or the same event, or an
  /// event that isn't stored).
  bool put(const receipt_row& r);
  /// Receipts of every room changed in (from, to], oldest first.
  std::vector<receipt_row> changed(int64_t from, int64_t to);
  /// Every receipt of the room up to position `to`.
  std::vector<receipt_row> room_receipts(const std::string& room_id, int64_t to);

private:
  pool& pool_;
};

} // namespace axon::storage
