// actors/federation/backfill.cpp -- see backfill.hpp.
#include "actors/federation/backfill.hpp"

#include "actors/federation/federation_client.hpp"
#include "actors/federation/pdu_intake.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/identifiers.hpp"
#include "matrix/pdu_checks.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "transport/transport.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace axon::federation {

using nlohmann::json;

namespace {

/// Servers asked per backfill, and the most events taken from one answer.
constexpr size_t max_servers = 3;
constexpr size_t max_limit = 100;
/// Prev events whose state one backfill fetches (each a /state_ids).
constexpr int max_prev_states = 3;

/// The room's other servers, those with the most joined members first.
std::vector<std::string> servers_of(http::server_context& ctx, const std::string& room_id) {
  std::map<std::string, size_t> count;
  for (auto& u : ctx.rooms->joined_users(room_id)) {
    auto s = matrix::server_of(u);
    if (!s.empty() && s != ctx.cfg->server_name) ++count[s];
  }
  std::vector<std::pair<size_t, std::string>> by;
  for (auto& [s, n] : count) by.emplace_back(n, s);
  std::sort(by.begin(), by.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  std::vector<std::string> out;
  for (auto& [n, s] : by)
    if (ctx.federation->allowed(s)) out.push_back(s);
  return out;
}

} // namespace

size_t backfill_room(http::server_context& ctx, const std::string& room_id, size_t limit) {
  if (!ctx.federation) return 0;
  auto* v = room_version_of(ctx, room_id);
  if (!v) return 0;
  auto extremities = ctx.events->backward_extremities(room_id, 20);
  if (extremities.empty()) return 0;
  limit = std::clamp<size_t>(limit, 1, max_limit);
  std::string query = "?limit=" + std::to_string(limit);
  for (auto& id : extremities) query += "&v=" + escape(id);

  size_t tried = 0;
  for (auto& server : servers_of(ctx, room_id)) {
    if (++tried > max_servers) break;
    if (!acl_allows(ctx, room_id, server)) continue;
    auto r = ctx.federation->request(server, "GET", "/_matrix/federation/v1/backfill/" + escape(room_id) + query);
    if (!r.ok() || !r.body.contains("pdus") || !r.body["pdus"].is_array()) continue;
    // Steps 1-3 here; no more than asked for.
    std::vector<json> pdus;
    std::set<std::string> ids;
    for (auto& p : r.body["pdus"]) {
      if (pdus.size() >= limit) break;
      std::string why;
      auto ok = check_received_pdu(ctx, p, *v, room_id, &why);
      if (ok && ids.insert(ok->value("event_id", "")).second) pdus.push_back(std::move(*ok));
    }
    if (pdus.empty()) continue;

    // What they name: known here, among them, or to be fetched.
    std::vector<std::string> named(ids.begin(), ids.end());
    for (auto& p : pdus)
      for (auto* key : {"prev_events", "auth_events"})
        for (auto& id : event_refs(p, key)) named.push_back(id);
    std::sort(named.begin(), named.end());
    named.erase(std::unique(named.begin(), named.end()), named.end());
    auto stored = ctx.events->dag_events(named);
    auto outliers = fetch_auth_chains(ctx, server, room_id, *v, pdus, ids, stored);

    // The oldest of them name prev events this server lacks (or has only
    // as state, without the state at them): the state after each, as the
    // server has it.
    std::vector<std::string> prev_states;
    std::set<std::string> asked;
    int fetches = 0;
    for (auto& p : pdus)
      for (auto& id : event_refs(p, "prev_events")) {
        if (!asked.insert(id).second) continue;
        // Among them: its state comes from its own prev events (the writer
        // works it out), also for one this server has as join state.
        if (ids.count(id)) continue;
        auto k = stored.find(id);
        if (k != stored.end() &&
            (k->second.place == storage::event_place::timeline || k->second.place == storage::event_place::backfilled ||
             !k->second.rejected.empty() || k->second.state_group))
          continue;
        if (++fetches > max_prev_states) break;
        std::vector<json> fetched;
        auto state = remote_state_after(ctx, server, room_id, *v, id, &fetched);
        if (!state) continue;
        for (auto& e : fetched) outliers.push_back(e.dump());
        prev_states.push_back(state_entry(id, *state));
      }

    msg::send_events batch;
    batch.room_id = room_id;
    batch.origin = server;
    batch.backfill = true;
    batch.outliers = std::move(outliers);
    batch.prev_states = std::move(prev_states);
    for (auto& p : pdus) batch.pdus.push_back(p.dump());
    size_t added = 0;
    try {
      // The reply lists the events placed (known ones are not).
      added = ctx.transport->send_events(batch).event_ids.size();
    } catch (const matrix_error&) {
      continue;
    }
    if (added > 0) return added;
  }
  return 0;
}

} // namespace axon::federation
