// actors/events/push_actions.hpp -- what a new event means for each local
// user's notifications: the events writer runs every event it builds through
// the recipients' push rules (spec "Push Notifications" > "Push Rules") and
// stores the result with the event (Synapse's bulk push rule evaluator), so
// unread counts and GET /notifications never lag the events stream.
#pragma once

#include "matrix/auth_rules.hpp"
#include "matrix/push_rules.hpp"
#include "messages/streams.hpp"
#include "storage/database.hpp"
#include "storage/stores/events_store.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace axon::actors {

/// The thread an event belongs to for receipts and counts: the root's event
/// id for an m.thread relation, else "main".
std::string thread_of_event(const nlohmann::json& event);

class push_evaluator {
public:
  /// `push_rules_position` (may be empty): the push_rules stream's position
  /// as far as rule changes acknowledged anywhere are concerned; when it
  /// moves, cached rulesets are dropped. Without it no ruleset is cached.
  push_evaluator(storage::pool& pool, std::string server_name,
                 std::function<int64_t()> push_rules_position);
  ~push_evaluator();

  /// A new batch of events: the push_rules position is read again (once per
  /// batch) before the next ruleset is used.
  void begin_batch();

  /// The push actions of `event` (full event JSON with event_id) for every
  /// local user joined to the room before it (`state`: the room's state
  /// before the event), and for a local user it invites; never the sender.
  /// Only users for whom the event notifies or highlights get an entry.
  std::vector<storage::push_action> evaluate(const nlohmann::json& event,
                                             const matrix::auth_state& state);

private:
  const matrix::compiled_push_rules& ruleset(const std::string& user_id);

  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace axon::actors
