#include "messages/caf_types.hpp"

namespace axon {

std::pair<errc, std::string> from_caf_error(const caf::error& err) {
  if (err.category() == caf::atom("matrix")) {
    std::string text;
    if (!err.context().empty() && err.context().match_elements<std::string>())
      text = err.context().get_as<std::string>(0);
    return {static_cast<errc>(err.code()), text};
  }
  if (err == caf::sec::request_timeout)
    return {errc::timeout, "timed out waiting for another part of the server"};
  return {errc::unavailable, "a part of the server needed for this request is unavailable"};
}

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<msg::event_draft>("event_draft");
  cfg.add_message_type<msg::send_events>("send_events");
  cfg.add_message_type<msg::send_events_reply>("send_events_reply");
  cfg.add_message_type<msg::events_row>("events_row");
  cfg.add_message_type<msg::events_advanced>("events_advanced");
  cfg.add_message_type<msg::put_account_data>("put_account_data");
  cfg.add_message_type<msg::update_room_tag>("update_room_tag");
  cfg.add_message_type<msg::change_push_rule>("change_push_rule");
  cfg.add_message_type<msg::set_typing>("set_typing");
  cfg.add_message_type<msg::get_typing>("get_typing");
  cfg.add_message_type<msg::typing_room>("typing_room");
  cfg.add_message_type<msg::typing_snapshot>("typing_snapshot");
  cfg.add_message_type<msg::put_receipt>("put_receipt");
  cfg.add_message_type<msg::set_presence>("set_presence");
  cfg.add_message_type<msg::user_syncing>("user_syncing");
  cfg.add_message_type<msg::to_device_delivery>("to_device_delivery");
  cfg.add_message_type<msg::remote_to_device>("remote_to_device");
  cfg.add_message_type<msg::send_to_device>("send_to_device");
  cfg.add_message_type<msg::wake_federation>("wake_federation");
  cfg.add_message_type<msg::federation_request>("federation_request");
  cfg.add_message_type<msg::federation_reply>("federation_reply");
  cfg.add_message_type<msg::ack_to_device>("ack_to_device");
  cfg.add_message_type<msg::stream_row>("stream_row");
  cfg.add_message_type<msg::stream_advanced>("stream_advanced");
  cfg.add_message_type<msg::wait_for_updates>("wait_for_updates");
  cfg.add_message_type<msg::await_stream_position>("await_stream_position");
  cfg.add_message_type<msg::stream_caught_up>("stream_caught_up");
  cfg.add_message_type<msg::get_events_position>("get_events_position");
  cfg.add_message_type<msg::check_events_writers>("check_events_writers");
  cfg.add_message_type<msg::events_writers_status>("events_writers_status");
  cfg.add_message_type<msg::upload_keys>("upload_keys");
  cfg.add_message_type<msg::claim_keys>("claim_keys");
  cfg.add_message_type<msg::claim_keys_reply>("claim_keys_reply");
  cfg.add_message_type<msg::device_list_changed>("device_list_changed");
  cfg.add_message_type<msg::upload_cross_signing_keys>("upload_cross_signing_keys");
  cfg.add_message_type<msg::upload_signatures>("upload_signatures");
  cfg.add_message_type<msg::outbound_request>("outbound_request");
  cfg.add_message_type<msg::outbound_response>("outbound_response");
  cfg.add_error_category(caf::atom("matrix"),
                         [](uint8_t code, caf::atom_value, const caf::message& ctx) -> std::string {
                           std::string s = to_string(static_cast<errc>(code));
                           if (!ctx.empty()) s += ": " + caf::to_string(ctx);
                           return s;
                         });
}

} // namespace axon
