#include "storage/stores/cross_signing_store.hpp"

namespace axon::storage {

void cross_signing_store::set_keys(const std::string& user_id,
                                   const std::map<std::string, std::string>& keys,
                                   int64_t stream_id) {
  if (keys.empty()) return;
  std::vector<statement> stmts;
  for (auto& [type, data] : keys)
    stmts.push_back({"INSERT INTO e2e_cross_signing_keys (user_id, keytype, keydata, stream_id) "
                     "VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, keytype) DO UPDATE SET "
                     "keydata = excluded.keydata, stream_id = excluded.stream_id",
                     {user_id, type, data, stream_id}});
  pool_.acquire()->exec_transaction(stmts);
}

void cross_signing_store::add_signatures(const std::vector<cross_signing_signature>& sigs) {
  if (sigs.empty()) return;
  std::vector<statement> stmts;
  for (auto& s : sigs)
    stmts.push_back({"INSERT INTO e2e_cross_signing_signatures (user_id, key_id, target_user_id, "
                     "target_device_id, signature) VALUES ($1, $2, $3, $4, $5) ON CONFLICT "
                     "(user_id, key_id, target_user_id, target_device_id) DO UPDATE SET "
                     "signature = excluded.signature",
                     {s.user_id, s.key_id, s.target_user_id, s.target_device_id, s.signature}});
  pool_.acquire()->exec_transaction(stmts);
}

std::optional<std::string> cross_signing_store::key(const std::string& user_id,
                                                    const std::string& keytype) {
  auto r = pool_.acquire()->exec(
    "SELECT keydata FROM e2e_cross_signing_keys WHERE user_id = $1 AND keytype = $2",
    {user_id, keytype});
  if (r.empty()) return std::nullopt;
  return r.rows[0].str(0);
}

std::map<std::string, std::string> cross_signing_store::keys(const std::string& user_id) {
  std::map<std::string, std::string> out;
  auto r = pool_.acquire()->exec(
    "SELECT keytype, keydata FROM e2e_cross_signing_keys WHERE user_id = $1", {user_id});
  for (auto& row : r.rows) out[row.str(0)] = row.str(1);
  return out;
}

std::vector<cross_signing_signature> cross_signing_store::signatures_on(
  const std::string& target_user_id) {
  std::vector<cross_signing_signature> out;
  auto r = pool_.acquire()->exec(
    "SELECT user_id, key_id, target_device_id, signature FROM e2e_cross_signing_signatures "
    "WHERE target_user_id = $1 ORDER BY user_id, key_id, target_device_id",
    {target_user_id});
  for (auto& row : r.rows)
    out.push_back({row.str(0), row.str(1), target_user_id, row.str(2), row.str(3)});
  return out;
}

} // namespace axon::storage
