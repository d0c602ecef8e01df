// messages/push_rules.hpp -- requests to the push_rules writer.
#pragma once

#include <caf/meta/type_name.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace axon::msg {

/// One change of a user's push rules (PUT/DELETE /pushrules/global/...);
/// the writer validates it with matrix/push_rules.hpp and replies with the
/// push_rules stream position of the change, or the Matrix error.
struct change_push_rule {
  enum op_kind : uint8_t { put = 0, remove = 1, set_enabled = 2, set_actions = 3 };
  std::string user_id;
  uint8_t op = put;
  std::string kind;    ///< "override", "content", "room", "sender", "underride"
  std::string rule_id;
  std::string body;    ///< put: the request body; set_actions: the actions array (JSON text)
  std::string before;  ///< put only
  std::string after;   ///< put only
  bool enabled = true; ///< set_enabled only
  static constexpr const char* wire_name = "change_push_rule";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, change_push_rule& x) {
  return f(caf::meta::type_name("change_push_rule"), x.user_id, x.op, x.kind, x.rule_id, x.body,
           x.before, x.after, x.enabled);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(change_push_rule, user_id, op, kind, rule_id, body, before,
                                   after, enabled)

} // namespace axon::msg
