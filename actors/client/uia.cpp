// actors/client/uia.cpp -- user-interactive auth with the account's password
// (m.login.password), for requests that need the user to prove who they are
// again: deleting devices, changing the password, deactivating. Spec:
// client-server API "User-Interactive Authentication API".
#include "actors/client/common.hpp"
#include "actors/http/services.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/crypto.hpp"
#include "storage/stores/accounts_store.hpp"

namespace axon::client {

using http::fail;

namespace {

constexpr const char* password_stage = "m.login.password";

json uia_body(const std::string& session) {
  return {{"flows", json::array({{{"stages", json::array({password_stage})}}})},
          {"params", json::object()},
          {"session", session}};
}

} // namespace

/// User-interactive auth with the requester's password. Returns nullopt when
/// the request is authenticated, else the 401 response to send (the
/// challenge, or the challenge with the stage's error).
std::optional<response> password_uia(request& req) {
  auto& body = req.json_body();
  auto auth = optional_object(body, "auth");
  std::string session = auth ? optional_string(*auth, "session").value_or("") : "";
  if (session.empty() || !req.ctx->uia->exists(session)) session = req.ctx->uia->create();
  if (!auth || !auth->contains("type")) return response{401, uia_body(session)};
  auto type = require_string(*auth, "type");
  if (type != password_stage) fail(errc::bad_request, "Unknown auth type " + type);
  auto& me = req.auth().user_id;
  std::string user;
  if (auto ident = optional_object(*auth, "identifier")) {
    if (require_string(*ident, "type") != "m.id.user")
      fail(errc::bad_request, "Unknown login identifier type");
    user = require_string(*ident, "user");
  } else if (auto u = optional_string(*auth, "user")) {
    user = *u;
  } else {
    fail(errc::missing_param, "Missing identifier");
  }
  // As /login reads it: user ids are case-insensitive.
  user = lower(std::move(user));
  if (user.rfind('@', 0) != 0) user = "@" + user + ":" + server_name(req);
  auto password = require_string(*auth, "password");
  auto& rc = req.ctx->cfg->rc;
  // The stage checks the password of the user it names; only then does it
  // matter whether that user is the requester (Synapse's
  // validate_user_via_ui_auth: a completed stage for another user is 403).
  auto row = req.ctx->accounts->get_user(user);
  bool ok = row && !row->deactivated && !row->password_hash.empty() &&
            matrix::check_password(row->password_hash, password);
  if (!ok) {
    rate_limit(req, "rc_login.failed_attempts", me, rc.login_failed_attempts.per_second,
               rc.login_failed_attempts.burst_count);
    auto out = uia_body(session);
    out["completed"] = json::array();
    out["errcode"] = "M_FORBIDDEN";
    out["error"] = "Invalid username or password";
    return response{401, out};
  }
  if (user != me) fail(errc::forbidden, "Invalid auth: the password given is not the requester's");
  req.ctx->uia->remove(session);
  return std::nullopt;
}

} // namespace axon::client
