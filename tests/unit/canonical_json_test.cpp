// Canonical JSON against the spec's examples (appendices, "Canonical JSON").
#include "matrix/canonical_json.hpp"

#include <doctest/doctest.h>

using axon::matrix::canonical_json;
using axon::matrix::is_canonical_number;
using axon::matrix::is_valid_utf8;
using axon::matrix::valid_for_canonical;
using nlohmann::json;

namespace {
std::string canon(const char* text) { return canonical_json(json::parse(text)); }
} // namespace

TEST_CASE("canonical_json: spec examples") {
  CHECK(canon("{}") == "{}");
  CHECK(canon(R"({ "one": 1, "two": "Two" })") == R"({"one":1,"two":"Two"})");
  CHECK(canon(R"({ "b": "2", "a": "1" })") == R"({"a":"1","b":"2"})");
  CHECK(canon(R"({"b":"2","a":"1"})") == R"({"a":"1","b":"2"})");
  CHECK(canon(R"({
    "auth": {
      "success": true,
      "mxid": "@john.doe:example.com",
      "profile": {
        "display_name": "John Doe",
        "three_pids": [
          { "medium": "email", "address": "john.doe@example.org" },
          { "medium": "msisdn", "address": "123456789" }
        ]
      }
    }
  })") == R"({"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}})");
  CHECK(canon(R"({ "a": "日本語" })") == R"({"a":"日本語"})");
  CHECK(canon(R"({ "本": 2, "日": 1 })") == R"({"日":1,"本":2})");
  CHECK(canon(R"({ "a": "\u65E5" })") == R"({"a":"日"})");
  CHECK(canon(R"({ "a": null })") == R"({"a":null})");
  CHECK(canon(R"({ "a": -0, "b": 1e10 })") == R"({"a":0,"b":10000000000})");
}

TEST_CASE("canonical_json: escapes only what the grammar requires") {
  json j = {{"s", std::string("\x01\x1f\b\t\n\f\r\"\\/\x7f\xc3\xa9", 13)}};
  CHECK(canonical_json(j) == "{\"s\":\"\\u0001\\u001f\\b\\t\\n\\f\\r\\\"\\\\/\x7f\xc3\xa9\"}");
}

TEST_CASE("canonical_json: keys sort by code point, not UTF-16 unit") {
  // U+FF61 sorts before U+10000 by code point, after it in UTF-16.
  json j = {{"\xf0\x90\x80\x80", 1}, {"\xef\xbd\xa1", 2}, {"z", 3}};
  CHECK(canonical_json(j) == "{\"z\":3,\"\xef\xbd\xa1\":2,\"\xf0\x90\x80\x80\":1}");
}

TEST_CASE("canonical_json: nested arrays keep order, floats become integers") {
  json j = json::parse(R"({"x":[3,1,{"b":2.0,"a":-5}],"n":-0.0})");
  CHECK(canonical_json(j) == R"({"n":0,"x":[3,1,{"a":-5,"b":2}]})");
}

TEST_CASE("is_canonical_number: integer range, no floats") {
  constexpr long long max = (1LL << 53) - 1;
  CHECK(is_canonical_number(json(0)));
  CHECK(is_canonical_number(json(max)));
  CHECK(is_canonical_number(json(-max)));
  CHECK(is_canonical_number(json::parse("9007199254740991")));
  CHECK_FALSE(is_canonical_number(json(max + 1)));
  CHECK_FALSE(is_canonical_number(json(-max - 1)));
  CHECK_FALSE(is_canonical_number(json::parse("9007199254740992")));
  CHECK_FALSE(is_canonical_number(json::parse("18446744073709551615")));
  CHECK_FALSE(is_canonical_number(json(1.0)));
  CHECK_FALSE(is_canonical_number(json(1.5)));
  CHECK_FALSE(is_canonical_number(json("1")));
}

TEST_CASE("valid_for_canonical: recursive, names the offence") {
  std::string why;
  CHECK(valid_for_canonical(json::parse(R"({"a":[1,{"b":null,"c":true}],"d":"x"})"), &why));
  CHECK_FALSE(valid_for_canonical(json::parse(R"({"a":[1,{"b":1.5}]})"), &why));
  CHECK(why.find("float") != std::string::npos);
  CHECK_FALSE(valid_for_canonical(json::parse(R"({"a":[9007199254740992]})"), &why));
  CHECK(why.find("range") != std::string::npos);
  CHECK_FALSE(valid_for_canonical(json{{"a", std::string("\xff")}}, &why));
  CHECK(why.find("UTF-8") != std::string::npos);
  CHECK_FALSE(valid_for_canonical(json{{std::string("\xc0\x80"), 1}}, nullptr));
  CHECK_FALSE(valid_for_canonical(json::binary({1, 2}), nullptr));
}

TEST_CASE("is_valid_utf8: rejects overlongs, surrogates, out of range") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain \xe6\x97\xa5 \xf0\x9f\x98\x80"));
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));         // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));     // U+D800
  CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80")); // U+110000
  CHECK_FALSE(is_valid_utf8("\xe6\x97"));         // truncated
  CHECK_FALSE(is_valid_utf8("\x80"));
}

TEST_CASE("canonical_json: bad input does not throw") {
  json j = {{"a", std::string("\xff\xfe")}, {"b", 1.5}};
  std::string out;
  CHECK_NOTHROW(out = canonical_json(j));
  CHECK(out.find("\"a\":") != std::string::npos);
}
