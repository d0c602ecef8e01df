// storage/stores/to_device_store.hpp -- the to_device stream's tables: device
// inboxes and the senders' transaction ids (migration 004).
#pragma once

#include "storage/database.hpp"

#include <optional>
#include <string>
#include <vector>

namespace axon::storage {

struct inbox_message {
  std::string user_id;
  std::string device_id;
  std::string message_json; ///< {sender, type, content}
};

/// An m.direct_to_device EDU for another server (device_federation_outbox,
/// read by storage/stores/federation_store.hpp).
struct outbox_message {
  std::string destination;
  std::string message_id;
  std::string messages_json; ///< the EDU content
};

struct inbox_row {
  int64_t stream_id = 0;
  std::string message_json;
};

class to_device_store {
public:
  explicit to_device_store(pool& p) : pool_(p) {}

  /// Newest stream position ever handed out (0 when none). Survives the
  /// deletion of every message: it is also kept in `stream_positions`.
  int64_t max_stream_id();

  /// The position a sending device's transaction was stored at, if any.
  std::optional<int64_t> find_txn(const std::string& user_id, const std::string& device_id,
                                  const std::string& txn_id);

  /// In one transaction: the messages at `pos`, the sender's transaction id,
  /// and the stream's position for `instance`. With no messages only the
  /// transaction id is stored (at `pos`).
  void add_messages(const std::string& sender, const std::string& sender_device,
                    const std::string& txn_id, const std::vector<inbox_message>& messages,
                    int64_t pos, const std::string& instance, int64_t now_ms,
                    const std::vector<outbox_message>& remote = {});

  /// The device's messages with stream_id in (from, to], oldest first, at
  /// most `limit`.
  std::vector<inbox_row> messages_for_device(const std::string& user_id,
                                             const std::string& device_id, int64_t from,
                                             int64_t to, size_t limit);
  /// True when the device has a message with stream_id <= up_to.
  bool has_messages_up_to(const std::string& user_id, const std::string& device_id,
                          int64_t up_to);
  /// Deletes the device's messages with stream_id <= up_to; returns how many.
  int64_t delete_messages_up_to(const std::string& user_id, const std::string& device_id,
                                int64_t up_to);

  /// The user's device ids (table `devices`), in byte order.
  std::vector<std::string> devices_of(const std::string& user_id);

private:
  pool& pool_;
};

} // namespace axon::storage
