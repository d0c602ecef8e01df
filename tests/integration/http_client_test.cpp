// The outbound HTTP client (actors/http/http_client.hpp) against Axon's own
// Beast listener on loopback (port 0), plain, TLS (a CA and certificate made
// with openssl for the test) and on a unix socket, plus a bare socket server
// for what the listener never does (chunked answers, closing a kept-alive
// connection as a request arrives, never answering the connect).
#include <doctest/doctest.h>

#include "actors/http/http_client.hpp"
#include "actors/http/http_client_actor.hpp"
#include "actors/http/http_server.hpp"
#include "config/homeserver_config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

using namespace axon;
using nlohmann::json;

namespace {

/// Waits (bounded) for what the client's event loop does on its own.
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

/// Handlers that block until released, counting how many run at once.
struct gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int running = 0;
  int most = 0;

  void pass() {
    std::unique_lock<std::mutex> lock(mu);
    most = std::max(most, ++running);
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(20), [&] { return open; });
    --running;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu);
    open = true;
    cv.notify_all();
  }
  int now() {
    std::lock_guard<std::mutex> lock(mu);
    return running;
  }
};

/// An Axon listener serving a few test routes.
struct server {
  config::homeserver_config cfg;
  http::server_context ctx;
  caf::actor_system_config sys_cfg;
  caf::actor_system sys{sys_cfg}; ///< where the listener's handler actors run
  gate slow;
  std::vector<http::route> routes;
  std::unique_ptr<http::listener> listener;
  int port = 0;

  explicit server(bool tls = false, std::string cert = {}, std::string key = {}, std::string unix_path = {}) {
    cfg.server_name = "example.com";
    ctx.cfg = &cfg;
    auto echo = [](http::request& r) {
      return http::response(200, json{{"method", r.method},
                                      {"body", r.body},
                                      {"token", r.access_token},
                                      {"agent", r.user_agent},
                                      {"query", r.query_param("q").value_or("")}});
    };
    // The replication resource: a bearer token is not looked up as an
    // access token there.
    routes.push_back({"GET", "/_test", "/echo", false, "replication", echo});
    routes.push_back({"POST", "/_test", "/echo", false, "replication", echo});
    routes.push_back({"GET", "/_test", "/slow", false, "replication", [this](http::request&) {
                        slow.pass();
                        return http::response(200, json{{"slow", true}});
                      }});
    config::listener_config lc;
    lc.bind_addresses = {"127.0.0.1"};
    lc.port = 0;
    lc.path = unix_path;
    lc.tls = tls;
    lc.resources.push_back({{"replication"}, false});
    listener = http::start_listener(sys, lc, routes, &ctx, cert, key);
    port = listener->port();
  }
  ~server() {
    slow.release();
    listener->stop();
  }
  std::string url(const std::string& path, const std::string& host = "127.0.0.1") const {
    return "http://" + host + ":" + std::to_string(port) + path;
  }
};

http::http_client_options small_limits() {
  http::http_client_options o;
  o.connect_timeout_ms = 2000;
  o.request_timeout_ms = 10000;
  return o;
}

msg::outbound_request get(std::string url, int64_t timeout_ms = 0) {
  msg::outbound_request r;
  r.method = "GET";
  r.url = std::move(url);
  r.timeout_ms = timeout_ms;
  return r;
}

/// A bare TCP server on 127.0.0.1, one connection at a time: reads each
/// request's head (these requests have no body) and answers with
/// `answer(n)` for the n-th request overall; an empty answer closes the
/// connection unanswered, one starting with "!close" is sent (without that
/// mark) and the connection closed.
struct bare_server {
  int fd = -1;
  int port = 0;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<int> connections{0};
  std::function<std::string(int)> answer;

  explicit bare_server(std::function<std::string(int)> a, bool listen_only = false) : answer(std::move(a)) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    if (!listen_only) thread = std::thread([this] { serve(); });
  }
  ~bare_server() {
    stop = true;
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    if (thread.joinable()) thread.join();
  }
  void serve() {
    int n = 0;
    while (!stop) {
      int c = ::accept(fd, nullptr, nullptr);
      if (c < 0) return;
      ++connections;
      std::string in;
      char buf[4096];
      for (;;) {
        auto end = in.find("\r\n\r\n");
        if (end == std::string::npos) {
          auto got = ::recv(c, buf, sizeof buf, 0);
          if (got <= 0) break;
          in.append(buf, static_cast<size_t>(got));
          continue;
        }
        in.erase(0, end + 4);
        auto out = answer(++n);
        bool close_after = out.rfind("!close", 0) == 0;
        if (close_after) out.erase(0, 6);
        if (out.empty()) break;
        ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
        if (close_after) break;
      }
      ::close(c);
    }
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port) + path; }
};

std::string plain_answer(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

int run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

/// A CA and a certificate for 127.0.0.1 and localhost signed by it, made
/// with openssl in a fresh directory.
struct test_pki {
  std::filesystem::path dir;
  std::string ca, cert, key;
  bool ok = false;

  test_pki() {
    dir = std::filesystem::temp_directory_path() / ("axon-http-client-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto d = dir.string();
    ca = d + "/ca.pem";
    cert = d + "/server.pem";
    key = d + "/server.key";
    std::ofstream(d + "/ext.cnf") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    ok = run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=axon-test-ca -keyout " + d +
             "/ca.key -out " + ca) == 0 &&
         run("openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout " + key + " -out " + d +
             "/server.csr") == 0 &&
         run("openssl x509 -req -in " + d + "/server.csr -CA " + ca + " -CAkey " + d +
             "/ca.key -CAcreateserial -days 2 -extfile " + d + "/ext.cnf -out " + cert) == 0;
  }
  ~test_pki() { std::filesystem::remove_all(dir); }
};

} // namespace

TEST_CASE("http client: GET and POST carry method, headers and body") {
  server s;
  http::http_client client(small_limits());
  auto post = get(s.url("/_test/echo"));
  post.method = "POST";
  post.headers = {{"Authorization", "Bearer s3cret"}, {"User-Agent", "axon-test"}};
  post.body = R"({"x":"ünïcode"})";
  auto r = client.call(post);
  REQUIRE_MESSAGE(r.error.empty(), r.error);
  CHECK(r.status == 200);
  CHECK(r.header("content-type") == "application/json");
  auto j = json::parse(r.body);
  CHECK(j["method"] == "POST");
  CHECK(j["body"] == post.body);
  CHECK(j["token"] == "s3cret");
  CHECK(j["agent"] == "axon-test");

  r = client.call(get(s.url("/_test/echo?q=a%20b")));
  REQUIRE_MESSAGE(r.error.empty(), r.error);
  j = json::parse(r.body);
  CHECK(j["method"] == "GET");
  CHECK(j["query"] == "a b");
  CHECK(j["agent"] == "Axon");

  // An HTTP error status is an answer, not a failure.
  r = client.call(get(s.url("/_test/nothing-here")));
  CHECK(r.error.empty());
  CHECK(r.status == 404);
  CHECK(json::parse(r.body)["errcode"] == "M_UNRECOGNIZED");
}

TEST_CASE("http client: sequential requests reuse one kept-alive connection") {
  server s;
  http::http_client client(small_limits());
  for (int i = 0; i < 5; ++i) {
    auto r = client.call(get(s.url("/_test/echo")));
    REQUIRE_MESSAGE(r.error.empty(), r.error);
    CHECK(r.status == 200);
  }
  auto dest = "http://127.0.0.1:" + std::to_string(s.port);
  auto c = client.counters(dest);
  REQUIRE(c);
  CHECK(c->connections_opened == 1);
  CHECK(c->answered == 5);
  CHECK(c->open == 1);
  CHECK(c->idle == 1);
  CHECK(c->in_flight == 0);
  CHECK(client.totals().connections_opened == 1);
  auto snap = client.snapshot();
  REQUIRE(snap.size() == 1);
  CHECK(snap[0].destination == dest);
  CHECK(snap[0].answered == 5);
}

TEST_CASE("http client: an idle connection is closed after idle_timeout_ms") {
  server s;
  auto o = small_limits();
  o.idle_timeout_ms = 50;
  http::http_client client(o);
  REQUIRE(client.call(get(s.url("/_test/echo"))).status == 200);
  CHECK(eventually([&] { return client.totals().open == 0; }));
  CHECK(client.totals().idle == 0);
  REQUIRE(client.call(get(s.url("/_test/echo"))).status == 200);
  CHECK(client.totals().connections_opened == 2);
}

TEST_CASE("http client: at most max_connections_per_destination at once, the rest queue") {
  server s;
  auto o = small_limits();
  o.max_connections_per_destination = 2;
  http::http_client client(o);
  std::vector<std::future<msg::outbound_response>> answers;
  for (int i = 0; i < 6; ++i) {
    auto p = std::make_shared<std::promise<msg::outbound_response>>();
    answers.push_back(p->get_future());
    client.request(get(s.url("/_test/slow")), [p](msg::outbound_response r) { p->set_value(std::move(r)); });
  }
  CHECK(eventually([&] { return s.slow.now() == 2 && client.totals().queued == 4; }));
  CHECK(client.totals().in_flight == 2);
  CHECK(client.totals().open == 2);
  s.slow.release();
  for (auto& a : answers) {
    auto r = a.get();
    CHECK_MESSAGE(r.error.empty(), r.error);
    CHECK(r.status == 200);
  }
  CHECK(s.slow.most == 2);
  CHECK(client.totals().connections_opened == 2);
  CHECK(client.totals().queued == 0);
}

TEST_CASE("http client: the overall max_connections bounds all destinations together") {
  server a, b;
  auto o = small_limits();
  o.max_connections = 1;
  http::http_client client(o);
  auto p = std::make_shared<std::promise<msg::outbound_response>>();
  auto first = p->get_future();
  client.request(get(a.url("/_test/slow")), [p](msg::outbound_response r) { p->set_value(std::move(r)); });
  CHECK(eventually([&] { return a.slow.now() == 1; }));
  // b is another destination, but the one connection allowed is a's.
  auto q = std::make_shared<std::promise<msg::outbound_response>>();
  auto second = q->get_future();
  client.request(get(b.url("/_test/echo")), [q](msg::outbound_response r) { q->set_value(std::move(r)); });
  CHECK(eventually([&] { return client.totals().queued == 1; }));
  a.slow.release();
  CHECK(first.get().status == 200);
  // a's connection, idle now, is closed to make room for b's.
  CHECK(second.get().status == 200);
  CHECK(client.totals().open == 1);
}

TEST_CASE("http client: a request queued past its timeout fails with timed_out") {
  server s;
  auto o = small_limits();
  o.max_connections_per_destination = 1;
  http::http_client client(o);
  auto p = std::make_shared<std::promise<msg::outbound_response>>();
  auto first = p->get_future();
  client.request(get(s.url("/_test/slow")), [p](msg::outbound_response r) { p->set_value(std::move(r)); });
  CHECK(eventually([&] { return s.slow.now() == 1; }));
  auto r = client.call(get(s.url("/_test/echo"), 200));
  CHECK(r.timed_out);
  CHECK(r.status == 0);
  CHECK(r.error.find("waiting for a connection") != std::string::npos);
  CHECK(client.totals().queued == 0);
  s.slow.release();
  CHECK(first.get().status == 200);
}

TEST_CASE("http client: a server that does not answer in time gives timed_out") {
  server s;
  http::http_client client(small_limits());
  auto r = client.call(get(s.url("/_test/slow"), 300));
  CHECK(r.timed_out);
  CHECK(r.status == 0);
  CHECK_FALSE(r.error.empty());
  // The connection was given up, not kept for the next request.
  CHECK(eventually([&] { return client.totals().open == 0; }));
  CHECK(client.totals().failed == 1);
}

TEST_CASE("http client: a closed port fails at once with an error") {
  int port = 0;
  {
    bare_server gone([](int) { return std::string(); }, true);
    port = gone.port;
  }
  http::http_client client(small_limits());
  auto started = std::chrono::steady_clock::now();
  auto r = client.call(get("http://127.0.0.1:" + std::to_string(port) + "/x"));
  CHECK_FALSE(r.error.empty());
  CHECK_FALSE(r.timed_out);
  CHECK(r.status == 0);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
  CHECK(client.totals().open == 0);
}

TEST_CASE("http client: connect_timeout_ms bounds a connect that never completes") {
  // Backlog 1 and nobody accepting: once the backlog is full, further SYNs
  // go unanswered (Linux drops them), so the connect hangs.
  bare_server full([](int) { return std::string(); }, true);
  std::vector<int> fillers;
  for (int i = 0; i < 8; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(full.port));
    ::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(c);
  }
  auto o = small_limits();
  o.connect_timeout_ms = 200;
  http::http_client client(o);
  auto r = client.call(get(full.url("/x"), 5000));
  for (int c : fillers) ::close(c);
  CHECK_FALSE(r.error.empty());
  CHECK(r.status == 0);
  if (r.error.find("timed out") == std::string::npos)
    MESSAGE("the kernel answered the connect: " << r.error);
  else
    CHECK_FALSE(r.timed_out); // the connect's timeout, not the request's
}

TEST_CASE("http client: bad input is an error, never sent") {
  server s;
  http::http_client client(small_limits());
  for (auto url : {"ftp://127.0.0.1/", "http://", "http://127.0.0.1:99999/", "http://[::1/", "unix::/x",
                   "http://a b/", "http://127.0.0.1/a\r\nb"}) {
    auto r = client.call(get(url));
    CHECK_MESSAGE(!r.error.empty(), url);
    CHECK(r.status == 0);
  }
  auto bad = get(s.url("/_test/echo"));
  bad.headers = {{"X-A", "1\r\nX-Injected: 2"}};
  CHECK_FALSE(client.call(bad).error.empty());
  bad.headers = {{"Bad Name", "1"}};
  CHECK_FALSE(client.call(bad).error.empty());
  bad.headers.clear();
  bad.method = "GE T";
  CHECK_FALSE(client.call(bad).error.empty());
  CHECK(client.totals().connections_opened == 0);
}

TEST_CASE("http client: an answer over max_response_size fails") {
  server s;
  auto o = small_limits();
  o.max_response_size = 64;
  http::http_client client(o);
  auto post = get(s.url("/_test/echo"));
  post.method = "POST";
  post.body = std::string(200, 'x');
  auto r = client.call(post);
  CHECK(r.error.find("max_response_size") != std::string::npos);
  CHECK(r.status == 0);
}

TEST_CASE("http client: body_file takes a 2xx body to a new file; errors stay text; too large leaves no file") {
  server s;
  http::http_client client(small_limits());
  auto dir = std::filesystem::temp_directory_path() / ("axon-body-file-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto post = get(s.url("/_test/echo"));
  post.method = "POST";
  post.body = std::string(300000, 'z');
  post.body_file = (dir / "one").string();
  auto r = client.call(post);
  REQUIRE_MESSAGE(r.error.empty(), r.error);
  CHECK(r.status == 200);
  CHECK(r.body.empty());
  REQUIRE(std::filesystem::exists(post.body_file));
  std::ifstream in(post.body_file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(json::parse(text)["body"] == post.body);
  // The file is never replaced: a second answer to the same name fails.
  r = client.call(post);
  CHECK(r.status == 0);
  CHECK(r.error.find("cannot create") != std::string::npos);
  // A 404 keeps its body in memory, no file is made.
  auto missing = get(s.url("/_test/nothing-here"));
  missing.body_file = (dir / "two").string();
  r = client.call(missing);
  CHECK(r.status == 404);
  CHECK(json::parse(r.body)["errcode"] == "M_UNRECOGNIZED");
  CHECK_FALSE(std::filesystem::exists(missing.body_file));
  // Over the request's own limit: too_large, and the half file is gone.
  post.body_file = (dir / "three").string();
  post.max_response_size = 1000;
  r = client.call(post);
  CHECK(r.status == 0);
  CHECK(r.too_large);
  CHECK_FALSE(std::filesystem::exists(post.body_file));
  // The connection pool still works after all that.
  r = client.call(get(s.url("/_test/echo")));
  CHECK(r.status == 200);
  std::filesystem::remove_all(dir);
}

TEST_CASE("http client: unix socket") {
  auto path = (std::filesystem::temp_directory_path() / ("axon-http-client-" + std::to_string(::getpid()) + ".sock")).string();
  server s(false, {}, {}, path);
  http::http_client client(small_limits());
  auto r = client.call(get("unix:" + path + ":/_test/echo?q=1"));
  REQUIRE_MESSAGE(r.error.empty(), r.error);
  CHECK(r.status == 200);
  CHECK(json::parse(r.body)["query"] == "1");
  CHECK(client.counters("unix:" + path));
  std::filesystem::remove(path);
}

TEST_CASE("http client: TLS verifies the certificate against ca_files and the name") {
  test_pki pki;
  REQUIRE_MESSAGE(pki.ok, "openssl could not make the test certificates");
  server s(true, pki.cert, pki.key);
  auto https = [&](const std::string& host) {
    return "https://" + host + ":" + std::to_string(s.port) + "/_test/echo";
  };
  {
    auto o = small_limits();
    o.tls.ca_files = {pki.ca};
    http::http_client client(o);
    auto r = client.call(get(https("127.0.0.1")));
    REQUIRE_MESSAGE(r.error.empty(), r.error);
    CHECK(r.status == 200);
    // By name, resolved off the event loop; reused afterwards.
    r = client.call(get(https("localhost")));
    REQUIRE_MESSAGE(r.error.empty(), r.error);
    r = client.call(get(https("localhost")));
    REQUIRE_MESSAGE(r.error.empty(), r.error);
    CHECK(client.counters("https://localhost:" + std::to_string(s.port))->connections_opened == 1);
    // A name the certificate doesn't carry.
    auto other = get(https("127.0.0.1"));
    other.tls_server_name = "other.example";
    r = client.call(other);
    CHECK(r.status == 0);
    CHECK_FALSE(r.error.empty());
  }
  {
    // Without the CA the server's certificate is not trusted.
    http::http_client client(small_limits());
    auto r = client.call(get(https("127.0.0.1")));
    CHECK(r.status == 0);
    CHECK(r.error.find("TLS handshake") != std::string::npos);
  }
  {
    auto o = small_limits();
    o.tls.verify_certificates = false;
    http::http_client client(o);
    auto r = client.call(get(https("127.0.0.1")));
    CHECK_MESSAGE(r.error.empty(), r.error);
    CHECK(r.status == 200);
  }
  {
    auto o = small_limits();
    o.tls.ca_files = {pki.dir.string() + "/missing.pem"};
    CHECK_THROWS_WITH_AS(http::http_client{o}, doctest::Contains("http_client.ca_files"), std::runtime_error);
  }
}

TEST_CASE("http client: the address filter is applied after resolution (ip_range_blocklist)") {
  server s;
  auto o = small_limits();
  std::vector<std::string> asked;
  std::mutex mu;
  o.tls.address_allowed = [&](const std::string& a) {
    std::lock_guard<std::mutex> lock(mu);
    asked.push_back(a);
    return a != "127.0.0.1";
  };
  http::http_client client(o);
  // A literal and a name that resolves to it: both refused unsent.
  for (auto host : {"127.0.0.1", "localhost"}) {
    auto r = client.call(get(s.url("/_test/echo", host)));
    CHECK(r.status == 0);
    CHECK_MESSAGE(r.error.find("no allowed address") != std::string::npos, r.error);
  }
  std::lock_guard<std::mutex> lock(mu);
  CHECK(std::count(asked.begin(), asked.end(), "127.0.0.1") >= 2);
}

TEST_CASE("http client: requests marked federation follow the federation policy, on connections of their own") {
  server s;
  auto o = small_limits();
  http::tls_policy fed;
  fed.address_allowed = [](const std::string& a) { return a != "127.0.0.1"; };
  o.federation = fed;
  http::http_client client(o);
  auto plain = client.call(get(s.url("/_test/echo")));
  CHECK_MESSAGE(plain.status == 200, plain.error);
  auto marked = get(s.url("/_test/echo"));
  marked.federation = true;
  auto r = client.call(marked);
  CHECK(r.status == 0);
  CHECK_MESSAGE(r.error.find("no allowed address") != std::string::npos, r.error);
  // The plain pool's kept-alive connection is not lent to federation.
  CHECK(client.counters("federation http://127.0.0.1:" + std::to_string(s.port)) != nullptr);
}

TEST_CASE("http client: system_cas false trusts ca_files only; skip_verification by TLS name") {
  test_pki pki;
  REQUIRE_MESSAGE(pki.ok, "openssl could not make the test certificates");
  server s(true, pki.cert, pki.key);
  auto url = "https://127.0.0.1:" + std::to_string(s.port) + "/_test/echo";
  {
    auto o = small_limits();
    o.tls.ca_files = {pki.ca};
    o.tls.system_cas = false;
    o.tls.minimum_tls_version = "1.3";
    http::http_client client(o);
    auto r = client.call(get(url));
    CHECK_MESSAGE(r.status == 200, r.error);
  }
  {
    // No CA at all: nothing verifies, except the names the whitelist skips.
    auto o = small_limits();
    o.tls.system_cas = false;
    o.tls.skip_verification = [](const std::string& name) { return name == "skipped.example"; };
    http::http_client client(o);
    auto r = client.call(get(url));
    CHECK(r.status == 0);
    auto skipped = get(url);
    skipped.tls_server_name = "skipped.example";
    r = client.call(skipped);
    CHECK_MESSAGE(r.status == 200, r.error);
  }
}

TEST_CASE("http client: chunked answers") {
  bare_server s([](int) {
    return std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
                       "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n");
  });
  http::http_client client(small_limits());
  for (int i = 0; i < 2; ++i) {
    auto r = client.call(get(s.url("/chunked")));
    REQUIRE_MESSAGE(r.error.empty(), r.error);
    CHECK(r.status == 200);
    CHECK(r.body == "hello world");
  }
  CHECK(s.connections == 1);
}

TEST_CASE("http client: a kept-alive connection closed under a request is retried once when allowed") {
  // Answers every odd request; closes the connection on every even one,
  // before any byte of an answer.
  bare_server s([](int n) { return n % 2 ? plain_answer("ok" + std::to_string(n)) : std::string(); });
  http::http_client client(small_limits());
  auto req = get(s.url("/x"));
  REQUIRE(client.call(req).body == "ok1");
  SUBCASE("retry allowed") {
    req.retry = true;
    auto r = client.call(req); // #2 closed, #3 on a fresh connection
    REQUIRE_MESSAGE(r.error.empty(), r.error);
    CHECK(r.body == "ok3");
    CHECK(s.connections == 2);
  }
  SUBCASE("retry not allowed") {
    auto r = client.call(req);
    CHECK_FALSE(r.error.empty());
    CHECK_FALSE(r.timed_out);
    CHECK(s.connections == 1);
  }
}

TEST_CASE("http client: a connection that breaks during the answer is not retried") {
  bare_server s([](int n) {
    return n == 1 ? plain_answer("ok") : std::string("!closeHTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  });
  auto o = small_limits();
  http::http_client client(o);
  auto req = get(s.url("/x"), 2000);
  req.retry = true;
  REQUIRE(client.call(req).body == "ok");
  // The server sends part of an answer and closes: sending again could run
  // the request twice.
  auto r = client.call(req);
  CHECK(r.status == 0);
  CHECK(r.error.find("during the answer") != std::string::npos);
  CHECK_FALSE(r.timed_out);
  CHECK(s.connections == 1);
}

TEST_CASE("http client: stopping fails what is in flight") {
  server s;
  auto client = std::make_unique<http::http_client>(small_limits());
  auto p = std::make_shared<std::promise<msg::outbound_response>>();
  auto answer = p->get_future();
  client->request(get(s.url("/_test/slow")), [p](msg::outbound_response r) { p->set_value(std::move(r)); });
  CHECK(eventually([&] { return s.slow.now() == 1; }));
  client.reset();
  auto r = answer.get();
  CHECK(r.error == "http client stopped");
  s.slow.release();
}

TEST_CASE("http client actor answers requests through the event loop") {
  server s;
  caf::actor_system_config cfg;
  register_message_types(cfg);
  cfg.set("scheduler.max-threads", size_t{2});
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  auto client = std::make_shared<http::http_client>(small_limits());
  auto actor = http::spawn_http_client_actor(sys, client);
  caf::scoped_actor self{sys};
  for (int i = 0; i < 3; ++i) {
    msg::outbound_response got;
    self->request(actor, std::chrono::seconds(10), get(s.url("/_test/echo?q=" + std::to_string(i))))
      .receive([&](msg::outbound_response& r) { got = std::move(r); },
               [&](caf::error& e) { got.error = sys.render(e); });
    REQUIRE_MESSAGE(got.error.empty(), got.error);
    CHECK(got.status == 200);
    CHECK(json::parse(got.body)["query"] == std::to_string(i));
  }
  msg::outbound_response failed;
  self->request(actor, std::chrono::seconds(10), get("nonsense"))
    .receive([&](msg::outbound_response& r) { failed = std::move(r); }, [&](caf::error&) {});
  CHECK_FALSE(failed.error.empty());
  caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
}
