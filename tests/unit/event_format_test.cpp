// What room versions 1 to 11 do differently to events (rooms/v1 ... v11):
// event ids and reference lists per event format (v1-event-ids, rooms/v3
// "Event IDs", v4-event-ids), the redaction algorithm per version
// (v1-redactions, v6-redactions, rooms/v8, v9-redactions, v11-redactions),
// and the table of versions itself. Expected hashes were computed with
// Python's hashlib and json (sort_keys, compact separators), independently of
// Axon's canonical JSON.
#include "matrix/event_hash.hpp"

#include "matrix/room_version.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace axon::matrix;
using nlohmann::json;

namespace {

const room_version& version(const char* id) { return *find_room_version(id); }

std::vector<const room_version*> all_versions() {
  std::vector<const room_version*> out;
  for (auto v = supported_room_versions(); *v; ++v) out.push_back(find_room_version(*v));
  return out;
}

json minimal_event(int depth) {
  return json{{"room_id", "!x:domain"}, {"sender", "@a:domain"}, {"origin", "domain"},
              {"origin_server_ts", 1000000}, {"signatures", json::object()},
              {"hashes", json::object()}, {"type", "X"}, {"content", json::object()},
              {"prev_events", json::array()}, {"auth_events", json::array()},
              {"depth", depth}, {"unsigned", {{"age_ts", 1000000}}}};
}

json content_after(const char* type, const json& content, const room_version& v) {
  return redact(json{{"type", type}, {"content", content}}, v)["content"];
}

} // namespace

TEST_CASE("room versions: 1 to 11, all stable, each flag where its spec page adds it") {
  auto all = all_versions();
  REQUIRE(all.size() == 11);
  for (int i = 0; i < 11; ++i) {
    const room_version* v = all[10 - i];
    REQUIRE(v);
    CHECK(v->id == std::to_string(i + 1));
    CHECK(v->stable);
    const int n = i + 1;
    CAPTURE(n);
    CHECK((v->format == event_format::v1) == (n <= 2));
    CHECK((v->format == event_format::v2) == (n == 3));
    CHECK((v->format == event_format::v3) == (n >= 4));
    CHECK((v->state_res == state_resolution::v1) == (n == 1));
    CHECK(v->enforce_key_validity == (n >= 5));
    CHECK(v->special_case_aliases == (n <= 5));
    CHECK(v->strict_canonical_json == (n >= 6));
    CHECK(v->notifications_power_levels == (n >= 6));
    CHECK(v->knock == (n >= 7));
    CHECK(v->restricted == (n >= 8));
    CHECK(v->redaction_keeps_authorising_user == (n >= 9));
    CHECK(v->knock_restricted == (n >= 10));
    CHECK(v->integer_power_levels == (n >= 10));
    CHECK(v->v11_rules == (n >= 11));
  }
  CHECK(find_room_version("12") == nullptr);
  CHECK(find_room_version("") == nullptr);
  CHECK(find_room_version("org.matrix.msc2176") == nullptr);
}

TEST_CASE("event ids: v1/v2 carry their own, v3 standard base64, v4+ URL-safe") {
  json event = minimal_event(4);
  add_content_hash(event);
  REQUIRE(event["hashes"]["sha256"] == "GQY5tZrsWxzZeGK/8qYeTK/JZtD4l0Bsa6PDK/iPEJk");
  // The same reference hash in both alphabets (rooms/v3, v4-event-ids).
  CHECK(compute_event_id(event, version("3")) == "$+7Hi7iRSJ3mSFJ49h3N2j6E4kq9vXH8nj8yolrue8LQ");
  for (const char* v : {"4", "5", "6", "7", "8", "9", "10"})
    CHECK(compute_event_id(event, version(v)) == "$-7Hi7iRSJ3mSFJ49h3N2j6E4kq9vXH8nj8yolrue8LQ");
  CHECK(compute_reference_hash(event, version("3")) ==
        "+7Hi7iRSJ3mSFJ49h3N2j6E4kq9vXH8nj8yolrue8LQ");

  // v1/v2: the id is whatever the event carries ("$opaque:server").
  CHECK(compute_event_id(event, version("1")).empty());
  event["event_id"] = "$abc:domain";
  CHECK(compute_event_id(event, version("1")) == "$abc:domain");
  CHECK(compute_event_id(event, version("2")) == "$abc:domain");
}

TEST_CASE("reference hash of a v1 event covers its event_id; m.room.aliases keeps aliases until v6") {
  json event = json::parse(R"({"event_id":"$0:domain","room_id":"!x:domain",
    "sender":"@a:domain","origin":"domain","origin_server_ts":1000000,
    "signatures":{},"type":"m.room.aliases","state_key":"domain",
    "content":{"aliases":["#a:domain"],"x":1},
    "prev_events":[["$p:domain",{"sha256":"abc"}]],"auth_events":[],"depth":3,
    "unsigned":{"age_ts":1000000}})");
  add_content_hash(event);
  REQUIRE(event["hashes"]["sha256"] == "+9fJ4AR03dPxIyIjx8TwzlOCT6iRcInrHv3Tt6B/72M");
  for (const char* v : {"1", "2"})
    CHECK(compute_reference_hash(event, version(v)) == "hGW7Mnvd3mnFLXh8VWmcQNyzao5FEKqfE2c8kacTlHU");
  json renamed = event;
  renamed["event_id"] = "$1:domain";
  CHECK(compute_reference_hash(renamed, version("1")) != compute_reference_hash(event, version("1")));
  // v6 (MSC2432) no longer protects m.room.aliases content.
  CHECK(compute_reference_hash(event, version("6")) == "9mO08GVYFY12A74fxYo+EbKoSk0VreHZY6v7ubBshYs");
}

TEST_CASE("event_reference and referenced_event_ids: pairs in v1/v2, ids later") {
  CHECK(event_reference("$a:d", "hash", version("1")) ==
        json::parse(R"(["$a:d", {"sha256": "hash"}])"));
  CHECK(event_reference("$a:d", "hash", version("2")) ==
        json::parse(R"(["$a:d", {"sha256": "hash"}])"));
  for (const char* v : {"3", "4", "11"}) CHECK(event_reference("$abc", "hash", version(v)) == "$abc");

  CHECK(referenced_event_ids(json::parse(R"([["$a:d", {"sha256": "h"}], ["$b:d", {}]])")) ==
        std::vector<std::string>{"$a:d", "$b:d"});
  CHECK(referenced_event_ids(json::parse(R"(["$a", "$b"])")) ==
        std::vector<std::string>{"$a", "$b"});
  CHECK(referenced_event_ids(json::parse(R"([5, [], [7], "$c"])")) ==
        std::vector<std::string>{"$c"});
  CHECK(referenced_event_ids(json("x")).empty());
}

TEST_CASE("hash_sign_and_id in every version: id, reference hash and signature agree") {
  auto key = signing_key::generate();
  for (const room_version* rv : all_versions()) {
    CAPTURE(rv->id);
    json ev = {{"type", "m.room.message"}, {"room_id", "!r:example.org"},
               {"sender", "@a:example.org"}, {"content", {{"body", "hi"}}},
               {"origin_server_ts", 1}, {"depth", 3}};
    const bool v1 = rv->format == event_format::v1;
    ev["prev_events"] = json::array({event_reference("$p:example.org", "ph", *rv)});
    ev["auth_events"] = json::array({event_reference("$a:example.org", "ah", *rv)});
    if (v1) ev["event_id"] = "$local:example.org";
    json plain = ev;
    std::string ref;
    auto id = hash_sign_and_id(ev, "example.org", key, *rv, &ref);
    CHECK(ref == compute_reference_hash(ev, *rv));
    CHECK(id == compute_event_id(ev, *rv));
    if (v1) CHECK(id == "$local:example.org");
    else CHECK(id == "$" + (rv->format == event_format::v2 ? ref : [&] {
                 std::string s = ref;
                 for (auto& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
                 return s;
               }()));
    CHECK(verify_content_hash(ev));
    CHECK(verify_event_signature(ev, "example.org", key.key_id(), key.public_key, *rv));
    hash_and_sign_event(plain, "example.org", key, *rv);
    CHECK(plain == ev);
    // The signature and id survive redaction.
    json redacted = redact(ev, *rv);
    CHECK(verify_event_signature(redacted, "example.org", key.key_id(), key.public_key, *rv));
    CHECK(compute_event_id(redacted, *rv) == id);
  }
}

TEST_CASE("redact: content kept per version") {
  json member = json::parse(R"({"membership":"join","displayname":"A",
    "join_authorised_via_users_server":"@s:d"})");
  json join_rules = json::parse(R"({"join_rule":"restricted","allow":[{"type":"m.room_membership"}],"x":1})");
  json aliases = json::parse(R"({"aliases":["#a:d"],"x":1})");
  json create = json::parse(R"({"creator":"@u:d","room_version":"1","m.federate":false})");
  json power = json::parse(R"({"ban":50,"invite":0,"notifications":{"room":50},"users":{"@u:d":100}})");
  for (const room_version* rv : all_versions()) {
    const int n = std::stoi(rv->id);
    CAPTURE(n);
    // v9 (MSC3375) keeps the authorising user of a restricted join.
    json m = content_after("m.room.member", member, *rv);
    CHECK(m["membership"] == "join");
    CHECK(m.contains("join_authorised_via_users_server") == (n >= 9));
    CHECK_FALSE(m.contains("displayname"));
    // v8 (MSC3083) keeps `allow`.
    json j = content_after("m.room.join_rules", join_rules, *rv);
    CHECK(j["join_rule"] == "restricted");
    CHECK(j.contains("allow") == (n >= 8));
    CHECK_FALSE(j.contains("x"));
    // v6 (MSC2432) drops the m.room.aliases special case.
    CHECK(content_after("m.room.aliases", aliases, *rv) ==
          (n <= 5 ? json{{"aliases", {"#a:d"}}} : json::object()));
    // v11 (MSC2176) keeps the whole create content and power_levels `invite`.
    CHECK(content_after("m.room.create", create, *rv) ==
          (n >= 11 ? create : json{{"creator", "@u:d"}}));
    json p = content_after("m.room.power_levels", power, *rv);
    CHECK(p.contains("invite") == (n >= 11));
    CHECK_FALSE(p.contains("notifications"));
    // The top-level keys v11 drops are kept before.
    json top = redact(json{{"type", "X"}, {"origin", "d"}, {"membership", "join"},
                           {"prev_state", json::array()}, {"event_id", "$e:d"}},
                      *rv);
    CHECK(top.contains("origin") == (n <= 10));
    CHECK(top.contains("membership") == (n <= 10));
    CHECK(top.contains("prev_state") == (n <= 10));
    CHECK(top.contains("event_id"));
  }
}
