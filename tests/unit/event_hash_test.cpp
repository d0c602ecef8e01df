// Event hashing, ids, redaction and signatures: the spec's event signing
// vectors (appendices, "Event Signing"), redaction per room version (rooms
// v10 -> v9-redactions, v11 -> v11-redactions).
#include "matrix/event_hash.hpp"

#include <doctest/doctest.h>

using namespace axon::matrix;
using nlohmann::json;

namespace {
signing_key spec_key() {
  return *signing_key::from_synapse_line(
      "ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1");
}
const room_version& v10() { return *find_room_version("10"); }
const room_version& v11() { return *find_room_version("11"); }

json minimal_event() {
  return json::parse(R"({
    "room_id": "!x:domain", "sender": "@a:domain", "origin": "domain",
    "origin_server_ts": 1000000, "signatures": {}, "hashes": {}, "type": "X",
    "content": {}, "prev_events": [], "auth_events": [], "depth": 3,
    "unsigned": {"age_ts": 1000000}})");
}
} // namespace

TEST_CASE("hash_and_sign_event: spec minimal event (origin kept, as in v10)") {
  json event = minimal_event();
  hash_and_sign_event(event, "domain", spec_key(), v10());
  CHECK(event == json::parse(R"({
    "auth_events": [], "content": {}, "depth": 3,
    "hashes": {"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},
    "origin": "domain", "origin_server_ts": 1000000, "prev_events": [],
    "room_id": "!x:domain", "sender": "@a:domain",
    "signatures": {"domain": {"ed25519:1":
      "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"}},
    "type": "X", "unsigned": {"age_ts": 1000000}})"));
  CHECK(verify_content_hash(event));
  CHECK(verify_event_signature(event, "domain", "ed25519:1", spec_key().public_key, v10()));
}

TEST_CASE("hash_and_sign_event: spec event with redactable content (a v1 event: event_id inside)") {
  json event = json::parse(R"({
    "content": {"body": "Here is the message content"}, "event_id": "$0:domain",
    "origin": "domain", "origin_server_ts": 1000000, "type": "m.room.message",
    "room_id": "!r:domain", "sender": "@u:domain", "signatures": {},
    "unsigned": {"age_ts": 1000000}})");
  hash_and_sign_event(event, "domain", spec_key(), *find_room_version("1"));
  CHECK(event["hashes"] == json{{"sha256", "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"}});
  CHECK(event["signatures"] == json::parse(R"({"domain": {"ed25519:1":
    "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"}})"));
  CHECK(event["content"]["body"] == "Here is the message content");

  // The signature covers the redacted form: it survives redaction, while
  // the content hash does not.
  json redacted = redact(event, v10());
  CHECK(redacted["content"] == json::object());
  CHECK(verify_event_signature(redacted, "domain", "ed25519:1", spec_key().public_key, v10()));
  CHECK_FALSE(verify_content_hash(redacted));
}

TEST_CASE("compute_event_id: stable under signatures and unsigned") {
  json event = minimal_event();
  add_content_hash(event);
  // Cross-checked with the spec's Python canonical_json and hashlib.
  CHECK(compute_event_id(event, v10()) == "$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc");
  CHECK(compute_event_id(event, v11()) == "$70O_oKlXzFbkfu0KE88USi98DjSWrOELrPj-8tisl8I");

  for (const room_version* version : {&v10(), &v11()}) {
    std::string id = compute_event_id(event, *version);
    json signed_event = event;
    sign_event(signed_event, "domain", spec_key(), *version);
    sign_event(signed_event, "other", signing_key::generate(), *version);
    signed_event["unsigned"] = {{"age_ts", 5}, {"prev_content", {{"x", 1}}}};
    CHECK(compute_event_id(signed_event, *version) == id);
    // Redactable content is covered only through the content hash.
    json changed = event;
    changed["depth"] = 4;
    CHECK(compute_event_id(changed, *version) != id);
    CHECK(id.size() == 44);
    CHECK(id.find_first_of("+/=") == std::string::npos);
  }
  // v11 no longer protects `origin`.
  json moved = event;
  moved["origin"] = "elsewhere";
  CHECK(compute_event_id(moved, v10()) != compute_event_id(event, v10()));
  CHECK(compute_event_id(moved, v11()) == compute_event_id(event, v11()));
}

TEST_CASE("sign_event: keeps other servers' signatures") {
  json event = minimal_event();
  signing_key other = signing_key::generate();
  hash_and_sign_event(event, "other", other, v11());
  sign_event(event, "domain", spec_key(), v11());
  CHECK(verify_event_signature(event, "other", other.key_id(), other.public_key, v11()));
  CHECK(verify_event_signature(event, "domain", "ed25519:1", spec_key().public_key, v11()));
  CHECK_FALSE(verify_event_signature(event, "domain", "ed25519:1", other.public_key, v11()));
  json tampered = event;
  tampered["sender"] = "@b:domain";
  CHECK_FALSE(verify_event_signature(tampered, "domain", "ed25519:1", spec_key().public_key, v11()));
}

TEST_CASE("verify_content_hash: detects changes and malformed hashes") {
  json event = minimal_event();
  event["content"] = {{"body", "hi"}};
  add_content_hash(event);
  CHECK(verify_content_hash(event));
  event["unsigned"]["age_ts"] = 1;
  CHECK(verify_content_hash(event));
  json changed = event;
  changed["content"]["body"] = "ho";
  CHECK_FALSE(verify_content_hash(changed));
  changed = event;
  changed["hashes"]["sha256"] = "!!";
  CHECK_FALSE(verify_content_hash(changed));
  changed["hashes"] = json::array();
  CHECK_FALSE(verify_content_hash(changed));
  changed.erase("hashes");
  CHECK_FALSE(verify_content_hash(changed));
  CHECK_FALSE(verify_content_hash(json("x")));
}

TEST_CASE("redact: top-level keys per version") {
  json event = json::parse(R"({"event_id":"$e","type":"m.room.message",
    "room_id":"!r:d","sender":"@u:d","state_key":"","content":{"body":"x"},
    "hashes":{"sha256":"h"},"signatures":{},"depth":1,"prev_events":[],
    "auth_events":[],"origin_server_ts":1,"origin":"d","membership":"join",
    "prev_state":[],"unsigned":{"age_ts":1},"age_ts":1,"extra":true})");
  json r10 = redact(event, v10());
  json r11 = redact(event, v11());
  for (const char* key : {"event_id", "type", "room_id", "sender", "state_key",
                          "hashes", "signatures", "depth", "prev_events",
                          "auth_events", "origin_server_ts"}) {
    CHECK(r10.contains(key));
    CHECK(r11.contains(key));
  }
  for (const char* key : {"origin", "membership", "prev_state"}) {
    CHECK(r10.contains(key));
    CHECK_FALSE(r11.contains(key));
  }
  for (const char* key : {"unsigned", "age_ts", "extra"}) {
    CHECK_FALSE(r10.contains(key));
    CHECK_FALSE(r11.contains(key));
  }
  CHECK(r10["content"] == json::object());
  CHECK(r11["content"] == json::object());
}

TEST_CASE("redact: content per event type and version") {
  auto content_after = [](const char* type, const json& content,
                          const room_version& version) {
    return redact(json{{"type", type}, {"content", content}}, version)["content"];
  };
  json member = json::parse(R"({"membership":"join","displayname":"A",
    "join_authorised_via_users_server":"@s:d",
    "third_party_invite":{"signed":{"token":"t"},"display_name":"x"}})");
  CHECK(content_after("m.room.member", member, v10()) == json::parse(
    R"({"membership":"join","join_authorised_via_users_server":"@s:d"})"));
  CHECK(content_after("m.room.member", member, v11()) == json::parse(
    R"({"membership":"join","join_authorised_via_users_server":"@s:d",
        "third_party_invite":{"signed":{"token":"t"}}})"));

  json create = json::parse(R"({"creator":"@u:d","room_version":"10","m.federate":false})");
  CHECK(content_after("m.room.create", create, v10()) == json{{"creator", "@u:d"}});
  CHECK(content_after("m.room.create", create, v11()) == create);

  json join_rules = json::parse(R"({"join_rule":"restricted","allow":[{"type":"m.room_membership"}],"x":1})");
  json join_kept = json::parse(R"({"join_rule":"restricted","allow":[{"type":"m.room_membership"}]})");
  CHECK(content_after("m.room.join_rules", join_rules, v10()) == join_kept);
  CHECK(content_after("m.room.join_rules", join_rules, v11()) == join_kept);

  json power = json::parse(R"({"ban":50,"events":{"m.room.name":50},"events_default":0,
    "invite":0,"kick":50,"redact":50,"state_default":50,"users":{"@u:d":100},
    "users_default":0,"notifications":{"room":50}})");
  json power_v10 = power;
  power_v10.erase("invite");
  power_v10.erase("notifications");
  json power_v11 = power;
  power_v11.erase("notifications");
  CHECK(content_after("m.room.power_levels", power, v10()) == power_v10);
  CHECK(content_after("m.room.power_levels", power, v11()) == power_v11);

  json visibility = {{"history_visibility", "shared"}, {"x", 1}};
  CHECK(content_after("m.room.history_visibility", visibility, v10())
        == json{{"history_visibility", "shared"}});

  json redaction = {{"redacts", "$e"}, {"reason", "spam"}};
  CHECK(content_after("m.room.redaction", redaction, v10()) == json::object());
  CHECK(content_after("m.room.redaction", redaction, v11()) == json{{"redacts", "$e"}});

  json aliases = {{"aliases", {"#a:d"}}};
  CHECK(content_after("m.room.aliases", aliases, v10()) == json::object());
}

TEST_CASE("redact: malformed events do not throw") {
  CHECK(redact(json("x"), v11()) == json::object());
  CHECK(redact(json{{"type", 5}, {"content", "y"}}, v10())
        == json{{"type", 5}, {"content", json::object()}});
  CHECK(redact(json{{"type", "m.room.member"}, {"content",
                {{"third_party_invite", "not an object"}}}}, v11())["content"]
        == json::object());
  CHECK(compute_event_id(json::array(), v10()).size() == 44);
}

TEST_CASE("hash_sign_and_id equals hashing, signing and computing the id separately") {
  using namespace axon::matrix;
  auto key = signing_key::generate();
  for (auto v : {"10", "11"}) {
    auto* rv = find_room_version(v);
    REQUIRE(rv);
    nlohmann::json ev = {{"type", "m.room.message"}, {"room_id", "!r:example.org"},
                         {"sender", "@a:example.org"}, {"content", {{"body", "hi"}}},
                         {"origin_server_ts", 1}, {"depth", 3}, {"prev_events", {"$p"}},
                         {"auth_events", {"$a"}}};
    auto a = ev, b = ev;
    auto id = hash_sign_and_id(a, "example.org", key, *rv);
    hash_and_sign_event(b, "example.org", key, *rv);
    CHECK(a == b);
    CHECK(id == compute_event_id(b, *rv));
    CHECK(verify_content_hash(a));
    CHECK(verify_event_signature(a, "example.org", key.key_id(), key.public_key, *rv));
  }
}
