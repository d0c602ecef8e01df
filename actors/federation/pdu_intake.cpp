// actors/federation/pdu_intake.cpp -- see pdu_intake.hpp.
#include "actors/federation/pdu_intake.hpp"

#include "actors/federation/federation_client.hpp"
#include "actors/federation/keyring.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/auth_rules.hpp"
#include "matrix/event_hash.hpp"
#include "matrix/identifiers.hpp"
#include "matrix/pdu_checks.hpp"
#include "matrix/server_acl.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "transport/transport.hpp"

#include <algorithm>
#include <mutex>
#include <set>
#include <unordered_map>

namespace axon::federation {

using nlohmann::json;

namespace {

/// Synapse's get_missing_events limit.
constexpr int missing_events_limit = 10;
/// /event_auth requests one transaction may cause.
constexpr int max_auth_fetches = 5;
/// Gaps one transaction may fill with /state_ids.
constexpr int max_gap_states = 3;
/// Entries of a /state_ids answer we take (a room's state and auth chain).
constexpr size_t max_state_ids = 200000;
/// Unknown events of a state fetched one by one (/event); beyond, /state.
constexpr size_t max_single_fetches = 20;
/// Room versions kept in memory (room_version_of); beyond, they start over.
constexpr size_t max_known_room_versions = 100000;

} // namespace

std::vector<std::string> event_refs(const json& ev, const char* key) {
  auto a = ev.find(key);
  if (a == ev.end() || !a->is_array()) return {};
  return matrix::referenced_event_ids(*a);
}

bool server_in_room(http::server_context& ctx, const std::string& room_id, const std::string& server) {
  for (auto& u : ctx.rooms->joined_users(room_id))
    if (matrix::server_of(u) == server) return true;
  return false;
}

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
  std::string signed_bytes;
  if (auto bad = matrix::check_pdu_signatures(pdu, v, keys, &signed_bytes)) return fail(*bad);
  auto checked = matrix::check_pdu_hash(pdu, v);
  auto id = matrix::event_id_from_reference_bytes(pdu, signed_bytes, v);
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
  // A room's version is its create event's and never changes: a known one
  // is kept for the process (a room this server doesn't have is asked for
  // each time). Every transaction asked for it before.
  static std::mutex mu;
  static std::unordered_map<std::string, const matrix::room_version*> known;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto i = known.find(room_id); i != known.end()) return i->second;
  }
  auto room = ctx.rooms->get_room(room_id);
  auto* v = room ? matrix::find_room_version(room->room_version) : nullptr;
  if (v) {
    std::lock_guard<std::mutex> lock(mu);
    if (known.size() >= max_known_room_versions) known.clear();
    known.emplace(room_id, v);
  }
  return v;
}

bool acl_allows(http::server_context& ctx, const std::string& room_id, const std::string& server) {
  auto acl = ctx.rooms->current_state_event(room_id, "m.room.server_acl", "");
  if (!acl) return true;
  return matrix::server_acl_allows(acl->value("content", json::object()), server);
}

std::vector<std::string> fetch_auth_chains(http::server_context& ctx, const std::string& origin,
                                           const std::string& room_id, const matrix::room_version& v,
                                           const std::vector<json>& pdus, const std::set<std::string>& have_ids,
                                           const std::map<std::string, storage::events_store::dag_event>& known) {
  std::vector<std::string> outliers;
  std::set<std::string> fetched;
  int asked = 0;
  for (auto& p : pdus) {
    bool missing = false;
    for (auto& a : event_refs(p, "auth_events"))
      if (!have_ids.count(a) && !known.count(a) && !fetched.count(a)) missing = true;
    if (!missing) continue;
    // A few auth chains per request; events still lacking theirs are
    // refused (missing auth events) and may come again.
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
  return outliers;
}

namespace {

/// The ids of a /state_ids answer's `key`, nullopt unless an array of
/// strings of a sane size.
std::optional<std::vector<std::string>> id_list(const json& body, const char* key) {
  auto a = body.find(key);
  if (a == body.end() || !a->is_array() || a->size() > max_state_ids) return std::nullopt;
  std::vector<std::string> out;
  for (auto& id : *a) {
    if (!id.is_string()) return std::nullopt;
    out.push_back(id.get<std::string>());
  }
  return out;
}

} // namespace

std::optional<std::map<std::pair<std::string, std::string>, std::string>>
remote_state_after(http::server_context& ctx, const std::string& origin, const std::string& room_id,
                   const matrix::room_version& v, const std::string& event_id, std::vector<json>* fetched) {
  auto base = "/_matrix/federation/v1/";
  auto r = ctx.federation->request(origin, "GET", base + std::string("state_ids/") + escape(room_id) +
                                                    "?event_id=" + escape(event_id));
  if (!r.ok() || !r.body.is_object()) return std::nullopt;
  auto state_ids = id_list(r.body, "pdu_ids");
  auto chain_ids = id_list(r.body, "auth_chain_ids");
  if (!state_ids || !chain_ids) return std::nullopt;
  // The event itself: its own key is in the state after it (asked for
  // only when this server lacks it).
  std::optional<json> self;
  bool have_self = false;
  for (auto& [id, d] : ctx.events->dag_events({event_id}))
    if (d.rejected.empty() && d.json.is_object()) {
      self = d.json;
      have_self = true;
    }
  if (!self) {
    auto e = ctx.federation->request(origin, "GET", base + std::string("event/") + escape(event_id));
    if (!e.ok() || !e.body.contains("pdus") || !e.body["pdus"].is_array() || e.body["pdus"].size() != 1)
      return std::nullopt;
    std::string why;
    self = check_received_pdu(ctx, e.body["pdus"][0], v, room_id, &why);
    if (!self || self->value("event_id", "") != event_id) return std::nullopt;
  }

  std::vector<std::string> all = *state_ids;
  all.insert(all.end(), chain_ids->begin(), chain_ids->end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  std::map<std::string, json> events; // what the state's entries are
  for (size_t at = 0; at < all.size(); at += 500) {
    std::vector<std::string> part(all.begin() + at, all.begin() + std::min(all.size(), at + 500));
    for (auto& [id, d] : ctx.events->dag_events(part))
      if (d.rejected.empty() && d.json.is_object()) events.emplace(id, d.json);
  }
  std::vector<std::string> unknown;
  for (auto& id : all)
    if (!events.count(id)) unknown.push_back(id);
  auto take = [&](const json& pdu) {
    std::string bad;
    auto ok = check_received_pdu(ctx, pdu, v, room_id, &bad);
    if (!ok) return;
    auto id = ok->value("event_id", "");
    if (events.count(id) || !std::binary_search(all.begin(), all.end(), id)) return;
    events.emplace(id, *ok);
    fetched->push_back(std::move(*ok));
  };
  if (unknown.size() <= max_single_fetches) {
    for (auto& id : unknown) {
      auto one = ctx.federation->request(origin, "GET", base + std::string("event/") + escape(id));
      if (one.ok() && one.body.contains("pdus") && one.body["pdus"].is_array() && one.body["pdus"].size() == 1)
        take(one.body["pdus"][0]);
    }
  } else {
    // Many: the whole state and auth chain at once.
    auto full = ctx.federation->request(origin, "GET", base + std::string("state/") + escape(room_id) +
                                                       "?event_id=" + escape(event_id));
    if (!full.ok() || !full.body.is_object()) return std::nullopt;
    for (auto* key : {"pdus", "auth_chain"})
      if (full.body.contains(key) && full.body[key].is_array())
        for (auto& pdu : full.body[key]) take(pdu);
  }
  std::map<std::pair<std::string, std::string>, std::string> out;
  for (auto& id : *state_ids) {
    auto i = events.find(id);
    if (i == events.end() || !i->second.value("state_key", json()).is_string()) return std::nullopt; // incomplete
    out[{i->second.value("type", ""), i->second["state_key"].get<std::string>()}] = id;
  }
  if (self->value("state_key", json()).is_string()) {
    out[{self->value("type", ""), (*self)["state_key"].get<std::string>()}] = event_id;
  }
  if (!have_self && !events.count(event_id)) fetched->push_back(*self);
  return out;
}

std::string state_entry(const std::string& event_id,
                        const std::map<std::pair<std::string, std::string>, std::string>& state) {
  json rows = json::array();
  for (auto& [k, id] : state) rows.push_back({k.first, k.second, id});
  return json{{"event_id", event_id}, {"state", rows}}.dump();
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
      for (auto& id : event_refs(p, key))
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
  auto outliers = fetch_auth_chains(ctx, origin, room_id, v, pdus, have_ids, stored);
  // Prev events still missing (a gap /get_missing_events did not fill):
  // the state after each, as the origin has it.
  std::vector<std::string> prev_states;
  if (!wanted.empty()) {
    std::set<std::string> all_ids;
    for (auto& p : pdus) all_ids.insert(p.value("event_id", ""));
    std::vector<std::string> gaps;
    for (auto& id : wanted)
      if (!all_ids.count(id) && !stored.count(id) && std::find(gaps.begin(), gaps.end(), id) == gaps.end())
        gaps.push_back(id);
    int asked = 0;
    for (auto& id : gaps) {
      if (++asked > max_gap_states) break;
      std::vector<json> fetched;
      auto state = remote_state_after(ctx, origin, room_id, v, id, &fetched);
      if (!state) continue;
      for (auto& e : fetched) outliers.push_back(e.dump());
      prev_states.push_back(state_entry(id, *state));
    }
  }

  msg::send_events batch;
  batch.room_id = room_id;
  batch.origin = origin;
  batch.outliers = std::move(outliers);
  batch.prev_states = std::move(prev_states);
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
