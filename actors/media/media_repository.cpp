#include "actors/media/media_repository.hpp"

#include "actors/media/thumbnailer.hpp"
#include "actors/media/url_previewer.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/environment.hpp"
#include "messages/errors.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <iostream>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace axon::media {

void make_parents(const std::string& path) {
  for (size_t i = path.find('/', 1); i != std::string::npos; i = path.find('/', i + 1))
    ::mkdir(path.substr(0, i).c_str(), 0750);
}

namespace {

std::string absolute(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char buf[4096];
  if (!::getcwd(buf, sizeof buf)) return p;
  return std::string(buf) + "/" + p;
}

/// "image/jpeg; charset=..." -> "image/jpeg", lower case.
std::string bare_type(const std::string& t) {
  auto s = t.substr(0, t.find(';'));
  while (!s.empty() && s.back() == ' ') s.pop_back();
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool thumbnailable(const std::string& content_type) {
  auto t = bare_type(content_type);
  return t == "image/jpeg" || t == "image/jpg" || t == "image/png" || t == "image/gif" || t == "image/webp";
}

/// Synapse's thumbnail file name: {w}-{h}-{top}-{sub}-{method}.
std::string thumbnail_name(int w, int h, const std::string& type, const std::string& method) {
  auto t = bare_type(type);
  auto slash = t.find('/');
  std::string top = t.substr(0, slash), sub = slash == std::string::npos ? "" : t.substr(slash + 1);
  return std::to_string(w) + "-" + std::to_string(h) + "-" + top + "-" + sub + "-" + method;
}

} // namespace

std::string to_hex(const unsigned char* b, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[b[i] >> 4];
    out += digits[b[i] & 15];
  }
  return out;
}

sha256_hasher::sha256_hasher() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("cannot start SHA-256");
}

sha256_hasher::~sha256_hasher() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void sha256_hasher::update(const void* data, size_t n) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n);
}

std::string sha256_hasher::hex() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out, &n);
  return to_hex(out, n);
}

std::string file_sha256(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  sha256_hasher h;
  std::vector<unsigned char> buf(1 << 20);
  for (;;) {
    auto n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return {};
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return h.hex();
}


bool plain_field(const std::string& s) {
  return s.size() <= 255 && std::none_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

bool valid_media_id(const std::string& id) {
  if (id.empty() || id.size() > 255) return false;
  return std::all_of(id.begin(), id.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; });
}

media_repository::media_repository(const config::homeserver_config& cfg, storage::pool& pool,
                                   matrix::environment& env, federation::federation_client* federation)
  : cfg_(cfg), store_(pool), env_(env), root_(absolute(cfg.media_store_path)), federation_(federation) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  upload_dir_ = root_ + "/tmp";
  make_parents(upload_dir_ + "/x");
  // Uploads a stopped process left half-written. Media workers share the
  // store, so only those a day old: no upload takes that long.
  if (auto* d = ::opendir(upload_dir_.c_str())) {
    auto old = std::time(nullptr) - 86400;
    while (auto* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      auto path = upload_dir_ + "/" + name;
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < old) ::unlink(path.c_str());
    }
    ::closedir(d);
  }
  init_image_library();
  if (cfg.media.url_preview_enabled) previews_ = std::make_unique<url_previewer>(*this);
}

media_repository::~media_repository() = default;

namespace {

/// Synapse's split of an id into directories: aa/bb/rest (ids here are >= 5 characters).
std::string split_id(const std::string& id) { return id.substr(0, 2) + "/" + id.substr(2, 2) + "/" + id.substr(4); }

} // namespace

/// Synapse's url_cache split: the date, then the rest.
static std::string split_url_id(const std::string& id) {
  return id.size() > 11 ? id.substr(0, 10) + "/" + id.substr(11) : "short/" + id;
}

std::string media_repository::content_path(const media_ref& ref) const {
  if (ref.url_cache) return root_ + "/url_cache/" + split_url_id(ref.media_id);
  if (ref.is_local()) return root_ + "/local_content/" + split_id(ref.media_id);
  return root_ + "/remote_content/" + ref.origin + "/" + split_id(ref.file_id);
}

std::string media_repository::thumbnail_dir(const media_ref& ref) const {
  if (ref.url_cache) return root_ + "/url_cache_thumbnails/" + split_url_id(ref.media_id);
  if (ref.is_local()) return root_ + "/local_thumbnails/" + split_id(ref.media_id);
  return root_ + "/remote_thumbnail/" + ref.origin + "/" + split_id(ref.file_id);
}

std::string media_repository::thumbnail_path(const media_ref& ref, int w, int h, const std::string& type,
                                             const std::string& method) const {
  return thumbnail_dir(ref) + "/" + thumbnail_name(w, h, type, method);
}

std::vector<storage::media_thumbnail> media_repository::thumbnails(const media_ref& ref) {
  return ref.is_local() ? store_.thumbnails(ref.media_id) : store_.remote_thumbnails(ref.origin, ref.media_id);
}

void media_repository::accessed(const media_ref& ref) {
  auto now = env_.now_ms();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& written = access_written_[ref.origin + "/" + ref.media_id];
    if (written && now - written < 60000) return;
    written = now;
    if (access_written_.size() > 100000) access_written_.clear(); // bounded; a few writes again
  }
  if (ref.is_local()) store_.touch(ref.media_id, now);
  else store_.touch_remote(ref.origin, ref.media_id, now);
}

storage::local_media media_repository::store_upload(const std::string& temp_path, uint64_t size,
                                                    const std::string& content_type,
                                                    const std::string& upload_name, const std::string& user_id,
                                                    std::string media_id, bool authenticated) {
  bool pending = !media_id.empty();
  if (!pending) media_id = matrix::random_string(24, env_);
  storage::local_media m;
  m.media_id = media_id;
  m.media_type = content_type.empty() ? "application/octet-stream" : content_type;
  m.media_length = static_cast<int64_t>(size);
  m.created_ts = env_.now_ms();
  m.upload_name = upload_name;
  m.user_id = user_id;
  m.authenticated = authenticated;
  std::string temp = temp_path;
  if (temp.empty()) {
    // An empty body: an empty file.
    temp = upload_dir_ + "/empty-" + matrix::random_string(12, env_);
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) throw std::runtime_error("cannot create " + temp + ": " + std::strerror(errno));
    ::close(fd);
  }
  m.sha256 = file_sha256(temp);
  if (m.sha256.empty()) throw std::runtime_error("cannot read the upload " + temp);
  auto path = local_path(media_id);
  make_parents(path);
  // Placed with link(), which never replaces a file: of two uploads to one
  // created id, the first stays and the second is refused. The same
  // content stored before: one file, two names.
  bool placed = false;
  if (auto same = store_.same_content(m.sha256, media_id))
    placed = ::link(local_path(*same).c_str(), path.c_str()) == 0;
  if (!placed && ::link(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    if (err == EEXIST) throw matrix_error(errc::cannot_overwrite_media, "Media ID already has content");
    throw std::runtime_error("cannot store the upload at " + path + ": " + std::strerror(err));
  }
  ::unlink(temp.c_str());
  if (!store_.store_upload(m, pending))
    throw matrix_error(errc::cannot_overwrite_media, "Media ID already has content");
  uploaded_.notify_all(); // a waiter that misses it looks again within 500 ms
  make_thumbnails(media_ref::local(media_id), m.media_type);
  return m;
}

void media_repository::remove_files(const media_ref& ref) {
  for (auto& t : thumbnails(ref)) ::unlink(thumbnail_path(ref, t.width, t.height, t.type, t.method).c_str());
  ::rmdir(thumbnail_dir(ref).c_str());
  ::unlink(content_path(ref).c_str());
}

void media_repository::delete_local(const std::string& media_id) {
  auto m = store_.get_local(media_id);
  remove_files(m ? media_ref::of(*m) : media_ref::local(media_id));
  store_.delete_local(media_id);
}

std::optional<storage::local_media> media_repository::wait_uploaded(const std::string& media_id,
                                                                    int64_t timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto m = store_.get_local(media_id);
    if (!m || m->media_length) return m;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return m;
    // Woken by an upload here; another instance's upload is seen by the
    // next look (every 500 ms).
    std::unique_lock<std::mutex> lock(mu_);
    uploaded_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(500)));
  }
}

namespace {

/// Writes `bytes` to `path` through a temporary name (readers never see
/// half a file); false on failure.
bool write_file(const std::string& path, const std::string& bytes, const std::string& suffix) {
  make_parents(path);
  auto tmp = path + ".tmp" + suffix;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

thumb_method method_of(const std::string& m) { return m == "crop" ? thumb_method::crop : thumb_method::scale; }

thumbnail_limits limits_of(const config::homeserver_config& cfg) {
  thumbnail_limits lim;
  lim.max_image_pixels = cfg.media.max_image_pixels;
  return lim;
}

} // namespace

void media_repository::keep_thumbnail(const media_ref& ref, const thumbnail& t, const std::string& method,
                                      std::optional<storage::media_thumbnail>* out) {
  auto path = thumbnail_path(ref, t.width, t.height, t.content_type, method);
  if (!write_file(path, t.bytes, matrix::random_string(6, env_))) return;
  storage::media_thumbnail row{t.width, t.height, t.content_type, method, static_cast<int64_t>(t.bytes.size())};
  if (ref.is_local()) store_.add_thumbnail(ref.media_id, row);
  else store_.add_remote_thumbnail(ref.origin, ref.media_id, ref.file_id, row);
  if (out) *out = row;
}

void media_repository::make_thumbnails(const media_ref& ref, const std::string& media_type) {
  if (!thumbnailable(media_type) || cfg_.media.thumbnail_sizes.empty()) return;
  auto lim = limits_of(cfg_);
  std::vector<thumbnail_request> want;
  for (auto& spec : cfg_.media.thumbnail_sizes) want.push_back({spec.width, spec.height, method_of(spec.method)});
  try {
    // One decode for all of them (thumbnailer.hpp).
    auto made = media::make_thumbnails(content_path(ref), want, lim);
    for (size_t i = 0; i < made.size() && i < cfg_.media.thumbnail_sizes.size(); ++i)
      keep_thumbnail(ref, made[i], cfg_.media.thumbnail_sizes[i].method, nullptr);
  } catch (const std::exception& e) {
    std::cerr << "media: no thumbnails of " << ref.origin << "/" << ref.media_id << ": " << e.what() << "\n";
  }
}

std::optional<storage::media_thumbnail> media_repository::make_thumbnail(const media_ref& ref,
                                                                         const std::string& media_type, int w, int h,
                                                                         const std::string& method, bool animated) {
  if (!thumbnailable(media_type)) return std::nullopt;
  auto lim = limits_of(cfg_);
  std::optional<storage::media_thumbnail> out;
  try {
    auto t = media::make_thumbnail(content_path(ref), w, h, method_of(method), animated, lim);
    keep_thumbnail(ref, t, method, &out);
  } catch (const std::exception& e) {
    std::cerr << "media: no " << w << "x" << h << " " << method << " thumbnail of " << ref.origin << "/"
              << ref.media_id << ": " << e.what() << "\n";
  }
  return out;
}

int64_t media_repository::apply_retention() {
  auto now = env_.now_ms();
  int64_t n = 0;
  if (cfg_.media.retention_remote_ms) n += purge_remote(now - *cfg_.media.retention_remote_ms, false);
  if (cfg_.media.retention_local_ms) {
    auto prefix = "mxc://" + cfg_.server_name + "/";
    // Batches until one is left with only what stays (avatars).
    for (std::set<std::string> kept;;) {
      auto batch = store_.stale_local(now - *cfg_.media.retention_local_ms, -1, 500 + kept.size(), false);
      auto limit = 500 + kept.size();
      size_t changed = 0;
      for (auto& id : batch) {
        if (kept.count(id)) continue;
        ++changed;
        if (store_.used_as_avatar(prefix + id)) {
          kept.insert(id);
          continue;
        }
        delete_local(id);
        ++n;
      }
      if (batch.size() < limit || changed == 0) break;
    }
  }
  return n;
}

bool inline_type(const std::string& content_type) {
  // The spec's list (content_repo: "Serving inline content"), as Synapse's INLINE_CONTENT_TYPES.
  static const char* const safe[] = {
    "text/css", "text/plain", "text/csv", "application/json", "application/ld+json", "image/jpeg",
    "image/gif", "image/png", "image/apng", "image/webp", "image/avif", "video/mp4", "video/webm",
    "video/ogg", "video/quicktime", "audio/mp4", "audio/webm", "audio/aac", "audio/mpeg", "audio/ogg",
    "audio/wave", "audio/wav", "audio/x-wav", "audio/x-pn-wav", "audio/flac", "audio/x-flac"};
  auto t = bare_type(content_type);
  return std::any_of(std::begin(safe), std::end(safe), [&](const char* s) { return t == s; });
}

std::string content_disposition(const std::string& content_type, const std::string& filename) {
  std::string out = inline_type(content_type) ? "inline" : "attachment";
  if (filename.empty()) return out;
  // RFC 6266: a token when it is one, else RFC 5987's UTF-8 form.
  auto token_char = [](unsigned char c) {
    return c > 0x20 && c < 0x7f && !std::strchr("()<>@,;:\\\"/[]?={} \t", c);
  };
  if (std::all_of(filename.begin(), filename.end(), token_char)) return out + "; filename=" + filename;
  std::string enc;
  for (unsigned char c : filename) {
    if (std::isalnum(c) || std::strchr("!#$&+-.^_`|~", c)) {
      enc += static_cast<char>(c);
    } else {
      char b[4];
      std::snprintf(b, sizeof b, "%%%02X", c);
      enc += b;
    }
  }
  return out + "; filename*=utf-8''" + enc;
}

} // namespace axon::media
