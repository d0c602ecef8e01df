#include "matrix/room_keys.hpp"

namespace axon::matrix {

bool should_replace_room_key(const room_key& existing, const room_key& incoming) {
  if (incoming.is_verified != existing.is_verified) return incoming.is_verified;
  if (incoming.first_message_index != existing.first_message_index)
    return incoming.first_message_index < existing.first_message_index;
  return incoming.forwarded_count < existing.forwarded_count;
}

} // namespace axon::matrix
