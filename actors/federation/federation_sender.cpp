// actors/federation/federation_sender.cpp -- see federation_sender.hpp.
//
// Per destination (Synapse's PerDestinationQueue): woken by a
// wake_federation, a finished transaction or the periodic scan, it reads up
// to `max_edus` queued EDUs, sends them as one PUT /send/{txnId} through the
// federation client (asynchronously: the answer comes back as a
// txn_done message), and on a 200 deletes what was sent and looks again.
// A failure is retried twice, seconds apart; then the destination backs off
// as Synapse's does (10 min, doubling with jitter, at most a week), kept in
// `destinations` across restarts, until the time passes or the server sends
// us a signed request (server_up).
#include "actors/federation/federation_sender.hpp"

#include "actors/federation/federation_client.hpp"
#include "actors/spawn_role.hpp"
#include "actors/federation/pdu_intake.hpp"
#include "matrix/room_version.hpp"
#include "storage/stores/e2e_keys_store.hpp"
#include "storage/stores/federation_store.hpp"
#include "storage/stores/presence_store.hpp"
#include "matrix/identifiers.hpp"

#include <chrono>
#include <iostream>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>

namespace axon::federation {

namespace {

using nlohmann::json;

// ---- constants ---------------------------------------------------------------------------

/// The spec: at most 50 PDUs and 100 EDUs per transaction.
constexpr size_t max_pdus = 50;
constexpr size_t max_edus = 100;
/// Room EDUs kept for one destination at most (memory only).
constexpr size_t max_queued_edus = 5000;
constexpr auto scan_interval = std::chrono::seconds(60);
/// A local user who stays online is told to the servers sharing a room with
/// them this often, so that they don't time the user out (Synapse's
/// FEDERATION_PING_INTERVAL; their FEDERATION_TIMEOUT is 30 minutes).
constexpr int64_t presence_ping_ms = 25LL * 60 * 1000;
/// A transaction's answer is waited for this long (Synapse's client_timeout).
constexpr int64_t txn_timeout_ms = 60 * 1000;
/// Tries of one transaction before the destination backs off, and the wait
/// before each retry.
constexpr int attempts_before_backoff = 3;
constexpr auto retry_delay = std::chrono::seconds(2);
/// Synapse's destination_min_retry_interval, _retry_multiplier and
/// _max_retry_interval defaults.
constexpr int64_t min_retry_ms = 10LL * 60 * 1000;
constexpr int64_t retry_multiplier = 2;
constexpr int64_t max_retry_ms = 7LL * 24 * 3600 * 1000;

// ---- state -------------------------------------------------------------------------------

struct destination_state {
  bool in_flight = false;
  int64_t pdus_up_to = 0;     ///< the PDUs of the transaction in flight reach here
  /// Room EDUs waiting (memory only, see msg::wake_federation), and how
  /// many of the first the transaction in flight carries.
  std::deque<json> edus;
  size_t edus_in_flight = 0;
  int attempts = 0;           ///< failed tries of the current transaction
  int64_t retry_last_ts = 0;  ///< backoff: since then...
  int64_t retry_interval = 0; ///< ...wait this long; 0: none
  bool recorded = false;      ///< a success is in `destinations` (the admin API lists it)
};

struct federation_sender_state {
  federation_sender_deps deps;
  /// When each local user's presence last went out (ms), for the pings.
  std::unordered_map<std::string, int64_t> presence_sent;
  int64_t started = 0;
  std::unique_ptr<storage::federation_store> store;
  std::unique_ptr<storage::presence_store> presence;
  std::unique_ptr<storage::e2e_keys_store> sharing; ///< who shares a room with whom
  std::map<std::string, destination_state> destinations;
  /// Transaction ids: a counter from the start time, as Synapse's.
  int64_t next_txn = 0;
  /// The newest queued PDU seen (federation_pdu_outbox), and whether a
  /// pdu_check_atom is on its way.
  int64_t pdus_seen = 0;
  bool pdu_check_pending = false;
  static inline const char* name = "federation_sender";
};

using sender_pointer = federation_sender_actor::stateful_pointer<federation_sender_state>;

// ---- helpers -----------------------------------------------------------------------------

bool backing_off(const federation_sender_state& st, const destination_state& d) {
  return d.retry_interval > 0 && st.deps.env->now_ms() < d.retry_last_ts + d.retry_interval;
}

/// Sends the destination's queue if nothing is in flight and it isn't
/// backing off. `sent`: what its last transaction carried, deleted in the
/// same round trip as the next one is read (txn_done).
void send_queue(sender_pointer self, const std::string& destination,
                storage::federation_store::sent_up_to sent = {0, 0}) {
  auto& st = self->state;
  auto& d = st.destinations[destination];
  if (d.in_flight || backing_off(st, d)) return;
  std::vector<storage::outbox_row> rows;
  std::vector<storage::federation_store::pdu_row> pdu_rows;
  try {
    auto next = st.store->next_transaction(destination, max_edus, max_pdus, sent);
    rows = std::move(next.edus);
    pdu_rows = std::move(next.pdus);
  } catch (const std::exception& e) {
    // What was sent stays queued (the deletes were in the failed round
    // trip): it goes again, and the destination drops what it has.
    std::cerr << "federation sender: reading the queue of " << destination << ": " << e.what() << "\n";
    return;
  }
  if (rows.empty() && pdu_rows.empty() && d.edus.empty()) return;
  json pdus = json::array();
  for (auto& r : pdu_rows) {
    auto ev = json::parse(r.json, nullptr, false);
    auto* v = matrix::find_room_version(r.room_version);
    if (!ev.is_object() || !v) continue;
    pdus.push_back(wire_pdu(std::move(ev), *v, st.deps.env->now_ms()));
  }
  json edus = json::array();
  for (auto& r : rows) {
    auto content = json::parse(r.messages_json, nullptr, false);
    if (!content.is_object()) continue; // never stored so; skipped rather than blocking the queue
    edus.push_back({{"edu_type", "m.direct_to_device"}, {"content", std::move(content)}});
  }
  d.edus_in_flight = std::min(d.edus.size(), max_edus - std::min(max_edus, edus.size()));
  for (size_t i = 0; i < d.edus_in_flight; ++i) edus.push_back(d.edus[i]);
  auto up_to = rows.empty() ? int64_t{0} : rows.back().stream_id;
  d.pdus_up_to = pdu_rows.empty() ? 0 : pdu_rows.back().stream_ordering;
  auto txn_id = std::to_string(st.next_txn++);
  json txn = {{"origin", st.deps.server_name},
              {"origin_server_ts", st.deps.env->now_ms()},
              {"pdus", std::move(pdus)},
              {"edus", std::move(edus)}};
  d.in_flight = true;
  federation_sender_actor me = self;
  st.deps.client->request_async(destination, "PUT", "/_matrix/federation/v1/send/" + escape(txn_id), std::move(txn),
                                true, txn_timeout_ms, [me, destination, up_to](remote_response r) {
                                  caf::anon_send(me, txn_done_atom::value, destination, up_to, r.status,
                                                 r.status ? std::string() : r.error);
                                });
}

void txn_done(sender_pointer self, const std::string& destination, int64_t up_to, int status,
              const std::string& error) {
  auto& st = self->state;
  auto& d = st.destinations[destination];
  d.in_flight = false;
  auto now = st.deps.env->now_ms();
  try {
    if (status == 200) {
      storage::federation_store::sent_up_to sent{up_to, d.pdus_up_to};
      d.pdus_up_to = 0;
      d.edus.erase(d.edus.begin(), d.edus.begin() + std::min(d.edus_in_flight, d.edus.size()));
      d.edus_in_flight = 0;
      if (d.retry_interval > 0 || !d.recorded) st.store->record_success(destination);
      d.recorded = true;
      d.attempts = 0;
      d.retry_interval = 0;
      return send_queue(self, destination, sent);
    }
    // Synapse's /send backs off on every error code, not just 5xx.
    std::cerr << "federation sender: transaction to " << destination << " failed: "
              << (status ? "HTTP " + std::to_string(status) : error) << "\n";
    if (++d.attempts < attempts_before_backoff) {
      self->delayed_send(self, retry_delay * d.attempts, retry_atom::value, destination);
      return;
    }
    d.attempts = 0;
    auto interval = d.retry_interval == 0 ? min_retry_ms : d.retry_interval * retry_multiplier;
    // Jitter: x U(0.8, 1.4).
    interval = interval * (800 + static_cast<int64_t>(st.deps.env->uniform(601))) / 1000;
    d.retry_interval = std::min(interval, max_retry_ms);
    d.retry_last_ts = now;
    st.store->set_retry(destination, now, d.retry_interval);
  } catch (const std::exception& e) {
    std::cerr << "federation sender: after a transaction to " << destination << ": " << e.what() << "\n";
  }
}

/// One look at the PDU queues once the mailbox's updates are read.
void check_pdus_soon(sender_pointer self) {
  if (self->state.pdu_check_pending) return;
  self->state.pdu_check_pending = true;
  self->send(self, pdu_check_atom::value);
}

/// Every destination with a queue, and what the database says of backoffs.
void scan(sender_pointer self) {
  auto& st = self->state;
  try {
    for (auto& dest : st.store->destinations_with_outbox()) send_queue(self, dest);
  } catch (const std::exception& e) {
    std::cerr << "federation sender: scanning the queues: " << e.what() << "\n";
  }
}

/// m.presence for the local users of `users` (their current state) to
/// every server sharing a room with them (Synapse's presence federation;
/// memory only).
void send_presence(sender_pointer self, const std::vector<std::string>& users) {
  auto& st = self->state;
  std::map<std::string, json> pushes; // destination -> push list
  auto now = st.deps.env->now_ms();
  try {
    for (auto& user : users) {
      if (matrix::server_of(user) != st.deps.server_name) continue; // others' users are their servers' to tell
      auto p = st.presence->get(user);
      if (!p) continue;
      json entry = {{"user_id", user},
                    {"presence", p->state},
                    {"last_active_ago", std::max<int64_t>(0, now - p->last_active_ts)},
                    {"currently_active", p->currently_active}};
      if (!p->status_msg.empty()) entry["status_msg"] = p->status_msg;
      std::set<std::string> servers;
      for (auto& other : st.sharing->users_sharing_room(user)) {
        auto s = matrix::server_of(other);
        if (!s.empty() && s != st.deps.server_name) servers.insert(s);
      }
      for (auto& s : servers) pushes[s].push_back(entry);
      if (p->state == "offline") st.presence_sent.erase(user);
      else st.presence_sent[user] = now;
    }
  } catch (const std::exception& e) {
    std::cerr << "federation sender: reading presence: " << e.what() << "\n";
    return;
  }
  for (auto& [dest, push] : pushes) {
    auto& d = st.destinations[dest];
    d.edus.push_back({{"edu_type", "m.presence"}, {"content", {{"push", push}}}});
    while (d.edus.size() > max_queued_edus) {
      d.edus.pop_front();
      if (d.edus_in_flight) --d.edus_in_flight;
    }
    send_queue(self, dest);
  }
}

/// Local users online or unavailable whose presence went out more than
/// presence_ping_ms ago (or not since this sender started): told again.
void ping_presence(sender_pointer self) {
  auto& st = self->state;
  auto now = st.deps.env->now_ms();
  std::vector<std::string> due;
  try {
    for (auto& r : st.presence->not_offline()) {
      if (matrix::server_of(r.user_id) != st.deps.server_name) continue;
      auto i = st.presence_sent.find(r.user_id);
      // Since this sender started, its last word is known; before, the
      // last change (last_active_ts at most) is the best guess.
      auto last = i != st.presence_sent.end() ? i->second : std::max(st.started, r.last_active_ts);
      if (now - last >= presence_ping_ms) due.push_back(r.user_id);
    }
  } catch (const std::exception& e) {
    std::cerr << "federation sender: reading presence for pings: " << e.what() << "\n";
    return;
  }
  if (!due.empty()) send_presence(self, due);
}

// ---- behavior ----------------------------------------------------------------------------

federation_sender_actor::behavior_type federation_sender(sender_pointer self, federation_sender_deps deps) {
  auto& st = self->state;
  st.store = std::make_unique<storage::federation_store>(*deps.pool);
  st.presence = std::make_unique<storage::presence_store>(*deps.pool);
  st.sharing = std::make_unique<storage::e2e_keys_store>(*deps.pool);
  st.next_txn = deps.env->now_ms();
  st.started = deps.env->now_ms();
  st.deps = std::move(deps);
  try {
    for (auto& [dest, r] : st.store->retry_states()) {
      auto& d = st.destinations[dest];
      d.retry_last_ts = r.retry_last_ts;
      d.retry_interval = r.retry_interval;
      d.recorded = true;
    }
  } catch (const std::exception& e) {
    std::cerr << "federation sender: reading retry state: " << e.what() << "\n";
  }
  self->send(self, scan_atom::value);
  return {
    [=](msg::wake_federation& w) {
      std::vector<json> edus;
      for (auto& text : w.edus) {
        auto e = json::parse(text, nullptr, false);
        if (e.is_object()) edus.push_back(std::move(e));
      }
      for (auto& dest : w.destinations) {
        auto& d = self->state.destinations[dest];
        // A destination that is down gets only the newest few thousand.
        for (auto& e : edus) d.edus.push_back(e);
        while (d.edus.size() > max_queued_edus) {
          d.edus.pop_front();
          if (d.edus_in_flight) --d.edus_in_flight;
        }
      }
      for (auto& dest : w.destinations) {
        if (w.server_up) {
          auto& d = self->state.destinations[dest];
          if (d.retry_interval > 0) {
            d.retry_interval = 0;
            d.attempts = 0;
            try {
              self->state.store->clear_retry(dest);
            } catch (const std::exception& e) {
              std::cerr << "federation sender: clearing the backoff of " << dest << ": " << e.what() << "\n";
            }
          }
        }
        send_queue(self, dest);
      }
    },
    // Events were written and some queued for other servers (the writers
    // queue them with the events, federation_pdu_outbox).
    // One look at the queues for all the updates waiting in the mailbox:
    // the check sent to itself comes after them.
    [=](const msg::events_advanced& adv) {
      if (!adv.pdus_queued) return;
      check_pdus_soon(self);
    },
    // Rows of the events stream were lost on the way (a pub/sub gap or
    // reconnect): whether they queued PDUs is unknown, so look.
    [=](const msg::stream_caught_up& up) {
      if (up.stream == static_cast<uint8_t>(stream_id::events)) check_pdus_soon(self);
    },
    [=](pdu_check_atom) {
      auto& st = self->state;
      st.pdu_check_pending = false;
      try {
        auto [dests, newest] = st.store->destinations_with_pdus_after(st.pdus_seen);
        st.pdus_seen = newest;
        for (auto& dest : dests) send_queue(self, dest);
      } catch (const std::exception& e) {
        std::cerr << "federation sender: reading the PDU queues: " << e.what() << "\n";
      }
    },
    // A local user's presence changed: m.presence to every server sharing
    // a room with them (Synapse's presence federation; memory only).
    [=](const msg::stream_advanced& adv) {
      if (adv.stream != static_cast<uint8_t>(stream_id::presence)) return;
      std::vector<std::string> users;
      for (auto& row : adv.rows)
        for (auto& user : row.user_ids) users.push_back(user);
      send_presence(self, users);
    },
    [=](txn_done_atom, std::string& dest, int64_t up_to, int status, std::string& error) {
      txn_done(self, dest, up_to, status, error);
    },
    [=](retry_atom, std::string& dest) { send_queue(self, dest); },
    [=](scan_atom) {
      scan(self);
      ping_presence(self);
      self->delayed_send(self, scan_interval, scan_atom::value);
    },
  };
}

} // namespace

federation_sender_actor spawn_federation_sender(caf::actor_system& sys, federation_sender_deps deps) {
  return actors::spawn_role(sys, federation_sender, std::move(deps));
}

} // namespace axon::federation
