// actors/federation/federation_client.cpp -- see federation_client.hpp.
//
// SRV records come from srv_lookup.hpp (libresolv), run on the calling
// thread, never on an event loop. Answers are cached for their TTL (at
// least a minute), and a failed lookup falls back to what was cached, as
// Synapse's SrvResolver does.
#include "actors/federation/federation_client.hpp"

#include "actors/federation/srv_lookup.hpp"
#include "actors/http/http_client.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/environment.hpp"
#include "matrix/identifiers.hpp"
#include "matrix/ip_range.hpp"
#include "matrix/push_rules.hpp"
#include "matrix/x_matrix.hpp"
#include "messages/errors.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <iostream>
#include <thread>

namespace axon::federation {

using nlohmann::json;

namespace {

constexpr int max_redirects = 5;
/// Tries of a well-known fetch for a host that had a valid one lately.
constexpr int well_known_attempts = 3;
constexpr int64_t min_srv_ttl_ms = 60 * 1000;
constexpr size_t max_cached_hosts = 10000;
/// Threads for request_async's lookups (.well-known, SRV); names with an
/// explicit port or an IP need none.
constexpr int lookup_threads = 2;

/// A host for a URL: IPv6 literals in brackets.
std::string url_host(const std::string& host) {
  if (host.find(':') != std::string::npos && host.front() != '[') return "[" + host + "]";
  return host;
}

/// A name for TLS: IPv6 literals without brackets.
std::string bare(const std::string& host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
  return host;
}

/// Plus or minus 10 %, as Synapse spreads expiries.
int64_t jitter(int64_t ms, matrix::environment& env) {
  auto spread = ms / 10;
  if (spread <= 0) return ms;
  return ms - spread + static_cast<int64_t>(env.uniform(static_cast<uint32_t>(std::min<int64_t>(2 * spread, UINT32_MAX))));
}

/// Where a redirect leads: an absolute https URL, or a path on the same host.
std::optional<std::string> redirect_target(const std::string& from, const std::string& location) {
  if (location.rfind("https://", 0) == 0) return location;
  if (location.rfind("http://", 0) == 0) return std::nullopt; // never downgrade
  if (location.empty() || location[0] != '/') return std::nullopt;
  auto host_end = from.find('/', 8);
  return from.substr(0, host_end) + location;
}

} // namespace

std::string escape(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') out += c;
    else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

std::string remote_response::errcode() const {
  if (body.is_object() && body.contains("errcode") && body["errcode"].is_string())
    return body["errcode"].get<std::string>();
  return {};
}

const json& body_or_fail(const remote_response& r, const std::string& what) {
  if (r.status == 0) throw matrix_error(errc::bad_gateway, what + ": " + r.error);
  if (r.status != 200) {
    auto code = errc_from(r.errcode(), r.status);
    if (code != errc::bad_gateway && r.body.contains("error") && r.body["error"].is_string())
      throw matrix_error(code, r.body["error"].get<std::string>());
    throw matrix_error(code, what + " (HTTP " + std::to_string(r.status) + ")");
  }
  if (!r.body.is_object()) throw matrix_error(errc::bad_gateway, what + ": " + r.error);
  return r.body;
}

bool may_federate(const config::homeserver_config& cfg, const std::string& server) {
  if (!cfg.federation_domain_whitelist) return true;
  auto& list = *cfg.federation_domain_whitelist;
  return std::find(list.begin(), list.end(), server) != list.end();
}

http::tls_policy federation_tls_policy(const config::homeserver_config& cfg) {
  http::tls_policy o;
  if (cfg.federation_custom_ca_list) {
    o.ca_files = *cfg.federation_custom_ca_list;
    o.system_cas = false;
  }
  o.verify_certificates = cfg.federation_verify_certificates;
  auto globs = cfg.federation_certificate_verification_whitelist;
  if (!globs.empty())
    o.skip_verification = [globs](const std::string& name) {
      return std::any_of(globs.begin(), globs.end(),
                         [&](const std::string& g) { return matrix::push_glob_matches(g, name, false); });
    };
  o.minimum_tls_version = cfg.federation_client_minimum_tls_version;
  // The config checked every range (config/federation.cpp): from() can't fail here.
  matrix::ip_set blocked, allowed;
  if (cfg.federation_ip_range_blocklist) {
    blocked = matrix::ip_set::from(*cfg.federation_ip_range_blocklist).value_or(matrix::ip_set{});
  } else {
    blocked = matrix::ip_set::from(cfg.ip_range_blocklist_set ? cfg.ip_range_blocklist
                                                              : matrix::default_ip_range_blocklist())
                .value_or(matrix::ip_set{});
    allowed = matrix::ip_set::from(cfg.ip_range_allowlist).value_or(matrix::ip_set{});
  }
  o.address_allowed = [blocked, allowed](const std::string& address) {
    auto ip = matrix::parse_ip(address);
    return ip && matrix::ip_allowed(*ip, blocked, allowed);
  };
  return o;
}

federation_client::federation_client(const config::homeserver_config& cfg, const matrix::signing_key& key,
                                     std::shared_ptr<http::http_client> http, matrix::environment& env)
  : cfg_(cfg), key_(key), http_(std::move(http)), env_(env) {
  for (int i = 0; i < lookup_threads; ++i) lookups_.emplace_back([this] { lookup_loop(); });
}

federation_client::~federation_client() {
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    stopping_ = true;
    jobs_.clear(); // their callers are stopping too
  }
  jobs_cv_.notify_all();
  for (auto& t : lookups_) t.join();
}

void federation_client::lookup_loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(jobs_mu_);
      jobs_cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job();
    } catch (const std::exception& e) {
      std::cerr << "federation lookup: " << e.what() << "\n";
    }
  }
}

bool federation_client::allowed(const std::string& server) const {
  return matrix::valid_server_name(server) && server != cfg_.server_name && may_federate(cfg_, server);
}

void federation_client::require_allowed(const std::string& server) const {
  if (!allowed(server)) throw matrix_error(errc::forbidden, "Federation denied with " + server + ".");
}

void federation_client::enqueue(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
  }
  jobs_cv_.notify_one();
}

std::vector<matrix::srv_record> federation_client::ordered(std::vector<matrix::srv_record> records) {
  return matrix::order_srv(std::move(records), [this](uint64_t n) {
    return env_.uniform(static_cast<uint32_t>(std::min<uint64_t>(n, UINT32_MAX)));
  });
}

std::optional<std::string> federation_client::well_known(const std::string& host) {
  auto now = env_.now_ms();
  std::optional<std::string> previous;
  bool had_valid = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto i = well_known_.find(host); i != well_known_.end()) {
      // Fresh enough: within the first 80 % of its life (Synapse's grace period).
      if (now < i->second.expires_ms - i->second.ttl_ms / 5) return i->second.server;
      previous = i->second.server;
    }
    auto v = had_valid_.find(host);
    had_valid = v != had_valid_.end() && v->second > now;
  }
  // Fetch: redirects followed (https only), a 5xx or no answer retried when
  // the host had a valid answer lately.
  std::optional<std::string> result;
  int64_t period = 0;
  bool temporary = false; ///< no answer (or a 5xx, or too large): keep what was cached
  for (int attempt = 1; attempt <= (had_valid ? well_known_attempts : 1); ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::string url = "https://" + url_host(host) + "/.well-known/matrix/server";
    msg::outbound_response r;
    for (int hop = 0; hop <= max_redirects; ++hop) {
      msg::outbound_request req;
      req.url = url;
      req.retry = true;
      req.federation = true;
      r = http_->call(std::move(req));
      if (r.status < 300 || r.status >= 400) break;
      auto next = redirect_target(url, r.header("Location"));
      if (!next || hop == max_redirects) {
        r.status = 0;
        r.error = "bad or too many redirects";
        break;
      }
      url = *next;
    }
    if (r.status == 0 || r.status >= 500) {
      temporary = true;
      continue;
    }
    temporary = false;
    if (static_cast<int64_t>(r.body.size()) > matrix::well_known_cache::max_size) {
      temporary = true; // Synapse: too large counts as temporary
      break;
    }
    if (r.status == 200) result = matrix::parse_well_known_server(r.body);
    if (result) {
      auto p = matrix::well_known_cache_period(r.header("Cache-Control"), r.header("Expires"), now);
      if (!p) period = jitter(matrix::well_known_cache::default_ms, env_);
      else
        period = std::clamp(*p, matrix::well_known_cache::min_ms, matrix::well_known_cache::max_ms);
    }
    break;
  }
  if (temporary && previous) return previous;
  if (!result) period = jitter(had_valid ? matrix::well_known_cache::down_ms : matrix::well_known_cache::invalid_ms, env_);
  std::lock_guard<std::mutex> lock(mu_);
  if (well_known_.size() > max_cached_hosts) well_known_.clear();
  if (had_valid_.size() > max_cached_hosts) had_valid_.clear();
  if (period > 0) well_known_[host] = {result, now + period, period};
  if (result) had_valid_[host] = now + period + 3600 * 1000;
  return result;
}

std::vector<matrix::srv_record> federation_client::srv(const std::string& name) {
  auto now = env_.now_ms();
  std::optional<std::vector<matrix::srv_record>> cached;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto i = srv_.find(name); i != srv_.end()) {
      if (now < i->second.expires_ms) return ordered(i->second.records);
      cached = i->second.records;
    }
  }
  srv_answer answer;
  auto outcome = lookup_srv(name, answer);
  bool failed = outcome == srv_outcome::failed;
  auto found = std::move(answer.records);
  int64_t ttl_ms = answer.ttl_ms < 0 ? INT64_MAX : answer.ttl_ms;
  if (failed && cached) found = *cached;
  else {
    std::lock_guard<std::mutex> lock(mu_);
    if (srv_.size() > max_cached_hosts) srv_.clear();
    srv_[name] = {found, now + std::max(min_srv_ttl_ms, ttl_ms == INT64_MAX ? min_srv_ttl_ms : ttl_ms)};
  }
  return ordered(std::move(found));
}

std::vector<matrix::federation_target> federation_client::resolve(const std::string& server_name) {
  matrix::resolution_lookups io;
  io.well_known = [this](const std::string& host) { return well_known(host); };
  io.srv = [this](const std::string& name) { return srv(name); };
  return matrix::resolve_server_name(server_name, io);
}

std::vector<msg::outbound_request> federation_client::wire_requests(const std::string& destination,
                                                                   const std::string& method,
                                                                   const std::string& path, const json& content,
                                                                   bool sign, int64_t timeout_ms,
                                                                   std::string& why) {
  std::vector<msg::outbound_request> out;
  if (!allowed(destination)) {
    why = "federation with " + destination + " is not allowed (federation_domain_whitelist)";
    return out;
  }
  auto targets = resolve(destination);
  if (targets.empty()) {
    why = "cannot resolve server name " + destination;
    return out;
  }
  std::string authorization;
  if (sign) authorization = matrix::sign_request(key_, method, path, cfg_.server_name, destination, content);
  std::string body = content.is_null() ? std::string() : content.dump();
  for (auto& t : targets) {
    msg::outbound_request req;
    req.method = method;
    req.url = "https://" + url_host(t.connect_host) + ":" + std::to_string(t.port) + path;
    req.tls_server_name = bare(t.tls_name);
    req.headers.push_back({"Host", t.host_header});
    if (sign) req.headers.push_back({"Authorization", authorization});
    if (!content.is_null()) {
      req.headers.push_back({"Content-Type", "application/json"});
      req.body = body;
    }
    req.timeout_ms = timeout_ms;
    req.retry = method == "GET";
    req.federation = true;
    out.push_back(std::move(req));
  }
  return out;
}

namespace {

/// An HTTP answer as another server's: its JSON, or why it is not JSON.
remote_response answer_of(const std::string& destination, const msg::outbound_response& r) {
  remote_response out;
  out.status = r.status;
  out.body = json::parse(r.body, nullptr, false);
  if (out.body.is_discarded()) {
    out.body = nullptr;
    out.error = "answer from " + destination + " is not JSON (HTTP " + std::to_string(r.status) + ")";
  }
  return out;
}

/// request_async's rest: the targets in order, each on the event loop.
struct async_call {
  std::shared_ptr<http::http_client> http;
  std::string destination;
  std::vector<msg::outbound_request> requests;
  std::function<void(remote_response)> done;
  std::string error;
};

void try_target(const std::shared_ptr<async_call>& call, size_t i) {
  if (i >= call->requests.size()) {
    remote_response out;
    out.error = call->error;
    return call->done(std::move(out));
  }
  call->http->request(call->requests[i], [call, i](msg::outbound_response r) {
    if (r.status == 0) {
      call->error = r.error;
      return try_target(call, i + 1);
    }
    call->done(answer_of(call->destination, r));
  });
}

msg::federation_request relayed(const std::string& destination, const std::string& method, const std::string& path,
                                const json& content, bool sign, int64_t timeout_ms) {
  return {destination, method, path, content.is_null() ? std::string() : content.dump(), sign, timeout_ms};
}

remote_response from_reply(const std::string& destination, const msg::federation_reply& r) {
  if (r.status == 0) {
    remote_response out;
    out.error = r.error;
    return out;
  }
  msg::outbound_response http;
  http.status = r.status;
  http.body = r.body;
  return answer_of(destination, http);
}

/// The relay's answer, or its failure as an unreachable server's.
remote_response through(const federation_client::relay_fn& relay, const msg::federation_request& req) {
  try {
    return from_reply(req.destination, relay(req));
  } catch (const std::exception& e) {
    remote_response out;
    out.error = std::string("the instance sending federation requests could not: ") + e.what();
    return out;
  }
}

} // namespace

msg::federation_reply federation_client::send_here(const msg::federation_request& req) {
  json content = nullptr;
  if (!req.content.empty()) {
    content = json::parse(req.content, nullptr, false);
    if (content.is_discarded()) return {0, "", "the relayed request's body is not JSON"};
  }
  // Sent from here: never relayed again.
  auto r = request_direct(req.destination, req.method, req.path, content, req.sign, req.timeout_ms);
  msg::federation_reply out;
  out.status = r.status;
  out.body = r.body.is_null() ? std::string() : r.body.dump();
  out.error = r.error;
  return out;
}

remote_response federation_client::request(const std::string& destination, const std::string& method,
                                           const std::string& path, const json& content, bool sign,
                                           int64_t timeout_ms) {
  if (relay_) return through(relay_, relayed(destination, method, path, content, sign, timeout_ms));
  return request_direct(destination, method, path, content, sign, timeout_ms);
}

remote_response federation_client::request_direct(const std::string& destination, const std::string& method,
                                                  const std::string& path, const json& content, bool sign,
                                                  int64_t timeout_ms) {
  remote_response out;
  auto requests = wire_requests(destination, method, path, content, sign, timeout_ms, out.error);
  for (auto& req : requests) {
    auto r = http_->call(std::move(req));
    if (r.status == 0) {
      out.error = r.error;
      continue; // the next target
    }
    return answer_of(destination, r);
  }
  return out;
}

void federation_client::request_async(const std::string& destination, const std::string& method,
                                      const std::string& path, json content, bool sign, int64_t timeout_ms,
                                      std::function<void(remote_response)> done) {
  if (relay_) {
    // The relay blocks (HTTP replication): on the lookup threads.
    auto req = relayed(destination, method, path, content, sign, timeout_ms);
    return enqueue([relay = relay_, req = std::move(req), done = std::move(done)] { done(through(relay, req)); });
  }
  auto job = [this, destination, method, path, content = std::move(content), sign, timeout_ms,
              done = std::move(done)]() mutable {
    auto call = std::make_shared<async_call>();
    call->http = http_;
    call->destination = destination;
    call->done = std::move(done);
    call->requests = wire_requests(destination, method, path, content, sign, timeout_ms, call->error);
    try_target(call, 0);
  };
  // A name with an explicit port (or an IP) needs no lookup: no thread hop.
  auto name = matrix::parse_server_address(destination);
  if (name && (name->ip_literal || name->port)) return job();
  enqueue(std::move(job));
}

namespace {

remote_file file_answer_of(const msg::outbound_response& r) {
  remote_file out;
  out.status = r.status;
  out.headers = r.headers;
  out.error = r.error;
  out.too_large = r.too_large;
  if (r.status && (r.status < 200 || r.status >= 300)) {
    out.body = json::parse(r.body, nullptr, false);
    if (out.body.is_discarded()) out.body = nullptr;
  }
  return out;
}

} // namespace

remote_file federation_client::download(const std::string& destination, const std::string& path,
                                        const std::string& file, int64_t max_size, int64_t timeout_ms) {
  remote_file out;
  if (relay_) {
    out.error = "media is not fetched through outbound_federation_restricted_to: this instance must be listed";
    return out;
  }
  auto requests = wire_requests(destination, "GET", path, nullptr, true, timeout_ms, out.error);
  for (auto& req : requests) {
    req.body_file = file;
    req.max_response_size = max_size;
    auto r = http_->call(std::move(req));
    if (r.status == 0 && !r.too_large) {
      out.error = r.error;
      continue; // the next target
    }
    return file_answer_of(r);
  }
  return out;
}

remote_file federation_client::download_url(const std::string& url, const std::string& file, int64_t max_size,
                                            int64_t timeout_ms) {
  msg::outbound_request req;
  req.method = "GET";
  req.url = url;
  req.body_file = file;
  req.max_response_size = max_size;
  req.timeout_ms = timeout_ms;
  req.retry = true;
  req.federation = true;
  return file_answer_of(http_->call(std::move(req)));
}

} // namespace axon::federation
