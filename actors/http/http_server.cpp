// actors/http/http_server.cpp -- Poco glue: request in, route, handler,
// Matrix error table out. The only place errors become HTTP responses.
#include "actors/http/http_server.hpp"

#include "actors/http/router.hpp"
#include "actors/http/services.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/base64.hpp"
#include "matrix/crypto.hpp"
#include "storage/database.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/client_ips_store.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <iostream>

namespace axon::http {

using nlohmann::json;

// ---- constants ---------------------------------------------------------------

/// Largest JSON request body accepted; events are further limited to 65536
/// bytes by the event size check.
constexpr size_t max_json_body = 1024 * 1024;
constexpr int max_threads = 2048;

// ---- request helpers (http_types.hpp) ------------------------------------------

void fail(errc code, std::string msg) { throw matrix_error(code, std::move(msg)); }

namespace {

/// Deepest JSON nesting accepted from clients. Deeper documents are refused
/// before parsing: serialising, canonicalising and freeing JSON recurse, and
/// request threads have small stacks.
constexpr int max_json_depth = 100;

bool too_deep(const std::string& text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_json_depth) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

} // namespace

const json& request::json_body() {
  if (!parsed_) {
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
      parsed_ = json::object();
    } else {
      if (too_deep(body)) fail(errc::bad_json, "JSON nested too deeply");
      auto j = json::parse(body, nullptr, false);
      if (j.is_discarded()) fail(errc::not_json, "Content not JSON.");
      if (!j.is_object()) fail(errc::bad_json, "Content must be a JSON object.");
      parsed_ = std::move(j);
    }
  }
  return *parsed_;
}

std::optional<std::string> request::query_param(const std::string& name) const {
  auto i = query.find(name);
  if (i == query.end()) return std::nullopt;
  return i->second;
}

const auth_user& request::auth() const {
  if (!user) fail(errc::missing_token, "Missing access token.");
  return *user;
}

namespace {

/// Sets req.user from the access token, and notes where the token was used
/// from (user_ips, as Synapse's Auth.get_user_by_req does).
void authenticate(request& req) {
  if (req.access_token.empty()) fail(errc::missing_token, "Missing access token.");
  auto h = matrix::token_hash(req.access_token);
  if (auto t = req.ctx->tokens->get(h)) {
    req.user = auth_user{t->user_id, t->device_id, h};
  } else {
    auto row = req.ctx->accounts->find_token(h);
    if (!row) {
      auto e = matrix_error(errc::unknown_token, "Unrecognised access token.");
      e.extra_json = R"({"soft_logout":false})";
      throw e;
    }
    req.ctx->tokens->put(h, {row->user_id, row->device_id});
    req.user = auth_user{row->user_id, row->device_id, h};
  }
  if (req.ctx->client_ips)
    req.ctx->client_ips->record(req.user->user_id, h, req.user->device_id, req.remote_addr,
                                req.user_agent);
}

void set_cors(Poco::Net::HTTPServerResponse& res) {
  res.set("Access-Control-Allow-Origin", "*");
  res.set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS");
  res.set("Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization, Date");
}

void send_json(Poco::Net::HTTPServerResponse& res, int status, const json& body) {
  auto s = body.dump(-1, ' ', false, json::error_handler_t::replace);
  // setStatusAndReason: setStatus alone keeps the reason phrase "OK".
  res.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  res.setContentType("application/json");
  res.set("Cache-Control", "no-cache, no-store, must-revalidate");
  res.setContentLength(static_cast<std::streamsize>(s.size()));
  res.send().write(s.data(), static_cast<std::streamsize>(s.size()));
}

json error_body(const matrix_error& e) {
  json b = {{"errcode", info(e.code()).errcode}, {"error", e.what()}};
  if (!e.extra_json.empty()) {
    auto extra = json::parse(e.extra_json, nullptr, false);
    if (extra.is_object()) b.update(extra);
  }
  return b;
}

/// The route, the request and its handler's answer (dispatch() catches).
std::pair<int, json> serve(const router& rt, server_context* ctx, const incoming& in) {
  request req;
  req.ctx = ctx;
  req.method = in.method;
  const auto& uri = in.uri;
  auto q = uri.find('?');
  std::string raw_path = uri.substr(0, q);
  if (req.method == "OPTIONS") return {200, json::object()};
  auto m = rt.find(req.method, raw_path);
  if (m.result == router::outcome::no_path) fail(errc::unrecognized, "Unrecognized request");
  if (m.result == router::outcome::wrong_method)
    fail(errc::method_not_allowed, "Unrecognized request");
  req.path = raw_path;
  req.params = std::move(m.params);
  try {
    Poco::URI parsed(uri);
    for (auto& [k, v] : parsed.getQueryParameters()) req.query.emplace(k, v);
  } catch (const std::exception&) {
    fail(errc::invalid_param, "Malformed query string");
  }
  req.remote_addr = in.remote_addr;
  req.user_agent = in.user_agent;
  if (in.authorization.rfind("Bearer ", 0) == 0) req.access_token = in.authorization.substr(7);
  if (req.access_token.empty())
    if (auto t = req.query_param("access_token")) req.access_token = *t;
  if (in.read_body) in.read_body(req.body);
  if (req.body.size() > max_json_body) fail(errc::too_large, "Request body too large");
  if (m.r->requires_auth) authenticate(req);
  else if (!req.access_token.empty() && std::string(m.r->path) != "/login" &&
           std::string(m.r->resource) != "replication") {
    // Optional auth: endpoints like /register use it when given.
    try {
      authenticate(req);
    } catch (const matrix_error&) {
      req.user.reset();
    }
  }
  auto out = m.r->handler(req);
  return {out.status, std::move(out.body)};
}

class matrix_handler final : public Poco::Net::HTTPRequestHandler {
public:
  matrix_handler(const router& r, server_context* ctx, bool x_forwarded)
    : router_(r), ctx_(ctx), x_forwarded_(x_forwarded) {}

  void handleRequest(Poco::Net::HTTPServerRequest& in,
                     Poco::Net::HTTPServerResponse& res) override {
    set_cors(res);
    incoming req;
    req.method = in.getMethod();
    req.uri = in.getURI();
    req.remote_addr = in.clientAddress().host().toString();
    if (x_forwarded_ && in.has("X-Forwarded-For")) {
      auto f = in.get("X-Forwarded-For");
      req.remote_addr = f.substr(0, f.find(','));
    }
    if (in.has("Authorization")) req.authorization = in.get("Authorization");
    if (in.has("User-Agent")) req.user_agent = in.get("User-Agent");
    bool body_read = false;
    req.read_body = [&in, &body_read](std::string& body) {
      read_body(in, body);
      body_read = true;
    };
    auto [status, body] = dispatch(router_, ctx_, req);
    try {
      // A request answered before its body was read (unknown endpoint, bad
      // token, rate limit, too large) must not leave that body on the
      // connection, where it would be parsed as the next request: read and
      // discard it up to the body limit, or close the connection.
      if (!body_read && !drain_body(in)) res.setKeepAlive(false);
      send_json(res, status, body);
    } catch (const std::exception&) {
      // client went away
    }
  }

private:
  static void read_body(Poco::Net::HTTPServerRequest& in, std::string& body) {
    if (!in.getChunkedTransferEncoding() && (!in.hasContentLength() || in.getContentLength64() == 0))
      return;  // no body framing: no body
    if (in.hasContentLength() && in.getContentLength64() > static_cast<int64_t>(max_json_body))
      fail(errc::too_large, "Request body too large");
    auto& s = in.stream();
    char buf[16384];
    while (s) {
      s.read(buf, sizeof buf);
      body.append(buf, static_cast<size_t>(s.gcount()));
      if (body.size() > max_json_body) fail(errc::too_large, "Request body too large");
    }
  }

  /// Reads and drops what is left of the request body; false when more than
  /// the body limit is left (the connection must then close).
  static bool drain_body(Poco::Net::HTTPServerRequest& in) {
    // Without a length or chunked framing a request has no body (RFC 9112
    // section 6.3); reading its stream would wait for the peer to close.
    if (!in.getChunkedTransferEncoding()) {
      if (!in.hasContentLength() || in.getContentLength64() == 0) return true;
      if (in.getContentLength64() > static_cast<int64_t>(max_json_body)) return false;
    }
    auto& s = in.stream();
    char buf[16384];
    size_t total = 0;
    while (s) {
      s.read(buf, sizeof buf);
      total += static_cast<size_t>(s.gcount());
      if (total > max_json_body) return false;
    }
    return true;
  }

  const router& router_;
  server_context* ctx_;
  bool x_forwarded_;
};

} // namespace

std::pair<int, json> dispatch(const router& rt, server_context* ctx, const incoming& in) {
  try {
    return serve(rt, ctx, in);
  } catch (const matrix_error& e) {
    return {info(e.code()).status, error_body(e)};
  } catch (const storage::db_error& e) {
    std::cerr << "database error on " << in.method << " " << in.uri << ": " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "error on " << in.method << " " << in.uri << ": " << e.what() << "\n";
  }
  return {500, {{"errcode", "M_UNKNOWN"}, {"error", "Internal server error"}}};
}

namespace {

class factory final : public Poco::Net::HTTPRequestHandlerFactory {
public:
  factory(std::shared_ptr<router> r, server_context* ctx, bool xf)
    : router_(std::move(r)), ctx_(ctx), xf_(xf) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new matrix_handler(*router_, ctx_, xf_);
  }

private:
  std::shared_ptr<router> router_;
  server_context* ctx_;
  bool xf_;
};

class poco_listener final : public listener {
public:
  poco_listener(const config::listener_config& lc, const std::vector<route>& routes,
                server_context* ctx, const std::string& cert, const std::string& key)
    : pool_(16, max_threads, 60, 256 * 1024) {
    std::vector<std::string> resources;
    for (auto& r : lc.resources)
      for (auto& n : r.names) resources.push_back(n);
    auto rt = std::make_shared<router>(routes, resources);
    auto addrs = lc.bind_addresses.empty() ? std::vector<std::string>{"0.0.0.0"} : lc.bind_addresses;
    for (auto& a : addrs) {
      Poco::Net::ServerSocket sock;
      Poco::Net::SocketAddress sa(a, static_cast<Poco::UInt16>(lc.port));
      try {
        if (lc.tls) {
          Poco::Net::Context::Ptr tls = new Poco::Net::Context(
            Poco::Net::Context::TLS_SERVER_USE, key, cert, "", Poco::Net::Context::VERIFY_NONE);
          Poco::Net::SecureServerSocket ss(tls);
          ss.bind(sa, true, a.find(':') != std::string::npos);
          ss.listen(4096);
          sock = ss;
        } else {
          sock.bind(sa, true, a.find(':') != std::string::npos);
          sock.listen(4096);
        }
      } catch (const std::exception& e) {
        throw std::runtime_error("cannot listen on " + sa.toString() + ": " + e.what());
      }
      port_ = sock.address().port();
      auto params = new Poco::Net::HTTPServerParams;
      params->setMaxThreads(max_threads);
      params->setMaxQueued(4096);
      params->setKeepAlive(true);
      params->setMaxKeepAliveRequests(0);
      params->setKeepAliveTimeout(Poco::Timespan(75, 0));
      params->setTimeout(Poco::Timespan(120, 0));
      servers_.push_back(std::make_unique<Poco::Net::HTTPServer>(
        new factory(rt, ctx, lc.x_forwarded), pool_, sock, params));
      servers_.back()->start();
    }
  }
  ~poco_listener() override { stop(); }
  void stop() override {
    for (auto& s : servers_) s->stopAll(true);
    servers_.clear();
  }
  int port() const override { return port_; }

private:
  Poco::ThreadPool pool_;
  std::vector<std::unique_ptr<Poco::Net::HTTPServer>> servers_;
  int port_ = 0;
};

} // namespace

std::unique_ptr<listener> start_listener(const config::listener_config& lc,
                                         const std::vector<route>& routes, server_context* ctx,
                                         const std::string& tls_cert, const std::string& tls_key) {
  return std::make_unique<poco_listener>(lc, routes, ctx, tls_cert, tls_key);
}

} // namespace axon::http
