#include "actors/media/url_previewer.hpp"

#include "actors/client/common.hpp"
#include "actors/http/http_client.hpp"
#include "actors/http/http_server.hpp"
#include "actors/media/media_repository.hpp"
#include "actors/media/open_graph.hpp"
#include "actors/media/thumbnailer.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/environment.hpp"
#include "matrix/ip_range.hpp"
#include "messages/errors.hpp"

#include <Poco/URI.h>

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iostream>
#include <regex>

namespace axon::media {

namespace {

using json = nlohmann::json;

constexpr int64_t one_hour_ms = 3600 * 1000;
constexpr int64_t one_day_ms = 24 * one_hour_ms;
/// Media fetched for previews is kept this long (Synapse's IMAGE_CACHE_EXPIRY_MS).
constexpr int64_t url_media_lifetime_ms = 2 * one_day_ms;
constexpr int max_redirects = 10;
constexpr int64_t fetch_timeout_ms = 30000;
/// Synapse's OG_TAG_NAME_MAXLEN and OG_TAG_VALUE_MAXLEN.
constexpr size_t og_name_max = 50;
constexpr size_t og_value_max = 1000;
/// Answers remembered in memory at most (then the expired ones go).
constexpr size_t max_answers = 10000;

using client::lower;

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

/// Synapse's _is_media, _is_html, _is_json.
bool is_image(const std::string& type) { return starts_with(lower(type), "image/"); }
bool is_html(const std::string& type) {
  auto t = lower(type);
  return starts_with(t, "text/html") || starts_with(t, "application/xhtml");
}
bool is_json(const std::string& type) { return starts_with(lower(type), "application/json"); }

[[noreturn]] void refuse(errc code, const std::string& why) { throw matrix_error(code, why); }

/// A parsed http(s) URL, or a 400.
Poco::URI parse_url(const std::string& url) {
  Poco::URI u;
  try {
    u = Poco::URI(url);
  } catch (const std::exception&) {
    refuse(errc::invalid_param, "Invalid URL");
  }
  auto scheme = lower(u.getScheme());
  if (scheme == "data") refuse(errc::unknown, "Previewing of data: URLs is forbidden");
  if ((scheme != "http" && scheme != "https") || u.getHost().empty())
    refuse(errc::invalid_param, "Only http and https URLs can be previewed");
  return u;
}

/// One part of a URL as Python's urlsplit names it; nullopt when it has none.
std::optional<std::string> url_part(const Poco::URI& u, const std::string& raw, const std::string& part) {
  if (part == "scheme") return lower(u.getScheme());
  if (part == "hostname") return lower(u.getHost());
  if (part == "port") {
    if (!u.getSpecifiedPort()) return std::nullopt;
    return std::to_string(u.getSpecifiedPort());
  }
  if (part == "path") return u.getPath();
  if (part == "query") return u.getRawQuery();
  if (part == "fragment") return u.getFragment();
  auto info = u.getUserInfo();
  if (part == "username") {
    if (info.empty()) return std::nullopt;
    return info.substr(0, info.find(':'));
  }
  if (part == "password") {
    auto colon = info.find(':');
    if (colon == std::string::npos) return std::nullopt;
    return info.substr(colon + 1);
  }
  if (part == "netloc") {
    // As written: between "//" and the path.
    auto start = raw.find("//");
    if (start == std::string::npos) return std::string();
    start += 2;
    auto end = raw.find_first_of("/?#", start);
    return raw.substr(start, end == std::string::npos ? std::string::npos : end - start);
  }
  return std::nullopt;
}

} // namespace

struct url_previewer::answer {
  bool done = false;
  std::string og;
  std::exception_ptr error;
  std::chrono::steady_clock::time_point expires;
  std::condition_variable cv;
};

struct url_previewer::fetched {
  std::string media_id;
  std::string media_type;
  std::string upload_name;
  std::string final_url; ///< after redirects
  std::string etag;
  int status = 0;
  int64_t length = 0;
  int64_t created_ts = 0;
};

url_previewer::url_previewer(media_repository& repo) : repo_(repo) {
  auto& cfg = repo.cfg();
  auto options = http::client_options(cfg.http_client);
  options.max_connections_per_destination = 4;
  options.max_connections = 64;
  options.max_response_size = cfg.media.max_spider_size;
  // The config checked every range (config/server.cpp).
  auto blocked = matrix::ip_set::from(cfg.media.url_preview_ip_range_blocklist).value_or(matrix::ip_set{});
  auto allowed = matrix::ip_set::from(cfg.media.url_preview_ip_range_allowlist).value_or(matrix::ip_set{});
  options.tls.ca_files.clear(); // pages are checked against the system's CAs only
  options.tls.address_allowed = [blocked, allowed](const std::string& address) {
    auto ip = matrix::parse_ip(address);
    return ip && matrix::ip_allowed(*ip, blocked, allowed);
  };
  http_ = std::make_unique<http::http_client>(std::move(options));
}

url_previewer::~url_previewer() {
  if (http_) http_->stop();
}

bool url_previewer::blocked(const std::string& url) const {
  Poco::URI u;
  try {
    u = Poco::URI(url);
  } catch (const std::exception&) {
    return true;
  }
  for (auto& entry : repo_.cfg().media.url_preview_url_blocklist) {
    bool all = !entry.empty();
    for (auto& [part, pattern] : entry) {
      auto value = url_part(u, url, part);
      bool match = false;
      if (value && !pattern.empty() && pattern[0] == '^') {
        // Python's re.match: anchored at the start only.
        match = std::regex_search(*value, std::regex(pattern), std::regex_constants::match_continuous);
      } else if (value) {
        match = ::fnmatch(pattern.c_str(), value->c_str(), 0) == 0;
      }
      if (!match) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

std::string url_previewer::preview(const std::string& url, const std::string& user_id, int64_t ts) {
  parse_url(url);
  std::shared_ptr<answer> a;
  bool mine = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = std::chrono::steady_clock::now();
    if (answers_.size() > max_answers)
      for (auto i = answers_.begin(); i != answers_.end();)
        i = i->second->done && i->second->expires < now ? answers_.erase(i) : std::next(i);
    auto& slot = answers_[url];
    if (!slot || (slot->done && slot->expires < now)) {
      slot = std::make_shared<answer>();
      mine = true;
    }
    a = slot;
  }
  if (mine) {
    std::string og;
    std::exception_ptr error;
    try {
      og = make_preview(url, user_id, ts);
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu_);
    a->og = std::move(og);
    a->error = error;
    a->expires = std::chrono::steady_clock::now() + std::chrono::hours(1);
    a->done = true;
    a->cv.notify_all();
  } else {
    std::unique_lock<std::mutex> lock(mu_);
    a->cv.wait(lock, [&] { return a->done; });
  }
  if (a->error) std::rethrow_exception(a->error);
  return a->og;
}

url_previewer::fetched url_previewer::fetch(const std::string& start_url, const std::string& user_id) {
  auto& cfg = repo_.cfg();
  std::string url = start_url;
  std::string accept_language;
  for (auto& l : cfg.media.url_preview_accept_language) accept_language += (accept_language.empty() ? "" : ", ") + l;
  fetched f;
  f.media_id = [&] {
    char date[16];
    auto t = std::time(nullptr);
    std::tm tm {};
    gmtime_r(&t, &tm);
    std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
    return std::string(date) + "_" + matrix::random_string(16, repo_.env());
  }();
  auto ref = media_ref::url(f.media_id);
  auto temp = repo_.upload_dir() + "/preview-" + matrix::random_string(16, repo_.env());
  auto guard = http::temp_file_guard(temp);
  msg::outbound_response r;
  for (int hop = 0;; ++hop) {
    if (blocked(url)) refuse(errc::url_blocked, "URL blocked by url pattern blocklist entry");
    msg::outbound_request req;
    req.url = url;
    req.headers = {{"User-Agent", "Axon (bot; URL preview)"}, {"Accept", "*/*"}};
    if (!accept_language.empty()) req.headers.push_back({"Accept-Language", accept_language});
    req.body_file = temp;
    req.max_response_size = cfg.media.max_spider_size;
    req.timeout_ms = fetch_timeout_ms;
    req.retry = true;
    r = http_->call(std::move(req));
    auto location = r.header("Location");
    if (r.status >= 300 && r.status < 400 && !location.empty() && hop < max_redirects) {
      try {
        Poco::URI next(url);
        next.resolve(location);
        url = next.toString();
      } catch (const std::exception&) {
        refuse(errc::bad_gateway, "Bad redirect from " + url);
      }
      parse_url(url);
      continue;
    }
    break;
  }
  if (r.too_large)
    throw matrix_error(errc::too_large_remote,
                       "Requested file is too large > " + std::to_string(cfg.media.max_spider_size) + " bytes");
  if (r.status == 0) {
    std::cerr << "media: preview of " << start_url << ": " << r.error << "\n";
    if (r.error.find("no allowed address") != std::string::npos || r.error.find("cannot resolve") != std::string::npos)
      refuse(errc::bad_gateway, "DNS resolution failure during URL preview generation");
    refuse(errc::unknown, "Failed to download content: " + r.error);
  }
  if (r.status > 299) refuse(errc::bad_gateway, "Got error " + std::to_string(r.status));
  f.media_type = r.header("Content-Type");
  if (f.media_type.empty()) f.media_type = "application/octet-stream";
  if (!is_html(f.media_type) && !is_image(f.media_type) && !is_json(f.media_type))
    refuse(errc::bad_gateway, "Requested file's content type not allowed for this operation: " + f.media_type);
  f.upload_name = disposition_filename(r.header("Content-Disposition"));
  if (f.upload_name.size() > 255) f.upload_name.clear();
  f.etag = r.header("ETag");
  f.status = r.status;
  f.final_url = url;
  auto path = repo_.content_path(ref);
  make_parents(path);
  if (::rename(temp.c_str(), path.c_str()) != 0) refuse(errc::unknown, "Cannot keep the fetched content");
  storage::local_media m;
  m.media_id = f.media_id;
  m.media_type = f.media_type;
  m.sha256 = file_sha256(path);
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  f.length = static_cast<int64_t>(in.tellg());
  m.media_length = f.length;
  m.created_ts = f.created_ts = repo_.env().now_ms();
  m.upload_name = f.upload_name;
  m.user_id = user_id;
  m.url_cache = start_url;
  repo_.store().store_url_media(m);
  return f;
}

std::string url_previewer::make_preview(const std::string& url, const std::string& user_id, int64_t ts) {
  auto& cfg = repo_.cfg();
  auto cached = repo_.store().get_url_cache(url, ts);
  if (cached && cached->expires_ts > ts && cached->response_code / 100 == 2) return cached->og;

  auto page = fetch(url, user_id);
  auto mxc = [&](const std::string& id) { return "mxc://" + cfg.server_name + "/" + id; };
  /// An image fetched: its thumbnails, and what the preview says of it.
  auto describe_image = [&](const fetched& image, json& og) {
    auto ref = media_ref::url(image.media_id);
    repo_.make_thumbnails(ref, image.media_type);
    og["og:image"] = mxc(image.media_id);
    og["og:image:type"] = image.media_type;
    og["matrix:image:size"] = image.length;
    if (auto info = probe(repo_.content_path(ref))) {
      og["og:image:width"] = info->width;
      og["og:image:height"] = info->height;
    }
  };
  json og = json::object();
  if (is_image(page.media_type)) {
    og["og:description"] = page.upload_name.empty() ? json(nullptr) : json(page.upload_name);
    describe_image(page, og);
  } else if (is_html(page.media_type)) {
    std::ifstream in(repo_.content_path(media_ref::url(page.media_id)), std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    og = html_open_graph(body, page.media_type);
    if (!og.is_object()) og = json::object();
    // The page's image, kept as media too (Synapse's _precache_image_url).
    if (og.contains("og:image")) {
      auto image_url = og["og:image"].is_string() ? og["og:image"].get<std::string>() : std::string();
      og.erase("og:image");
      if (!image_url.empty() && !starts_with(lower(image_url), "data:")) {
        try {
          Poco::URI base(page.final_url);
          base.resolve(image_url);
          auto image = fetch(base.toString(), user_id);
          if (is_image(image.media_type)) describe_image(image, og);
        } catch (const std::exception& e) {
          std::cerr << "media: preview of " << url << ": its image " << image_url << " failed: " << e.what() << "\n";
        }
      }
    }
  }
  // Overlong tags go (Synapse's limits).
  for (auto i = og.begin(); i != og.end();) {
    auto text = i.value().is_string() ? i.value().get<std::string>() : i.value().dump();
    if (i.key().size() > og_name_max || text.size() > og_value_max) i = og.erase(i);
    else ++i;
  }
  auto text = og.dump();
  storage::url_cache_entry e;
  e.url = url;
  e.response_code = page.status;
  e.etag = page.etag;
  e.expires_ts = page.created_ts + one_hour_ms; // Synapse's: an hour, whatever the page's headers say
  e.og = text;
  e.media_id = page.media_id;
  e.download_ts = page.created_ts;
  repo_.store().store_url_cache(e);
  return text;
}

int64_t url_previewer::expire() {
  auto now = repo_.env().now_ms();
  int64_t n = 0;
  // An expired preview's page goes; the rows of what it fetched stay
  // until the media's own expiry below (Synapse's _expire_url_cache_data).
  for (auto& id : repo_.store().take_expired_url_cache(now)) {
    ::unlink(repo_.content_path(media_ref::url(id)).c_str());
    ++n;
  }
  for (;;) {
    auto old = repo_.store().url_media_before(now - url_media_lifetime_ms, 500);
    for (auto& id : old) repo_.delete_local(id);
    n += static_cast<int64_t>(old.size());
    if (old.size() < 500) break;
  }
  return n;
}

} // namespace axon::media
