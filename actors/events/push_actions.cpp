// actors/events/push_actions.cpp
//
// Rulesets are the recipients' stored rules merged onto the server defaults,
// compiled (matrix::compile_push_rules) and kept in memory by user. A change
// of anyone's push rules moves the push_rules stream; the cache is dropped
// whenever that position differs from the one it was filled at, which is
// cheap (rule changes are rare) and needs no subscription. The position is
// read once per batch, and only when a batch has someone to evaluate for.
#include "actors/events/push_actions.hpp"

#include "matrix/identifiers.hpp"
#include "matrix/push_rules.hpp"
#include "storage/stores/push_rules_store.hpp"

namespace axon::actors {

using nlohmann::json;

std::string thread_of_event(const json& event) {
  auto c = event.find("content");
  if (c == event.end() || !c->is_object()) return "main";
  auto rel = c->find("m.relates_to");
  if (rel == c->end() || !rel->is_object()) return "main";
  auto type = rel->find("rel_type");
  auto root = rel->find("event_id");
  if (type != rel->end() && *type == "m.thread" && root != rel->end() && root->is_string() &&
      !root->get<std::string>().empty())
    return root->get<std::string>();
  return "main";
}

struct push_evaluator::impl {
  storage::push_rules_store store;
  std::string server_name;
  std::function<int64_t()> position;
  std::unordered_map<std::string, matrix::compiled_push_rules> rulesets;
  int64_t cached_at = -1; ///< push_rules position the cache was filled at
  bool checked = false;   ///< the position was read in this batch

  impl(storage::pool& p, std::string name, std::function<int64_t()> pos)
    : store(p), server_name(std::move(name)), position(std::move(pos)) {}
};

push_evaluator::push_evaluator(storage::pool& pool, std::string server_name,
                               std::function<int64_t()> push_rules_position)
  : impl_(std::make_unique<impl>(pool, std::move(server_name), std::move(push_rules_position))) {}

push_evaluator::~push_evaluator() = default;

void push_evaluator::begin_batch() { impl_->checked = false; }

const matrix::compiled_push_rules& push_evaluator::ruleset(const std::string& user_id) {
  auto& m = *impl_;
  if (!m.checked) {
    auto now = m.position ? m.position() : -1;
    if (now < 0 || now != m.cached_at) m.rulesets.clear();
    m.cached_at = now;
    m.checked = now >= 0; // without a position: read every time
  }
  auto i = m.rulesets.find(user_id);
  if (i != m.rulesets.end()) return i->second;
  // Bounded: a writer serving very many users re-reads rather than grows.
  if (m.rulesets.size() >= 100000) m.rulesets.clear();
  return m.rulesets
    .emplace(user_id, matrix::compile_push_rules(matrix::merge_push_rules(user_id, m.store.get(user_id))))
    .first->second;
}

namespace {

/// `notifications` of the power levels content: name -> level.
std::map<std::string, int64_t> notification_levels(const matrix::auth_state& state) {
  std::map<std::string, int64_t> out;
  auto pl = state.find({"m.room.power_levels", ""});
  if (pl == state.end()) return out;
  auto c = pl->second.find("content");
  if (c == pl->second.end() || !c->is_object()) return out;
  auto n = c->find("notifications");
  if (n == c->end() || !n->is_object()) return out;
  for (auto& [name, level] : n->items())
    if (level.is_number_integer()) out[name] = level.get<int64_t>();
    else if (level.is_string()) {
      // Room versions before 10 allow stringified integers.
      try {
        out[name] = std::stoll(level.get<std::string>());
      } catch (...) {
      }
    }
  return out;
}

std::string member_field(const json& member, const char* key) {
  auto c = member.find("content");
  if (c == member.end() || !c->is_object()) return "";
  auto v = c->find(key);
  return v != c->end() && v->is_string() ? v->get<std::string>() : "";
}

} // namespace

std::vector<storage::push_action> push_evaluator::evaluate(const json& event,
                                                           const matrix::auth_state& state) {
  std::vector<storage::push_action> out;
  auto sender = event.value("sender", "");
  // Recipients: local members joined before the event; an invite's target.
  std::vector<std::pair<std::string, std::string>> users; // user id, display name
  int64_t joined = 0;
  for (auto i = state.lower_bound({"m.room.member", ""});
       i != state.end() && i->first.first == "m.room.member"; ++i) {
    if (member_field(i->second, "membership") != "join") continue;
    ++joined;
    auto& user = i->first.second;
    if (user != sender && matrix::server_of(user) == impl_->server_name)
      users.emplace_back(user, member_field(i->second, "displayname"));
  }
  if (event.value("type", "") == "m.room.member" && event.contains("state_key")) {
    auto target = event.value("state_key", "");
    if (member_field(event, "membership") == "invite" && target != sender &&
        matrix::server_of(target) == impl_->server_name)
      users.emplace_back(target, member_field(event, "displayname"));
  }
  if (users.empty()) return out;

  matrix::push_context ctx;
  ctx.event = &event;
  ctx.room_member_count = joined;
  ctx.sender_power_level = matrix::user_power_level(state, sender);
  ctx.notification_power_levels = notification_levels(state);
  auto thread = thread_of_event(event);
  for (auto& [user, name] : users) {
    ctx.user_id = user;
    ctx.user_display_name = name;
    auto* r = matrix::first_matching_rule(ruleset(user), ctx);
    if (!r || (!r->result.notify && !r->result.highlight)) continue;
    out.push_back({user, thread, r->result.notify, r->result.highlight, r->actions_text});
  }
  return out;
}

} // namespace axon::actors
