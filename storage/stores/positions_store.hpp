// storage/stores/positions_store.hpp -- every stream's durable position in
// one round trip (start-up, the /sync read barrier, Redis catch-up).
#pragma once

#include "storage/database.hpp"

#include <map>
#include <string>

namespace axon::storage {

/// What the database holds now, read in one statement (one snapshot).
struct durable_positions {
  int64_t events = 0;        ///< newest stored event's stream_ordering
  int64_t account_data = 0;
  int64_t push_rules = 0;
  int64_t presence = 0;
  int64_t device_lists = 0;
  int64_t to_device = 0;     ///< messages stored, or acknowledged past (stream_positions)
  int64_t receipts = 0;
  /// Several events writers: the position each one recorded
  /// (stream_positions, stream_name 'events').
  std::map<std::string, int64_t> events_writers;
};

class positions_store {
public:
  explicit positions_store(pool& p) : pool_(p) {}

  durable_positions read();

private:
  pool& pool_;
};

} // namespace axon::storage
