// actors/client/keys_handlers.cpp -- end-to-end encryption keys and the
// device_lists part of /sync. Spec: client-server API "End-to-End
// Encryption" (Key management API, tracking the device list for a user).
#include "actors/client/common.hpp"
#include "actors/federation/device_lists.hpp"
#include "actors/client/cross_signing.hpp"
#include "actors/client/keys.hpp"
#include "actors/client/routes.hpp"
#include "actors/client/sync_streams.hpp"
#include "actors/federation/federation_client.hpp"
#include "matrix/identifiers.hpp"
#include "matrix/key_upload.hpp"
#include "matrix/stream_token.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/e2e_keys_store.hpp"
#include "transport/transport.hpp"

#include <algorithm>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <set>

namespace axon::client {

using http::fail;

namespace {

// ---- helpers -------------------------------------------------------------------

std::string domain_of(const std::string& user_id) { return user_id.substr(user_id.find(':') + 1); }


/// Raises the Matrix error a refused upload names.
void check(const std::optional<matrix::upload_problem>& p) {
  if (!p) return;
  fail(p->kind == matrix::upload_problem::bad_json ? errc::bad_json : errc::invalid_param,
       p->message);
}

/// device_one_time_keys_count / one_time_key_counts from the stored counts.
json key_counts(const std::map<std::string, int64_t>& counts) {
  json out = json::object();
  // Synapse always reports signed_curve25519, which clients rely on.
  out["signed_curve25519"] = 0;
  for (auto& [alg, n] : counts) out[alg] = n;
  return out;
}

/// An events range (from, to], each room's own (its writer's entries).
struct events_range {
  const request& req;
  const std::vector<int64_t>& from;
  const std::vector<int64_t>& to;
  bool empty = false; ///< known to hold no membership change

  int64_t lo() const { return from.empty() ? 0 : from[0]; }
  int64_t hi() const { return events_top(to); }
  bool holds(const std::string& room_id, int64_t pos) const {
    return pos > room_position(req, from, room_id) && pos <= room_position(req, to, room_id);
  }
};

/// Memberships of rooms `me` is in that changed in `ev`.
std::vector<storage::e2e_keys_store::shared_membership> membership_changes(
  request& req, const std::string& me, const events_range& ev) {
  if (ev.empty || ev.lo() >= ev.hi()) return {};
  return req.ctx->e2e_keys->shared_membership_changes(me, ev.lo(), ev.hi());
}

/// Users whose device lists `me` should re-fetch: those sharing a room with
/// `me` whose devices changed in device_lists positions (dl_from, dl_to],
/// and those newly sharing a room in `changes` (their devices are news even
/// if unchanged; Synapse's "newly joined" device list changes).
std::set<std::string> changed_for(
  request& req, const std::string& me, int64_t dl_from, int64_t dl_to, const events_range& ev,
  const std::vector<storage::e2e_keys_store::shared_membership>& changes) {
  auto* store = req.ctx->e2e_keys;
  std::set<std::string> out;
  if (dl_from < dl_to) {
    auto sharing = store->users_sharing_room(me);
    std::set<std::string> share(sharing.begin(), sharing.end());
    share.insert(me);
    for (auto& u : store->changed_users(dl_from, dl_to))
      if (share.count(u)) out.insert(u);
  }
  for (auto& c : changes)
    if (c.user_id != me && c.own == "join" && c.membership == "join" &&
        (ev.holds(c.room_id, c.pos) || ev.holds(c.room_id, c.own_pos)))
      out.insert(c.user_id);
  return out;
}

/// Users who stopped sharing every room with `me` in `changes` (spec:
/// device_lists.left): they left a room `me` is in, or `me` left one they
/// are in, and share no room with `me` now.
std::set<std::string> left_for(request& req, const std::string& me, const events_range& ev,
                               const std::vector<storage::e2e_keys_store::shared_membership>& changes) {
  std::set<std::string> candidates, out;
  for (auto& c : changes)
    if ((c.own == "join" && c.membership != "join" && ev.holds(c.room_id, c.pos)) ||
        (c.own != "join" && c.membership == "join" && ev.holds(c.room_id, c.own_pos)))
      candidates.insert(c.user_id);
  if (candidates.empty()) return out;
  auto sharing = req.ctx->e2e_keys->users_sharing_room(me);
  std::set<std::string> share(sharing.begin(), sharing.end());
  for (auto& u : candidates)
    if (u != me && !share.count(u)) out.insert(u);
  return out;
}

/// How long other servers are waited for: the body's `timeout` (ms),
/// default 10 s as in Synapse, at most a minute.
int64_t remote_timeout(const json& body) {
  auto t = body.find("timeout");
  if (t == body.end() || !t->is_number_integer()) return 10000;
  return std::clamp<int64_t>(t->get<int64_t>(), 1000, 60000);
}

/// Asks each server in `queries` at once and waits for all (each within
/// `timeout_ms`): `done(server, answer)` for each, on this thread.
void ask_servers(request& req, const std::map<std::string, json>& queries, const std::string& path,
                 const char* field, int64_t timeout_ms,
                 const std::function<void(const std::string&, const federation::remote_response&)>& done) {
  std::vector<std::pair<std::string, std::future<federation::remote_response>>> waits;
  for (auto& [server, query] : queries) {
    auto answer = std::make_shared<std::promise<federation::remote_response>>();
    waits.emplace_back(server, answer->get_future());
    if (!req.ctx->federation || !req.ctx->federation->allowed(server)) {
      federation::remote_response r;
      r.error = "federation with " + server + " is not allowed";
      answer->set_value(std::move(r));
      continue;
    }
    req.ctx->federation->request_async(server, "POST", path, json{{field, query}}, true, timeout_ms,
                                       [answer](federation::remote_response r) { answer->set_value(std::move(r)); });
  }
  for (auto& [server, f] : waits) done(server, f.get());
}

/// The failure entry for a server that did not answer as it should.
json server_failure(const federation::remote_response& r) {
  if (r.status == 0) return {{"status", 503}, {"message", "Not ready for retry"}};
  return {{"status", r.status}, {"message", r.error.empty() ? "Error from the remote server" : r.error}};
}

/// Merges other servers' /user/keys/query answers into `answer`: only the
/// users asked of that server, device keys that name their user and
/// device, cross-signing keys that name their user (another server's
/// answer is not trusted further).
void add_remote_keys(request& req, const std::map<std::string, json>& remote, int64_t timeout_ms, json& answer) {
  ask_servers(req, remote, "/_matrix/federation/v1/user/keys/query", "device_keys", timeout_ms,
              [&](const std::string& server, const federation::remote_response& r) {
                if (!r.ok()) {
                  answer["failures"][server] = server_failure(r);
                  return;
                }
                auto& asked = remote.at(server);
                auto dk = r.body.value("device_keys", json::object());
                for (auto& [user, wanted] : asked.items()) {
                  json devices = json::object();
                  if (dk.is_object() && dk.contains(user) && dk[user].is_object())
                    for (auto& [device, keys] : dk[user].items()) {
                      bool asked_for = wanted.empty() || std::find(wanted.begin(), wanted.end(), device) != wanted.end();
                      if (asked_for && keys.is_object() && keys.value("user_id", json()) == json(user) &&
                          keys.value("device_id", json()) == json(device))
                        devices[device] = keys;
                    }
                  answer["device_keys"][user] = std::move(devices);
                  for (const char* kind : {"master_keys", "self_signing_keys"}) {
                    auto all = r.body.value(kind, json::object());
                    if (all.is_object() && all.contains(user) && all[user].is_object() &&
                        all[user].value("user_id", json()) == json(user))
                      answer[kind][user] = all[user];
                  }
                }
              });
}

/// Merges other servers' /user/keys/claim answers: only what was asked.
void add_remote_claims(request& req, const std::map<std::string, json>& remote, int64_t timeout_ms, json& answer) {
  ask_servers(req, remote, "/_matrix/federation/v1/user/keys/claim", "one_time_keys", timeout_ms,
              [&](const std::string& server, const federation::remote_response& r) {
                if (!r.ok()) {
                  answer["failures"][server] = server_failure(r);
                  return;
                }
                auto otk = r.body.value("one_time_keys", json::object());
                if (!otk.is_object()) return;
                for (auto& [user, devices] : remote.at(server).items()) {
                  if (!otk.contains(user) || !otk[user].is_object()) continue;
                  json mine = json::object();
                  for (auto& [device, keys] : otk[user].items())
                    if (devices.contains(device) && keys.is_object()) mine[device] = keys;
                  if (!mine.empty()) answer["one_time_keys"][user] = std::move(mine);
                }
              });
}

// ---- handlers --------------------------------------------------------------------

response upload_keys(request& req) {
  auto& body = req.json_body();
  auto& me = req.auth();
  msg::upload_keys up{me.user_id, me.device_id, "", "", ""};
  if (auto dk = body.find("device_keys"); dk != body.end() && !dk->is_null()) {
    check(matrix::check_device_keys(*dk, me.user_id, me.device_id));
    up.device_keys = dk->dump();
  }
  if (auto otk = body.find("one_time_keys"); otk != body.end() && !otk->is_null()) {
    check(matrix::check_key_map(*otk, "one_time_keys"));
    if (!otk->empty()) up.one_time_keys = otk->dump();
  }
  for (auto* name : {"fallback_keys", "org.matrix.msc2732.fallback_keys"})
    if (auto fk = body.find(name); fk != body.end() && !fk->is_null()) {
      check(matrix::check_key_map(*fk, name));
      if (!fk->empty()) up.fallback_keys = fk->dump();
    }
  if (!up.device_keys.empty() || !up.one_time_keys.empty() || !up.fallback_keys.empty()) {
    auto pos = req.ctx->transport->upload_keys(up);
    if (!up.device_keys.empty()) federation::send_device_list_update(*req.ctx, me.user_id, {me.device_id}, false, pos);
  }
  return {200, {{"one_time_key_counts",
                 key_counts(req.ctx->e2e_keys->one_time_key_counts(me.user_id, me.device_id))}}};
}

response query_keys(request& req) {
  auto& body = req.json_body();
  auto wanted = optional_object(body, "device_keys");
  if (!wanted) fail(errc::missing_param, "Missing device_keys");
  auto timeout = remote_timeout(body);
  json keys = json::object();
  std::vector<std::string> local_users;
  std::map<std::string, json> remote; // server -> its users' query
  for (auto& [user, ids] : device_keys_query(*wanted)) {
    if (!is_local_user(req, user)) {
      json list = json::array();
      for (auto& d : ids) list.push_back(d);
      remote[domain_of(user)][user] = std::move(list);
      continue;
    }
    local_users.push_back(user);
    keys[user] = local_device_keys(req, user, ids);
  }
  json answer = {{"device_keys", keys}, {"failures", json::object()}};
  add_cross_signing_to_query(req, local_users, answer["device_keys"], answer, req.auth().user_id);
  if (!remote.empty()) add_remote_keys(req, remote, timeout, answer);
  return {200, answer};
}

response claim_keys(request& req) {
  auto& body = req.json_body();
  auto wanted = optional_object(body, "one_time_keys");
  if (!wanted) fail(errc::missing_param, "Missing one_time_keys");
  auto timeout = remote_timeout(body);
  json local = json::object();
  std::map<std::string, json> remote;
  auto claims = one_time_keys_claim(*wanted);
  for (auto& [user, devices] : claims.items()) {
    if (!is_local_user(req, user)) {
      remote[domain_of(user)][user] = devices;
      continue;
    }
    if (!devices.empty()) local[user] = devices;
  }
  json claimed = json::object();
  if (!local.empty()) claimed = json::parse(req.ctx->transport->claim_keys({local.dump()}).one_time_keys);
  json answer = {{"one_time_keys", claimed}, {"failures", json::object()}};
  if (!remote.empty()) add_remote_claims(req, remote, timeout, answer);
  return {200, answer};
}

response key_changes(request& req) {
  auto from_s = req.query_param("from");
  if (!from_s) fail(errc::missing_param, "Missing from");
  auto from = matrix::parse_stream_token(*from_s);
  if (!from) fail(errc::invalid_param, "Invalid from token");
  req.ctx->transport->read_barrier(); // as /sync: what was acknowledged anywhere
  auto to = req.ctx->transport->positions();
  if (auto to_s = req.query_param("to")) {
    auto t = matrix::parse_stream_token(*to_s);
    if (!t) fail(errc::invalid_param, "Invalid to token");
    to = token_positions(req, *t);
  }
  auto since = token_positions(req, *from);
  auto dl = index(stream_id::device_lists);
  auto& me = req.auth().user_id;
  events_range ev{req, since, to};
  auto changes = membership_changes(req, me, ev);
  json changed = json::array();
  for (auto& u : changed_for(req, me, since[dl], to[dl], ev, changes)) changed.push_back(u);
  json left = json::array();
  for (auto& u : left_for(req, me, ev, changes)) left.push_back(u);
  return {200, {{"changed", changed}, {"left", left}}};
}

} // namespace

// ---- shared with the federation API ---------------------------------------------------

bool is_local_user(request& req, const std::string& user_id) {
  return matrix::parse_user_id(user_id).has_value() && domain_of(user_id) == server_name(req);
}

json local_device_keys(request& req, const std::string& user_id, const std::vector<std::string>& device_ids) {
  json out = json::object();
  for (auto& [device, text] : req.ctx->e2e_keys->device_keys(user_id, device_ids)) {
    auto k = json::parse(text);
    k.erase("unsigned");
    auto d = req.ctx->accounts->device(user_id, device);
    json unsig = json::object();
    if (d && d->display_name) unsig["device_display_name"] = *d->display_name;
    k["unsigned"] = unsig;
    out[device] = std::move(k);
  }
  return out;
}

std::vector<std::pair<std::string, std::vector<std::string>>> device_keys_query(const json& wanted) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (auto& [user, devices] : wanted.items()) {
    if (!devices.is_array() && !devices.is_null())
      fail(errc::bad_json, "device_keys values must be arrays of device ids");
    std::vector<std::string> ids;
    if (devices.is_array())
      for (auto& d : devices) {
        if (!d.is_string()) fail(errc::bad_json, "device_keys values must be arrays of device ids");
        ids.push_back(d.get<std::string>());
      }
    if (matrix::parse_user_id(user)) out.emplace_back(user, std::move(ids));
  }
  return out;
}

json one_time_keys_claim(const json& wanted) {
  json out = json::object();
  for (auto& [user, devices] : wanted.items()) {
    if (!devices.is_object()) fail(errc::bad_json, "one_time_keys values must be objects");
    for (auto& [device, alg] : devices.items())
      if (!alg.is_string()) fail(errc::bad_json, "one_time_keys must map devices to algorithms");
    if (matrix::parse_user_id(user)) out[user] = devices;
  }
  return out;
}

// ---- /sync ---------------------------------------------------------------------------

bool add_device_lists(const sync_context& c, json& out) {
  auto& me = c.req.auth();
  std::set<std::string> changed;
  json left = json::array();
  // Without a membership event in the range no one started or stopped
  // sharing a room with the user: the events range adds nothing.
  // Initial sync: nothing changed (clients query the keys they need).
  if (c.since) {
    events_range ev{c.req, *c.since, c.pos, c.memberships_moved == false};
    auto changes = membership_changes(c.req, me.user_id, ev);
    changed = changed_for(c.req, me.user_id, c.since_of(stream_id::device_lists),
                          c.pos_of(stream_id::device_lists), ev, changes);
    for (auto& u : left_for(c.req, me.user_id, ev, changes)) left.push_back(u);
  }
  json list = json::array();
  for (auto& u : changed) list.push_back(u);
  out["device_lists"] = {{"changed", list}, {"left", left}};
  auto [counts, fallback] =
    c.key_state ? *c.key_state : c.req.ctx->e2e_keys->key_state(me.user_id, me.device_id);
  out["device_one_time_keys_count"] = key_counts(counts);
  out["device_unused_fallback_key_types"] = fallback;
  return !changed.empty() || !left.empty();
}

void add_keys_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"POST", c, "/keys/upload", true, "client", upload_keys, "device_lists"});
  out.push_back({"POST", c, "/keys/query", true, "client", query_keys});
  out.push_back({"POST", c, "/keys/claim", true, "client", claim_keys});
  out.push_back({"GET", c, "/keys/changes", true, "client", key_changes});
}

} // namespace axon::client
