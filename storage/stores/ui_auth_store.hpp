// storage/stores/ui_auth_store.hpp -- user-interactive auth sessions and the
// stages completed in each (migration 013).
#pragma once

#include "storage/database.hpp"

#include <string>
#include <unordered_set>

namespace axon::storage {

class ui_auth_store {
public:
  explicit ui_auth_store(pool& p) : pool_(p) {}

  /// Creates `session` at `now_ms`; sessions older than `expire_before_ms`
  /// are deleted on the way.
  void create(const std::string& session, int64_t now_ms, int64_t expire_before_ms);
  bool exists(const std::string& session);
  /// Records a completed stage (an unknown session gets nothing).
  void complete(const std::string& session, const std::string& stage);
  std::unordered_set<std::string> completed(const std::string& session);
  void remove(const std::string& session);

private:
  pool& pool_;
};

} // namespace axon::storage
