// tests/bench/axon_bench.cpp -- load and latency benchmark for a running Matrix homeserver.
//
// Registers its own users (User-Interactive Auth, m.login.dummy), then measures:
//   (a) messages/s of one client sending sequentially into one room over one keep-alive connection;
//   (b) messages/s of N clients, each on its own thread and connection, sending into its own room;
//   (c) send-to-sync wake-up latency: one client long-polls /sync (timeout 30000) on its own
//       connection while another sends; latency = from just before the send request to the /sync
//       response that carries the message;
//   (d) the server's resident memory (VmRSS / VmHWM from /proc/<pid>/status), when --pid is given;
//   (f) federation, with --remote URL (a second server federating with --hs): a user of --hs sends
//       --messages messages with --senders requests in flight into a room a user of --remote
//       joined, as fast as --hs takes them and then paced at --rate a second; events/s from the
//       first send to the last arrival in the remote user's /sync, and each message's latency
//       from just before its send to the remote /sync response carrying it (p50, p99).
//       tests/bench/federation_bench.py starts the two servers and runs this.
// A 429 is waited out (retry_after_ms) and counted: a rate-limited server gives meaningless numbers.
//
// Usage: axon-bench --hs http://127.0.0.1:8008 [--pid PID] [--messages 2000] [--clients 20]
//                   [--per-client 500] [--samples 200] [--only abcd] [--wait SECONDS]
//                   [--remote http://127.0.0.1:8009 --only f --senders 8 --rate 1000]

#include "percent_encode.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <map>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using json = nlohmann::json;
using bench_clock = std::chrono::steady_clock;

// ---- constants ------------------------------------------------------------------------------

constexpr const char* client_api = "/_matrix/client/v3";
constexpr int long_poll_ms = 30000;
constexpr auto wake_up_give_up = std::chrono::seconds(15);

// ---- options --------------------------------------------------------------------------------

struct options {
  std::string hs;           ///< base URL, http only
  int pid = 0;              ///< server pid for (d); 0 = skip
  int messages = 2000;      ///< (a) messages sent sequentially
  int clients = 20;         ///< (b) concurrent clients
  int per_client = 500;     ///< (b) messages per client
  int samples = 200;        ///< (c) wake-up samples
  std::string only = "abcd";///< which measurements to run
  int wait_s = 0;           ///< wait this long for /versions before starting
  std::string remote;       ///< (f) the federating server the messages go to
  int senders = 8;          ///< (f) send requests in flight
  int rate = 1000;          ///< (f) messages/s of the paced run
};

[[noreturn]] void usage(const char* why) {
  if (why)
    std::fprintf(stderr, "axon-bench: %s\n", why);
  std::fprintf(stderr,
               "usage: axon-bench --hs http://HOST:PORT [--pid PID] [--messages N] [--clients N]\n"
               "                  [--per-client N] [--samples N] [--only abcd] [--wait SECONDS]\n"
               "                  [--remote http://HOST:PORT --only f [--senders N] [--rate N]]\n");
  std::exit(2);
}

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    auto number = [&]() {
      auto v = value();
      try {
        return std::stoi(v);
      } catch (...) {
        usage(("not a number: " + v).c_str());
      }
    };
    if (a == "--hs") o.hs = value();
    else if (a == "--pid") o.pid = number();
    else if (a == "--messages") o.messages = number();
    else if (a == "--clients") o.clients = number();
    else if (a == "--per-client") o.per_client = number();
    else if (a == "--samples") o.samples = number();
    else if (a == "--only") o.only = value();
    else if (a == "--wait") o.wait_s = number();
    else if (a == "--remote") o.remote = value();
    else if (a == "--senders") o.senders = number();
    else if (a == "--rate") o.rate = number();
    else if (a == "-h" || a == "--help") usage(nullptr);
    else usage(("unknown argument " + a).c_str());
  }
  if (o.hs.empty())
    usage("--hs is required");
  if ((o.only.find('f') != std::string::npos) != !o.remote.empty())
    usage("--only f and --remote go together");
  if (o.senders < 1 || o.rate < 1)
    usage("--senders and --rate must be positive");
  return o;
}

// ---- helpers --------------------------------------------------------------------------------

std::string enc(const std::string& s) { return axon::bench::percent_encode(s); }

double ms_between(bench_clock::time_point a, bench_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  auto idx = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

/// VmRSS and VmHWM of a process in KiB, or nullopt when it cannot be read.
std::optional<std::pair<long, long>> read_memory(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  if (!f)
    return std::nullopt;
  long rss = -1, hwm = -1;
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::atol(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::atol(line.c_str() + 6);
  }
  if (rss < 0)
    return std::nullopt;
  return std::make_pair(rss, hwm);
}

/// The value at a path of object keys, or nullptr when any step is missing or not an object.
const json* find_path(const json& root, std::initializer_list<std::string> keys) {
  const json* at = &root;
  for (const auto& k : keys) {
    if (!at->is_object())
      return nullptr;
    auto it = at->find(k);
    if (it == at->end())
      return nullptr;
    at = &*it;
  }
  return at;
}

std::string mib(long kib) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(kib) / 1024.0);
  return buf;
}

// ---- HTTP -----------------------------------------------------------------------------------

struct reply {
  int status = 0;   ///< 0 when the request failed below HTTP
  json body;        ///< discarded value when the body is not JSON
  std::string text;
};

/// Counters shared by every client; printed at the end.
struct counters {
  std::atomic<long> rate_limited{0};
  std::atomic<long> errors{0};
  std::mutex m;
  std::vector<std::string> samples; ///< the first few error descriptions
  void error(const std::string& what) {
    ++errors;
    std::lock_guard<std::mutex> lock(m);
    if (samples.size() < 5)
      samples.push_back(what);
  }
};

counters g_counters;

/// One keep-alive HTTP/1.1 connection. Not thread-safe: one per thread.
class http_client {
public:
  http_client(const std::string& host, unsigned short port, int timeout_s)
    : session_(host, port) {
    session_.setKeepAlive(true);
    session_.setTimeout(Poco::Timespan(timeout_s, 0));
  }

  reply request(const std::string& method, const std::string& path, const json* body = nullptr,
                const std::string& token = {}) {
    // One retry: a keep-alive connection the server closed fails on first use.
    for (int attempt = 0;; ++attempt) {
      try {
        return request_once(method, path, body, token);
      } catch (const Poco::Exception& e) {
        session_.reset();
        if (attempt >= 1 || aborted_)
          return reply{0, json::value_t::discarded, e.displayText()};
      } catch (const std::exception& e) {
        session_.reset();
        if (attempt >= 1 || aborted_)
          return reply{0, json::value_t::discarded, e.what()};
      }
    }
  }

  /// Closes the connection under a request blocked in another thread (ends a long poll).
  void abort() {
    aborted_ = true;
    session_.abort();
  }

private:
  reply request_once(const std::string& method, const std::string& path, const json* body,
                     const std::string& token) {
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    req.setKeepAlive(true);
    if (!token.empty())
      req.set("Authorization", "Bearer " + token);
    std::string payload;
    if (body) {
      payload = body->dump();
      req.setContentType("application/json");
      req.setContentLength(static_cast<std::streamsize>(payload.size()));
    } else if (method != "GET") {
      req.setContentLength(0);
    }
    std::ostream& os = session_.sendRequest(req);
    os << payload;
    Poco::Net::HTTPResponse resp;
    std::istream& is = session_.receiveResponse(resp);
    reply r;
    r.status = static_cast<int>(resp.getStatus());
    Poco::StreamCopier::copyToString(is, r.text);
    r.body = json::parse(r.text, nullptr, false);
    return r;
  }

  Poco::Net::HTTPClientSession session_;
  std::atomic<bool> aborted_{false};
};

struct server_address {
  std::string host;
  unsigned short port = 0;
};

server_address parse_hs(const std::string& url) {
  Poco::URI uri(url);
  if (uri.getScheme() != "http")
    usage("--hs must be an http:// URL (put TLS termination elsewhere)");
  return {uri.getHost(), uri.getPort()};
}

/// Sends a request, waiting out 429s as the server asks; counts them.
reply call(http_client& c, const std::string& method, const std::string& path, const json* body,
           const std::string& token) {
  for (;;) {
    reply r = c.request(method, path, body, token);
    if (r.status != 429)
      return r;
    ++g_counters.rate_limited;
    long wait_ms = 1000;
    if (r.body.is_object() && r.body.contains("retry_after_ms") && r.body["retry_after_ms"].is_number())
      wait_ms = std::max<long>(1, r.body["retry_after_ms"].get<long>());
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
  }
}

[[noreturn]] void die(const std::string& what, const reply& r) {
  std::fprintf(stderr, "axon-bench: %s failed: HTTP %d %s\n", what.c_str(), r.status,
               r.text.substr(0, 400).c_str());
  std::exit(1);
}

// ---- Matrix calls ---------------------------------------------------------------------------

struct account {
  std::string user_id;
  std::string token;
};

std::string run_tag() {
  return std::to_string(std::chrono::system_clock::now().time_since_epoch() / std::chrono::seconds(1))
    + "_" + std::to_string(::getpid());
}

account register_user(http_client& c, const std::string& localpart) {
  std::string path = std::string(client_api) + "/register";
  json body = {{"username", localpart}, {"password", "bench-password-" + localpart},
               {"initial_device_display_name", "axon-bench"}};
  reply first = call(c, "POST", path, &body, {});
  if (first.status != 401 || !first.body.is_object() || !first.body.contains("session"))
    die("register " + localpart + " (first UIA step)", first);
  body["auth"] = {{"type", "m.login.dummy"}, {"session", first.body["session"]}};
  reply second = call(c, "POST", path, &body, {});
  if (second.status != 200)
    die("register " + localpart + " (m.login.dummy)", second);
  return {second.body.value("user_id", ""), second.body.value("access_token", "")};
}

std::string create_room(http_client& c, const account& a, const std::string& preset,
                        const json& extra = json::object()) {
  json body = {{"preset", preset}, {"name", "axon-bench"}};
  body.update(extra);
  reply r = call(c, "POST", std::string(client_api) + "/createRoom", &body, a.token);
  if (r.status != 200)
    die("createRoom", r);
  return r.body.value("room_id", "");
}

void join_room(http_client& c, const account& a, const std::string& room, const std::string& query = {}) {
  json body = json::object();
  reply r = call(c, "POST", std::string(client_api) + "/join/" + enc(room) + query, &body, a.token);
  if (r.status != 200)
    die("join", r);
}

/// Sends one m.text; returns true on 200.
bool send_text(http_client& c, const account& a, const std::string& room, const std::string& txn,
               const std::string& text) {
  json body = {{"msgtype", "m.text"}, {"body", text}};
  std::string path = std::string(client_api) + "/rooms/" + enc(room) + "/send/m.room.message/" + enc(txn);
  reply r = call(c, "PUT", path, &body, a.token);
  if (r.status == 200)
    return true;
  g_counters.error("send: HTTP " + std::to_string(r.status) + " " + r.text.substr(0, 200));
  return false;
}

// ---- measurements ---------------------------------------------------------------------------

struct throughput {
  long ok = 0;
  double seconds = 0;
  std::vector<double> request_ms;
  double per_second() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
};

throughput sequential_sends(const server_address& addr, int count, const std::string& tag) {
  http_client c(addr.host, addr.port, 60);
  account a = register_user(c, "bench_seq_" + tag);
  std::string room = create_room(c, a, "private_chat");
  throughput t;
  t.request_ms.reserve(static_cast<size_t>(count));
  auto start = bench_clock::now();
  for (int i = 0; i < count; ++i) {
    auto t0 = bench_clock::now();
    if (send_text(c, a, room, "seq" + std::to_string(i), "sequential " + std::to_string(i)))
      ++t.ok;
    t.request_ms.push_back(ms_between(t0, bench_clock::now()));
  }
  t.seconds = ms_between(start, bench_clock::now()) / 1000.0;
  return t;
}

throughput concurrent_sends(const server_address& addr, int clients, int per_client,
                            const std::string& tag) {
  // Set-up (accounts, rooms) happens before the clock starts.
  struct worker {
    std::unique_ptr<http_client> client;
    account acct;
    std::string room;
    long ok = 0;
    std::vector<double> request_ms;
  };
  std::vector<worker> workers(static_cast<size_t>(clients));
  for (int i = 0; i < clients; ++i) {
    auto& w = workers[static_cast<size_t>(i)];
    w.client = std::make_unique<http_client>(addr.host, addr.port, 60);
    w.acct = register_user(*w.client, "bench_par_" + tag + "_" + std::to_string(i));
    w.room = create_room(*w.client, w.acct, "private_chat");
    w.request_ms.reserve(static_cast<size_t>(per_client));
  }
  std::mutex m;
  std::condition_variable cv;
  bool go = false;
  std::vector<std::thread> threads;
  for (auto& w : workers) {
    threads.emplace_back([&, wp = &w] {
      {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return go; });
      }
      for (int i = 0; i < per_client; ++i) {
        auto t0 = bench_clock::now();
        if (send_text(*wp->client, wp->acct, wp->room, "par" + std::to_string(i),
                      "concurrent " + std::to_string(i)))
          ++wp->ok;
        wp->request_ms.push_back(ms_between(t0, bench_clock::now()));
      }
    });
  }
  auto start = bench_clock::now();
  {
    std::lock_guard<std::mutex> lock(m);
    go = true;
  }
  cv.notify_all();
  for (auto& t : threads)
    t.join();
  throughput t;
  t.seconds = ms_between(start, bench_clock::now()) / 1000.0;
  for (auto& w : workers) {
    t.ok += w.ok;
    t.request_ms.insert(t.request_ms.end(), w.request_ms.begin(), w.request_ms.end());
  }
  return t;
}

/// State shared by the long-polling listener and the sender in (c).
struct wake_state {
  std::mutex m;
  std::condition_variable cv;
  long polls_started = 0;     ///< bumped just before each /sync request goes out
  std::string awaited;        ///< body the sender waits to see
  bool got = false;
  bench_clock::time_point got_at;
  long got_poll = 0;          ///< which poll (polls_started value) delivered the awaited message
  bool failed = false;
  std::string error;
  bool done = false;
};

struct latency_result {
  std::vector<double> ms;
  long early_wakeups = 0;     ///< syncs that returned without the awaited message
  std::string error;
};

void listen(http_client& c, const account& a, const std::string& room, std::string since,
            wake_state& st, std::atomic<long>& early) {
  const std::string filter = R"({"room":{"timeline":{"limit":20}},"presence":{"not_types":["*"]}})";
  for (;;) {
    long my_poll;
    {
      std::lock_guard<std::mutex> lock(st.m);
      if (st.done)
        return;
      my_poll = ++st.polls_started;
    }
    st.cv.notify_all();
    std::string path = std::string(client_api) + "/sync?timeout=" + std::to_string(long_poll_ms)
      + "&since=" + enc(since) + "&filter=" + enc(filter);
    reply r = c.request("GET", path, nullptr, a.token);
    auto now = bench_clock::now();
    std::lock_guard<std::mutex> lock(st.m);
    if (st.done)
      return;
    if (r.status != 200 || !r.body.is_object() || !r.body.contains("next_batch")) {
      st.failed = true;
      st.error = "sync: HTTP " + std::to_string(r.status) + " " + r.text.substr(0, 200);
      st.cv.notify_all();
      return;
    }
    since = r.body["next_batch"].get<std::string>();
    bool found = false;
    const json* events = find_path(r.body, {"rooms", "join", room, "timeline", "events"});
    if (events && events->is_array() && !st.awaited.empty()) {
      for (auto& e : *events) {
        const json* text = find_path(e, {"content", "body"});
        if (text && text->is_string() && text->get<std::string>() == st.awaited)
          found = true;
      }
    }
    if (found) {
      st.got = true;
      st.got_at = now;
      st.got_poll = my_poll;
      st.cv.notify_all();
    } else {
      ++early;
    }
  }
}

latency_result wake_up_latency(const server_address& addr, int samples, const std::string& tag) {
  http_client sender_conn(addr.host, addr.port, 60);
  http_client listener_conn(addr.host, addr.port, long_poll_ms / 1000 + 30);
  account sender = register_user(sender_conn, "bench_lat_s_" + tag);
  account listener = register_user(listener_conn, "bench_lat_l_" + tag);
  std::string room = create_room(sender_conn, sender, "public_chat");
  join_room(listener_conn, listener, room);
  reply first = call(listener_conn, "GET",
                     std::string(client_api) + "/sync?timeout=0&filter="
                       + enc(R"({"room":{"timeline":{"limit":1}}})"),
                     nullptr, listener.token);
  if (first.status != 200)
    die("initial sync", first);

  wake_state st;
  std::atomic<long> early{0};
  std::thread th(listen, std::ref(listener_conn), std::cref(listener), std::cref(room),
                 first.body.value("next_batch", ""), std::ref(st), std::ref(early));
  latency_result res;
  long seen_polls = 0;
  for (int i = 0; i < samples; ++i) {
    std::string body = "wake " + std::to_string(i);
    {
      std::unique_lock<std::mutex> lock(st.m);
      if (!st.cv.wait_for(lock, wake_up_give_up, [&] { return st.polls_started > seen_polls || st.failed; })) {
        res.error = "the listener did not start a new /sync";
        break;
      }
      if (st.failed)
        break;
      st.awaited = body;
      st.got = false;
    }
    // Give the /sync request time to reach the server and park there.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto t0 = bench_clock::now();
    if (!send_text(sender_conn, sender, room, "lat" + std::to_string(i), body)) {
      res.error = "send failed";
      break;
    }
    std::unique_lock<std::mutex> lock(st.m);
    if (!st.cv.wait_for(lock, wake_up_give_up, [&] { return st.got || st.failed; })) {
      res.error = "no /sync returned '" + body + "' within 15 s";
      break;
    }
    if (st.failed)
      break;
    res.ms.push_back(ms_between(t0, st.got_at));
    // The next send waits for a /sync issued after the one that delivered this message.
    seen_polls = st.got_poll;
  }
  {
    std::lock_guard<std::mutex> lock(st.m);
    if (st.failed && res.error.empty())
      res.error = st.error;
    st.done = true;
  }
  // Wake the parked /sync so the listener can see `done`; abort if that does not work.
  send_text(sender_conn, sender, room, "lat-end", "wake end");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  listener_conn.abort();
  th.join();
  res.early_wakeups = early.load();
  return res;
}

// (f) federation: messages from a user of one server to a user of another.

struct federation_result {
  int messages = 0;
  double send_rate = 0;    ///< messages/s the sending server took
  double events_per_s = 0; ///< from the first send to the last arrival
  std::vector<double> ms;  ///< per message, send to its arrival in the remote /sync
  std::string error;
};

/// The remote user's /sync, long-polled until every message arrived (or
/// `stop`): arrival times by message number.
struct arrivals {
  std::mutex m;
  std::condition_variable cv;
  std::map<int, bench_clock::time_point> at;
  bool stop = false;
  std::string error;
};

void follow(http_client& c, const account& a, const std::string& room, std::string since,
            const std::string& prefix, int messages, arrivals& got) {
  const std::string filter = R"({"room":{"timeline":{"limit":1000}},"presence":{"not_types":["*"]}})";
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(got.m);
      if (got.stop || static_cast<int>(got.at.size()) >= messages)
        return;
    }
    reply r = c.request("GET", std::string(client_api) + "/sync?timeout=5000&since=" + enc(since)
                                 + "&filter=" + enc(filter), nullptr, a.token);
    auto now = bench_clock::now();
    std::lock_guard<std::mutex> lock(got.m);
    if (r.status != 200 || !r.body.is_object() || !r.body.contains("next_batch")) {
      if (!got.stop)
        got.error = "remote sync: HTTP " + std::to_string(r.status) + " " + r.text.substr(0, 200);
      got.stop = true;
      got.cv.notify_all();
      return;
    }
    since = r.body["next_batch"].get<std::string>();
    const json* events = find_path(r.body, {"rooms", "join", room, "timeline", "events"});
    if (events && events->is_array())
      for (auto& e : *events) {
        const json* text = find_path(e, {"content", "body"});
        if (text && text->is_string() && text->get_ref<const std::string&>().rfind(prefix, 0) == 0)
          got.at.emplace(std::atoi(text->get_ref<const std::string&>().c_str() + prefix.size()), now);
      }
    got.cv.notify_all();
  }
}

federation_result federation_run(const server_address& local, const server_address& remote, int messages,
                                 int senders, int rate, const std::string& tag) {
  http_client lc(local.host, local.port, 60);
  http_client rc(remote.host, remote.port, 60);
  account alice = register_user(lc, "bench_fed_a_" + tag);
  account bob = register_user(rc, "bench_fed_b_" + tag);
  // Room version 10: what Synapse 1.67 knows too.
  std::string room = create_room(lc, alice, "public_chat", {{"room_version", "10"}});
  auto server = alice.user_id.substr(alice.user_id.find(':') + 1);
  // server_name: Synapse needs to be told where the room is (Axon also tries the room id's server).
  join_room(rc, bob, room, "?server_name=" + enc(server));
  // The sending side knows the remote member before the first message.
  for (auto deadline = bench_clock::now() + std::chrono::seconds(20);;) {
    reply r = call(lc, "GET", std::string(client_api) + "/rooms/" + enc(room) + "/joined_members", nullptr,
                   alice.token);
    if (r.status == 200 && r.body.contains("joined") && r.body["joined"].size() == 2)
      break;
    if (bench_clock::now() > deadline)
      die("the remote join reaching the sending server", r);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  reply first = call(rc, "GET", std::string(client_api) + "/sync?timeout=0", nullptr, bob.token);
  if (first.status != 200)
    die("remote initial sync", first);

  federation_result res;
  res.messages = messages;
  const std::string prefix = "bench " + tag + " ";
  arrivals got;
  http_client follower_conn(remote.host, remote.port, 60);
  std::thread follower(follow, std::ref(follower_conn), std::cref(bob), std::cref(room),
                       first.body.value("next_batch", ""), std::cref(prefix), messages, std::ref(got));

  std::vector<bench_clock::time_point> sent_at(static_cast<size_t>(messages));
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  auto t0 = bench_clock::now();
  std::vector<std::thread> pool;
  for (int s = 0; s < senders; ++s)
    pool.emplace_back([&] {
      http_client c(local.host, local.port, 60);
      for (int i; (i = next++) < messages && !failed;) {
        if (rate > 0)
          std::this_thread::sleep_until(t0 + std::chrono::microseconds(1000000LL * i / rate));
        sent_at[static_cast<size_t>(i)] = bench_clock::now();
        if (!send_text(c, alice, room, "f" + tag + "_" + std::to_string(i), prefix + std::to_string(i)))
          failed = true;
      }
    });
  for (auto& t : pool)
    t.join();
  auto sent_all = bench_clock::now();
  {
    std::unique_lock<std::mutex> lock(got.m);
    got.cv.wait_for(lock, std::chrono::seconds(120),
                    [&] { return got.stop || static_cast<int>(got.at.size()) >= messages; });
    if (failed)
      res.error = "a send failed";
    else if (!got.error.empty())
      res.error = got.error;
    else if (static_cast<int>(got.at.size()) < messages)
      res.error = "only " + std::to_string(got.at.size()) + " of " + std::to_string(messages)
                  + " messages arrived in the remote /sync";
    got.stop = true;
  }
  // The follower's poll ends within its 5 s timeout.
  follower.join();
  if (!res.error.empty())
    return res;
  res.send_rate = messages / std::chrono::duration<double>(sent_all - t0).count();
  auto last = t0;
  for (auto& [i, at] : got.at) {
    last = std::max(last, at);
    if (i >= 0 && i < messages)
      res.ms.push_back(ms_between(sent_at[static_cast<size_t>(i)], at));
  }
  res.events_per_s = messages / std::chrono::duration<double>(last - t0).count();
  return res;
}

// ---- report ---------------------------------------------------------------------------------

void row(const std::string& what, const std::string& result) {
  std::printf("  %-44s %s\n", what.c_str(), result.c_str());
}

std::string fmt(const char* f, double a, double b = 0, double c = 0, double d = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a, b, c, d);
  return buf;
}

bool wait_for_server(const server_address& addr, int seconds) {
  auto deadline = bench_clock::now() + std::chrono::seconds(seconds);
  do {
    http_client c(addr.host, addr.port, 2);
    if (c.request("GET", "/_matrix/client/versions").status == 200)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (bench_clock::now() < deadline);
  return false;
}

} // namespace

int main(int argc, char** argv) {
  options o = parse_options(argc, argv);
  server_address addr = parse_hs(o.hs);
  if (!wait_for_server(addr, o.wait_s)) {
    std::fprintf(stderr, "axon-bench: %s does not answer GET /_matrix/client/versions\n", o.hs.c_str());
    return 1;
  }
  auto wants = [&](char c) { return o.only.find(c) != std::string::npos; };
  std::string tag = run_tag();
  auto mem_before = o.pid ? read_memory(o.pid) : std::nullopt;

  std::printf("axon-bench against %s%s\n", o.hs.c_str(),
              o.pid ? (" (server pid " + std::to_string(o.pid) + ")").c_str() : "");
  std::printf("  %-44s %s\n", "measurement", "result");
  std::printf("  %s\n", std::string(100, '-').c_str());
  std::fflush(stdout);

  if (wants('a')) {
    auto t = sequential_sends(addr, o.messages, tag);
    row("(a) 1 client, 1 room, " + std::to_string(o.messages) + " sequential sends",
        fmt("%.0f msg/s  (%.2f s; request p50 %.2f ms, p99 %.2f ms)", t.per_second(), t.seconds,
            percentile(t.request_ms, 50), percentile(t.request_ms, 99)));
    std::fflush(stdout);
  }
  if (wants('b')) {
    auto t = concurrent_sends(addr, o.clients, o.per_client, tag);
    row("(b) " + std::to_string(o.clients) + " clients x " + std::to_string(o.per_client)
          + " sends, own rooms",
        fmt("%.0f msg/s  (%.2f s; request p50 %.2f ms, p99 %.2f ms)", t.per_second(), t.seconds,
            percentile(t.request_ms, 50), percentile(t.request_ms, 99)));
    std::fflush(stdout);
  }
  int status = 0;
  if (wants('c')) {
    auto l = wake_up_latency(addr, o.samples, tag);
    if (!l.ms.empty())
      row("(c) send -> /sync wake-up, " + std::to_string(l.ms.size()) + " samples",
          fmt("p50 %.2f ms, p99 %.2f ms, max %.2f ms", percentile(l.ms, 50), percentile(l.ms, 99),
              *std::max_element(l.ms.begin(), l.ms.end())));
    if (l.early_wakeups)
      row("    syncs returning without the message", std::to_string(l.early_wakeups));
    if (!l.error.empty()) {
      row("(c) FAILED", l.error);
      status = 1;
    }
  }
  if (wants('f')) {
    auto remote = parse_hs(o.remote);
    for (int rate : {0, o.rate}) {
      auto f = federation_run(addr, remote, o.messages, o.senders, rate, tag + (rate ? "p" : "u"));
      std::string what = "(f) to " + o.remote + ", " + std::to_string(o.messages) + " messages, "
                         + std::to_string(o.senders) + " in flight, "
                         + (rate ? "paced at " + std::to_string(rate) + "/s" : std::string("unpaced"));
      if (!f.error.empty()) {
        row(what, "FAILED: " + f.error);
        status = 1;
        break;
      }
      row(what, fmt("%.0f events/s arrived (sent at %.0f/s); send -> remote /sync p50 %.1f ms, p99 %.1f ms",
                    f.events_per_s, f.send_rate, percentile(f.ms, 50), percentile(f.ms, 99)));
      std::fflush(stdout);
    }
  }
  if (wants('d')) {
    if (!o.pid) {
      row("(d) server memory", "skipped (no --pid)");
    } else if (auto now = read_memory(o.pid)) {
      std::string r = "VmRSS " + mib(now->first) + ", peak VmHWM " + mib(now->second);
      if (mem_before)
        r += "  (VmRSS at start " + mib(mem_before->first) + ")";
      row("(d) server memory", r);
    } else {
      row("(d) server memory", "cannot read /proc/" + std::to_string(o.pid) + "/status");
    }
  }
  if (g_counters.rate_limited)
    row("WARNING: 429 responses waited out", std::to_string(g_counters.rate_limited.load())
          + " (the server's rate limits shape these numbers)");
  if (g_counters.errors) {
    row("ERRORS", std::to_string(g_counters.errors.load()));
    for (auto& s : g_counters.samples)
      row("", s);
    status = 1;
  }
  return status;
}
