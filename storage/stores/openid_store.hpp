// storage/stores/openid_store.hpp -- OpenID tokens (migration 019).
#pragma once

#include "storage/database.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace axon::storage {

class openid_store {
public:
  explicit openid_store(pool& p) : pool_(p) {}
  /// Stores `token` for `user_id`, valid until `valid_until_ms`; drops the
  /// tokens expired at `now_ms`.
  void add(const std::string& token, const std::string& user_id, int64_t valid_until_ms, int64_t now_ms);
  /// The user a token still valid at `now_ms` was issued to.
  std::optional<std::string> user_for(const std::string& token, int64_t now_ms);

private:
  pool& pool_;
};

} // namespace axon::storage
