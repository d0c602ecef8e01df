#include "storage/stores/push_actions_store.hpp"

#include <nlohmann/json.hpp>

namespace axon::storage {

namespace {

/// The read receipt types that count as having read a room.
constexpr const char* read_types = "receipt_type IN ('m.read', 'm.read.private')";

/// A count that read this many notification rows is kept as a summary
/// (event_push_summary), so the next one reads only those after it.
constexpr int64_t summary_after_rows = 100;

} // namespace

std::map<std::string, unread_count> push_actions_store::unread(const std::string& user_id,
                                                               const std::string& room_id,
                                                               int64_t to) {
  auto q = unread_query(user_id, room_id, to);
  auto r = pool_.acquire()->exec(q.sql, q.params);
  return unread_from(r, user_id, room_id, to);
}

statement push_actions_store::unread_query(const std::string& user_id, const std::string& room_id,
                                           int64_t to) {
  // One statement (one snapshot): the user's read receipts in the room
  // (their count and the sum of their positions: migration 026), the
  // summary made under those same receipts if there is one, and by thread
  // the notifications after the summary (or after the receipts). The
  // unthreaded receipt's subquery is computed once; the threads' receipts
  // are read once and joined by thread.
  return {
    std::string("WITH f AS (SELECT COUNT(*) AS n, COALESCE(SUM(event_stream_ordering), 0) AS total FROM "
                "receipts WHERE room_id = $2 AND user_id = $1 AND ") +
      read_types +
      "), s AS (SELECT upto, counts FROM event_push_summary, f WHERE user_id = $1 AND room_id = $2 AND "
      "upto <= $3 AND receipts_rows = f.n AND receipts_sum = f.total) "
      "SELECT NULL, 0, 0, 0, (SELECT n FROM f), (SELECT total FROM f), (SELECT upto FROM s), "
      "(SELECT counts FROM s) "
      "UNION ALL "
      "SELECT a.thread_id, SUM(a.notif), SUM(a.highlight), COUNT(*), NULL, NULL, NULL, NULL FROM "
      "event_push_actions a LEFT JOIN (SELECT thread_id, MAX(event_stream_ordering) AS read_to FROM "
      "receipts WHERE room_id = $2 AND user_id = $1 AND " +
      read_types +
      " GROUP BY thread_id) t ON t.thread_id = a.thread_id WHERE a.user_id = $1 AND a.room_id = $2 "
      "AND a.stream_ordering <= $3 AND a.stream_ordering > COALESCE((SELECT upto FROM s), 0) AND "
      "a.stream_ordering > COALESCE((SELECT MAX(event_stream_ordering) FROM receipts WHERE room_id = $2 "
      "AND user_id = $1 AND thread_id = '' AND " +
      read_types + "), 0) AND a.stream_ordering > COALESCE(t.read_to, 0) GROUP BY a.thread_id",
    {user_id, room_id, to}};
}

std::map<std::string, unread_count> push_actions_store::unread_from(const result& r,
                                                                    const std::string& user_id,
                                                                    const std::string& room_id,
                                                                    int64_t to) {
  std::map<std::string, unread_count> all;
  int64_t counted = 0, receipts_rows = 0, receipts_sum = 0;
  int64_t summary_upto = -1;
  for (auto& row : r.rows) {
    if (row.is_null(0)) { // the receipts and the summary
      receipts_rows = row.i64_or(4, 0);
      receipts_sum = row.i64_or(5, 0);
      if (row.is_null(6)) continue;
      summary_upto = row.i64(6);
      auto j = nlohmann::json::parse(row.str_or(7, ""), nullptr, false);
      if (!j.is_object()) continue;
      for (auto& [thread, pair] : j.items())
        if (pair.is_array() && pair.size() == 2 && pair[0].is_number_integer() && pair[1].is_number_integer()) {
          all[thread].notifications += pair[0].get<int64_t>();
          all[thread].highlights += pair[1].get<int64_t>();
        }
      continue;
    }
    auto& u = all[row.str(0)];
    u.notifications += row.i64_or(1, 0);
    u.highlights += row.i64_or(2, 0);
    counted += row.i64_or(3, 0);
  }
  // Many rows read: the next count starts here (any instance's, until a
  // receipt moves).
  if (counted >= summary_after_rows && to > summary_upto) {
    nlohmann::json counts = nlohmann::json::object();
    for (auto& [thread, u] : all) counts[thread] = {u.notifications, u.highlights};
    pool_.acquire()->exec(
      "INSERT INTO event_push_summary (user_id, room_id, receipts_rows, receipts_sum, upto, counts) "
      "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, room_id) DO UPDATE SET "
      "receipts_rows = excluded.receipts_rows, receipts_sum = excluded.receipts_sum, "
      "upto = excluded.upto, counts = excluded.counts WHERE event_push_summary.upto < excluded.upto OR "
      "event_push_summary.receipts_rows <> excluded.receipts_rows OR "
      "event_push_summary.receipts_sum <> excluded.receipts_sum",
      {user_id, room_id, receipts_rows, receipts_sum, to, counts.dump()});
  }
  std::map<std::string, unread_count> out;
  for (auto& [thread, u] : all)
    if (u.notifications || u.highlights) out[thread] = u;
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
