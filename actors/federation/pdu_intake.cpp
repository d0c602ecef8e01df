// actors/federation/pdu_intake.cpp -- see pdu_intake.hpp.
#include "actors/federation/pdu_intake.hpp"

#include "actors/federation/federation_client.hpp"
#include "actors/federation/keyring.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/auth_rules.hpp"
#include "matrix/event_hash.hpp"
#include "matrix/pdu_checks.hpp"
#include "matrix/server_acl.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "transport/transport.hpp"

#include <algorithm>
#include <set>

namespace axon::federation {

using nlohmann::json;

namespace {

/// Synapse's get_missing_events limit.
constexpr int missing_events_limit = 10;
/// /event_auth requests one transaction may cause.
constexpr int max_auth_fetches = 5;

std::vector<std::string> refs(const json& ev, const char* key) {
  auto a = ev.find(key);
  if (a == ev.end() || !a->is_array()) return {};
  return matrix::referenced_event_ids(*a);
}

} // namespace

json wire_pdu(json ev, const matrix::room_version& v, int64_t now_ms) {
  if (v.format != matrix::event_format::v1) ev.erase("event_id");
  ev.erase("unsigned");
  auto ts = ev.value("origin_server_ts", int64_t{0});
  if (ts > 0 && now_ms >= ts) ev["unsigned"] = {{"age", now_ms - ts}};
  return ev;
}

std::optional<json> check_received_pdu(http::server_context& ctx, const json& pdu_in, const matrix::room_version& v,
                                       const std::string& room_id, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<json> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  if (!pdu_in.is_object()) return fail("not a JSON object");
  // `unsigned` is nobody's signed word: dropped before anything (an invite's
  // stripped state travels in the invite request, not here).
  json pdu = pdu_in;
  pdu.erase("unsigned");
  if (v.format != matrix::event_format::v1) pdu.erase("event_id");
  if (auto bad = matrix::check_pdu_format(pdu, v)) return fail(*bad);
  if (!room_id.empty() && pdu.value("room_id", "") != room_id) return fail("the event belongs to another room");
  auto keys = [&ctx](const std::string& server, const std::string& key_id, int64_t valid_at) {
    return ctx.keyring->verify_key(server, key_id, valid_at ? valid_at : 0, nullptr);
  };
  if (auto bad = matrix::check_pdu_signatures(pdu, v, keys)) return fail(*bad);
  auto checked = matrix::check_pdu_hash(pdu, v);
  auto id = matrix::compute_event_id(pdu, v);
  if (id.empty()) return fail("the event has no id");
  checked.event["event_id"] = id;
  return std::move(checked.event);
}

matrix::auth_state current_auth_state(http::server_context& ctx, const std::string& room_id) {
  matrix::auth_state state;
  for (auto& e : ctx.rooms->current_state(room_id)) state[{e.value("type", ""), e.value("state_key", "")}] = e;
  return state;
}

json checked_stripped_state(const json& given) {
  json out = json::array();
  if (!given.is_array()) return out;
  for (auto& e : given)
    if (e.is_object() && e.value("type", json()).is_string() && e.value("state_key", json()).is_string() &&
        e.value("content", json()).is_object() && out.size() < 50)
      out.push_back({{"type", e["type"]}, {"state_key", e["state_key"]}, {"content", e["content"]},
                     {"sender", e.value("sender", "")}});
  return out;
}

std::pair<json, std::map<std::pair<std::string, std::string>, json>>
event_template(http::server_context& ctx, const std::string& room_id, const matrix::room_version& v, json ev) {
  auto state = current_auth_state(ctx, room_id);
  auto c = ctx.pool->acquire();
  json prev = json::array();
  int64_t depth = 0;
  for (auto& row : c->exec("SELECT f.event_id, e.depth, e.json FROM event_forward_extremities f JOIN events e ON "
                           "e.event_id = f.event_id WHERE f.room_id = $1",
                           {room_id})
                     .rows) {
    std::string hash;
    if (v.format == matrix::event_format::v1) {
      auto e = json::parse(row.str(2), nullptr, false);
      if (e.is_object()) hash = matrix::compute_reference_hash(e, v);
    }
    prev.push_back(matrix::event_reference(row.str(0), hash, v));
    depth = std::max(depth, row.i64(1));
  }
  ev["room_id"] = room_id;
  ev["origin_server_ts"] = ctx.env->now_ms();
  ev["depth"] = depth + 1;
  ev["prev_events"] = prev;
  json auth = json::array();
  for (auto& key : matrix::auth_types_for_event(ev, v)) {
    auto i = state.find(key);
    if (i == state.end()) continue;
    auth.push_back(matrix::event_reference(
      i->second.value("event_id", ""),
      v.format == matrix::event_format::v1 ? matrix::compute_reference_hash(i->second, v) : "", v));
  }
  ev["auth_events"] = auth;
  return {std::move(ev), std::move(state)};
}

const matrix::room_version* room_version_of(http::server_context& ctx, const std::string& room_id) {
  auto room = ctx.rooms->get_room(room_id);
  return room ? matrix::find_room_version(room->room_version) : nullptr;
}

bool acl_allows(http::server_context& ctx, const std::string& room_id, const std::string& server) {
  auto acl = ctx.rooms->current_state_event(room_id, "m.room.server_acl", "");
  if (!acl) return true;
  return matrix::server_acl_allows(acl->value("content", json::object()), server);
}

std::map<std::string, std::string> take_pdus(http::request& req, const std::string& origin, const std::string& room_id,
                                             const matrix::room_version& v, std::vector<json> pdus) {
  auto& ctx = *req.ctx;
  std::map<std::string, std::string> results;
  if (pdus.empty()) return results;
  std::set<std::string> have_ids;
  for (auto& p : pdus) have_ids.insert(p.value("event_id", ""));

  // What the events name that is not among them: one read for prev and
  // auth events alike.
  std::vector<std::string> wanted, named;
  for (auto& p : pdus)
    for (auto* key : {"prev_events", "auth_events"})
      for (auto& id : refs(p, key))
        if (!have_ids.count(id)) {
          named.push_back(id);
          if (key[0] == 'p') wanted.push_back(id);
        }
  std::sort(named.begin(), named.end());
  named.erase(std::unique(named.begin(), named.end()), named.end());
  auto stored = ctx.events->dag_events(named);
  // Prev events neither here nor stored: ask the origin for what lies
  // between the room's forward extremities and these events.
  if (!wanted.empty()) {
    size_t missing = 0;
    for (auto& id : wanted) missing += stored.count(id) ? 0 : 1;
    if (missing > 0) {
      std::vector<std::string> latest;
      for (auto& p : pdus) latest.push_back(p.value("event_id", ""));
      json earliest = json::array();
      auto c = ctx.pool->acquire();
      for (auto& row : c->exec("SELECT event_id FROM event_forward_extremities WHERE room_id = $1", {room_id}).rows)
        earliest.push_back(row.str(0));
      int64_t min_depth = 0;
      for (auto& p : pdus) {
        auto d = p.value("depth", int64_t{0});
        min_depth = min_depth == 0 ? d : std::min(min_depth, d);
      }
      auto r = ctx.federation->request(origin, "POST", "/_matrix/federation/v1/get_missing_events/" + escape(room_id),
                                       {{"earliest_events", earliest},
                                        {"latest_events", latest},
                                        {"limit", missing_events_limit},
                                        {"min_depth", std::max<int64_t>(0, min_depth - missing_events_limit)}});
      if (r.ok() && r.body.contains("events") && r.body["events"].is_array()) {
        std::vector<json> got;
        size_t looked = 0;
        for (auto& e : r.body["events"]) {
          // No more than asked for: a server sending more costs us nothing.
          if (++looked > static_cast<size_t>(missing_events_limit)) break;
          std::string why;
          if (auto ok = check_received_pdu(ctx, e, v, room_id, &why))
            if (!have_ids.count(ok->value("event_id", ""))) {
              have_ids.insert(ok->value("event_id", ""));
              got.push_back(std::move(*ok));
            }
        }
        pdus.insert(pdus.begin(), got.begin(), got.end());
      }
    }
  }
  // Oldest first: each event's prev events before it.
  std::stable_sort(pdus.begin(), pdus.end(), [](const json& a, const json& b) {
    return a.value("depth", int64_t{0}) < b.value("depth", int64_t{0});
  });

  // Auth events not stored: the origin's auth chain for each such event.
  std::vector<std::string> auth_wanted;
  for (auto& p : pdus)
    for (auto& a : refs(p, "auth_events"))
      if (!have_ids.count(a)) auth_wanted.push_back(a);
  std::vector<std::string> outliers;
  if (!auth_wanted.empty()) {
    auto& known = stored;
    std::set<std::string> fetched;
    int asked = 0;
    for (auto& p : pdus) {
      bool missing = false;
      for (auto& a : refs(p, "auth_events"))
        if (!have_ids.count(a) && !known.count(a) && !fetched.count(a)) missing = true;
      if (!missing) continue;
      // A few auth chains per transaction; events still lacking theirs
      // are refused (missing auth events) and may come again.
      if (++asked > max_auth_fetches) break;
      auto id = p.value("event_id", "");
      auto r = ctx.federation->request(origin, "GET", "/_matrix/federation/v1/event_auth/" + escape(room_id) + "/" +
                                                        escape(id));
      if (!r.ok() || !r.body.contains("auth_chain") || !r.body["auth_chain"].is_array()) continue;
      for (auto& e : r.body["auth_chain"]) {
        std::string why;
        auto ok = check_received_pdu(ctx, e, v, room_id, &why);
        if (!ok || !fetched.insert(ok->value("event_id", "")).second) continue;
        outliers.push_back(ok->dump());
      }
    }
  }

  msg::send_events batch;
  batch.room_id = room_id;
  batch.origin = origin;
  batch.outliers = std::move(outliers);
  for (auto& p : pdus) batch.pdus.push_back(p.dump());
  try {
    auto reply = ctx.transport->send_events(batch);
    for (size_t i = 0; i < pdus.size() && i < reply.pdu_errors.size(); ++i)
      results[pdus[i].value("event_id", "")] = reply.pdu_errors[i];
  } catch (const matrix_error& e) {
    for (auto& p : pdus) results[p.value("event_id", "")] = e.what();
  }
  return results;
}

} // namespace axon::federation
