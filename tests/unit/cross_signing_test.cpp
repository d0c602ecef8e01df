// tests/unit/cross_signing_test.cpp -- matrix/cross_signing.hpp: the checks
// on an uploaded CrossSigningKey.
#include "matrix/cross_signing.hpp"
#include "matrix/crypto.hpp"
#include "matrix/signing.hpp"

#include <doctest/doctest.h>

using namespace axon::matrix;
using nlohmann::json;

namespace {

/// A key whose version is its public key, as cross-signing keys are named.
signing_key cs_key() {
  auto k = signing_key::generate();
  return *signing_key::from_seed(k.public_b64(), k.seed);
}

json cs_json(const signing_key& k, const std::string& user, const std::string& usage) {
  return {{"user_id", user}, {"usage", {usage}}, {"keys", {{k.key_id(), k.public_b64()}}}};
}

} // namespace

TEST_CASE("cross-signing: the public key is the only ed25519 key, named by its value") {
  auto k = cs_key();
  auto j = cs_json(k, "@a:x", "master");
  auto pub = public_key_of(j);
  REQUIRE(pub);
  CHECK(pub->key_id == "ed25519:" + k.public_b64());
  CHECK(pub->base64 == k.public_b64());
  CHECK(pub->raw == k.public_key);
  auto two = j;
  two["keys"]["ed25519:other"] = "abc";
  CHECK_FALSE(public_key_of(two));
  auto misnamed = j;
  misnamed["keys"] = {{"ed25519:DEV", k.public_b64()}};
  CHECK_FALSE(public_key_of(misnamed));
  auto curve = j;
  curve["keys"] = {{"curve25519:" + k.public_b64(), k.public_b64()}};
  CHECK_FALSE(public_key_of(curve));
  CHECK_FALSE(public_key_of(json::array()));
  CHECK_FALSE(public_key_of(json{{"keys", {{"ed25519:AAAA", "AAAA"}}}})); // not 32 bytes
}

TEST_CASE("cross-signing: user, usage and the master key's signature are checked") {
  auto master = cs_key(), ssk = cs_key(), other = cs_key();
  auto mj = cs_json(master, "@a:x", "master");
  CHECK_FALSE(check_cross_signing_key(mj, "@a:x", "master", nullptr));
  auto wrong_user = check_cross_signing_key(mj, "@b:x", "master", nullptr);
  REQUIRE(wrong_user);
  CHECK(wrong_user->kind == key_problem::invalid_param);
  auto wrong_usage = check_cross_signing_key(mj, "@a:x", "self_signing", nullptr);
  REQUIRE(wrong_usage);
  CHECK(wrong_usage->kind == key_problem::invalid_param);

  auto master_pub = *public_key_of(mj);
  auto sj = cs_json(ssk, "@a:x", "self_signing");
  auto unsigned_p = check_cross_signing_key(sj, "@a:x", "self_signing", &master_pub);
  REQUIRE(unsigned_p);
  CHECK(unsigned_p->kind == key_problem::invalid_signature);
  auto by_other = sj;
  sign_json(by_other, "@a:x", other);
  CHECK(check_cross_signing_key(by_other, "@a:x", "self_signing", &master_pub)->kind ==
        key_problem::invalid_signature);
  sign_json(sj, "@a:x", master);
  CHECK_FALSE(check_cross_signing_key(sj, "@a:x", "self_signing", &master_pub));
  // Tampered after signing.
  sj["usage"].push_back("extra");
  CHECK(check_cross_signing_key(sj, "@a:x", "self_signing", &master_pub)->kind ==
        key_problem::invalid_signature);
}

TEST_CASE("cross-signing: signed_part drops signatures and unsigned only") {
  json a = {{"keys", {{"k", "v"}}}, {"signatures", {{"@a:x", {{"k", "s"}}}}}, {"unsigned", {{"x", 1}}}};
  CHECK(signed_part(a) == json{{"keys", {{"k", "v"}}}});
}
