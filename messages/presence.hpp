// messages/presence.hpp -- requests to the presence writer
// (`stream_writers.presence`). Spec: client-server API "Presence".
#pragma once

#include <caf/meta/type_name.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace axon::msg {

/// PUT /presence/{userId}/status: sets the user's state ("online",
/// "unavailable" or "offline") and status message ("" clears it); "online"
/// also marks the user active now. Replies with the presence stream position
/// of the change (the current position when nothing visible changed).
///
/// `remote`: another server's user, as its server said (m.presence): the
/// state is taken as given, active `last_active_ago` ms ago, and falls back
/// to offline when no update comes for 30 minutes (Synapse's
/// FEDERATION_TIMEOUT); none of this server's own timers apply.
struct set_presence {
  std::string user_id;
  std::string presence;
  std::string status_msg;
  bool remote = false;
  int64_t last_active_ago = 0;
  bool currently_active = false;
  static constexpr const char* wire_name = "set_presence";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, set_presence& x) {
  return f(caf::meta::type_name("set_presence"), x.user_id, x.presence, x.status_msg, x.remote,
           x.last_active_ago, x.currently_active);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(set_presence, user_id, presence, status_msg, remote, last_active_ago,
                                   currently_active)

/// A /sync with `set_presence` online or unavailable started: the user is
/// syncing (never offline by the sync timeout) for the next `timeout_ms`,
/// and is in state `presence` (the status message is kept). Replies like
/// set_presence; often sent without waiting for the reply.
struct user_syncing {
  std::string user_id;
  std::string presence;
  int64_t timeout_ms = 0;
  static constexpr const char* wire_name = "user_syncing";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_syncing& x) {
  return f(caf::meta::type_name("user_syncing"), x.user_id, x.presence, x.timeout_ms);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(user_syncing, user_id, presence, timeout_ms)

} // namespace axon::msg
