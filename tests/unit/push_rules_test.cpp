// Push rules (client-server API "Push Notifications"): the default rules
// condition by condition, the condition kinds, precedence, validation.
#include "matrix/push_rules.hpp"

#include <doctest/doctest.h>

using nlohmann::json;
using namespace axon::matrix;

namespace {

const std::string me = "@alice:example.org";

json message(const std::string& body, json extra_content = json::object()) {
  json content = {{"msgtype", "m.text"}, {"body", body}};
  content.update(extra_content);
  return {{"type", "m.room.message"},
          {"sender", "@bob:example.org"},
          {"room_id", "!room:example.org"},
          {"event_id", "$ev"},
          {"content", content}};
}

json state(const std::string& type, const std::string& state_key, json content = json::object()) {
  return {{"type", type},
          {"sender", "@bob:example.org"},
          {"room_id", "!room:example.org"},
          {"state_key", state_key},
          {"content", std::move(content)}};
}

struct fixture {
  json event;
  push_context ctx;
  explicit fixture(json ev, int64_t members = 5) : event(std::move(ev)) {
    ctx.event = &event;
    ctx.room_member_count = members;
    ctx.user_id = me;
    ctx.user_display_name = "Alice Liddell";
    ctx.sender_power_level = 0;
  }
  push_result eval(const json& ruleset) const { return evaluate_push_rules(ruleset, ctx); }
  push_result eval() const { return eval(default_push_rules(me)); }
  bool matches(const json& condition) const { return push_condition_matches(condition, ctx); }
};

json find_rule(const json& ruleset, const std::string& kind, const std::string& id) {
  for (const json& r : ruleset["global"][kind])
    if (r["rule_id"] == id)
      return r;
  return nullptr;
}

std::vector<std::string> ids(const json& ruleset, const std::string& kind) {
  std::vector<std::string> out;
  for (const json& r : ruleset["global"][kind])
    out.push_back(r["rule_id"].get<std::string>());
  return out;
}

push_rule parse_ok(push_rule_kind kind, const std::string& id, const json& body) {
  push_rule_error err;
  auto r = parse_push_rule(kind, id, body, &err);
  REQUIRE_MESSAGE(r.has_value(), err.error);
  return *r;
}

std::string parse_errcode(push_rule_kind kind, const std::string& id, const json& body) {
  push_rule_error err;
  auto r = parse_push_rule(kind, id, body, &err);
  CHECK_FALSE(r.has_value());
  return err.errcode;
}

} // namespace

TEST_CASE("push_rules: default ruleset shape and order (spec Predefined Rules)") {
  json rs = default_push_rules(me);
  CHECK(ids(rs, "override") ==
        std::vector<std::string>{".m.rule.master", ".m.rule.suppress_notices",
                                 ".m.rule.invite_for_me", ".m.rule.member_event",
                                 ".m.rule.is_user_mention", ".m.rule.contains_display_name",
                                 ".m.rule.is_room_mention", ".m.rule.roomnotif",
                                 ".m.rule.tombstone", ".m.rule.reaction",
                                 ".m.rule.room.server_acl", ".m.rule.suppress_edits"});
  CHECK(ids(rs, "content") == std::vector<std::string>{".m.rule.contains_user_name"});
  CHECK(rs["global"]["room"] == json::array());
  CHECK(rs["global"]["sender"] == json::array());
  CHECK(ids(rs, "underride") ==
        std::vector<std::string>{".m.rule.call", ".m.rule.encrypted_room_one_to_one",
                                 ".m.rule.room_one_to_one", ".m.rule.message",
                                 ".m.rule.encrypted"});
  for (const char* kind : {"override", "content", "underride"})
    for (const json& r : rs["global"][kind]) {
      CHECK(r["default"] == true);
      CHECK(r["enabled"] == (r["rule_id"] != ".m.rule.master"));
      CHECK(r["actions"].is_array());
      CHECK(r.contains(std::string(kind) == "content" ? "pattern" : "conditions"));
    }
  // Spec definitions, verbatim.
  CHECK(find_rule(rs, "override", ".m.rule.is_user_mention") ==
        json::parse(R"({"rule_id": ".m.rule.is_user_mention", "default": true, "enabled": true,
          "conditions": [{"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids",
                          "value": "@alice:example.org"}],
          "actions": ["notify", {"set_tweak": "sound", "value": "default"}, {"set_tweak": "highlight"}]})"));
  CHECK(find_rule(rs, "override", ".m.rule.invite_for_me")["conditions"][2] ==
        json{{"kind", "event_match"}, {"key", "state_key"}, {"pattern", me}});
  CHECK(find_rule(rs, "content", ".m.rule.contains_user_name")["pattern"] == "alice");
  CHECK(find_rule(rs, "underride", ".m.rule.call")["actions"] ==
        json::parse(R"(["notify", {"set_tweak": "sound", "value": "ring"}])"));
}

TEST_CASE("push_rules: .m.rule.master is disabled by default and silences everything when enabled") {
  fixture f(message("hi alice"));
  CHECK(f.eval().rule_id == ".m.rule.contains_user_name");
  user_push_rules u;
  REQUIRE_FALSE(set_push_rule_enabled(u, push_rule_kind::override_rule, ".m.rule.master", true));
  push_result r = f.eval(merge_push_rules(me, u));
  CHECK(r.rule_id == ".m.rule.master");
  CHECK_FALSE(r.notify);
  CHECK(r.actions == json::array());
}

TEST_CASE("push_rules: default override rules") {
  SUBCASE("suppress_notices") {
    fixture f(message("alice, a notice", {{"msgtype", "m.notice"}}));
    push_result r = f.eval();
    CHECK(r.rule_id == ".m.rule.suppress_notices");
    CHECK_FALSE(r.notify);
  }
  SUBCASE("invite_for_me: notify with sound, no highlight") {
    fixture f(state("m.room.member", me, {{"membership", "invite"}}));
    push_result r = f.eval();
    CHECK(r.rule_id == ".m.rule.invite_for_me");
    CHECK(r.notify);
    CHECK_FALSE(r.highlight);
    CHECK(r.sound == "default");
  }
  SUBCASE("member_event: other invites and joins are silent") {
    fixture f1(state("m.room.member", "@carol:example.org", {{"membership", "invite"}}));
    CHECK(f1.eval().rule_id == ".m.rule.member_event");
    CHECK_FALSE(f1.eval().notify);
    fixture f2(state("m.room.member", me, {{"membership", "join"}}));
    CHECK(f2.eval().rule_id == ".m.rule.member_event");
  }
  SUBCASE("is_user_mention: m.mentions.user_ids contains the user") {
    fixture f(message("hey", {{"m.mentions", {{"user_ids", {"@x:y", me}}}}}));
    push_result r = f.eval();
    CHECK(r.rule_id == ".m.rule.is_user_mention");
    CHECK(r.notify);
    CHECK(r.highlight);
    CHECK(r.sound == "default");
    fixture other(message("hey", {{"m.mentions", {{"user_ids", {"@x:y"}}}}}));
    CHECK(other.eval().rule_id == ".m.rule.message");
    // The key is content."m.mentions", not content.m.mentions.
    fixture nested(message("hey", {{"m", {{"mentions", {{"user_ids", {me}}}}}}}));
    CHECK(nested.eval().rule_id == ".m.rule.message");
  }
  SUBCASE("contains_display_name: word boundary, case-insensitive") {
    fixture f(message("hello ALICE liddell!"));
    push_result r = f.eval();
    CHECK(r.rule_id == ".m.rule.contains_display_name");
    CHECK(r.highlight);
    CHECK(r.sound == "default");
    fixture inside(message("xalice liddellx"));
    CHECK(inside.eval().rule_id == ".m.rule.message");
    fixture empty_name(message("anything"));
    empty_name.ctx.user_display_name.clear();
    CHECK_FALSE(empty_name.matches({{"kind", "contains_display_name"}}));
  }
  SUBCASE("is_room_mention needs m.mentions.room == true and the sender's power") {
    json mention = {{"m.mentions", {{"room", true}}}};
    fixture low(message("everyone", mention));
    CHECK(low.eval().rule_id == ".m.rule.message");
    fixture high(message("everyone", mention));
    high.ctx.sender_power_level = 50;
    push_result r = high.eval();
    CHECK(r.rule_id == ".m.rule.is_room_mention");
    CHECK(r.highlight);
    CHECK(r.sound.empty());
    high.ctx.notification_power_levels["room"] = 100;
    CHECK(high.eval().rule_id == ".m.rule.message");
    fixture string_true(message("everyone", {{"m.mentions", {{"room", "true"}}}}));
    string_true.ctx.sender_power_level = 100;
    CHECK(string_true.eval().rule_id == ".m.rule.message");
  }
  SUBCASE("roomnotif (legacy): @room from a powerful sender, only without m.mentions") {
    fixture f(message("@room: lunch"));
    CHECK(f.eval().rule_id == ".m.rule.message");
    f.ctx.sender_power_level = 50;
    CHECK(f.eval().rule_id == ".m.rule.roomnotif");
    CHECK(f.eval().highlight);
    fixture with_mentions(message("@room: lunch", {{"m.mentions", json::object()}}));
    with_mentions.ctx.sender_power_level = 100;
    CHECK(with_mentions.eval().rule_id == ".m.rule.message");
  }
  SUBCASE("legacy display name and user name rules are skipped with m.mentions") {
    fixture f(message("alice liddell and alice", {{"m.mentions", json::object()}}));
    CHECK(f.eval().rule_id == ".m.rule.message");
  }
  SUBCASE("tombstone: state events only") {
    fixture f(state("m.room.tombstone", "", {{"replacement_room", "!new:x"}}));
    push_result r = f.eval();
    CHECK(r.rule_id == ".m.rule.tombstone");
    CHECK(r.notify);
    CHECK(r.highlight);
    json not_state = state("m.room.tombstone", "");
    not_state.erase("state_key");
    fixture g(not_state);
    CHECK(g.eval().rule_id.empty());
  }
  SUBCASE("reaction") {
    fixture f({{"type", "m.reaction"}, {"sender", "@bob:x"}, {"content", json::object()}}, 2);
    CHECK(f.eval().rule_id == ".m.rule.reaction");
    CHECK_FALSE(f.eval().notify);
  }
  SUBCASE("server_acl") {
    fixture f(state("m.room.server_acl", "", {{"allow", {"*"}}}));
    CHECK(f.eval().rule_id == ".m.rule.room.server_acl");
    CHECK_FALSE(f.eval().notify);
  }
  SUBCASE("suppress_edits, unless the edit mentions the user") {
    json edit = {{"m.relates_to", {{"rel_type", "m.replace"}, {"event_id", "$orig"}}}};
    fixture f(message("* fixed", edit));
    CHECK(f.eval().rule_id == ".m.rule.suppress_edits");
    edit["m.mentions"] = {{"user_ids", {me}}};
    fixture g(message("* fixed", edit));
    CHECK(g.eval().rule_id == ".m.rule.is_user_mention");
  }
}

TEST_CASE("push_rules: default content and underride rules") {
  SUBCASE("contains_user_name: localpart as a word") {
    fixture f(message("ping Alice."));
    f.ctx.user_display_name = "Someone Else";
    push_result r = f.eval();
    CHECK(r.rule_id == ".m.rule.contains_user_name");
    CHECK(r.highlight);
    fixture g(message("malice"));
    CHECK(g.eval().rule_id == ".m.rule.message");
  }
  SUBCASE("call") {
    fixture f({{"type", "m.call.invite"}, {"sender", "@bob:x"}, {"content", json::object()}});
    push_result r = f.eval();
    CHECK(r.rule_id == ".m.rule.call");
    CHECK(r.notify);
    CHECK(r.sound == "ring");
    CHECK_FALSE(r.highlight);
  }
  SUBCASE("room_one_to_one vs message") {
    fixture two(message("hi"), 2);
    CHECK(two.eval().rule_id == ".m.rule.room_one_to_one");
    CHECK(two.eval().sound == "default");
    fixture many(message("hi"), 3);
    push_result r = many.eval();
    CHECK(r.rule_id == ".m.rule.message");
    CHECK(r.notify);
    CHECK(r.sound.empty());
    CHECK(r.actions == json::array({"notify"}));
  }
  SUBCASE("encrypted_room_one_to_one vs encrypted") {
    json enc = {{"type", "m.room.encrypted"}, {"sender", "@bob:x"}, {"content", {{"ciphertext", "x"}}}};
    fixture two(enc, 2);
    CHECK(two.eval().rule_id == ".m.rule.encrypted_room_one_to_one");
    CHECK(two.eval().sound == "default");
    fixture many(enc, 10);
    CHECK(many.eval().rule_id == ".m.rule.encrypted");
    CHECK(many.eval().notify);
  }
  SUBCASE("no rule: an unknown event type") {
    fixture f({{"type", "com.example.thing"}, {"sender", "@bob:x"}, {"content", json::object()}});
    push_result r = f.eval();
    CHECK(r.rule_id.empty());
    CHECK_FALSE(r.notify);
    CHECK(r.actions == json::array());
  }
  SUBCASE("the user's own events never notify") {
    json ev = message("hi");
    ev["sender"] = me;
    fixture f(ev, 2);
    CHECK(f.eval().rule_id.empty());
  }
}

TEST_CASE("push_rules: event_match globs (spec examples)") {
  fixture f(state("m.room.topic", "", {{"topic", "Lunch plans"}}));
  json c = {{"kind", "event_match"}, {"key", "content.topic"}, {"pattern", "lunc?*"}};
  CHECK(f.matches(c));
  for (auto [topic, ok] : std::vector<std::pair<json, bool>>{
           {"LUNCH", true}, {" lunch", false}, {"lunc", false}, {nullptr, false}, {42, false}}) {
    f.event["content"]["topic"] = topic;
    CHECK_MESSAGE(f.matches(c) == ok, topic.dump());
  }
  f.event["content"].erase("topic");
  CHECK_FALSE(f.matches({{"kind", "event_match"}, {"key", "content.topic"}, {"pattern", "*"}}));

  json body = {{"kind", "event_match"}, {"key", "content.body"}, {"pattern", "ex*ple"}};
  for (auto [text, ok] : std::vector<std::pair<std::string, bool>>{
           {"An example event.", true}, {"exple", true}, {"An exciting triple-whammy", true},
           {"examples", false}, {"anexample", false}}) {
    fixture g(message(text));
    CHECK_MESSAGE(g.matches(body) == ok, text);
  }
}

TEST_CASE("push_rules: glob matcher") {
  CHECK(push_glob_matches("m.room.*", "m.room.message", false));
  CHECK_FALSE(push_glob_matches("m.room.*", "m.roomx", false));
  CHECK(push_glob_matches("a?c", "abc", false));
  CHECK(push_glob_matches("a?c", "aéc", false)); // ? is one character, not one byte
  CHECK_FALSE(push_glob_matches("a?c", "abbc", false));
  CHECK(push_glob_matches("*", "", false));
  CHECK(push_glob_matches("", "", false));
  CHECK_FALSE(push_glob_matches("", "x", false));
  CHECK(push_glob_matches("ÉCOLE", "école", false));
  CHECK(push_glob_matches("simple", "some simple.", true));
  CHECK_FALSE(push_glob_matches("simple", "simples", true));
  CHECK(push_glob_matches("@user:foo", "Some @user:foo test", true));
  CHECK(push_glob_matches("@room", "x@room", true)); // '@' starts at a \b, as in Synapse
  CHECK(push_glob_matches("cake*lie", "the cake is a lie", true));
  CHECK_FALSE(push_glob_matches("cake*lie", "the cake is a lief", true));
  CHECK(push_glob_matches("under_score", "an under_score!", true));
  CHECK_FALSE(push_glob_matches("under", "an under_score", true)); // '_' is a word character
}

TEST_CASE("push_rules: whole-value ASCII patterns (compared without the glob matcher)") {
  fixture f(state("m.room.topic", "", {{"topic", "Lunch"}}));
  json c = {{"kind", "event_match"}, {"key", "content.topic"}, {"pattern", "LuNcH"}};
  for (auto [topic, ok] : std::vector<std::pair<std::string, bool>>{
           {"lunch", true}, {"LUNCH", true}, {"lunch ", false}, {"lunc", false}, {"", false},
           {"lunçh", false}, {"l\xffnch", false}, {"\xc3\x8cunch", false}}) {
    f.event["content"]["topic"] = json::parse(json(topic).dump(-1, ' ', false, json::error_handler_t::replace));
    CHECK_MESSAGE(f.matches(c) == ok, topic);
    CHECK_MESSAGE(push_glob_matches("LuNcH", f.event["content"]["topic"].get<std::string>(), false) == ok, topic);
  }
  json empty = {{"kind", "event_match"}, {"key", "content.topic"}, {"pattern", ""}};
  f.event["content"]["topic"] = "";
  CHECK(f.matches(empty));
  f.event["content"]["topic"] = "x";
  CHECK_FALSE(f.matches(empty));
}

TEST_CASE("push_rules: a compiled ruleset decides as evaluate_push_rules") {
  user_push_rules user;
  REQUIRE_FALSE(put_user_push_rule(user, push_rule_kind::content,
                                   parse_ok(push_rule_kind::content, "cake",
                                            {{"pattern", "cake*lie"}, {"actions", {"notify"}}}),
                                   "", ""));
  REQUIRE_FALSE(set_push_rule_enabled(user, push_rule_kind::underride, ".m.rule.message", false));
  json ruleset = merge_push_rules(me, user);
  auto compiled = compile_push_rules(ruleset);
  for (auto ev : {message("the cake is a lie"), message("hello"), message("Alice Liddell, hi"),
                  message("@room look", {{"m.mentions", json::object()}}), state("m.room.member", me,
                                                                                 {{"membership", "invite"}})}) {
    for (int64_t members : {2, 5}) {
      fixture f(ev, members);
      auto expected = f.eval(ruleset);
      auto* r = first_matching_rule(compiled, f.ctx);
      CAPTURE(ev.dump());
      CHECK((r ? r->rule_id : "") == expected.rule_id);
      if (r) {
        CHECK(r->result.actions == expected.actions);
        CHECK(r->actions_text == expected.actions.dump());
        CHECK(r->result.notify == expected.notify);
        CHECK(r->result.highlight == expected.highlight);
      }
    }
  }
  fixture own(message("the cake is a lie"));
  own.event["sender"] = me;
  CHECK(first_matching_rule(compiled, own.ctx) == nullptr);
}

TEST_CASE("push_rules: event_property_is types") {
  json ev = {{"type", "m.room.create"},
             {"sender", "@bob:x"},
             {"state_key", ""},
             {"content",
              {{"m.federate", true}, {"n", 1}, {"neg", -3}, {"nothing", nullptr}, {"s", "v"},
               {"f", 1.0}, {"obj", {{"a", 1}}}, {"big", int64_t{1} << 53}}}};
  fixture f(ev);
  auto is = [&](const std::string& key, json value) {
    return f.matches({{"kind", "event_property_is"}, {"key", key}, {"value", std::move(value)}});
  };
  CHECK(is("content.m\\.federate", true));
  CHECK_FALSE(is("content.m\\.federate", "true"));
  CHECK_FALSE(is("content.m\\.federate", 1));
  CHECK(is("content.n", 1));
  CHECK(is("content.n", 1u));
  CHECK_FALSE(is("content.n", true));
  CHECK_FALSE(is("content.n", "1"));
  CHECK(is("content.neg", -3));
  CHECK(is("content.nothing", nullptr));
  CHECK_FALSE(is("content.missing", nullptr));
  CHECK(is("content.s", "v"));
  CHECK_FALSE(is("content.s", "V")); // exact, not case-insensitive
  CHECK_FALSE(is("content.f", 1));   // floats are not canonical JSON
  CHECK_FALSE(is("content.obj", json{{"a", 1}}));
  CHECK_FALSE(is("content.big", int64_t{1} << 53)); // beyond 2^53-1
  CHECK(is("type", "m.room.create"));
}

TEST_CASE("push_rules: event_property_contains") {
  json ev = state("m.room.canonical_alias", "",
                  {{"alias", "#somewhere:localhost"},
                   {"alt_aliases", {"#somewhere:example.org", "#myroom:example.com", 7, false,
                                    nullptr, json::array({"#nested:x"})}}});
  fixture f(ev);
  auto contains = [&](const std::string& key, json value) {
    return f.matches({{"kind", "event_property_contains"}, {"key", key}, {"value", std::move(value)}});
  };
  CHECK(contains("content.alt_aliases", "#myroom:example.com"));
  CHECK_FALSE(contains("content.alt_aliases", ":example.com"));
  CHECK(contains("content.alt_aliases", 7));
  CHECK_FALSE(contains("content.alt_aliases", "7"));
  CHECK(contains("content.alt_aliases", false));
  CHECK(contains("content.alt_aliases", nullptr));
  CHECK_FALSE(contains("content.alt_aliases", "#nested:x"));
  CHECK_FALSE(contains("content.alias", "#somewhere:localhost")); // not an array
  CHECK_FALSE(contains("content.absent", "x"));
}

TEST_CASE("push_rules: dotted keys with escaping") {
  json ev = {{"type", "t"},
             {"sender", "@bob:x"},
             {"content", {{"a.b", {{"c", "dot"}}}, {"a", {{"b", {{"c", "nested"}}}}}, {"x\\y", "bs"},
                          {"p\\", {{"q", "trailing"}}}}}};
  fixture f(ev);
  auto is = [&](const std::string& key, const std::string& value) {
    return f.matches({{"kind", "event_property_is"}, {"key", key}, {"value", value}});
  };
  CHECK(is("content.a\\.b.c", "dot"));
  CHECK(is("content.a.b.c", "nested"));
  CHECK(is("content.x\\\\y", "bs"));
  CHECK(is("content.p\\\\.q", "trailing"));
  CHECK(f.matches({{"kind", "event_match"}, {"key", "content.a\\.b.c"}, {"pattern", "D*"}}));
}

TEST_CASE("push_rules: room_member_count") {
  fixture f(message("x"), 5);
  auto count = [&](const std::string& is) {
    return f.matches({{"kind", "room_member_count"}, {"is", is}});
  };
  CHECK(count("5"));
  CHECK(count("==5"));
  CHECK_FALSE(count("4"));
  CHECK(count("<6"));
  CHECK_FALSE(count("<5"));
  CHECK(count("<=5"));
  CHECK(count(">4"));
  CHECK_FALSE(count(">5"));
  CHECK(count(">=5"));
  CHECK_FALSE(count(">=6"));
  CHECK_FALSE(count(""));
  CHECK_FALSE(count("=>5"));
  CHECK_FALSE(count("five"));
  CHECK_FALSE(count("5 "));
  CHECK_FALSE(count("99999999999999999999999"));
  CHECK_FALSE(f.matches({{"kind", "room_member_count"}, {"is", 5}}));
  CHECK_FALSE(f.matches({{"kind", "room_member_count"}}));
}

TEST_CASE("push_rules: sender_notification_permission") {
  fixture f(message("x"));
  json c = {{"kind", "sender_notification_permission"}, {"key", "room"}};
  f.ctx.sender_power_level = 49;
  CHECK_FALSE(f.matches(c));
  f.ctx.sender_power_level = 50; // default notifications.room is 50
  CHECK(f.matches(c));
  f.ctx.notification_power_levels["room"] = 0;
  f.ctx.sender_power_level = 0;
  CHECK(f.matches(c));
  f.ctx.sender_power_level = std::nullopt;
  CHECK_FALSE(f.matches(c));
  f.ctx.sender_power_level = 100;
  CHECK(f.matches({{"kind", "sender_notification_permission"}, {"key", "other"}}));
  CHECK_FALSE(f.matches({{"kind", "sender_notification_permission"}}));
}

TEST_CASE("push_rules: unknown conditions never match; no conditions always match") {
  fixture f(message("x"));
  CHECK_FALSE(f.matches({{"kind", "org.example.unknown"}}));
  json rs = {{"global",
              {{"override",
                {{{"rule_id", "unknown"}, {"enabled", true}, {"actions", {"notify"}},
                  {"conditions", {{{"kind", "org.example.unknown"}}}}},
                 {{"rule_id", "always"}, {"enabled", true}, {"actions", {"notify"}},
                  {"conditions", json::array()}}}}}}};
  CHECK(f.eval(rs).rule_id == "always");
}

TEST_CASE("push_rules: disabled rules are skipped") {
  fixture f(message("hi"), 2);
  user_push_rules u;
  REQUIRE_FALSE(set_push_rule_enabled(u, push_rule_kind::underride, ".m.rule.room_one_to_one", false));
  CHECK(f.eval(merge_push_rules(me, u)).rule_id == ".m.rule.message");
  CHECK(find_rule(merge_push_rules(me, u), "underride", ".m.rule.room_one_to_one")["enabled"] ==
        false);
  // A disabled user rule too.
  REQUIRE_FALSE(put_user_push_rule(u, push_rule_kind::override_rule,
                                   parse_ok(push_rule_kind::override_rule, "all", {{"actions", json::array()}}),
                                   "", ""));
  CHECK(f.eval(merge_push_rules(me, u)).rule_id == "all");
  REQUIRE_FALSE(set_push_rule_enabled(u, push_rule_kind::override_rule, "all", false));
  CHECK(f.eval(merge_push_rules(me, u)).rule_id == ".m.rule.message");
  CHECK(set_push_rule_enabled(u, push_rule_kind::content, ".m.rule.master", true)->errcode ==
        "M_NOT_FOUND");
  CHECK(set_push_rule_enabled(u, push_rule_kind::override_rule, "nope", true)->errcode ==
        "M_NOT_FOUND");
}

TEST_CASE("push_rules: precedence of user and server-default rules") {
  user_push_rules u;
  auto put = [&](push_rule_kind kind, const std::string& id, const json& body) {
    REQUIRE_FALSE(put_user_push_rule(u, kind, parse_ok(kind, id, body), "", ""));
  };
  put(push_rule_kind::override_rule, "quiet_notices",
      {{"conditions", {{{"kind", "event_match"}, {"key", "content.msgtype"}, {"pattern", "m.notice"}}}},
       {"actions", {"notify"}}});
  put(push_rule_kind::content, "tea", {{"pattern", "tea"}, {"actions", {"notify", {{"set_tweak", "sound"}, {"value", "kettle"}}}}});
  put(push_rule_kind::room, "!room:example.org", {{"actions", json::array()}});
  put(push_rule_kind::sender, "@bob:example.org", {{"actions", {"notify", {{"set_tweak", "highlight"}}}}});
  put(push_rule_kind::underride, "catch_all", {{"actions", {"notify"}}});
  json rs = merge_push_rules(me, u);
  std::vector<std::string> over = ids(rs, "override");
  REQUIRE(over.size() == 13);
  CHECK(over[0] == ".m.rule.master");
  CHECK(over[1] == "quiet_notices");
  CHECK(over[2] == ".m.rule.suppress_notices");
  CHECK(ids(rs, "content") == std::vector<std::string>{"tea", ".m.rule.contains_user_name"});
  CHECK(ids(rs, "underride").front() == "catch_all");
  CHECK(find_rule(rs, "content", "tea") ==
        json::parse(R"({"rule_id": "tea", "default": false, "enabled": true, "pattern": "tea",
                        "actions": ["notify", {"set_tweak": "sound", "value": "kettle"}]})"));
  CHECK(find_rule(rs, "room", "!room:example.org") ==
        json{{"rule_id", "!room:example.org"}, {"default", false}, {"enabled", true}, {"actions", json::array()}});

  // A user override outranks the server-default overrides...
  fixture notice(message("note", {{"msgtype", "m.notice"}}));
  CHECK(notice.eval(rs).rule_id == "quiet_notices");
  // ...but not .m.rule.master.
  REQUIRE_FALSE(set_push_rule_enabled(u, push_rule_kind::override_rule, ".m.rule.master", true));
  CHECK(notice.eval(merge_push_rules(me, u)).rule_id == ".m.rule.master");
  REQUIRE_FALSE(set_push_rule_enabled(u, push_rule_kind::override_rule, ".m.rule.master", false));

  // content before room before sender before underride.
  fixture tea(message("time for TEA"));
  push_result r = tea.eval(rs);
  CHECK(r.rule_id == "tea");
  CHECK(r.sound == "kettle");
  fixture plain(message("hello"));
  CHECK(plain.eval(rs).rule_id == "!room:example.org");
  plain.event["room_id"] = "!other:example.org";
  r = plain.eval(rs);
  CHECK(r.rule_id == "@bob:example.org");
  CHECK(r.highlight);
  plain.event["sender"] = "@carol:example.org";
  CHECK(plain.eval(rs).rule_id == "catch_all"); // user underride before .m.rule.message
  // A user content rule outranks the default content rule; the override
  // mention rules outrank both.
  fixture both(message("alice wants tea"));
  both.ctx.user_display_name.clear();
  CHECK(both.eval(rs).rule_id == "tea");
}

TEST_CASE("push_rules: actions, tweaks and legacy actions") {
  fixture f(message("x"));
  auto eval_actions = [&](json actions) {
    json rs = {{"global", {{"override", {{{"rule_id", "r"}, {"enabled", true}, {"conditions", json::array()},
                                          {"actions", std::move(actions)}}}}}}};
    return f.eval(rs);
  };
  push_result r = eval_actions({"dont_notify"});
  CHECK(r.rule_id == "r");
  CHECK_FALSE(r.notify);
  CHECK(r.actions == json::array());
  r = eval_actions({"notify", "coalesce", {{"set_tweak", "highlight"}, {"value", false}}});
  CHECK(r.notify);
  CHECK_FALSE(r.highlight);
  CHECK(r.actions == json::parse(R"(["notify", {"set_tweak": "highlight", "value": false}])"));
  r = eval_actions({"notify", {{"set_tweak", "highlight"}}, {{"set_tweak", "sound"}, {"value", "bell"}},
                    {{"set_tweak", "com.example.led"}, {"value", "blue"}}});
  CHECK(r.highlight);
  CHECK(r.sound == "bell");
  CHECK(r.tweaks == json{{"highlight", true}, {"sound", "bell"}, {"com.example.led", "blue"}});
  r = eval_actions(json::array({{{"set_tweak", "highlight"}, {"value", true}}}));
  CHECK_FALSE(r.notify);
  CHECK(r.highlight);
  r = eval_actions({"notify", "org.example.future_action"});
  CHECK(r.notify);
  CHECK(r.actions == json::array({"notify"}));
}

TEST_CASE("push_rules: PUT validation") {
  using k = push_rule_kind;
  CHECK(parse_push_rule_kind("override") == k::override_rule);
  CHECK(parse_push_rule_kind("underride") == k::underride);
  CHECK_FALSE(parse_push_rule_kind("global"));
  CHECK(to_string(k::sender) == "sender");

  push_rule r = parse_ok(k::override_rule, "mine",
                         {{"actions", {"notify", "dont_notify"}},
                          {"conditions", {{{"kind", "room_member_count"}, {"is", "<=10"}},
                                          {{"kind", "org.example.new"}, {"anything", 1}}}}});
  CHECK(r.actions == json::array({"notify"}));
  CHECK(r.enabled);
  CHECK(r.conditions.size() == 2);
  CHECK(parse_ok(k::underride, "u", {{"actions", json::array()}}).conditions == json::array());

  CHECK(parse_errcode(k::override_rule, ".m.rule.mine", {{"actions", json::array()}}) == "M_INVALID_PARAM");
  CHECK(parse_errcode(k::override_rule, "", {{"actions", json::array()}}) == "M_INVALID_PARAM");
  CHECK(parse_errcode(k::override_rule, "a/b", {{"actions", json::array()}}) == "M_INVALID_PARAM");
  CHECK(parse_errcode(k::override_rule, "r", json::array()) == "M_BAD_JSON");
  CHECK(parse_errcode(k::override_rule, "r", json::object()) == "M_MISSING_PARAM");
  CHECK(parse_errcode(k::content, "r", {{"actions", json::array()}}) == "M_MISSING_PARAM");
  CHECK(parse_errcode(k::content, "r", {{"actions", json::array()}, {"pattern", 3}}) == "M_MISSING_PARAM");
  CHECK(parse_errcode(k::override_rule, "r", {{"actions", "notify"}}) == "M_INVALID_PARAM");
  CHECK(parse_errcode(k::override_rule, "r", {{"actions", {"shout"}}}) == "M_INVALID_PARAM");
  CHECK(parse_errcode(k::override_rule, "r", {{"actions", {{{"value", 1}}}}}) == "M_INVALID_PARAM");
  for (json bad : {json{{"kind", "event_match"}, {"key", "type"}},
                   json{{"kind", "event_match"}, {"pattern", "x"}},
                   json{{"kind", "event_property_is"}, {"key", "type"}},
                   json{{"kind", "event_property_is"}, {"key", "type"}, {"value", 1.5}},
                   json{{"kind", "event_property_contains"}, {"key", "k"}, {"value", {1}}},
                   json{{"kind", "room_member_count"}, {"is", 2}},
                   json{{"kind", "sender_notification_permission"}},
                   json{{"key", "type"}}, json("event_match")})
    CHECK_MESSAGE(parse_errcode(k::override_rule, "r", {{"actions", json::array()}, {"conditions", {bad}}}) ==
                      "M_INVALID_PARAM",
                  bad.dump());
  CHECK(parse_errcode(k::override_rule, "r", {{"actions", json::array()}, {"conditions", json::object()}}) ==
        "M_INVALID_PARAM");
}

TEST_CASE("push_rules: before/after placement, delete, actions") {
  using k = push_rule_kind;
  user_push_rules u;
  auto rule = [&](const std::string& id) { return parse_ok(k::content, id, {{"pattern", id}, {"actions", {"notify"}}}); };
  auto order = [&] {
    std::vector<std::string> out;
    for (const push_rule& r : u.content)
      out.push_back(r.rule_id);
    return out;
  };
  REQUIRE_FALSE(put_user_push_rule(u, k::content, rule("a"), "", ""));
  REQUIRE_FALSE(put_user_push_rule(u, k::content, rule("b"), "", ""));
  CHECK(order() == std::vector<std::string>{"b", "a"}); // newest is highest priority
  REQUIRE_FALSE(put_user_push_rule(u, k::content, rule("c"), "a", ""));
  CHECK(order() == std::vector<std::string>{"b", "c", "a"});
  REQUIRE_FALSE(put_user_push_rule(u, k::content, rule("d"), "", "b"));
  CHECK(order() == std::vector<std::string>{"b", "d", "c", "a"});
  REQUIRE_FALSE(put_user_push_rule(u, k::content, rule("e"), "b", "a")); // before wins
  CHECK(order() == std::vector<std::string>{"e", "b", "d", "c", "a"});

  CHECK(put_user_push_rule(u, k::content, rule("f"), "nope", "")->errcode == "M_NOT_FOUND");
  CHECK(put_user_push_rule(u, k::content, rule("f"), "", ".m.rule.contains_user_name")->errcode ==
        "M_INVALID_PARAM");
  CHECK(put_user_push_rule(u, k::override_rule, parse_ok(k::override_rule, "f", {{"actions", json::array()}}),
                           "a", "")
            ->errcode == "M_NOT_FOUND"); // 'a' is a content rule
  CHECK(order().size() == 5);
  CHECK(u.override_rules.empty());

  // Updating keeps the enabled flag and moves the rule (without before/after to the top).
  REQUIRE_FALSE(set_push_rule_enabled(u, k::content, "c", false));
  REQUIRE_FALSE(put_user_push_rule(u, k::content, rule("c"), "", ""));
  CHECK(order() == std::vector<std::string>{"c", "e", "b", "d", "a"});
  CHECK_FALSE(u.content.front().enabled);
  REQUIRE_FALSE(put_user_push_rule(u, k::content, rule("c"), "", "a"));
  CHECK(order() == std::vector<std::string>{"e", "b", "d", "a", "c"});

  CHECK_FALSE(delete_user_push_rule(u, k::content, "b"));
  CHECK(delete_user_push_rule(u, k::content, "b")->errcode == "M_NOT_FOUND");
  CHECK(delete_user_push_rule(u, k::content, ".m.rule.contains_user_name")->errcode == "M_INVALID_PARAM");
  CHECK(order() == std::vector<std::string>{"e", "d", "a", "c"});

  CHECK_FALSE(set_push_rule_actions(u, k::content, "e", {"dont_notify"}));
  CHECK(u.content.front().actions == json::array());
  CHECK_FALSE(set_push_rule_actions(u, k::underride, ".m.rule.message", json::array()));
  CHECK(find_rule(merge_push_rules(me, u), "underride", ".m.rule.message")["actions"] == json::array());
  fixture f(message("hello"), 3);
  push_result r = f.eval(merge_push_rules(me, u));
  CHECK(r.rule_id == ".m.rule.message");
  CHECK_FALSE(r.notify);
  CHECK(set_push_rule_actions(u, k::content, "zzz", json::array())->errcode == "M_NOT_FOUND");
  CHECK(set_push_rule_actions(u, k::content, "e", {"bogus"})->errcode == "M_INVALID_PARAM");
}
