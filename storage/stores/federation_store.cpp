#include "storage/stores/federation_store.hpp"

#include <algorithm>

namespace axon::storage {

namespace {

statement outbox_query(const std::string& destination, size_t limit) {
  return {"SELECT stream_id, message_id, messages_json FROM device_federation_outbox WHERE destination = $1 "
          "ORDER BY stream_id LIMIT $2",
          {destination, static_cast<int64_t>(limit)}};
}

std::vector<outbox_row> outbox_rows(const result& r) {
  std::vector<outbox_row> out;
  for (auto& row : r.rows) out.push_back({row.i64(0), row.str(1), row.str(2)});
  return out;
}

statement pdu_outbox_query(const std::string& destination, size_t limit) {
  return {"SELECT o.stream_ordering, e.json, r.room_version FROM federation_pdu_outbox o JOIN events e ON "
          "e.event_id = o.event_id JOIN rooms r ON r.room_id = e.room_id WHERE o.destination = $1 ORDER BY "
          "o.stream_ordering LIMIT $2",
          {destination, static_cast<int64_t>(limit)}};
}

std::vector<federation_store::pdu_row> pdu_outbox_rows(const result& r) {
  std::vector<federation_store::pdu_row> out;
  for (auto& row : r.rows) out.push_back({row.i64(0), row.str(1), row.str(2)});
  return out;
}

/// The transaction `st` starts is not waited for on disk (PostgreSQL; SQLite
/// has no such setting).
void without_waiting_for_disk(std::vector<statement>& st, engine_kind kind) {
  if (kind == engine_kind::postgres) st.push_back({"SET LOCAL synchronous_commit = off", {}});
}

/// Deletes what a destination acknowledged. Not waited for on disk: lost in
/// a crash, it goes again, and the destination drops what it has (PDUs by
/// event id, to-device messages by message_id).
void add_deletes(std::vector<statement>& st, engine_kind kind, const std::string& destination,
                 federation_store::sent_up_to sent) {
  if (!sent.edus && !sent.pdus) return;
  without_waiting_for_disk(st, kind);
  if (sent.edus)
    st.push_back({"DELETE FROM device_federation_outbox WHERE destination = $1 AND stream_id <= $2",
                  {destination, sent.edus}});
  if (sent.pdus) {
    st.push_back({"DELETE FROM federation_pdu_outbox WHERE destination = $1 AND stream_ordering <= $2",
                  {destination, sent.pdus}});
    st.push_back({"INSERT INTO destinations (destination, last_successful_stream_ordering) VALUES ($1, $2) ON "
                  "CONFLICT (destination) DO UPDATE SET last_successful_stream_ordering = "
                  "excluded.last_successful_stream_ordering",
                  {destination, sent.pdus}});
  }
}

} // namespace

std::vector<std::string> federation_store::destinations_with_outbox() {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT destination FROM device_federation_outbox UNION SELECT destination FROM "
                   "federation_pdu_outbox");
  std::vector<std::string> out;
  for (auto& row : r.rows) out.push_back(row.str(0));
  return out;
}

federation_store::next_rows federation_store::next_transaction(const std::string& destination, size_t max_edus,
                                                               size_t max_pdus, sent_up_to sent) {
  std::vector<statement> st;
  add_deletes(st, pool_.kind(), destination, sent);
  size_t reads = st.size();
  st.push_back(outbox_query(destination, max_edus));
  st.push_back(pdu_outbox_query(destination, max_pdus));
  auto c = pool_.acquire();
  auto r = reads ? c->exec_transaction(st) : c->exec_many(st);
  return {outbox_rows(r.at(reads)), pdu_outbox_rows(r.at(reads + 1))};
}

std::pair<std::vector<std::string>, int64_t> federation_store::destinations_with_pdus_after(int64_t after) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT destination, MAX(stream_ordering) FROM federation_pdu_outbox WHERE "
                   "stream_ordering > $1 GROUP BY destination",
                   {after});
  std::pair<std::vector<std::string>, int64_t> out{{}, after};
  for (auto& row : r.rows) {
    out.first.push_back(row.str(0));
    out.second = std::max(out.second, row.i64(1));
  }
  return out;
}

std::map<std::string, retry_state> federation_store::retry_states() {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT destination, retry_last_ts, retry_interval FROM destinations WHERE retry_interval > 0");
  std::map<std::string, retry_state> out;
  for (auto& row : r.rows) out[row.str(0)] = {row.i64(1), row.i64(2)};
  return out;
}

void federation_store::set_retry(const std::string& destination, int64_t now_ms, int64_t interval) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO destinations (destination, retry_last_ts, retry_interval, failure_ts) "
          "VALUES ($1, $2, $3, $2) ON CONFLICT (destination) DO UPDATE SET "
          "retry_last_ts = excluded.retry_last_ts, retry_interval = excluded.retry_interval, "
          "failure_ts = COALESCE(destinations.failure_ts, excluded.failure_ts)",
          {destination, now_ms, interval});
}

void federation_store::clear_retry(const std::string& destination) {
  auto c = pool_.acquire();
  c->exec("UPDATE destinations SET retry_last_ts = 0, retry_interval = 0, failure_ts = NULL "
          "WHERE destination = $1",
          {destination});
}

void federation_store::record_success(const std::string& destination) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO destinations (destination, retry_last_ts, retry_interval) VALUES ($1, 0, 0) "
          "ON CONFLICT (destination) DO UPDATE SET retry_last_ts = 0, retry_interval = 0, failure_ts = NULL",
          {destination});
}

namespace {

destination_row destination_of(const row& r) {
  destination_row d;
  d.destination = r.str(0);
  d.retry_last_ts = r.i64_or(1, 0);
  d.retry_interval = r.i64_or(2, 0);
  if (!r.is_null(3)) d.failure_ts = r.i64(3);
  if (!r.is_null(4)) d.last_successful_stream_ordering = r.i64(4);
  return d;
}

} // namespace

std::pair<std::vector<destination_row>, int64_t> federation_store::destinations(int64_t from, int64_t limit,
                                                                                const std::string& filter,
                                                                                const std::string& order_by,
                                                                                bool descending) {
  // order_by is one of the caller's checked names; never a client's text.
  std::string column = order_by == "retry_last_ts" || order_by == "retry_interval" || order_by == "failure_ts" ||
                             order_by == "last_successful_stream_ordering"
                         ? order_by
                         : "destination";
  std::string dir = descending ? " DESC" : " ASC";
  std::string where = filter.empty() ? "" : " WHERE destination LIKE $1";
  sql_params p;
  if (!filter.empty()) {
    std::string escaped;
    for (char ch : filter) {
      if (ch == '%' || ch == '_' || ch == '\\') escaped += '\\';
      escaped += ch;
    }
    p.push_back("%" + escaped + "%");
  }
  if (!filter.empty()) where += " ESCAPE '\\'";
  auto c = pool_.acquire();
  auto total = c->exec("SELECT COUNT(*) FROM destinations" + where, p).rows.at(0).i64(0);
  auto q = p;
  q.push_back(limit);
  q.push_back(from);
  auto n = std::to_string(q.size() - 1), m = std::to_string(q.size());
  auto r = c->exec("SELECT destination, retry_last_ts, retry_interval, failure_ts, last_successful_stream_ordering FROM destinations" + where +
                     " ORDER BY " + column + dir + ", destination" + dir + " LIMIT $" + n + " OFFSET $" + m,
                   q);
  std::vector<destination_row> out;
  for (auto& row : r.rows) out.push_back(destination_of(row));
  return {out, total};
}

std::optional<destination_row> federation_store::destination(const std::string& destination) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT destination, retry_last_ts, retry_interval, failure_ts, "
                   "last_successful_stream_ordering FROM destinations "
                   "WHERE destination = $1",
                   {destination});
  if (r.empty()) return std::nullopt;
  return destination_of(r.rows[0]);
}

std::optional<answered_transaction> federation_store::answered(const std::string& origin,
                                                              const std::string& txn_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT response_code, response_json FROM received_transactions WHERE "
                   "transaction_id = $1 AND origin = $2",
                   {txn_id, origin});
  if (r.empty()) return std::nullopt;
  return answered_transaction{static_cast<int>(r.rows[0].i64(0)), r.rows[0].str(1)};
}

void federation_store::remember_answer(const std::string& origin, const std::string& txn_id, int code,
                                       const std::string& response_json, int64_t now_ms) {
  std::vector<statement> st;
  // Not waited for on disk (a durable commit is most of a transaction's
  // fixed cost): lost in a crash, a retried transaction is handled again,
  // and that repeats nothing (PDUs are deduplicated by event id, to-device
  // messages by message_id; typing and receipts are idempotent).
  without_waiting_for_disk(st, pool_.kind());
  st.push_back({"INSERT INTO received_transactions (transaction_id, origin, ts, response_code, response_json) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (transaction_id, origin) DO NOTHING",
                {txn_id, origin, now_ms, static_cast<int64_t>(code), response_json}});
  pool_.acquire()->exec_transaction(st);
}

void federation_store::forget_answers_before(int64_t before_ms) {
  auto c = pool_.acquire();
  c->exec("DELETE FROM received_transactions WHERE ts < $1", {before_ms});
}

} // namespace axon::storage

namespace axon::storage {

std::pair<std::vector<std::pair<std::string, int64_t>>, int64_t>
federation_store::destination_rooms(const std::string& destination, int64_t from, int64_t limit, bool backwards) {
  auto c = pool_.acquire();
  // Members whose id ends in ":<destination>".
  const char* rooms = "SELECT DISTINCT room_id FROM current_state_events WHERE type = 'm.room.member' AND "
                      "membership = 'join' AND length(state_key) > length($1) + 1 AND "
                      "substr(state_key, length(state_key) - length($1)) = ':' || $1";
  auto total = c->exec(std::string("SELECT COUNT(*) FROM (") + rooms + ") r", {destination}).rows.at(0).i64(0);
  auto r = c->exec(std::string("SELECT r.room_id, (SELECT COALESCE(MAX(e.stream_ordering), 0) FROM events e WHERE "
                               "e.room_id = r.room_id) FROM (") + rooms + ") r ORDER BY r.room_id " +
                     (backwards ? "DESC" : "ASC") + " LIMIT $2 OFFSET $3",
                   {destination, limit, from});
  std::vector<std::pair<std::string, int64_t>> out;
  for (auto& row : r.rows) out.emplace_back(row.str(0), row.i64(1));
  return {out, total};
}

} // namespace axon::storage
