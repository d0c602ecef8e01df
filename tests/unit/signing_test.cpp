// Signing JSON against the spec's vectors (appendices, "Cryptographic Test
// Vectors" / "JSON Signing" and "Signing Details").
#include "matrix/signing.hpp"

#include <doctest/doctest.h>

using namespace axon::matrix;
using nlohmann::json;

namespace {
signing_key spec_key() {
  return *signing_key::from_synapse_line(
      "ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1");
}
} // namespace

TEST_CASE("sign_json: spec vectors") {
  signing_key key = spec_key();
  json empty = json::object();
  sign_json(empty, "domain", key);
  CHECK(empty == json::parse(R"({"signatures":{"domain":{"ed25519:1":
    "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"}}})"));

  json data = {{"one", 1}, {"two", "Two"}};
  sign_json(data, "domain", key);
  CHECK(data == json::parse(R"({"one":1,"two":"Two","signatures":{"domain":{"ed25519:1":
    "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}}})"));
  CHECK(verify_json(data, "domain", "ed25519:1", key.public_key));
}

TEST_CASE("sign_json: unsigned and other signatures are kept, not covered") {
  signing_key key = spec_key();
  json obj = json::parse(R"({"one":1,"two":"Two","unsigned":{"age_ts":5},
    "signatures":{"other":{"ed25519:x":"abc"}}})");
  sign_json(obj, "domain", key);
  CHECK(obj["unsigned"] == json{{"age_ts", 5}});
  CHECK(obj["signatures"]["other"]["ed25519:x"] == "abc");
  // Same signature as without unsigned/other signatures: they are not covered.
  CHECK(obj["signatures"]["domain"]["ed25519:1"]
        == "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw");
  obj["unsigned"]["age_ts"] = 6;
  CHECK(verify_json(obj, "domain", "ed25519:1", key.public_key));
}

TEST_CASE("verify_json: failures") {
  signing_key key = spec_key();
  signing_key other = signing_key::generate();
  json obj = {{"one", 1}};
  sign_json(obj, "domain", key);
  CHECK_FALSE(verify_json(obj, "domain", "ed25519:1", other.public_key));
  CHECK_FALSE(verify_json(obj, "elsewhere", "ed25519:1", key.public_key));
  CHECK_FALSE(verify_json(obj, "domain", "ed25519:2", key.public_key));
  json tampered = obj;
  tampered["one"] = 2;
  CHECK_FALSE(verify_json(tampered, "domain", "ed25519:1", key.public_key));
  json bad = obj;
  bad["signatures"]["domain"]["ed25519:1"] = 7;
  CHECK_FALSE(verify_json(bad, "domain", "ed25519:1", key.public_key));
  bad["signatures"] = "x";
  CHECK_FALSE(verify_json(bad, "domain", "ed25519:1", key.public_key));
  CHECK_FALSE(verify_json(json::array(), "domain", "ed25519:1", key.public_key));
  json not_object = 3;
  sign_json(not_object, "domain", key);
  CHECK(not_object == 3);
}
