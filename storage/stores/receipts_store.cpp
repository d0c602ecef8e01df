#include "storage/stores/receipts_store.hpp"

namespace axon::storage {

namespace {

constexpr const char* columns =
  "SELECT room_id, receipt_type, user_id, thread_id, event_id, data, stream_id FROM receipts ";

std::vector<receipt_row> rows_of(const result& r) {
  std::vector<receipt_row> out;
  out.reserve(r.rows.size());
  for (auto& row : r.rows)
    out.push_back({row.str(0), row.str(1), row.str(2), row.str(3), row.str(4), row.str(5),
                   row.i64(6)});
  return out;
}

} // namespace

int64_t receipts_store::max_stream_id() {
  auto c = pool_.acquire();
  return c->exec("SELECT COALESCE(MAX(stream_id), 0) FROM receipts").rows[0].i64(0);
}

bool receipts_store::put(const receipt_row& r) {
  auto c = pool_.acquire();
  // The receipt takes its event's position from the events table; an
  // existing receipt is only replaced by one for a later event (Synapse: a
  // receipt never moves backwards; the same event again changes nothing).
  auto res = c->exec(
    "INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, data, stream_id, "
    "event_stream_ordering) SELECT $1, $2, $3, $4, $5, $6, $7, stream_ordering FROM events WHERE "
    "event_id = $5 ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE SET "
    "event_id = excluded.event_id, data = excluded.data, stream_id = excluded.stream_id, "
    "event_stream_ordering = excluded.event_stream_ordering WHERE excluded.event_stream_ordering > "
    "receipts.event_stream_ordering RETURNING stream_id",
    {r.room_id, r.receipt_type, r.user_id, r.thread_id, r.event_id, r.data, r.stream_id});
  return !res.rows.empty();
}

std::vector<receipt_row> receipts_store::changed(int64_t from, int64_t to) {
  auto c = pool_.acquire();
  return rows_of(c->exec(std::string(columns) +
                           "WHERE stream_id > $1 AND stream_id <= $2 ORDER BY stream_id",
                         {from, to}));
}

std::vector<receipt_row> receipts_store::room_receipts(const std::string& room_id, int64_t to) {
  auto c = pool_.acquire();
  return rows_of(c->exec(std::string(columns) +
                           "WHERE room_id = $1 AND stream_id <= $2 ORDER BY stream_id",
                         {room_id, to}));
}

} // namespace axon::storage
