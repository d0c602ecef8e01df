// axon-longpoll-client: holds N parked /sync long-polls for tests/bench/longpoll.py, one TCP
// connection each, on one Asio thread (Boost.Beast parses the answers), so that the time measured
// from the send to each answer is the server's, not a scripting client's: a Python client spends
// about 0.1 ms of CPU per answer, on the same two cores as the server.
//
//   axon-longpoll-client HOST PORT < polls
//
// stdin: a line "N", then N lines "ACCESS_TOKEN SINCE", then, later, "deadline T_SEND T_END"
// (CLOCK_MONOTONIC seconds, Python's time.monotonic()). stdout: "status SENT DONE" every 0.2 s
// until the deadline line comes; then, once every poll has ended or T_END passed, one line per
// poll, "KIND ARRIVAL EVENT_ID...", KIND one of body, status-NNN, error, late (ARRIVAL "-" when
// none); and "end". The bodies are parsed only after the last answer, so the parsing delays no
// arrival.
#include "percent_encode.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr int batch = 250;               ///< connections opened per step (listen backlog)
constexpr auto batch_pause = std::chrono::milliseconds(50);
constexpr const char* poll_timeout_ms = "60000";

double monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct poll_result {
  std::string kind = "late";
  double arrival = -1;
  std::string body;
};

struct client;

struct parked_poll : std::enable_shared_from_this<parked_poll> {
  parked_poll(client& c, size_t i, std::string token, std::string since);
  void start();

  client& c_;
  size_t index;
  tcp::socket socket;
  beast::flat_buffer buffer;
  bhttp::request<bhttp::empty_body> req;
  bhttp::response<bhttp::string_body> res;
};

struct client {
  net::io_context io{1};
  tcp::endpoint server;
  std::string host_header;
  std::vector<std::shared_ptr<parked_poll>> polls;
  std::vector<poll_result> results;
  size_t sent = 0, done = 0, next = 0;
  bool have_deadline = false, finished = false;
  double t_end = 0;
  net::steady_timer opener{io}, status{io}, end_timer{io};
  net::posix::stream_descriptor in{io, ::dup(0)};
  net::streambuf in_buf;

  void open_batch() {
    for (int k = 0; k < batch && next < polls.size(); ++k) polls[next++]->start();
    if (next < polls.size()) {
      opener.expires_after(batch_pause);
      opener.async_wait([this](beast::error_code ec) {
        if (!ec) open_batch();
      });
    }
  }

  void report() {
    if (have_deadline) return;
    std::printf("status %zu %zu\n", sent, done);
    std::fflush(stdout);
    status.expires_after(std::chrono::milliseconds(200));
    status.async_wait([this](beast::error_code ec) {
      if (!ec) report();
    });
  }

  void read_command() {
    net::async_read_until(in, in_buf, '\n', [this](beast::error_code ec, size_t) {
      if (ec) return;
      std::istream is(&in_buf);
      std::string line;
      std::getline(is, line);
      std::istringstream words(line);
      std::string what;
      double t_send = 0;
      words >> what >> t_send >> t_end;
      if (what == "deadline") {
        have_deadline = true;
        status.cancel();
        end_timer.expires_after(std::chrono::microseconds(
          static_cast<int64_t>(std::max(0.0, t_end - monotonic_now()) * 1e6)));
        end_timer.async_wait([this](beast::error_code e) {
          if (!e) finish();
        });
        if (done == polls.size()) finish();
        return;
      }
      read_command();
    });
  }

  void ended() {
    ++done;
    if (have_deadline && done == polls.size()) finish();
  }

  void finish() {
    if (finished) return;
    finished = true;
    end_timer.cancel();
    opener.cancel();
    for (auto& p : polls) {
      beast::error_code ignored;
      p->socket.close(ignored);
    }
    io.stop();
  }
};

parked_poll::parked_poll(client& c, size_t i, std::string token, std::string since)
  : c_(c), index(i), socket(c.io) {
  req.version(11);
  req.method(bhttp::verb::get);
  req.target("/_matrix/client/v3/sync?since=" + axon::bench::percent_encode(since) + "&timeout=" + poll_timeout_ms +
             "&set_presence=offline");
  req.set(bhttp::field::host, c.host_header);
  req.set(bhttp::field::authorization, "Bearer " + token);
  req.keep_alive(false);
}

void parked_poll::start() {
  auto self = shared_from_this();
  socket.async_connect(c_.server, [self](beast::error_code ec) {
    auto& r = self->c_.results[self->index];
    if (ec) {
      r = {"error", monotonic_now(), {}};
      return self->c_.ended();
    }
    bhttp::async_write(self->socket, self->req, [self](beast::error_code ec, size_t) {
      auto& r = self->c_.results[self->index];
      if (ec) {
        r = {"error", monotonic_now(), {}};
        return self->c_.ended();
      }
      ++self->c_.sent;
      bhttp::async_read(self->socket, self->buffer, self->res, [self](beast::error_code ec, size_t) {
        auto& r = self->c_.results[self->index];
        double t = monotonic_now();
        if (self->c_.finished) return;
        if (ec) r = {"error", t, {}};
        else if (self->res.result_int() != 200) r = {"status-" + std::to_string(self->res.result_int()), t, {}};
        else r = {"body", t, std::move(self->res.body())};
        beast::error_code ignored;
        self->socket.close(ignored);
        self->c_.ended();
      });
    });
  });
}

/// The event ids of every joined room's timeline in a /sync answer.
std::string timeline_ids(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::string out;
  if (!j.is_object()) return out;
  auto rooms = j.value("rooms", nlohmann::json::object()).value("join", nlohmann::json::object());
  for (auto& [id, room] : rooms.items()) {
    auto events = room.value("timeline", nlohmann::json::object()).value("events", nlohmann::json::array());
    for (auto& e : events) out += " " + e.value("event_id", std::string("?"));
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: axon-longpoll-client HOST PORT < polls\n";
    return 2;
  }
  client c;
  c.server = tcp::endpoint(net::ip::make_address(argv[1]), static_cast<unsigned short>(std::stoi(argv[2])));
  c.host_header = std::string(argv[1]) + ":" + argv[2];
  size_t n = 0;
  std::string line;
  if (!std::getline(std::cin, line) || (n = std::stoul(line)) == 0) {
    std::cerr << "axon-longpoll-client: expected the number of polls first\n";
    return 2;
  }
  c.results.resize(n);
  for (size_t i = 0; i < n; ++i) {
    std::string token, since;
    if (!std::getline(std::cin, line)) {
      std::cerr << "axon-longpoll-client: " << i << " polls of " << n << " given\n";
      return 2;
    }
    std::istringstream words(line);
    words >> token >> since;
    c.polls.push_back(std::make_shared<parked_poll>(c, i, token, since));
  }
  // What std::cin read ahead of the poll lines (the deadline, when it came early) is lost to
  // the descriptor: the parent sends it only after every poll is parked.
  c.open_batch();
  c.report();
  c.read_command();
  c.io.run();
  for (auto& r : c.results) {
    std::string ids = r.kind == "body" ? timeline_ids(r.body) : "";
    if (r.arrival < 0) std::printf("%s -%s\n", r.kind.c_str(), ids.c_str());
    else std::printf("%s %.6f%s\n", r.kind.c_str(), r.arrival, ids.c_str());
  }
  std::printf("end\n");
  return 0;
}
