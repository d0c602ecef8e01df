// actors/client/pusher_handlers.cpp -- the pushers registry: GET /pushers and
// POST /pushers/set. Spec: client-server API "Push Notifications" >
// "Client behaviour". Pushers are stored and listed; sending to push gateways
// is the pusher role's (a later issue).
#include "actors/client/common.hpp"
#include "actors/client/routes.hpp"
#include "storage/stores/pushers_store.hpp"

namespace axon::client {

using http::fail;

namespace {

std::string bounded(const json& body, const char* key, size_t max) {
  auto v = require_string(body, key);
  if (v.size() > max) fail(errc::invalid_param, std::string(key) + " is too long");
  return v;
}

response get_pushers(request& req) {
  json list = json::array();
  for (auto& p : req.ctx->pushers->for_user(req.auth().user_id)) list.push_back(std::move(p));
  return {200, {{"pushers", list}}};
}

response set_pusher(request& req) {
  auto& body = req.json_body();
  auto pushkey = bounded(body, "pushkey", 512);
  auto app_id = bounded(body, "app_id", 64);
  auto kind = body.find("kind");
  if (kind == body.end()) fail(errc::missing_param, "Missing kind");
  if (kind->is_null()) {
    req.ctx->pushers->remove(req.auth().user_id, app_id, pushkey);
    return {200, json::object()};
  }
  if (!kind->is_string()) fail(errc::bad_json, "kind must be a string or null");
  if (*kind == "email")
    fail(errc::bad_request, "Email pushers need an email address on the account; not supported yet");
  if (*kind != "http") fail(errc::bad_request, "Unknown pusher kind " + kind->get<std::string>());
  json p = {{"pushkey", pushkey},
            {"app_id", app_id},
            {"kind", "http"},
            {"app_display_name", bounded(body, "app_display_name", 255)},
            {"device_display_name", bounded(body, "device_display_name", 255)},
            {"lang", bounded(body, "lang", 8)}};
  if (auto tag = optional_string(body, "profile_tag")) {
    if (tag->size() > 32) fail(errc::invalid_param, "profile_tag is too long");
    p["profile_tag"] = *tag;
  }
  auto data = optional_object(body, "data");
  if (!data) fail(errc::missing_param, "Missing data");
  auto url = data->find("url");
  if (url == data->end() || !url->is_string()) fail(errc::missing_param, "http pushers need data.url");
  auto u = url->get<std::string>();
  // As Synapse: the gateway's notify endpoint, over http(s).
  if ((u.rfind("https://", 0) != 0 && u.rfind("http://", 0) != 0) ||
      u.find("/_matrix/push/v1/notify") == std::string::npos)
    fail(errc::invalid_param, "data.url must be an http(s) URL ending in /_matrix/push/v1/notify");
  if (auto f = data->find("format"); f != data->end() && !(f->is_string() && *f == "event_id_only"))
    fail(errc::invalid_param, "data.format must be event_id_only");
  p["data"] = *data;
  auto append = optional_bool(body, "append").value_or(false);
  req.ctx->pushers->set(req.auth().user_id, p, req.auth().device_id, append, now_ms(req));
  return {200, json::object()};
}

} // namespace

void add_pusher_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"GET", c, "/pushers", true, "client", get_pushers});
  out.push_back({"POST", c, "/pushers/set", true, "client", set_pusher});
}

} // namespace axon::client
