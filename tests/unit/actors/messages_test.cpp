// Every registered message round-trips through CAF's binary serialization
// (as a value and inside a caf::message) and through its JSON codec, field
// by field (shared/STYLE.md, "One message, declared once"). Also the error
// table and the caf::error <-> errc mapping.
#include "messages/caf_types.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <tuple>
#include <vector>

using namespace axon;
using nlohmann::json;

// ---- field-by-field equality ---------------------------------------------------

namespace axon::msg {

bool operator==(const event_draft& a, const event_draft& b) {
  return std::tie(a.type, a.is_state, a.state_key, a.sender, a.content, a.redacts, a.txn_device,
                  a.txn_id) == std::tie(b.type, b.is_state, b.state_key, b.sender, b.content,
                                        b.redacts, b.txn_device, b.txn_id);
}
bool operator==(const send_events& a, const send_events& b) {
  return std::tie(a.room_id, a.room_version, a.new_room, a.drafts, a.pdus, a.outliers, a.join_state, a.origin,
                  a.relay) ==
         std::tie(b.room_id, b.room_version, b.new_room, b.drafts, b.pdus, b.outliers, b.join_state, b.origin, b.relay);
}
bool operator==(const send_events_reply& a, const send_events_reply& b) {
  return std::tie(a.event_ids, a.stream_pos, a.pdu_errors) == std::tie(b.event_ids, b.stream_pos, b.pdu_errors);
}
bool operator==(const events_row& a, const events_row& b) {
  return std::tie(a.pos, a.event_id, a.room_id, a.type, a.is_state, a.state_key, a.membership) ==
         std::tie(b.pos, b.event_id, b.room_id, b.type, b.is_state, b.state_key, b.membership);
}
bool operator==(const events_advanced& a, const events_advanced& b) {
  return std::tie(a.instance, a.pos, a.rows, a.pdus_queued) == std::tie(b.instance, b.pos, b.rows, b.pdus_queued);
}
bool operator==(const put_account_data& a, const put_account_data& b) {
  return std::tie(a.user_id, a.room_id, a.type, a.content) ==
         std::tie(b.user_id, b.room_id, b.type, b.content);
}
bool operator==(const update_room_tag& a, const update_room_tag& b) {
  return std::tie(a.user_id, a.room_id, a.tag, a.content) ==
         std::tie(b.user_id, b.room_id, b.tag, b.content);
}
bool operator==(const stream_row& a, const stream_row& b) {
  return std::tie(a.pos, a.room_id, a.user_ids) == std::tie(b.pos, b.room_id, b.user_ids);
}
bool operator==(const stream_advanced& a, const stream_advanced& b) {
  return std::tie(a.stream, a.instance, a.pos, a.rows) ==
         std::tie(b.stream, b.instance, b.pos, b.rows);
}
bool operator==(const wait_for_updates& a, const wait_for_updates& b) {
  return std::tie(a.user_id, a.since, a.room_ids, a.timeout_ms) ==
         std::tie(b.user_id, b.since, b.room_ids, b.timeout_ms);
}
bool operator==(const await_stream_position& a, const await_stream_position& b) {
  return std::tie(a.stream, a.pos) == std::tie(b.stream, b.pos);
}
bool operator==(const check_events_writers& a, const check_events_writers& b) {
  return a.writers == b.writers;
}
bool operator==(const events_writers_status& a, const events_writers_status& b) {
  return a.running == b.running && a.recorded == b.recorded;
}
bool operator==(const get_events_position& a, const get_events_position& b) {
  return a.instance == b.instance;
}
bool operator==(const stream_caught_up& a, const stream_caught_up& b) {
  return std::tie(a.stream, a.pos, a.instance) == std::tie(b.stream, b.pos, b.instance);
}
bool operator==(const upload_keys& a, const upload_keys& b) {
  return std::tie(a.user_id, a.device_id, a.device_keys, a.one_time_keys, a.fallback_keys) ==
         std::tie(b.user_id, b.device_id, b.device_keys, b.one_time_keys, b.fallback_keys);
}
bool operator==(const claim_keys& a, const claim_keys& b) { return a.claims == b.claims; }
bool operator==(const claim_keys_reply& a, const claim_keys_reply& b) {
  return a.one_time_keys == b.one_time_keys;
}
bool operator==(const device_list_changed& a, const device_list_changed& b) {
  return std::tie(a.user_id, a.device_ids, a.deleted) == std::tie(b.user_id, b.device_ids, b.deleted);
}
bool operator==(const upload_cross_signing_keys& a, const upload_cross_signing_keys& b) {
  return std::tie(a.user_id, a.master_key, a.self_signing_key, a.user_signing_key) ==
         std::tie(b.user_id, b.master_key, b.self_signing_key, b.user_signing_key);
}
bool operator==(const upload_signatures& a, const upload_signatures& b) {
  return std::tie(a.user_id, a.signatures) == std::tie(b.user_id, b.signatures);
}

bool operator==(const to_device_delivery& a, const to_device_delivery& b) {
  return std::tie(a.user_id, a.device_id, a.message) == std::tie(b.user_id, b.device_id, b.message);
}
bool operator==(const remote_to_device& a, const remote_to_device& b) {
  return std::tie(a.destination, a.message_id, a.content) == std::tie(b.destination, b.message_id, b.content);
}
bool operator==(const send_to_device& a, const send_to_device& b) {
  return std::tie(a.sender, a.sender_device, a.txn_id, a.deliveries, a.remote) ==
         std::tie(b.sender, b.sender_device, b.txn_id, b.deliveries, b.remote);
}
bool operator==(const federation_request& a, const federation_request& b) {
  return std::tie(a.destination, a.method, a.path, a.content, a.sign, a.timeout_ms) ==
         std::tie(b.destination, b.method, b.path, b.content, b.sign, b.timeout_ms);
}
bool operator==(const federation_reply& a, const federation_reply& b) {
  return std::tie(a.status, a.body, a.error) == std::tie(b.status, b.body, b.error);
}
bool operator==(const wake_federation& a, const wake_federation& b) {
  return std::tie(a.destinations, a.server_up) == std::tie(b.destinations, b.server_up);
}
bool operator==(const ack_to_device& a, const ack_to_device& b) {
  return std::tie(a.user_id, a.device_id, a.up_to) == std::tie(b.user_id, b.device_id, b.up_to);
}

bool operator==(const set_typing& a, const set_typing& b) {
  return std::tie(a.room_id, a.user_id, a.typing, a.timeout_ms) ==
         std::tie(b.room_id, b.user_id, b.typing, b.timeout_ms);
}
bool operator==(const get_typing& a, const get_typing& b) {
  return std::tie(a.room_ids, a.since) == std::tie(b.room_ids, b.since);
}
bool operator==(const typing_room& a, const typing_room& b) {
  return std::tie(a.room_id, a.user_ids) == std::tie(b.room_id, b.user_ids);
}
bool operator==(const typing_snapshot& a, const typing_snapshot& b) {
  return std::tie(a.pos, a.rooms) == std::tie(b.pos, b.rooms);
}
bool operator==(const put_receipt& a, const put_receipt& b) {
  return std::tie(a.room_id, a.receipt_type, a.user_id, a.event_id, a.thread_id, a.data) ==
         std::tie(b.room_id, b.receipt_type, b.user_id, b.event_id, b.thread_id, b.data);
}
bool operator==(const set_presence& a, const set_presence& b) {
  return std::tie(a.user_id, a.presence, a.status_msg, a.remote, a.last_active_ago, a.currently_active) ==
         std::tie(b.user_id, b.presence, b.status_msg, b.remote, b.last_active_ago, b.currently_active);
}
bool operator==(const user_syncing& a, const user_syncing& b) {
  return std::tie(a.user_id, a.presence, a.timeout_ms) ==
         std::tie(b.user_id, b.presence, b.timeout_ms);
}

bool operator==(const outbound_request& a, const outbound_request& b) {
  return std::tie(a.method, a.url, a.headers, a.body, a.timeout_ms, a.tls_server_name, a.retry, a.federation) ==
         std::tie(b.method, b.url, b.headers, b.body, b.timeout_ms, b.tls_server_name, b.retry, b.federation);
}
bool operator==(const outbound_response& a, const outbound_response& b) {
  return std::tie(a.status, a.headers, a.body, a.error, a.timed_out) ==
         std::tie(b.status, b.headers, b.body, b.error, b.timed_out);
}

bool operator==(const change_push_rule& a, const change_push_rule& b) {
  return std::tie(a.user_id, a.op, a.kind, a.rule_id, a.body, a.before, a.after, a.enabled) ==
         std::tie(b.user_id, b.op, b.kind, b.rule_id, b.body, b.before, b.after, b.enabled);
}

template <class T>
bool operator!=(const T& a, const T& b) {
  return !(a == b);
}

} // namespace axon::msg

namespace {

// ---- samples: every field differs from its default -----------------------------

msg::event_draft sample_draft(int i) {
  msg::event_draft d;
  d.type = "m.room.member" + std::to_string(i);
  d.is_state = true;
  d.state_key = "@bob:example.org";
  d.sender = "@alice:example.org";
  d.content = R"({"membership":"join","displayname":"Grüße 🎉"})";
  d.redacts = "$target" + std::to_string(i);
  d.txn_device = "DEVICEID";
  d.txn_id = "txn-" + std::to_string(i);
  return d;
}

msg::events_row sample_row(int64_t pos) {
  return {pos, "$ev" + std::to_string(pos), "!room:example.org", "m.room.member", true,
          "@bob:example.org", "join"};
}

msg::send_events sample_send_events() {
  return {"!room:example.org", "11",  true, {sample_draft(1), sample_draft(2)}, {R"({"type":"m.room.message"})"},
          {R"({"type":"m.room.power_levels"})"}, {R"({"type":"m.room.create"})"}, "remote.example.org", true};
}

msg::send_events_reply sample_reply() { return {{"$a", "$b", "$c"}, 4711, {"", "rejected: no"}}; }

msg::events_advanced sample_advanced() {
  return {"event_persister1", 43, {sample_row(42), sample_row(43)}, true};
}

msg::put_account_data sample_put_account_data() {
  return {"@alice:example.org", "!room:example.org", "m.tag",
          R"({"tags":{"u.work":{"order":0.5}},"note":"Grüße 🎉"})"};
}

msg::update_room_tag sample_update_room_tag() {
  return {"@alice:example.org", "!room:example.org", "m.favourite", R"({"order":0.25})"};
}

msg::stream_row sample_stream_row(int64_t pos) {
  return {pos, "!room:example.org", {"@alice:example.org", "@bob:example.org"}};
}

msg::stream_advanced sample_stream_advanced() {
  return {static_cast<uint8_t>(stream_id::account_data), "account_data_writer1", 43,
          {sample_stream_row(42), sample_stream_row(43)}};
}

msg::wait_for_updates sample_wait() {
  return {"@alice:example.org", {17, 1, 2, 3, 4, 5, 6, 7}, {"!a:example.org", "!b:example.org"},
          30000};
}

msg::await_stream_position sample_await() {
  return {static_cast<uint8_t>(stream_id::account_data), 99};
}

// ---- round trips -----------------------------------------------------------------

struct system_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    register_message_types(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    return cfg;
  }
  system_fixture() : sys(init(cfg)) {}

  template <class T>
  T binary_value_round_trip(T x) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    REQUIRE_FALSE(sink(x));
    REQUIRE_FALSE(buf.empty());
    T back;
    caf::binary_deserializer source{sys, buf};
    REQUIRE_FALSE(source(back));
    CHECK(source.remaining() == 0);
    return back;
  }

  /// Through a caf::message: this needs the type registered (an unregistered
  /// one serializes to nothing, with only a line on stderr).
  template <class T>
  T binary_message_round_trip(const T& x) {
    auto m = caf::make_message(x);
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    REQUIRE_FALSE(sink(m));
    REQUIRE_FALSE(buf.empty());
    caf::message back;
    caf::binary_deserializer source{sys, buf};
    REQUIRE_FALSE(source(back));
    CHECK(source.remaining() == 0);
    REQUIRE(back.match_elements<T>());
    return back.get_as<T>(0);
  }
};

/// Counts the fields `inspect` visits (annotations such as type_name aside).
struct field_counter {
  using result_type = void;
  static constexpr bool reads_state = true;
  static constexpr bool writes_state = false;
  size_t n = 0;
  template <class... Ts>
  void operator()(Ts&&...) {
    n += (0 + ... + (std::is_base_of<caf::meta::annotation, std::decay_t<Ts>>::value ? 0 : 1));
  }
};

template <class T>
size_t inspected_fields(T x) {
  field_counter f;
  inspect(f, x);
  return f.n;
}

template <class T>
T json_round_trip(const T& x) {
  json j = x;
  // Through text, as it travels.
  return json::parse(j.dump()).get<T>();
}

/// The full check for one message type.
template <class T>
void check_round_trips(system_fixture& f, const T& x) {
  CAPTURE(caf::deep_to_string(x));
  CHECK(x != T{}); // the sample really sets fields

  auto by_value = f.binary_value_round_trip(x);
  CHECK(by_value == x);
  auto by_message = f.binary_message_round_trip(x);
  CHECK(by_message == x);

  auto by_json = json_round_trip(x);
  CHECK(by_json == x);
  // inspect and the JSON codec must list the same fields: a field missing
  // from the JSON codec comes back default and shows here.
  CHECK(caf::deep_to_string(by_json) == caf::deep_to_string(x));
  // The JSON has one key per inspected field and no more.
  CHECK(json(x).size() == inspected_fields(x));

  // std::vector<T>, which registration adds, round-trips too.
  std::vector<T> v = {x, T{}, x};
  CHECK(f.binary_message_round_trip(v) == v);
  CHECK(json_round_trip(v) == v);
}

/// The registered names of every message type (not CAF's built-ins).
std::set<std::string> registered_names() {
  caf::actor_system_config cfg;
  std::set<std::string> before;
  for (auto& kvp : cfg.type_names_by_rtti) before.insert(kvp.second);
  register_message_types(cfg);
  std::set<std::string> out;
  // add_message_type<T> also registers stream<T> and std::vector<T> beside
  // each type; check_round_trips covers the vectors.
  for (auto& kvp : cfg.type_names_by_rtti) {
    auto& name = kvp.second;
    if (!before.count(name) && name.rfind("stream<", 0) != 0 && name.rfind("std::vector<", 0) != 0)
      out.insert(name);
  }
  return out;
}

} // namespace

// ---- cases ---------------------------------------------------------------------

TEST_CASE("every registered message type is covered here, under its wire name") {
  std::set<std::string> covered = {
    msg::event_draft::wire_name,     msg::send_events::wire_name,
    msg::send_events_reply::wire_name, msg::events_row::wire_name,
    msg::events_advanced::wire_name, msg::put_account_data::wire_name,
    msg::update_room_tag::wire_name, msg::stream_row::wire_name,
    msg::stream_advanced::wire_name, msg::wait_for_updates::wire_name,
    msg::await_stream_position::wire_name, msg::stream_caught_up::wire_name, msg::get_events_position::wire_name,
    msg::check_events_writers::wire_name, msg::events_writers_status::wire_name,
    msg::upload_keys::wire_name, msg::claim_keys::wire_name,
    msg::claim_keys_reply::wire_name, msg::device_list_changed::wire_name,
    msg::upload_cross_signing_keys::wire_name, msg::upload_signatures::wire_name,
    msg::to_device_delivery::wire_name, msg::send_to_device::wire_name,
    msg::ack_to_device::wire_name, msg::remote_to_device::wire_name,
    msg::wake_federation::wire_name, msg::federation_request::wire_name, msg::federation_reply::wire_name,
    msg::set_typing::wire_name, msg::get_typing::wire_name,
    msg::typing_room::wire_name, msg::typing_snapshot::wire_name,
    msg::put_receipt::wire_name, msg::set_presence::wire_name,
    msg::user_syncing::wire_name, msg::change_push_rule::wire_name,
    msg::outbound_request::wire_name, msg::outbound_response::wire_name,
  };
  auto registered = registered_names();
  for (auto& name : registered) CHECK_MESSAGE(covered.count(name), "not covered: " << name);
  for (auto& name : covered) CHECK_MESSAGE(registered.count(name), "not registered: " << name);
}

TEST_CASE_FIXTURE(system_fixture, "event_draft round-trips") {
  check_round_trips(*this, sample_draft(7));
  // And a non-state draft with empty optional parts.
  msg::event_draft plain;
  plain.type = "m.room.message";
  plain.sender = "@a:x";
  plain.content = "{}";
  check_round_trips(*this, plain);
}

TEST_CASE_FIXTURE(system_fixture, "std::vector<event_draft> round-trips") {
  std::vector<msg::event_draft> v = {sample_draft(1), sample_draft(2), sample_draft(3)};
  CHECK(binary_message_round_trip(v) == v);
  CHECK(binary_value_round_trip(v) == v);
  CHECK(json_round_trip(v) == v);
}

TEST_CASE_FIXTURE(system_fixture, "send_events round-trips") {
  check_round_trips(*this, sample_send_events());
}

TEST_CASE_FIXTURE(system_fixture, "send_events_reply round-trips") {
  check_round_trips(*this, sample_reply());
}

TEST_CASE_FIXTURE(system_fixture, "events_row round-trips") {
  check_round_trips(*this, sample_row(12345678901234));
  // Positions beyond 32 bits and negative values survive.
  auto r = sample_row(-5);
  check_round_trips(*this, r);
}

TEST_CASE_FIXTURE(system_fixture, "std::vector<events_row> round-trips") {
  std::vector<msg::events_row> v = {sample_row(1), sample_row(2)};
  CHECK(binary_message_round_trip(v) == v);
  CHECK(binary_value_round_trip(v) == v);
  CHECK(json_round_trip(v) == v);
}

TEST_CASE_FIXTURE(system_fixture, "events_advanced round-trips") {
  check_round_trips(*this, sample_advanced());
}

TEST_CASE_FIXTURE(system_fixture, "put_account_data round-trips") {
  check_round_trips(*this, sample_put_account_data());
  // Global account data: no room.
  check_round_trips(*this, msg::put_account_data{"@a:x", "", "m.direct", "{}"});
}

TEST_CASE_FIXTURE(system_fixture, "update_room_tag round-trips") {
  check_round_trips(*this, sample_update_room_tag());
  // Removing a tag: empty content.
  check_round_trips(*this, msg::update_room_tag{"@a:x", "!r:x", "u.work", ""});
}

TEST_CASE_FIXTURE(system_fixture, "stream_row round-trips") {
  check_round_trips(*this, sample_stream_row(12345678901234));
  // Rows about a room only, and about users only.
  check_round_trips(*this, msg::stream_row{7, "!r:x", {}});
  check_round_trips(*this, msg::stream_row{-5, "", {"@a:x"}});
}

TEST_CASE_FIXTURE(system_fixture, "stream_advanced round-trips") {
  check_round_trips(*this, sample_stream_advanced());
  // The last stream id and a row-less advance.
  check_round_trips(*this, msg::stream_advanced{static_cast<uint8_t>(stream_count - 1), "w", 1, {}});
}

TEST_CASE_FIXTURE(system_fixture, "wait_for_updates round-trips") {
  check_round_trips(*this, sample_wait());
}

TEST_CASE_FIXTURE(system_fixture, "await_stream_position round-trips") {
  check_round_trips(*this, sample_await());
}

TEST_CASE_FIXTURE(system_fixture, "check_events_writers and events_writers_status round-trip") {
  check_round_trips(*this, msg::check_events_writers{{"event_persister1", "event_persister2"}});
  check_round_trips(*this, msg::events_writers_status{{"event_persister2"}, {41, 0}});
}

TEST_CASE_FIXTURE(system_fixture, "get_events_position round-trips") {
  check_round_trips(*this, msg::get_events_position{"event_persister1"});
}

TEST_CASE_FIXTURE(system_fixture, "stream_caught_up round-trips") {
  check_round_trips(*this, msg::stream_caught_up{static_cast<uint8_t>(stream_id::receipts), 12, ""});
  check_round_trips(*this, msg::stream_caught_up{static_cast<uint8_t>(stream_id::events), 7, "w2"});
}

TEST_CASE_FIXTURE(system_fixture, "a request message (atom-free tuple) round-trips whole") {
  // What the transport would carry: several values in one message.
  auto m = caf::make_message(sample_send_events(), sample_reply());
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  REQUIRE_FALSE(sink(m));
  caf::message back;
  caf::binary_deserializer source{sys, buf};
  REQUIRE_FALSE(source(back));
  REQUIRE(back.match_elements<msg::send_events, msg::send_events_reply>());
  CHECK(back.get_as<msg::send_events>(0) == sample_send_events());
  CHECK(back.get_as<msg::send_events_reply>(1) == sample_reply());
}

TEST_CASE("JSON field names are the struct's field names") {
  json j = sample_wait();
  CHECK(j == json{{"user_id", "@alice:example.org"},
                  {"since", {17, 1, 2, 3, 4, 5, 6, 7}},
                  {"room_ids", {"!a:example.org", "!b:example.org"}},
                  {"timeout_ms", 30000}});
  json r = sample_row(3);
  CHECK(r == json{{"pos", 3},
                  {"event_id", "$ev3"},
                  {"room_id", "!room:example.org"},
                  {"type", "m.room.member"},
                  {"is_state", true},
                  {"state_key", "@bob:example.org"},
                  {"membership", "join"}});
  json a = sample_stream_advanced();
  CHECK(a == json{{"stream", 4},
                  {"instance", "account_data_writer1"},
                  {"pos", 43},
                  {"rows",
                   {{{"pos", 42},
                     {"room_id", "!room:example.org"},
                     {"user_ids", {"@alice:example.org", "@bob:example.org"}}},
                    {{"pos", 43},
                     {"room_id", "!room:example.org"},
                     {"user_ids", {"@alice:example.org", "@bob:example.org"}}}}}});
  json t = sample_update_room_tag();
  CHECK(t == json{{"user_id", "@alice:example.org"},
                  {"room_id", "!room:example.org"},
                  {"tag", "m.favourite"},
                  {"content", R"({"order":0.25})"}});
  // A missing field is an error, not a silent default.
  CHECK_THROWS_AS(json::object().get<msg::await_stream_position>(), json::exception);
  CHECK_THROWS_AS(json({{"pos", 1}}).get<msg::await_stream_position>(), json::exception);
  CHECK_THROWS_AS(json({{"stream", 4}, {"pos", "1"}}).get<msg::await_stream_position>(),
                  json::exception);
  CHECK_THROWS_AS(json({{"user_id", "@a:x"}, {"room_id", ""}, {"type", "m.x"}})
                    .get<msg::put_account_data>(),
                  json::exception);
}

// ---- errors ----------------------------------------------------------------------

TEST_CASE_FIXTURE(system_fixture, "make_error / from_caf_error round-trip code and text") {
  auto err = make_error(errc::forbidden, "x");
  CHECK(err.category() == caf::atom("matrix"));
  auto [code, text] = from_caf_error(err);
  CHECK(code == errc::forbidden);
  CHECK(text == "x");
  CHECK(sys.render(err).find("M_FORBIDDEN") != std::string::npos);

  // Also after crossing a process boundary in CAF's binary form.
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  REQUIRE_FALSE(sink(err));
  caf::error back;
  caf::binary_deserializer source{sys, buf};
  REQUIRE_FALSE(source(back));
  auto [code2, text2] = from_caf_error(back);
  CHECK(code2 == errc::forbidden);
  CHECK(text2 == "x");

  auto [c3, t3] = from_caf_error(make_error(errc::not_found, ""));
  CHECK(c3 == errc::not_found);
  CHECK(t3.empty());
}

TEST_CASE("from_caf_error maps CAF's own errors") {
  CHECK(from_caf_error(caf::make_error(caf::sec::request_timeout)).first == errc::timeout);
  CHECK(from_caf_error(caf::make_error(caf::sec::request_receiver_down)).first ==
        errc::unavailable);
  CHECK(from_caf_error(caf::make_error(caf::sec::unexpected_response)).first ==
        errc::unavailable);
}

TEST_CASE("every errc has an M_ errcode and a 4xx/5xx status") {
  const auto first = static_cast<int>(errc::unknown);
  const auto last = static_cast<int>(errc::last);
  // `errc::last` names the last value.
  for (int i = first; i <= last; ++i) {
    auto e = static_cast<errc>(i);
    auto inf = info(e);
    CAPTURE(i);
    REQUIRE(inf.errcode != nullptr);
    CHECK(std::string(inf.errcode).rfind("M_", 0) == 0);
    CHECK(inf.status >= 400);
    CHECK(inf.status <= 599);
    CHECK(std::string(to_string(e)) == inf.errcode);
  }
  CHECK(info(errc::forbidden).status == 403);
  CHECK(std::string(info(errc::forbidden).errcode) == "M_FORBIDDEN");
  // Another server's error passes on when it is one of ours, else 502.
  CHECK(errc_from("M_NOT_FOUND", 404) == errc::not_found);
  CHECK(errc_from("M_NOT_FOUND", 400) == errc::bad_gateway);
  CHECK(errc_from("M_UNKNOWN", 500) == errc::bad_gateway);
  CHECK(errc_from("M_WHATEVER", 403) == errc::bad_gateway);
  CHECK(info(errc::bad_gateway).status == 502);
  CHECK(info(errc::limit_exceeded).status == 429);
  CHECK(info(errc::unknown_token).status == 401);
  CHECK(info(errc::timeout).status == 504);
}

TEST_CASE_FIXTURE(system_fixture, "device_lists writer requests round-trip") {
  check_round_trips(*this, msg::upload_keys{"@a:x", "DEV", R"({"keys":{"ed25519:DEV":"k"}})",
                                            R"({"signed_curve25519:A":{"key":"é"}})", ""});
  check_round_trips(*this, msg::claim_keys{R"({"@a:x":{"DEV":"signed_curve25519"}})"});
  check_round_trips(*this, msg::claim_keys_reply{R"({"@a:x":{"DEV":{"signed_curve25519:A":"k"}}})"});
  check_round_trips(*this, msg::device_list_changed{"@a:x", {"D1", "D2"}, true});
  check_round_trips(*this, msg::device_list_changed{"@a:x", {}, false});
  check_round_trips(*this, msg::upload_cross_signing_keys{"@a:x", R"({"usage":["master"]})", "",
                                                          R"({"usage":["user_signing"]})"});
  check_round_trips(*this, msg::upload_signatures{"@a:x", R"([{"key_id":"ed25519:K"}])"});
}

TEST_CASE_FIXTURE(system_fixture, "to_device writer requests round-trip") {
  msg::to_device_delivery d1{"@b:x", "BDEV", R"({"sender":"@a:x","type":"m.t","content":{"é":1}})"};
  msg::to_device_delivery d2{"@c:x", "C2", R"({"sender":"@a:x","type":"m.t","content":{}})"};
  check_round_trips(*this, d1);
  check_round_trips(*this, msg::send_to_device{"@a:x", "ADEV", "txn-1", {d1, d2}});
  check_round_trips(*this, msg::send_to_device{"@a:x", "ADEV", "txn-2", {}});
  msg::remote_to_device r1{"other.example:8448", "mid1", R"({"sender":"@a:x","messages":{}})"};
  check_round_trips(*this, r1);
  check_round_trips(*this, msg::send_to_device{"@a:x", "ADEV", "txn-3", {d1}, {r1}});
  check_round_trips(*this, msg::wake_federation{{"a.example", "b.example:8448"}, false});
  check_round_trips(*this, msg::wake_federation{{"a.example"}, true});
  check_round_trips(*this, msg::federation_request{"b.example", "POST", "/_matrix/federation/v1/user/keys/query",
                                                   R"({"device_keys":{}})", true, 10000});
  check_round_trips(*this, msg::federation_request{"b.example", "GET", "/_matrix/key/v2/server", "", false, 0});
  check_round_trips(*this, msg::federation_reply{200, R"({"ü":1})", ""});
  check_round_trips(*this, msg::federation_reply{0, "", "cannot connect"});
  check_round_trips(*this, msg::ack_to_device{"@b:x", "BDEV", 12345678901234});
}

TEST_CASE_FIXTURE(system_fixture, "typing and receipts writer requests round-trip") {
  check_round_trips(*this, msg::set_typing{"!r:x", "@a:x", true, 30000});
  check_round_trips(*this, msg::set_typing{"!r:x", "@a:x", false, 0});
  check_round_trips(*this, msg::get_typing{{"!r:x", "!s:x"}, 12345678901234});
  msg::typing_room typing{"!r:x", {"@a:x", "@b:x"}};
  check_round_trips(*this, typing);
  check_round_trips(*this, msg::typing_snapshot{7, {typing, msg::typing_room{"!s:x", {}}}});
  check_round_trips(*this, msg::put_receipt{"!r:x", "m.read", "@a:x", "$e", "main",
                                            R"({"ts":1700000000000,"é":1})"});
  check_round_trips(*this, msg::put_receipt{"!r:x", "m.read.private", "@a:x", "$e", "", "{}"});
}

TEST_CASE_FIXTURE(system_fixture, "presence writer requests round-trip") {
  check_round_trips(*this, msg::set_presence{"@a:x", "unavailable", "Grüße 🎉"});
  check_round_trips(*this, msg::set_presence{"@a:x", "online", "", true, 4200, true});
  check_round_trips(*this, msg::user_syncing{"@a:x", "online", 30000});
}

TEST_CASE_FIXTURE(system_fixture, "push_rules writer requests round-trip") {
  check_round_trips(*this, msg::change_push_rule{"@a:x", msg::change_push_rule::put, "content",
                                                 "my.rule", R"({"pattern":"é*","actions":[]})",
                                                 "other.rule", "third.rule", false});
  msg::change_push_rule enable{"@a:x", msg::change_push_rule::set_enabled, "override",
                               ".m.rule.master", "", "", "", true};
  check_round_trips(*this, enable);
}

TEST_CASE_FIXTURE(system_fixture, "outbound HTTP client messages round-trip") {
  check_round_trips(*this, msg::outbound_request{"POST", "unix:/run/axon.sock:/_axon/replication/x",
                                                 {{"Authorization", "Bearer s"}, {"X-É", "ü"}},
                                                 R"({"txn":"t"})", 2500, "example.org", true});
  check_round_trips(*this, msg::outbound_request{"PUT", "https://b.example:8448/_matrix/federation/v1/send/1", {},
                                                 "{}", 0, "b.example", false, true});
  check_round_trips(*this, msg::outbound_response{200, {{"Content-Type", "application/json"}}, "{}", "", false});
  check_round_trips(*this, msg::outbound_response{0, {}, "", "timed out after 5 ms", true});
}
