// actors/media/media_handlers.cpp -- the media endpoints (spec: client-server
// "Content repository", server-server "Content Repository"), served by the
// instance holding the media repository (media_repository.hpp).
//
// Uploads arrive as files (route::file_body: the listener streams the body
// to the media store's tmp/ directory, never whole in memory). Downloads
// answer a range of an open file, which the listener sends with sendfile.
// Media uploaded while enable_authenticated_media is on is served only on
// the authenticated routes (the spec's v1.11 "freeze"), as Synapse does.
#include "actors/media/routes.hpp"

#include "actors/client/common.hpp"
#include "actors/federation/federation_client.hpp"
#include "actors/media/media_repository.hpp"
#include "actors/media/thumbnailer.hpp"
#include "actors/media/url_previewer.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/identifiers.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <limits>

namespace axon::media {

namespace {

using client::json;
using http::fail;
using http::request;
using http::response;

/// The spec's headers for media a browser might render.
constexpr const char* media_csp =
  "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; "
  "media-src 'self'; object-src 'self';";

/// Download waits for a created id's content: default and cap (Synapse's).
constexpr int64_t default_wait_ms = 20000;
constexpr int64_t max_wait_ms = 60000;

std::string mxc(request& req, const std::string& id) { return "mxc://" + client::server_name(req) + "/" + id; }

/// A `timeout_ms` query parameter, capped.
int64_t wait_ms(request& req) {
  auto t = client::int_param(req, "timeout_ms");
  return std::min(t.value_or(default_wait_ms), max_wait_ms);
}

/// The item, with its content: waits for a created id's upload; 404 when
/// unknown, quarantined or (legacy routes) frozen; 504 when still empty.
storage::local_media find_uploaded(request& req, const std::string& id, bool authenticated_route) {
  auto& r = repo_of(req);
  auto m = r.store().get_local(id);
  if (m && !m->media_length) m = r.wait_uploaded(id, wait_ms(req));
  if (!m || (!m->quarantined_by.empty() && !client::is_server_admin(req))) fail(errc::not_found, "Not found");
  if (m->authenticated && !authenticated_route) fail(errc::not_found, "Not found");
  if (!m->media_length) fail(errc::not_yet_uploaded, "Media has not been uploaded yet");
  return *m;
}

/// What a download or thumbnail serves: a local upload or a remote item.
struct item {
  media_ref ref;
  std::string media_type;
  std::string upload_name;
};

/// The item a client asks for, local or (fetched when needed) remote.
item find_item(request& req, const std::string& server, const std::string& id, bool authenticated_route) {
  check_media_ids(server, id);
  auto& r = repo_of(req);
  if (server == client::server_name(req)) {
    auto m = find_uploaded(req, id, authenticated_route);
    return {media_ref::of(m), m.media_type, m.upload_name};
  }
  if (req.ctx->federation) req.ctx->federation->require_allowed(server);
  auto allow = req.query_param("allow_remote").value_or("true");
  if (allow != "true" && allow != "false") fail(errc::invalid_param, "allow_remote must be true or false");
  // The freeze: the legacy routes fetch nothing new, and serve only what
  // was kept before it (authenticated items are refused below).
  bool fetch = allow == "true" && (authenticated_route || !r.cfg().media.enable_authenticated_media);
  auto m = r.get_remote(server, id, wait_ms(req), req.remote_addr, fetch);
  if (!m.quarantined_by.empty() && !client::is_server_admin(req)) fail(errc::not_found, "Not found");
  if (m.authenticated && !authenticated_route) fail(errc::not_found, "Not found");
  return {media_ref::remote(m), m.media_type, m.upload_name};
}

std::shared_ptr<http::open_file> open_read(const std::string& path, uint64_t& size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  auto f = std::make_shared<http::open_file>(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return nullptr;
  size = static_cast<uint64_t>(st.st_size);
  return f;
}

/// A file's answer with the media headers, honouring a single `Range`
/// (RFC 9110: bytes=a-b, a-, -n); several ranges get the whole file.
response file_answer(request& req, std::shared_ptr<http::open_file> f, uint64_t size, const std::string& type,
                     const std::string& disposition) {
  auto raw = std::make_shared<http::raw_body>();
  raw->content_type = type;
  if (type.rfind("text/", 0) == 0 && type.find("charset") == std::string::npos)
    raw->content_type += "; charset=UTF-8";
  raw->headers = {{"Content-Disposition", disposition},
                  {"Content-Security-Policy", media_csp},
                  {"Cross-Origin-Resource-Policy", "cross-origin"},
                  {"Cache-Control", "public,max-age=86400,s-maxage=86400"},
                  {"Accept-Ranges", "bytes"}};
  raw->file = std::move(f);
  raw->offset = 0;
  raw->length = size;
  response out(200);
  auto& range = req.range;
  if (range.rfind("bytes=", 0) == 0 && range.find(',') == std::string::npos) {
    auto spec = range.substr(6);
    auto dash = spec.find('-');
    auto number = [](const std::string& s, uint64_t& v) {
      if (s.empty() || s.size() > 19 || !std::all_of(s.begin(), s.end(), ::isdigit)) return false;
      v = std::stoull(s);
      return true;
    };
    uint64_t first = 0, last = 0;
    bool ok = dash != std::string::npos;
    std::string a = ok ? spec.substr(0, dash) : "", b = ok ? spec.substr(dash + 1) : "";
    if (ok && a.empty()) { // the last b bytes
      ok = number(b, last) && last > 0;
      if (ok) {
        first = size > last ? size - last : 0;
        last = size ? size - 1 : 0;
      }
    } else if (ok) {
      ok = number(a, first);
      if (ok) {
        if (b.empty()) last = size ? size - 1 : 0;
        else ok = number(b, last) && last >= first;
      }
      if (ok && last >= size && size) last = size - 1;
    }
    if (ok && (size == 0 || first >= size)) {
      raw->headers.push_back({"Content-Range", "bytes */" + std::to_string(size)});
      raw->file.reset();
      raw->length = 0;
      out.status = 416;
    } else if (ok) {
      raw->offset = first;
      raw->length = last - first + 1;
      raw->headers.push_back({"Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) +
                                                 "/" + std::to_string(size)});
      out.status = 206;
    }
  }
  out.raw = std::move(raw);
  return out;
}

// ---- uploads ---------------------------------------------------------------------------

/// media_upload_limits: 400 M_RESOURCE_LIMIT_EXCEEDED when `size` more
/// would pass one of them (Synapse's check).
void check_upload_limits(request& req, uint64_t size) {
  auto& r = repo_of(req);
  auto now = client::now_ms(req);
  for (auto& l : r.cfg().media.upload_limits)
    if (r.store().uploaded_since(req.auth().user_id, now - l.time_period_ms) + static_cast<int64_t>(size) >
        l.max_size)
      fail(errc::resource_limit_exceeded, "Media upload limit exceeded");
}

std::string upload_name(request& req) {
  auto name = req.query_param("filename").value_or("");
  if (name.size() > 255) fail(errc::invalid_param, "filename is too long");
  if (!plain_field(name)) fail(errc::invalid_param, "filename must not contain control characters");
  return name;
}

/// What both upload routes check of the body and the user; the file name.
std::string checked_upload(request& req) {
  if (req.body_size > static_cast<uint64_t>(repo_of(req).cfg().max_upload_size))
    fail(errc::too_large, "Upload request body is too large");
  auto name = upload_name(req);
  check_upload_limits(req, req.body_size);
  return name;
}

response upload(request& req) {
  auto& r = repo_of(req);
  auto name = checked_upload(req);
  auto m = r.store_upload(req.body_file, req.body_size, req.content_type, name, req.auth().user_id, "",
                          r.cfg().media.enable_authenticated_media);
  return {200, {{"content_uri", mxc(req, m.media_id)}}};
}

response create(request& req) {
  auto& r = repo_of(req);
  auto now = client::now_ms(req);
  auto& media = r.cfg().media;
  auto pending = r.store().pending_count(req.auth().user_id, now - media.unused_expiration_time_ms);
  if (pending >= media.max_pending_media_uploads) {
    auto e = matrix_error(errc::limit_exceeded, "You have too many uploads pending");
    e.extra_json = R"({"retry_after_ms":60000})";
    throw e;
  }
  auto id = matrix::random_string(24, r.env());
  r.store().create_pending(id, req.auth().user_id, now, media.enable_authenticated_media);
  return {200, {{"content_uri", mxc(req, id)}, {"unused_expires_at", now + media.unused_expiration_time_ms}}};
}

response upload_to(request& req) {
  auto& r = repo_of(req);
  auto& server = req.params[0];
  auto& id = req.params[1];
  check_media_ids(server, id);
  if (server != client::server_name(req)) fail(errc::not_found, "Not found");
  auto m = r.store().get_local(id);
  auto now = client::now_ms(req);
  if (!m || (!m->media_length && m->created_ts + r.cfg().media.unused_expiration_time_ms < now))
    fail(errc::not_found, "Not found");
  if (m->user_id != req.auth().user_id) fail(errc::forbidden, "You may not upload to this media ID");
  if (m->media_length) fail(errc::cannot_overwrite_media, "Media ID already has content");
  auto name = checked_upload(req);
  r.store_upload(req.body_file, req.body_size, req.content_type, name, req.auth().user_id, id, m->authenticated);
  return {200, json::object()};
}

response config(request& req) {
  auto& r = repo_of(req);
  return {200, {{"m.upload.size", r.cfg().max_upload_size}}};
}

// ---- downloads -------------------------------------------------------------------------

response download(request& req, bool authenticated_route) {
  auto& r = repo_of(req);
  auto m = find_item(req, req.params[0], req.params[1], authenticated_route);
  uint64_t size = 0;
  auto f = open_read(r.content_path(m.ref), size);
  if (!f) fail(errc::not_found, "Not found");
  auto name = req.params.size() > 2 ? req.params[2] : m.upload_name;
  r.accessed(m.ref);
  return file_answer(req, std::move(f), size, m.media_type, content_disposition(m.media_type, name));
}

response download_v1(request& req) { return download(req, true); }
response download_legacy(request& req) { return download(req, false); }

/// Synapse's _select_thumbnail: the stored thumbnail closest to the request.
std::optional<storage::media_thumbnail> select_thumbnail(const std::vector<storage::media_thumbnail>& all, int w,
                                                         int h, const std::string& method) {
  const storage::media_thumbnail* best = nullptr;
  if (method == "crop") {
    // Crop thumbnails first; then the aspect ratio, big enough, size.
    std::tuple<int, int64_t, int, int64_t, int64_t> best_key{};
    for (auto& t : all) {
      std::tuple<int, int64_t, int, int64_t, int64_t> key{
        t.method != "crop", std::llabs(int64_t{w} * t.height - int64_t{h} * t.width),
        (w <= t.width && h <= t.height) ? 0 : 1, std::llabs(int64_t{w - t.width} * (h - t.height)), t.length};
      if (!best || key < best_key) {
        best = &t;
        best_key = key;
      }
    }
  } else {
    // The smallest scale thumbnail that is big enough; else the biggest.
    for (auto& t : all)
      if (t.method == "scale" && (t.width >= w || t.height >= h) &&
          (!best || int64_t{t.width} * t.height < int64_t{best->width} * best->height))
        best = &t;
    if (!best)
      for (auto& t : all)
        if (t.method == "scale" && (!best || int64_t{t.width} * t.height > int64_t{best->width} * best->height))
          best = &t;
  }
  if (!best) return std::nullopt;
  return *best;
}

/// The size a thumbnail of `m` made for w x h would have (from the image's
/// header); nullopt when it is not an image libvips reads.
std::optional<std::pair<int, int>> thumbnail_size_of(media_repository& r, const media_ref& ref, int w, int h,
                                                     const std::string& method) {
  auto info = probe(r.content_path(ref));
  if (!info) return std::nullopt;
  return thumbnail_size(info->width, info->height, w, h, method == "crop" ? thumb_method::crop : thumb_method::scale);
}

/// A thumbnail chosen (or made) for the request's width, height, method
/// and animated, and the item it belongs to.
struct chosen_thumbnail {
  media_ref ref;
  storage::media_thumbnail t;
};

chosen_thumbnail choose_thumbnail(request& req, const std::string& server, const std::string& id,
                                  bool authenticated_route) {
  auto& r = repo_of(req);
  check_media_ids(server, id);
  auto w = client::int_param(req, "width");
  auto h = client::int_param(req, "height");
  if (!w || !h) fail(errc::missing_param, "width and height are required");
  if (*w < 1 || *h < 1 || *w > 10000 || *h > 10000)
    fail(errc::invalid_param, "width and height must be between 1 and 10000");
  auto method = req.query_param("method").value_or("scale");
  if (method != "crop" && method != "scale") fail(errc::invalid_param, "method must be crop or scale");
  auto animated_text = req.query_param("animated").value_or("false");
  if (animated_text != "true" && animated_text != "false")
    fail(errc::invalid_param, "animated must be true or false");
  bool animated = animated_text == "true";
  auto m = find_item(req, server, id, authenticated_route);
  auto iw = static_cast<int>(*w), ih = static_cast<int>(*h);
  std::optional<storage::media_thumbnail> t;
  if (animated || r.cfg().media.dynamic_thumbnails) {
    // Exactly what was asked: kept once made. (Still images asked for
    // animated get the still thumbnail: the spec lets the server decide.)
    auto want = thumbnail_size_of(r, m.ref, iw, ih, method);
    for (auto& have : r.thumbnails(m.ref))
      if (want && have.width == want->first && have.height == want->second && have.method == method &&
          (animated == (have.type == "image/webp")))
        t = have;
    if (!t) t = r.make_thumbnail(m.ref, m.media_type, iw, ih, method, animated);
  }
  if (!t) t = select_thumbnail(r.thumbnails(m.ref), iw, ih, method);
  if (!t) fail(errc::not_found, "Not found");
  return {m.ref, *t};
}

/// The chosen thumbnail's file, opened; 404 when it is gone.
std::shared_ptr<http::open_file> open_thumbnail(request& req, const chosen_thumbnail& c, uint64_t& size) {
  auto& r = repo_of(req);
  auto f = open_read(r.thumbnail_path(c.ref, c.t.width, c.t.height, c.t.type, c.t.method), size);
  if (!f) fail(errc::not_found, "Not found");
  r.accessed(c.ref);
  return f;
}

response thumbnail_of(request& req, const std::string& server, const std::string& id, bool authenticated_route) {
  auto c = choose_thumbnail(req, server, id, authenticated_route);
  uint64_t size = 0;
  auto f = open_thumbnail(req, c, size);
  return file_answer(req, std::move(f), size, c.t.type, content_disposition(c.t.type, "thumbnail"));
}

response thumbnail_v1(request& req) { return thumbnail_of(req, req.params[0], req.params[1], true); }
response thumbnail_legacy(request& req) { return thumbnail_of(req, req.params[0], req.params[1], false); }

/// GET preview_url?url&ts: the page's Open Graph data (url_previewer.hpp).
/// Without url_preview_enabled the endpoint is unknown, as on Synapse.
response preview_url(request& req) {
  auto& r = repo_of(req);
  if (!r.previews()) fail(errc::unrecognized, "URL previews are not enabled on this server");
  auto url = req.query_param("url");
  if (!url) fail(errc::missing_param, "Missing string query parameter 'url'");
  auto ts = client::int_param(req, "ts").value_or(client::now_ms(req));
  auto og = json::parse(r.previews()->preview(*url, req.auth().user_id, ts), nullptr, false);
  if (!og.is_object()) fail(errc::unknown, "The preview could not be made");
  return {200, og};
}

// ---- federation ------------------------------------------------------------------------

/// The spec's two-part multipart/mixed answer: metadata ({}), then the bytes.
response multipart_answer(std::shared_ptr<http::open_file> f, uint64_t size, const std::string& type,
                          const std::string& disposition, matrix::environment& env) {
  auto boundary = matrix::random_string(32, env);
  auto raw = std::make_shared<http::raw_body>();
  raw->content_type = "multipart/mixed; boundary=" + boundary;
  raw->bytes = "--" + boundary + "\r\nContent-Type: application/json\r\n\r\n{}\r\n--" + boundary +
               "\r\nContent-Type: " + type + "\r\nContent-Disposition: " + disposition + "\r\n\r\n";
  raw->file = std::move(f);
  raw->length = size;
  raw->trailer = "\r\n--" + boundary + "--\r\n";
  response out(200);
  out.raw = std::move(raw);
  return out;
}

response federation_download(request& req) {
  auto& r = repo_of(req);
  auto& id = req.params[0];
  if (!valid_media_id(id)) fail(errc::invalid_param, "Invalid media ID");
  auto m = find_uploaded(req, id, true);
  uint64_t size = 0;
  auto f = open_read(r.content_path(media_ref::of(m)), size);
  if (!f) fail(errc::not_found, "Not found");
  return multipart_answer(std::move(f), size, m.media_type, content_disposition(m.media_type, m.upload_name),
                          r.env());
}

response federation_thumbnail(request& req) {
  auto& r = repo_of(req);
  auto& id = req.params[0];
  if (!valid_media_id(id)) fail(errc::invalid_param, "Invalid media ID");
  // The same choice as for clients, answered as multipart.
  auto c = choose_thumbnail(req, client::server_name(req), id, true);
  uint64_t size = 0;
  auto f = open_thumbnail(req, c, size);
  return multipart_answer(std::move(f), size, c.t.type, content_disposition(c.t.type, "thumbnail"), r.env());
}

} // namespace

media_repository& repo_of(request& req) {
  if (!req.ctx->media) fail(errc::unrecognized, "Unrecognized request");
  return *req.ctx->media;
}

void check_media_ids(const std::string& server, const std::string& id) {
  if (!matrix::valid_server_name(server)) fail(errc::invalid_param, "Invalid server name");
  if (!valid_media_id(id)) fail(errc::invalid_param, "Invalid media ID");
}

void add_media_routes(std::vector<http::route>& out) {
  using http::route;
  auto add = [&](const char* method, const char* prefix, const char* path, bool auth, const char* resource,
                 http::handler_fn fn, bool file_body = false) {
    route r{method, prefix, path, auth, resource, std::move(fn)};
    r.file_body = file_body;
    out.push_back(std::move(r));
  };
  add("POST", "/_matrix/media/{v}", "/upload", true, "media", upload, true);
  add("PUT", "/_matrix/media/{v}", "/upload/{serverName}/{mediaId}", true, "media", upload_to, true);
  add("POST", "/_matrix/media/v1", "/create", true, "media", create);
  add("GET", "/_matrix/media/{v}", "/config", true, "media", config);
  add("GET", "/_matrix/client/v1/media", "/config", true, "media", config);
  add("GET", "/_matrix/client/v1/media", "/download/{serverName}/{mediaId}", true, "media", download_v1);
  add("GET", "/_matrix/client/v1/media", "/download/{serverName}/{mediaId}/{fileName}", true, "media", download_v1);
  add("GET", "/_matrix/media/{v}", "/download/{serverName}/{mediaId}", false, "media", download_legacy);
  add("GET", "/_matrix/media/{v}", "/download/{serverName}/{mediaId}/{fileName}", false, "media", download_legacy);
  add("GET", "/_matrix/client/v1/media", "/thumbnail/{serverName}/{mediaId}", true, "media", thumbnail_v1);
  add("GET", "/_matrix/media/{v}", "/thumbnail/{serverName}/{mediaId}", false, "media", thumbnail_legacy);
  add("GET", "/_matrix/client/v1/media", "/preview_url", true, "media", preview_url);
  add("GET", "/_matrix/media/{v}", "/preview_url", true, "media", preview_url);
  add("GET", "/_matrix/federation/v1/media", "/download/{mediaId}", true, "federation", federation_download);
  add("GET", "/_matrix/federation/v1/media", "/thumbnail/{mediaId}", true, "federation", federation_thumbnail);
  add_media_admin_routes(out);
}

} // namespace axon::media
