// storage/stores/push_rules_store.hpp -- the push_rules stream's table: one
// JSON document of stored rules per user (migration 009).
#pragma once

#include "matrix/push_rules.hpp"
#include "storage/database.hpp"

#include <optional>
#include <string>

namespace axon::storage {

/// The stored document: {"rules": {kind: [{rule_id, enabled, actions,
/// conditions?, pattern?}, ...]}, "default_enabled": {id: bool},
/// "default_actions": {id: [...]}}.
nlohmann::json push_rules_to_json(const matrix::user_push_rules& rules);
/// Inverse of push_rules_to_json; tolerant: anything malformed is skipped.
matrix::user_push_rules push_rules_from_json(const nlohmann::json& doc);

class push_rules_store {
public:
  explicit push_rules_store(pool& p) : pool_(p) {}

  /// Newest stream position (0 when empty).
  int64_t max_stream_id();
  /// The user's stored rules (empty when the user never changed any).
  matrix::user_push_rules get(const std::string& user_id);
  /// The position of the user's last change; nullopt when never changed.
  std::optional<int64_t> stream_id_of(const std::string& user_id);
  /// Replaces the user's rules, at stream position `pos`.
  void put(const std::string& user_id, const matrix::user_push_rules& rules, int64_t pos);

private:
  pool& pool_;
};

} // namespace axon::storage
