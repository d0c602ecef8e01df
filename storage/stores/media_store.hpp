// storage/stores/media_store.hpp -- the media repository's metadata
// (migration 024, Synapse's table names): local uploads, ids made ahead of
// their upload, thumbnails, and remote media kept here.
#pragma once

#include "storage/database.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace axon::storage {

/// One local media item. `media_length` unset: created, not uploaded yet.
struct local_media {
  std::string media_id;
  std::string media_type;
  std::optional<int64_t> media_length;
  int64_t created_ts = 0;
  std::optional<int64_t> last_access_ts;
  std::string upload_name;
  std::string user_id;
  std::string quarantined_by;
  bool safe_from_quarantine = false;
  bool authenticated = false;
  std::string sha256;
  std::string url_cache; ///< the URL a URL preview fetched this from; "" for uploads
};

/// A URL preview made (local_media_repository_url_cache).
struct url_cache_entry {
  std::string url;
  int response_code = 0;
  std::string etag;
  int64_t expires_ts = 0;
  std::string og; ///< the Open Graph answer, JSON text
  std::string media_id;
  int64_t download_ts = 0;
};

struct media_thumbnail {
  int width = 0;
  int height = 0;
  std::string type;   ///< its content type
  std::string method; ///< "crop" or "scale"
  int64_t length = 0;
};

/// Another server's media item kept here (remote_media_cache): its file is
/// remote_content/<origin>/<filesystem_id split as Synapse does>.
struct remote_media {
  std::string media_origin;
  std::string media_id;
  std::string media_type;
  int64_t media_length = 0;
  int64_t created_ts = 0;
  std::optional<int64_t> last_access_ts;
  std::string upload_name;
  std::string filesystem_id;
  std::string quarantined_by;
  bool authenticated = false;
  std::string sha256;
};

class media_store {
public:
  explicit media_store(pool& p) : pool_(p) {}

  std::optional<local_media> get_local(const std::string& media_id);
  /// An id made by POST /create (no content yet).
  void create_pending(const std::string& media_id, const std::string& user_id, int64_t now_ms,
                      bool authenticated);
  /// How many of `user_id`'s created ids are still waiting for content,
  /// counting those made after `since_ms`.
  int64_t pending_count(const std::string& user_id, int64_t since_ms);
  /// Stores an upload's metadata: a new row, or the content of a pending
  /// one (false when that one has content already: never overwritten).
  bool store_upload(const local_media& m, bool pending);
  /// Bytes `user_id` uploaded since `since_ms` (media_upload_limits).
  int64_t uploaded_since(const std::string& user_id, int64_t since_ms);
  /// Another uploaded item with the same content (its id), for sharing the file.
  std::optional<std::string> same_content(const std::string& sha256, const std::string& not_id);
  void touch(const std::string& media_id, int64_t now_ms);

  std::vector<media_thumbnail> thumbnails(const std::string& media_id);
  void add_thumbnail(const std::string& media_id, const media_thumbnail& t);

  // ---- admin (Synapse's media admin API) ----
  /// Forgets an item and its thumbnails (the caller removes the files).
  void delete_local(const std::string& media_id);
  /// A user's uploads, newest first unless `ascending`, ordered by
  /// `order_by` (one of Synapse's columns, checked by the caller).
  std::vector<local_media> user_media(const std::string& user_id, int64_t from, int64_t limit,
                                      const std::string& order_by, bool ascending);
  int64_t user_media_count(const std::string& user_id);
  /// Local items last used (or, never used, made) before `before_ts`, larger
  /// than `size_gt`, not protected (nor quarantined, unless
  /// `with_quarantined`); at most `limit`.
  std::vector<std::string> stale_local(int64_t before_ts, int64_t size_gt, int64_t limit,
                                       bool with_quarantined = true);
  /// Sets (or clears, `by` empty) quarantined_by; protected items stay
  /// unless `force`. Whether a row changed.
  bool set_quarantined(const std::string& media_id, const std::string& by, bool force = false);
  /// Quarantines every unprotected upload of `user_id`: how many.
  int64_t quarantine_user(const std::string& user_id, const std::string& by);
  bool set_protected(const std::string& media_id, bool safe);
  /// The JSON of the room's events that name an mxc URI.
  std::vector<std::string> room_event_json(const std::string& room_id);
  /// Whether `mxc` is some user's avatar or some room's avatar now.
  bool used_as_avatar(const std::string& mxc);

  // ---- URL previews ----
  /// The preview of `url` made last at or before `ts`, else the first after
  /// it (Synapse's history-aware get_url_cache).
  std::optional<url_cache_entry> get_url_cache(const std::string& url, int64_t ts);
  void store_url_cache(const url_cache_entry& e);
  /// Keeps what a preview fetched as a local item (its url_cache set).
  void store_url_media(const local_media& m);
  /// Previews expired before `now`: their media ids, and the rows gone.
  std::vector<std::string> take_expired_url_cache(int64_t now);
  /// Media fetched for previews before `before_ts` (ids).
  std::vector<std::string> url_media_before(int64_t before_ts, int64_t limit);

  // ---- remote media kept here ----
  std::optional<remote_media> get_remote(const std::string& origin, const std::string& media_id);
  /// Keeps a fetched item; false when another fetch (another media
  /// worker) kept it first: the caller then uses that one.
  bool store_remote(const remote_media& m);
  void touch_remote(const std::string& origin, const std::string& media_id, int64_t now_ms);
  std::vector<media_thumbnail> remote_thumbnails(const std::string& origin, const std::string& media_id);
  void add_remote_thumbnail(const std::string& origin, const std::string& media_id, const std::string& file_id,
                            const media_thumbnail& t);
  /// Forgets a kept item and its thumbnails (the caller removes the files).
  void delete_remote(const std::string& origin, const std::string& media_id);
  /// Kept items last used (or, never used, fetched) before `before_ts`, at
  /// most `limit` (purge_media_cache, media_retention.remote_media_lifetime).
  std::vector<remote_media> stale_remote(int64_t before_ts, int64_t limit, bool with_quarantined = true);
  /// Sets (or clears, `by` empty) a kept item's quarantined_by; whether a row changed.
  bool set_remote_quarantined(const std::string& origin, const std::string& media_id, const std::string& by);

private:
  pool& pool_;
};

} // namespace axon::storage
