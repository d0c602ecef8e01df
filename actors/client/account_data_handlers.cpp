// actors/client/account_data_handlers.cpp -- client config (account data) and
// room tagging, and their part of /sync. Spec: client-server API "Client
// Config", "Room Tagging", "Ignoring Users", "Direct Messaging".
#include "actors/client/common.hpp"
#include "actors/client/routes.hpp"
#include "actors/client/sync_streams.hpp"
#include "matrix/identifiers.hpp"
#include "storage/stores/account_data_store.hpp"
#include "transport/transport.hpp"

#include <set>

namespace axon::client {

using http::fail;

namespace {

// ---- helpers -------------------------------------------------------------------

void require_self(request& req, const std::string& user_id) {
  if (user_id != req.auth().user_id)
    fail(errc::forbidden, "Cannot access account data of other users");
}

void require_valid_room(const std::string& room_id) {
  if (!matrix::valid_room_id(room_id)) fail(errc::invalid_param, room_id + " is not a valid room ID");
}

/// Types the server manages itself (spec: 405 M_BAD_JSON when set directly).
void refuse_server_types(const std::string& type) {
  if (type == "m.fully_read" || type == "m.push_rules")
    fail(errc::server_controlled, "Cannot set " + type + " through this API");
}

response get_account_data(request& req, const std::string& room_id, const std::string& type) {
  auto c = req.ctx->account_data->get(req.auth().user_id, room_id, type);
  if (!c) fail(errc::not_found, "Account data not found");
  return {200, json::parse(*c)};
}

response put_account_data(request& req, const std::string& room_id, const std::string& type) {
  refuse_server_types(type);
  auto& content = req.json_body();
  if (type == "m.ignored_user_list") {
    auto i = content.find("ignored_users");
    if (i != content.end() && !i->is_object())
      fail(errc::bad_json, "ignored_users must be an object");
  }
  if (content.dump().size() > 65536) fail(errc::too_large, "Account data too large");
  req.ctx->transport->put_account_data({req.auth().user_id, room_id, type, content.dump()});
  return {200, json::object()};
}

// ---- handlers ----------------------------------------------------------------------

response get_global(request& req) {
  require_self(req, req.params[0]);
  return get_account_data(req, "", req.params[1]);
}

response put_global(request& req) {
  require_self(req, req.params[0]);
  return put_account_data(req, "", req.params[1]);
}

response get_room(request& req) {
  require_self(req, req.params[0]);
  require_valid_room(req.params[1]);
  return get_account_data(req, req.params[1], req.params[2]);
}

response put_room(request& req) {
  require_self(req, req.params[0]);
  require_valid_room(req.params[1]);
  return put_account_data(req, req.params[1], req.params[2]);
}

response get_tags(request& req) {
  require_self(req, req.params[0]);
  require_valid_room(req.params[1]);
  json tags = json::object();
  if (auto c = req.ctx->account_data->get(req.auth().user_id, req.params[1], "m.tag")) {
    auto j = json::parse(*c);
    if (j.contains("tags") && j["tags"].is_object()) tags = j["tags"];
  }
  return {200, {{"tags", tags}}};
}

response put_tag(request& req) {
  require_self(req, req.params[0]);
  require_valid_room(req.params[1]);
  auto& body = req.json_body();
  if (auto o = body.find("order"); o != body.end() && !o->is_number())
    fail(errc::bad_json, "order must be a number");
  if (req.params[2].size() > 255) fail(errc::invalid_param, "Tag too long");
  req.ctx->transport->update_room_tag({req.auth().user_id, req.params[1], req.params[2], body.dump()});
  return {200, json::object()};
}

response delete_tag(request& req) {
  require_self(req, req.params[0]);
  require_valid_room(req.params[1]);
  req.ctx->transport->update_room_tag({req.auth().user_id, req.params[1], req.params[2], ""});
  return {200, json::object()};
}

} // namespace

// ---- /sync ---------------------------------------------------------------------------

bool add_account_data(const sync_context& c, json& out) {
  auto* store = c.req.ctx->account_data;
  auto to = c.pos_of(stream_id::account_data);
  std::vector<storage::account_data_row> rows;
  if (c.moved(stream_id::account_data))
    rows = store->changed(c.user_id(), c.since_of(stream_id::account_data), to);
  // Rooms the client gets in full (new joins) come with all their account data.
  std::set<std::string> full(c.full_rooms.begin(), c.full_rooms.end());
  if (c.since && !full.empty())
    for (auto& r : store->changed(c.user_id(), 0, c.since_of(stream_id::account_data)))
      if (full.count(r.room_id)) rows.push_back(r);
  std::set<std::string> joined(c.joined_rooms.begin(), c.joined_rooms.end());
  bool news = false;
  json global = json::array();
  for (auto& r : rows) {
    json ev = {{"type", r.type}, {"content", json::parse(r.content)}};
    if (r.room_id.empty()) {
      if (!c.filter.account_data.match(ev)) continue;
      global.push_back(std::move(ev));
      news = true;
    } else if (joined.count(r.room_id) && c.filter.room.account_data.match(ev)) {
      joined_entry(out, r.room_id, c)["account_data"]["events"].push_back(std::move(ev));
      news = true;
    }
  }
  out["account_data"] = {{"events", global}};
  return news;
}

void add_account_data_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"GET", c, "/user/{userId}/account_data/{type}", true, "client", get_global, "account_data"});
  out.push_back({"PUT", c, "/user/{userId}/account_data/{type}", true, "client", put_global, "account_data"});
  out.push_back(
    {"GET", c, "/user/{userId}/rooms/{roomId}/account_data/{type}", true, "client", get_room, "account_data"});
  out.push_back(
    {"PUT", c, "/user/{userId}/rooms/{roomId}/account_data/{type}", true, "client", put_room, "account_data"});
  out.push_back({"GET", c, "/user/{userId}/rooms/{roomId}/tags", true, "client", get_tags, "account_data"});
  out.push_back({"PUT", c, "/user/{userId}/rooms/{roomId}/tags/{tag}", true, "client", put_tag, "account_data"});
  out.push_back(
    {"DELETE", c, "/user/{userId}/rooms/{roomId}/tags/{tag}", true, "client", delete_tag, "account_data"});
}

} // namespace axon::client
