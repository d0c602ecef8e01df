// actors/http/http_client.cpp -- the outbound HTTP client on Boost.Beast and
// Asio: the same library as the listener (listener.cpp), already a
// dependency (Debian's libboost1.81-dev, scripts/setup), so no second HTTP
// stack; Beast's parser reads the answers (Content-Length, chunked, or up to
// EOF), nothing is parsed by hand.
//
// Everything below runs on one event loop thread per client, so the pools
// need no locks: callers post their request to it. Name resolution uses
// Asio's async_resolve, which runs getaddrinfo on Asio's own resolver
// thread (asio/detail/resolver_service_base: a private scheduler with one
// work thread), never on the event loop; a slow DNS server delays other
// lookups, not the connections in use.
//
// Per destination (scheme, host, port, TLS name; or a unix socket) a pool:
// idle kept-alive connections, newest reused first, closed after
// idle_timeout_ms. A connection carries one request at a time, so the
// connection limits bound the requests in flight; the requests beyond them
// wait in one FIFO and fail when their timeout passes there.
#include "actors/http/http_client.hpp"

#include "config/homeserver_config.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <unordered_set>

namespace axon::http {

namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using unix_socket = net::local::stream_protocol;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---- constants ---------------------------------------------------------------------------

constexpr uint32_t max_response_header = 64 * 1024;
/// A request's timeout is cut to this (a week): an absurd one must not
/// overflow the clock.
constexpr int64_t max_timeout_ms = 7LL * 24 * 3600 * 1000;

// ---- helpers -----------------------------------------------------------------------------

enum class scheme { http, https, unix_socket };

/// Where a URL points and what to ask for there.
struct target {
  scheme kind = scheme::http;
  std::string host;        ///< without brackets
  unsigned short port = 0;
  std::string socket_path; ///< unix
  std::string path;        ///< path and query, "/" at least
};

bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool is_token(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}
/// No CR, LF or NUL (header injection), nor other controls but tab.
bool is_field_value(const std::string& s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}
bool is_path(const std::string& s) {
  return !s.empty() && s[0] == '/' &&
         std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

/// The URL's parts, or why it is not one this client takes.
std::optional<target> parse_url(const std::string& url, std::string& why) {
  target t;
  std::string rest;
  if (url.rfind("unix:", 0) == 0) {
    t.kind = scheme::unix_socket;
    rest = url.substr(5);
    auto sep = rest.find(":/");
    t.socket_path = rest.substr(0, sep);
    t.path = sep == std::string::npos ? "/" : rest.substr(sep + 1);
    if (t.socket_path.empty() || !is_field_value(t.socket_path)) {
      why = "no socket path in " + url;
      return std::nullopt;
    }
  } else {
    if (url.rfind("http://", 0) == 0) {
      t.kind = scheme::http;
      rest = url.substr(7);
      t.port = 80;
    } else if (url.rfind("https://", 0) == 0) {
      t.kind = scheme::https;
      rest = url.substr(8);
      t.port = 443;
    } else {
      why = "not an http, https or unix URL: " + url;
      return std::nullopt;
    }
    auto end = rest.find_first_of("/?");
    std::string authority = rest.substr(0, end);
    t.path = end == std::string::npos ? "/" : rest.substr(end);
    if (!t.path.empty() && t.path[0] == '?') t.path = "/" + t.path;
    std::string port;
    bool has_port = false;
    if (!authority.empty() && authority[0] == '[') {
      auto close = authority.find(']');
      if (close == std::string::npos) {
        why = "unclosed [ in " + url;
        return std::nullopt;
      }
      t.host = authority.substr(1, close - 1);
      auto after = authority.substr(close + 1);
      if (!after.empty()) {
        if (after[0] != ':') {
          why = "junk after ] in " + url;
          return std::nullopt;
        }
        port = after.substr(1);
        has_port = true;
      }
    } else {
      auto colon = authority.find(':');
      t.host = authority.substr(0, colon);
      if (colon != std::string::npos) {
        port = authority.substr(colon + 1);
        has_port = true;
      }
    }
    bool host_ok = !t.host.empty() && std::all_of(t.host.begin(), t.host.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_';
    });
    if (!host_ok) {
      why = "no valid host in " + url;
      return std::nullopt;
    }
    if (has_port) {
      bool digits = !port.empty() && port.size() <= 5 &&
                    std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
      int n = digits ? std::stoi(port) : 0;
      if (n < 1 || n > 65535) {
        why = "bad port in " + url;
        return std::nullopt;
      }
      t.port = static_cast<unsigned short>(n);
    }
  }
  if (!is_path(t.path)) {
    why = "bad path in " + url;
    return std::nullopt;
  }
  return t;
}

bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

/// Host header value: the name, bracketed when IPv6, with the port unless
/// the scheme's default.
std::string host_header(const target& t, const std::string& name) {
  if (t.kind == scheme::unix_socket) return name.empty() ? "localhost" : name;
  std::string h = name.empty() ? t.host : name;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  bool default_port = (t.kind == scheme::http && t.port == 80) || (t.kind == scheme::https && t.port == 443);
  return default_port ? h : h + ":" + std::to_string(t.port);
}

std::string destination_key(const target& t, const std::string& server_name) {
  switch (t.kind) {
  case scheme::unix_socket: return "unix:" + t.socket_path;
  case scheme::http: return "http://" + host_header(t, "") + (t.port == 80 ? ":80" : "");
  case scheme::https:
    return "https://" + host_header(t, "") + (t.port == 443 ? ":443" : "") +
           (server_name.empty() ? "" : "#" + server_name);
  }
  return {};
}

outbound_response failure(std::string why, bool timed_out = false) {
  outbound_response r;
  r.error = std::move(why);
  r.timed_out = timed_out;
  return r;
}

/// The request as Beast writes it, or why it can't be sent. Takes the body
/// (a retry sends the same wire request again).
std::optional<bhttp::request<bhttp::string_body>> build_request(outbound_request& in, const target& t,
                                                                std::string& why) {
  if (!is_token(in.method)) {
    why = "bad method \"" + in.method + "\"";
    return std::nullopt;
  }
  bhttp::request<bhttp::string_body> r;
  r.version(11);
  auto verb = bhttp::string_to_verb(in.method);
  if (verb == bhttp::verb::unknown) r.method_string(in.method);
  else r.method(verb);
  r.target(t.path);
  bool host = false, agent = false;
  for (auto& [name, value] : in.headers) {
    if (!is_token(name) || !is_field_value(value)) {
      why = "bad header \"" + name + "\"";
      return std::nullopt;
    }
    // The framing is ours: what the body is decides it.
    if (beast::iequals(name, "content-length") || beast::iequals(name, "transfer-encoding")) continue;
    host = host || beast::iequals(name, "host");
    agent = agent || beast::iequals(name, "user-agent");
    r.insert(name, value);
  }
  if (!host) r.set(bhttp::field::host, host_header(t, in.tls_server_name));
  if (!agent) r.set(bhttp::field::user_agent, "Axon");
  r.body() = std::move(in.body);
  r.prepare_payload();
  r.keep_alive(true);
  return r;
}

// ---- state -------------------------------------------------------------------------------

class connection_base;
struct destination;

/// One request, from the call to its answer.
struct pending {
  outbound_request req;
  target where;
  std::optional<bhttp::request<bhttp::string_body>> wire;
  std::function<void(outbound_response)> done;
  std::shared_ptr<destination> dest;
  std::unique_ptr<net::steady_timer> deadline;
  int64_t timeout_ms = 0;
  bool finished = false;
  bool queued = false;
  bool fresh_only = false; ///< a retry: never on an idle connection
  bool retried = false;
  std::shared_ptr<connection_base> conn; ///< while on a connection
};

struct destination {
  std::string key;
  bool federation = false; ///< the federation policy (tls_policy) applies
  target where;
  std::string server_name; ///< TLS name (SNI, verification); the host when unset
  std::shared_ptr<pool_counters> counters = std::make_shared<pool_counters>();
  std::vector<std::shared_ptr<connection_base>> idle; ///< newest last
};

/// What a connection tells the pool when its request ends.
struct exchange_result {
  outbound_response response;
  bool reusable = false;  ///< keep-alive answer, read to its end
  bool retryable = false; ///< a kept-alive connection failed before any byte of the answer
};

class connection_base : public std::enable_shared_from_this<connection_base> {
public:
  explicit connection_base(std::shared_ptr<destination> d) : dest(std::move(d)) {}
  virtual ~connection_base() = default;
  /// Connects first if needed, then sends and reads; ends in the pool's finished_on.
  virtual void run(std::shared_ptr<pending> p) = 0;
  /// Stops whatever it does; its handlers then end with an error.
  virtual void abort() = 0;
  /// For an idle connection: the peer closed it (or sent what no request asked for).
  virtual bool unusable() = 0;

  std::shared_ptr<destination> dest;
  std::shared_ptr<pending> current;
  std::unique_ptr<net::steady_timer> idle_timer;
  uint64_t parked = 0; ///< times parked: an idle timeout is for the newest only
  bool discarded = false;
};

} // namespace

struct http_client::impl : std::enable_shared_from_this<http_client::impl> {
  explicit impl(http_client_options o) : opt(std::move(o)) {}

  http_client_options opt;
  net::io_context io{1};
  net::executor_work_guard<net::io_context::executor_type> work{io.get_executor()};
  ssl::context tls{ssl::context::tls_client};
  ssl::context federation_tls{ssl::context::tls_client}; ///< used when opt.federation is set
  const tls_policy& policy(const destination& d) const {
    return d.federation && opt.federation ? *opt.federation : opt.tls;
  }
  std::thread loop;
  std::thread::id loop_id;
  std::atomic<bool> stopping{false};
  pool_counters total;

  // Loop thread only, except `dests`, which counters() reads under the mutex.
  mutable std::mutex dests_mu;
  std::map<std::string, std::shared_ptr<destination>> dests;
  std::deque<std::shared_ptr<pending>> queue;
  std::set<std::shared_ptr<connection_base>> all;
  bool stopped = false;

  void count(destination& d, std::atomic<int> pool_counters::*field, int delta) {
    ((*d.counters).*field) += delta;
    (total.*field) += delta;
  }

  void submit(std::shared_ptr<pending> p);
  void pump();
  bool try_assign(const std::shared_ptr<pending>& p);
  void start_on(std::shared_ptr<connection_base> c, std::shared_ptr<pending> p);
  void finished_on(const std::shared_ptr<connection_base>& c, exchange_result r);
  void finish(const std::shared_ptr<pending>& p, outbound_response r);
  void on_deadline(const std::shared_ptr<pending>& p);
  void park(const std::shared_ptr<connection_base>& c);
  void discard(const std::shared_ptr<connection_base>& c);
  bool close_an_idle_connection();
  std::shared_ptr<connection_base> make_connection(const std::shared_ptr<destination>& d);
  void shutdown();
};

namespace {

using core_type = http_client::impl;

// ---- one connection ----------------------------------------------------------------------

template <class Stream>
class connection final : public connection_base {
public:
  connection(core_type* core, std::shared_ptr<destination> d, Stream stream)
    : connection_base(std::move(d)), core_(core), stream_(std::move(stream)), resolver_(core->io),
      connect_timer_(core->io) {}

  void run(std::shared_ptr<pending> p) override {
    current = std::move(p);
    if (!established_) return connect();
    reused_ = true;
    write();
  }

  void abort() override {
    beast::error_code ec;
    resolver_.cancel();
    connect_timer_.cancel();
    socket().close(ec);
  }

  bool unusable() override {
    auto& s = socket();
    if (!s.is_open()) return true;
    char c;
    auto n = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n >= 0) return true; // 0: closed by the peer; more: bytes nobody asked for
    return errno != EAGAIN && errno != EWOULDBLOCK;
  }

private:
  static constexpr bool is_tls = std::is_same_v<Stream, ssl::stream<tcp::socket>>;
  static constexpr bool is_unix = std::is_same_v<Stream, unix_socket::socket>;

  auto& socket() {
    if constexpr (is_tls) return stream_.lowest_layer();
    else return stream_;
  }
  std::shared_ptr<connection> self() { return std::static_pointer_cast<connection>(shared_from_this()); }
  const std::string& name() const { return dest->server_name; }

  /// Resolve, connect and (TLS) handshake within connect_timeout_ms.
  void connect() {
    connect_timer_.expires_after(milliseconds(core_->opt.connect_timeout_ms));
    connect_timer_.async_wait([self = self()](beast::error_code ec) {
      if (ec) return;
      self->connect_timed_out_ = true;
      self->abort();
    });
    if constexpr (is_unix) {
      socket().async_connect(unix_socket::endpoint(dest->where.socket_path),
                             [self = self()](beast::error_code ec) { self->on_connect(ec); });
    } else {
      resolver_.async_resolve(dest->where.host, std::to_string(dest->where.port),
                              [self = self()](beast::error_code ec, tcp::resolver::results_type found) {
                                if (ec) return self->fail_connect("cannot resolve " + self->dest->where.host, ec);
                                self->connect_to(found);
                              });
    }
  }

  /// Connects to the first of `found` that answers, among those the
  /// address filter allows (checked after resolution, so a name cannot
  /// smuggle a refused address in).
  void connect_to(const tcp::resolver::results_type& found) {
    std::vector<tcp::endpoint> allowed;
    for (auto& e : found) {
      auto address = e.endpoint().address();
      if (address.is_v6() && address.to_v6().is_v4_mapped())
        address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
      auto& allowed_by = core_->policy(*dest).address_allowed;
      if (!allowed_by || allowed_by(address.to_string()))
        allowed.push_back(e.endpoint());
    }
    if (allowed.empty()) {
      connect_timer_.cancel();
      exchange_result r;
      r.response = failure("no allowed address for " + dest->where.host + " (ip_range_blocklist)");
      return end(std::move(r));
    }
    net::async_connect(socket(), allowed,
                       [self = self()](beast::error_code e, const tcp::endpoint&) { self->on_connect(e); });
  }

  void on_connect(beast::error_code ec) {
    if (ec) return fail_connect("cannot connect to " + dest->key, ec);
    if constexpr (!is_unix) {
      beast::error_code ignored;
      socket().set_option(tcp::no_delay(true), ignored);
    }
    if constexpr (is_tls) {
      // RFC 6066: SNI carries host names only, never an address.
      if (!is_ip_literal(name())) SSL_set_tlsext_host_name(stream_.native_handle(), name().c_str());
      auto& p = core_->policy(*dest);
      if (p.verify_certificates && !(p.skip_verification && p.skip_verification(name()))) {
        stream_.set_verify_mode(ssl::verify_peer);
        // RFC 2818 / 6125: the leaf must name the host (or the address).
        stream_.set_verify_callback(ssl::host_name_verification(name()));
      } else {
        stream_.set_verify_mode(ssl::verify_none);
      }
      stream_.async_handshake(ssl::stream_base::client, [self = self()](beast::error_code e) {
        if (e) return self->fail_connect("TLS handshake with " + self->dest->key + " failed", e);
        self->connected();
      });
    } else {
      connected();
    }
  }

  void connected() {
    connect_timer_.cancel();
    established_ = true;
    write();
  }

  void fail_connect(const std::string& what, beast::error_code ec) {
    connect_timer_.cancel();
    exchange_result r;
    r.response = failure(connect_timed_out_ ? "connecting to " + dest->key + " timed out after " +
                                                std::to_string(core_->opt.connect_timeout_ms) + " ms"
                                            : what + ": " + ec.message());
    end(std::move(r));
  }

  void write() {
    buffer_.clear();
    bhttp::async_write(stream_, *current->wire, [self = self()](beast::error_code ec, size_t) {
      if (ec) return self->fail_io(ec);
      self->read();
    });
  }

  uint64_t body_limit() const {
    auto own = current->req.max_response_size;
    return static_cast<uint64_t>(own > 0 ? own : core_->opt.max_response_size);
  }

  void read() {
    parser_.emplace();
    parser_->header_limit(max_response_header);
    parser_->body_limit(body_limit());
    if (current->wire->method() == bhttp::verb::head) parser_->skip(true);
    if (current->req.body_file.empty() || current->wire->method() == bhttp::verb::head) {
      bhttp::async_read(stream_, buffer_, *parser_, [self = self()](beast::error_code ec, size_t) {
        if (ec) return self->fail_io(ec);
        self->answered();
      });
      return;
    }
    // The head first: a 2xx body goes to the file, any other stays text.
    bhttp::async_read_header(stream_, buffer_, *parser_, [self = self()](beast::error_code ec, size_t) {
      if (ec) return self->fail_io(ec);
      self->read_body();
    });
  }

  void read_body() {
    auto status = parser_->get().result_int();
    if (status < 200 || status >= 300 || parser_->is_done()) {
      bhttp::async_read(stream_, buffer_, *parser_, [self = self()](beast::error_code ec, size_t) {
        if (ec) return self->fail_io(ec);
        self->answered();
      });
      return;
    }
    file_parser_.emplace(std::move(*parser_));
    parser_.reset();
    file_parser_->body_limit(body_limit());
    beast::error_code ec;
    file_parser_->get().body().open(current->req.body_file.c_str(), beast::file_mode::write_new, ec);
    if (ec) {
      file_parser_.reset();
      exchange_result r;
      r.response = failure("cannot create " + current->req.body_file + ": " + ec.message());
      abort(); // the answer is left unread: the connection goes
      return end(std::move(r));
    }
    file_open_ = true;
    bhttp::async_read(stream_, buffer_, *file_parser_, [self = self()](beast::error_code e, size_t) {
      if (e) return self->fail_io(e);
      self->answered_to_file();
    });
  }

  void answered() {
    auto res = parser_->release();
    exchange_result r;
    r.response.status = static_cast<int>(res.result_int());
    for (auto& f : res) r.response.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    r.response.body = std::move(res.body());
    // Reused only when the answer ended by its framing and nothing follows it.
    r.reusable = !res.need_eof() && buffer_.size() == 0;
    parser_.reset();
    end(std::move(r));
  }

  void answered_to_file() {
    auto res = file_parser_->release();
    exchange_result r;
    r.response.status = static_cast<int>(res.result_int());
    for (auto& f : res) r.response.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    r.reusable = !res.need_eof() && buffer_.size() == 0;
    res.body().close();
    file_parser_.reset();
    file_open_ = false;
    end(std::move(r));
  }

  /// A half-written body file goes.
  void drop_file() {
    if (!file_open_) return;
    file_parser_.reset();
    file_open_ = false;
    ::unlink(current->req.body_file.c_str());
  }

  void fail_io(beast::error_code ec) {
    exchange_result r;
    bool some = (parser_ && parser_->got_some()) || file_parser_ || buffer_.size() > 0;
    if (ec == bhttp::error::body_limit) {
      r.response = failure("the answer of " + dest->key + " is larger than " +
                           (current->req.max_response_size > 0 ? "the request's limit"
                                                                 : "http_client.max_response_size") +
                           " (" + std::to_string(body_limit()) + " bytes)");
      r.response.too_large = true;
    } else {
      r.response = failure("connection to " + dest->key + " failed" + (some ? " during the answer: " : ": ") +
                           ec.message());
    }
    r.retryable = reused_ && !some;
    parser_.reset();
    drop_file();
    end(std::move(r));
  }

  void end(exchange_result r) { core_->finished_on(shared_from_this(), std::move(r)); }

  core_type* core_;
  Stream stream_;
  tcp::resolver resolver_;
  net::steady_timer connect_timer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response_parser<bhttp::file_body>> file_parser_; ///< a 2xx body to body_file
  bool file_open_ = false;
  bool established_ = false;
  bool reused_ = false; ///< this request is not the connection's first
  bool connect_timed_out_ = false;
};

} // namespace

// ---- the pools ---------------------------------------------------------------------------

std::shared_ptr<connection_base> http_client::impl::make_connection(const std::shared_ptr<destination>& d) {
  switch (d->where.kind) {
  case scheme::unix_socket:
    return std::make_shared<connection<unix_socket::socket>>(this, d, unix_socket::socket(io));
  case scheme::https:
    return std::make_shared<connection<ssl::stream<tcp::socket>>>(
      this, d, ssl::stream<tcp::socket>(io, d->federation && opt.federation ? federation_tls : tls));
  case scheme::http: break;
  }
  return std::make_shared<connection<tcp::socket>>(this, d, tcp::socket(io));
}

void http_client::impl::submit(std::shared_ptr<pending> p) {
  if (stopped) return finish(p, failure("http client stopped"));
  std::string why;
  auto where = parse_url(p->req.url, why);
  if (where) p->wire = build_request(p->req, *where, why);
  if (!where || !p->wire) return finish(p, failure(why));
  p->where = *where;
  std::string server_name = p->req.tls_server_name;
  if (!server_name.empty() && (!is_field_value(server_name) || server_name.find_first_of(" /") != std::string::npos))
    return finish(p, failure("bad tls_server_name \"" + server_name + "\""));
  // Federation connections are pooled apart: another policy checked them.
  auto key = (p->req.federation ? "federation " : "") + destination_key(p->where, server_name);
  std::shared_ptr<destination> d;
  {
    std::lock_guard<std::mutex> lock(dests_mu);
    auto& slot = dests[key];
    if (!slot) {
      slot = std::make_shared<destination>();
      slot->key = key;
      slot->where = p->where;
      slot->server_name = server_name.empty() ? p->where.host : server_name;
      slot->federation = p->req.federation;
    }
    d = slot;
  }
  p->dest = d;
  p->deadline = std::make_unique<net::steady_timer>(io);
  p->deadline->expires_after(milliseconds(p->timeout_ms));
  p->deadline->async_wait([this, w = std::weak_ptr<pending>(p)](beast::error_code ec) {
    if (auto q = w.lock(); q && !ec) on_deadline(q);
  });
  p->queued = true;
  count(*d, &pool_counters::queued, 1);
  queue.push_back(std::move(p));
  pump();
}

/// Gives connections to waiting requests, oldest first. A scan of the whole
/// queue: a request for a destination below its limits may pass one whose
/// destination is at them. A destination that had no connection for one
/// request has none for its later ones in this pass: they are skipped
/// without a look.
void http_client::impl::pump() {
  std::unordered_set<const destination*> full;
  for (auto i = queue.begin(); i != queue.end();) {
    auto p = *i;
    if (full.count(p->dest.get())) {
      ++i;
      continue;
    }
    if (!try_assign(p)) {
      if (!p->fresh_only) full.insert(p->dest.get());
      ++i;
      continue;
    }
    i = queue.erase(i);
  }
}

bool http_client::impl::try_assign(const std::shared_ptr<pending>& p) {
  auto& d = p->dest;
  auto take = [&](std::shared_ptr<connection_base> c) {
    p->queued = false;
    count(*d, &pool_counters::queued, -1);
    start_on(std::move(c), p);
    return true;
  };
  if (!p->fresh_only)
    while (!d->idle.empty()) {
      auto c = std::move(d->idle.back());
      d->idle.pop_back();
      count(*d, &pool_counters::idle, -1);
      c->idle_timer->cancel();
      if (c->unusable()) {
        discard(c);
        continue;
      }
      return take(std::move(c));
    }
  // The counters are the pool's own figures (only this thread changes them).
  if (d->counters->open >= opt.max_connections_per_destination) return false;
  if (total.open >= opt.max_connections && !close_an_idle_connection()) return false;
  auto c = make_connection(d);
  all.insert(c);
  count(*d, &pool_counters::open, 1);
  ++d->counters->connections_opened;
  ++total.connections_opened;
  return take(std::move(c));
}

/// At the overall limit: makes room by closing the idle connection that
/// waited longest, to any destination.
bool http_client::impl::close_an_idle_connection() {
  std::shared_ptr<connection_base> oldest;
  for (auto& [key, d] : dests)
    if (!d->idle.empty() && (!oldest || d->idle.front()->idle_timer->expiry() < oldest->idle_timer->expiry()))
      oldest = d->idle.front();
  if (!oldest) return false;
  auto& v = oldest->dest->idle;
  v.erase(std::find(v.begin(), v.end(), oldest));
  count(*oldest->dest, &pool_counters::idle, -1);
  discard(oldest);
  return true;
}

void http_client::impl::start_on(std::shared_ptr<connection_base> c, std::shared_ptr<pending> p) {
  count(*p->dest, &pool_counters::in_flight, 1);
  p->conn = c;
  c->run(std::move(p));
}

void http_client::impl::finished_on(const std::shared_ptr<connection_base>& c, exchange_result r) {
  auto p = std::move(c->current);
  if (p) {
    count(*c->dest, &pool_counters::in_flight, -1);
    p->conn.reset();
  }
  if (!p || p->finished) {
    discard(c); // the deadline or shutdown ended it and closed us
  } else if (r.retryable && p->req.retry && !p->retried && !stopped) {
    // The peer closed a kept-alive connection as we used it: the others
    // it kept are likely closed too. Once more on a fresh connection, first
    // in line.
    discard(c);
    auto& d = *c->dest;
    for (auto& idle : std::vector<std::shared_ptr<connection_base>>(d.idle)) discard(idle);
    count(d, &pool_counters::idle, -static_cast<int>(d.idle.size()));
    d.idle.clear();
    p->retried = p->fresh_only = p->queued = true;
    count(d, &pool_counters::queued, 1);
    queue.push_front(std::move(p));
  } else {
    // The pool first: the caller's callback sees counters without this request.
    if (r.reusable && !stopped) park(c);
    else discard(c);
    finish(p, std::move(r.response));
  }
  pump();
}

void http_client::impl::park(const std::shared_ptr<connection_base>& c) {
  auto& d = *c->dest;
  d.idle.push_back(c);
  count(d, &pool_counters::idle, 1);
  if (!c->idle_timer) c->idle_timer = std::make_unique<net::steady_timer>(io);
  c->idle_timer->expires_after(milliseconds(opt.idle_timeout_ms));
  c->idle_timer->async_wait([this, w = std::weak_ptr<connection_base>(c), n = ++c->parked](beast::error_code ec) {
    auto c = w.lock();
    if (ec || !c || c->parked != n) return;
    auto& v = c->dest->idle;
    auto i = std::find(v.begin(), v.end(), c);
    if (i == v.end()) return;
    v.erase(i);
    count(*c->dest, &pool_counters::idle, -1);
    discard(c);
    pump();
  });
}

void http_client::impl::discard(const std::shared_ptr<connection_base>& c) {
  if (c->discarded) return;
  c->discarded = true;
  c->abort();
  if (c->idle_timer) c->idle_timer->cancel();
  all.erase(c);
  count(*c->dest, &pool_counters::open, -1);
}

void http_client::impl::finish(const std::shared_ptr<pending>& p, outbound_response r) {
  if (p->finished) return;
  p->finished = true;
  if (p->deadline) p->deadline->cancel();
  if (p->dest) {
    if (r.error.empty()) ++p->dest->counters->answered;
    else ++p->dest->counters->failed;
  }
  if (r.error.empty()) ++total.answered;
  else ++total.failed;
  auto done = std::move(p->done);
  try {
    done(std::move(r));
  } catch (const std::exception& e) {
    // The caller's callback must not end the event loop.
    std::cerr << "http client: a request's callback threw: " << e.what() << "\n";
  }
}

void http_client::impl::on_deadline(const std::shared_ptr<pending>& p) {
  if (p->finished) return;
  auto ms = std::to_string(p->timeout_ms) + " ms";
  if (p->queued) {
    queue.erase(std::find(queue.begin(), queue.end(), p));
    p->queued = false;
    count(*p->dest, &pool_counters::queued, -1);
    return finish(p, failure("timed out after " + ms + " waiting for a connection to " + p->dest->key, true));
  }
  auto c = p->conn;
  finish(p, failure("timed out after " + ms + " waiting for " + p->dest->key, true));
  if (c) c->abort(); // its handler ends in finished_on, which discards it
}

void http_client::impl::shutdown() {
  stopped = true;
  auto waiting = std::move(queue);
  queue.clear();
  for (auto& p : waiting) {
    p->queued = false;
    count(*p->dest, &pool_counters::queued, -1);
    finish(p, failure("http client stopped"));
  }
  for (auto& c : std::vector<std::shared_ptr<connection_base>>(all.begin(), all.end())) {
    if (c->current) finish(c->current, failure("http client stopped"));
    c->abort();
    if (c->idle_timer) c->idle_timer->cancel();
  }
  for (auto& [key, d] : dests) {
    for (auto& c : std::vector<std::shared_ptr<connection_base>>(d->idle)) discard(c);
    count(*d, &pool_counters::idle, -static_cast<int>(d->idle.size()));
    d->idle.clear();
  }
}

// ---- the client --------------------------------------------------------------------------

http_client_options client_options(const config::http_client_config& c) {
  http_client_options o;
  o.connect_timeout_ms = c.connect_timeout_ms;
  o.request_timeout_ms = c.request_timeout_ms;
  o.max_connections_per_destination = c.max_connections_per_destination;
  o.max_connections = c.max_connections;
  o.idle_timeout_ms = c.idle_timeout_ms;
  o.max_response_size = c.max_response_size;
  o.tls.ca_files = c.ca_files;
  return o;
}

namespace {

/// Sets `ctx` up for `p`; `key` names the config key in errors.
void configure_tls(ssl::context& ctx, const tls_policy& p, const std::string& key) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3);
  auto& v = p.minimum_tls_version;
  int version = v == "1" ? TLS1_VERSION : v == "1.1" ? TLS1_1_VERSION : v == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  SSL_CTX_set_min_proto_version(ctx.native_handle(), version);
  beast::error_code ec;
  // The system's CAs (Debian: /etc/ssl/certs); a host without any still
  // verifies against ca_files.
  if (p.system_cas) ctx.set_default_verify_paths(ec);
  for (auto& f : p.ca_files) {
    ctx.load_verify_file(f, ec);
    if (ec) throw std::runtime_error(key + ": cannot load " + f + ": " + ec.message());
  }
}

} // namespace

http_client::http_client(http_client_options options) : impl_(std::make_shared<impl>(std::move(options))) {
  configure_tls(impl_->tls, impl_->opt.tls, "http_client.ca_files");
  if (impl_->opt.federation) configure_tls(impl_->federation_tls, *impl_->opt.federation, "federation_custom_ca_list");
  impl_->loop = std::thread([core = impl_] {
    for (;;) {
      try {
        core->io.run();
        return;
      } catch (const std::exception& e) {
        std::cerr << "http client: " << e.what() << "\n";
      }
    }
  });
  impl_->loop_id = impl_->loop.get_id();
}

void http_client::stop() {
  if (impl_->stopping.exchange(true)) return;
  net::post(impl_->io, [core = impl_] { core->shutdown(); });
}

http_client::~http_client() {
  impl_->stopping = true;
  net::post(impl_->io, [core = impl_] { core->shutdown(); });
  impl_->work.reset();
  // Handlers still running end with errors; a lookup in getaddrinfo is
  // waited for (the resolver thread can't be interrupted).
  if (std::this_thread::get_id() == impl_->loop_id) impl_->loop.detach();
  else impl_->loop.join();
}

void http_client::request(outbound_request req, std::function<void(outbound_response)> done) {
  if (impl_->stopping) return done(failure("http client stopped"));
  auto p = std::make_shared<pending>();
  p->timeout_ms = req.timeout_ms > 0 ? std::min(req.timeout_ms, max_timeout_ms) : impl_->opt.request_timeout_ms;
  p->req = std::move(req);
  p->done = std::move(done);
  net::post(impl_->io, [core = impl_, p = std::move(p)]() mutable { core->submit(std::move(p)); });
}

outbound_response http_client::call(outbound_request req) {
  if (std::this_thread::get_id() == impl_->loop_id)
    return failure("http_client::call on the client's own event loop (use request)");
  auto answer = std::make_shared<std::promise<outbound_response>>();
  auto got = answer->get_future();
  request(std::move(req), [answer](outbound_response r) { answer->set_value(std::move(r)); });
  return got.get();
}

const pool_counters& http_client::totals() const { return impl_->total; }

std::shared_ptr<const pool_counters> http_client::counters(const std::string& destination) const {
  std::lock_guard<std::mutex> lock(impl_->dests_mu);
  auto i = impl_->dests.find(destination);
  if (i == impl_->dests.end() || !i->second) return nullptr;
  return i->second->counters;
}

std::vector<pool_snapshot> http_client::snapshot() const {
  std::vector<pool_snapshot> out;
  std::lock_guard<std::mutex> lock(impl_->dests_mu);
  for (auto& [key, d] : impl_->dests) {
    if (!d) continue;
    auto& c = *d->counters;
    out.push_back({key, c.open.load(), c.idle.load(), c.in_flight.load(), c.queued.load(),
                   c.connections_opened.load(), c.answered.load(), c.failed.load()});
  }
  return out;
}

} // namespace axon::http
