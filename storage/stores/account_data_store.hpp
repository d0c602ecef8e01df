// storage/stores/account_data_store.hpp -- the account_data stream's table.
#pragma once

#include "storage/database.hpp"

#include <optional>
#include <string>
#include <vector>

namespace axon::storage {

struct account_data_row {
  std::string room_id; ///< "" for global
  std::string type;
  std::string content; ///< JSON object text
  int64_t stream_id = 0;
};

class account_data_store {
public:
  explicit account_data_store(pool& p) : pool_(p) {}

  /// Newest stream position (0 when empty).
  int64_t max_stream_id();
  /// Writes (or replaces) one entry at stream position `pos`.
  void put(const std::string& user_id, const std::string& room_id, const std::string& type,
           const std::string& content, int64_t pos);
  std::optional<std::string> get(const std::string& user_id, const std::string& room_id,
                                 const std::string& type);
  /// get() as a statement for a batch, and its content.
  static statement get_query(const std::string& user_id, const std::string& room_id,
                             const std::string& type);
  static std::optional<std::string> get_row(const result& r);
  /// Entries of the user changed in (from, to] (all of them for from = 0).
  std::vector<account_data_row> changed(const std::string& user_id, int64_t from, int64_t to);

private:
  pool& pool_;
};

} // namespace axon::storage
