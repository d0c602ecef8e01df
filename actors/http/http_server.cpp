// actors/http/http_server.cpp -- request in, route, handler, Matrix error
// table out: the only place errors become HTTP responses. The wire is
// listener.cpp's (Boost.Beast); the placement simulation calls dispatch().
#include "actors/http/http_server.hpp"

#include "actors/federation/routes.hpp"
#include "actors/http/router.hpp"
#include "actors/http/services.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/base64.hpp"
#include "matrix/crypto.hpp"
#include "storage/database.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/client_ips_store.hpp"
#include "transport/transport.hpp"

#include <Poco/URI.h>

#include <iostream>

#include <unistd.h>

namespace axon::http {

using nlohmann::json;

// ---- constants ---------------------------------------------------------------

/// Largest JSON request body accepted; events are further limited to 65536
/// bytes by the event size check.

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

json error_body(const matrix_error& e) {
  json b = {{"errcode", info(e.code()).errcode}, {"error", e.what()}};
  if (!e.extra_json.empty()) {
    auto extra = json::parse(e.extra_json, nullptr, false);
    if (extra.is_object()) b.update(extra);
  }
  return b;
}

/// Runs a request's `after` work (request::after), each failure logged.
void run_after(const incoming& in, std::vector<std::function<void()>>& after) {
  for (auto& fn : after) {
    try {
      fn();
    } catch (const std::exception& e) {
      std::cerr << "[" << in.request_id << "] after the answer to " << in.method << " " << in.uri << ": "
                << e.what() << "\n";
    }
  }
  after.clear();
}

/// Hands `r` to `done`, then runs its `after` work.
void finish(const incoming& in, response& r, const answer_fn& done) {
  auto after = std::move(r.after);
  done(r.status, std::move(r.body), std::move(r.raw));
  run_after(in, after);
}

/// The route, the request and its handler's answer (guarded() catches). A
/// deferred answer keeps the request alive until it resumes.
response serve(const router& rt, server_context* ctx, const incoming& in) {
  auto held = std::make_shared<request>();
  auto& req = *held;
  req.ctx = ctx;
  req.method = in.method;
  const auto& uri = in.uri;
  auto q = uri.find('?');
  std::string raw_path = uri.substr(0, q);
  if (req.method == "OPTIONS") return {200, json::object(), nullptr};
  auto m = rt.find(req.method, raw_path);
  if (m.result == router::outcome::no_path) fail(errc::unrecognized, "Unrecognized request");
  if (m.result == router::outcome::wrong_method)
    fail(errc::method_not_allowed, "Unrecognized request");
  req.path = raw_path;
  req.uri = uri;
  req.params = std::move(m.params);
  try {
    Poco::URI parsed(uri);
    for (auto& [k, v] : parsed.getQueryParameters()) req.query.emplace(k, v);
  } catch (const std::exception&) {
    fail(errc::invalid_param, "Malformed query string");
  }
  req.remote_addr = in.remote_addr;
  req.user_agent = in.user_agent;
  req.request_id = in.request_id;
  req.authorization = in.authorization;
  req.content_type = in.content_type;
  req.range = in.range;
  if (in.authorization.rfind("Bearer ", 0) == 0) req.access_token = in.authorization.substr(7);
  if (req.access_token.empty())
    if (auto t = req.query_param("access_token")) req.access_token = *t;
  if (m.r->file_body) {
    req.body_file = in.body_file;
    req.body_size = in.body_size;
  } else {
    if (in.read_body) in.read_body(req.body);
    if (req.body.size() > body_limit_for(uri)) fail(errc::too_large, "Request body too large");
  }
  // Server routes take no access token: X-Matrix where they need auth
  // (openid's ?access_token= is an OpenID token, its handler's).
  bool server_route = std::string_view(m.r->resource) == "federation" || std::string_view(m.r->resource) == "openid";
  if (m.r->requires_auth && server_route) federation::authenticate_server(req);
  else if (m.r->requires_auth) authenticate(req);
  else if (server_route) {
    // Unauthenticated server routes (version, keys) take no access token.
  } else if (!req.access_token.empty() && std::string(m.r->path) != "/login" &&
           std::string(m.r->resource) != "replication") {
    // Optional auth: endpoints like /register use it when given.
    try {
      authenticate(req);
    } catch (const matrix_error&) {
      req.user.reset();
    }
  }
  response out;
  try {
    out = m.r->handler(req);
  } catch (...) {
    run_after(in, req.after);
    throw;
  }
  if (out.later) run_after(in, req.after); // its answer comes much later
  else out.after = std::move(req.after);
  if (out.later) {
    auto inner = std::move(out.later->resume);
    out.later->resume = [held, inner = std::move(inner)](std::vector<int64_t> p) { return inner(std::move(p)); };
  }
  return out;
}

} // namespace

namespace {

/// Runs `step`, turning every failure into its Matrix error response.
template <class Step>
response guarded(const incoming& in, Step&& step) {
  try {
    return step();
  } catch (const matrix_error& e) {
    return {info(e.code()).status, error_body(e), nullptr};
  } catch (const storage::db_error& e) {
    std::cerr << "[" << in.request_id << "] database error on " << in.method << " " << in.uri << ": "
              << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "[" << in.request_id << "] error on " << in.method << " " << in.uri << ": " << e.what()
              << "\n";
  }
  return {500, {{"errcode", "M_UNKNOWN"}, {"error", "Internal server error"}}, nullptr};
}

msg::wait_for_updates wait_of(const deferred& d) {
  return {d.user_id, d.since, d.room_ids, d.timeout_ms};
}

/// Waits (without a thread) for `later`, resumes on a request thread, and
/// so on until an answer. A client that went away meanwhile (wait_link)
/// gets none: its wait is cancelled, or its resumption skipped.
void continue_async(std::shared_ptr<deferred> later, server_context* ctx, std::shared_ptr<incoming> in,
                    std::function<void(std::function<void()>)> post, answer_fn done) {
  auto w = wait_of(*later);
  auto park = in->link ? in->link->begin_park() : 0;
  auto id = ctx->transport->wait_for_updates_async(
    w, [later, ctx, in, post, done, park](std::vector<int64_t> positions) {
      if (in->link) in->link->woken(park);
      post([later, ctx, in, post, done, positions = std::move(positions)]() mutable {
        if (in->link && in->link->gone()) return;
        auto r = guarded(*in, [&] { return later->resume(std::move(positions)); });
        if (r.later) continue_async(std::move(r.later), ctx, in, post, done);
        else finish(*in, r, done);
      });
    });
  if (in->link) in->link->parked(park, ctx->transport, id);
}

} // namespace

open_file::~open_file() {
  if (fd >= 0) ::close(fd);
}

std::shared_ptr<void> temp_file_guard(std::string path) {
  return std::shared_ptr<void>(nullptr, [path = std::move(path)](void*) { ::unlink(path.c_str()); });
}

uint64_t wait_link::begin_park() {
  std::lock_guard<std::mutex> lock(mu_);
  woken_ = false;
  id_ = 0;
  return ++park_;
}

void wait_link::parked(uint64_t park, transport::transport* t, uint64_t id) {
  std::unique_lock<std::mutex> lock(mu_);
  if (gone_) {
    lock.unlock();
    if (id != 0) t->cancel_wait(id);
    return;
  }
  // Already woken (on another thread, before the wait call returned), or a
  // later park took over: nothing waits under this id.
  if (park != park_ || woken_ || id == 0) return;
  transport_ = t;
  id_ = id;
  auto notify = on_park;
  lock.unlock();
  if (notify) notify();
}

uint64_t wait_link::parks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return park_;
}

void wait_link::woken(uint64_t park) {
  std::lock_guard<std::mutex> lock(mu_);
  if (park != park_) return;
  woken_ = true;
  id_ = 0;
}

void wait_link::client_gone() {
  std::unique_lock<std::mutex> lock(mu_);
  gone_ = true;
  auto id = std::exchange(id_, 0);
  auto* t = transport_;
  lock.unlock();
  // Outside the lock: the notifier's lock is taken here, and a wake-up
  // holds that one while it calls woken().
  if (id != 0 && t) t->cancel_wait(id);
}

bool wait_link::gone() const {
  std::lock_guard<std::mutex> lock(mu_);
  return gone_;
}

std::pair<int, json> dispatch(const router& rt, server_context* ctx, const incoming& in) {
  auto r = guarded(in, [&] { return serve(rt, ctx, in); });
  while (r.later) {
    auto later = std::move(r.later);
    r = guarded(in, [&] {
      auto positions = ctx->transport->wait_for_updates(wait_of(*later));
      return later->resume(std::move(positions));
    });
  }
  // Here the answer is the return value: the work after it comes first.
  run_after(in, r.after);
  return {r.status, std::move(r.body)};
}

void dispatch_async(const router& rt, server_context* ctx, std::shared_ptr<incoming> in,
                    std::function<void(std::function<void()>)> post, answer_fn done) {
  auto r = guarded(*in, [&] { return serve(rt, ctx, *in); });
  if (!r.later) return finish(*in, r, done);
  continue_async(std::move(r.later), ctx, std::move(in), std::move(post), std::move(done));
}

} // namespace axon::http
