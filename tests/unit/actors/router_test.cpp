// The router and the endpoint table (actors/http/router, actors/client/routes).
#include "actors/client/routes.hpp"
#include "actors/http/router.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace axon;

namespace {
http::route r(const char* method, const char* prefix, const char* path) {
  return {method, prefix, path, false, "client", [](http::request&) { return http::response{}; }};
}
} // namespace

TEST_CASE("paths are split before they are percent-decoded") {
  std::vector<std::string> segs;
  REQUIRE(http::split_path("/_matrix/client/v3/rooms/%21a%3Ax/state/m.x/a%2Fb", segs));
  CHECK(segs == std::vector<std::string>{"_matrix", "client", "v3", "rooms", "!a:x", "state",
                                         "m.x", "a/b"});
  CHECK_FALSE(http::split_path("/bad/%zz", segs));
  CHECK_FALSE(http::split_path("/bad/%4", segs));
}

TEST_CASE("the router matches versions, parameters and methods") {
  http::router rt({r("GET", "/_matrix/client/{v}", "/rooms/{roomId}/state/{type}"),
                   r("PUT", "/_matrix/client/{v}", "/rooms/{roomId}/state/{type}"),
                   r("GET", "/_matrix/client", "/versions")},
                  {"client"});
  auto m = rt.find("GET", "/_matrix/client/r0/rooms/%21r%3Ax/state/m.room.name");
  REQUIRE(m.result == http::router::outcome::found);
  CHECK(m.params == std::vector<std::string>{"!r:x", "m.room.name"});
  CHECK(rt.find("GET", "/_matrix/client/v3/rooms/!r:x/state/m.room.name/").result ==
        http::router::outcome::found); // trailing slash: empty state key
  CHECK(rt.find("GET", "/_matrix/client/v9/rooms/!r:x/state/t").result ==
        http::router::outcome::no_path);
  CHECK(rt.find("DELETE", "/_matrix/client/v3/rooms/!r:x/state/t").result ==
        http::router::outcome::wrong_method);
  CHECK(rt.find("HEAD", "/_matrix/client/versions").result == http::router::outcome::found);
  CHECK(rt.find("GET", "/nothing").result == http::router::outcome::no_path);
}

TEST_CASE("routes of resources a listener does not serve are not matched") {
  http::router rt({r("GET", "/_matrix/client", "/versions")}, {"federation"});
  CHECK(rt.find("GET", "/_matrix/client/versions").result == http::router::outcome::no_path);
}

TEST_CASE("the endpoint table has no duplicate endpoints") {
  std::set<std::string> seen;
  for (auto& route : client::all_routes()) {
    auto key = std::string(route.method) + " " + route.prefix + route.path;
    CHECK_MESSAGE(seen.insert(key).second, "duplicate endpoint " << key);
    CHECK(route.handler);
  }
  CHECK(seen.size() > 40);
}
