// actors/http/listener.cpp -- the HTTP/1.1 wire of a listener: Boost.Beast
// on Asio (Debian's Boost 1.81). Chosen over Poco's thread-per-connection
// server so that idle keep-alive connections and parked long-polls cost a
// socket and a few KiB, not a thread: connections wait in one event loop
// (epoll) and Beast's parser reads requests there (no parsing by hand).
//
// A parsed request is a message to one of the listener's handler actors
// (request_pool.hpp: `http.request_threads` detached actors, where
// dispatch_async runs); a long-poll parks on the notifier and resumes as
// another such message; the answer is written back on the event loop, or
// by the handler when it may (answer_here). The listener actor
// (listener_actor.cpp) owns this server. Body limits, header limits and
// timeouts are enforced while reading: an oversize body is refused before it
// is read and the connection closed, a client that sends its headers too
// slowly (slowloris) is dropped, bad HTTP gets a 400 and a closed connection.
#include "actors/http/http_server.hpp"
#include "actors/http/request_pool.hpp"

#include "actors/http/router.hpp"
#include "actors/media/media_repository.hpp"
#include "config/homeserver_config.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <ctime>
#include <iostream>
#include <mutex>
#include <cerrno>
#include <cstring>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace axon::http {

namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using unix_socket = net::local::stream_protocol;
using nlohmann::json;

// ---- constants ---------------------------------------------------------------------------

constexpr auto write_timeout = std::chrono::seconds(60);
/// The largest answer a handler actor writes to its connection itself
/// (session::answer_here); larger ones go through the event loop.
constexpr size_t direct_answer_max = 64 * 1024;
/// The first read of a request: room for a request line and headers as
/// clients send them (a few hundred bytes; Beast grows the buffer for
/// more). Each idle keep-alive connection holds this much.
constexpr size_t first_read = 2048;
/// The read buffer of a connection while it reads a large body.
constexpr size_t big_body_buffer = 128 * 1024;

/// Raises the open-files limit to the hard limit, once: every connection
/// is a descriptor, and the default soft limit (1024) would cap them.
void raise_file_limit() {
  static std::once_flag once;
  std::call_once(once, [] {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
      lim.rlim_cur = lim.rlim_max;
      setrlimit(RLIMIT_NOFILE, &lim);
    }
  });
}

std::string http_date() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

json error_json(const char* errcode, const char* text) { return {{"errcode", errcode}, {"error", text}}; }

/// What every session of a listener shares. Held by each session, so a
/// request that resumes after the listener stopped finds it still there.
struct listener_core {
  std::shared_ptr<router> rt;
  server_context* ctx = nullptr;
  bool x_forwarded = false;
  config::http_config limits;
  net::io_context io{1};
  std::unique_ptr<request_pool> handlers;
  std::unique_ptr<ssl::context> tls;
  // Counters an admin needs to see overload (the metrics endpoint comes
  // later): open connections, refused ones, requests running, queued for
  // a handler actor (request_pool::queued) or parked on the notifier.
  std::atomic<int> open{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<int> in_flight{0};
};

// ---- one connection ----------------------------------------------------------------------

template <class Stream>
class session : public std::enable_shared_from_this<session<Stream>> {
public:
  session(Stream stream, std::shared_ptr<listener_core> core, std::string peer)
    : stream_(std::move(stream)), core_(std::move(core)), peer_(std::move(peer)) {
    ++core_->open;
  }
  ~session() { --core_->open; }

  void start() {
    if constexpr (is_tls) {
      lowest().expires_after(std::chrono::milliseconds(core_->limits.header_timeout_ms));
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (!ec) self->read_head();
      });
    } else {
      read_head();
    }
  }

private:
  static constexpr bool is_tls = !std::is_same_v<Stream, beast::tcp_stream> &&
                                 !std::is_same_v<Stream, beast::basic_stream<unix_socket>>;

  auto& lowest() { return beast::get_lowest_layer(stream_); }

  /// Between requests: wait (keep_alive_timeout_ms) for the next one's
  /// first bytes, then give its head header_timeout_ms (a client that sends
  /// it a byte at a time is dropped).
  void read_head() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(core_->limits.max_header_size));
    // The largest limit of any target: Beast checks a declared length against
    // it at the end of the head; on_head then applies the target's own.
    // No limit until the head is read (Beast would check a declared length
    // against it there, before the target is known): on_head applies the
    // target's own, a media upload's max_upload_size included.
    parser_->body_limit(boost::none);
    if (buffer_.size() > 0) return read_rest_of_head();
    lowest().expires_after(std::chrono::milliseconds(core_->limits.keep_alive_timeout_ms));
    stream_.async_read_some(buffer_.prepare(first_read), [self = this->shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) return self->close();
      self->buffer_.commit(n);
      self->read_rest_of_head();
    });
  }

  void read_rest_of_head() {
    lowest().expires_after(std::chrono::milliseconds(core_->limits.header_timeout_ms));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, size_t) {
                               self->on_head(ec);
                             });
  }

  void on_head(beast::error_code ec) {
    if (ec) return bad_input(ec);
    auto& h = parser_->get();
    keep_alive_ = h.keep_alive();
    method_ = std::string(h.method_string());
    // A declared body over the limit is refused unread (reading megabytes
    // only to discard them would be the attack), and the connection closes.
    auto target = std::string_view(h.target().data(), h.target().size());
    auto limit = body_limit_for(target);
    bool to_file = streams_to_file(target);
    if (to_file) limit = core_->ctx && core_->ctx->cfg ? static_cast<uint64_t>(core_->ctx->cfg->max_upload_size) : 0;
    if (auto len = parser_->content_length(); len && *len > limit)
      return answer(413, error_json("M_TOO_LARGE", "Request body too large"), true);
    parser_->body_limit(limit);
    if (parser_->is_done()) return run();
    // Read before start_file_body moves the parser (and `h`) away.
    bool wants_continue = beast::iequals(h[bhttp::field::expect], "100-continue");
    auto version = h.version();
    if (to_file && !start_file_body(limit)) return;
    if (wants_continue) {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, version);
      bhttp::async_write(stream_, *cont, [self = this->shared_from_this(), cont](beast::error_code ec, size_t) {
        if (ec) return self->close();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    lowest().expires_after(std::chrono::milliseconds(core_->limits.body_timeout_ms));
    // Beast reads at most the buffer's free capacity (up to 64 KiB) at a
    // time: with the head's few KiB, a large body came in 4 KiB reads, most
    // of a 50 MiB upload's time. Room for 64 KiB reads while a body larger
    // than that (or of unknown length) is read.
    auto declared = file_parser_ ? file_parser_->content_length() : parser_->content_length();
    if ((!declared || *declared > 64 * 1024) && buffer_.capacity() < big_body_buffer) {
      buffer_.reserve(big_body_buffer);
      grown_ = true;
    }
    if (file_parser_) {
      bhttp::async_read(stream_, buffer_, *file_parser_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
        self->shrink_buffer();
        if (ec) {
          self->file_parser_.reset();
          self->file_guard_.reset(); // the partial file goes
          return self->bad_input(ec);
        }
        self->run();
      });
      return;
    }
    bhttp::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      self->shrink_buffer();
      if (ec) return self->bad_input(ec);
      self->run();
    });
  }

  /// After a large body: the buffer back to what the connection needs between requests.
  void shrink_buffer() {
    if (!grown_) return;
    grown_ = false;
    buffer_.shrink_to_fit();
  }

  /// Whether the request's route takes its body as a file (a media upload).
  bool streams_to_file(std::string_view target) const {
    // Every file_body route is an upload under /_matrix/media/: other
    // requests skip the route lookup here (dispatch does it once anyway).
    if (!core_->ctx || !core_->ctx->media || target.rfind("/_matrix/media/", 0) != 0) return false;
    auto path = std::string(target.substr(0, target.find('?')));
    auto m = core_->rt->find(method_, path);
    return m.result == router::outcome::found && m.r->file_body;
  }

  /// Moves the request (its head read) to a parser that writes the body to
  /// a temporary file under the media store; false when that file cannot be
  /// made (answered).
  bool start_file_body(uint64_t limit) {
    auto dir = core_->ctx->media->upload_dir();
    std::string path = dir + "/upload-XXXXXX";
    int fd = ::mkstemp(path.data());
    if (fd < 0) {
      std::cerr << "http: cannot create an upload file in " << dir << ": " << std::strerror(errno) << "\n";
      answer(500, error_json("M_UNKNOWN", "Internal server error"), true);
      return false;
    }
    ::close(fd);
    file_guard_ = temp_file_guard(path);
    file_path_ = path;
    file_parser_.emplace(std::move(*parser_));
    parser_.reset();
    file_parser_->body_limit(limit);
    beast::error_code ec;
    file_parser_->get().body().open(path.c_str(), beast::file_mode::write, ec);
    if (ec) {
      file_parser_.reset();
      file_guard_.reset();
      answer(500, error_json("M_UNKNOWN", "Internal server error"), true);
      return false;
    }
    return true;
  }

  /// A read that failed: the peer went away or timed out (close), or sent
  /// what is not HTTP or too much of it (answer, then close).
  void bad_input(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset)
      return close();
    if (ec == bhttp::error::body_limit)
      return answer(413, error_json("M_TOO_LARGE", "Request body too large"), true);
    if (ec == bhttp::error::header_limit)
      return answer(431, error_json("M_UNKNOWN", "Request header fields too large"), true);
    if (&ec.category() == &bhttp::make_error_code(bhttp::error::bad_target).category())
      return answer(400, error_json("M_UNKNOWN", "Malformed HTTP request"), true);
    close();
  }

  /// The request is complete: send it to a handler actor.
  void run() {
    auto in = std::make_shared<incoming>();
    if (file_parser_) {
      auto req = file_parser_->release();
      file_parser_.reset();
      req.body().close();
      struct stat st {};
      if (::stat(file_path_.c_str(), &st) == 0) in->body_size = static_cast<uint64_t>(st.st_size);
      in->body_file = std::exchange(file_path_, {});
      in->body_file_guard = std::move(file_guard_);
      return run(std::move(in), req);
    }
    auto req = parser_->release();
    parser_.reset(); // read_head makes the next one
    auto body = std::make_shared<std::string>(std::move(req.body()));
    in->read_body = [body](std::string& out) { out = std::move(*body); };
    run(std::move(in), req);
  }

  template <class Message>
  void run(std::shared_ptr<incoming> in, Message& req) {
    // A parked request keeps its connection: give back the read buffer's
    // memory when nothing of a next request is in it yet.
    if (buffer_.size() == 0) buffer_.shrink_to_fit();
    in->method = std::string(req.method_string());
    static std::atomic<uint64_t> requests{0};
    in->request_id = in->method + "-" + std::to_string(++requests);
    in->uri = std::string(req.target());
    in->remote_addr = peer_;
    if (core_->x_forwarded) {
      auto f = req["X-Forwarded-For"];
      if (!f.empty()) in->remote_addr = std::string(f.substr(0, f.find(',')));
    }
    in->authorization = std::string(req[bhttp::field::authorization]);
    in->user_agent = std::string(req[bhttp::field::user_agent]);
    in->content_type = std::string(req[bhttp::field::content_type]);
    in->range = std::string(req[bhttp::field::range]);
    auto self = this->shared_from_this();
    auto core = core_;
    // A parked request: watch the connection, so that a client that goes
    // away frees its wait now. One link per connection, made when its
    // first request comes (each park has its own number there).
    if (!link_) {
      link_ = std::make_shared<wait_link>();
      link_->on_park = [weak = std::weak_ptr<session>(self)] {
        if (auto s = weak.lock())
          net::post(s->stream_.get_executor(), [s] {
            s->release_buffer();
            s->watch();
          });
      };
    }
    in->link = link_;
    auto parks_before = link_->parks();
    serving_ = true;
    // Counted until the last copy of the answer callback is gone: answered,
    // or dropped with a cancelled wait.
    ++core->in_flight;
    std::shared_ptr<void> counted(nullptr, [core](void*) { --core->in_flight; });
    to_handlers(core, [self, core, in, counted, parks_before] {
      dispatch_async(
        *core->rt, core->ctx, in, [core](std::function<void()> fn) { to_handlers(core, std::move(fn)); },
        [self, counted, parks_before](int status, json body, std::shared_ptr<raw_body> raw) {
          if (raw) {
            net::post(self->stream_.get_executor(), [self, status, raw = std::move(raw)]() mutable {
              self->answer_raw(status, std::move(raw));
            });
            return;
          }
          // Serialised here, on the handler actor (many long-polls woken at
          // once share one event loop); written here too when it may be
          // (answer_here), else on the connection's loop.
          auto text = serialise(body);
          if (self->link_->parks() == parks_before && self->answer_here(status, text)) return;
          net::post(self->stream_.get_executor(), [self, status, text = std::move(text)]() mutable {
            self->answer_text(status, std::move(text), false);
          });
        });
    });
  }

  /// Runs `fn` on a handler actor.
  template <class Fn>
  static void to_handlers(const std::shared_ptr<listener_core>& core, Fn fn) {
    core->handlers->post(std::move(fn));
  }

  /// A parked request's connection reads nothing until the answer: its
  /// read buffer (`first_read` or more) goes meanwhile, unless it holds
  /// bytes already read of a next request.
  void release_buffer() {
    if (buffer_.size() == 0) buffer_.shrink_to_fit();
  }

  /// While its request is parked, the connection is read only to see the
  /// client leave (end of stream, reset). Bytes that arrive instead are the
  /// next request: they stay in the socket for after the answer.
  void watch() {
    if (!serving_ || watching_) return;
    watching_ = true;
    lowest().socket().async_wait(net::socket_base::wait_read, [self = this->shared_from_this()](beast::error_code ec) {
      self->watching_ = false;
      if (ec || !self->serving_) return; // cancelled: the answer is on its way
      char c;
      auto n = ::recv(self->lowest().socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n > 0) return;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return self->watch();
      self->serving_ = false;
      self->link_->client_gone();
      beast::error_code ignored;
      self->lowest().socket().close(ignored);
    });
  }

  static std::string serialise(const json& body) { return body.dump(-1, ' ', false, json::error_handler_t::replace); }

  void answer(int status, const json& body, bool close_after) { answer_text(status, serialise(body), close_after); }

  /// Stops watching a parked request's connection: its answer is here.
  /// False when the client is gone.
  bool end_serving() {
    serving_ = false;
    if (watching_) {
      // Only the watch is outstanding now (no read before the answer).
      beast::error_code ignored;
      lowest().socket().cancel(ignored);
    }
    return lowest().socket().is_open();
  }

  template <class Fields>
  static void common_headers(Fields& res, int status) {
    res.version(11);
    res.result(static_cast<unsigned>(status));
    res.set(bhttp::field::date, http_date());
    res.set(bhttp::field::access_control_allow_origin, "*");
    res.set(bhttp::field::access_control_allow_methods, "GET, HEAD, POST, PUT, DELETE, OPTIONS");
    res.set(bhttp::field::access_control_allow_headers, "X-Requested-With, Content-Type, Authorization, Date");
  }

  /// A body that is not JSON: bytes, or a range of an open file sent after
  /// the head (sendfile on plain sockets; read and written through TLS).
  void answer_raw(int status, std::shared_ptr<raw_body> raw) {
    if (!end_serving()) return;
    bool keep = keep_alive_;
    if (!raw->file) {
      auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
      common_headers(*res, status);
      if (!raw->content_type.empty()) res->set(bhttp::field::content_type, raw->content_type);
      for (auto& [k, v] : raw->headers) res->set(k, v);
      if (method_ == "HEAD") {
        res->content_length(raw->bytes.size());
      } else {
        res->body() = std::move(raw->bytes);
        res->prepare_payload();
      }
      res->keep_alive(keep);
      lowest().expires_after(write_timeout);
      bhttp::async_write(stream_, *res, [self = this->shared_from_this(), res, keep](beast::error_code ec, size_t) {
        if (ec || !keep) return self->close();
        self->read_head();
      });
      return;
    }
    auto res = std::make_shared<bhttp::response<bhttp::empty_body>>();
    common_headers(*res, status);
    if (!raw->content_type.empty()) res->set(bhttp::field::content_type, raw->content_type);
    for (auto& [k, v] : raw->headers) res->set(k, v);
    res->content_length(raw->bytes.size() + raw->length + raw->trailer.size());
    res->keep_alive(keep);
    auto sr = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*res);
    lowest().expires_after(write_timeout);
    bhttp::async_write_header(stream_, *sr, [self = this->shared_from_this(), res, sr, raw, keep](beast::error_code ec, size_t) {
      if (ec) return self->close();
      if (self->method_ == "HEAD") {
        if (!keep) return self->close();
        return self->read_head();
      }
      if (raw->bytes.empty()) return self->send_file(raw, raw->offset, raw->offset + raw->length, keep);
      net::async_write(self->stream_, net::buffer(raw->bytes), [self, raw, keep](beast::error_code ec, size_t) {
        if (ec) return self->close();
        self->send_file(raw, raw->offset, raw->offset + raw->length, keep);
      });
    });
  }

  /// After the file: the trailer, if any, then the next request.
  void after_file(std::shared_ptr<raw_body> raw, bool keep) {
    auto done = [self = this->shared_from_this(), keep] {
      if (!keep) return self->close();
      self->read_head();
    };
    if (raw->trailer.empty()) return done();
    lowest().expires_after(write_timeout);
    net::async_write(stream_, net::buffer(raw->trailer), [self = this->shared_from_this(), raw, done](beast::error_code ec, size_t) {
      if (ec) return self->close();
      done();
    });
  }

  /// Sends [pos, end) of the file, then goes on with the connection.
  void send_file(std::shared_ptr<raw_body> raw, uint64_t pos, uint64_t end, bool keep) {
    auto self = this->shared_from_this();
    if constexpr (!is_tls) {
      // The page cache straight to the socket (no copy through user space).
      auto& sock = lowest().socket();
      beast::error_code ignored;
      sock.native_non_blocking(true, ignored);
      while (pos < end) {
        off_t off = static_cast<off_t>(pos);
        auto n = ::sendfile(sock.native_handle(), raw->file->fd, &off,
                            static_cast<size_t>(std::min<uint64_t>(end - pos, 1 << 20)));
        if (n > 0) {
          pos = static_cast<uint64_t>(off);
          continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
          lowest().expires_after(write_timeout);
          sock.async_wait(net::socket_base::wait_write, [self, raw, pos, end, keep](beast::error_code ec) {
            if (ec) return self->close();
            self->send_file(raw, pos, end, keep);
          });
          return;
        }
        return close(); // the file shrank or the peer went away
      }
      return after_file(std::move(raw), keep);
    } else {
      // Through TLS: read a chunk, write it, again.
      if (pos >= end) return after_file(std::move(raw), keep);
      if (!chunk_) chunk_ = std::make_unique<std::array<char, 65536>>();
      auto want = static_cast<size_t>(std::min<uint64_t>(end - pos, chunk_->size()));
      auto n = ::pread(raw->file->fd, chunk_->data(), want, static_cast<off_t>(pos));
      if (n <= 0) return close();
      lowest().expires_after(write_timeout);
      net::async_write(stream_, net::buffer(chunk_->data(), static_cast<size_t>(n)),
                       [self, raw, pos, end, keep](beast::error_code ec, size_t written) {
                         if (ec) return self->close();
                         self->send_file(raw, pos + written, end, keep);
                       });
    }
  }

  /// A JSON answer: its head (HEAD gets the length only) and body.
  void json_response(bhttp::response<bhttp::string_body>& res, int status, std::string text, bool keep) {
    common_headers(res, status);
    res.set(bhttp::field::content_type, "application/json");
    res.set(bhttp::field::cache_control, "no-cache, no-store, must-revalidate");
    if (method_ == "HEAD") {
      res.content_length(text.size());
    } else {
      res.body() = std::move(text);
      res.prepare_payload();
    }
    res.keep_alive(keep);
  }

  void answer_text(int status, std::string text, bool close_after) {
    if (!end_serving()) return;
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    bool keep = keep_alive_ && !close_after;
    json_response(*res, status, std::move(text), keep);
    lowest().expires_after(write_timeout);
    bhttp::async_write(stream_, *res, [self = this->shared_from_this(), res, keep](beast::error_code ec, size_t) {
      if (ec || !keep) return self->close();
      self->read_head();
    });
  }

  /// The answer to a request that never parked, written by the handler
  /// actor itself on a plain connection: the client's path skips the hop
  /// to the event loop. Only a small answer, in one non-blocking send: what
  /// the socket does not take at once, the loop writes. The loop has
  /// nothing of this connection in hand meanwhile (no read before the
  /// answer, no watch without a park), so when all of it went this thread
  /// also starts reading the next request (its completion runs on the
  /// loop, where Asio runs them all): posting that would wake the loop once
  /// more per request before the next request's bytes wake it anyway.
  /// False: nothing written, the loop answers.
  bool answer_here(int status, std::string& text) {
    if constexpr (is_tls) {
      return false;
    } else {
      if (text.size() > direct_answer_max) return false;
      serving_ = false;
      bool keep = keep_alive_;
      bhttp::response<bhttp::string_body> res;
      json_response(res, status, std::move(text), keep);
      auto wire = std::make_shared<std::string>(wire_text(res));
      auto n = ::send(lowest().socket().native_handle(), wire->data(), wire->size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      bool failed = n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
      size_t sent = n < 0 ? 0 : static_cast<size_t>(n);
      if (!failed && sent == wire->size() && keep) {
        read_head();
        return true;
      }
      net::post(stream_.get_executor(), [self = this->shared_from_this(), wire, sent, keep, failed] {
        if (failed || sent == wire->size()) return self->close();
        self->lowest().expires_after(write_timeout);
        net::async_write(self->stream_, net::buffer(wire->data() + sent, wire->size() - sent),
                         [self, wire, keep](beast::error_code ec, size_t) {
                           if (ec || !keep) return self->close();
                           self->read_head();
                         });
      });
      return true;
    }
  }

  /// A response as the bytes on the wire (head and body).
  static std::string wire_text(bhttp::response<bhttp::string_body>& res) {
    std::string out;
    bhttp::response_serializer<bhttp::string_body> sr{res};
    beast::error_code ec;
    do {
      sr.next(ec, [&](beast::error_code& ec2, const auto& buffers) {
        ec2 = {};
        size_t n = 0;
        for (auto b : beast::buffers_range_ref(buffers)) {
          out.append(static_cast<const char*>(b.data()), b.size());
          n += b.size();
        }
        sr.consume(n);
      });
    } while (!ec && !sr.is_done());
    return out;
  }

  void close() {
    beast::error_code ec;
    if constexpr (is_tls) {
      lowest().expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ignored;
        self->lowest().socket().shutdown(net::socket_base::shutdown_both, ignored);
      });
    } else {
      lowest().socket().shutdown(net::socket_base::shutdown_send, ec);
      linger();
    }
  }

  /// After our side is shut: read and drop what the peer still sends, for
  /// a while, so that closing with unread input (an oversize body) does not
  /// reset the connection before the peer has read the answer.
  void linger() {
    if (!scratch_) scratch_ = std::make_unique<std::array<char, 16384>>();
    lowest().expires_after(std::chrono::seconds(2));
    lowest().async_read_some(net::buffer(*scratch_), [self = this->shared_from_this()](beast::error_code ec, size_t n) {
      self->lingered_ += n;
      if (!ec && self->lingered_ < 4 * max_json_body) self->linger();
    });
  }

  Stream stream_;
  std::shared_ptr<listener_core> core_;
  std::string peer_;
  beast::flat_buffer buffer_;
  bool grown_ = false; ///< buffer_ reserved for a large body (read_body)
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  /// A file_body route's request after its head: the body goes to file_path_.
  std::optional<bhttp::request_parser<bhttp::file_body>> file_parser_;
  std::string file_path_;
  std::shared_ptr<void> file_guard_; ///< deletes file_path_ unless a request took it
  std::unique_ptr<std::array<char, 65536>> chunk_; ///< file bytes on their way through TLS
  bool keep_alive_ = true;
  std::string method_;
  std::shared_ptr<wait_link> link_; ///< this connection's side of its parked requests
  bool serving_ = false;            ///< a request is out (between run() and its answer)
  bool watching_ = false;           ///< watch() is waiting on the socket
  std::unique_ptr<std::array<char, 16384>> scratch_; ///< only while lingering
  size_t lingered_ = 0;
};

// ---- accepting ---------------------------------------------------------------------------

template <class Protocol>
class acceptor : public std::enable_shared_from_this<acceptor<Protocol>> {
public:
  acceptor(std::shared_ptr<listener_core> core, typename Protocol::acceptor a)
    : core_(std::move(core)), acceptor_(std::move(a)) {}

  void accept() {
    acceptor_.async_accept(net::make_strand(core_->io),
                           [self = this->shared_from_this()](beast::error_code ec, typename Protocol::socket s) {
                             if (ec == net::error::operation_aborted) return;
                             if (!ec) {
                               self->start_session(std::move(s));
                               return self->accept();
                             }
                             // Out of descriptors (EMFILE) or the like: the
                             // connection stays in the backlog; try again
                             // shortly instead of spinning on the error.
                             ++self->core_->refused;
                             self->retry_.expires_after(std::chrono::milliseconds(100));
                             self->retry_.async_wait([self](beast::error_code e) {
                               if (!e) self->accept();
                             });
                           });
  }

  void stop() {
    beast::error_code ec;
    acceptor_.close(ec);
    retry_.cancel();
  }

private:
  void start_session(typename Protocol::socket s) {
    if (core_->open.load() >= core_->limits.max_connections) {
      ++core_->refused;
      beast::error_code ec;
      s.close(ec);
      return;
    }
    std::string peer = "127.0.0.1";
    if constexpr (std::is_same_v<Protocol, tcp>) {
      beast::error_code ec;
      auto ep = s.remote_endpoint(ec);
      if (!ec) {
        auto a = ep.address();
        peer = a.is_v6() && a.to_v6().is_v4_mapped() ? net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).to_string() : a.to_string();
      }
      s.set_option(tcp::no_delay(true), ec);
    }
    using plain = beast::basic_stream<Protocol>;
    if (core_->tls) {
      if constexpr (std::is_same_v<Protocol, tcp>) {
        using secure = beast::ssl_stream<beast::tcp_stream>;
        std::make_shared<session<secure>>(secure(beast::tcp_stream(std::move(s)), *core_->tls), core_,
                                          std::move(peer))
          ->start();
        return;
      }
    }
    std::make_shared<session<plain>>(plain(std::move(s)), core_, std::move(peer))->start();
  }

  std::shared_ptr<listener_core> core_;
  typename Protocol::acceptor acceptor_;
  net::steady_timer retry_{core_->io};
};

class beast_listener final : public listener {
public:
  beast_listener(caf::actor_system& sys, const config::listener_config& lc, const std::vector<route>& routes,
                 server_context* ctx, const std::string& cert, const std::string& key)
    : core_(std::make_shared<listener_core>()) {
    std::vector<std::string> resources;
    for (auto& r : lc.resources)
      for (auto& n : r.names) resources.push_back(n);
    // Media routes: where this instance holds the media repository, on its
    // `media` listeners, and on main's client and federation listeners too
    // (Synapse's homeserver.py); nowhere else.
    auto has = [&](const char* n) { return std::find(resources.begin(), resources.end(), n) != resources.end(); };
    bool main = ctx->cfg && !ctx->cfg->is_worker();
    if (!ctx->media) resources.erase(std::remove(resources.begin(), resources.end(), "media"), resources.end());
    else if (main && (has("client") || has("federation")) && !has("media")) resources.push_back("media");
    core_->rt = std::make_shared<router>(routes, resources);
    core_->ctx = ctx;
    if (ctx->cfg) core_->limits = ctx->cfg->http;
    core_->handlers = std::make_unique<request_pool>(sys, static_cast<size_t>(core_->limits.request_threads));
    raise_file_limit();
    core_->x_forwarded = lc.x_forwarded || !lc.path.empty();
    if (lc.tls) {
      core_->tls = std::make_unique<ssl::context>(ssl::context::tls_server);
      // OpenSSL frees a connection's record buffers (tens of KiB) while it
      // has nothing to read or write: idle keep-alive connections and
      // parked long-polls keep none (as nginx does).
      SSL_CTX_set_mode(core_->tls->native_handle(), SSL_MODE_RELEASE_BUFFERS);
      try {
        core_->tls->use_certificate_chain_file(cert);
        core_->tls->use_private_key_file(key, ssl::context::pem);
      } catch (const std::exception& e) {
        throw std::runtime_error("cannot load the TLS certificate " + cert + " or key " + key + ": " + e.what());
      }
    }
    if (!lc.path.empty()) {
      ::unlink(lc.path.c_str());
      unix_socket::acceptor a(core_->io);
      try {
        a.open();
        a.bind(unix_socket::endpoint(lc.path));
        a.listen(4096);
      } catch (const std::exception& e) {
        throw std::runtime_error("cannot listen on " + lc.path + ": " + e.what());
      }
      ::chmod(lc.path.c_str(), static_cast<mode_t>(lc.mode));
      auto acc = std::make_shared<acceptor<unix_socket>>(core_, std::move(a));
      unix_.push_back(acc);
      acc->accept();
    } else {
      auto addrs = lc.bind_addresses.empty() ? std::vector<std::string>{"0.0.0.0"} : lc.bind_addresses;
      int port = lc.port;
      for (auto& text : addrs) {
        beast::error_code ec;
        auto addr = net::ip::make_address(text, ec);
        if (ec) throw std::runtime_error("cannot listen on " + text + ": not an address");
        tcp::endpoint ep(addr, static_cast<unsigned short>(port));
        tcp::acceptor a(core_->io);
        try {
          a.open(ep.protocol());
          a.set_option(net::socket_base::reuse_address(true));
          if (addr.is_v6()) a.set_option(net::ip::v6_only(true));
          a.bind(ep);
          a.listen(4096);
        } catch (const std::exception& e) {
          throw std::runtime_error("cannot listen on " + text + ":" + std::to_string(port) + ": " + e.what());
        }
        // Port 0: the first address picks one, the others take the same.
        port = a.local_endpoint().port();
        port_ = port;
        auto acc = std::make_shared<acceptor<tcp>>(core_, std::move(a));
        tcp_.push_back(acc);
        acc->accept();
      }
    }
    io_thread_ = std::thread([core = core_] {
      for (;;) {
        try {
          core->io.run();
          return;
        } catch (const std::exception& e) {
          std::cerr << "http listener: " << e.what() << "\n";
        }
      }
    });
  }

  ~beast_listener() override { stop(); }

  void stop() override {
    if (!io_thread_.joinable()) return;
    net::post(core_->io, [this] {
      for (auto& a : tcp_) a->stop();
      for (auto& a : unix_) a->stop();
    });
    // Requests running now finish; then the loop stops with whatever waits.
    core_->handlers->stop();
    core_->io.stop();
    io_thread_.join();
  }

  int port() const override { return port_; }

  listener_figures figures() const override {
    return {core_->open.load(), core_->refused.load(), core_->in_flight.load(),
            core_->handlers->queued(), port_};
  }

private:
  std::shared_ptr<listener_core> core_;
  std::vector<std::shared_ptr<acceptor<tcp>>> tcp_;
  std::vector<std::shared_ptr<acceptor<unix_socket>>> unix_;
  std::thread io_thread_;
  int port_ = 0;
};

} // namespace

std::unique_ptr<listener> start_listener(caf::actor_system& sys, const config::listener_config& lc,
                                         const std::vector<route>& routes, server_context* ctx,
                                         const std::string& tls_cert, const std::string& tls_key) {
  return std::make_unique<beast_listener>(sys, lc, routes, ctx, tls_cert, tls_key);
}

} // namespace axon::http
