// actors/client/room_keys_handlers.cpp -- server-side key backups:
// /room_keys/version[/{version}] and /room_keys/keys[/{roomId}[/{sessionId}]].
// Spec: client-server API "End-to-End Encryption" > "Server-side key
// backups"; Synapse's rest/client/room_keys.py where the spec is silent.
// Not a stream (nothing of it is in /sync): the handlers use the store, whose
// writes each run in one transaction.
#include "actors/client/common.hpp"
#include "actors/client/routes.hpp"
#include "storage/stores/room_keys_store.hpp"

#include <limits>

namespace axon::client {

using http::fail;
using storage::room_keys_write;

namespace {

/// Room and session ids: the spec's 255-byte bound on identifiers.
constexpr size_t max_id_bytes = 255;
constexpr size_t max_algorithm_bytes = 255;

storage::room_keys_store& store(request& req) { return *req.ctx->room_keys; }

std::string version_param(const request& req) {
  auto v = req.query_param("version");
  if (!v) fail(errc::missing_param, "Missing version query parameter");
  return *v;
}

void check_id(const std::string& id, const char* what) {
  if (id.empty() || id.size() > max_id_bytes)
    fail(errc::invalid_param, std::string(what) + " must be 1 to 255 bytes");
}

int64_t non_negative_int(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) fail(errc::missing_param, std::string("Missing ") + key);
  if (!it->is_number_integer() ||
      (it->is_number_unsigned() &&
       it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) ||
      (!it->is_number_unsigned() && it->get<int64_t>() < 0))
    fail(errc::bad_json, std::string(key) + " must be a non-negative integer");
  return it->get<int64_t>();
}

/// A KeyBackupData object; M_MISSING_PARAM / M_BAD_JSON when malformed.
matrix::room_key parse_key(const json& j) {
  if (!j.is_object()) fail(errc::bad_json, "Key backup data must be an object");
  matrix::room_key k;
  k.first_message_index = non_negative_int(j, "first_message_index");
  k.forwarded_count = non_negative_int(j, "forwarded_count");
  auto verified = j.find("is_verified");
  if (verified == j.end()) fail(errc::missing_param, "Missing is_verified");
  if (!verified->is_boolean()) fail(errc::bad_json, "is_verified must be a boolean");
  k.is_verified = verified->get<bool>();
  auto data = j.find("session_data");
  if (data == j.end()) fail(errc::missing_param, "Missing session_data");
  if (!data->is_object()) fail(errc::bad_json, "session_data must be an object");
  k.session_data = data->dump();
  return k;
}

/// {"sessions": {session: KeyBackupData}} into `out`.
void parse_room(const std::string& room_id, const json& j,
                std::map<std::string, matrix::room_key>& out) {
  check_id(room_id, "Room id");
  if (!j.is_object()) fail(errc::bad_json, "Room key backup must be an object");
  auto sessions = j.find("sessions");
  if (sessions == j.end()) fail(errc::missing_param, "Missing sessions");
  if (!sessions->is_object()) fail(errc::bad_json, "sessions must be an object");
  for (auto& [session_id, key] : sessions->items()) {
    check_id(session_id, "Session id");
    out[session_id] = parse_key(key);
  }
}

/// The body of PUT /room_keys/keys[/{roomId}[/{sessionId}]], all of it
/// checked before anything is stored.
storage::room_key_map parse_upload(request& req) {
  auto& body = req.json_body();
  storage::room_key_map keys;
  if (req.params.size() == 2) {
    check_id(req.params[0], "Room id");
    check_id(req.params[1], "Session id");
    keys[req.params[0]][req.params[1]] = parse_key(body);
  } else if (req.params.size() == 1) {
    parse_room(req.params[0], body, keys[req.params[0]]);
  } else {
    auto rooms = body.find("rooms");
    if (rooms == body.end()) fail(errc::missing_param, "Missing rooms");
    if (!rooms->is_object()) fail(errc::bad_json, "rooms must be an object");
    for (auto& [room_id, room] : rooms->items()) parse_room(room_id, room, keys[room_id]);
  }
  return keys;
}

[[noreturn]] void fail_unknown_version() { fail(errc::not_found, "Unknown backup version"); }

response write_reply(const room_keys_write& w) {
  using status = room_keys_write::status;
  if (w.result == status::not_found) fail_unknown_version();
  if (w.result == status::wrong_version) {
    matrix_error e(errc::wrong_room_keys_version, "Wrong room_keys version");
    e.extra_json = json{{"current_version", w.current_version}}.dump();
    throw e;
  }
  return {200, {{"etag", w.etag}, {"count", w.count}}};
}

/// algorithm and auth_data of a version body (POST and PUT).
std::pair<std::string, std::string> version_fields(const json& body) {
  auto algorithm = require_string(body, "algorithm");
  if (algorithm.empty() || algorithm.size() > max_algorithm_bytes)
    fail(errc::invalid_param, "algorithm must be 1 to 255 bytes");
  auto auth_data = body.find("auth_data");
  if (auth_data == body.end()) fail(errc::missing_param, "Missing auth_data");
  if (!auth_data->is_object()) fail(errc::bad_json, "auth_data must be an object");
  return {algorithm, auth_data->dump()};
}

response create_version(request& req) {
  auto [algorithm, auth_data] = version_fields(req.json_body());
  return {200, {{"version", store(req).create_version(req.auth().user_id, algorithm, auth_data)}}};
}

response version_info(request& req, const std::optional<std::string>& version) {
  auto v = store(req).get_version(req.auth().user_id, version);
  if (!v) fail(errc::not_found, version ? "Unknown backup version" : "No backup found");
  return {200,
          {{"algorithm", v->algorithm},
           {"auth_data", v->auth_data},
           {"count", v->count},
           {"etag", v->etag},
           {"version", v->version}}};
}

response get_current_version(request& req) { return version_info(req, std::nullopt); }
response get_version(request& req) { return version_info(req, req.params.at(0)); }

response update_version(request& req) {
  auto& body = req.json_body();
  const auto& version = req.params.at(0);
  if (auto v = body.find("version"); v != body.end() && !(v->is_string() && *v == version))
    fail(errc::invalid_param, "Version in body does not match");
  auto [algorithm, auth_data] = version_fields(body);
  using result = storage::room_keys_store::update_result;
  switch (store(req).update_version(req.auth().user_id, version, algorithm, auth_data)) {
    case result::ok: break;
    case result::not_found: fail_unknown_version();
    case result::algorithm_mismatch: fail(errc::invalid_param, "Algorithm does not match");
  }
  return {200, json::object()};
}

response delete_version(request& req) {
  // Spec: deleting a version deleted before succeeds.
  if (store(req).delete_version(req.auth().user_id, req.params.at(0)) ==
      storage::room_keys_store::delete_result::not_found)
    fail_unknown_version();
  return {200, json::object()};
}

std::optional<std::string> param(const request& req, size_t i) {
  if (i < req.params.size()) return req.params[i];
  return std::nullopt;
}

response put_keys(request& req) {
  auto version = version_param(req);
  auto keys = parse_upload(req);
  return write_reply(store(req).put_keys(req.auth().user_id, version, keys));
}

response get_keys(request& req) {
  auto version = version_param(req);
  auto room_id = param(req, 0), session_id = param(req, 1);
  auto got = store(req).get_keys(req.auth().user_id, version, room_id, session_id);
  if (!got) fail_unknown_version();
  auto& rooms = (*got)["rooms"];
  if (session_id) {
    // As Synapse: a session that was not backed up is M_NOT_FOUND.
    if (!rooms.contains(*room_id)) fail(errc::not_found, "No room_keys found");
    return {200, rooms[*room_id]["sessions"][*session_id]};
  }
  if (room_id) {
    // Spec: a room without keys is {"sessions": {}}.
    if (!rooms.contains(*room_id)) return {200, {{"sessions", json::object()}}};
    return {200, rooms[*room_id]};
  }
  return {200, *got};
}

response delete_keys(request& req) {
  auto version = version_param(req);
  return write_reply(
    store(req).delete_keys(req.auth().user_id, version, param(req, 0), param(req, 1)));
}

} // namespace

void add_room_keys_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"POST", c, "/room_keys/version", true, "client", create_version});
  out.push_back({"GET", c, "/room_keys/version", true, "client", get_current_version});
  out.push_back({"GET", c, "/room_keys/version/{version}", true, "client", get_version});
  out.push_back({"PUT", c, "/room_keys/version/{version}", true, "client", update_version});
  out.push_back({"DELETE", c, "/room_keys/version/{version}", true, "client", delete_version});
  for (const char* path :
       {"/room_keys/keys", "/room_keys/keys/{roomId}", "/room_keys/keys/{roomId}/{sessionId}"}) {
    out.push_back({"PUT", c, path, true, "client", put_keys});
    out.push_back({"GET", c, path, true, "client", get_keys});
    out.push_back({"DELETE", c, path, true, "client", delete_keys});
  }
}

} // namespace axon::client
