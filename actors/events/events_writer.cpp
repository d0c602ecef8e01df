// actors/events/events_writer.cpp
//
// Requests queue up while a batch is being written; a `flush` message that
// the actor sends itself when the first request of a batch arrives makes every
// request received before it one batch, written in one transaction. So a busy
// writer commits many rooms' events at once and an idle one adds no delay.
//
// Several writers share one sequence of positions. Each says how far it has
// persisted (events_advanced.pos); readers expose each writer's events up to
// its own position, and events of every room at once up to the lowest
// writer's (actors/notifier/notifier.cpp). An idle writer would hold that
// lowest position down; so when a writer sees another reach position p
// while it has nothing in flight (between batches: a batch takes its
// positions and stores them within one message), it claims p too:
// everything it will ever write comes from the sequence after p. Claims are
// published with the next batch or `claim_every` later, whichever comes
// first (one message for many of the other writers' batches), and recorded
// in stream_positions a second later, for readers that start in between.
#include "actors/events/events_writer.hpp"
#include "actors/spawn_role.hpp"

#include "actors/events/push_actions.hpp"
#include "actors/events/writer_room.hpp"
#include "matrix/auth_rules.hpp"
#include "matrix/canonical_json.hpp"
#include "matrix/event_hash.hpp"
#include "matrix/identifiers.hpp"
#include "matrix/room_version.hpp"
#include "storage/stores/events_store.hpp"

#include <chrono>
#include <deque>
#include <unordered_map>

namespace axon::actors {

using nlohmann::json;

namespace {

using record_atom = caf::atom_constant<caf::atom("record")>;
using claim_atom = caf::atom_constant<caf::atom("claim")>;

/// How long a claim may wait to be published (see the top): nothing waits
/// for it but readers of every room at once (device lists, unread counts).
constexpr auto claim_every = std::chrono::milliseconds(20);

// ---- state -----------------------------------------------------------------

struct pending_request {
  msg::send_events req;
  caf::typed_response_promise<msg::send_events_reply> rp;
};

struct events_writer_state {
  events_writer_deps deps;
  std::unique_ptr<storage::events_store> store;
  std::unique_ptr<push_evaluator> push;
  std::unordered_map<std::string, room_cache> rooms;
  std::vector<pending_request> queue;
  bool flush_scheduled = false;
  int64_t pos = 0;
  // Several writers only:
  bool shared = false;          ///< positions come from deps.allocate
  std::deque<int64_t> ids;      ///< positions taken for the batch being built
  int64_t recorded = 0;         ///< position stored in stream_positions
  bool record_scheduled = false;
  bool claim_scheduled = false; ///< a claim_atom is on its way
  int64_t published = 0;        ///< the position last published
  static inline const char* name = "events_writer";
};


// ---- helpers ---------------------------------------------------------------

/// The spec's limit on the size of an event (the signed PDU).
constexpr size_t max_event_bytes = 65536;

/// How long a transaction id keeps identifying its event (Synapse: 1 day).
constexpr int64_t txn_retention_ms = 24 * 3600 * 1000;

/// The position of the next event built.
/// Tells this instance's notifier (first, see events_writer_deps) and the
/// stream bus that the stream reached `adv.pos`; `visible` runs once, as
/// soon as the notifier has the position or has been sent it.
void publish(events_writer_state& st, msg::events_advanced adv,
             const std::function<void()>& visible = [] {}) {
  auto to_bus = [&] {
    if (!(st.deps.publish_here && st.deps.publish_here(adv))) caf::anon_send(st.deps.publisher, std::move(adv));
  };
  if (!st.deps.notifier) {
    to_bus();
    visible();
    return;
  }
  if (!(st.deps.notify_here && st.deps.notify_here(adv, visible))) {
    caf::anon_send(st.deps.notifier, adv);
    visible();
  }
  to_bus();
}

int64_t next_position(events_writer_state& st) {
  if (!st.shared) return ++st.pos;
  if (st.ids.empty()) { // more events than drafts counted: take one more
    auto more = st.deps.allocate(1);
    st.ids.insert(st.ids.end(), more.begin(), more.end());
  }
  auto id = st.ids.front();
  st.ids.pop_front();
  return id;
}

/// Positions taken for events that won't be written, newest first.
void return_positions(events_writer_state& st, const std::vector<int64_t>& newest_first) {
  for (auto id : newest_first) {
    if (!st.shared) --st.pos;
    else st.ids.push_front(id);
  }
}

room_cache* load_room(events_writer_state& st, const std::string& room_id) {
  auto i = st.rooms.find(room_id);
  if (i != st.rooms.end()) return &i->second;
  auto snap = st.store->load_room(room_id);
  if (!snap) return nullptr;
  room_cache rc;
  rc.version = matrix::find_room_version(snap->room_version);
  if (!rc.version) return nullptr;
  for (auto& ev : snap->state) {
    matrix::state_key_pair key{ev.value("type", ""), ev.value("state_key", "")};
    rc.state[std::move(key)] = std::move(ev);
  }
  rc.extremities = std::move(snap->extremities);
  if (rc.version->format == matrix::event_format::v1)
    for (auto& id : rc.extremities) {
      auto ev = st.store->get_event(id);
      if (!ev) return nullptr;
      rc.extremity_hashes.push_back(matrix::compute_reference_hash(ev->json, *rc.version));
    }
  rc.depth = snap->max_depth;
  rc.pending_redactions = snap->pending_redactions;
  rc.group = snap->state_group;
  rc.chain = max_group_chain; // not known: the next state group is written whole
  rc.txns = std::make_shared<txn_map>();
  auto now = st.deps.env->now_ms();
  for (auto& [k, id] : st.store->recent_txns(room_id, now - txn_retention_ms))
    rc.txns->ids[k] = {id, now};
  return &st.rooms.emplace(room_id, std::move(rc)).first->second;
}

/// The `auth_events` of `ev` in the room version's format.
json auth_events_of(const json& ev, const room_cache& rc) {
  json refs = json::array();
  const bool v1 = rc.version->format == matrix::event_format::v1;
  for (auto& key : matrix::auth_types_for_event(ev, *rc.version)) {
    auto i = rc.state.find(key);
    if (i == rc.state.end()) continue;
    auto& id = i->second.at("event_id").get_ref<const std::string&>();
    refs.push_back(matrix::event_reference(
      id, v1 ? matrix::compute_reference_hash(i->second, *rc.version) : "", *rc.version));
  }
  return refs;
}

/// The `prev_events` of the room's next event in its version's format.
json prev_events_of(const room_cache& rc) {
  json refs = json::array();
  for (size_t i = 0; i < rc.extremities.size(); ++i)
    refs.push_back(matrix::event_reference(
      rc.extremities[i], i < rc.extremity_hashes.size() ? rc.extremity_hashes[i] : "",
      *rc.version));
  return refs;
}

/// Synapse's deduplicate_state_event: a state event with the sender and the
/// content of the current one for its (type, state_key) is not sent again;
/// the current one's id stands for it. Returns that id, or nullptr.
const std::string* duplicate_state(const room_cache& rc, const msg::event_draft& d,
                                   const json& content) {
  if (!d.is_state) return nullptr;
  auto prev = rc.state.find({d.type, d.state_key});
  if (prev == rc.state.end() || prev->second.value("sender", "") != d.sender) return nullptr;
  auto c = prev->second.find("content");
  if (c == prev->second.end() || *c != content) return nullptr;
  return &prev->second.at("event_id").get_ref<const std::string&>();
}

/// Builds, authorises and signs one draft on top of `rc`, updating `rc`.
std::optional<std::pair<errc, std::string>>
build_event(events_writer_state& st, const std::string& room_id, room_cache& rc,
            const msg::event_draft& d, built_request& out) {
  json content = json::parse(d.content, nullptr, false);
  if (!content.is_object()) return std::make_pair(errc::bad_json, "content must be an object");
  // rooms/fragments/v6-canonical-json: from v6 the client's part of the
  // event must be canonical JSON (M_BAD_JSON on the client API).
  std::string why;
  if (rc.version->strict_canonical_json && !matrix::valid_for_canonical(content, &why))
    return std::make_pair(errc::bad_json, "content is not canonical JSON: " + why);
  if (auto existing = duplicate_state(rc, d, content)) {
    out.reply.event_ids.push_back(*existing);
    if (out.events.empty()) out.reply.stream_pos = st.pos;
    return std::nullopt;
  }
  json ev = {{"type", d.type},
             {"room_id", room_id},
             {"sender", d.sender},
             {"content", content},
             {"origin_server_ts", st.deps.env->now_ms()},
             {"depth", rc.depth + 1},
             {"prev_events", prev_events_of(rc)}};
  if (d.is_state) ev["state_key"] = d.state_key;
  // Rooms v1/v2 (v1-event-ids): the event carries its id, "$opaque:server";
  // it is signed with it, and the redaction rule 11 reads it.
  if (rc.version->format == matrix::event_format::v1)
    ev["event_id"] = "$" + matrix::random_string(18, *st.deps.env) + ":" + st.deps.server_name;
  json target;
  if (d.type == "m.room.redaction") {
    if (rc.version->v11_rules) ev["content"]["redacts"] = d.redacts;
    else ev["redacts"] = d.redacts;
    auto t = st.store->get_event(d.redacts);
    if (!t || t->json.value("room_id", "") != room_id)
      return std::make_pair(errc::not_found, "event to redact not found in this room");
    target = std::move(t->json);
  }
  ev["auth_events"] = auth_events_of(ev, rc);
  if (auto why = matrix::check_auth(ev, rc.state, *rc.version))
    return std::make_pair(errc::forbidden, *why);
  // Client-side rule (as Synapse applies it): only the original sender, or a
  // user with the room's redact level, may redact an event.
  if (!target.is_null() && target.value("sender", "") != d.sender &&
      matrix::user_power_level(rc.state, d.sender) < matrix::named_power_level(rc.state, "redact"))
    return std::make_pair(errc::forbidden, "You don't have permission to redact events");
  std::string reference_hash;
  auto event_id = matrix::hash_sign_and_id(ev, st.deps.server_name, st.deps.key, *rc.version,
                                           &reference_hash);
  ev["event_id"] = event_id; // stored copies carry it in every version

  // Unsigned data readers need, not covered by hashes or signatures.
  json unsig = json::object();
  if (d.is_state) {
    auto prev = rc.state.find({d.type, d.state_key});
    if (prev != rc.state.end()) {
      unsig["replaces_state"] = prev->second.at("event_id");
      unsig["prev_content"] = prev->second.value("content", json::object());
      unsig["prev_sender"] = prev->second.value("sender", "");
    }
  }
  if (!d.txn_id.empty()) unsig["io.axon.txn"] = {{"device", d.txn_device}, {"txn", d.txn_id}};
  if (!unsig.empty()) ev["unsigned"] = unsig;

  storage::event_to_persist p;
  p.stream_ordering = next_position(st);
  p.event_id = event_id;
  p.room_id = room_id;
  p.type = d.type;
  p.sender = d.sender;
  if (d.is_state) p.state_key = d.state_key;
  p.depth = ev["depth"].get<int64_t>();
  p.origin_server_ts = ev["origin_server_ts"].get<int64_t>();
  if (d.type == "m.room.member") {
    p.membership = content.value("membership", "");
    p.local_member = matrix::server_of(d.state_key) == st.deps.server_name;
  }
  if (d.type == "m.room.create") p.room_version = rc.version->id;
  if (!target.is_null()) {
    p.redacts = d.redacts;
    auto red = matrix::redact(target, *rc.version);
    json because = ev;
    because.erase("unsigned");
    red["unsigned"] = {{"redacted_because", because}};
    p.redacted_json = red.dump();
  }
  p.prev_events = rc.extremities;
  p.txn_user = d.sender;
  p.txn_device = d.txn_device;
  p.txn_id = d.txn_id;
  p.json = ev.dump();
  // Push rules see the room as it was before the event (its own membership
  // change included only as the invitee's).
  p.push_actions = st.push->evaluate(ev, rc.state);
  // Spec: an event (the whole PDU) is at most 65536 bytes.
  if (p.json.size() > max_event_bytes) {
    return_positions(st, {p.stream_ordering}); // this event's position is not used
    return std::make_pair(errc::too_large, "event too large: events are limited to 65536 bytes");
  }

  if (d.is_state) rc.state[{d.type, d.state_key}] = ev;
  assign_group(p, d.is_state, ev, rc.group, rc.chain, rc.state, &rc.group, &rc.chain);
  if (d.type == "m.room.member") rc.servers_stale = true;
  if (rc.servers_stale) {
    rc.servers = joined_servers(rc.state, st.deps.server_name);
    rc.servers_stale = false;
  }
  p.destinations = rc.servers;
  // A user of another server who leaves, is kicked or banned: their server
  // hears of it too.
  if (p.local_member == false && d.type == "m.room.member") {
    auto server = matrix::server_of(d.state_key);
    if (!server.empty() && server != st.deps.server_name &&
        std::find(p.destinations.begin(), p.destinations.end(), server) == p.destinations.end())
      p.destinations.push_back(server);
  }

  msg::events_row row{p.stream_ordering, event_id, room_id, d.type, d.is_state, d.state_key,
                      p.membership};
  out.rows.push_back(std::move(row));
  out.reply.event_ids.push_back(event_id);
  out.reply.stream_pos = p.stream_ordering;
  out.events.push_back(std::move(p));

  rc.extremities = {event_id};
  if (rc.version->format == matrix::event_format::v1) rc.extremity_hashes = {reference_hash};
  rc.depth += 1;
  return std::nullopt;
}

std::string txn_key(const msg::event_draft& d) {
  return d.sender + '\n' + d.txn_device + '\n' + d.txn_id;
}

/// Records the request's transaction ids; forgets those past retention once
/// the map has doubled, so memory stays proportional to a day's sends.
void remember_txns(txn_map& m, const msg::send_events& req, const std::vector<std::string>& ids,
                   int64_t now) {
  for (size_t i = 0; i < req.drafts.size(); ++i)
    if (!req.drafts[i].txn_id.empty()) m.ids[txn_key(req.drafts[i])] = {ids[i], now};
  if (m.ids.size() < m.prune_at) return;
  for (auto i = m.ids.begin(); i != m.ids.end();)
    i = now - i->second.second > txn_retention_ms ? m.ids.erase(i) : std::next(i);
  m.prune_at = std::max<size_t>(1024, m.ids.size() * 2);
}

/// The positions of a request's events that won't be written.
void give_back(events_writer_state& st, const built_request& out) {
  std::vector<int64_t> ids;
  for (auto i = out.events.rbegin(); i != out.events.rend(); ++i)
    if (i->stream_ordering > 0) ids.push_back(i->stream_ordering);
  return_positions(st, ids);
}

/// Events other servers built (send_events.pdus; writer_room.hpp).
built_request build_remote(events_writer_state& st, const msg::send_events& req, room_cache* rc) {
  built_request out;
  auto fail = [&](errc e, std::string why) {
    give_back(st, out);
    out.events.clear();
    out.rows.clear();
    out.error = std::make_pair(e, std::move(why));
    return std::move(out);
  };
  room_cache fresh;
  remote_context ctx{*st.store, st.deps.server_name, [&st] { return next_position(st); },
                     [&st](const json& ev, const matrix::auth_state& before) {
                       return st.push->evaluate(ev, before);
                     },
                     st.deps.env->now_ms(),
                     [&st](size_t n) { return st.store->allocate_backfill_positions(n); }};
  if (req.backfill) {
    if (!rc) return fail(errc::not_found, "Unknown room " + req.room_id);
    if (auto err = accept_backfill(ctx, req, *rc, out)) return fail(err->first, err->second);
    out.reply.stream_pos = st.pos;
    return out;
  }
  if (out_of_band(req)) {
    if (rc)
      for (auto& [key, ev] : rc->state)
        if (key.first == "m.room.member" && matrix::server_of(key.second) == st.deps.server_name &&
            ev.value("content", json::object()).value("membership", "") == "join")
          return fail(errc::bad_state, "This server is in the room: memberships go through the room");
    if (auto err = accept_out_of_band(ctx, req, out)) return fail(err->first, err->second);
    st.rooms.erase(req.room_id); // its current state moved without the cache
    if (out.rows.empty()) out.reply.stream_pos = st.pos;
    return out;
  }
  if (!rc) {
    if (!req.new_room) return fail(errc::not_found, "Unknown room " + req.room_id);
    fresh.version = matrix::find_room_version(req.room_version);
    if (!fresh.version)
      return fail(errc::unsupported_room_version, "unsupported room version " + req.room_version);
    fresh.txns = std::make_shared<txn_map>();
    rc = &fresh;
  }
  std::optional<std::pair<errc, std::string>> err;
  try {
    err = accept_remote(ctx, req, *rc, out);
  } catch (...) {
    st.rooms.erase(req.room_id); // the cache may be half changed: read again next time
    throw;
  }
  if (err) {
    st.rooms.erase(req.room_id);
    return fail(err->first, err->second);
  }
  if (rc == &fresh) st.rooms[req.room_id] = std::move(fresh);
  out.touched_cache = true;
  if (out.events.empty() || out.rows.empty()) out.reply.stream_pos = std::max(out.reply.stream_pos, st.pos);
  return out;
}

built_request build_request(events_writer_state& st, const msg::send_events& req) {
  if (!req.pdus.empty() || !req.outliers.empty() || !req.join_state.empty())
    return build_remote(st, req, load_room(st, req.room_id));
  built_request out;
  auto fail = [&](errc e, std::string why) {
    out.error = std::make_pair(e, std::move(why));
    return std::move(out);
  };
  if (req.drafts.empty()) return fail(errc::bad_json, "no events");
  room_cache* rc = load_room(st, req.room_id);
  // Transaction ids: the same (user, device, room, txn) gives the same event.
  if (rc && req.drafts.size() == 1 && !req.drafts[0].txn_id.empty()) {
    auto i = rc->txns->ids.find(txn_key(req.drafts[0]));
    if (i != rc->txns->ids.end()) {
      out.reply.event_ids.push_back(i->second.first);
      out.reply.stream_pos = st.pos;
      return out;
    }
  }
  room_cache fresh;
  if (req.new_room) {
    if (rc) return fail(errc::room_in_use, "room already exists");
    fresh.version = matrix::find_room_version(req.room_version);
    if (!fresh.version)
      return fail(errc::unsupported_room_version, "unsupported room version " + req.room_version);
    fresh.txns = std::make_shared<txn_map>();
    rc = &fresh;
  } else if (!rc) {
    return fail(errc::not_found, "Unknown room " + req.room_id);
  }
  // A single event changes the cache only once it is accepted, so it is built
  // in place; several events work on a copy so the request is all or nothing
  // (the txn map is shared by both).
  if (req.drafts.size() == 1 && !req.new_room) {
    if (auto err = build_event(st, req.room_id, *rc, req.drafts[0], out)) {
      give_back(st, out);
      return fail(err->first, err->second);
    }
    remember_txns(*rc->txns, req, out.reply.event_ids, st.deps.env->now_ms());
    out.touched_cache = true;
    return out;
  }
  room_cache work = *rc;
  for (auto& d : req.drafts)
    if (auto err = build_event(st, req.room_id, work, d, out)) {
      give_back(st, out); // nothing of it is kept
      out.events.clear();
      out.rows.clear();
      return fail(err->first, err->second);
    }
  remember_txns(*work.txns, req, out.reply.event_ids, st.deps.env->now_ms());
  st.rooms[req.room_id] = std::move(work);
  out.touched_cache = true;
  return out;
}

void flush(events_writer_state& st) {
  st.flush_scheduled = false;
  auto queue = std::move(st.queue);
  st.queue.clear();
  std::vector<built_request> built;
  built.reserve(queue.size());
  std::vector<storage::event_to_persist> all;
  st.push->begin_batch();
  if (st.shared) {
    // The batch's positions, one round trip; what it doesn't use is never
    // used (a gap in the stream, which readers don't mind).
    size_t n = 0;
    for (auto& p : queue) n += p.req.drafts.size() + p.req.pdus.size() + p.req.join_state.size();
    try {
      auto ids = st.deps.allocate(std::max<size_t>(n, 1));
      st.ids.assign(ids.begin(), ids.end());
    } catch (const std::exception& e) {
      for (auto& p : queue)
        p.rp.deliver(make_error(errc::unknown, std::string("could not allocate positions: ") + e.what()));
      return;
    }
  }
  msg::events_advanced adv;
  adv.instance = st.deps.instance_name;
  for (auto& p : queue) {
    try {
      built.push_back(build_request(st, p.req));
    } catch (const std::exception& e) {
      // A bug or a database failure while building must not take the
      // writer down; the room is reloaded on its next request.
      st.rooms.erase(p.req.room_id);
      built_request failed;
      failed.error = std::make_pair(errc::unknown, std::string("could not build event: ") + e.what());
      built.push_back(std::move(failed));
    }
    auto& b = built.back();
    for (auto& e : b.events) {
      adv.pdus_queued = adv.pdus_queued || (!e.destinations.empty() && e.place != storage::event_place::backfilled);
      all.push_back(std::move(e));
    }
    for (auto& r : b.rows) adv.rows.push_back(std::move(r));
  }
  if (st.shared) {
    // Positions taken and not used are claimed with the batch.
    for (auto& e : all) st.pos = std::max(st.pos, e.stream_ordering);
    if (!st.ids.empty()) st.pos = std::max(st.pos, st.ids.back());
    st.ids.clear();
  }
  if (!all.empty()) {
    try {
      st.store->persist(all, st.deps.instance_name, st.pos);
      st.recorded = st.pos;
    } catch (const std::exception& e) {
      // Nothing of the batch was written: forget what the cache assumed.
      for (auto& p : queue) st.rooms.erase(p.req.room_id);
      for (auto& p : queue)
        p.rp.deliver(make_error(errc::unknown, std::string("could not persist events: ") + e.what()));
      return;
    }
  }
  auto answer = [&] {
    for (size_t i = 0; i < queue.size(); ++i) {
      if (built[i].error) queue[i].rp.deliver(make_error(built[i].error->first, built[i].error->second));
      else queue[i].rp.deliver(std::move(built[i].reply));
    }
  };
  // Publish first: readers then know the new position by the time the
  // requester asks for it (read-your-writes); answered before the
  // long-polls are woken.
  if (!adv.rows.empty() || st.shared) {
    adv.pos = st.pos;
    st.published = st.pos;
    publish(st, std::move(adv), answer);
  } else {
    answer();
  }
}

/// Another writer reached `pos` (several writers): between batches nothing
/// is in flight here, so claim it (see the top).
void claim(caf::stateful_actor<events_writer_state>* self, const std::string& instance,
           int64_t pos) {
  auto& st = self->state;
  if (!st.shared || instance == st.deps.instance_name || pos <= st.pos) return;
  st.pos = pos;
  if (!st.claim_scheduled) {
    st.claim_scheduled = true;
    self->delayed_send(self, claim_every, claim_atom::value);
  }
  if (!st.record_scheduled) {
    st.record_scheduled = true;
    self->delayed_send(self, std::chrono::seconds(1), record_atom::value);
  }
}

// ---- behavior --------------------------------------------------------------

// Dynamically typed inside so it can also receive its private `flush`; the
// outside world sees the typed events_writer_actor interface.
caf::behavior events_writer(caf::stateful_actor<events_writer_state>* self,
                            events_writer_deps deps) {
  self->state.pos = deps.start_pos;
  self->state.store = std::make_unique<storage::events_store>(*deps.pool);
  self->state.push = std::make_unique<push_evaluator>(*deps.pool, deps.server_name,
                                                         deps.push_rules_position);
  self->state.deps = std::move(deps);
  auto& st = self->state;
  st.shared = st.deps.writers.size() > 1;
  if (st.shared) {
    // Nothing in flight yet: everything handed out so far is stored or never
    // will be. Claimed and recorded at once, so readers move past a restart.
    st.pos = std::max(st.pos, st.deps.allocated_so_far());
    try {
      st.store->record_position(st.deps.instance_name, st.pos);
      st.recorded = st.pos;
    } catch (const std::exception&) {
    }
  }
  // Say where it starts: readers elsewhere learn that it started again, and
  // catch up on what it may have stored but not published before it stopped
  // (transport/pubsub.cpp).
  st.published = st.pos;
  publish(st, msg::events_advanced{st.deps.instance_name, st.pos, {}});
  return {
    [=](msg::send_events& req) {
      auto rp = self->make_response_promise<msg::send_events_reply>();
      self->state.queue.push_back({std::move(req), rp});
      if (!self->state.flush_scheduled) {
        self->state.flush_scheduled = true;
        self->send(self, flush_atom::value);
      }
      return rp;
    },
    [=](flush_atom) { flush(self->state); },
    [=](const msg::get_events_position& req) -> caf::result<int64_t> {
      if (req.instance != self->state.deps.instance_name)
        return make_error(errc::not_found, "this is the events writer " + self->state.deps.instance_name);
      return self->state.pos;
    },
    // Another writer's progress (several writers): claim it (see the top).
    [=](const msg::events_advanced& adv) { claim(self, adv.instance, adv.pos); },
    // The same when its rows were lost on the way (a pub/sub gap or
    // reconnect, a heartbeat): the position is stored, so it was handed out.
    [=](const msg::stream_caught_up& up) {
      if (up.stream == index(stream_id::events)) claim(self, up.instance, up.pos);
    },
    [=](claim_atom) {
      auto& st = self->state;
      st.claim_scheduled = false;
      if (st.published >= st.pos) return; // a batch carried it
      st.published = st.pos;
      publish(st, msg::events_advanced{st.deps.instance_name, st.pos, {}});
    },
    [=](record_atom) {
      auto& st = self->state;
      st.record_scheduled = false;
      if (st.recorded >= st.pos) return;
      try {
        st.store->record_position(st.deps.instance_name, st.pos);
        st.recorded = st.pos;
      } catch (const std::exception&) {
        // Next claim tries again; readers starting meanwhile wait for a claim.
      }
    },
  };
}

} // namespace

events_writer_actor spawn_events_writer(caf::actor_system& sys, events_writer_deps deps) {
  return caf::actor_cast<events_writer_actor>(
    spawn_role(sys, events_writer, std::move(deps)));
}

} // namespace axon::actors
