#include "storage/stores/media_store.hpp"

namespace axon::storage {

namespace {

const char* const local_columns =
  "media_id, media_type, media_length, created_ts, upload_name, user_id, quarantined_by, "
  "safe_from_quarantine, authenticated, sha256, last_access_ts, url_cache";

local_media to_local(const row& r) {
  local_media m;
  m.media_id = r.str(0);
  m.media_type = r.str_or(1, "");
  if (!r.is_null(2)) m.media_length = r.i64(2);
  m.created_ts = r.i64(3);
  m.upload_name = r.str_or(4, "");
  m.user_id = r.str_or(5, "");
  m.quarantined_by = r.str_or(6, "");
  m.safe_from_quarantine = r.i64_or(7, 0) != 0;
  m.authenticated = r.i64_or(8, 0) != 0;
  m.sha256 = r.str_or(9, "");
  if (!r.is_null(10)) m.last_access_ts = r.i64(10);
  m.url_cache = r.str_or(11, "");
  return m;
}

sql_value text_or_null(const std::string& s) { return s.empty() ? sql_value{nullptr} : sql_value{s}; }

const char* const remote_columns =
  "media_origin, media_id, media_type, media_length, created_ts, last_access_ts, upload_name, filesystem_id, "
  "quarantined_by, authenticated, sha256";

remote_media to_remote(const row& r) {
  remote_media m;
  m.media_origin = r.str(0);
  m.media_id = r.str(1);
  m.media_type = r.str_or(2, "");
  m.media_length = r.i64(3);
  m.created_ts = r.i64(4);
  if (!r.is_null(5)) m.last_access_ts = r.i64(5);
  m.upload_name = r.str_or(6, "");
  m.filesystem_id = r.str(7);
  m.quarantined_by = r.str_or(8, "");
  m.authenticated = r.i64_or(9, 0) != 0;
  m.sha256 = r.str_or(10, "");
  return m;
}

std::vector<media_thumbnail> to_thumbnails(const result& r) {
  std::vector<media_thumbnail> out;
  for (auto& row : r.rows)
    out.push_back({static_cast<int>(row.i64(0)), static_cast<int>(row.i64(1)), row.str(2), row.str(3),
                   row.i64(4)});
  return out;
}

} // namespace

std::optional<local_media> media_store::get_local(const std::string& media_id) {
  auto c = pool_.acquire();
  auto r = c->exec(std::string("SELECT ") + local_columns + " FROM local_media_repository WHERE media_id = $1",
                   {media_id});
  if (r.empty()) return std::nullopt;
  return to_local(r.rows[0]);
}

void media_store::create_pending(const std::string& media_id, const std::string& user_id, int64_t now_ms,
                                 bool authenticated) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO local_media_repository (media_id, created_ts, user_id, authenticated) VALUES ($1, $2, "
          "$3, $4)",
          {media_id, now_ms, user_id, int64_t{authenticated ? 1 : 0}});
}

int64_t media_store::pending_count(const std::string& user_id, int64_t since_ms) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT COUNT(*) FROM local_media_repository WHERE user_id = $1 AND media_length IS NULL AND "
                   "created_ts > $2",
                   {user_id, since_ms});
  return r.rows[0].i64(0);
}

bool media_store::store_upload(const local_media& m, bool pending) {
  auto c = pool_.acquire();
  sql_value len{m.media_length.value_or(0)};
  if (pending) {
    auto r = c->exec("UPDATE local_media_repository SET media_type = $2, media_length = $3, upload_name = $4, "
                     "sha256 = $5 WHERE media_id = $1 AND media_length IS NULL",
                     {m.media_id, m.media_type, len, text_or_null(m.upload_name), m.sha256});
    return r.affected == 1;
  }
  c->exec("INSERT INTO local_media_repository (media_id, media_type, media_length, created_ts, upload_name, "
          "user_id, authenticated, sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
          {m.media_id, m.media_type, len, m.created_ts, text_or_null(m.upload_name), m.user_id,
           int64_t{m.authenticated ? 1 : 0}, m.sha256});
  return true;
}

int64_t media_store::uploaded_since(const std::string& user_id, int64_t since_ms) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT COALESCE(SUM(media_length), 0) FROM local_media_repository WHERE user_id = $1 AND "
                   "created_ts > $2 AND media_length IS NOT NULL",
                   {user_id, since_ms});
  return r.rows[0].i64_or(0, 0);
}

std::optional<std::string> media_store::same_content(const std::string& sha256, const std::string& not_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT media_id FROM local_media_repository WHERE sha256 = $1 AND media_id <> $2 AND "
                   "media_length IS NOT NULL LIMIT 1",
                   {sha256, not_id});
  if (r.empty()) return std::nullopt;
  return r.rows[0].str(0);
}

void media_store::touch(const std::string& media_id, int64_t now_ms) {
  auto c = pool_.acquire();
  c->exec("UPDATE local_media_repository SET last_access_ts = $2 WHERE media_id = $1", {media_id, now_ms});
}

std::vector<media_thumbnail> media_store::thumbnails(const std::string& media_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT thumbnail_width, thumbnail_height, thumbnail_type, thumbnail_method, "
                   "thumbnail_length FROM local_media_repository_thumbnails WHERE media_id = $1",
                   {media_id});
  return to_thumbnails(r);
}

void media_store::add_thumbnail(const std::string& media_id, const media_thumbnail& t) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO local_media_repository_thumbnails (media_id, thumbnail_width, thumbnail_height, "
          "thumbnail_type, thumbnail_method, thumbnail_length) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT "
          "DO NOTHING",
          {media_id, int64_t{t.width}, int64_t{t.height}, t.type, t.method, t.length});
}

void media_store::delete_local(const std::string& media_id) {
  auto c = pool_.acquire();
  c->exec_transaction({{"DELETE FROM local_media_repository_thumbnails WHERE media_id = $1", {media_id}},
                       {"DELETE FROM local_media_repository WHERE media_id = $1", {media_id}}});
}

std::vector<local_media> media_store::user_media(const std::string& user_id, int64_t from, int64_t limit,
                                                 const std::string& order_by, bool ascending) {
  auto c = pool_.acquire();
  // order_by is one of the column names (checked by the caller); ties by id.
  auto r = c->exec(std::string("SELECT ") + local_columns + " FROM local_media_repository WHERE user_id = $1 "
                   "ORDER BY " + order_by + (ascending ? " ASC" : " DESC") + ", media_id ASC LIMIT $2 OFFSET $3",
                   {user_id, limit, from});
  std::vector<local_media> out;
  for (auto& row : r.rows) out.push_back(to_local(row));
  return out;
}

int64_t media_store::user_media_count(const std::string& user_id) {
  auto c = pool_.acquire();
  return c->exec("SELECT COUNT(*) FROM local_media_repository WHERE user_id = $1", {user_id}).rows[0].i64(0);
}

std::vector<std::string> media_store::stale_local(int64_t before_ts, int64_t size_gt, int64_t limit,
                                                  bool with_quarantined) {
  auto c = pool_.acquire();
  auto r = c->exec(std::string("SELECT media_id FROM local_media_repository WHERE COALESCE(last_access_ts, "
                               "created_ts) < $1 AND media_length IS NOT NULL AND media_length > $2 AND "
                               "safe_from_quarantine = 0 AND url_cache IS NULL") +
                     (with_quarantined ? "" : " AND quarantined_by IS NULL") + " ORDER BY created_ts LIMIT $3",
                   {before_ts, size_gt, limit});
  std::vector<std::string> out;
  for (auto& row : r.rows) out.push_back(row.str(0));
  return out;
}

bool media_store::set_quarantined(const std::string& media_id, const std::string& by, bool force) {
  auto c = pool_.acquire();
  sql_value v = by.empty() ? sql_value{nullptr} : sql_value{by};
  auto r = c->exec(force || by.empty()
                     ? "UPDATE local_media_repository SET quarantined_by = $2 WHERE media_id = $1"
                     : "UPDATE local_media_repository SET quarantined_by = $2 WHERE media_id = $1 AND "
                       "safe_from_quarantine = 0",
                   {media_id, v});
  return r.affected == 1;
}

int64_t media_store::quarantine_user(const std::string& user_id, const std::string& by) {
  auto c = pool_.acquire();
  return c->exec("UPDATE local_media_repository SET quarantined_by = $2 WHERE user_id = $1 AND "
                 "safe_from_quarantine = 0",
                 {user_id, by})
    .affected;
}

bool media_store::set_protected(const std::string& media_id, bool safe) {
  auto c = pool_.acquire();
  return c->exec("UPDATE local_media_repository SET safe_from_quarantine = $2 WHERE media_id = $1",
                 {media_id, int64_t{safe ? 1 : 0}})
           .affected == 1;
}

std::vector<std::string> media_store::room_event_json(const std::string& room_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT json FROM events WHERE room_id = $1 AND json LIKE '%mxc://%'", {room_id});
  std::vector<std::string> out;
  for (auto& row : r.rows) out.push_back(row.str(0));
  return out;
}

bool media_store::used_as_avatar(const std::string& mxc) {
  auto c = pool_.acquire();
  if (!c->exec("SELECT 1 FROM profiles WHERE avatar_url = $1 LIMIT 1", {mxc}).empty()) return true;
  // Room avatars: the current m.room.avatar events that name it.
  std::string pattern = "%";
  for (char ch : mxc) {
    if (ch == '%' || ch == '_' || ch == '!') pattern += '!';
    pattern += ch;
  }
  pattern += '%';
  auto r = c->exec("SELECT e.json FROM current_state_events c JOIN events e ON e.event_id = c.event_id WHERE "
                   "c.type = 'm.room.avatar' AND c.state_key = '' AND e.json LIKE $1 ESCAPE '!'",
                   {pattern});
  return !r.empty();
}

// ---- URL previews ----

std::optional<url_cache_entry> media_store::get_url_cache(const std::string& url, int64_t ts) {
  auto c = pool_.acquire();
  const char* columns = "SELECT response_code, etag, expires_ts, og, media_id, download_ts FROM "
                        "local_media_repository_url_cache WHERE url = $1 AND download_ts ";
  auto r = c->exec(std::string(columns) + "<= $2 ORDER BY download_ts DESC LIMIT 1", {url, ts});
  if (r.empty()) r = c->exec(std::string(columns) + "> $2 ORDER BY download_ts ASC LIMIT 1", {url, ts});
  if (r.empty()) return std::nullopt;
  auto& row = r.rows[0];
  url_cache_entry e;
  e.url = url;
  e.response_code = static_cast<int>(row.i64(0));
  e.etag = row.str_or(1, "");
  e.expires_ts = row.i64(2);
  e.og = row.str(3);
  e.media_id = row.str(4);
  e.download_ts = row.i64(5);
  return e;
}

void media_store::store_url_cache(const url_cache_entry& e) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO local_media_repository_url_cache (url, response_code, etag, expires_ts, og, media_id, "
          "download_ts) VALUES ($1, $2, $3, $4, $5, $6, $7)",
          {e.url, int64_t{e.response_code}, text_or_null(e.etag), e.expires_ts, e.og, e.media_id, e.download_ts});
}

void media_store::store_url_media(const local_media& m) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO local_media_repository (media_id, media_type, media_length, created_ts, upload_name, "
          "user_id, url_cache, sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
          {m.media_id, m.media_type, m.media_length.value_or(0), m.created_ts, text_or_null(m.upload_name),
           m.user_id, m.url_cache, m.sha256});
}

std::vector<std::string> media_store::take_expired_url_cache(int64_t now) {
  auto c = pool_.acquire();
  auto r = c->exec("DELETE FROM local_media_repository_url_cache WHERE expires_ts < $1 RETURNING media_id", {now});
  std::vector<std::string> out;
  for (auto& row : r.rows) out.push_back(row.str(0));
  return out;
}

std::vector<std::string> media_store::url_media_before(int64_t before_ts, int64_t limit) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT media_id FROM local_media_repository WHERE url_cache IS NOT NULL AND created_ts < $1 "
                   "ORDER BY created_ts LIMIT $2",
                   {before_ts, limit});
  std::vector<std::string> out;
  for (auto& row : r.rows) out.push_back(row.str(0));
  return out;
}

// ---- remote media kept here ----

std::optional<remote_media> media_store::get_remote(const std::string& origin, const std::string& media_id) {
  auto c = pool_.acquire();
  auto r = c->exec(std::string("SELECT ") + remote_columns +
                     " FROM remote_media_cache WHERE media_origin = $1 AND media_id = $2",
                   {origin, media_id});
  if (r.empty()) return std::nullopt;
  return to_remote(r.rows[0]);
}

bool media_store::store_remote(const remote_media& m) {
  auto c = pool_.acquire();
  auto r = c->exec("INSERT INTO remote_media_cache (media_origin, media_id, media_type, media_length, created_ts, "
                   "last_access_ts, upload_name, filesystem_id, authenticated, sha256) VALUES ($1, $2, $3, $4, $5, "
                   "$5, $6, $7, $8, $9) ON CONFLICT (media_origin, media_id) DO NOTHING",
                   {m.media_origin, m.media_id, m.media_type, m.media_length, m.created_ts,
                    text_or_null(m.upload_name), m.filesystem_id, int64_t{m.authenticated ? 1 : 0}, m.sha256});
  return r.affected == 1;
}

void media_store::touch_remote(const std::string& origin, const std::string& media_id, int64_t now_ms) {
  auto c = pool_.acquire();
  c->exec("UPDATE remote_media_cache SET last_access_ts = $3 WHERE media_origin = $1 AND media_id = $2",
          {origin, media_id, now_ms});
}

std::vector<media_thumbnail> media_store::remote_thumbnails(const std::string& origin, const std::string& media_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT thumbnail_width, thumbnail_height, thumbnail_type, thumbnail_method, thumbnail_length "
                   "FROM remote_media_cache_thumbnails WHERE media_origin = $1 AND media_id = $2",
                   {origin, media_id});
  return to_thumbnails(r);
}

void media_store::add_remote_thumbnail(const std::string& origin, const std::string& media_id,
                                       const std::string& file_id, const media_thumbnail& t) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO remote_media_cache_thumbnails (media_origin, media_id, thumbnail_width, thumbnail_height, "
          "thumbnail_method, thumbnail_type, thumbnail_length, filesystem_id) VALUES ($1, $2, $3, $4, $5, $6, $7, "
          "$8) ON CONFLICT DO NOTHING",
          {origin, media_id, int64_t{t.width}, int64_t{t.height}, t.method, t.type, t.length, file_id});
}

void media_store::delete_remote(const std::string& origin, const std::string& media_id) {
  auto c = pool_.acquire();
  c->exec_transaction(
    {{"DELETE FROM remote_media_cache_thumbnails WHERE media_origin = $1 AND media_id = $2", {origin, media_id}},
     {"DELETE FROM remote_media_cache WHERE media_origin = $1 AND media_id = $2", {origin, media_id}}});
}

std::vector<remote_media> media_store::stale_remote(int64_t before_ts, int64_t limit, bool with_quarantined) {
  auto c = pool_.acquire();
  auto r = c->exec(std::string("SELECT ") + remote_columns +
                     " FROM remote_media_cache WHERE COALESCE(last_access_ts, created_ts) < $1" +
                     (with_quarantined ? "" : " AND quarantined_by IS NULL") +
                     " ORDER BY COALESCE(last_access_ts, created_ts) LIMIT $2",
                   {before_ts, limit});
  std::vector<remote_media> out;
  for (auto& row : r.rows) out.push_back(to_remote(row));
  return out;
}

bool media_store::set_remote_quarantined(const std::string& origin, const std::string& media_id,
                                         const std::string& by) {
  auto c = pool_.acquire();
  auto r = c->exec("UPDATE remote_media_cache SET quarantined_by = $3 WHERE media_origin = $1 AND media_id = $2",
                   {origin, media_id, text_or_null(by)});
  return r.affected == 1;
}

} // namespace axon::storage
