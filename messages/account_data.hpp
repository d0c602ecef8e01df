// messages/account_data.hpp -- requests to the account_data writer.
#pragma once

#include <caf/meta/type_name.hpp>
#include <nlohmann/json.hpp>

#include <string>

namespace axon::msg {

/// Sets global (room_id "") or per-room account data; replies with the
/// account_data stream position of the change.
struct put_account_data {
  std::string user_id;
  std::string room_id;
  std::string type;
  std::string content; ///< JSON object text
  static constexpr const char* wire_name = "put_account_data";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, put_account_data& x) {
  return f(caf::meta::type_name("put_account_data"), x.user_id, x.room_id, x.type, x.content);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(put_account_data, user_id, room_id, type, content)

/// Adds (content set) or removes (content empty) one tag of a room in the
/// user's `m.tag` room account data; replies with the stream position.
struct update_room_tag {
  std::string user_id;
  std::string room_id;
  std::string tag;
  std::string content; ///< JSON object text, or empty to remove the tag
  static constexpr const char* wire_name = "update_room_tag";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, update_room_tag& x) {
  return f(caf::meta::type_name("update_room_tag"), x.user_id, x.room_id, x.tag, x.content);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(update_room_tag, user_id, room_id, tag, content)

} // namespace axon::msg
