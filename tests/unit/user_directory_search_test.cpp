// tests/unit/user_directory_search_test.cpp -- matrix/user_directory_search.
#include <doctest/doctest.h>

#include "matrix/user_directory_search.hpp"

using namespace axon::matrix;

namespace {

std::vector<std::string> ids(const std::vector<directory_candidate>& v) {
  std::vector<std::string> out;
  for (auto& c : v) out.push_back(c.user_id);
  return out;
}

} // namespace

TEST_CASE("user directory: search words") {
  CHECK(search_words("@Alice_B:Example.org") ==
        std::vector<std::string>{"alice", "b", "example", "org"});
  CHECK(search_words("  Bobby  Tables-2 ") == std::vector<std::string>{"bobby", "tables", "2"});
  CHECK(search_words("Zoë") == std::vector<std::string>{"zo\xc3\xab"});
  CHECK(search_words("@:.").empty());
}

TEST_CASE("user directory: every term word is a prefix of some word") {
  directory_candidate bob{"@bob:example.org", "Bobby Tables", std::nullopt};
  CHECK(directory_rank(search_words("bob"), bob) > 0);
  CHECK(directory_rank(search_words("TAB"), bob) > 0);       // display name word prefix
  CHECK(directory_rank(search_words("bobby tab"), bob) > 0); // all words
  CHECK(directory_rank(search_words("example"), bob) > 0);   // server name
  CHECK(directory_rank(search_words("obby"), bob) == 0);     // not a prefix
  CHECK(directory_rank(search_words("bob alice"), bob) == 0);// one word matches nothing
  CHECK(directory_rank(search_words(""), bob) == 0);
  CHECK(directory_rank(search_words("!!"), bob) == 0);
}

TEST_CASE("user directory: ranking") {
  std::vector<directory_candidate> c{
    {"@carol:remote.org", "Ann Carol", std::nullopt},
    {"@ann:example.org", std::nullopt, std::nullopt},
    {"@annabel:example.org", std::nullopt, std::nullopt},
    {"@anna:example.org", "Anna", std::string("mxc://x/y")},
    {"@zed:example.org", "nobody", std::nullopt},
  };
  SUBCASE("exact words first, then profile, and non-matches dropped") {
    auto r = ids(rank_directory("ann", c, 10));
    REQUIRE(r.size() == 4);
    CHECK(r[0] == "@ann:example.org"); // exact localpart
    CHECK(r[1] == "@carol:remote.org"); // exact display name word
    CHECK(r.back() == "@annabel:example.org"); // prefix only, no profile
  }
  SUBCASE("the limit") {
    CHECK(rank_directory("ann", c, 2).size() == 2);
    CHECK(rank_directory("ann", c, 0).empty());
  }
  SUBCASE("prefer_local_users") {
    std::vector<directory_candidate> two{{"@sam:remote.org", "Sam", std::nullopt},
                                         {"@sam:example.org", "Sam", std::nullopt}};
    CHECK(ids(rank_directory("sam", two, 10))[0] == "@sam:example.org"); // ties by user id
    two[1].user_id = "@samuel:example.org";
    CHECK(ids(rank_directory("sam", two, 10))[0] == "@sam:remote.org");
    CHECK(ids(rank_directory("sam", two, 10, "example.org"))[0] == "@samuel:example.org");
  }
}
