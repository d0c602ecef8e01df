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

#include "actors/http/services.hpp"
#include "storage/stores/media_store.hpp"

#include <condition_variable>
#include <memory>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace axon::config { struct homeserver_config; }
namespace axon::matrix { class environment; }
namespace axon::federation { class federation_client; }

namespace axon::media {

struct thumbnail; // thumbnailer.hpp
class url_previewer; // url_previewer.hpp

/// Whether `id` can be a media id here: letters, digits, '_' and '-', at
/// most 255 of them (nothing a path could be made of).
bool valid_media_id(const std::string& id);

/// Where an item's files are: a local upload (`origin` empty; its files
/// are named by its media id) or another server's item kept here (its
/// files are named by `file_id`, its filesystem_id, under the origin).
struct media_ref {
  std::string origin;
  std::string media_id;
  std::string file_id;
  bool url_cache = false; ///< local, fetched by a URL preview: under url_cache/ (Synapse's layout)
  static media_ref local(const std::string& id) { return {"", id, id, false}; }
  static media_ref url(const std::string& id) { return {"", id, id, true}; }
  static media_ref of(const storage::local_media& m) { return m.url_cache.empty() ? local(m.media_id) : url(m.media_id); }
  static media_ref remote(const storage::remote_media& m) {
    return {m.media_origin, m.media_id, m.filesystem_id, false};
  }
  bool is_local() const { return origin.empty(); }
};

class media_repository {
public:
  /// `federation` fetches other servers' media (null: none is fetched).
  media_repository(const config::homeserver_config& cfg, storage::pool& pool, matrix::environment& env,
                   federation::federation_client* federation = nullptr);
  ~media_repository();
  media_repository(const media_repository&) = delete;
  media_repository& operator=(const media_repository&) = delete;

  /// URL previews; null unless url_preview_enabled.
  url_previewer* previews() { return previews_.get(); }

  const config::homeserver_config& cfg() const { return cfg_; }
  storage::media_store& store() { return store_; }
  matrix::environment& env() { return env_; }
  /// Where uploads are streamed to before they are stored (same file system).
  const std::string& upload_dir() const { return upload_dir_; }

  std::string local_path(const std::string& media_id) const { return content_path(media_ref::local(media_id)); }
  std::string local_thumbnail_path(const std::string& media_id, int w, int h, const std::string& type,
                                   const std::string& method) const {
    return thumbnail_path(media_ref::local(media_id), w, h, type, method);
  }
  /// Synapse's layout: local_content/aa/bb/rest, remote_content/<origin>/aa/bb/rest,
  /// url_cache/<date>/<rest> (preview ids are "<date>_<random>").
  std::string content_path(const media_ref& ref) const;
  /// The directory of an item's thumbnails (local_thumbnails/..., remote_thumbnail/<origin>/...).
  std::string thumbnail_dir(const media_ref& ref) const;
  std::string thumbnail_path(const media_ref& ref, int w, int h, const std::string& type,
                             const std::string& method) const;
  std::vector<storage::media_thumbnail> thumbnails(const media_ref& ref);

  /// A download or thumbnail of `media_id` was served: its last_access_ts,
  /// written at most once a minute per item (off the download path, as
  /// Synapse batches it).
  void accessed(const media_ref& ref);

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
  void make_thumbnails(const media_ref& ref, const std::string& media_type);
  /// Makes (and keeps) one thumbnail now: dynamic_thumbnails, animated.
  std::optional<storage::media_thumbnail> make_thumbnail(const media_ref& ref, const std::string& media_type, int w,
                                                         int h, const std::string& method, bool animated);

  // ---- other servers' media (remote_media.cpp) ----

  /// `origin`'s item, kept here: fetched over federation when it is not
  /// (unless `allow_fetch` is false), once however many ask at a time
  /// (the others wait for that fetch). Raises what the client gets: 404
  /// (unknown there, prevent_media_downloads_from, quarantined but for
  /// admins), 429 (remote_media_download_* for `requester_ip`), 502
  /// (unreachable, malformed, M_TOO_LARGE past max_upload_size).
  storage::remote_media get_remote(const std::string& origin, const std::string& media_id, int64_t wait_ms,
                                   const std::string& requester_ip, bool allow_fetch);
  /// Forgets a kept item: its row, thumbnails and files.
  void delete_remote(const storage::remote_media& m);
  /// Forgets every kept item not used since `before_ts` (but quarantined
  /// ones unless `with_quarantined`): how many.
  int64_t purge_remote(int64_t before_ts, bool with_quarantined = true);
  /// media_retention, once: deletes local media (not avatars, protected or
  /// quarantined) and kept remote media (not quarantined) unused for the
  /// configured lifetimes. How many items went.
  int64_t apply_retention();

private:
  /// Removes an item's files: its thumbnails (as its rows list them), their
  /// directory, its content (which stays while another id links to it).
  void remove_files(const media_ref& ref);
  /// Writes a thumbnail made for `method` to its file and its row (and `out`).
  void keep_thumbnail(const media_ref& ref, const thumbnail& t, const std::string& method,
                      std::optional<storage::media_thumbnail>* out);
  /// The fetch itself (get_remote's single flight).
  storage::remote_media fetch_remote(const std::string& origin, const std::string& media_id, int64_t wait_ms,
                                     const std::string& requester_ip);

  const config::homeserver_config& cfg_;
  storage::media_store store_;
  matrix::environment& env_;
  std::string root_;
  std::string upload_dir_;
  std::mutex mu_;
  std::condition_variable uploaded_;
  std::unordered_map<std::string, int64_t> access_written_; ///< id -> when last_access_ts was written (mu_)

  federation::federation_client* federation_;
  std::unique_ptr<url_previewer> previews_;
  http::rate_limiter download_limits_; ///< remote_media_download_*, per requester address
  struct flight;                       ///< one fetch of a remote item, and who waits for it
  std::mutex flights_mu_;
  std::unordered_map<std::string, std::shared_ptr<flight>> flights_; ///< "origin/id" -> its fetch
};

/// Whether `s` may be stored as a name or type a client is shown: at most
/// 255 bytes, no control characters.
bool plain_field(const std::string& s);
/// mkdir -p of the directories above `path`.
void make_parents(const std::string& path);
/// Lower-case hex of `n` bytes.
std::string to_hex(const unsigned char* b, size_t n);
/// SHA-256 over pieces, with OpenSSL's (it uses the CPU's SHA instructions:
/// 1.5 GB/s here against libsodium's portable 250 MB/s, which was most of a
/// 50 MiB upload's time).
class sha256_hasher {
public:
  sha256_hasher();
  ~sha256_hasher();
  sha256_hasher(const sha256_hasher&) = delete;
  sha256_hasher& operator=(const sha256_hasher&) = delete;
  void update(const void* data, size_t n);
  /// The digest in hex; call once.
  std::string hex();

private:
  void* ctx_; ///< EVP_MD_CTX
};
/// The hex sha256 of a file, read in 1 MiB blocks; "" when it cannot be read.
std::string file_sha256(const std::string& path);
/// The file name a Content-Disposition header gives (RFC 6266: filename*
/// in RFC 5987's UTF-8 form first, else filename), or "".
std::string disposition_filename(const std::string& header);

/// The Content-Disposition of a download: inline for the spec's safe
/// types, attachment otherwise, with the file name when there is one.
std::string content_disposition(const std::string& content_type, const std::string& filename);
/// Whether the spec lets `content_type` be shown inline.
bool inline_type(const std::string& content_type);

} // namespace axon::media
