// actors/media/media_repository.hpp -- the media repository of the
// instance that holds the media role (main with enable_media_repo, or a
// media_repository worker): files under media_store_path in Synapse's
// layout, metadata in media_store, thumbnails made with libvips
// (thumbnailer.hpp). Used by the media handlers on request threads; no CAF.
//
// Files: local_content/aa/bb/rest for media id "aabbrest...", thumbnails
// at local_thumbnails/aa/bb/rest/{w}-{h}-{top}-{sub}-{method} (Synapse's
// names, so an admin can move a Synapse media store over). Identical
// uploads share one file: the second is a hard link to the first, so the
// file goes only when its last id is deleted (the link count).
#pragma once

#include "storage/stores/media_store.hpp"

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace axon::config { struct homeserver_config; }
namespace axon::matrix { class environment; }

namespace axon::media {

struct thumbnail; // thumbnailer.hpp

/// Whether `id` can be a media id here: letters, digits, '_' and '-', at
/// most 255 of them (nothing a path could be made of).
bool valid_media_id(const std::string& id);

class media_repository {
public:
  media_repository(const config::homeserver_config& cfg, storage::pool& pool, matrix::environment& env);

  const config::homeserver_config& cfg() const { return cfg_; }
  storage::media_store& store() { return store_; }
  matrix::environment& env() { return env_; }
  /// Where uploads are streamed to before they are stored (same file system).
  const std::string& upload_dir() const { return upload_dir_; }

  std::string local_path(const std::string& media_id) const;
  /// The directory of an item's thumbnails.
  std::string local_thumbnail_dir(const std::string& media_id) const;
  std::string local_thumbnail_path(const std::string& media_id, int w, int h, const std::string& type,
                                   const std::string& method) const;

  /// A download or thumbnail of `media_id` was served: its last_access_ts,
  /// written at most once a minute per item (off the download path, as
  /// Synapse batches it).
  void accessed(const std::string& media_id);

  /// Stores the upload in `temp_path` (moved away) as `media_id` (a new id
  /// when empty; else an id made by /create, `pending`): hashes it, shares
  /// the file of identical content, writes the row, makes the configured
  /// thumbnails of an image. Returns the row; raises matrix_error
  /// cannot_overwrite_media when the pending id got content meanwhile.
  storage::local_media store_upload(const std::string& temp_path, uint64_t size, const std::string& content_type,
                                    const std::string& upload_name, const std::string& user_id,
                                    std::string media_id, bool authenticated);

  /// Deletes an item: its row, its thumbnails, its file (the content
  /// stays while another id links to it).
  void delete_local(const std::string& media_id);

  /// Waits at most `timeout_ms` for a created id's content; the row as it
  /// is then (still without content when the time ran out).
  std::optional<storage::local_media> wait_uploaded(const std::string& media_id, int64_t timeout_ms);

  /// The configured thumbnails of an image (errors only logged: the
  /// upload stands without them).
  void make_thumbnails(const storage::local_media& m);
  /// Makes (and keeps) one thumbnail now: dynamic_thumbnails, animated.
  std::optional<storage::media_thumbnail> make_thumbnail(const storage::local_media& m, int w, int h,
                                                         const std::string& method, bool animated);

private:
  /// Writes a thumbnail made for `method` to its file and its row (and `out`).
  void keep_thumbnail(const std::string& media_id, const thumbnail& t, const std::string& method,
                      std::optional<storage::media_thumbnail>* out);

  const config::homeserver_config& cfg_;
  storage::media_store store_;
  matrix::environment& env_;
  std::string root_;
  std::string upload_dir_;
  std::mutex mu_;
  std::condition_variable uploaded_;
  std::unordered_map<std::string, int64_t> access_written_; ///< id -> when last_access_ts was written (mu_)
};

/// The Content-Disposition of a download: inline for the spec's safe
/// types, attachment otherwise, with the file name when there is one.
std::string content_disposition(const std::string& content_type, const std::string& filename);
/// Whether the spec lets `content_type` be shown inline.
bool inline_type(const std::string& content_type);

} // namespace axon::media
