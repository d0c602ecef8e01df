// actors/streams/push_rules_writer.cpp
//
// One writer owns the stream, so the read-modify-write of a user's rules
// needs no locking: load the stored document, apply the change with the pure
// functions of matrix/push_rules.hpp, store it at the next position (one
// upsert), publish. A rejected change writes nothing and advances nothing.
#include "actors/streams/push_rules_writer.hpp"
#include "actors/spawn_role.hpp"

#include "storage/stores/push_rules_store.hpp"

#include <nlohmann/json.hpp>

namespace axon::actors {

using nlohmann::json;

errc push_rule_errc(const matrix::push_rule_error& e) {
  if (e.errcode == "M_NOT_FOUND") return errc::not_found;
  if (e.errcode == "M_MISSING_PARAM") return errc::missing_param;
  if (e.errcode == "M_BAD_JSON") return errc::bad_json;
  return errc::invalid_param;
}

namespace {

// ---- state -------------------------------------------------------------------

struct push_rules_writer_state {
  stream_writer_deps deps;
  std::unique_ptr<storage::push_rules_store> store;
  int64_t pos = 0;
  static inline const char* name = "push_rules_writer";
};

using writer_pointer = push_rules_writer_actor::stateful_pointer<push_rules_writer_state>;

// ---- helpers -------------------------------------------------------------------

caf::error rule_failure(const matrix::push_rule_error& e) {
  return make_error(push_rule_errc(e), e.error);
}

/// Applies `req` to `rules`; the error the pure functions give, if any.
std::optional<matrix::push_rule_error> apply(matrix::user_push_rules& rules,
                                             const msg::change_push_rule& req) {
  auto kind = matrix::parse_push_rule_kind(req.kind);
  if (!kind) return matrix::push_rule_error{"M_INVALID_PARAM", "Unknown push rule kind " + req.kind};
  switch (req.op) {
    case msg::change_push_rule::put: {
      auto body = json::parse(req.body, nullptr, false);
      if (body.is_discarded()) return matrix::push_rule_error{"M_BAD_JSON", "Invalid JSON"};
      matrix::push_rule_error err;
      auto rule = matrix::parse_push_rule(*kind, req.rule_id, body, &err);
      if (!rule) return err;
      return matrix::put_user_push_rule(rules, *kind, std::move(*rule), req.before, req.after);
    }
    case msg::change_push_rule::remove:
      return matrix::delete_user_push_rule(rules, *kind, req.rule_id);
    case msg::change_push_rule::set_enabled:
      return matrix::set_push_rule_enabled(rules, *kind, req.rule_id, req.enabled);
    case msg::change_push_rule::set_actions: {
      auto actions = json::parse(req.body, nullptr, false);
      if (actions.is_discarded()) return matrix::push_rule_error{"M_BAD_JSON", "Invalid JSON"};
      return matrix::set_push_rule_actions(rules, *kind, req.rule_id, actions);
    }
  }
  return matrix::push_rule_error{"M_INVALID_PARAM", "Unknown push rule operation"};
}

// ---- behavior ------------------------------------------------------------------

push_rules_writer_actor::behavior_type push_rules_writer(writer_pointer self,
                                                         stream_writer_deps deps,
                                                         int64_t start_pos) {
  self->state.store = std::make_unique<storage::push_rules_store>(*deps.pool);
  self->state.deps = std::move(deps);
  self->state.pos = start_pos;
  return {
    [=](msg::change_push_rule& req) -> caf::result<int64_t> {
      auto& st = self->state;
      try {
        auto rules = st.store->get(req.user_id);
        if (auto err = apply(rules, req)) return rule_failure(*err);
        auto pos = st.pos + 1;
        st.store->put(req.user_id, rules, pos);
        st.pos = pos;
        msg::stream_advanced adv{static_cast<uint8_t>(stream_id::push_rules),
                                 st.deps.instance_name, pos,
                                 {msg::stream_row{pos, "", {req.user_id}}}};
        caf::anon_send(st.deps.publisher, std::move(adv));
        return pos;
      } catch (const std::exception& e) {
        return make_error(errc::unknown, std::string("could not store push rules: ") + e.what());
      }
    },
  };
}

} // namespace

push_rules_writer_actor spawn_push_rules_writer(caf::actor_system& sys, stream_writer_deps deps,
                                                int64_t start_pos) {
  return spawn_role(sys, push_rules_writer, std::move(deps), start_pos);
}

} // namespace axon::actors
