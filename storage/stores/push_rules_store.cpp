#include "storage/stores/push_rules_store.hpp"

namespace axon::storage {

using nlohmann::json;
using matrix::push_rule_kind;

namespace {

constexpr push_rule_kind all_kinds[] = {push_rule_kind::override_rule, push_rule_kind::content,
                                        push_rule_kind::room, push_rule_kind::sender,
                                        push_rule_kind::underride};

} // namespace

json push_rules_to_json(const matrix::user_push_rules& rules) {
  json kinds = json::object();
  for (auto kind : all_kinds) {
    json list = json::array();
    for (auto& r : rules.rules(kind)) {
      json j = {{"rule_id", r.rule_id}, {"enabled", r.enabled}, {"actions", r.actions}};
      if (!r.conditions.is_null()) j["conditions"] = r.conditions;
      if (kind == push_rule_kind::content) j["pattern"] = r.pattern;
      list.push_back(std::move(j));
    }
    kinds[std::string(matrix::to_string(kind))] = std::move(list);
  }
  json enabled = json::object();
  for (auto& [id, on] : rules.default_enabled) enabled[id] = on;
  json actions = json::object();
  for (auto& [id, a] : rules.default_actions) actions[id] = a;
  return {{"rules", kinds}, {"default_enabled", enabled}, {"default_actions", actions}};
}

matrix::user_push_rules push_rules_from_json(const json& doc) {
  matrix::user_push_rules out;
  if (!doc.is_object()) return out;
  if (auto k = doc.find("rules"); k != doc.end() && k->is_object()) {
    for (auto kind : all_kinds) {
      auto l = k->find(std::string(matrix::to_string(kind)));
      if (l == k->end() || !l->is_array()) continue;
      for (auto& j : *l) {
        if (!j.is_object() || !j.contains("rule_id") || !j["rule_id"].is_string()) continue;
        matrix::push_rule r;
        r.rule_id = j["rule_id"].get<std::string>();
        r.enabled = j.value("enabled", true);
        if (j.contains("actions")) r.actions = j["actions"];
        if (j.contains("conditions")) r.conditions = j["conditions"];
        if (j.contains("pattern") && j["pattern"].is_string())
          r.pattern = j["pattern"].get<std::string>();
        out.rules(kind).push_back(std::move(r));
      }
    }
  }
  if (auto e = doc.find("default_enabled"); e != doc.end() && e->is_object())
    for (auto& [id, v] : e->items())
      if (v.is_boolean()) out.default_enabled[id] = v.get<bool>();
  if (auto a = doc.find("default_actions"); a != doc.end() && a->is_object())
    for (auto& [id, v] : a->items())
      if (v.is_array()) out.default_actions[id] = v;
  return out;
}

int64_t push_rules_store::max_stream_id() {
  auto c = pool_.acquire();
  return c->exec("SELECT COALESCE(MAX(stream_id), 0) FROM push_rules_user").rows[0].i64(0);
}

matrix::user_push_rules push_rules_store::get(const std::string& user_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT rules_json FROM push_rules_user WHERE user_id = $1", {user_id});
  if (r.empty()) return {};
  return push_rules_from_json(json::parse(r.rows[0].str(0), nullptr, false));
}

std::optional<int64_t> push_rules_store::stream_id_of(const std::string& user_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT stream_id FROM push_rules_user WHERE user_id = $1", {user_id});
  if (r.empty()) return std::nullopt;
  return r.rows[0].i64(0);
}

void push_rules_store::put(const std::string& user_id, const matrix::user_push_rules& rules,
                           int64_t pos) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO push_rules_user (user_id, rules_json, stream_id) VALUES ($1, $2, $3) "
          "ON CONFLICT (user_id) DO UPDATE SET rules_json = excluded.rules_json, "
          "stream_id = excluded.stream_id",
          {user_id, push_rules_to_json(rules).dump(), pos});
}

} // namespace axon::storage
