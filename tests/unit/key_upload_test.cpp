// tests/unit/key_upload_test.cpp -- matrix/key_upload.hpp: the shape of a
// POST /keys/upload body (spec DeviceKeys and KeyObject).
#include "matrix/key_upload.hpp"

#include <doctest/doctest.h>

using namespace axon::matrix;
using nlohmann::json;

namespace {

json device_keys() {
  return json::parse(R"({
    "user_id": "@a:x", "device_id": "DEV",
    "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
    "keys": {"curve25519:DEV": "c", "ed25519:DEV": "e"},
    "signatures": {"@a:x": {"ed25519:DEV": "s"}}
  })");
}

upload_problem::kind_t kind_of(const json& dk) {
  auto p = check_device_keys(dk, "@a:x", "DEV");
  REQUIRE(p);
  return p->kind;
}

} // namespace

TEST_CASE("key upload: well-formed device keys pass, keys and signatures not decoded") {
  CHECK_FALSE(check_device_keys(device_keys(), "@a:x", "DEV"));
  auto dk = device_keys();
  dk["keys"]["ed25519:DEV"] = "not base64 !!";
  dk["signatures"]["@a:x"]["ed25519:DEV"] = "%%%";
  dk["unsigned"] = {{"device_display_name", "phone"}};
  CHECK_FALSE(check_device_keys(dk, "@a:x", "DEV"));
}

TEST_CASE("key upload: each malformed device_keys member is M_BAD_JSON") {
  CHECK(kind_of(json::array()) == upload_problem::bad_json);
  for (auto* key : {"user_id", "device_id", "algorithms", "keys", "signatures"}) {
    auto dk = device_keys();
    dk.erase(key);
    CHECK_MESSAGE(kind_of(dk) == upload_problem::bad_json, "missing ", key);
  }
  std::pair<const char*, json> bad[] = {
    {"user_id", 5},
    {"device_id", json::array()},
    {"algorithms", "m.megolm.v1.aes-sha2"},
    {"algorithms", json::array({1})},
    {"keys", json::array()},
    {"keys", {{"ed25519:DEV", 5}}},
    {"signatures", "s"},
    {"signatures", {{"@a:x", "s"}}},
    {"signatures", {{"@a:x", {{"ed25519:DEV", 1}}}}},
  };
  for (auto& [key, value] : bad) {
    auto dk = device_keys();
    dk[key] = value;
    CHECK_MESSAGE(kind_of(dk) == upload_problem::bad_json, key, " = ", value.dump());
  }
}

TEST_CASE("key upload: device keys of another user or device are M_INVALID_PARAM") {
  auto p = check_device_keys(device_keys(), "@b:x", "DEV");
  REQUIRE(p);
  CHECK(p->kind == upload_problem::invalid_param);
  p = check_device_keys(device_keys(), "@a:x", "OTHER");
  REQUIRE(p);
  CHECK(p->kind == upload_problem::invalid_param);
}

TEST_CASE("key upload: one-time and fallback key maps") {
  auto good = json::parse(R"({
    "curve25519:AAAA": "unsigned key, not even base64 ?",
    "signed_curve25519:AAAB": {"key": "k", "signatures": {"@a:x": {"ed25519:DEV": "s"}}},
    "signed_curve25519:AAAC": {"key": "k", "fallback": true, "signatures": {}}
  })");
  CHECK_FALSE(check_key_map(good, "one_time_keys"));
  CHECK_FALSE(check_key_map(json::object(), "one_time_keys"));
  const char* bad[] = {
    R"([])",
    R"({"nocolon": "k"})",
    R"({":id": "k"})",
    R"({"alg:": "k"})",
    R"({"alg:id": 5})",
    R"({"alg:id": ["k"]})",
    R"({"alg:id": {"signatures": {}}})",
    R"({"alg:id": {"key": 1, "signatures": {}}})",
    R"({"alg:id": {"key": "k"}})",
    R"({"alg:id": {"key": "k", "signatures": {"@a:x": "s"}}})",
    R"({"alg:id": {"key": "k", "signatures": {}, "fallback": "yes"}})",
  };
  for (auto* text : bad) {
    auto p = check_key_map(json::parse(text), "fallback_keys");
    REQUIRE_MESSAGE(p, text);
    CHECK(p->kind == upload_problem::bad_json);
    CHECK(p->message.rfind("fallback_keys", 0) == 0);
  }
}
