// Server keys (GET /_matrix/key/v2/server) and X-Matrix request signing.
#include "matrix/server_keys.hpp"
#include "matrix/signing.hpp"
#include "matrix/x_matrix.hpp"

#include <doctest/doctest.h>

using namespace axon::matrix;
using nlohmann::json;

namespace {
signing_key spec_key() {
  return *signing_key::from_synapse_line("ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1");
}
} // namespace

TEST_CASE("own_server_keys: self-signed, with old keys, readable by check_server_keys") {
  auto key = spec_key();
  auto old = signing_key::generate();
  auto r = own_server_keys("example.org", key, {{old.key_id(), old.public_key, 1600000000000}}, 1700000000000);
  CHECK(r["server_name"] == "example.org");
  CHECK(r["valid_until_ts"] == 1700000000000);
  CHECK(r["verify_keys"]["ed25519:1"]["key"] == key.public_b64());
  CHECK(r["old_verify_keys"][old.key_id()]["expired_ts"] == 1600000000000);
  CHECK(verify_json(r, "example.org", "ed25519:1", key.public_key));

  std::string why;
  auto k = check_server_keys(r, "example.org", &why);
  REQUIRE_MESSAGE(k, why);
  CHECK(k->valid_until_ts == 1700000000000);
  CHECK(k->verify_keys.at("ed25519:1") == key.public_key);
  CHECK(k->old_verify_keys.at(old.key_id()).public_key == old.public_key);
  CHECK(k->old_verify_keys.at(old.key_id()).expired_ts == 1600000000000);

  SUBCASE("a key response for another server is refused") {
    CHECK_FALSE(check_server_keys(r, "other.org", &why));
  }
  SUBCASE("tampered after signing") {
    r["valid_until_ts"] = 1800000000000;
    CHECK_FALSE(check_server_keys(r, "example.org", &why));
    CHECK(why.find("does not verify") != std::string::npos);
  }
  SUBCASE("signed only by a key it does not list") {
    json bare = r;
    bare.erase("signatures");
    sign_json(bare, "example.org", old);
    CHECK_FALSE(check_server_keys(bare, "example.org", &why));
    bare.erase("signatures");
    CHECK_FALSE(check_server_keys(bare, "example.org", &why));
  }
  SUBCASE("malformed keys and fields") {
    for (auto mutate : std::vector<std::function<void(json&)>>{
           [](json& j) { j["verify_keys"]["ed25519:1"]["key"] = "short"; },
           [](json& j) { j["verify_keys"] = "nope"; },
           [](json& j) { j.erase("valid_until_ts"); },
           [](json& j) { j["valid_until_ts"] = "soon"; },
           [](json& j) { j["old_verify_keys"]["ed25519:x"] = {{"key", "AAAA"}}; },
           [](json& j) { j["server_name"] = 5; }}) {
      json copy = r;
      copy.erase("signatures");
      mutate(copy);
      sign_json(copy, "example.org", key);
      CHECK_FALSE(check_server_keys(copy, "example.org", &why));
    }
    CHECK_FALSE(check_server_keys(json::array(), "example.org", &why));
  }
  SUBCASE("keys of other algorithms are skipped, not refused") {
    json copy = r;
    copy.erase("signatures");
    copy["verify_keys"]["curve25519:x"] = {{"key", "whatever"}};
    sign_json(copy, "example.org", key);
    auto k2 = check_server_keys(copy, "example.org", &why);
    REQUIRE_MESSAGE(k2, why);
    CHECK(k2->verify_keys.size() == 1);
  }
}

TEST_CASE("X-Matrix: sign a request, parse the header, verify it") {
  auto key = spec_key();
  json body = {{"pdus", json::array()}, {"origin", "origin.example"}};
  auto header = sign_request(key, "PUT", "/_matrix/federation/v1/send/1?x=a%20b", "origin.example:8448",
                             "dest.example", body);
  CHECK(header.rfind("X-Matrix origin=\"origin.example:8448\",destination=\"dest.example\",key=\"ed25519:1\",sig=\"", 0) == 0);
  auto auth = parse_x_matrix(header);
  REQUIRE(auth);
  CHECK(auth->origin == "origin.example:8448");
  CHECK(auth->destination == "dest.example");
  CHECK(auth->key_id == "ed25519:1");
  CHECK(verify_request(*auth, key.public_key, "PUT", "/_matrix/federation/v1/send/1?x=a%20b", "dest.example", body));

  // Any change to what was signed fails.
  CHECK_FALSE(verify_request(*auth, key.public_key, "POST", "/_matrix/federation/v1/send/1?x=a%20b", "dest.example", body));
  CHECK_FALSE(verify_request(*auth, key.public_key, "PUT", "/_matrix/federation/v1/send/2?x=a%20b", "dest.example", body));
  CHECK_FALSE(verify_request(*auth, key.public_key, "PUT", "/_matrix/federation/v1/send/1?x=a%20b", "other.example", body));
  CHECK_FALSE(verify_request(*auth, key.public_key, "PUT", "/_matrix/federation/v1/send/1?x=a%20b", "dest.example",
                             json{{"pdus", json::array()}}));
  CHECK_FALSE(verify_request(*auth, key.public_key, "PUT", "/_matrix/federation/v1/send/1?x=a%20b", "dest.example"));
  CHECK_FALSE(verify_request(*auth, signing_key::generate().public_key, "PUT",
                             "/_matrix/federation/v1/send/1?x=a%20b", "dest.example", body));

  SUBCASE("a header without destination (before v1.3) verifies against ours") {
    auto old_style = "X-Matrix origin=origin.example:8448,key=\"ed25519:1\",sig=\"" + auth->sig + "\"";
    auto a2 = parse_x_matrix(old_style);
    REQUIRE(a2);
    CHECK(a2->destination.empty());
    CHECK(verify_request(*a2, key.public_key, "PUT", "/_matrix/federation/v1/send/1?x=a%20b", "dest.example", body));
  }
  SUBCASE("a GET signs no content") {
    auto h = sign_request(key, "GET", "/_matrix/federation/v1/version", "a.example", "b.example");
    auto a = parse_x_matrix(h);
    REQUIRE(a);
    CHECK(verify_request(*a, key.public_key, "GET", "/_matrix/federation/v1/version", "b.example"));
    CHECK_FALSE(verify_request(*a, key.public_key, "GET", "/_matrix/federation/v1/version", "b.example", json::object()));
  }
}

TEST_CASE("X-Matrix header parsing") {
  auto ok = parse_x_matrix("x-matrix  Origin=a.example , KEY = \"ed25519:k\",sig=\"s\\\"ig\" ,destination=b.example");
  REQUIRE(ok);
  CHECK(ok->origin == "a.example");
  CHECK(ok->key_id == "ed25519:k");
  CHECK(ok->sig == "s\"ig");
  CHECK(ok->destination == "b.example");
  CHECK(parse_x_matrix("X-Matrix origin=a.example,key=ed25519:k,sig=abc,extra=1"));

  for (const char* bad : {
         "", "X-Matrix", "Bearer abc", "X-Matrixorigin=a,key=k,sig=s",
         "X-Matrix key=\"ed25519:k\",sig=\"s\"",                         // no origin
         "X-Matrix origin=a.example,sig=\"s\"",                          // no key
         "X-Matrix origin=a.example,key=\"ed25519:k\"",                  // no sig
         "X-Matrix origin=\"a.example,key=\"ed25519:k\",sig=\"s\"",      // unterminated quote
         "X-Matrix origin=a.example,origin=b.example,key=k,sig=s",       // twice
         "X-Matrix origin=bad_server!,key=k,sig=s",                      // not a server name
         "X-Matrix origin=a.example,destination=\"\",key=k,sig=s",       // empty destination
         "X-Matrix origin=a.example key=k,sig=s",                        // no comma
         "X-Matrix origin=a.example,,key=k,sig=s",
         "X-Matrix origin=,key=k,sig=s",
       })
    CHECK_MESSAGE(!parse_x_matrix(bad), bad);
}
