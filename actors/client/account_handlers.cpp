// actors/client/account_handlers.cpp -- /versions, /capabilities, accounts
// (register, login, logout, whoami), shared-secret registration, profiles,
// filters. Spec: client-server API "Client Authentication", "Profiles",
// "Filtering"; Synapse admin API "Shared-Secret Registration".
#include "actors/client/common.hpp"
#include "actors/client/routes.hpp"
#include "actors/federation/federation_client.hpp"
#include "actors/http/services.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/access_token.hpp"
#include "matrix/crypto.hpp"
#include "matrix/filter.hpp"
#include "matrix/identifiers.hpp"
#include "matrix/room_version.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/pushers_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "transport/transport.hpp"

#include <algorithm>

namespace axon::client {

using http::fail;

namespace {

// ---- helpers -------------------------------------------------------------------

/// Issues a device and access token for the user; the login response.
json issue_session(request& req, const std::string& user_id, std::optional<std::string> device_id,
                   const std::optional<std::string>& display_name) {
  auto dev = device_id ? *device_id : matrix::generate_device_id(*req.ctx->env);
  auto localpart = user_id.substr(1, user_id.find(':') - 1);
  auto token = matrix::generate_access_token(localpart, *req.ctx->env);
  auto now = now_ms(req);
  req.ctx->accounts->upsert_device(user_id, dev, display_name, now);
  req.ctx->accounts->add_access_token(matrix::token_hash(token), user_id, dev, now);
  return {{"user_id", user_id},
          {"access_token", token},
          {"device_id", dev},
          {"home_server", server_name(req)}};
}

/// Checks a requested localpart; returns the full user id.
std::string check_username(request& req, const std::string& username) {
  if (!matrix::valid_new_localpart(username))
    fail(errc::invalid_username,
         "User ID can only contain characters a-z, 0-9, or '=_-./+'");
  auto user_id = "@" + username + ":" + server_name(req);
  if (user_id.size() > 255) fail(errc::invalid_username, "User ID is too long");
  if (req.ctx->accounts->user_exists(user_id)) fail(errc::user_in_use, "User ID already taken.");
  return user_id;
}

json uia_challenge(const std::string& session) {
  return {{"flows", json::array({{{"stages", json::array({"m.login.dummy"})}}})},
          {"params", json::object()},
          {"session", session}};
}

/// The stored form of a password: its argon2id hash, or "" for none.
std::string hash_or_empty(const std::string& password) {
  if (password.empty()) return "";
  auto hash = matrix::hash_password(password);
  if (hash.empty()) fail(errc::unknown, "Could not hash the password");
  return hash;
}

/// Creates the account with its default displayname (the localpart);
/// `password_hash` empty for an account without a password.
void create_account(request& req, const std::string& user_id, const std::string& password_hash,
                    bool admin) {
  if (!req.ctx->accounts->create_user(user_id, password_hash, admin, now_ms(req)))
    fail(errc::user_in_use, "User ID already taken.");
  req.ctx->accounts->set_displayname(user_id, user_id.substr(1, user_id.find(':') - 1));
}

// ---- handlers ------------------------------------------------------------------

response versions(request&) {
  return {200,
          {{"versions", {"r0.5.0", "r0.6.0", "r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5",
                         "v1.6"}},
           {"unstable_features", json::object()}}};
}

response capabilities(request& req) {
  json versions = json::object();
  for (auto v = matrix::supported_room_versions(); *v; ++v) versions[*v] = "stable";
  return {200,
          {{"capabilities",
            {{"m.change_password", {{"enabled", true}}},
             {"m.room_versions",
              {{"default", req.ctx->cfg->default_room_version}, {"available", versions}}},
             {"m.set_displayname", {{"enabled", true}}},
             {"m.set_avatar_url", {{"enabled", true}}},
             {"m.3pid_changes", {{"enabled", false}}}}}}};
}

/// What a registration's UIA session remembers (Synapse's
/// UIAuthSessionDataConstants).
constexpr const char* session_password_hash = "password_hash";
constexpr const char* session_registered_user = "registered_user_id";

/// POST /register, following Synapse's RegisterRestServlet: the UIA session
/// remembers the request's parameters (a retry may send only `auth`), the
/// first password's hash, and the account it created, so that a retried
/// request answers for that account instead of failing with M_USER_IN_USE.
response register_account(request& req) {
  auto& body = req.json_body();
  auto kind = req.query_param("kind").value_or("user");
  if (kind == "guest") fail(errc::forbidden, "Guest access is disabled");
  if (kind != "user") fail(errc::invalid_param, "Invalid kind: " + kind);
  if (!req.ctx->cfg->enable_registration) fail(errc::forbidden, "Registration has been disabled");
  rate_limit(req, "rc_registration", req.remote_addr, req.ctx->cfg->rc.registration.per_second,
             req.ctx->cfg->rc.registration.burst_count);
  auto username = optional_string(body, "username");
  auto password = optional_string(body, "password");
  if (password && password->size() > 512) fail(errc::invalid_param, "Password too long");
  // Checked now, so a malformed retry fails before it uses the session.
  optional_string(body, "device_id");
  optional_string(body, "initial_device_display_name");
  optional_bool(body, "inhibit_login");
  auto auth = optional_object(body, "auth");
  std::string session = auth ? optional_string(*auth, "session").value_or("") : "";
  auto* uia = req.ctx->uia;
  if (!session.empty() && !uia->exists(session)) session.clear();
  std::optional<std::string> registered, password_hash;
  if (!session.empty()) {
    registered = uia->data(session, session_registered_user);
    password_hash = uia->data(session, session_password_hash);
  }
  if (username) {
    auto wanted = "@" + lower(*username) + ":" + server_name(req);
    if (!registered || *registered != wanted) check_username(req, lower(*username));
  }

  // The parameters: this request's, or (when it sends none) the session's.
  // The password is never stored, only its hash (serverdict).
  json params = body;
  params.erase("auth");
  params.erase("password");
  if (session.empty()) {
    session = uia->create(params);
  } else if (params.empty()) {
    params = uia->clientdict(session);
  } else {
    uia->set_clientdict(session, params);
  }

  // User-interactive auth: one m.login.dummy stage.
  auto type = auth ? optional_string(*auth, "type") : std::nullopt;
  if (type && *type != "m.login.dummy") fail(errc::bad_request, "Unknown auth type " + *type);
  if (type) uia->complete(session, "m.login.dummy");
  if (!uia->completed(session).count("m.login.dummy")) {
    if (password && !password_hash)
      uia->set_data(session, session_password_hash, hash_or_empty(*password));
    return {401, uia_challenge(session)};
  }

  std::string user_id;
  if (registered) {
    user_id = *registered; // a retry: the account exists, log in again
  } else {
    // This request's password, else the one the session remembers.
    auto hash = password ? hash_or_empty(*password) : password_hash.value_or("");
    if (auto name = params.find("username"); name != params.end() && name->is_string())
      user_id = check_username(req, lower(name->get<std::string>()));
    else
      // Generated names, as Synapse does when none is given.
      do user_id = "@" + lower(matrix::random_string(12, *req.ctx->env)) + ":" + server_name(req);
      while (req.ctx->accounts->user_exists(user_id));
    create_account(req, user_id, hash, false);
    uia->set_data(session, session_registered_user, user_id);
  }
  auto param_string = [&](const char* key) -> std::optional<std::string> {
    auto i = params.find(key);
    if (i == params.end() || !i->is_string()) return std::nullopt;
    return i->get<std::string>();
  };
  if (params.value("inhibit_login", false) == true)
    return {200, {{"user_id", user_id}, {"home_server", server_name(req)}}};
  return {200, issue_session(req, user_id, param_string("device_id"),
                             param_string("initial_device_display_name"))};
}

response register_available(request& req) {
  auto username = req.query_param("username");
  if (!username) fail(errc::missing_param, "Missing username");
  rate_limit(req, "rc_registration", req.remote_addr, req.ctx->cfg->rc.registration.per_second,
             req.ctx->cfg->rc.registration.burst_count);
  check_username(req, lower(*username));
  return {200, {{"available", true}}};
}

response admin_register_nonce(request& req) {
  if (req.ctx->cfg->registration_shared_secret.empty())
    fail(errc::bad_json, "Shared secret registration is not enabled");
  auto nonce = matrix::random_string(32, *req.ctx->env);
  req.ctx->accounts->add_nonce(nonce, now_ms(req));
  return {200, {{"nonce", nonce}}};
}

response admin_register(request& req) {
  auto& secret = req.ctx->cfg->registration_shared_secret;
  if (secret.empty()) fail(errc::bad_json, "Shared secret registration is not enabled");
  auto& body = req.json_body();
  auto nonce = require_string(body, "nonce");
  auto username = require_string(body, "username");
  auto password = require_string(body, "password");
  auto mac = require_string(body, "mac");
  auto admin = optional_bool(body, "admin").value_or(false);
  auto user_type = optional_string(body, "user_type");
  auto displayname = optional_string(body, "displayname");
  if (password.size() > 512) fail(errc::invalid_param, "Invalid password");
  // Synapse: HMAC-SHA1 over nonce \0 username \0 password \0 admin|notadmin [\0 user_type].
  std::string message = nonce;
  message += '\0';
  message += username;
  message += '\0';
  message += password;
  message += '\0';
  message += admin ? "admin" : "notadmin";
  if (user_type) {
    message += '\0';
    message += *user_type;
  }
  auto want = matrix::hmac_sha1_hex(secret, message);
  if (!req.ctx->accounts->consume_nonce(nonce, now_ms(req), 60 * 1000))
    fail(errc::bad_request, "unrecognised nonce");
  if (!matrix::constant_time_equal(want, lower(mac))) fail(errc::forbidden, "HMAC incorrect");
  auto user_id = check_username(req, lower(username));
  create_account(req, user_id, hash_or_empty(password), admin);
  if (displayname) req.ctx->accounts->set_displayname(user_id, *displayname);
  return {200, issue_session(req, user_id, std::nullopt, std::nullopt)};
}

response login_flows(request&) {
  return {200, {{"flows", json::array({{{"type", "m.login.password"}}})}}};
}

response login(request& req) {
  auto& body = req.json_body();
  auto type = require_string(body, "type");
  if (type != "m.login.password") fail(errc::bad_request, "Unknown login type " + type);
  auto& rc = req.ctx->cfg->rc;
  rate_limit(req, "rc_login.address", req.remote_addr, rc.login_address.per_second,
             rc.login_address.burst_count);
  std::string user;
  if (auto ident = optional_object(body, "identifier")) {
    auto itype = require_string(*ident, "type");
    if (itype != "m.id.user") fail(errc::bad_request, "Unknown login identifier type " + itype);
    user = require_string(*ident, "user");
  } else if (auto u = optional_string(body, "user")) {
    user = *u;
  } else {
    fail(errc::missing_param, "Missing identifier");
  }
  auto password = require_string(body, "password");
  auto user_id = user.rfind('@', 0) == 0 ? lower(user) : "@" + lower(user) + ":" + server_name(req);
  rate_limit(req, "rc_login.account", user_id, rc.login_account.per_second,
             rc.login_account.burst_count);
  auto row = req.ctx->accounts->get_user(user_id);
  if (row && row->deactivated) fail(errc::user_deactivated, "This account has been deactivated");
  bool ok = row && !row->password_hash.empty() && matrix::check_password(row->password_hash, password);
  if (!ok) {
    rate_limit(req, "rc_login.failed_attempts", user_id, rc.login_failed_attempts.per_second,
               rc.login_failed_attempts.burst_count);
    fail(errc::forbidden, "Invalid username or password");
  }
  if (row->deactivated) fail(errc::user_deactivated, "This account has been deactivated");
  return {200, issue_session(req, user_id, optional_string(body, "device_id"),
                             optional_string(body, "initial_device_display_name"))};
}

response logout(request& req) {
  req.ctx->accounts->delete_token_and_device(req.auth().token_hash);
  req.ctx->pushers->remove_for_devices(req.auth().user_id, {req.auth().device_id});
  req.ctx->tokens->erase(req.auth().token_hash);
  req.ctx->transport->invalidate_cache("access_tokens", {req.auth().token_hash});
  // The device is gone: so are its E2EE keys, and others learn it.
  devices_changed(req, {req.auth().user_id, {req.auth().device_id}, true});
  return {200, json::object()};
}

response logout_all(request& req) {
  std::vector<std::string> devices;
  for (auto& d : req.ctx->accounts->devices(req.auth().user_id)) devices.push_back(d.device_id);
  req.ctx->accounts->delete_all_tokens_and_devices(req.auth().user_id);
  req.ctx->pushers->remove_for_devices(req.auth().user_id, devices);
  req.ctx->tokens->erase_user(req.auth().user_id);
  req.ctx->transport->invalidate_cache("user_tokens", {req.auth().user_id});
  if (!devices.empty())
    devices_changed(req, {req.auth().user_id, devices, true});
  return {200, json::object()};
}

response whoami(request& req) {
  return {200,
          {{"user_id", req.auth().user_id},
           {"device_id", req.auth().device_id},
           {"is_guest", false}}};
}

// ---- profiles ----------------------------------------------------------------------

/// A remote user's profile, asked of their server (GET
/// /_matrix/federation/v1/query/profile): its error passed on when it is a
/// Matrix error, 502 when the server can't be reached, as Synapse does.
json remote_profile_json(request& req, const std::string& user_id, const char* field) {
  auto server = matrix::server_of(user_id);
  req.ctx->federation->require_allowed(server);
  std::string path = "/_matrix/federation/v1/query/profile?user_id=" + federation::escape(user_id);
  if (field) path += std::string("&field=") + field;
  auto r = req.ctx->federation->request(server, "GET", path);
  auto& body = federation::body_or_fail(r, "Failed to fetch profile");
  // Only the two fields, and only strings: the rest of another server's
  // answer is not passed on.
  json out = json::object();
  for (const char* f : {"displayname", "avatar_url"})
    if (body.contains(f) && body[f].is_string()) out[f] = body[f];
  return out;
}

json profile_json(request& req, const std::string& user_id, const char* field = nullptr) {
  if (!matrix::parse_user_id(user_id)) fail(errc::invalid_param, "Invalid user id");
  if (matrix::server_of(user_id) != req.ctx->cfg->server_name) return remote_profile_json(req, user_id, field);
  if (!req.ctx->accounts->user_exists(user_id)) fail(errc::not_found, "Profile was not found");
  auto p = req.ctx->accounts->get_profile(user_id);
  json out = json::object();
  if (p.displayname) out["displayname"] = *p.displayname;
  if (p.avatar_url) out["avatar_url"] = *p.avatar_url;
  return out;
}

response get_profile(request& req) { return {200, profile_json(req, req.params[0])}; }

response get_profile_field(request& req, const char* field) {
  auto p = profile_json(req, req.params[0], field);
  if (!p.contains(field)) fail(errc::not_found, std::string("The ") + field + " is not set");
  return {200, {{field, p[field]}}};
}

/// Sets a profile field and reflects it into every joined room's membership.
response set_profile_field(request& req, const char* field) {
  auto& user_id = req.params[0];
  if (user_id != req.auth().user_id) fail(errc::forbidden, "Cannot set another user's profile");
  auto& body = req.json_body();
  auto value = optional_string(body, field);
  if (value && value->size() > (std::string(field) == "displayname" ? 256u : 1000u))
    fail(errc::invalid_param, std::string(field) + " is too long");
  if (std::string(field) == "displayname") req.ctx->accounts->set_displayname(user_id, value);
  else req.ctx->accounts->set_avatar_url(user_id, value);
  for (auto& m : req.ctx->rooms->memberships(user_id)) {
    if (m.membership != "join") continue;
    msg::event_draft d;
    d.type = "m.room.member";
    d.is_state = true;
    d.state_key = user_id;
    d.sender = user_id;
    d.content = member_content(req, user_id, "join").dump();
    try {
      send_event(req, m.room_id, std::move(d));
    } catch (const matrix_error&) {
      // A room that refuses the update (e.g. power levels) keeps the old one.
    }
  }
  return {200, json::object()};
}

// ---- filters -----------------------------------------------------------------------

response upload_filter(request& req) {
  if (req.params[0] != req.auth().user_id)
    fail(errc::forbidden, "Cannot create filters for other users");
  auto& body = req.json_body();
  std::string why;
  if (!matrix::parse_sync_filter(body, &why)) fail(errc::bad_json, "Invalid filter: " + why);
  auto id = req.ctx->accounts->add_filter(req.auth().user_id, body.dump());
  return {200, {{"filter_id", std::to_string(id)}}};
}

response get_filter(request& req) {
  if (req.params[0] != req.auth().user_id)
    fail(errc::forbidden, "Cannot get filters for other users");
  int64_t id = -1;
  try {
    size_t used = 0;
    id = std::stoll(req.params[1], &used);
    if (used != req.params[1].size()) id = -1;
  } catch (const std::exception&) {
  }
  auto f = id < 0 ? std::nullopt : req.ctx->accounts->get_filter(req.auth().user_id, id);
  if (!f) fail(errc::not_found, "No such filter");
  return {200, json::parse(*f)};
}

} // namespace

void add_account_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"GET", "/_matrix/client", "/versions", false, "client", versions});
  out.push_back({"GET", c, "/capabilities", true, "client", capabilities});
  out.push_back({"POST", c, "/register", false, "client", register_account});
  out.push_back({"GET", c, "/register/available", false, "client", register_available});
  out.push_back({"GET", "/_synapse/admin/v1", "/register", false, "client", admin_register_nonce});
  out.push_back({"POST", "/_synapse/admin/v1", "/register", false, "client", admin_register});
  out.push_back({"GET", c, "/login", false, "client", login_flows});
  out.push_back({"POST", c, "/login", false, "client", login});
  out.push_back({"POST", c, "/logout", true, "client", logout});
  out.push_back({"POST", c, "/logout/all", true, "client", logout_all});
  out.push_back({"GET", c, "/account/whoami", true, "client", whoami});
  out.push_back({"GET", c, "/profile/{userId}", false, "client", get_profile});
  out.push_back({"GET", c, "/profile/{userId}/displayname", false, "client",
                 [](request& r) { return get_profile_field(r, "displayname"); }});
  out.push_back({"GET", c, "/profile/{userId}/avatar_url", false, "client",
                 [](request& r) { return get_profile_field(r, "avatar_url"); }});
  out.push_back({"PUT", c, "/profile/{userId}/displayname", true, "client",
                 [](request& r) { return set_profile_field(r, "displayname"); }});
  out.push_back({"PUT", c, "/profile/{userId}/avatar_url", true, "client",
                 [](request& r) { return set_profile_field(r, "avatar_url"); }});
  out.push_back({"POST", c, "/user/{userId}/filter", true, "client", upload_filter});
  out.push_back({"GET", c, "/user/{userId}/filter/{filterId}", true, "client", get_filter});
}

} // namespace axon::client
