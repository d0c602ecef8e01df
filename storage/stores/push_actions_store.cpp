#include "storage/stores/push_actions_store.hpp"

namespace axon::storage {

namespace {

/// The read receipt types that count as having read a room.
constexpr const char* read_types = "receipt_type IN ('m.read', 'm.read.private')";

} // namespace

std::map<std::string, unread_count> push_actions_store::unread(const std::string& user_id,
                                                               const std::string& room_id,
                                                               int64_t to) {
  auto c = pool_.acquire();
  // The unthreaded receipt's subquery is the same for every row (computed
  // once); the thread's is a primary-key lookup, only for rows after the
  // unthreaded receipt (the index range).
  auto r = c->exec(
    std::string("SELECT thread_id, SUM(notif), SUM(highlight) FROM event_push_actions a WHERE "
                "user_id = $1 AND room_id = $2 AND stream_ordering <= $3 AND stream_ordering > "
                "COALESCE((SELECT MAX(event_stream_ordering) FROM receipts WHERE room_id = $2 AND "
                "user_id = $1 AND thread_id = '' AND ") +
      read_types +
      "), 0) AND stream_ordering > COALESCE((SELECT MAX(event_stream_ordering) FROM receipts r "
      "WHERE r.room_id = $2 AND r.user_id = $1 AND r.thread_id = a.thread_id AND r." +
      read_types + "), 0) GROUP BY thread_id",
    {user_id, room_id, to});
  std::map<std::string, unread_count> out;
  for (auto& row : r.rows) {
    unread_count u{row.i64_or(1, 0), row.i64_or(2, 0)};
    if (u.notifications || u.highlights) out[row.str(0)] = u;
  }
  return out;
}

std::vector<notification_row> push_actions_store::notifications(const std::string& user_id,
                                                                int64_t before, size_t limit,
                                                                bool only_highlight) {
  auto c = pool_.acquire();
  std::string sql =
    "SELECT a.room_id, a.event_id, a.stream_ordering, a.thread_id, a.actions, a.ts, a.highlight, "
    "e.json FROM event_push_actions a JOIN events e ON e.stream_ordering = a.stream_ordering "
    "WHERE a.user_id = $1 AND a.stream_ordering < $2";
  if (only_highlight) sql += " AND a.highlight = 1";
  sql += " ORDER BY a.stream_ordering DESC LIMIT $3";
  auto r = c->exec(sql, {user_id, before > 0 ? before : INT64_MAX, static_cast<int64_t>(limit)});
  std::vector<notification_row> out;
  out.reserve(r.rows.size());
  for (auto& row : r.rows)
    out.push_back({row.str(0), row.str(1), row.i64(2), row.str(3), row.str(4), row.i64(5),
                   row.i64(6) != 0, row.str(7)});
  return out;
}

int64_t push_actions_store::read_up_to(const std::string& user_id, const std::string& room_id,
                                       const std::string& thread_id) {
  auto c = pool_.acquire();
  auto r = c->exec(std::string("SELECT COALESCE(MAX(event_stream_ordering), 0) FROM receipts WHERE "
                               "room_id = $1 AND user_id = $2 AND (thread_id = '' OR thread_id = "
                               "$3) AND ") +
                     read_types,
                   {room_id, user_id, thread_id});
  return r.rows[0].i64(0);
}

} // namespace axon::storage
