#include "storage/stores/events_store.hpp"

#include <algorithm>
#include <stdexcept>
#include <map>
#include <set>
#include <tuple>

namespace axon::storage {

using nlohmann::json;

std::optional<stored_event> events_store::get_event(const std::string& event_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT stream_ordering, json FROM events WHERE event_id = $1", {event_id});
  if (r.empty()) return std::nullopt;
  return stored_event{r.rows[0].i64(0), json::parse(r.rows[0].str(1))};
}

std::map<std::string, events_store::dag_event>
events_store::dag_events(const std::vector<std::string>& ids) {
  std::map<std::string, dag_event> out;
  if (ids.empty()) return out;
  sql_params params(ids.begin(), ids.end());
  auto c = pool_.acquire();
  auto r = c->exec("SELECT event_id, json, outlier, stream_ordering, state_group FROM events WHERE "
                   "event_id IN (" + placeholders(1, ids.size()) + ")",
                   params);
  for (auto& row : r.rows) {
    dag_event e;
    e.json = json::parse(row.str(1), nullptr, false);
    e.stream_ordering = row.i64(3);
    e.place = row.i64(2) == 1       ? event_place::join_state
              : e.stream_ordering < 0 ? event_place::backfilled
                                      : event_place::timeline;
    e.state_group = row.i64_or(4, 0);
    out.emplace(row.str(0), std::move(e));
  }
  if (out.size() == ids.size()) return out;
  auto o = c->exec("SELECT event_id, json, rejected, soft_failed, state_group FROM event_outliers "
                   "WHERE event_id IN (" + placeholders(1, ids.size()) + ")",
                   params);
  for (auto& row : o.rows) {
    dag_event e;
    e.json = json::parse(row.str(1), nullptr, false);
    e.place = event_place::outlier;
    e.rejected = row.str_or(2, "");
    e.soft_failed = row.i64(3) != 0;
    e.state_group = row.i64_or(4, 0);
    out.emplace(row.str(0), std::move(e));
  }
  return out;
}

std::map<std::pair<std::string, std::string>, std::string> events_store::group_state(int64_t group) {
  auto c = pool_.acquire();
  // The chain of deltas, nearest first; a key's nearest entry wins.
  auto r = c->exec("WITH RECURSIVE chain(g, n) AS (SELECT CAST($1 AS BIGINT), 0 UNION ALL SELECT "
                   "e.prev_state_group, c.n + 1 FROM state_group_edges e JOIN chain c ON "
                   "e.state_group = c.g) SELECT s.type, s.state_key, s.event_id FROM chain c JOIN "
                   "state_groups_state s ON s.state_group = c.g ORDER BY c.n DESC",
                   {group});
  std::map<std::pair<std::string, std::string>, std::string> out;
  for (auto& row : r.rows) out[{row.str(0), row.str(1)}] = row.str(2);
  return out;
}

std::map<std::pair<std::string, std::string>, std::string>
events_store::group_state(int64_t group, const std::vector<std::pair<std::string, std::string>>& keys) {
  std::map<std::pair<std::string, std::string>, std::string> out;
  if (keys.empty()) return out;
  sql_params params{group};
  std::string which;
  for (auto& [type, key] : keys) {
    if (!which.empty()) which += " OR ";
    which += "(s.type = $" + std::to_string(params.size() + 1) + " AND s.state_key = $" +
             std::to_string(params.size() + 2) + ")";
    params.push_back(type);
    params.push_back(key);
  }
  auto c = pool_.acquire();
  auto r = c->exec("WITH RECURSIVE chain(g, n) AS (SELECT CAST($1 AS BIGINT), 0 UNION ALL SELECT "
                   "e.prev_state_group, c.n + 1 FROM state_group_edges e JOIN chain c ON "
                   "e.state_group = c.g) SELECT s.type, s.state_key, s.event_id FROM chain c JOIN "
                   "state_groups_state s ON s.state_group = c.g WHERE " + which + " ORDER BY c.n DESC",
                   params);
  for (auto& row : r.rows) out[{row.str(0), row.str(1)}] = row.str(2);
  return out;
}

std::vector<std::string> events_store::backward_extremities(const std::string& room_id, size_t limit) {
  auto c = pool_.acquire();
  // The oldest timeline events name them; whatever they name that is not
  // in the timeline is where backfilling goes on.
  auto r = c->exec("SELECT event_id, json FROM events WHERE room_id = $1 AND timeline_ordering IS NOT NULL "
                   "ORDER BY timeline_ordering ASC LIMIT 50",
                   {room_id});
  std::set<std::string> here;
  std::vector<std::string> named;
  for (auto& row : r.rows) {
    here.insert(row.str(0));
    auto ev = json::parse(row.str(1), nullptr, false);
    auto prevs = ev.is_object() ? ev.find("prev_events") : ev.end();
    if (!ev.is_object() || prevs == ev.end() || !prevs->is_array()) continue;
    for (auto& ref : *prevs) {
      const json& id = ref.is_array() && !ref.empty() ? ref[0] : ref;
      if (id.is_string()) named.push_back(id.get<std::string>());
    }
  }
  std::vector<std::string> want;
  for (auto& id : named)
    if (!here.count(id) && std::find(want.begin(), want.end(), id) == want.end()) want.push_back(id);
  if (want.empty()) return want;
  auto known = dag_events(want);
  std::vector<std::string> out;
  for (auto& id : want) {
    auto k = known.find(id);
    // In the timeline, or join state given its place there (its group).
    if (k != known.end() && (k->second.place == event_place::timeline || k->second.place == event_place::backfilled ||
                             (k->second.place == event_place::join_state && k->second.state_group) ||
                             !k->second.rejected.empty()))
      continue;
    out.push_back(id);
    if (out.size() >= limit) break;
  }
  return out;
}

std::vector<int64_t> events_store::allocate_backfill_positions(size_t n) {
  auto c = pool_.acquire();
  auto last = c->exec("UPDATE events_backfill_seq SET last_value = last_value - $1 RETURNING last_value",
                      {static_cast<int64_t>(n)})
                .rows.at(0)
                .i64(0);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) out.push_back(last + i);
  return out;
}

std::vector<events_store::pending_redaction> events_store::pending_redactions(const std::vector<std::string>& ids) {
  std::vector<pending_redaction> out;
  if (ids.empty()) return out;
  sql_params params(ids.begin(), ids.end());
  auto c = pool_.acquire();
  auto r = c->exec("SELECT p.redacts, p.by_power, e.json, e.stream_ordering FROM pending_redactions p JOIN events e ON e.event_id = "
                   "p.event_id WHERE p.redacts IN (" + placeholders(1, ids.size()) + ")",
                   params);
  for (auto& row : r.rows) {
    pending_redaction p;
    p.redacts = row.str(0);
    p.by_power = row.i64(1) != 0;
    p.redaction = json::parse(row.str(2), nullptr, false);
    p.position = row.i64(3);
    if (p.redaction.is_object()) out.push_back(std::move(p));
  }
  return out;
}

std::optional<std::map<std::pair<std::string, std::string>, std::string>>
events_store::state_after(const std::string& event_id) {
  auto found = dag_events({event_id});
  auto i = found.find(event_id);
  if (i == found.end()) return std::nullopt;
  if (i->second.state_group) return group_state(i->second.state_group);
  if (i->second.place != event_place::timeline) return std::nullopt; // backfilled ones have groups
  // Stored before state groups: the room was linear up to it.
  std::map<std::pair<std::string, std::string>, std::string> out;
  for (auto& ev : state_at(i->second.json.value("room_id", ""), i->second.stream_ordering))
    out[{ev.value("type", ""), ev.value("state_key", "")}] = ev.value("event_id", "");
  return out;
}

std::vector<stored_event> events_store::events_near_time(const std::string& room_id, int64_t ts, bool forward,
                                                        size_t limit) {
  auto c = pool_.acquire();
  auto sql = forward ? "SELECT stream_ordering, json FROM events WHERE room_id = $1 AND origin_server_ts >= $2 AND "
                       "outlier = 0 ORDER BY origin_server_ts ASC, stream_ordering ASC LIMIT $3"
                     : "SELECT stream_ordering, json FROM events WHERE room_id = $1 AND origin_server_ts <= $2 AND "
                       "outlier = 0 ORDER BY origin_server_ts DESC, stream_ordering DESC LIMIT $3";
  auto r = c->exec(sql, {room_id, ts, static_cast<int64_t>(limit)});
  std::vector<stored_event> out;
  for (auto& row : r.rows) out.push_back({row.i64(0), json::parse(row.str(1))});
  return out;
}

std::optional<std::map<std::pair<std::string, std::string>, std::string>>
events_store::state_before(const json& ev) {
  auto state = state_after(ev.value("event_id", ""));
  auto sk = ev.find("state_key");
  if (!state || sk == ev.end() || !sk->is_string()) return state;
  std::pair<std::string, std::string> key{ev.value("type", ""), sk->get<std::string>()};
  state->erase(key);
  auto prevs = ev.find("prev_events");
  if (prevs == ev.end() || !prevs->is_array() || prevs->empty()) return state;
  // v1/v2: [id, hashes] pairs; v3+: ids.
  const json& first = (*prevs)[0].is_array() && !(*prevs)[0].empty() ? (*prevs)[0][0] : (*prevs)[0];
  if (!first.is_string()) return state;
  if (auto before = state_after(first.get<std::string>())) {
    auto k = before->find(key);
    if (k != before->end()) (*state)[key] = k->second;
  }
  return state;
}

std::vector<json> events_store::auth_chain(const std::vector<std::string>& ids) {
  std::set<std::string> seen;
  std::vector<std::string> next;
  auto add_refs = [&](const json& ev) {
    auto a = ev.find("auth_events");
    if (a == ev.end() || !a->is_array()) return;
    for (auto& ref : *a) {
      // v1/v2: [id, hashes] pairs; v3+: ids.
      const json& id = ref.is_array() && !ref.empty() ? ref[0] : ref;
      if (id.is_string() && seen.insert(id.get<std::string>()).second) next.push_back(id.get<std::string>());
    }
  };
  for (auto& [id, e] : dag_events(ids)) add_refs(e.json);
  std::vector<json> out;
  while (!next.empty()) {
    auto batch = std::move(next);
    next.clear();
    for (size_t at = 0; at < batch.size(); at += 500) {
      std::vector<std::string> part(batch.begin() + at, batch.begin() + std::min(batch.size(), at + 500));
      for (auto& [id, e] : dag_events(part)) {
        if (!e.json.is_object()) continue;
        add_refs(e.json);
        out.push_back(std::move(e.json));
      }
    }
  }
  return out;
}

std::vector<stored_event> events_store::room_events(const std::string& room_id, int64_t from,
                                                    int64_t to, size_t limit, bool newest_first) {
  auto q = room_events_query(room_id, from, to, limit, newest_first);
  return room_events_rows(pool_.acquire()->exec(q.sql, q.params));
}

statement events_store::room_events_query(const std::string& room_id, int64_t from, int64_t to,
                                          size_t limit, bool newest_first) {
  auto sql = newest_first
               ? "SELECT timeline_ordering, json FROM events WHERE room_id = $1 AND timeline_ordering "
                 "> $2 AND timeline_ordering <= $3 ORDER BY timeline_ordering DESC LIMIT $4"
               : "SELECT timeline_ordering, json FROM events WHERE room_id = $1 AND timeline_ordering "
                 "> $2 AND timeline_ordering <= $3 ORDER BY timeline_ordering ASC LIMIT $4";
  return {sql, {room_id, from, to, static_cast<int64_t>(limit)}};
}

std::vector<stored_event> events_store::room_events_rows(const result& r) {
  std::vector<stored_event> out;
  out.reserve(r.rows.size());
  for (auto& row : r.rows) out.push_back({row.i64(0), json::parse(row.str(1))});
  return out;
}

namespace {

/// The state of a room at a position as "the newest of each key", over the
/// timeline and the resolution deltas (migration 023) together: a key's
/// delta wins over a timeline event at the same position or before it.
/// `filter` narrows the keys; it is written for the alias X, replaced by the
/// alias of each half. Rows: the chosen event's JSON, ordered by its place.
std::vector<json> merged_state(connection& c, const std::string& room_id, int64_t pos,
                               const std::string& filter, sql_params extra) {
  auto on = [&](const std::string& alias) {
    std::string f = filter;
    for (size_t i = f.find("X."); i != std::string::npos; i = f.find("X.", i + alias.size()))
      f.replace(i, 1, alias);
    return f;
  };
  sql_params params{room_id, pos};
  params.insert(params.end(), extra.begin(), extra.end());
  auto r = c.exec(
    "SELECT e.stream_ordering, 0, e.type, e.state_key, e.event_id, e.json, e.stream_ordering "
    "FROM events e WHERE e.room_id = $1 AND e.state_key IS NOT NULL" + on("e") +
      " AND e.stream_ordering = (SELECT MAX(e2.stream_ordering) FROM events e2 WHERE e2.room_id = "
      "$1 AND e2.type = e.type AND e2.state_key = e.state_key AND e2.stream_ordering <= $2) "
      "UNION ALL SELECT d.stream_ordering, 1, d.type, d.state_key, d.event_id, COALESCE(ev.json, "
      "eo.json), COALESCE(ev.stream_ordering, d.stream_ordering) FROM room_state_deltas d LEFT "
      "JOIN events ev ON ev.event_id = d.event_id LEFT JOIN event_outliers eo ON eo.event_id = "
      "d.event_id WHERE d.room_id = $1" + on("d") +
      " AND d.stream_ordering = (SELECT MAX(d2.stream_ordering) FROM room_state_deltas d2 WHERE "
      "d2.room_id = $1 AND d2.type = d.type AND d2.state_key = d.state_key AND "
      "d2.stream_ordering <= $2)",
    params);
  struct pick {
    int64_t pos = 0;
    bool delta = false;
    const row* r = nullptr;
  };
  std::map<std::pair<std::string, std::string>, pick> best;
  for (auto& rw : r.rows) {
    pick p{rw.i64(0), rw.i64(1) != 0, &rw};
    auto [it, fresh] = best.try_emplace({rw.str(2), rw.str(3)}, p);
    if (!fresh && std::tie(p.pos, p.delta) > std::tie(it->second.pos, it->second.delta))
      it->second = p;
  }
  std::vector<std::pair<int64_t, const row*>> chosen;
  for (auto& [key, p] : best)
    if (!p.r->str(4).empty() && !p.r->is_null(5)) chosen.push_back({p.r->i64(6), p.r});
  std::sort(chosen.begin(), chosen.end(),
            [](auto& a, auto& b) { return a.first < b.first; });
  std::vector<json> out;
  out.reserve(chosen.size());
  for (auto& [order, rw] : chosen) out.push_back(json::parse(rw->str(5)));
  return out;
}

} // namespace

std::vector<json> events_store::state_at(const std::string& room_id, int64_t pos) {
  auto c = pool_.acquire();
  return merged_state(*c, room_id, pos, "", {});
}

std::vector<json> events_store::state_changes(const std::string& room_id, int64_t from,
                                              int64_t to) {
  auto c = pool_.acquire();
  auto forks = c->exec("SELECT 1 FROM room_state_deltas WHERE room_id = $1 AND stream_ordering > "
                       "$2 AND stream_ordering <= $3 LIMIT 1",
                       {room_id, from, to});
  if (!forks.empty()) {
    // A resolution settled keys in the range: compare the two states whole.
    std::map<std::pair<std::string, std::string>, std::string> before;
    for (auto& e : merged_state(*c, room_id, from, "", {}))
      before[{e.value("type", ""), e.value("state_key", "")}] = e.value("event_id", "");
    std::vector<json> out;
    for (auto& e : merged_state(*c, room_id, to, "", {})) {
      auto it = before.find({e.value("type", ""), e.value("state_key", "")});
      if (it == before.end() || it->second != e.value("event_id", "")) out.push_back(std::move(e));
    }
    return out;
  }
  auto r = c->exec(
    "SELECT e.json FROM events e WHERE e.room_id = $1 AND e.state_key IS NOT NULL AND "
    "e.stream_ordering > $2 AND e.stream_ordering = (SELECT MAX(e2.stream_ordering) FROM events "
    "e2 WHERE e2.room_id = $1 AND e2.type = e.type AND e2.state_key = e.state_key AND "
    "e2.stream_ordering <= $3) ORDER BY e.stream_ordering",
    {room_id, from, to});
  std::vector<json> out;
  for (auto& row : r.rows) out.push_back(json::parse(row.str(0)));
  return out;
}

std::vector<json> events_store::members_at(const std::string& room_id,
                                          const std::vector<std::string>& user_ids, int64_t pos) {
  if (user_ids.empty()) return {};
  auto c = pool_.acquire();
  return merged_state(*c, room_id, pos,
                      " AND X.type = 'm.room.member' AND X.state_key IN (" +
                        placeholders(3, user_ids.size()) + ")",
                      sql_params(user_ids.begin(), user_ids.end()));
}

std::vector<visibility_row> events_store::visibility_history(const std::string& room_id,
                                                            const std::string& user_id,
                                                            int64_t upto) {
  // Two index range scans (events_room_state), one per kind of change, and
  // the keys resolutions settled (a delta after the event at its position;
  // NULL JSON: the key left the state).
  auto c = pool_.acquire();
  auto r = c->exec(
    "SELECT stream_ordering, 1, json, 0 FROM events WHERE room_id = $1 AND type = "
    "'m.room.history_visibility' AND state_key = '' AND stream_ordering > 0 AND stream_ordering <= $3 "
    "UNION ALL SELECT stream_ordering, 0, membership, 0 FROM events WHERE room_id = $1 AND type = "
    "'m.room.member' AND state_key = $2 AND stream_ordering > 0 AND stream_ordering <= $3 "
    "UNION ALL SELECT d.stream_ordering, CASE WHEN d.type = 'm.room.member' THEN 0 ELSE 1 END, "
    "COALESCE(ev.json, eo.json), 1 FROM room_state_deltas d LEFT JOIN events ev ON ev.event_id = "
    "d.event_id LEFT JOIN event_outliers eo ON eo.event_id = d.event_id WHERE d.room_id = $1 AND "
    "((d.type = 'm.room.history_visibility' AND d.state_key = '') OR (d.type = 'm.room.member' AND "
    "d.state_key = $2)) AND d.stream_ordering > 0 AND d.stream_ordering <= $3 ORDER BY 1, 4",
    {room_id, user_id, upto});
  std::vector<visibility_row> out;
  out.reserve(r.rows.size());
  for (auto& row : r.rows) {
    visibility_row v;
    v.stream_ordering = row.i64(0);
    v.is_visibility = row.i64(1) != 0;
    bool delta = row.i64(3) != 0;
    if (v.is_visibility || delta) {
      auto ev = row.is_null(2) ? json() : json::parse(row.str(2), nullptr, false);
      auto content = ev.is_object() ? ev.value("content", json()) : json();
      if (v.is_visibility) v.content = std::move(content);
      else if (content.is_object()) v.membership = content.value("membership", "");
    } else {
      v.membership = row.str_or(2, "");
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<std::string> events_store::rooms_with_events(int64_t from, int64_t to) {
  auto q = room_activity_query(from, to);
  return room_activity_rows(pool_.acquire()->exec(q.sql, q.params)).rooms;
}

statement events_store::room_activity_query(int64_t from, int64_t to) {
  return {"SELECT room_id, MAX(CASE WHEN type = 'm.room.member' THEN 1 ELSE 0 END) FROM events "
          "WHERE stream_ordering > $1 AND stream_ordering <= $2 GROUP BY room_id",
          {from, to}};
}

events_store::room_activity events_store::room_activity_rows(const result& r) {
  room_activity out;
  out.rooms.reserve(r.rows.size());
  for (auto& row : r.rows) {
    out.rooms.push_back(row.str(0));
    out.memberships |= row.i64(1) != 0;
  }
  return out;
}

int64_t events_store::max_stream_ordering() {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT COALESCE(MAX(stream_ordering), 0) FROM events");
  return r.rows[0].i64(0);
}

int64_t events_store::prepare_position_sequence() {
  if (pool_.kind() == engine_kind::sqlite) {
    // One process (the placement simulation): a one-row table, moved past
    // every stored event; SQLite's single writer serialises it.
    return in_transaction(pool_, [](connection& c) {
      c.exec("CREATE TABLE IF NOT EXISTS events_stream_seq (last_value BIGINT NOT NULL)");
      c.exec("INSERT INTO events_stream_seq (last_value) SELECT 0 WHERE NOT EXISTS "
             "(SELECT 1 FROM events_stream_seq)");
      c.exec("UPDATE events_stream_seq SET last_value = (SELECT COALESCE(MAX(stream_ordering), 0) "
             "FROM events) WHERE last_value < (SELECT COALESCE(MAX(stream_ordering), 0) FROM events)");
      return c.exec("SELECT last_value FROM events_stream_seq").rows[0].i64(0);
    });
  }
  return in_transaction(pool_, [](connection& c) {
    // One writer at a time past this point (released at commit).
    c.exec("SELECT pg_advisory_xact_lock(7236581)");
    c.exec("CREATE SEQUENCE IF NOT EXISTS events_stream_seq");
    // Only ever forward: a writer already allocating keeps its ids.
    c.exec("SELECT setval('events_stream_seq', m) FROM (SELECT COALESCE(MAX(stream_ordering), 0) "
           "AS m FROM events) x WHERE m > (SELECT last_value FROM events_stream_seq)");
    auto r = c.exec("SELECT last_value, is_called FROM events_stream_seq");
    auto last = r.rows[0].i64(0);
    auto called = r.rows[0].str(1);
    return called == "t" || called == "true" || called == "1" ? last : last - 1;
  });
}

std::vector<int64_t> events_store::allocate_positions(size_t n) {
  if (pool_.kind() == engine_kind::sqlite) {
    auto last = pool_.acquire()
                  ->exec("UPDATE events_stream_seq SET last_value = last_value + $1 RETURNING last_value",
                         {static_cast<int64_t>(n)})
                  .rows.at(0)
                  .i64(0);
    std::vector<int64_t> out;
    for (auto p = last - static_cast<int64_t>(n) + 1; p <= last; ++p) out.push_back(p);
    return out;
  }
  auto c = pool_.acquire();
  auto r = c->exec("SELECT nextval('events_stream_seq') FROM generate_series(1, $1)",
                   {static_cast<int64_t>(n)});
  std::vector<int64_t> out;
  out.reserve(r.rows.size());
  for (auto& row : r.rows) out.push_back(row.i64(0));
  std::sort(out.begin(), out.end());
  return out;
}

std::map<std::string, int64_t> events_store::writer_positions() {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT instance_name, stream_id FROM stream_positions WHERE stream_name = 'events'");
  std::map<std::string, int64_t> out;
  for (auto& row : r.rows) out[row.str(0)] = row.i64(1);
  return out;
}

std::set<std::string> events_store::running_instances(const std::vector<std::string>& instances) {
  auto c = pool_.acquire();
  // This database only: other servers (or test runs) on the same PostgreSQL
  // may have instances of the same names.
  auto r = c->exec("SELECT DISTINCT application_name FROM pg_stat_activity "
                   "WHERE datname = current_database() AND application_name LIKE 'axon/%'");
  std::set<std::string> names;
  for (auto& row : r.rows) names.insert(row.str(0));
  std::set<std::string> out;
  for (auto& i : instances)
    // PostgreSQL keeps the first 63 bytes of an application_name.
    if (names.count(("axon/" + i).substr(0, 63))) out.insert(i);
  return out;
}

void events_store::record_position(const std::string& instance, int64_t pos) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO stream_positions (stream_name, instance_name, stream_id) VALUES ('events', "
          "$1, $2) ON CONFLICT (stream_name, instance_name) DO UPDATE SET stream_id = CASE WHEN "
          "excluded.stream_id > stream_positions.stream_id THEN excluded.stream_id ELSE "
          "stream_positions.stream_id END",
          {instance, pos});
}

std::vector<int64_t> events_store::instance_ids(const std::vector<std::string>& names) {
  auto c = pool_.acquire();
  std::vector<int64_t> out;
  for (auto& name : names) {
    for (int attempt = 0;; ++attempt) {
      auto r = c->exec("SELECT instance_id FROM instance_ids WHERE instance_name = $1", {name});
      if (!r.empty()) {
        out.push_back(r.rows[0].i64(0));
        break;
      }
      if (attempt == 10) throw std::runtime_error("instance_ids: no number for " + name);
      // `WHERE true`: SQLite reads ON CONFLICT after a bare SELECT as a join.
      c->exec("INSERT INTO instance_ids (instance_id, instance_name) SELECT "
              "COALESCE(MAX(instance_id), 0) + 1, $1 FROM instance_ids WHERE true "
              "ON CONFLICT DO NOTHING",
              {name});
    }
  }
  return out;
}

std::optional<std::string> events_store::find_txn(const std::string& user_id,
                                                  const std::string& device_id,
                                                  const std::string& room_id,
                                                  const std::string& txn_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT event_id FROM event_txn_id WHERE user_id = $1 AND device_id = $2 AND "
                   "room_id = $3 AND txn_id = $4",
                   {user_id, device_id, room_id, txn_id});
  if (r.empty()) return std::nullopt;
  return r.rows[0].str(0);
}

std::optional<room_snapshot> events_store::load_room(const std::string& room_id) {
  auto c = pool_.acquire();
  auto room = c->exec("SELECT room_version FROM rooms WHERE room_id = $1", {room_id});
  if (room.empty()) return std::nullopt;
  room_snapshot s;
  s.room_version = room.rows[0].str(0);
  auto st = c->exec("SELECT e.json FROM current_state_events s JOIN events e ON e.event_id = "
                    "s.event_id WHERE s.room_id = $1",
                    {room_id});
  for (auto& row : st.rows) s.state.push_back(json::parse(row.str(0)));
  auto ex = c->exec("SELECT event_id FROM event_forward_extremities WHERE room_id = $1", {room_id});
  for (auto& row : ex.rows) s.extremities.push_back(row.str(0));
  if (s.extremities.size() == 1) {
    auto g = c->exec("SELECT state_group FROM events WHERE event_id = $1", {s.extremities[0]});
    if (!g.empty()) s.state_group = g.rows[0].i64_or(0, 0);
  }
  auto d = c->exec("SELECT COALESCE(MAX(depth), 0) FROM events WHERE room_id = $1", {room_id});
  s.max_depth = d.rows[0].i64(0);
  s.pending_redactions = !c->exec("SELECT 1 FROM pending_redactions WHERE room_id = $1 LIMIT 1", {room_id}).empty();
  return s;
}

void events_store::persist(const std::vector<event_to_persist>& events,
                           const std::string& instance, int64_t pos) {
  // Forward extremities: an event stops being one when a later event names
  // it in prev_events. Within the batch that is worked out here, so each
  // room costs one delete per referenced event and one insert per new tip.
  std::vector<statement> st;
  st.reserve(events.size() * 3 + 4);
  std::set<std::string> referenced;
  std::map<std::string, std::set<std::string>> prevs_by_room;
  for (auto& e : events) {
    if (e.new_group) {
      if (e.group_prev)
        st.push_back({"INSERT INTO state_group_edges (state_group, prev_state_group) VALUES ($1, $2)",
                      {e.state_group, e.group_prev}});
      for (auto& g : e.group_rows)
        st.push_back({"INSERT INTO state_groups_state (state_group, type, state_key, event_id) "
                      "VALUES ($1, $2, $3, $4)",
                      {e.state_group, g.type, g.state_key, g.event_id}});
    }
    sql_value group = e.state_group ? sql_value{e.state_group} : sql_value{nullptr};
    if (e.only_group) {
      // Met again in backfilled history: it takes its place in the timeline there.
      st.push_back({"UPDATE events SET state_group = $2, timeline_ordering = $3 WHERE event_id = $1",
                    {e.event_id, e.state_group, e.timeline_ordering}});
      continue;
    }
    if (e.place == event_place::outlier) {
      sql_value why = e.rejected.empty() ? sql_value{nullptr} : sql_value{e.rejected};
      st.push_back({"INSERT INTO event_outliers (event_id, room_id, json, rejected, soft_failed, "
                    "state_group, received_ts) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT "
                    "(event_id) DO NOTHING",
                    {e.event_id, e.room_id, e.json, why, int64_t{e.soft_failed}, group,
                     e.origin_server_ts}});
      continue;
    }
    if (!e.room_version.empty())
      st.push_back({"INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES ($1, $2, "
                    "$3, $4)",
                    {e.room_id, e.room_version, e.sender, e.origin_server_ts}});
    sql_value sk = e.state_key ? sql_value{*e.state_key} : sql_value{nullptr};
    sql_value mem = e.membership.empty() ? sql_value{nullptr} : sql_value{e.membership};
    st.push_back({"INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, "
                  "depth, origin_server_ts, membership, instance_name, json, state_group, outlier, redacted_by, "
                  "timeline_ordering) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                  {e.stream_ordering, e.event_id, e.room_id, e.type, sk, e.sender, e.depth,
                   e.origin_server_ts, mem, instance, e.json, group,
                   int64_t{e.place == event_place::join_state ? 1 : 0},
                   e.redacted_by.empty() ? sql_value{nullptr} : sql_value{e.redacted_by},
                   e.place == event_place::join_state ? sql_value{nullptr} : sql_value{e.stream_ordering}}});
    if (!e.pending_redacts.empty())
      st.push_back({"INSERT INTO pending_redactions (redacts, event_id, room_id, by_power) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT DO NOTHING",
                    {e.pending_redacts, e.event_id, e.room_id, int64_t{e.pending_by_power}}});
    if (!e.redacts.empty() && !e.redacted_json.empty())
      st.push_back({"UPDATE events SET json = $2, redacted_by = $3 WHERE event_id = $1",
                    {e.redacts, e.redacted_json, e.event_id}});
    if (e.place == event_place::backfilled) continue; // history: no state, extremities or queues
    for (auto& d : e.destinations)
      st.push_back({"INSERT INTO federation_pdu_outbox (destination, stream_ordering, event_id) "
                    "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    {d, e.stream_ordering, e.event_id}});
    if (e.current_state) {
      // Resolved forks: each key the resolution settled is a delta at this
      // position (migration 023), this event's own key too when it lost it.
      bool own_key_settled = false;
      for (auto& ch : *e.current_state) {
        bool own_key = e.state_key && ch.type == e.type && ch.state_key == *e.state_key;
        own_key_settled = own_key_settled || own_key;
        if (own_key && ch.event_id == e.event_id) continue; // as the timeline says
        st.push_back({"INSERT INTO room_state_deltas (room_id, stream_ordering, type, state_key, event_id) "
                      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room_id, type, state_key, stream_ordering) "
                      "DO UPDATE SET event_id = excluded.event_id",
                      {e.room_id, e.stream_ordering, ch.type, ch.state_key, ch.event_id}});
      }
      if (e.state_key && !own_key_settled)
        st.push_back({"INSERT INTO room_state_deltas (room_id, stream_ordering, type, state_key, event_id) "
                      "VALUES ($1, $2, $3, $4, COALESCE((SELECT event_id FROM current_state_events WHERE "
                      "room_id = $1 AND type = $3 AND state_key = $4), '')) ON CONFLICT (room_id, type, "
                      "state_key, stream_ordering) DO NOTHING",
                      {e.room_id, e.stream_ordering, e.type, *e.state_key}});
      for (auto& ch : *e.current_state) {
        sql_value cm = ch.membership.empty() ? sql_value{nullptr} : sql_value{ch.membership};
        if (ch.event_id.empty()) {
          st.push_back({"DELETE FROM current_state_events WHERE room_id = $1 AND type = $2 AND "
                        "state_key = $3",
                        {e.room_id, ch.type, ch.state_key}});
          continue;
        }
        st.push_back({"INSERT INTO current_state_events (room_id, type, state_key, event_id, "
                      "membership, stream_ordering) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT "
                      "(room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id, "
                      "membership = excluded.membership, stream_ordering = excluded.stream_ordering",
                      {e.room_id, ch.type, ch.state_key, ch.event_id, cm, ch.stream_ordering}});
        if (ch.local_member)
          st.push_back({"INSERT INTO local_current_membership (user_id, room_id, event_id, "
                        "membership, stream_ordering, forgotten) VALUES ($1, $2, $3, $4, $5, 0) ON "
                        "CONFLICT (user_id, room_id) DO UPDATE SET event_id = excluded.event_id, "
                        "membership = excluded.membership, stream_ordering = "
                        "excluded.stream_ordering, forgotten = 0",
                        {ch.state_key, e.room_id, ch.event_id, ch.membership, ch.stream_ordering}});
      }
    } else if (e.state_key) {
      st.push_back({"INSERT INTO current_state_events (room_id, type, state_key, event_id, "
                    "membership, stream_ordering) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT "
                    "(room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id, "
                    "membership = excluded.membership, stream_ordering = excluded.stream_ordering",
                    {e.room_id, e.type, *e.state_key, e.event_id, mem, e.stream_ordering}});
      if (e.local_member)
        st.push_back({"INSERT INTO local_current_membership (user_id, room_id, event_id, "
                      "membership, stream_ordering, forgotten) VALUES ($1, $2, $3, $4, $5, 0) ON "
                      "CONFLICT (user_id, room_id) DO UPDATE SET event_id = excluded.event_id, "
                      "membership = excluded.membership, stream_ordering = "
                      "excluded.stream_ordering, forgotten = 0",
                      {*e.state_key, e.room_id, e.event_id, e.membership, e.stream_ordering}});
    }
    if (!e.txn_id.empty())
      st.push_back({"INSERT INTO event_txn_id (user_id, device_id, room_id, txn_id, event_id, "
                    "inserted_ts) VALUES ($1, $2, $3, $4, $5, $6)",
                    {e.txn_user, e.txn_device, e.room_id, e.txn_id, e.event_id,
                     e.origin_server_ts}});
    for (auto& a : e.push_actions)
      st.push_back({"INSERT INTO event_push_actions (user_id, room_id, event_id, stream_ordering, "
                    "thread_id, notif, highlight, actions, ts) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                    "$8, $9)",
                    {a.user_id, e.room_id, e.event_id, e.stream_ordering, a.thread_id,
                     int64_t{a.notify}, int64_t{a.highlight}, a.actions, e.origin_server_ts}});
    if (e.place != event_place::timeline) continue;
    for (auto& prev : e.prev_events) {
      referenced.insert(prev);
      prevs_by_room[e.room_id].insert(prev);
    }
  }
  for (auto& [room, prevs] : prevs_by_room)
    for (auto& prev : prevs)
      st.push_back({"DELETE FROM event_forward_extremities WHERE room_id = $1 AND event_id = $2",
                    {room, prev}});
  for (auto& e : events)
    if (e.place == event_place::timeline && !referenced.count(e.event_id))
      st.push_back({"INSERT INTO event_forward_extremities (room_id, event_id) VALUES ($1, $2)",
                    {e.room_id, e.event_id}});
  st.push_back({"INSERT INTO stream_positions (stream_name, instance_name, stream_id) VALUES "
                "('events', $1, $2) ON CONFLICT (stream_name, instance_name) DO UPDATE SET "
                "stream_id = excluded.stream_id",
                {instance, pos}});
  auto c = pool_.acquire();
  c->exec_transaction(st);
}

std::vector<std::pair<std::string, std::string>>
events_store::recent_txns(const std::string& room_id, int64_t since_ts) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT user_id, device_id, txn_id, event_id FROM event_txn_id WHERE room_id = "
                   "$1 AND inserted_ts >= $2",
                   {room_id, since_ts});
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& row : r.rows)
    out.emplace_back(row.str(0) + '\n' + row.str(1) + '\n' + row.str(2), row.str(3));
  return out;
}

} // namespace axon::storage
