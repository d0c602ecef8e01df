// actors/federation/federation_client.hpp -- requests to other homeservers:
// where a server name leads (matrix/server_resolution: IP literals, ports,
// /.well-known/matrix/server cached by Synapse's rules, SRV records), the
// X-Matrix signature on every request, and the outbound policy
// (federation_domain_whitelist here; ip_range_blocklist, TLS verification
// and the federation CA list are the instance's one HTTP client's, for
// requests marked `federation`, with the policy federation_tls_policy
// gives).
//
// Blocking calls for request threads, and request_async for actors (the
// federation sender); thread-safe. No CAF here.
#pragma once

#include "matrix/server_resolution.hpp"
#include "messages/federation.hpp"
#include "messages/outbound_http.hpp"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace axon::config { struct homeserver_config; }
namespace axon::matrix {
class environment;
struct signing_key;
} // namespace axon::matrix
namespace axon::http {
class http_client;
struct tls_policy;
} // namespace axon::http

namespace axon::federation {

/// Another server's answer.
struct remote_response {
  int status = 0;      ///< 0: no HTTP answer (unreachable, refused by policy, timed out)
  nlohmann::json body; ///< the answer's JSON; null when it was not JSON
  std::string error;   ///< why there is no answer, or no JSON
  bool ok() const { return status == 200 && body.is_object(); }
  /// The Matrix errcode of an error answer, or "".
  std::string errcode() const;
};

/// Another server's answer written to a file (media): the head, the body
/// in the file when the status is 2xx, else in `body` as JSON (null when
/// not JSON). `status` 0 also when the answer was too large.
struct remote_file : remote_response {
  std::vector<std::pair<std::string, std::string>> headers;
  bool too_large = false;
  /// The first header named `name` (case-insensitive), or "".
  std::string header(const std::string& name) const { return msg::outbound_response::header_of(headers, name); }
  bool ok() const = delete; ///< a 2xx body is in the file, not in `body`
};

/// For a client request answered by another server: the body of `r` when
/// a 200 JSON object came. Otherwise it throws the error the client gets:
/// the other server's own (errcode and message) when it is one of ours
/// (errc_from), else 502 M_UNKNOWN "`what`: why".
const nlohmann::json& body_or_fail(const remote_response& r, const std::string& what);

/// Whether `server` is in federation_domain_whitelist, when that is set
/// (both directions: requests sent and requests accepted).
bool may_federate(const config::homeserver_config& cfg, const std::string& server);

/// `text` percent-encoded for a path segment or query value: everything
/// but RFC 3986's unreserved characters.
std::string escape(std::string_view text);

/// How the instance's HTTP client checks requests to other homeservers
/// (outbound_request::federation): federation_verify_certificates with its
/// verification whitelist, federation_custom_ca_list instead of the
/// system's CAs when set, federation_client_minimum_tls_version, and the
/// address filter of ip_range_blocklist / ip_range_allowlist (or the
/// deprecated federation_ip_range_blacklist, which replaces both).
http::tls_policy federation_tls_policy(const config::homeserver_config& cfg);

class federation_client {
public:
  federation_client(const config::homeserver_config& cfg, const matrix::signing_key& key,
                    std::shared_ptr<http::http_client> http, matrix::environment& env);

  /// Whether requests to `server` may be sent: a valid server name, not
  /// this server, and may_federate.
  bool allowed(const std::string& server) const;
  /// The same for a client's request: M_FORBIDDEN "Federation denied with
  /// <server>." when not.
  void require_allowed(const std::string& server) const;

  /// Sends `method` `path` (path and query as they go on the wire, already
  /// percent-encoded) to `destination`, signed with X-Matrix unless `sign`
  /// is false (key requests), with `content` as the JSON body unless null.
  /// Tries the resolution's targets in order until one answers.
  /// `timeout_ms` 0: http_client.request_timeout_ms.
  remote_response request(const std::string& destination, const std::string& method, const std::string& path,
                          const nlohmann::json& content = nullptr, bool sign = true, int64_t timeout_ms = 0);

  /// The same without blocking the caller: resolution needing lookups
  /// (.well-known, SRV) runs on the client's own lookup threads, the
  /// request on the HTTP client's event loop, where `done` runs (keep it
  /// short: hand the answer on).
  void request_async(const std::string& destination, const std::string& method, const std::string& path,
                     nlohmann::json content, bool sign, int64_t timeout_ms,
                     std::function<void(remote_response)> done);

  /// GETs `path` from `destination`, signed, with its 2xx body written to
  /// the new file `file` (at most `max_size` bytes, else too_large and no
  /// file). Not relayed: with outbound_federation_restricted_to this
  /// instance must be listed, else it fails.
  remote_file download(const std::string& destination, const std::string& path, const std::string& file,
                       int64_t max_size, int64_t timeout_ms);
  /// GETs `url` (where another server redirected a download), unsigned,
  /// under the federation address policy, into the new file `file`.
  remote_file download_url(const std::string& url, const std::string& file, int64_t max_size, int64_t timeout_ms);

  /// Where requests for `server_name` go, in order (cached lookups).
  std::vector<matrix::federation_target> resolve(const std::string& server_name);

  /// outbound_federation_restricted_to, when this instance is not listed:
  /// every request goes to `relay` (the transport's
  /// send_federation_request), which has a listed instance send it. Set at
  /// start, before any request.
  using relay_fn = std::function<msg::federation_reply(const msg::federation_request&)>;
  void set_relay(relay_fn relay) { relay_ = std::move(relay); }
  /// `request` from this instance itself, whatever the relay (what a listed
  /// instance does for the others).
  msg::federation_reply send_here(const msg::federation_request& req);


  ~federation_client();
  federation_client(const federation_client&) = delete;
  federation_client& operator=(const federation_client&) = delete;

private:
  remote_response request_direct(const std::string& destination, const std::string& method, const std::string& path,
                                 const nlohmann::json& content, bool sign, int64_t timeout_ms);
  /// The wire requests for each target of `destination`, signed; empty,
  /// with the reason in `why`, when there are none.
  std::vector<msg::outbound_request> wire_requests(const std::string& destination, const std::string& method,
                                                   const std::string& path, const nlohmann::json& content,
                                                   bool sign, int64_t timeout_ms, std::string& why);
  void lookup_loop();
  /// Hands `job` to the lookup threads (dropped when stopping).
  void enqueue(std::function<void()> job);
  /// `records` in the order to try them (matrix::order_srv with env_).
  std::vector<matrix::srv_record> ordered(std::vector<matrix::srv_record> records);

  std::optional<std::string> well_known(const std::string& host);
  std::vector<matrix::srv_record> srv(const std::string& name);

  const config::homeserver_config& cfg_;
  const matrix::signing_key& key_;
  std::shared_ptr<http::http_client> http_;
  matrix::environment& env_;

  struct well_known_entry {
    std::optional<std::string> server; ///< m.server; nullopt: no delegation
    int64_t expires_ms = 0;
    int64_t ttl_ms = 0;
  };
  struct srv_entry {
    std::vector<matrix::srv_record> records;
    int64_t expires_ms = 0;
  };
  std::mutex mu_;
  std::unordered_map<std::string, well_known_entry> well_known_;
  /// Hosts whose well-known was valid lately (until the ms here).
  std::unordered_map<std::string, int64_t> had_valid_;
  std::unordered_map<std::string, srv_entry> srv_;
  relay_fn relay_;

  // Lookup threads for request_async.
  std::mutex jobs_mu_;
  std::condition_variable jobs_cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> lookups_;
};

} // namespace axon::federation
