// The Beast listener with a real notifier (CAF's threaded scheduler) and
// real loopback sockets: a parked long-poll holds a waiter in the notifier
// until it is woken, times out, or its client goes away.
#include "actors/http/http_server.hpp"
#include "actors/notifier/notifier.hpp"
#include "config/homeserver_config.hpp"
#include "transport/local_transport.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

using namespace axon;
using namespace std::chrono_literals;

namespace {

const std::string alice = "@alice:example.org";
const std::string room = "!r:example.org";

struct listener_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  transport::local_roles roles;
  std::unique_ptr<transport::transport> tr;
  http::server_context ctx;
  std::unique_ptr<http::listener> server;

  static caf::actor_system_config& init(caf::actor_system_config& c) {
    register_message_types(c);
    c.set("logger.file-verbosity", caf::atom("quiet"));
    return c;
  }

  listener_fixture() : sys(init(cfg)) {
    roles.positions = std::make_shared<stream_positions>();
    roles.notifier = actors::spawn_notifier(sys, std::vector<int64_t>(stream_count, 1), roles.positions, {}, {},
                                            nullptr, &roles.waits);
    tr = transport::make_local_transport(sys, roles);
    ctx.transport = tr.get();
    std::vector<http::route> routes;
    // What /sync does with nothing new: park on the notifier.
    routes.push_back({"GET", "/_test", "/park", false, "client", [this](http::request&) {
                        auto since = tr->positions();
                        return http::wait_then(alice, since, {room}, 60000, [since](std::vector<int64_t> woke) {
                          return http::response{200, {{"woke", woke != since}}};
                        });
                      }});
    routes.push_back({"GET", "/_test", "/now", false, "client",
                      [](http::request&) { return http::response{200, {{"now", true}}}; }});
    config::listener_config lc;
    lc.bind_addresses = {"127.0.0.1"};
    lc.resources = {{{"client"}, false}};
    server = http::start_listener(sys, lc, routes, &ctx, "", "");
  }

  ~listener_fixture() {
    server->stop();
    caf::anon_send_exit(roles.notifier, caf::exit_reason::user_shutdown);
  }

  size_t waiting() { return roles.waits.waiting(); }

  /// Polls `pred` for up to 5 s.
  static bool eventually(const std::function<bool()>& pred) {
    for (int i = 0; i < 500; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return pred();
  }

  int connect_client() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }

  static void send_text(int fd, const std::string& text) {
    REQUIRE(::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size()));
  }

  /// Reads until `count` complete responses (by their JSON bodies' ends)
  /// arrived or the read times out.
  static std::string read_responses(int fd, int count) {
    std::string got;
    char buf[4096];
    auto bodies = [&] {
      int n = 0;
      for (size_t at = 0; (at = got.find("}", at)) != std::string::npos; ++at) ++n;
      return n;
    };
    while (bodies() < count) {
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }

  void wake_alice() {
    msg::stream_advanced adv{static_cast<uint8_t>(stream_id::receipts), "main", 100, {{100, room, {}}}};
    caf::anon_send(roles.notifier, adv);
  }
};

} // namespace

TEST_CASE("a parked long-poll is answered when a row concerns it") {
  listener_fixture f;
  int fd = f.connect_client();
  f.send_text(fd, "GET /_test/park HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(f.eventually([&] { return f.waiting() == 1; }));
  f.wake_alice();
  auto got = f.read_responses(fd, 1);
  CHECK(got.find("200 OK") != std::string::npos);
  CHECK(got.find(R"({"woke":true})") != std::string::npos);
  CHECK(f.waiting() == 0);
  ::close(fd);
}

TEST_CASE("a parked long-poll whose client disconnects frees its waiter") {
  listener_fixture f;
  int fds[3];
  for (auto& fd : fds) {
    fd = f.connect_client();
    f.send_text(fd, "GET /_test/park HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  REQUIRE(f.eventually([&] { return f.waiting() == 3; }));
  // One leaves with a FIN, one with a reset: both waiters go, long before
  // the 60 s timeout; the third stays parked and is still answered.
  ::close(fds[0]);
  linger hard{1, 0};
  setsockopt(fds[1], SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(fds[1]);
  CHECK(f.eventually([&] { return f.waiting() == 1; }));
  // The listener's figures follow: one request in flight, one connection.
  CHECK(f.eventually([&] { return f.server->figures().in_flight == 1 && f.server->figures().open == 1; }));
  f.wake_alice();
  auto got = f.read_responses(fds[2], 1);
  CHECK(got.find(R"({"woke":true})") != std::string::npos);
  CHECK(f.eventually([&] { return f.server->figures().in_flight == 0; }));
  CHECK(f.server->figures().queued == 0);
  ::close(fds[2]);
}

TEST_CASE("the next request sent on a parked connection waits for the answer, and is not taken for a disconnect") {
  listener_fixture f;
  int fd = f.connect_client();
  f.send_text(fd, "GET /_test/park HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(f.eventually([&] { return f.waiting() == 1; }));
  f.send_text(fd, "GET /_test/now HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(200ms);
  CHECK(f.waiting() == 1);
  f.wake_alice();
  auto got = f.read_responses(fd, 2);
  auto first = got.find(R"({"woke":true})");
  auto second = got.find(R"({"now":true})");
  CHECK(first != std::string::npos);
  CHECK(second != std::string::npos);
  CHECK(first < second); // answers in request order
  ::close(fd);
}
