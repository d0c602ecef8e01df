// actors/media/url_previewer.hpp -- URL previews (spec: GET
// /_matrix/client/v1/media/preview_url; Synapse's UrlPreviewer for the
// behaviour): fetches a page (or an image) with the previews' own HTTP
// client, whose address filter is url_preview_ip_range_blocklist /
// allowlist (checked after resolution and on every redirect, so a name or a
// redirect cannot lead to a refused address), reads its Open Graph data
// (open_graph.hpp), keeps what it fetched as local media under url_cache/
// and the preview in local_media_repository_url_cache.
//
// One fetch per URL at a time; answers (failures too) are remembered for an
// hour in memory, previews for an hour in the database, history-aware by
// `ts`, as in Synapse. Used on request threads; no CAF.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace axon::http { class http_client; }

namespace axon::media {

class media_repository;

class url_previewer {
public:
  /// Throws std::runtime_error when the previews' HTTP client cannot start.
  explicit url_previewer(media_repository& repo);
  ~url_previewer();

  /// The Open Graph answer (JSON text) for `url` as of `ts`, requested by
  /// `user_id`. Raises the client's matrix_error: 400 for what is not an
  /// http(s) URL, 403 for url_preview_url_blocklist, 502 for a refused or
  /// unreachable address, an error status or a type that is not
  /// previewable, 502 M_TOO_LARGE past max_spider_size.
  std::string preview(const std::string& url, const std::string& user_id, int64_t ts);

  /// The background job (every 10 s on the instance running media jobs):
  /// expired previews lose their fetched page; media fetched for previews
  /// goes, with its thumbnails, after two days. How many items went.
  int64_t expire();

  url_previewer(const url_previewer&) = delete;
  url_previewer& operator=(const url_previewer&) = delete;

private:
  struct answer; ///< an answer remembered in memory (og or error), and who waits for it
  struct fetched; ///< what one download gave
  std::string make_preview(const std::string& url, const std::string& user_id, int64_t ts);
  /// Downloads `url` (following redirects) as a new url-cache item.
  fetched fetch(const std::string& url, const std::string& user_id);
  bool blocked(const std::string& url) const;

  media_repository& repo_;
  std::unique_ptr<http::http_client> http_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<answer>> answers_; ///< url -> answer (mu_)
};

} // namespace axon::media
