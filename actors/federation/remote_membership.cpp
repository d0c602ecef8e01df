// actors/federation/remote_membership.cpp -- see remote_membership.hpp.
#include "actors/federation/remote_membership.hpp"

#include "actors/federation/federation_client.hpp"
#include "actors/federation/pdu_intake.hpp"
#include "actors/federation/keyring.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/auth_rules.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "matrix/event_hash.hpp"
#include "matrix/identifiers.hpp"
#include "matrix/room_version.hpp"
#include "transport/transport.hpp"

#include <algorithm>

namespace axon::federation {

using nlohmann::json;

namespace {

/// ver=1&ver=2...: every room version this server can join.
std::string version_query() {
  std::string q;
  for (auto* v = matrix::supported_room_versions(); *v; ++v) q += (q.empty() ? "ver=" : "&ver=") + escape(*v);
  return q;
}

/// Whether a make_join/make_leave template is for `user_id`'s membership
/// in `room_id`.
bool template_fits(const json& tmpl, const std::string& room_id, const std::string& user_id) {
  return tmpl.value("type", "") == "m.room.member" && tmpl.value("state_key", "") == user_id &&
         tmpl.value("sender", "") == user_id && tmpl.value("room_id", "") == room_id;
}

/// The resident's template completed here with `content`: our origin and
/// time, hashed and signed (v1/v2: an event id of ours first). Returns the
/// event id.
std::string complete_template(http::server_context& ctx, json& ev, const json& content, const matrix::room_version& v) {
  auto& me = ctx.cfg->server_name;
  for (auto k : {"signatures", "hashes", "unsigned", "event_id"}) ev.erase(k);
  ev["content"] = content;
  ev["origin"] = me;
  ev["origin_server_ts"] = ctx.env->now_ms();
  if (v.format == matrix::event_format::v1) ev["event_id"] = "$" + matrix::random_string(18, *ctx.env) + ":" + me;
  return matrix::hash_sign_and_id(ev, me, *ctx.key, v);
}

/// The template and room version of a make_join / make_leave /
/// make_knock answer, when it is one (a known version, an event object).
std::optional<std::pair<const matrix::room_version*, json>> template_of(const remote_response& r) {
  if (!r.ok() || !r.body.contains("event") || !r.body["event"].is_object()) return std::nullopt;
  auto* v = matrix::find_room_version(r.body.value("room_version", "1"));
  if (!v) return std::nullopt;
  return std::make_pair(v, r.body["event"]);
}

/// Hands `ev` (checked) to the room's events writer as an out-of-band
/// membership of a room this server is not in.
void keep_out_of_band(http::server_context& ctx, const std::string& room_id, const std::string& origin,
                      const json& ev) {
  msg::send_events batch;
  batch.room_id = room_id;
  batch.origin = origin;
  batch.join_state.push_back(ev.dump());
  ctx.transport->send_events(batch);
}

} // namespace

void join_remote_room(http::request& req, const std::string& room_id, std::vector<std::string> servers,
                      const std::string& user_id, json content) {
  auto& ctx = *req.ctx;
  auto& fc = *ctx.federation;
  auto& me = ctx.cfg->server_name;
  std::vector<std::string> targets;
  for (auto& s : servers)
    if (s != me && fc.allowed(s) && std::find(targets.begin(), targets.end(), s) == targets.end()) targets.push_back(s);
  if (targets.empty()) http::fail(errc::not_found, "No known servers");

  // make_join: the first server that gives a template.
  remote_response last;
  std::string resident;
  json tmpl;
  const matrix::room_version* v = nullptr;
  for (auto& s : targets) {
    auto r = fc.request(s, "GET", "/_matrix/federation/v1/make_join/" + escape(room_id) + "/" + escape(user_id) + "?" +
                                    version_query());
    if (r.ok() && r.body.contains("event") && r.body["event"].is_object()) {
      v = matrix::find_room_version(r.body.value("room_version", "1"));
      if (!v) {
        r.status = 400;
        r.body = {{"errcode", "M_INCOMPATIBLE_ROOM_VERSION"}, {"error", "Unknown room version"}};
        last = r;
        continue;
      }
      tmpl = r.body["event"];
      resident = s;
      break;
    }
    last = r;
  }
  if (resident.empty()) {
    if (last.errcode() == "M_INCOMPATIBLE_ROOM_VERSION")
      http::fail(errc::incompatible_room_version, "This server does not support the room's version");
    body_or_fail(last, "Failed to join the room");
  }
  if (!template_fits(tmpl, room_id, user_id))
    http::fail(errc::bad_gateway, "Failed to join the room: " + resident + " gave a wrong join event");

  // The join event, completed and signed here.
  json ev = tmpl;
  auto given = tmpl.value("content", json::object());
  if (given.is_object() && given.contains("join_authorised_via_users_server"))
    content["join_authorised_via_users_server"] = given["join_authorised_via_users_server"];
  content["membership"] = "join";
  auto event_id = complete_template(ctx, ev, content, *v);

  auto path = "/send_join/" + escape(room_id) + "/" + escape(event_id);
  auto r = fc.request(resident, "PUT", "/_matrix/federation/v2" + path + "?omit_members=false", ev);
  json answer;
  if (r.status == 404 || (r.status == 400 && r.errcode() == "M_UNRECOGNIZED")) {
    r = fc.request(resident, "PUT", "/_matrix/federation/v1" + path, ev);
    if (r.status == 200 && r.body.is_array() && r.body.size() == 2 && r.body[1].is_object()) {
      r.body = r.body[1];
    }
  }
  answer = body_or_fail(r, "Failed to join the room");
  // A restricted join comes back with the resident's signature added.
  json join = ev;
  if (answer.contains("event") && answer["event"].is_object() &&
      matrix::compute_event_id(answer["event"], *v) == event_id)
    join = answer["event"];
  std::string why;
  auto checked_join = check_received_pdu(ctx, join, *v, room_id, &why);
  if (!checked_join) http::fail(errc::bad_gateway, "Failed to join the room: the join event came back broken: " + why);

  msg::send_events batch;
  batch.room_id = room_id;
  batch.room_version = v->id;
  batch.new_room = true;
  batch.origin = resident;
  auto take = [&](const char* key, std::vector<std::string>& out) {
    auto list = answer.value(key, json::array());
    if (!list.is_array()) return;
    for (auto& e : list) {
      std::string bad;
      // What fails steps 1-3 is dropped, as Synapse drops it.
      if (auto ok = check_received_pdu(ctx, e, *v, room_id, &bad)) out.push_back(ok->dump());
    }
  };
  take("state", batch.join_state);
  take("auth_chain", batch.outliers);
  batch.pdus.push_back(checked_join->dump());
  ctx.transport->send_events(batch);
}

void invite_remote_user(http::request& req, const std::string& room_id, const std::string& target, json content) {
  auto& ctx = *req.ctx;
  auto& me = ctx.cfg->server_name;
  auto server = matrix::server_of(target);
  ctx.federation->require_allowed(server);
  auto* v = room_version_of(ctx, room_id);
  if (!v) http::fail(errc::not_found, "Unknown room " + room_id);
  auto& sender = req.auth().user_id;
  content["membership"] = "invite";
  auto [ev, state] = event_template(ctx, room_id, *v,
                                    {{"type", "m.room.member"},
                                     {"sender", sender},
                                     {"state_key", target},
                                     {"content", content},
                                     {"origin", me}});
  if (auto why = matrix::check_auth(ev, state, *v)) http::fail(errc::forbidden, *why);
  if (v->format == matrix::event_format::v1) ev["event_id"] = "$" + matrix::random_string(18, *ctx.env) + ":" + me;
  auto event_id = matrix::hash_sign_and_id(ev, me, *ctx.key, *v);
  auto path = "/invite/" + escape(room_id) + "/" + escape(event_id);
  auto r = ctx.federation->request(
    server, "PUT", "/_matrix/federation/v2" + path,
    {{"room_version", v->id}, {"event", ev}, {"invite_room_state", stripped_state(state, sender)}});
  if ((r.status == 404 || r.errcode() == "M_UNRECOGNIZED") && v->format == matrix::event_format::v1) {
    json body = ev;
    body["unsigned"] = {{"invite_room_state", stripped_state(state, sender)}};
    r = ctx.federation->request(server, "PUT", "/_matrix/federation/v1" + path, body);
    if (r.status == 200 && r.body.is_array() && r.body.size() == 2) r.body = r.body[1];
  }
  auto& answer = body_or_fail(r, "The invitee's server did not take the invite");
  auto back = answer.value("event", json());
  std::string why;
  auto checked = back.is_object() ? check_received_pdu(ctx, back, *v, room_id, &why) : std::nullopt;
  if (!checked || checked->value("event_id", "") != event_id)
    http::fail(errc::bad_gateway, "The invitee's server sent back another event" + (why.empty() ? "" : ": " + why));
  // The invitee's server must have signed it.
  bool signed_by_them = false;
  auto sigs = checked->value("signatures", json::object()).value(server, json::object());
  for (auto& [key_id, sig] : sigs.items()) {
    auto pub = ctx.keyring->verify_key(server, key_id, 0, nullptr);
    json plain = *checked;
    if (v->format != matrix::event_format::v1) plain.erase("event_id");
    if (pub && matrix::verify_event_signature(plain, server, key_id, *pub, *v)) signed_by_them = true;
  }
  if (!signed_by_them) http::fail(errc::bad_gateway, "The invitee's server did not sign the invite");
  msg::send_events batch;
  batch.room_id = room_id;
  batch.origin = me;
  batch.relay = true;
  batch.pdus.push_back(checked->dump());
  auto reply = ctx.transport->send_events(batch);
  if (reply.pdu_errors.empty() || !reply.pdu_errors[0].empty())
    http::fail(errc::forbidden, reply.pdu_errors.empty() ? "The invite was not accepted" : reply.pdu_errors[0]);
}

void knock_remote_room(http::request& req, const std::string& room_id, std::vector<std::string> servers,
                       const std::string& user_id, json content) {
  auto& ctx = *req.ctx;
  auto& fc = *ctx.federation;
  auto& me = ctx.cfg->server_name;
  content["membership"] = "knock";
  remote_response last;
  bool asked = false;
  for (auto& s : servers) {
    if (s == me || !fc.allowed(s)) continue;
    asked = true;
    auto r = fc.request(s, "GET", "/_matrix/federation/v1/make_knock/" + escape(room_id) + "/" + escape(user_id) + "?" +
                                    version_query());
    auto made = template_of(r);
    if (!made) {
      last = r;
      continue;
    }
    auto [v, ev] = std::move(*made);
    if (!v->knock || !template_fits(ev, room_id, user_id)) continue;
    auto event_id = complete_template(ctx, ev, content, *v);
    auto sent = fc.request(s, "PUT", "/_matrix/federation/v1/send_knock/" + escape(room_id) + "/" + escape(event_id), ev);
    auto& answer = body_or_fail(sent, "The room's server did not take the knock");
    std::string why;
    auto checked = check_received_pdu(ctx, ev, *v, room_id, &why);
    if (!checked) http::fail(errc::unknown, "The knock could not be kept: " + why);
    // What the resident says of the room: the spec's name, or Synapse's
    // (before 1.8x, MSC2403's) knock_state_events.
    auto given = answer.value("knock_room_state", answer.value("knock_state_events", json::array()));
    (*checked)["unsigned"] = {{"knock_room_state", checked_stripped_state(given)}};
    keep_out_of_band(ctx, room_id, s, *checked);
    return;
  }
  if (!asked) http::fail(errc::not_found, "No known servers");
  body_or_fail(last, "Failed to knock on the room");
  http::fail(errc::bad_gateway, "Failed to knock on the room: no server gave a knock event");
}

void leave_remote_room(http::request& req, const std::string& room_id, std::vector<std::string> servers,
                       const std::string& user_id, json content) {
  auto& ctx = *req.ctx;
  auto& fc = *ctx.federation;
  auto& me = ctx.cfg->server_name;
  content["membership"] = "leave";
  for (auto& s : servers) {
    if (s == me || !fc.allowed(s)) continue;
    auto r = fc.request(s, "GET", "/_matrix/federation/v1/make_leave/" + escape(room_id) + "/" + escape(user_id));
    auto made = template_of(r);
    if (!made) continue;
    auto [v, ev] = std::move(*made);
    if (!template_fits(ev, room_id, user_id)) continue;
    auto event_id = complete_template(ctx, ev, content, *v);
    auto path = "/send_leave/" + escape(room_id) + "/" + escape(event_id);
    auto sent = fc.request(s, "PUT", "/_matrix/federation/v2" + path, ev);
    if (sent.status == 404 || sent.errcode() == "M_UNRECOGNIZED")
      sent = fc.request(s, "PUT", "/_matrix/federation/v1" + path, ev);
    if (sent.status != 200) continue;
    std::string why;
    auto checked = check_received_pdu(ctx, ev, *v, room_id, &why);
    if (!checked) continue;
    keep_out_of_band(ctx, room_id, s, *checked);
    return;
  }
  // Nobody answered: the leave is made here alone, after the membership it
  // replaces.
  auto m = ctx.rooms->membership(user_id, room_id);
  if (!m) http::fail(errc::forbidden, "User " + user_id + " not in room " + room_id);
  auto prior = ctx.events->dag_events({m->event_id});
  auto i = prior.find(m->event_id);
  auto* v = matrix::find_room_version("10");
  int64_t depth = 1;
  json refs = json::array();
  if (i != prior.end()) {
    depth = i->second.json.value("depth", int64_t{0}) + 1;
    // The prior membership's room version is not known here; its id format
    // tells: "$opaque:server" is v1/v2, else v3+ (v4+ URL-safe ids alike).
    if (m->event_id.find(':') != std::string::npos) v = matrix::find_room_version("1");
    refs.push_back(matrix::event_reference(
      m->event_id, v->format == matrix::event_format::v1 ? matrix::compute_reference_hash(i->second.json, *v) : "",
      *v));
  }
  json ev = {{"type", "m.room.member"},  {"room_id", room_id}, {"sender", user_id},   {"state_key", user_id},
             {"content", content},        {"origin", me},      {"depth", depth},      {"prev_events", refs},
             {"auth_events", refs},       {"origin_server_ts", ctx.env->now_ms()}};
  if (v->format == matrix::event_format::v1) ev["event_id"] = "$" + matrix::random_string(18, *ctx.env) + ":" + me;
  auto event_id = matrix::hash_sign_and_id(ev, me, *ctx.key, *v);
  ev["event_id"] = event_id;
  ev["unsigned"] = {{"out_of_band_membership", true}};
  keep_out_of_band(ctx, room_id, me, ev);
}

} // namespace axon::federation
