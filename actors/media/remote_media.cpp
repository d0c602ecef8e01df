// actors/media/remote_media.cpp -- other servers' media, fetched over
// federation and kept under media_store_path (spec: server-server "Content
// Repository"; Synapse's MediaRepository._get_remote_media_impl and
// MatrixFederationHttpClient.federation_get_file for the behaviour).
//
// A fetch asks the origin's GET /_matrix/federation/v1/media/download/{id}
// first, and, when the origin does not know that endpoint (Synapse's
// is_unknown_endpoint: 404/405 without a Matrix error or with
// M_UNRECOGNIZED, or 400 M_UNRECOGNIZED), its legacy
// /_matrix/media/v3/download/{origin}/{id}?allow_remote=false. The answer is
// written to a file by the HTTP client (never whole in memory, at most
// max_upload_size); a multipart answer is split with Poco's MultipartReader
// (Poco is already linked, a well-kept MIME parser: no hand-written one),
// its second part copied to the item's file while hashed. A part carrying
// a Location instead of bytes is fetched from there, unsigned.
//
// One fetch per item at a time: the first request fetches, concurrent ones
// wait for its result (the fetch has its own timeout). Another media worker
// fetching the same item at once is settled by the table's unique key:
// the later row is dropped with its file, and the earlier one used.
#include "actors/media/media_repository.hpp"

#include "actors/federation/federation_client.hpp"
#include "actors/http/http_server.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/environment.hpp"
#include "messages/errors.hpp"

#include <Poco/Net/MediaType.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/MultipartReader.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <iostream>

namespace axon::media {

struct media_repository::flight {
  bool done = false;
  std::optional<storage::remote_media> got;
  std::exception_ptr error;
  std::condition_variable cv;
};

namespace {

/// Bytes a multipart answer may carry beyond the media itself (the JSON
/// part, headers, boundaries).
constexpr int64_t multipart_overhead = 64 * 1024;
/// The time a fetch may take beyond the origin's wait for an upload.
constexpr int64_t fetch_slack_ms = 30000;
/// Synapse's federation_get_file: a download starts only with at least
/// this much left in the requester's bucket.
constexpr double min_download_balance = 1024 * 1024;

[[noreturn]] void fetch_failed(const std::string& origin, const std::string& id, const std::string& why) {
  std::cerr << "media: fetching " << origin << "/" << id << " failed: " << why << "\n";
  throw matrix_error(errc::bad_gateway, "Failed to fetch remote media");
}

matrix_error too_large(int64_t max_size) {
  return matrix_error(errc::too_large_remote, "Requested file is too large > " + std::to_string(max_size) + " bytes");
}

/// Synapse's is_unknown_endpoint.
bool unknown_endpoint(const federation::remote_file& r) {
  auto code = r.errcode();
  if (r.status == 404 || r.status == 405) return !r.body.is_object() || code == "M_UNRECOGNIZED";
  return r.status == 400 && code == "M_UNRECOGNIZED";
}

/// What a fetch learnt of the item besides its bytes.
struct fetched {
  std::string media_type;
  std::string upload_name;
  int64_t length = 0;
  std::string sha256;
};

/// Copies the media part `in` to the new file `out_path`, hashing and
/// counting. Past `max_size` bytes: too_large; a write error: runtime_error
/// (no file is left either way).
void copy_hashed(std::istream& in, const std::string& out_path, int64_t max_size, fetched& f) {
  make_parents(out_path);
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot create " + out_path);
  sha256_hasher hash;
  std::vector<char> buf(64 * 1024);
  int64_t total = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    auto n = in.gcount();
    if (n <= 0) break;
    total += n;
    if (total > max_size) {
      out.close();
      ::unlink(out_path.c_str());
      throw too_large(max_size);
    }
    hash.update(buf.data(), static_cast<size_t>(n));
    out.write(buf.data(), n);
  }
  out.close();
  if (in.bad() || !out) {
    ::unlink(out_path.c_str());
    throw std::runtime_error("cannot copy the media part");
  }
  f.sha256 = hash.hex();
  f.length = total;
}

/// Moves a whole answer's file (the media itself: the legacy route, a
/// redirect) to `out_path` and hashes it there; false when it can't.
bool place_whole(const std::string& answer_path, const std::string& out_path, fetched& f) {
  make_parents(out_path);
  struct stat st {};
  if (::rename(answer_path.c_str(), out_path.c_str()) != 0 || ::stat(out_path.c_str(), &st) != 0) return false;
  f.sha256 = file_sha256(out_path);
  f.length = static_cast<int64_t>(st.st_size);
  return !f.sha256.empty();
}

} // namespace

std::string disposition_filename(const std::string& header) {
  if (header.empty()) return {};
  std::string value;
  Poco::Net::NameValueCollection params;
  try {
    Poco::Net::MessageHeader::splitParameters(header, value, params);
  } catch (const std::exception&) {
    return {};
  }
  auto star = params.get("filename*", "");
  if (!star.empty()) {
    // RFC 5987: charset'language'percent-encoded; only UTF-8 is taken.
    auto q1 = star.find('\'');
    auto q2 = q1 == std::string::npos ? std::string::npos : star.find('\'', q1 + 1);
    if (q2 != std::string::npos) {
      auto charset = star.substr(0, q1);
      std::transform(charset.begin(), charset.end(), charset.begin(), ::tolower);
      if (charset == "utf-8") {
        std::string out;
        auto enc = star.substr(q2 + 1);
        for (size_t i = 0; i < enc.size(); ++i) {
          if (enc[i] == '%' && i + 2 < enc.size() && std::isxdigit(static_cast<unsigned char>(enc[i + 1])) &&
              std::isxdigit(static_cast<unsigned char>(enc[i + 2]))) {
            out += static_cast<char>(std::stoi(enc.substr(i + 1, 2), nullptr, 16));
            i += 2;
          } else {
            out += enc[i];
          }
        }
        if (!out.empty()) return out;
      }
    }
  }
  return params.get("filename", "");
}

storage::remote_media media_repository::get_remote(const std::string& origin, const std::string& media_id,
                                                   int64_t wait_ms, const std::string& requester_ip,
                                                   bool allow_fetch) {
  auto& blocked = cfg_.media.prevent_media_downloads_from;
  // Trust and safety: not even what is kept already (Synapse's 404).
  if (std::find(blocked.begin(), blocked.end(), origin) != blocked.end()) throw matrix_error(errc::not_found, "Not found");
  auto key = origin + "/" + media_id;
  for (;;) {
    if (auto m = store_.get_remote(origin, media_id)) {
      if (::access(content_path(media_ref::remote(*m)).c_str(), R_OK) == 0) return *m;
      // The row outlived its file (removed by hand): fetched again.
      delete_remote(*m);
    }
    if (!allow_fetch) throw matrix_error(errc::not_found, "Not found");
    if (!federation_) fetch_failed(origin, media_id, "this instance has no federation client");
    std::shared_ptr<flight> f;
    bool mine = false;
    {
      std::lock_guard<std::mutex> lock(flights_mu_);
      auto& slot = flights_[key];
      if (!slot) {
        slot = std::make_shared<flight>();
        mine = true;
      }
      f = slot;
    }
    if (mine) {
      try {
        f->got = fetch_remote(origin, media_id, wait_ms, requester_ip);
      } catch (...) {
        f->error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(flights_mu_);
      f->done = true;
      flights_.erase(key);
      f->cv.notify_all();
    } else {
      std::unique_lock<std::mutex> lock(flights_mu_);
      f->cv.wait(lock, [&] { return f->done; });
    }
    if (f->error) std::rethrow_exception(f->error);
    if (f->got) return *f->got;
  }
}

storage::remote_media media_repository::fetch_remote(const std::string& origin, const std::string& media_id,
                                                     int64_t wait_ms, const std::string& requester_ip) {
  auto& media = cfg_.media;
  auto per_second = static_cast<double>(media.remote_media_download_per_second);
  auto burst = static_cast<double>(media.remote_media_download_burst_count);
  if (download_limits_.take("remote_media_download", requester_ip, per_second, burst, min_download_balance,
                            false) > 0)
    throw matrix_error(errc::limit_exceeded, "Requested file size exceeds ratelimits");

  auto max_size = cfg_.max_upload_size;
  auto timeout = wait_ms + fetch_slack_ms;
  storage::remote_media m;
  m.media_origin = origin;
  m.media_id = media_id;
  m.filesystem_id = matrix::random_string(24, env_);
  auto ref = media_ref::remote(m);
  auto final_path = content_path(ref);
  auto answer_path = upload_dir_ + "/remote-" + matrix::random_string(16, env_);
  auto answer_guard = http::temp_file_guard(answer_path);
  fetched got;

  auto wait = std::to_string(wait_ms);
  auto r = federation_->download(origin, "/_matrix/federation/v1/media/download/" + federation::escape(media_id) +
                                           "?timeout_ms=" + wait,
                                 answer_path, max_size + multipart_overhead, timeout);
  bool legacy = false;
  if (unknown_endpoint(r)) {
    legacy = true;
    r = federation_->download(origin, "/_matrix/media/v3/download/" + federation::escape(origin) + "/" +
                                        federation::escape(media_id) + "?allow_remote=false&allow_redirect=true&timeout_ms=" +
                                        wait,
                              answer_path, max_size, timeout);
    // Matrix 1.7 lets the legacy route redirect.
    if ((r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308) &&
        !r.header("Location").empty())
      r = federation_->download_url(r.header("Location"), answer_path, max_size, timeout);
  }
  if (r.too_large)
    throw too_large(max_size);
  if (r.status == 0) fetch_failed(origin, media_id, r.error);
  if (r.status == 404) throw matrix_error(errc::not_found, "Not found"); // the origin's answer, passed on
  if (r.status < 200 || r.status >= 300) fetch_failed(origin, media_id, "HTTP " + std::to_string(r.status));

  if (legacy) {
    got.media_type = r.header("Content-Type");
    got.upload_name = disposition_filename(r.header("Content-Disposition"));
    if (!place_whole(answer_path, final_path, got)) fetch_failed(origin, media_id, "cannot keep " + final_path);
  } else {
    // multipart/mixed: the metadata (JSON), then the bytes or a Location.
    std::string boundary;
    try {
      Poco::Net::MediaType type(r.header("Content-Type"));
      if (type.matches("multipart", "mixed") && type.hasParameter("boundary")) boundary = type.getParameter("boundary");
    } catch (const std::exception&) {
    }
    if (boundary.empty())
      fetch_failed(origin, media_id, "expected Content-Type multipart/mixed with a boundary, got \"" +
                                       r.header("Content-Type") + "\"");
    std::ifstream in(answer_path, std::ios::binary);
    try {
      Poco::Net::MultipartReader reader(in, boundary);
      Poco::Net::MessageHeader head;
      if (!reader.hasNextPart()) fetch_failed(origin, media_id, "an empty multipart answer");
      reader.nextPart(head);
      std::string metadata((std::istreambuf_iterator<char>(reader.stream())), std::istreambuf_iterator<char>());
      if (metadata.size() > 65536 || !nlohmann::json::accept(metadata))
        fetch_failed(origin, media_id, "the first part is not JSON");
      if (!reader.hasNextPart()) fetch_failed(origin, media_id, "no media part");
      head.clear();
      reader.nextPart(head);
      auto location = head.get("Location", "");
      if (!location.empty()) {
        auto moved = answer_path + "-loc";
        auto moved_guard = http::temp_file_guard(moved);
        auto again = federation_->download_url(location, moved, max_size, timeout);
        if (again.too_large)
          throw too_large(max_size);
        if (again.status < 200 || again.status >= 300)
          fetch_failed(origin, media_id, "the redirect to " + location + " gave " +
                                           (again.status ? "HTTP " + std::to_string(again.status) : again.error));
        got.media_type = again.header("Content-Type");
        got.upload_name = disposition_filename(again.header("Content-Disposition"));
        if (!place_whole(moved, final_path, got)) fetch_failed(origin, media_id, "cannot keep " + final_path);
      } else {
        got.media_type = head.get("Content-Type", "");
        got.upload_name = disposition_filename(head.get("Content-Disposition", ""));
        copy_hashed(reader.stream(), final_path, max_size, got);
      }
    } catch (const matrix_error&) {
      ::unlink(final_path.c_str());
      throw;
    } catch (const std::exception& e) {
      ::unlink(final_path.c_str());
      fetch_failed(origin, media_id, std::string("the multipart answer: ") + e.what());
    }
  }
  // What a client is told of the item: sane values only.
  if (got.media_type.empty() || !plain_field(got.media_type)) got.media_type = "application/octet-stream";
  if (!plain_field(got.upload_name)) got.upload_name.clear();
  download_limits_.spend("remote_media_download", requester_ip, per_second, burst, static_cast<double>(got.length));

  m.media_type = got.media_type;
  m.upload_name = got.upload_name;
  m.media_length = got.length;
  m.sha256 = got.sha256;
  m.created_ts = env_.now_ms();
  m.last_access_ts = m.created_ts;
  m.authenticated = media.enable_authenticated_media;
  if (!store_.store_remote(m)) {
    // Another media worker kept it first: its row and file stand.
    ::unlink(final_path.c_str());
    if (auto other = store_.get_remote(origin, media_id)) return *other;
    fetch_failed(origin, media_id, "the item kept by another worker is gone");
  }
  make_thumbnails(ref, m.media_type);
  return m;
}

void media_repository::delete_remote(const storage::remote_media& m) {
  remove_files(media_ref::remote(m));
  store_.delete_remote(m.media_origin, m.media_id);
}

int64_t media_repository::purge_remote(int64_t before_ts, bool with_quarantined) {
  int64_t n = 0;
  for (;;) {
    auto batch = store_.stale_remote(before_ts, 500, with_quarantined);
    for (auto& m : batch) delete_remote(m);
    n += static_cast<int64_t>(batch.size());
    if (batch.size() < 500) return n;
  }
}

} // namespace axon::media
