#include "actors/client/sync_streams.hpp"

#include "matrix/stream_token.hpp"

namespace axon::client {

json& joined_entry(json& out, const std::string& room_id, const sync_context& c) {
  auto& join = out["rooms"]["join"];
  if (!join.contains(room_id)) {
    auto at = matrix::stream_token{room_position(c.req, c.pos, room_id), {}, {}}.to_string();
    join[room_id] = {{"timeline", {{"events", json::array()}, {"limited", false}, {"prev_batch", at}}},
                     {"state", {{"events", json::array()}}}};
  }
  return join[room_id];
}

bool add_stream_sections(const sync_context& c, json& out) {
  bool news = false;
  news |= add_typing(c, out);
  news |= add_receipts(c, out);
  news |= add_presence(c, out);
  news |= add_account_data(c, out);
  news |= add_to_device(c, out);
  news |= add_device_lists(c, out);
  news |= add_push_rules(c, out);
  add_unread_counts(c, out);
  return news;
}

} // namespace axon::client
