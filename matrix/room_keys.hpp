// matrix/room_keys.hpp -- server-side key backups: which of two backed-up
// copies of a Megolm session the server keeps. Spec: client-server API
// "End-to-End Encryption" > "Server-side key backups" > "Storing keys".
#pragma once

#include <cstdint>
#include <string>

namespace axon::matrix {

/// One session in a backup (the spec's KeyBackupData).
struct room_key {
  int64_t first_message_index = 0;
  int64_t forwarded_count = 0;
  bool is_verified = false;
  std::string session_data; ///< JSON object text, opaque to the server
};

/// True when `incoming` replaces `existing` in the backup. The spec keeps the
/// existing key unless the new one is verified and the old one is not; with
/// equal verification, the lower first_message_index wins, then the lower
/// forwarded_count. (Synapse lets a lower index replace a verified key even
/// when unverified; the spec does not.)
bool should_replace_room_key(const room_key& existing, const room_key& incoming);

} // namespace axon::matrix
