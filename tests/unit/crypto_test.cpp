// Hashes, signing keys, passwords, HMACs, random strings (matrix/crypto).
#include "matrix/crypto.hpp"

#include "matrix/base64.hpp"

#include <Poco/DigestEngine.h>
#include <doctest/doctest.h>

#include <vector>

using namespace axon::matrix;

namespace {
std::string hex(const std::string& raw) {
  return Poco::DigestEngine::digestToHex(
      std::vector<unsigned char>(raw.begin(), raw.end()));
}
// appendices, "Cryptographic Test Vectors"
constexpr const char* spec_seed = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1";
} // namespace

TEST_CASE("sha256: FIPS 180-2 vector") {
  CHECK(hex(sha256("abc"))
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256("").size() == 32);
}

TEST_CASE("signing_key: spec seed signs {} as the spec says") {
  auto key = signing_key::from_synapse_line(std::string("ed25519 1 ") + spec_seed);
  REQUIRE(key);
  CHECK(key->key_id() == "ed25519:1");
  CHECK(key->seed.size() == 32);
  CHECK(key->public_key.size() == 32);
  CHECK(key->secret_key.size() == 64);
  std::string sig = key->sign_b64("{}");
  CHECK(sig == "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ");
  CHECK(verify_ed25519("{}", sig, key->public_key));
  CHECK(verify_ed25519("{}", sig + "==", key->public_key));
  CHECK_FALSE(verify_ed25519("{ }", sig, key->public_key));
  CHECK_FALSE(verify_ed25519("{}", "not base64!", key->public_key));
  CHECK_FALSE(verify_ed25519("{}", sig, "short"));
  CHECK_FALSE(verify_ed25519("{}", base64_encode("short sig"), key->public_key));
}

TEST_CASE("signing_key: Synapse line round trip") {
  signing_key key = signing_key::generate();
  CHECK(key.version.size() == 6);
  CHECK(key.version.rfind("a_", 0) == 0);
  std::string line = key.to_synapse_line();
  CHECK(line.rfind("ed25519 " + key.version + " ", 0) == 0);
  auto back = signing_key::from_synapse_line(line + "\n");
  REQUIRE(back);
  CHECK(back->version == key.version);
  CHECK(back->seed == key.seed);
  CHECK(back->public_key == key.public_key);
  CHECK(back->secret_key == key.secret_key);
  CHECK(back->public_b64() == key.public_b64());
  CHECK(verify_ed25519("m", key.sign_b64("m"), back->public_key));
  CHECK(signing_key::generate().seed != key.seed);
}

TEST_CASE("signing_key: malformed Synapse lines") {
  CHECK_FALSE(signing_key::from_synapse_line(""));
  CHECK_FALSE(signing_key::from_synapse_line("ed25519 a_x"));
  CHECK_FALSE(signing_key::from_synapse_line(std::string("curve25519 a_x ") + spec_seed));
  CHECK_FALSE(signing_key::from_synapse_line("ed25519 a_x Zm9v"));
  CHECK_FALSE(signing_key::from_synapse_line("ed25519 a_x !!!"));
  CHECK_FALSE(signing_key::from_synapse_line(std::string("ed25519 a_x ") + spec_seed + " extra"));
  CHECK_FALSE(signing_key::from_seed("v", "short"));
}

TEST_CASE("passwords: argon2id hash and check") {
  std::string hash = hash_password("correct horse");
  REQUIRE_FALSE(hash.empty());
  CHECK(hash.rfind("$argon2id$", 0) == 0);
  CHECK(check_password(hash, "correct horse"));
  CHECK_FALSE(check_password(hash, "correct horse!"));
  CHECK_FALSE(check_password("", "x"));
  CHECK_FALSE(check_password("$2b$12$notabcrypthashatall", "x"));
  CHECK_FALSE(check_password(std::string(500, 'a'), "x"));
  CHECK(hash_password("correct horse") != hash); // salted
}

TEST_CASE("constant_time_equal") {
  CHECK(constant_time_equal("", ""));
  CHECK(constant_time_equal("abc", "abc"));
  CHECK_FALSE(constant_time_equal("abc", "abd"));
  CHECK_FALSE(constant_time_equal("abc", "abcd"));
}

TEST_CASE("random_string: letters only, requested length") {
  std::string s = random_string(200);
  CHECK(s.size() == 200);
  for (char c : s) CHECK(((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')));
  CHECK(random_string(0).empty());
  CHECK(random_string(32) != random_string(32));
}

TEST_CASE("hmac: RFC 2202 and RFC 4231 vectors") {
  CHECK(hmac_sha1_hex("Jefe", "what do ya want for nothing?")
        == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  CHECK(hex(hmac_sha256("Jefe", "what do ya want for nothing?"))
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // RFC 4231 test case 6: a key longer than the block size.
  CHECK(hex(hmac_sha256(std::string(131, '\xaa'),
                        "Test Using Larger Than Block-Size Key - Hash Key First"))
        == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}
