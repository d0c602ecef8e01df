#include "storage/stores/to_device_store.hpp"

#include <algorithm>

namespace axon::storage {

int64_t to_device_store::max_stream_id() {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT COALESCE(MAX(stream_id), 0) FROM stream_positions WHERE stream_name = "
                   "'to_device' UNION ALL SELECT COALESCE(MAX(stream_id), 0) FROM device_inbox");
  int64_t out = 0;
  for (auto& row : r.rows) out = std::max(out, row.i64(0));
  return out;
}

std::optional<int64_t> to_device_store::find_txn(const std::string& user_id,
                                                 const std::string& device_id,
                                                 const std::string& txn_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT stream_id FROM device_inbox_txn_id WHERE user_id = $1 AND device_id = "
                   "$2 AND txn_id = $3",
                   {user_id, device_id, txn_id});
  if (r.empty()) return std::nullopt;
  return r.rows[0].i64(0);
}

void to_device_store::add_messages(const std::string& sender, const std::string& sender_device,
                                   const std::string& txn_id,
                                   const std::vector<inbox_message>& messages, int64_t pos,
                                   const std::string& instance, int64_t now_ms,
                                   const std::vector<outbox_message>& remote) {
  std::vector<statement> st;
  st.push_back({"INSERT INTO device_inbox_txn_id (user_id, device_id, txn_id, stream_id, "
                "inserted_ts) VALUES ($1, $2, $3, $4, $5)",
                {sender, sender_device, txn_id, pos, now_ms}});
  for (auto& m : messages)
    st.push_back({"INSERT INTO device_inbox (user_id, device_id, stream_id, message_json) VALUES "
                  "($1, $2, $3, $4)",
                  {m.user_id, m.device_id, pos, m.message_json}});
  for (auto& m : remote)
    st.push_back({"INSERT INTO device_federation_outbox (destination, stream_id, message_id, queued_ts, "
                  "messages_json) VALUES ($1, $2, $3, $4, $5)",
                  {m.destination, pos, m.message_id, now_ms, m.messages_json}});
  if (!messages.empty() || !remote.empty())
    st.push_back({"INSERT INTO stream_positions (stream_name, instance_name, stream_id) VALUES "
                  "('to_device', $1, $2) ON CONFLICT (stream_name, instance_name) DO UPDATE SET "
                  "stream_id = excluded.stream_id",
                  {instance, pos}});
  auto c = pool_.acquire();
  c->exec_transaction(st);
}

std::vector<inbox_row> to_device_store::messages_for_device(const std::string& user_id,
                                                            const std::string& device_id,
                                                            int64_t from, int64_t to,
                                                            size_t limit) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT stream_id, message_json FROM device_inbox WHERE user_id = $1 AND "
                   "device_id = $2 AND stream_id > $3 AND stream_id <= $4 ORDER BY stream_id "
                   "LIMIT $5",
                   {user_id, device_id, from, to, static_cast<int64_t>(limit)});
  std::vector<inbox_row> out;
  for (auto& row : r.rows) out.push_back({row.i64(0), row.str(1)});
  return out;
}

bool to_device_store::has_messages_up_to(const std::string& user_id,
                                         const std::string& device_id, int64_t up_to) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT 1 FROM device_inbox WHERE user_id = $1 AND device_id = $2 AND "
                   "stream_id <= $3 LIMIT 1",
                   {user_id, device_id, up_to});
  return !r.empty();
}

int64_t to_device_store::delete_messages_up_to(const std::string& user_id,
                                               const std::string& device_id, int64_t up_to) {
  auto c = pool_.acquire();
  return c->exec("DELETE FROM device_inbox WHERE user_id = $1 AND device_id = $2 AND stream_id <= $3",
                 {user_id, device_id, up_to})
    .affected;
}

std::vector<std::string> to_device_store::devices_of(const std::string& user_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT device_id FROM devices WHERE user_id = $1", {user_id});
  std::vector<std::string> out;
  for (auto& row : r.rows) out.push_back(row.str(0));
  // Byte order whatever the database's collation (callers binary_search).
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace axon::storage
