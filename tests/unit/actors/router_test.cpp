// The router and the endpoint table (actors/http/router, actors/client/routes).
#include "actors/client/routes.hpp"
#include "actors/http/http_server.hpp"
#include "actors/http/router.hpp"

#include <doctest/doctest.h>

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

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

TEST_CASE("a request's work after the answer runs once the answer is handed over; a failing handler's before") {
  std::vector<std::string> order;
  auto later = [&order](http::request& req, const char* what) {
    req.after.push_back([&order, what] { order.push_back(what); });
  };
  http::router rt(
    {{"GET", "/_matrix/client", "/ok", false, "client",
      [&](http::request& req) {
        later(req, "after");
        req.after.push_back([] { throw std::runtime_error("logged, and the rest still runs"); });
        later(req, "after 2");
        order.push_back("handler");
        return http::response{200, {{"ok", true}}};
      }},
     {"GET", "/_matrix/client", "/fail", false, "client",
      [&](http::request& req) -> http::response {
        later(req, "after");
        throw matrix_error(errc::not_found, "nothing here");
      }}},
    {"client"});
  http::server_context ctx;
  auto run = [&](const char* uri) {
    auto in = std::make_shared<http::incoming>();
    in->method = "GET";
    in->uri = uri;
    in->request_id = "GET-1";
    http::dispatch_async(
      rt, &ctx, in, [](std::function<void()> fn) { fn(); },
      [&order](int status, nlohmann::json, std::shared_ptr<http::raw_body>) {
        order.push_back("answer " + std::to_string(status));
      });
  };
  run("/_matrix/client/ok");
  CHECK(order == std::vector<std::string>{"handler", "answer 200", "after", "after 2"});
  order.clear();
  run("/_matrix/client/fail");
  CHECK(order == std::vector<std::string>{"after", "answer 404"});
  // The simulation's dispatch returns the answer: the work comes first.
  order.clear();
  http::incoming in;
  in.method = "GET";
  in.uri = "/_matrix/client/ok";
  auto [status, body] = http::dispatch(rt, &ctx, in);
  CHECK(status == 200);
  CHECK(body["ok"] == true);
  CHECK(order == std::vector<std::string>{"handler", "after", "after 2"});
}
