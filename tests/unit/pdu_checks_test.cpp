// Checks on a received PDU, steps 1-3 of server-server "Checks performed on
// receipt of a PDU": format per room version (pdu_v1/v3/v4/v6/v11 schemas,
// "Size limits", v6-canonical-json), signatures ("Validating hashes and
// signatures on received events", v5-signing-requirements, MSC3083
// restricted joins), hashes (redacted when they do not match). Events are
// built and signed with the real hashing and signing code.
#include "matrix/pdu_checks.hpp"

#include "matrix/base64.hpp"
#include "matrix/canonical_json.hpp"
#include "matrix/crypto.hpp"
#include "matrix/event_hash.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

using namespace axon::matrix;
using nlohmann::json;

namespace {

constexpr int64_t ts = 1700000000000;

const room_version& ver(const char* id) { return *find_room_version(id); }

std::vector<const room_version*> all_versions() {
  std::vector<const room_version*> out;
  for (auto v = supported_room_versions(); *v; ++v) out.push_back(find_room_version(*v));
  return out;
}

signing_key key_of(const char* version, char fill) {
  return *signing_key::from_seed(version, std::string(32, fill));
}
const signing_key& origin_key() { static signing_key k = key_of("o1", 'o'); return k; }
const signing_key& other_key() { static signing_key k = key_of("x1", 'x'); return k; }
const signing_key& authoriser_key() { static signing_key k = key_of("a1", 'a'); return k; }
const signing_key& joiner_key() { static signing_key k = key_of("j1", 'j'); return k; }

/// Known server keys, each valid up to `valid_until` (ms); records what it
/// was asked.
struct key_store {
  struct entry {
    std::string server;
    signing_key key;
    int64_t valid_until;
  };
  std::vector<entry> entries;
  std::vector<std::tuple<std::string, std::string, int64_t>> asked;

  key_store() {
    entries = {{"origin.test", origin_key(), ts + 1000},
               {"other.test", other_key(), ts + 1000},
               {"authoriser.test", authoriser_key(), ts + 1000},
               {"joiner.test", joiner_key(), ts + 1000}};
  }
  key_lookup lookup() {
    return [this](const std::string& server, const std::string& key_id,
                  int64_t valid_at) -> std::optional<std::string> {
      asked.emplace_back(server, key_id, valid_at);
      for (const auto& e : entries)
        if (e.server == server && e.key.key_id() == key_id && valid_at <= e.valid_until)
          return e.key.public_key;
      return std::nullopt;
    };
  }
};

/// "$" + unpadded base64 of `raw` in the alphabet of `v` (v3 standard, v4+ URL-safe).
std::string hash_id(const room_version& v, const std::string& raw) {
  return "$" + (v.format == event_format::v2 ? base64_encode(raw) : base64_url_encode(raw));
}

/// A `prev_events` / `auth_events` entry for an event named `name`.
json ref(const room_version& v, const std::string& name) {
  std::string hash = sha256(name);
  if (v.format == event_format::v1)
    return event_reference("$" + name + ":origin.test", base64_encode(hash), v);
  return event_reference(hash_id(v, hash), "", v);
}

/// `n` references to distinct events.
json refs(const room_version& v, int n, const std::string& prefix) {
  json out = json::array();
  for (int i = 0; i < n; ++i) out.push_back(ref(v, prefix + std::to_string(i)));
  return out;
}

json message(const room_version& v) {
  json e = {{"room_id", "!room:origin.test"},
            {"sender", "@alice:origin.test"},
            {"type", "m.room.message"},
            {"content", {{"msgtype", "m.text"}, {"body", "hello"}}},
            {"origin", "origin.test"},
            {"origin_server_ts", ts},
            {"depth", 5},
            {"prev_events", json::array({ref(v, "prev")})},
            {"auth_events", json::array({ref(v, "create"), ref(v, "power"), ref(v, "member")})},
            {"unsigned", {{"age", 10}}}};
  if (v.format == event_format::v1) e["event_id"] = "$msg1:origin.test";
  return e;
}

json signed_message(const room_version& v) {
  json e = message(v);
  hash_and_sign_event(e, "origin.test", origin_key(), v);
  return e;
}

/// A join of @bob:joiner.test authorised by @admin:authoriser.test.
json restricted_join(const room_version& v) {
  json e = message(v);
  e["type"] = "m.room.member";
  e["sender"] = "@bob:joiner.test";
  e["state_key"] = "@bob:joiner.test";
  e["content"] = {{"membership", "join"},
                  {"join_authorised_via_users_server", "@admin:authoriser.test"}};
  return e;
}

bool passes_all(const json& e, const room_version& v) {
  key_store keys;
  return !check_pdu_format(e, v) && !check_pdu_signatures(e, v, keys.lookup())
         && !check_pdu_hash(e, v).redacted;
}

/// The reason, or "" when the check passed.
std::string reason(const std::optional<std::string>& why) { return why ? *why : ""; }

} // namespace

TEST_CASE("pdu checks: a signed event of each version 1-11 passes steps 1-3 as received") {
  for (const room_version* v : all_versions()) {
    CAPTURE(v->id);
    json e = signed_message(*v);
    CHECK(reason(check_pdu_format(e, *v)) == "");
    auto required = required_signatures(e, *v);
    REQUIRE(required.size() == 1);
    CHECK(required[0].server == "origin.test");
    CHECK(required[0].valid_at_ms == (v->enforce_key_validity ? ts : 0));
    key_store keys;
    CHECK(reason(check_pdu_signatures(e, *v, keys.lookup())) == "");
    REQUIRE(keys.asked.size() == 1);
    CHECK(keys.asked[0] == std::make_tuple(std::string("origin.test"), origin_key().key_id(),
                                           v->enforce_key_validity ? ts : int64_t{0}));
    auto hashed = check_pdu_hash(e, *v);
    CHECK_FALSE(hashed.redacted);
    CHECK(hashed.event == e);
  }
}

TEST_CASE("pdu checks: v1/v2 event ids, and the event id's server must sign too") {
  for (const char* id : {"1", "2"}) {
    const room_version& v = ver(id);
    CAPTURE(v.id);
    json e = signed_message(v);
    for (const char* bad : {"$nodomain", "msg1:origin.test", "$msg1:bad_server!", "$msg1:"}) {
      json m = e;
      m["event_id"] = bad;
      CHECK(reason(check_pdu_format(m, v)) == "'event_id' is not of the form $opaque:server");
    }
    json m = e;
    m.erase("event_id");
    CHECK(reason(check_pdu_format(m, v)) == "'event_id' is missing");
    m["event_id"] = 5;
    CHECK(reason(check_pdu_format(m, v)) == "'event_id' is not a string");
    m["event_id"] = "$" + std::string(250, 'e') + ":origin.test";
    CHECK(reason(check_pdu_format(m, v)) == "'event_id' is longer than 255 bytes");
    // v1 references are [id, {"sha256": hash}] pairs with v1 ids.
    m = e;
    m["prev_events"] = json::array({hash_id(ver("4"), sha256("p"))});
    CHECK(reason(check_pdu_format(m, v)) == "'prev_events' has a malformed entry");
    m["prev_events"] = json::array({json::array({"$p:origin.test"})});
    CHECK(reason(check_pdu_format(m, v)) == "'prev_events' has a malformed entry");
    m["prev_events"] = json::array({json::array({"$p:origin.test", {{"sha256", 1}}})});
    CHECK(reason(check_pdu_format(m, v)) == "'prev_events' has a malformed entry");
    m["prev_events"] = json::array({json::array({"$p", {{"sha256", "aGFzaA"}}})});
    CHECK(reason(check_pdu_format(m, v)) == "'prev_events' has a malformed entry");

    // An event id minted by another server (a join made through it, say).
    json joined = message(v);
    joined["event_id"] = "$j1:other.test";
    hash_and_sign_event(joined, "origin.test", origin_key(), v);
    CHECK(reason(check_pdu_format(joined, v)) == "");
    CHECK(required_signatures(joined, v)
          == std::vector<required_signature>{{"origin.test", 0}, {"other.test", 0}});
    key_store keys;
    CHECK(reason(check_pdu_signatures(joined, v, keys.lookup())) == "not signed by other.test");
    sign_event(joined, "other.test", other_key(), v);
    CHECK(reason(check_pdu_signatures(joined, v, keys.lookup())) == "");
    // The signatures cover the event id.
    joined["event_id"] = "$j2:other.test";
    CHECK(reason(check_pdu_signatures(joined, v, keys.lookup()))
          == "invalid signature by origin.test with " + origin_key().key_id());
  }
  // From v3 the id is the reference hash; an `event_id` key is not checked.
  json e = message(ver("3"));
  e["event_id"] = "whatever";
  hash_and_sign_event(e, "origin.test", origin_key(), ver("3"));
  CHECK(reason(check_pdu_format(e, ver("3"))) == "");
  CHECK(required_signatures(e, ver("3")) == std::vector<required_signature>{{"origin.test", 0}});
}

TEST_CASE("pdu checks: v3 references in standard base64, v4+ URL-safe") {
  // Hashes whose base64 differs between the alphabets.
  std::string standard_only, url_only;
  for (int i = 0; standard_only.empty() || url_only.empty(); ++i) {
    std::string raw = sha256(std::to_string(i));
    std::string b64 = base64_encode(raw);
    if (b64.find_first_of("+/") != std::string::npos) {
      if (standard_only.empty()) standard_only = "$" + b64;
      if (url_only.empty()) url_only = "$" + base64_url_encode(raw);
    }
  }
  const room_version& v3 = ver("3");
  const room_version& v4 = ver("4");
  auto with_prev = [](const room_version& v, json prev) {
    json e = message(v);
    e["prev_events"] = json::array({prev});
    hash_and_sign_event(e, "origin.test", origin_key(), v);
    return e;
  };
  CHECK(passes_all(with_prev(v3, standard_only), v3));
  CHECK(reason(check_pdu_format(with_prev(v3, url_only), v3)) == "'prev_events' has a malformed entry");
  CHECK(passes_all(with_prev(v4, url_only), v4));
  CHECK(reason(check_pdu_format(with_prev(v4, standard_only), v4)) == "'prev_events' has a malformed entry");
  for (const room_version* v : {&v3, &v4, &ver("11")}) {
    CAPTURE(v->id);
    std::string id = hash_id(*v, sha256("p"));
    for (json bad : {json(id + "A"), json(id.substr(0, 43)), json(id.substr(1) + "A"),
                     json("$p:origin.test"), json(5),
                     json::array({id, {{"sha256", "aGFzaA"}}})}) {
      CAPTURE(bad.dump());
      CHECK(reason(check_pdu_format(with_prev(*v, bad), *v)) == "'prev_events' has a malformed entry");
      json e = signed_message(*v);
      e["auth_events"] = json::array({bad});
      CHECK(reason(check_pdu_format(e, *v)) == "'auth_events' has a malformed entry");
    }
  }
}

TEST_CASE("pdu checks: malformed fields, one at a time") {
  struct mutation {
    const char* what;
    std::function<void(json&)> apply;
    const char* expected;
  };
  const std::vector<mutation> mutations = {
      {"room_id missing", [](json& e) { e.erase("room_id"); }, "'room_id' is missing"},
      {"room_id int", [](json& e) { e["room_id"] = 1; }, "'room_id' is not a string"},
      {"room_id alias", [](json& e) { e["room_id"] = "#room:origin.test"; }, "'room_id' is not a room id"},
      {"room_id long", [](json& e) { e["room_id"] = "!" + std::string(250, 'r') + ":origin.test"; },
       "'room_id' is longer than 255 bytes"},
      {"sender missing", [](json& e) { e.erase("sender"); }, "'sender' is missing"},
      {"sender array", [](json& e) { e["sender"] = json::array(); }, "'sender' is not a string"},
      {"sender no server", [](json& e) { e["sender"] = "@alice"; }, "'sender' is not a user id"},
      {"sender long", [](json& e) { e["sender"] = "@" + std::string(250, 'a') + ":origin.test"; },
       "'sender' is longer than 255 bytes"},
      {"type missing", [](json& e) { e.erase("type"); }, "'type' is missing"},
      {"type object", [](json& e) { e["type"] = json::object(); }, "'type' is not a string"},
      {"type long", [](json& e) { e["type"] = std::string(256, 't'); }, "'type' is longer than 255 bytes"},
      {"state_key int", [](json& e) { e["state_key"] = 0; }, "'state_key' is not a string"},
      {"state_key long", [](json& e) { e["state_key"] = std::string(256, 's'); },
       "'state_key' is longer than 255 bytes"},
      {"content missing", [](json& e) { e.erase("content"); }, "'content' is missing or not an object"},
      {"content string", [](json& e) { e["content"] = "hi"; }, "'content' is missing or not an object"},
      {"ts missing", [](json& e) { e.erase("origin_server_ts"); },
       "'origin_server_ts' is missing or not a 64-bit integer"},
      {"ts string", [](json& e) { e["origin_server_ts"] = "1700000000000"; },
       "'origin_server_ts' is missing or not a 64-bit integer"},
      {"ts float", [](json& e) { e["origin_server_ts"] = 1.5; },
       "'origin_server_ts' is missing or not a 64-bit integer"},
      {"depth missing", [](json& e) { e.erase("depth"); }, "'depth' is missing or not a 64-bit integer"},
      {"depth string", [](json& e) { e["depth"] = "5"; }, "'depth' is missing or not a 64-bit integer"},
      {"depth float", [](json& e) { e["depth"] = 5.0; }, "'depth' is missing or not a 64-bit integer"},
      {"depth negative", [](json& e) { e["depth"] = -1; }, "'depth' is negative"},
      {"depth 2^64-1", [](json& e) { e["depth"] = UINT64_MAX; }, "'depth' is missing or not a 64-bit integer"},
      {"hashes missing", [](json& e) { e.erase("hashes"); }, "'hashes' is missing or has no string 'sha256'"},
      {"hashes string", [](json& e) { e["hashes"] = "h"; }, "'hashes' is missing or has no string 'sha256'"},
      {"sha256 missing", [](json& e) { e["hashes"] = {{"sha512", "h"}}; },
       "'hashes' is missing or has no string 'sha256'"},
      {"sha256 int", [](json& e) { e["hashes"]["sha256"] = 7; }, "'hashes' is missing or has no string 'sha256'"},
      {"signatures missing", [](json& e) { e.erase("signatures"); },
       "'signatures' is missing or not an object of objects of strings"},
      {"signatures list", [](json& e) { e["signatures"] = json::array(); },
       "'signatures' is missing or not an object of objects of strings"},
      {"server's signatures a string", [](json& e) { e["signatures"]["origin.test"] = "sig"; },
       "'signatures' is missing or not an object of objects of strings"},
      {"signature an int", [](json& e) { e["signatures"]["other.test"] = {{"ed25519:k", 1}}; },
       "'signatures' is missing or not an object of objects of strings"},
      {"prev_events missing", [](json& e) { e.erase("prev_events"); }, "'prev_events' is missing or not a list"},
      {"prev_events object", [](json& e) { e["prev_events"] = json::object(); },
       "'prev_events' is missing or not a list"},
      {"21 prev_events", [](json& e) { e["prev_events"] = refs(ver("10"), 21, "p"); },
       "'prev_events' has 21 entries, more than 20"},
      {"auth_events missing", [](json& e) { e.erase("auth_events"); }, "'auth_events' is missing or not a list"},
      {"11 auth_events", [](json& e) { e["auth_events"] = refs(ver("10"), 11, "a"); },
       "'auth_events' has 11 entries, more than 10"},
      {"redacts int", [](json& e) { e["redacts"] = 3; }, "'redacts' is not a string"},
  };
  const room_version& v = ver("10");
  for (const auto& m : mutations) {
    const std::string what = m.what;
    CAPTURE(what);
    json e = message(v);
    // Signing rewrites `hashes` and `signatures`: break those after it.
    const bool after_signing = what.rfind("hashes", 0) == 0 || what.rfind("sha256", 0) == 0
                               || what.rfind("signature", 0) == 0 || what.rfind("server's", 0) == 0;
    if (!after_signing) m.apply(e);
    hash_and_sign_event(e, "origin.test", origin_key(), v);
    if (after_signing) m.apply(e);
    CHECK(reason(check_pdu_format(e, v)) == m.expected);
    // The other steps stay total on the same input.
    key_store keys;
    CHECK_NOTHROW(required_signatures(e, v));
    CHECK_NOTHROW(check_pdu_signatures(e, v, keys.lookup()));
    CHECK_NOTHROW(check_pdu_hash(e, v));
  }
  CHECK(reason(check_pdu_format(json::array(), v)) == "the event is not an object");
  CHECK(reason(check_pdu_format(json("x"), v)) == "the event is not an object");
  key_store keys;
  CHECK(reason(check_pdu_signatures(json(5), v, keys.lookup())) == "the event is not an object");
  CHECK(required_signatures(json(nullptr), v).empty());
  CHECK(check_pdu_hash(json(5), v).redacted);

  // The limits themselves pass: 20 prev_events, 10 auth_events, 255-byte
  // ids, the largest depth and a state_key of 255 bytes.
  json e = message(v);
  e["prev_events"] = refs(v, 20, "p");
  e["auth_events"] = refs(v, 10, "a");
  e["sender"] = "@" + std::string(255 - 13, 'a') + ":origin.test";
  e["room_id"] = "!" + std::string(255 - 13, 'r') + ":origin.test";
  e["type"] = std::string(255, 't');
  e["state_key"] = std::string(255, 's');
  e["depth"] = (1LL << 53) - 1;
  REQUIRE(e["sender"].get<std::string>().size() == 255);
  hash_and_sign_event(e, "origin.test", origin_key(), v);
  CHECK(passes_all(e, v));
  // v11 moves `redacts` into content: a top-level one is not looked at.
  json v11 = message(ver("11"));
  v11["redacts"] = 3;
  hash_and_sign_event(v11, "origin.test", origin_key(), ver("11"));
  CHECK(passes_all(v11, ver("11")));
}

TEST_CASE("pdu checks: v6+ enforce canonical JSON; depth limits per version") {
  const room_version& v5 = ver("5");
  for (const room_version* v : all_versions()) {
    CAPTURE(v->id);
    json floaty = message(*v);
    floaty["content"]["weight"] = 1.5;
    hash_and_sign_event(floaty, "origin.test", origin_key(), *v);
    json big = message(*v);
    big["content"]["n"] = 1LL << 53;
    hash_and_sign_event(big, "origin.test", origin_key(), *v);
    if (v->strict_canonical_json) {
      CHECK(reason(check_pdu_format(floaty, *v)).rfind("not canonical JSON", 0) == 0);
      CHECK(reason(check_pdu_format(big, *v)).rfind("not canonical JSON", 0) == 0);
    } else {
      CHECK(passes_all(floaty, *v));
      CHECK(passes_all(big, *v));
    }
    // `unsigned` is covered by nothing and not checked.
    json e = signed_message(*v);
    e["unsigned"] = {{"age", 0.5}, {"x", std::string(70000, 'u')}};
    CHECK(passes_all(e, *v));
  }
  // depth: below 2^63 up to v5 (pdu_v1/v3/v4), up to 2^53 - 1 from v6 (depth_v6).
  json deep = message(v5);
  deep["depth"] = INT64_MAX;
  hash_and_sign_event(deep, "origin.test", origin_key(), v5);
  CHECK(passes_all(deep, v5));
  deep["depth"] = static_cast<uint64_t>(INT64_MAX) + 1;
  CHECK(reason(check_pdu_format(deep, v5)) == "'depth' is missing or not a 64-bit integer");
  json deep6 = signed_message(ver("6"));
  deep6["depth"] = 1LL << 53;
  CHECK(reason(check_pdu_format(deep6, ver("6"))) == "'depth' is above 2^53 - 1");
}

TEST_CASE("pdu checks: 65536 bytes of canonical JSON, signatures included") {
  const room_version& v = ver("10");
  json e = message(v);
  e["content"]["body"] = "";
  e.erase("unsigned");
  hash_and_sign_event(e, "origin.test", origin_key(), v);
  // Hash and signature have fixed lengths: pad the body to the limit.
  size_t pad = max_pdu_bytes - canonical_json(e).size();
  e["content"]["body"] = std::string(pad, 'x');
  hash_and_sign_event(e, "origin.test", origin_key(), v);
  REQUIRE(canonical_json(e).size() == 65536);
  CHECK(passes_all(e, v));
  e["unsigned"] = {{"age", 1}};
  CHECK(passes_all(e, v));
  e["content"]["body"] = std::string(pad + 1, 'x');
  hash_and_sign_event(e, "origin.test", origin_key(), v);
  CHECK(reason(check_pdu_format(e, v)) == "the event is 65537 bytes, more than 65536");
  // Another server's signature counts too.
  e["content"]["body"] = std::string(pad, 'x');
  hash_and_sign_event(e, "origin.test", origin_key(), v);
  sign_event(e, "other.test", other_key(), v);
  CHECK(reason(check_pdu_format(e, v)).rfind("the event is ", 0) == 0);
}

TEST_CASE("pdu checks: restricted joins need the authorising server's signature (v8+)") {
  for (const char* id : {"8", "9", "10", "11"}) {
    const room_version& v = ver(id);
    CAPTURE(v.id);
    json e = restricted_join(v);
    hash_and_sign_event(e, "joiner.test", joiner_key(), v);
    CHECK(reason(check_pdu_format(e, v)) == "");
    CHECK(required_signatures(e, v)
          == std::vector<required_signature>{{"joiner.test", ts}, {"authoriser.test", ts}});
    key_store keys;
    CHECK(reason(check_pdu_signatures(e, v, keys.lookup())) == "not signed by authoriser.test");
    sign_event(e, "authoriser.test", authoriser_key(), v);
    CHECK(reason(check_pdu_signatures(e, v, keys.lookup())) == "");
    CHECK(passes_all(e, v));
    // Signed by the authoriser alone is not enough either.
    json only_authoriser = restricted_join(v);
    hash_and_sign_event(only_authoriser, "authoriser.test", authoriser_key(), v);
    CHECK(reason(check_pdu_signatures(only_authoriser, v, keys.lookup())) == "not signed by joiner.test");

    for (json bad : {json(5), json("admin"), json("@admin")}) {
      json m = restricted_join(v);
      m["content"]["join_authorised_via_users_server"] = bad;
      hash_and_sign_event(m, "joiner.test", joiner_key(), v);
      CHECK(reason(check_pdu_format(m, v)) == "'join_authorised_via_users_server' is not a user id");
      CHECK(reason(check_pdu_signatures(m, v, keys.lookup()))
            == "'join_authorised_via_users_server' is not a user id");
      CHECK(required_signatures(m, v) == std::vector<required_signature>{{"joiner.test", ts}});
    }
    // Only joins: a leave carrying the key needs the sender's server alone.
    json leave = restricted_join(v);
    leave["content"]["membership"] = "leave";
    CHECK(required_signatures(leave, v) == std::vector<required_signature>{{"joiner.test", ts}});
  }
  // Before v8 the key means nothing.
  const room_version& v7 = ver("7");
  json e = restricted_join(v7);
  e["content"]["join_authorised_via_users_server"] = 5;
  hash_and_sign_event(e, "joiner.test", joiner_key(), v7);
  CHECK(required_signatures(e, v7) == std::vector<required_signature>{{"joiner.test", ts}});
  CHECK(passes_all(e, v7));
  // The authorising server is the sender's: one signature does.
  json self = restricted_join(ver("10"));
  self["content"]["join_authorised_via_users_server"] = "@admin:joiner.test";
  hash_and_sign_event(self, "joiner.test", joiner_key(), ver("10"));
  CHECK(required_signatures(self, ver("10")) == std::vector<required_signature>{{"joiner.test", ts}});
  CHECK(passes_all(self, ver("10")));
}

TEST_CASE("pdu checks: an invite from a third-party invite needs no signature by its sender's server") {
  json content = {{"membership", "invite"},
                  {"third_party_invite",
                   {{"display_name", "c..."},
                    {"signed", {{"mxid", "@carol:third.test"}, {"token", "t"}, {"signatures", json::object()}}}}}};
  const room_version& v10 = ver("10");
  json e = message(v10);
  e["type"] = "m.room.member";
  e["state_key"] = "@carol:third.test";
  e["content"] = content;
  hash_and_sign_event(e, "other.test", other_key(), v10);
  CHECK(reason(check_pdu_format(e, v10)) == "");
  CHECK(required_signatures(e, v10).empty());
  key_store keys;
  CHECK(reason(check_pdu_signatures(e, v10, keys.lookup())) == "");
  // A plain invite from the same server is refused.
  json plain = e;
  plain["content"].erase("third_party_invite");
  hash_and_sign_event(plain, "other.test", other_key(), v10);
  CHECK(reason(check_pdu_signatures(plain, v10, keys.lookup())) == "not signed by origin.test");
  // v1: the event id's server still signs.
  const room_version& v1 = ver("1");
  json old = message(v1);
  old["event_id"] = "$i1:other.test";
  old["type"] = "m.room.member";
  old["state_key"] = "@carol:third.test";
  old["content"] = content;
  CHECK(required_signatures(old, v1) == std::vector<required_signature>{{"other.test", 0}});
  hash_and_sign_event(old, "origin.test", origin_key(), v1);
  CHECK(reason(check_pdu_signatures(old, v1, keys.lookup())) == "not signed by other.test");
}

TEST_CASE("pdu checks: signatures by known keys must verify; unknown keys are skipped") {
  const room_version& v = ver("10");
  const std::string kid = origin_key().key_id();
  json e = signed_message(v);
  key_store keys;

  SUBCASE("a signature by another key under the known key id") {
    json forged = message(v);
    hash_and_sign_event(forged, "origin.test", *signing_key::from_seed("o1", std::string(32, 'z')), v);
    CHECK(reason(check_pdu_signatures(forged, v, keys.lookup())) == "invalid signature by origin.test with " + kid);
  }
  SUBCASE("not base64") {
    e["signatures"]["origin.test"][kid] = "!!not base64!!";
    CHECK(reason(check_pdu_format(e, v)) == "");
    CHECK(reason(check_pdu_signatures(e, v, keys.lookup())) == "invalid signature by origin.test with " + kid);
  }
  SUBCASE("a truncated signature") {
    std::string sig = e["signatures"]["origin.test"][kid];
    e["signatures"]["origin.test"][kid] = sig.substr(0, 40);
    CHECK(reason(check_pdu_signatures(e, v, keys.lookup())) == "invalid signature by origin.test with " + kid);
  }
  SUBCASE("a changed field the signature covers") {
    e["depth"] = 6;
    CHECK(reason(check_pdu_signatures(e, v, keys.lookup())) == "invalid signature by origin.test with " + kid);
  }
  SUBCASE("no signature by the sender's server") {
    e["signatures"].erase("origin.test");
    CHECK(reason(check_pdu_signatures(e, v, keys.lookup())) == "not signed by origin.test");
    e["signatures"]["origin.test"] = json::object();
    CHECK(reason(check_pdu_signatures(e, v, keys.lookup())) == "not signed by origin.test");
  }
  SUBCASE("only unknown or non-ed25519 keys") {
    std::string sig = e["signatures"]["origin.test"][kid];
    e["signatures"]["origin.test"] = {{"ed25519:gone", sig}, {"curve:x", sig}};
    CHECK(reason(check_pdu_signatures(e, v, keys.lookup())) == "no signature by a known key of origin.test");
    // Only the ed25519 key id was looked up.
    REQUIRE(keys.asked.size() == 1);
    CHECK(std::get<1>(keys.asked[0]) == "ed25519:gone");
  }
  SUBCASE("an unknown key beside a valid one") {
    e["signatures"]["origin.test"]["ed25519:gone"] = "garbage";
    CHECK(reason(check_pdu_signatures(e, v, keys.lookup())) == "");
  }
  SUBCASE("a second known key whose signature fails") {
    signing_key second = key_of("o2", 'p');
    keys.entries.push_back({"origin.test", second, ts + 1000});
    e["signatures"]["origin.test"][second.key_id()] = e["signatures"]["origin.test"][kid];
    CHECK(reason(check_pdu_signatures(e, v, keys.lookup()))
          == "invalid signature by origin.test with " + second.key_id());
    sign_event(e, "origin.test", second, v);
    CHECK(reason(check_pdu_signatures(e, v, keys.lookup())) == "");
  }
  SUBCASE("signatures by servers not required are not looked at") {
    e["signatures"]["stranger.test"] = {{"ed25519:s", "bad"}};
    CHECK(reason(check_pdu_signatures(e, v, keys.lookup())) == "");
    CHECK(keys.asked.size() == 1);
  }
  SUBCASE("a redacted copy keeps its signature") {
    json redacted = redact(e, v);
    REQUIRE(redacted["content"] == json::object());
    CHECK(reason(check_pdu_signatures(redacted, v, keys.lookup())) == "");
  }
  SUBCASE("no lookup") {
    CHECK(reason(check_pdu_signatures(e, v, key_lookup())) == "no key lookup given");
  }
}

TEST_CASE("pdu checks: v5+ need the key valid at origin_server_ts, v4 takes any key") {
  key_store keys;
  keys.entries[0].valid_until = ts - 1; // origin.test's key expired just before
  for (const room_version* v : all_versions()) {
    CAPTURE(v->id);
    json e = signed_message(*v);
    keys.asked.clear();
    auto why = check_pdu_signatures(e, *v, keys.lookup());
    REQUIRE(keys.asked.size() == 1);
    if (v->enforce_key_validity) {
      CHECK(reason(why) == "no signature by a known key of origin.test");
      CHECK(std::get<2>(keys.asked[0]) == ts);
    } else {
      CHECK(reason(why) == "");
      CHECK(std::get<2>(keys.asked[0]) == 0);
    }
  }
  CHECK_FALSE(ver("4").enforce_key_validity);
  CHECK(ver("5").enforce_key_validity);
  // Valid exactly at origin_server_ts is enough.
  keys.entries[0].valid_until = ts;
  CHECK(reason(check_pdu_signatures(signed_message(ver("5")), ver("5"), keys.lookup())) == "");
}

TEST_CASE("pdu checks: the signed bytes give the event id") {
  for (const room_version* v : all_versions()) {
    CAPTURE(v->id);
    json e = signed_message(*v);
    key_store keys;
    std::string bytes = "untouched";
    // A refused event leaves them as they were.
    json forged = e;
    forged["sender"] = "@mallory:origin.test";
    REQUIRE(check_pdu_signatures(forged, *v, keys.lookup(), &bytes));
    CHECK(bytes == "untouched");
    REQUIRE(reason(check_pdu_signatures(e, *v, keys.lookup(), &bytes)) == "");
    CHECK(event_id_from_reference_bytes(e, bytes, *v) == compute_event_id(e, *v));
    CHECK_FALSE(compute_event_id(e, *v).empty());
  }
}

TEST_CASE("pdu checks: a content hash mismatch gives the redacted event") {
  for (const room_version* v : all_versions()) {
    CAPTURE(v->id);
    json e = signed_message(*v);
    e["content"]["body"] = "changed on the way";
    key_store keys;
    // Content is outside the redacted form: the signature still holds.
    CHECK(reason(check_pdu_signatures(e, *v, keys.lookup())) == "");
    auto hashed = check_pdu_hash(e, *v);
    CHECK(hashed.redacted);
    CHECK(hashed.event == redact(e, *v));
    CHECK(hashed.event["content"] == json::object());
    CHECK_FALSE(hashed.event.contains("unsigned"));
    CHECK(hashed.event["hashes"] == e["hashes"]);
    CHECK(hashed.event["signatures"] == e["signatures"]);
    // What is kept still passes steps 1 and 2.
    CHECK(reason(check_pdu_format(hashed.event, *v)) == "");
    CHECK(reason(check_pdu_signatures(hashed.event, *v, keys.lookup())) == "");

    // A copy redacted by the sending side: redacted again, to the same thing.
    json received_redacted = redact(signed_message(*v), *v);
    auto again = check_pdu_hash(received_redacted, *v);
    CHECK(again.redacted);
    CHECK(again.event == received_redacted);
  }
  // A member event keeps its membership.
  const room_version& v11 = ver("11");
  json member = restricted_join(v11);
  hash_and_sign_event(member, "joiner.test", joiner_key(), v11);
  member["content"]["displayname"] = "added later";
  auto hashed = check_pdu_hash(member, v11);
  CHECK(hashed.redacted);
  CHECK(hashed.event["content"] == json{{"membership", "join"},
                                        {"join_authorised_via_users_server", "@admin:authoriser.test"}});
  // A hash that is not base64 cannot match.
  json bad = signed_message(v11);
  bad["hashes"]["sha256"] = "***";
  CHECK(reason(check_pdu_format(bad, v11)) == "");
  CHECK(check_pdu_hash(bad, v11).redacted);
  json missing = signed_message(v11);
  missing.erase("hashes");
  CHECK(check_pdu_hash(missing, v11).redacted);
}

TEST_CASE("pdu checks: v11 no longer signs `origin`, v10 does") {
  json e10 = signed_message(ver("10"));
  json e11 = signed_message(ver("11"));
  e10["origin"] = "elsewhere.test";
  e11["origin"] = "elsewhere.test";
  key_store keys;
  CHECK(reason(check_pdu_signatures(e10, ver("10"), keys.lookup()))
        == "invalid signature by origin.test with " + origin_key().key_id());
  CHECK(reason(check_pdu_signatures(e11, ver("11"), keys.lookup())) == "");
  // The content hash covers it in every version: redacted, `origin` dropped.
  auto hashed = check_pdu_hash(e11, ver("11"));
  CHECK(hashed.redacted);
  CHECK_FALSE(hashed.event.contains("origin"));
  // A v11 redaction names its target in content.
  json redaction = message(ver("11"));
  redaction["type"] = "m.room.redaction";
  redaction["content"] = {{"redacts", hash_id(ver("11"), sha256("target"))}, {"reason", "spam"}};
  hash_and_sign_event(redaction, "origin.test", origin_key(), ver("11"));
  CHECK(passes_all(redaction, ver("11")));
  redaction["content"]["reason"] = "edited";
  auto redacted = check_pdu_hash(redaction, ver("11"));
  CHECK(redacted.redacted);
  CHECK(redacted.event["content"] == json{{"redacts", hash_id(ver("11"), sha256("target"))}});
}
