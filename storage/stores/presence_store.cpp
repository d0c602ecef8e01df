#include "storage/stores/presence_store.hpp"

namespace axon::storage {

namespace {

constexpr const char* columns =
  "user_id, state, status_msg, last_active_ts, last_user_sync_ts, currently_active, stream_id";

presence_row from_row(const row& r) {
  return {r.str(0), r.str(1), r.str(2), r.i64(3), r.i64(4), r.i64(5) != 0, r.i64(6)};
}

std::vector<presence_row> all(const result& r) {
  std::vector<presence_row> out;
  out.reserve(r.rows.size());
  for (auto& row : r.rows) out.push_back(from_row(row));
  return out;
}

} // namespace

int64_t presence_store::max_stream_id() {
  auto c = pool_.acquire();
  return c->exec("SELECT COALESCE(MAX(stream_id), 0) FROM presence_stream").rows[0].i64(0);
}

void presence_store::put(const presence_row& r) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO presence_stream (user_id, state, status_msg, last_active_ts, "
          "last_user_sync_ts, currently_active, stream_id) VALUES ($1, $2, $3, $4, $5, $6, $7) "
          "ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, status_msg = "
          "excluded.status_msg, last_active_ts = excluded.last_active_ts, last_user_sync_ts = "
          "excluded.last_user_sync_ts, currently_active = excluded.currently_active, stream_id = "
          "excluded.stream_id",
          {r.user_id, r.state, r.status_msg, r.last_active_ts, r.last_user_sync_ts,
           int64_t{r.currently_active ? 1 : 0}, r.stream_id});
}

std::optional<presence_row> presence_store::get(const std::string& user_id) {
  auto c = pool_.acquire();
  auto r = c->exec(std::string("SELECT ") + columns + " FROM presence_stream WHERE user_id = $1",
                   {user_id});
  if (r.empty()) return std::nullopt;
  return from_row(r.rows[0]);
}

std::vector<presence_row> presence_store::changed(int64_t from, int64_t to) {
  auto c = pool_.acquire();
  return all(c->exec(std::string("SELECT ") + columns +
                       " FROM presence_stream WHERE stream_id > $1 AND stream_id <= $2 "
                       "ORDER BY stream_id",
                     {from, to}));
}

std::vector<presence_row> presence_store::not_offline() {
  auto c = pool_.acquire();
  return all(c->exec(std::string("SELECT ") + columns +
                     " FROM presence_stream WHERE state <> 'offline'"));
}

} // namespace axon::storage
