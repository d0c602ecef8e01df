#include "storage/stores/account_data_store.hpp"

namespace axon::storage {

int64_t account_data_store::max_stream_id() {
  auto c = pool_.acquire();
  return c->exec("SELECT COALESCE(MAX(stream_id), 0) FROM account_data").rows[0].i64(0);
}

void account_data_store::put(const std::string& user_id, const std::string& room_id,
                             const std::string& type, const std::string& content, int64_t pos) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO account_data (user_id, room_id, account_data_type, stream_id, content) "
          "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, room_id, account_data_type) DO "
          "UPDATE SET stream_id = excluded.stream_id, content = excluded.content",
          {user_id, room_id, type, pos, content});
}

std::optional<std::string> account_data_store::get(const std::string& user_id,
                                                   const std::string& room_id,
                                                   const std::string& type) {
  auto q = get_query(user_id, room_id, type);
  return get_row(pool_.acquire()->exec(q.sql, q.params));
}

statement account_data_store::get_query(const std::string& user_id, const std::string& room_id,
                                        const std::string& type) {
  return {"SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2 AND "
          "account_data_type = $3",
          {user_id, room_id, type}};
}

std::optional<std::string> account_data_store::get_row(const result& r) {
  if (r.empty()) return std::nullopt;
  return r.rows[0].str(0);
}

std::vector<account_data_row> account_data_store::changed(const std::string& user_id, int64_t from,
                                                          int64_t to) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT room_id, account_data_type, content, stream_id FROM account_data WHERE "
                   "user_id = $1 AND stream_id > $2 AND stream_id <= $3 ORDER BY stream_id",
                   {user_id, from, to});
  std::vector<account_data_row> out;
  for (auto& row : r.rows) out.push_back({row.str(0), row.str(1), row.str(2), row.i64(3)});
  return out;
}

} // namespace axon::storage
