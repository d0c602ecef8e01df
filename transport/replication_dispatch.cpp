#include "transport/replication_dispatch.hpp"

#include "messages/errors.hpp"

#include <functional>
#include <map>

namespace axon::transport {

using nlohmann::json;

namespace {

using handler = std::function<json(transport&, const json&)>;

template <class Request>
Request decode(const json& j) {
  try {
    return j.get<Request>();
  } catch (const std::exception& e) {
    throw matrix_error(errc::bad_json, std::string("malformed ") + Request::wire_name + ": " + e.what());
  }
}

/// One entry per request a writer answers: decode, call, encode.
template <class Request, class Call>
std::pair<std::string, handler> entry(Call call) {
  return {Request::wire_name,
          [call](transport& t, const json& j) -> json { return call(t, decode<Request>(j)); }};
}

const std::map<std::string, handler>& table() {
  static const std::map<std::string, handler> t = {
    entry<msg::send_events>([](transport& t, const msg::send_events& r) { return json(t.send_events(r)); }),
    entry<msg::get_events_position>([](transport& t, const msg::get_events_position& r) {
      return json(t.events_writer_position(r.instance));
    }),
    entry<msg::put_account_data>([](transport& t, const msg::put_account_data& r) { return json(t.put_account_data(r)); }),
    entry<msg::update_room_tag>([](transport& t, const msg::update_room_tag& r) { return json(t.update_room_tag(r)); }),
    entry<msg::change_push_rule>([](transport& t, const msg::change_push_rule& r) { return json(t.change_push_rule(r)); }),
    entry<msg::set_presence>([](transport& t, const msg::set_presence& r) { return json(t.set_presence(r)); }),
    entry<msg::user_syncing>([](transport& t, const msg::user_syncing& r) {
      t.user_syncing(r, true);
      return json(t.position(stream_id::presence));
    }),
    entry<msg::upload_keys>([](transport& t, const msg::upload_keys& r) { return json(t.upload_keys(r)); }),
    entry<msg::claim_keys>([](transport& t, const msg::claim_keys& r) { return json(t.claim_keys(r)); }),
    entry<msg::device_list_changed>([](transport& t, const msg::device_list_changed& r) { return json(t.device_list_changed(r)); }),
    entry<msg::upload_cross_signing_keys>([](transport& t, const msg::upload_cross_signing_keys& r) { return json(t.upload_cross_signing_keys(r)); }),
    entry<msg::upload_signatures>([](transport& t, const msg::upload_signatures& r) { return json(t.upload_signatures(r)); }),
    entry<msg::send_to_device>([](transport& t, const msg::send_to_device& r) { return json(t.send_to_device(r)); }),
    entry<msg::ack_to_device>([](transport& t, const msg::ack_to_device& r) { return json(t.ack_to_device(r)); }),
    entry<msg::wake_federation>([](transport& t, const msg::wake_federation& r) {
      t.wake_federation(r);
      return json(0);
    }),
    entry<msg::federation_request>([](transport& t, const msg::federation_request& r) {
      return json(t.send_federation_request(r));
    }),
    entry<msg::set_typing>([](transport& t, const msg::set_typing& r) { return json(t.set_typing(r)); }),
    entry<msg::get_typing>([](transport& t, const msg::get_typing& r) { return json(t.get_typing(r)); }),
    entry<msg::put_receipt>([](transport& t, const msg::put_receipt& r) { return json(t.put_receipt(r)); }),
  };
  return t;
}

} // namespace

json serve_replication(transport& local, const std::string& wire_name, const json& request) {
  auto i = table().find(wire_name);
  if (i == table().end()) throw matrix_error(errc::unrecognized, "Unknown replication request " + wire_name);
  return i->second(local, request);
}

std::vector<std::string> replication_wire_names() {
  std::vector<std::string> out;
  for (auto& [name, h] : table()) out.push_back(name);
  return out;
}

} // namespace axon::transport
