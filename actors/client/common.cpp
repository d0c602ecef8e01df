#include "actors/client/common.hpp"

#include "actors/federation/device_lists.hpp"
#include "actors/http/services.hpp"
#include "config/homeserver_config.hpp"
#include "config/layout.hpp"
#include "matrix/identifiers.hpp"
#include "storage/stores/account_data_store.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "transport/transport.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

namespace axon::client {

using http::fail;

int64_t now_ms(const request& req) { return req.ctx->env->now_ms(); }

const std::string& server_name(const request& req) { return req.ctx->cfg->server_name; }

std::vector<int64_t> token_positions(const request& req, const matrix::stream_token& t) {
  std::vector<int64_t> p(stream_count, 0);
  p[0] = t.events;
  for (size_t i = 0; i < t.others.size() && i + 1 < stream_count; ++i) p[i + 1] = t.others[i];
  for (auto id : req.ctx->events_writer_ids) {
    auto at = t.events;
    for (auto& [wid, pos] : t.writers)
      if (wid == id) at = std::max(at, pos);
    p.push_back(at);
  }
  return p;
}

std::string token_string(const request& req, const std::vector<int64_t>& p) {
  matrix::stream_token t;
  t.events = p.empty() ? 0 : p[0];
  auto end = std::min(p.size(), stream_count);
  if (end > 1) t.others.assign(p.begin() + 1, p.begin() + static_cast<std::ptrdiff_t>(end));
  auto& ids = req.ctx->events_writer_ids;
  for (size_t i = 0; i < ids.size() && writer_slot(i) < p.size(); ++i)
    t.writers.emplace_back(ids[i], p[writer_slot(i)]);
  return t.to_string();
}

int64_t room_position(const request& req, const std::vector<int64_t>& p, const std::string& room_id) {
  if (req.ctx->events_writer_ids.empty()) return events_bound(p, -1);
  auto i = config::stream_writer_index(req.ctx->cfg->stream_writers.events, room_id);
  return events_bound(p, static_cast<int>(i));
}

size_t room_entry(const request& req, const std::string& room_id) {
  if (req.ctx->events_writer_ids.empty()) return 0;
  return writer_slot(config::stream_writer_index(req.ctx->cfg->stream_writers.events, room_id));
}

std::string require_string(const json& obj, const char* key) {
  auto i = obj.find(key);
  if (i == obj.end() || i->is_null()) fail(errc::missing_param, std::string("Missing ") + key);
  if (!i->is_string()) fail(errc::bad_json, std::string(key) + " must be a string");
  return i->get<std::string>();
}

std::optional<std::string> optional_string(const json& obj, const char* key) {
  auto i = obj.find(key);
  if (i == obj.end() || i->is_null()) return std::nullopt;
  if (!i->is_string()) fail(errc::bad_json, std::string(key) + " must be a string");
  return i->get<std::string>();
}

std::optional<bool> optional_bool(const json& obj, const char* key) {
  auto i = obj.find(key);
  if (i == obj.end() || i->is_null()) return std::nullopt;
  if (!i->is_boolean()) fail(errc::bad_json, std::string(key) + " must be a boolean");
  return i->get<bool>();
}

std::optional<json> optional_object(const json& obj, const char* key) {
  auto i = obj.find(key);
  if (i == obj.end() || i->is_null()) return std::nullopt;
  if (!i->is_object()) fail(errc::bad_json, std::string(key) + " must be an object");
  return *i;
}

std::optional<int64_t> int_param(const request& req, const char* name) {
  auto v = req.query_param(name);
  if (!v) return std::nullopt;
  try {
    size_t used = 0;
    auto n = std::stoll(*v, &used);
    if (used != v->size() || n < 0) throw std::invalid_argument("neg");
    return n;
  } catch (const std::exception&) {
    fail(errc::invalid_param, std::string("Query parameter ") + name + " must be a non-negative integer");
  }
}

namespace {
json format_event(const json& stored, const http::auth_user* viewer, int64_t now, bool room_id) {
  json out = json::object();
  static const char* keys[] = {"content", "event_id", "origin_server_ts", "sender",
                               "state_key", "type", "redacts"};
  for (auto k : keys)
    if (auto i = stored.find(k); i != stored.end()) out[k] = *i;
  if (room_id) out["room_id"] = stored.value("room_id", "");
  // v11 moved `redacts` into content; keep the top-level copy clients read.
  if (!out.contains("redacts") && out.value("type", "") == "m.room.redaction" &&
      out["content"].is_object() && out["content"].contains("redacts"))
    out["redacts"] = out["content"]["redacts"];
  json unsig = json::object();
  if (auto u = stored.find("unsigned"); u != stored.end() && u->is_object()) {
    for (auto& [k, v] : u->items()) {
      if (k == "io.axon.txn") {
        if (viewer && v.value("device", "") == viewer->device_id &&
            stored.value("sender", "") == viewer->user_id)
          unsig["transaction_id"] = v.value("txn", "");
      } else if (k == "redacted_because") {
        unsig[k] = format_event(v, nullptr, now, room_id);
      } else {
        unsig[k] = v;
      }
    }
  }
  unsig["age"] = now - stored.value("origin_server_ts", now);
  out["unsigned"] = std::move(unsig);
  return out;
}
} // namespace

json client_event(const json& stored, const http::auth_user* viewer, int64_t now) {
  return format_event(stored, viewer, now, true);
}

json sync_event(const json& stored, const http::auth_user* viewer, int64_t now) {
  return format_event(stored, viewer, now, false);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string membership_of(request& req, const std::string& user_id, const std::string& room_id) {
  if (matrix::server_of(user_id) != req.ctx->cfg->server_name) {
    // Another server's user: the room's current state says.
    auto ev = req.ctx->rooms->current_state_event(room_id, "m.room.member", user_id);
    return ev ? ev->value("content", json::object()).value("membership", "") : "";
  }
  auto m = req.ctx->rooms->membership(user_id, room_id);
  return m ? m->membership : "";
}

void require_room_id(const std::string& room_id) {
  if (!matrix::valid_room_id(room_id)) fail(errc::invalid_param, "Invalid room id " + room_id);
}

bool is_server_admin(request& req) {
  if (!req.user) return false;
  auto row = req.ctx->accounts->get_user(req.user->user_id);
  return row && row->admin;
}

void require_server_admin(request& req) {
  if (!is_server_admin(req)) fail(errc::forbidden, "You are not a server admin");
}

void require_joined(request& req, const std::string& room_id) {
  require_room_id(room_id);
  if (membership_of(req, req.auth().user_id, room_id) != "join")
    fail(errc::forbidden, "User " + req.auth().user_id + " not in room " + room_id);
}

std::pair<int64_t, bool> time_and_direction(const request& req) {
  auto ts = req.query_param("ts");
  auto dir = req.query_param("dir");
  if (!ts) fail(errc::missing_param, "Missing ts");
  if (!dir) fail(errc::missing_param, "Missing dir");
  if (*dir != "f" && *dir != "b") fail(errc::invalid_param, "dir must be 'f' or 'b'");
  int64_t t = 0;
  try {
    size_t used = 0;
    t = std::stoll(*ts, &used);
    if (used != ts->size()) throw std::invalid_argument("ts");
  } catch (const std::exception&) {
    fail(errc::invalid_param, "ts must be an integer");
  }
  return {t, *dir == "f"};
}

int64_t devices_changed(request& req, const msg::device_list_changed& change) {
  auto pos = req.ctx->transport->device_list_changed(change);
  federation::send_device_list_update(*req.ctx, change.user_id, change.device_ids, change.deleted, pos);
  return pos;
}

msg::send_events_reply send_events(request& req, msg::send_events batch) {
  return req.ctx->transport->send_events(batch);
}

std::string send_event(request& req, const std::string& room_id, msg::event_draft draft) {
  check_event_size(draft.content, draft.type, draft.state_key);
  if (!draft.is_state && draft.type != "m.room.redaction")
    rate_limit(req, "rc_message", draft.sender, req.ctx->cfg->rc.message.per_second,
               req.ctx->cfg->rc.message.burst_count);
  msg::send_events batch;
  batch.room_id = room_id;
  batch.drafts.push_back(std::move(draft));
  auto r = send_events(req, std::move(batch));
  return r.event_ids.at(0);
}

json member_content(request& req, const std::string& user_id, const std::string& membership) {
  json c = {{"membership", membership}};
  auto p = req.ctx->accounts->get_profile(user_id);
  if (p.displayname) c["displayname"] = *p.displayname;
  if (p.avatar_url) c["avatar_url"] = *p.avatar_url;
  return c;
}

void check_event_size(const std::string& content_json, const std::string& type,
                      const std::string& state_key) {
  // An early, cheap refusal; the events writer checks the signed PDU's
  // exact size, which adds ids, hashes and a signature to these.
  if (content_json.size() + type.size() + state_key.size() > 65536)
    fail(errc::too_large, "Event too large: events are limited to 65536 bytes");
}

void rate_limit(request& req, const char* action, const std::string& key, double per_second,
                double burst) {
  auto wait = req.ctx->limiter->take(action, key, per_second, burst);
  if (wait > 0) {
    matrix_error e(errc::limit_exceeded, "Too Many Requests");
    e.extra_json = json{{"retry_after_ms", wait}}.dump();
    throw e;
  }
}

std::unordered_set<std::string> ignored_users(request& req, const std::string& user_id) {
  return ignored_users_in(req.ctx->account_data->get(user_id, "", "m.ignored_user_list"));
}

std::unordered_set<std::string> ignored_users_in(const std::optional<std::string>& text) {
  std::unordered_set<std::string> out;
  if (!text) return out;
  auto j = json::parse(*text, nullptr, false);
  if (j.is_object())
    if (auto i = j.find("ignored_users"); i != j.end() && i->is_object())
      for (auto& [user, _] : i->items()) out.insert(user);
  return out;
}

} // namespace axon::client
