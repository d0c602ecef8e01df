#include "storage/stores/openid_store.hpp"

namespace axon::storage {

void openid_store::add(const std::string& token, const std::string& user_id, int64_t valid_until_ms,
                       int64_t now_ms) {
  auto c = pool_.acquire();
  c->exec_transaction({{"DELETE FROM open_id_tokens WHERE ts_valid_until_ms < $1", {now_ms}},
                       {"INSERT INTO open_id_tokens (token, ts_valid_until_ms, user_id) VALUES ($1, $2, $3)",
                        {token, valid_until_ms, user_id}}});
}

std::optional<std::string> openid_store::user_for(const std::string& token, int64_t now_ms) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT user_id FROM open_id_tokens WHERE token = $1 AND ts_valid_until_ms >= $2",
                   {token, now_ms});
  if (r.empty()) return std::nullopt;
  return r.rows[0].str(0);
}

} // namespace axon::storage
