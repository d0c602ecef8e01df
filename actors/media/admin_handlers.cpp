// actors/media/admin_handlers.cpp -- Synapse's media admin API
// (docs/admin_api/media_admin_api.md, user_admin_api.md "media"), on the
// instance holding the media repository; server admins only. Quarantined
// media answers 404 to everyone but admins; protected media is never
// quarantined nor deleted by the bulk deletes.
#include "actors/media/routes.hpp"

#include "actors/client/common.hpp"
#include "actors/media/media_repository.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/identifiers.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/events_store.hpp"

#include <set>

namespace axon::media {

namespace {

using client::json;
using http::fail;
using http::request;
using http::response;

media_repository& admin_repo(request& req) {
  auto& r = repo_of(req);
  client::require_server_admin(req);
  return r;
}

/// A local id of the path (server, id), checked.
std::string local_id(request& req, const std::string& server, const std::string& id, const char* remote_error) {
  check_media_ids(server, id);
  if (server != client::server_name(req)) fail(errc::bad_request, remote_error);
  return id;
}

json media_info(request& req, const storage::local_media& m) {
  return {{"media_origin", client::server_name(req)},
          {"user_id", m.user_id.empty() ? json(nullptr) : json(m.user_id)},
          {"media_id", m.media_id},
          {"media_type", m.media_type},
          {"media_length", m.media_length ? json(*m.media_length) : json(nullptr)},
          {"upload_name", m.upload_name.empty() ? json(nullptr) : json(m.upload_name)},
          {"created_ts", m.created_ts},
          {"last_access_ts", m.last_access_ts ? json(*m.last_access_ts) : json(nullptr)},
          {"quarantined_by", m.quarantined_by.empty() ? json(nullptr) : json(m.quarantined_by)},
          {"safe_from_quarantine", m.safe_from_quarantine}};
}

response get_media(request& req) {
  auto& r = admin_repo(req);
  auto id = local_id(req, req.params[0], req.params[1], "Can only look up local media");
  auto m = r.store().get_local(id);
  if (!m) fail(errc::not_found, "Unknown media");
  return {200, {{"media_info", media_info(req, *m)}}};
}

response delete_one(request& req) {
  auto& r = admin_repo(req);
  auto id = local_id(req, req.params[0], req.params[1], "Can only delete local media");
  if (!r.store().get_local(id)) fail(errc::not_found, "Unknown media");
  r.delete_local(id);
  return {200, {{"deleted_media", {id}}, {"total", 1}}};
}

/// POST /media/delete?before_ts&size_gt&keep_profiles (and /media/{server}/delete).
response delete_old(request& req) {
  auto& r = admin_repo(req);
  if (req.params.size() == 1 && req.params[0] != client::server_name(req))
    fail(errc::bad_request, "Can only delete local media");
  auto before = client::int_param(req, "before_ts");
  if (!before) fail(errc::missing_param, "Missing integer query parameter 'before_ts'");
  auto size_gt = client::int_param(req, "size_gt").value_or(0);
  auto keep_text = req.query_param("keep_profiles").value_or("true");
  if (keep_text != "true" && keep_text != "false")
    fail(errc::invalid_param, "Boolean query parameter 'keep_profiles' must be one of ['true', 'false']");
  bool keep_profiles = keep_text == "true";
  json deleted = json::array();
  for (auto& id : r.store().stale_local(*before, size_gt, 100000)) {
    if (keep_profiles && r.store().used_as_avatar("mxc://" + client::server_name(req) + "/" + id)) continue;
    r.delete_local(id);
    deleted.push_back(id);
  }
  return {200, {{"deleted_media", deleted}, {"total", deleted.size()}}};
}

/// Quarantines (`by`) or releases (`by` empty) one item, local or kept
/// from another server (Synapse's quarantine_media_by_id does both).
response set_quarantine(request& req, const std::string& by) {
  auto& r = admin_repo(req);
  auto& server = req.params[0];
  auto& id = req.params[1];
  check_media_ids(server, id);
  if (server == client::server_name(req)) {
    if (!r.store().get_local(id)) fail(errc::not_found, "Unknown media");
    r.store().set_quarantined(id, by); // protected media stays unquarantined
  } else if (!r.store().set_remote_quarantined(server, id, by)) {
    fail(errc::not_found, "Unknown media");
  }
  return {200, json::object()};
}

response quarantine_one(request& req) { return set_quarantine(req, req.auth().user_id); }
response unquarantine_one(request& req) { return set_quarantine(req, ""); }

response protect(request& req, bool safe) {
  auto& r = admin_repo(req);
  if (!valid_media_id(req.params[0])) fail(errc::invalid_param, "Invalid media ID");
  if (!r.store().set_protected(req.params[0], safe)) fail(errc::not_found, "Unknown media");
  return {200, json::object()};
}
response protect_one(request& req) { return protect(req, true); }
response unprotect_one(request& req) { return protect(req, false); }

/// The media the room's events carry: content.url and
/// content.info.thumbnail_url (Synapse's get_media_mxcs_in_room), local
/// and remote.
std::pair<std::vector<std::string>, std::vector<std::string>> room_mxcs(request& req, const std::string& room_id) {
  std::set<std::string> local, remote;
  auto take = [&](const json& v) {
    if (!v.is_string()) return;
    auto uri = v.get<std::string>();
    if (uri.rfind("mxc://", 0) != 0) return;
    auto slash = uri.find('/', 6);
    if (slash == std::string::npos || !valid_media_id(uri.substr(slash + 1))) return;
    (uri.substr(6, slash - 6) == client::server_name(req) ? local : remote).insert(uri);
  };
  for (auto& text : req.ctx->media->store().room_event_json(room_id)) {
    auto ev = json::parse(text, nullptr, false);
    if (!ev.is_object() || !ev["content"].is_object()) continue;
    auto& content = ev["content"];
    take(content.value("url", json()));
    if (content["info"].is_object()) take(content["info"].value("thumbnail_url", json()));
  }
  return {{local.begin(), local.end()}, {remote.begin(), remote.end()}};
}

response room_media(request& req) {
  admin_repo(req);
  client::require_room_id(req.params[0]);
  auto [local, remote] = room_mxcs(req, req.params[0]);
  return {200, {{"local", local}, {"remote", remote}}};
}

response quarantine_room(request& req) {
  auto& r = admin_repo(req);
  client::require_room_id(req.params[0]);
  auto [local, remote] = room_mxcs(req, req.params[0]);
  int64_t n = 0;
  auto prefix = "mxc://" + client::server_name(req) + "/";
  for (auto& uri : local)
    if (r.store().set_quarantined(uri.substr(prefix.size()), req.auth().user_id)) ++n;
  for (auto& uri : remote) {
    auto slash = uri.find('/', 6);
    if (r.store().set_remote_quarantined(uri.substr(6, slash - 6), uri.substr(slash + 1), req.auth().user_id)) ++n;
  }
  return {200, {{"num_quarantined", n}}};
}

response quarantine_user(request& req) {
  auto& r = admin_repo(req);
  auto& user = req.params[0];
  if (!matrix::parse_user_id(user)) fail(errc::invalid_param, "Invalid user ID");
  return {200, {{"num_quarantined", r.store().quarantine_user(user, req.auth().user_id)}}};
}

/// GET and DELETE /users/{userId}/media (user_admin_api.md): paged,
/// `order_by` one of Synapse's columns, `dir` f or b.
response user_media(request& req) {
  auto& r = admin_repo(req);
  auto& user = req.params[0];
  auto parsed = matrix::parse_user_id(user);
  if (!parsed) fail(errc::invalid_param, "Invalid user ID");
  if (parsed->server != client::server_name(req)) fail(errc::bad_request, "Can only look up local users");
  if (!req.ctx->accounts->user_exists(user)) fail(errc::not_found, "Unknown user");
  auto from = client::int_param(req, "from").value_or(0);
  auto limit = client::int_param(req, "limit").value_or(100);
  auto order_by = req.query_param("order_by").value_or("created_ts");
  static const std::set<std::string> columns{"media_id", "upload_name", "created_ts", "last_access_ts",
                                             "media_length", "media_type", "quarantined_by",
                                             "safe_from_quarantine"};
  if (!columns.count(order_by)) fail(errc::invalid_param, "Unknown value for order_by: " + order_by);
  auto dir = req.query_param("dir").value_or("f");
  if (dir != "f" && dir != "b") fail(errc::invalid_param, "Unknown direction: " + dir);
  auto items = r.store().user_media(user, from, limit, order_by, dir == "f");
  if (req.method == "DELETE") {
    json deleted = json::array();
    for (auto& m : items) {
      r.delete_local(m.media_id);
      deleted.push_back(m.media_id);
    }
    return {200, {{"deleted_media", deleted}, {"total", deleted.size()}}};
  }
  json media = json::array();
  for (auto& m : items) media.push_back(media_info(req, m));
  auto total = r.store().user_media_count(user);
  json out = {{"media", media}, {"total", total}};
  if (from + static_cast<int64_t>(items.size()) < total) out["next_token"] = from + static_cast<int64_t>(items.size());
  return {200, out};
}

/// Other servers' media kept here and not used since `before_ts`: files,
/// thumbnails and rows go (fetched again when asked for).
response purge_media_cache(request& req) {
  auto& r = admin_repo(req);
  auto before = client::int_param(req, "before_ts");
  if (!before) fail(errc::missing_param, "Missing integer query parameter 'before_ts'");
  if (*before < 0) fail(errc::invalid_param, "Query parameter before_ts must be a positive integer.");
  return {200, {{"deleted", r.purge_remote(*before)}}};
}

} // namespace

void add_media_admin_routes(std::vector<http::route>& out) {
  const char* a = "/_synapse/admin/v1";
  auto add = [&](const char* method, const char* path, http::handler_fn fn) {
    out.push_back({method, a, path, true, "media", std::move(fn)});
  };
  add("GET", "/media/{serverName}/{mediaId}", get_media);
  add("DELETE", "/media/{serverName}/{mediaId}", delete_one);
  add("POST", "/media/delete", delete_old);
  add("POST", "/media/{serverName}/delete", delete_old);
  add("POST", "/media/quarantine/{serverName}/{mediaId}", quarantine_one);
  add("POST", "/media/unquarantine/{serverName}/{mediaId}", unquarantine_one);
  add("POST", "/media/protect/{mediaId}", protect_one);
  add("POST", "/media/unprotect/{mediaId}", unprotect_one);
  add("GET", "/room/{roomId}/media", room_media);
  add("POST", "/room/{roomId}/media/quarantine", quarantine_room);
  add("POST", "/quarantine_media/{roomId}", quarantine_room);
  add("POST", "/user/{userId}/media/quarantine", quarantine_user);
  add("GET", "/users/{userId}/media", user_media);
  add("DELETE", "/users/{userId}/media", user_media);
  add("POST", "/purge_media_cache", purge_media_cache);
}

} // namespace axon::media
