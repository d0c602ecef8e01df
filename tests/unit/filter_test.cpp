// Client-server API filters: parsing, matching and event_fields
// (client-server API "Filtering"; appendices "Dot-separated property paths").
#include "matrix/filter.hpp"

#include <doctest/doctest.h>

#include <climits>

using nlohmann::json;
using namespace axon::matrix;

namespace {

json event(const std::string& type, const std::string& sender, const std::string& room,
           json content = json::object()) {
  return {{"type", type}, {"sender", sender}, {"room_id", room}, {"content", std::move(content)}};
}

sync_filter parse_ok(const json& j) {
  std::string why;
  auto f = parse_sync_filter(j, &why);
  REQUIRE_MESSAGE(f.has_value(), why);
  return *f;
}

std::string parse_error(const json& j) {
  std::string why;
  auto f = parse_sync_filter(j, &why);
  CHECK_FALSE(f.has_value());
  return why;
}

} // namespace

TEST_CASE("filter: empty filter has the defaults and matches everything") {
  sync_filter f = parse_ok(json::object());
  CHECK(f.event_format == "client");
  CHECK(f.event_fields.empty());
  CHECK_FALSE(f.room.include_leave);
  CHECK(f.room.timeline.limit == -1);
  CHECK_FALSE(f.room.state.lazy_load_members);
  CHECK_FALSE(f.room.timeline.contains_url.has_value());
  CHECK(f.room.match_room("!a:x"));
  CHECK(f.room.timeline.match(event("m.room.message", "@a:x", "!a:x")));
  CHECK(f.presence.match(json{{"type", "m.presence"}, {"sender", "@a:x"}}));
}

TEST_CASE("filter: spec example filter") {
  // client-server API, POST /user/{userId}/filter request example.
  const json j = json::parse(R"({
    "room": {
      "state": {"types": ["m.room.*"], "not_rooms": ["!726s6s6q:example.com"]},
      "timeline": {"limit": 10, "types": ["m.room.message"],
                   "not_rooms": ["!726s6s6q:example.com"], "not_senders": ["@spam:example.com"]},
      "ephemeral": {"types": ["m.receipt", "m.typing"],
                    "not_rooms": ["!726s6s6q:example.com"], "not_senders": ["@spam:example.com"]}
    },
    "presence": {"types": ["m.presence"], "not_senders": ["@alice:example.com"]},
    "event_format": "client",
    "event_fields": ["type", "content", "sender"]
  })");
  sync_filter f = parse_ok(j);
  CHECK(f.room.timeline.limit == 10);
  CHECK(f.event_fields == std::vector<std::string>{"type", "content", "sender"});
  const std::string bad_room = "!726s6s6q:example.com";
  CHECK(f.room.state.match(event("m.room.name", "@a:x", "!r:x")));
  CHECK_FALSE(f.room.state.match(event("m.room.name", "@a:x", bad_room)));
  CHECK_FALSE(f.room.state.match(event("org.custom", "@a:x", "!r:x")));
  CHECK(f.room.timeline.match(event("m.room.message", "@a:x", "!r:x")));
  CHECK_FALSE(f.room.timeline.match(event("m.room.message", "@spam:example.com", "!r:x")));
  CHECK_FALSE(f.room.timeline.match(event("m.room.member", "@a:x", "!r:x")));
  CHECK(f.room.ephemeral.match_room("!r:x"));
  CHECK_FALSE(f.room.ephemeral.match_room(bad_room));
  CHECK(f.presence.match(json{{"type", "m.presence"}, {"sender", "@bob:example.com"}}));
  CHECK_FALSE(f.presence.match(json{{"type", "m.presence"}, {"sender", "@alice:example.com"}}));
}

TEST_CASE("filter: type wildcards") {
  event_filter f;
  f.types = std::vector<std::string>{"m.room.*"};
  CHECK(f.match(json{{"type", "m.room.message"}}));
  CHECK(f.match(json{{"type", "m.room."}}));
  CHECK_FALSE(f.match(json{{"type", "m.roomy"}}));
  CHECK_FALSE(f.match(json{{"type", "m.call.invite"}}));
  CHECK_FALSE(f.match(json{{"content", json::object()}}));  // no type

  f.types = std::vector<std::string>{"*.member", "m.*.invite", "exact"};
  CHECK(f.match(json{{"type", "m.room.member"}}));
  CHECK(f.match(json{{"type", "m.call.invite"}}));
  CHECK(f.match(json{{"type", "exact"}}));
  CHECK_FALSE(f.match(json{{"type", "exactly"}}));
  CHECK_FALSE(f.match(json{{"type", "m.call.invite.x"}}));

  f.types = std::vector<std::string>{"*"};
  CHECK(f.match(json{{"type", ""}}));
  CHECK(f.match(json{{"type", "anything"}}));
}

TEST_CASE("filter: not_* lists win over allow lists; empty allow lists match nothing") {
  event_filter f;
  f.types = std::vector<std::string>{"m.*"};
  f.not_types = std::vector<std::string>{"m.room.member"};
  CHECK(f.match(json{{"type", "m.room.message"}}));
  CHECK_FALSE(f.match(json{{"type", "m.room.member"}}));

  f.senders = std::vector<std::string>{"@a:x", "@b:x"};
  f.not_senders = std::vector<std::string>{"@b:x"};
  CHECK(f.match(json{{"type", "m.room.message"}, {"sender", "@a:x"}}));
  CHECK_FALSE(f.match(json{{"type", "m.room.message"}, {"sender", "@b:x"}}));
  CHECK_FALSE(f.match(json{{"type", "m.room.message"}, {"sender", "@c:x"}}));
  CHECK_FALSE(f.match(json{{"type", "m.room.message"}}));  // account data has no sender

  event_filter none;
  none.types = std::vector<std::string>{};
  CHECK_FALSE(none.match(json{{"type", "m.room.message"}}));

  event_filter deny_all;
  deny_all.not_types = std::vector<std::string>{"*"};
  CHECK_FALSE(deny_all.match(json{{"type", "m.room.message"}}));
  CHECK(deny_all.match(json{{"content", 1}}));  // no type: nothing to exclude

  CHECK(event_filter{}.match(json::array()));  // non-objects are not rejected by absent lists
}

TEST_CASE("filter: rooms and contains_url") {
  room_event_filter f;
  f.rooms = std::vector<std::string>{"!a:x", "!b:x"};
  f.not_rooms = std::vector<std::string>{"!b:x"};
  CHECK(f.match_room("!a:x"));
  CHECK_FALSE(f.match_room("!b:x"));
  CHECK_FALSE(f.match_room("!c:x"));
  CHECK(f.match(event("m.room.message", "@u:x", "!a:x")));
  CHECK_FALSE(f.match(event("m.room.message", "@u:x", "!b:x")));
  CHECK_FALSE(f.match(json{{"type", "m.typing"}}));  // no room_id but a rooms list

  room_event_filter only_not;
  only_not.not_rooms = std::vector<std::string>{"!b:x"};
  CHECK(only_not.match(json{{"type", "m.typing"}}));

  room_event_filter urls;
  urls.contains_url = true;
  CHECK(urls.match(event("m.room.message", "@u:x", "!a:x", {{"url", "mxc://x/y"}})));
  CHECK_FALSE(urls.match(event("m.room.message", "@u:x", "!a:x", {{"body", "x"}})));
  CHECK_FALSE(urls.match(event("m.room.message", "@u:x", "!a:x", {{"url", 5}})));
  urls.contains_url = false;
  CHECK_FALSE(urls.match(event("m.room.message", "@u:x", "!a:x", {{"url", "mxc://x/y"}})));
  CHECK(urls.match(event("m.room.message", "@u:x", "!a:x", {{"body", "x"}})));
  CHECK(urls.match(json{{"type", "m.room.message"}, {"content", "weird"}}));

  room_filter rf;
  rf.not_rooms = std::vector<std::string>{"!b:x"};
  CHECK(rf.match_room("!a:x"));
  CHECK_FALSE(rf.match_room("!b:x"));
  rf.rooms = std::vector<std::string>{};
  CHECK_FALSE(rf.match_room("!a:x"));
}

TEST_CASE("filter: parsing room event filter fields") {
  sync_filter f = parse_ok(json::parse(R"({
    "room": {"include_leave": true, "rooms": ["!a:x"], "not_rooms": ["!b:x"],
             "state": {"lazy_load_members": true, "include_redundant_members": true},
             "timeline": {"contains_url": false, "unread_thread_notifications": true,
                          "senders": ["@a:x"], "not_types": ["m.typing"]},
             "account_data": {"limit": 0}},
    "account_data": {"types": ["m.push_rules"]},
    "event_format": "federation",
    "some_future_key": {"ignored": true}
  })"));
  CHECK(f.room.include_leave);
  CHECK(f.room.match_room("!a:x"));
  CHECK_FALSE(f.room.match_room("!b:x"));
  CHECK(f.room.state.lazy_load_members);
  CHECK(f.room.state.include_redundant_members);
  CHECK(f.room.timeline.contains_url == std::optional<bool>(false));
  CHECK(f.room.timeline.unread_thread_notifications);
  CHECK(f.room.timeline.senders == std::vector<std::string>{"@a:x"});
  CHECK(f.room.timeline.not_types == std::vector<std::string>{"m.typing"});
  CHECK(f.room.account_data.limit == 0);
  CHECK(f.account_data.types == std::vector<std::string>{"m.push_rules"});
  CHECK(f.event_format == "federation");
}

TEST_CASE("filter: limits") {
  CHECK(parse_ok({{"room", {{"timeline", {{"limit", 20}}}}}}).room.timeline.limit == 20);
  CHECK(parse_ok({{"room", {{"timeline", {{"limit", 20.0}}}}}}).room.timeline.limit == 20);
  CHECK(parse_ok({{"presence", {{"limit", 1e12}}}}).presence.limit == INT_MAX);
  CHECK(parse_ok({{"presence", {{"limit", 18446744073709551615ULL}}}}).presence.limit == INT_MAX);
  CHECK(parse_error({{"room", {{"timeline", {{"limit", -1}}}}}}) ==
        "room.timeline.limit must not be negative");
  CHECK(parse_error({{"room", {{"timeline", {{"limit", 2.5}}}}}}) ==
        "room.timeline.limit must be an integer");
  CHECK(parse_error({{"presence", {{"limit", "10"}}}}) == "presence.limit must be an integer");
}

TEST_CASE("filter: invalid filters are rejected with a reason") {
  CHECK(parse_error(json::array()) == "filter must be an object");
  CHECK(parse_error("x") == "filter must be an object");
  CHECK(parse_error({{"event_format", "xml"}}) == "event_format must be 'client' or 'federation'");
  CHECK(parse_error({{"event_format", 1}}) == "event_format must be 'client' or 'federation'");
  CHECK(parse_error({{"event_fields", "content"}}) == "event_fields must be an array of strings");
  CHECK(parse_error({{"event_fields", {"content", 1}}}) ==
        "event_fields must be an array of strings");
  CHECK(parse_error({{"room", 5}}) == "room must be an object");
  CHECK(parse_error({{"room", {{"timeline", json::array()}}}}) ==
        "room.timeline must be an object");
  CHECK(parse_error({{"room", {{"rooms", {"not-a-room"}}}}}) ==
        "room.rooms entries must start with '!'");
  CHECK(parse_error({{"room", {{"state", {{"senders", {"bob"}}}}}}}) ==
        "room.state.senders entries must start with '@'");
  CHECK(parse_error({{"room", {{"include_leave", "yes"}}}}) ==
        "room.include_leave must be a boolean");
  CHECK(parse_error({{"room", {{"state", {{"lazy_load_members", 1}}}}}}) ==
        "room.state.lazy_load_members must be a boolean");
  CHECK(parse_error({{"room", {{"timeline", {{"contains_url", nullptr}}}}}}) ==
        "room.timeline.contains_url must be a boolean");
  CHECK(parse_error({{"presence", {{"types", nullptr}}}}) ==
        "presence.types must be an array of strings");
  CHECK(parse_error({{"account_data", {{"not_types", {1}}}}}) ==
        "account_data.not_types must be an array of strings");
  // A null `why` is allowed.
  CHECK_FALSE(parse_sync_filter(json::array(), nullptr).has_value());
}

TEST_CASE("filter: parse_room_event_filter for /messages") {
  std::string why;
  auto f = parse_room_event_filter(
      json::parse(R"({"types": ["m.room.message"], "lazy_load_members": true, "limit": 5,
                      "not_rooms": ["!x:y"]})"),
      &why);
  REQUIRE(f.has_value());
  CHECK(f->lazy_load_members);
  CHECK(f->limit == 5);
  CHECK(f->match(event("m.room.message", "@a:b", "!r:y")));
  CHECK_FALSE(f->match(event("m.room.message", "@a:b", "!x:y")));
  CHECK_FALSE(parse_room_event_filter(json{{"contains_url", "yes"}}, &why).has_value());
  CHECK(why == "contains_url must be a boolean");
  CHECK_FALSE(parse_room_event_filter(json(5), &why).has_value());
  CHECK(why == "filter must be an object");
}

TEST_CASE("filter: splitting dotted paths") {
  // Vectors from Synapse's split_field tests (rust/src/events/serialize.rs).
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"m", {"m"}},
      {"m.foo", {"m", "foo"}},
      {"m.foo.bar", {"m", "foo", "bar"}},
      {R"(m\.foo)", {"m.foo"}},
      {R"(m\\.foo)", {"m\\", "foo"}},
      {R"(m\\\.foo)", {R"(m\.foo)"}},
      {R"(m\\\\.foo)", {R"(m\\)", "foo"}},
      {R"(m\foo)", {R"(m\foo)"}},
      {R"(m\\foo)", {R"(m\foo)"}},
      {R"(m\\\foo)", {R"(m\\foo)"}},
      {R"(m\\\\foo)", {R"(m\\foo)"}},
      {"m.foo\\", {"m", "foo\\"}},
      {R"(m.foo\.)", {"m", "foo."}},
      {R"(m.foo\\.)", {"m", "foo\\", ""}},
      {R"(m.foo\\\.)", {"m", R"(foo\.)"}},
      {".m", {"", "m"}},
      {"..m", {"", "", "m"}},
      {"m.", {"m", ""}},
      {"m..", {"m", "", ""}},
      {"m..foo", {"m", "", "foo"}},
      {R"(\m)", {R"(\m)"}},
  };
  for (const auto& [input, expected] : cases) {
    CAPTURE(input);
    CHECK(split_event_field(input) == expected);
  }
}

TEST_CASE("filter: apply_event_fields") {
  const json ev = json::parse(R"({
    "type": "m.room.message", "sender": "@a:x", "event_id": "$e",
    "content": {"body": "hi", "msgtype": "m.text", "m.relates_to": {"rel_type": "m.thread"},
                "a\\b": 1},
    "unsigned": {"age": 5}
  })");
  CHECK(apply_event_fields(ev, {}) == ev);
  CHECK(apply_event_fields(json::array(), {"type"}) == json::array());
  CHECK(apply_event_fields(ev, {"type", "content.body"}) ==
        json::parse(R"({"type": "m.room.message", "content": {"body": "hi"}})"));
  CHECK(apply_event_fields(ev, {R"(content.m\.relates_to.rel_type)"}) ==
        json::parse(R"({"content": {"m.relates_to": {"rel_type": "m.thread"}}})"));
  CHECK(apply_event_fields(ev, {R"(content.a\\b)"}) == json::parse(R"({"content": {"a\\b": 1}})"));
  // Missing paths, and paths through non-objects, are skipped.
  CHECK(apply_event_fields(ev, {"content.missing", "type.x", "nope"}) == json::object());
  // Overlapping paths merge.
  CHECK(apply_event_fields(ev, {"content.body", "content", "unsigned.age"}) ==
        json{{"content", ev["content"]}, {"unsigned", {{"age", 5}}}});
  CHECK(apply_event_fields(ev, {"content", "content.body"}) == json{{"content", ev["content"]}});
}
