// messages/outbound_http.hpp -- a request to the instance's outbound HTTP
// client (actors/http/http_client.hpp) and its answer. HTTP replication
// uses it now; federation, push gateways and application services next.
#pragma once

#include <caf/meta/type_name.hpp>
#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace axon::msg {

/// One HTTP/1.1 request. `url` is one of
///   http://host[:port]/path?query     (port default 80)
///   https://host[:port]/path?query    (port default 443; TLS, verified)
///   unix:/path/to/socket:/path?query  (HTTP over a unix socket; the socket
///                                      path ends at the first ":/")
/// An IPv6 host is written in brackets ("http://[::1]:8008/"). Replies
/// with an outbound_response; a transport failure is in its `error`, never
/// an exception.
struct outbound_request {
  std::string method = "GET";
  std::string url;
  /// Sent as given (Host, Content-Length and User-Agent are added unless
  /// present). Names and values with CR, LF or NUL are refused unsent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// From the call to the last byte of the answer, queueing for a
  /// connection included; 0: `http_client.request_timeout_ms`. Default: 0.
  int64_t timeout_ms = 0;
  /// The name the TLS certificate must carry, sent as SNI and as the Host
  /// header (federation connects to a delegated host for a server name).
  /// Default: none (the URL's host).
  std::string tls_server_name;
  /// Safe to send twice (idempotent, or carries a transaction id the
  /// receiver deduplicates): a kept-alive connection that fails before any
  /// byte of the answer came is then retried once on a fresh connection.
  /// Default: false.
  bool retry = false;
  /// To another homeserver: the client's federation TLS policy and address
  /// filter apply (federation_custom_ca_list, ip_range_blocklist, ...), on
  /// connections of their own. Default: false.
  bool federation = false;
  /// When set, a 2xx answer's body is written to this new file (created,
  /// never replaced) instead of `outbound_response::body`, never whole in
  /// memory: media fetched from other servers. Other answers stay in
  /// `body`. A failed or cut-short answer leaves no file. Default: none.
  std::string body_file;
  /// The largest answer body taken; 0: `http_client.max_response_size`.
  /// Beyond it the request fails with `too_large`. Default: 0.
  int64_t max_response_size = 0;
  static constexpr const char* wire_name = "outbound_request";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outbound_request& x) {
  return f(caf::meta::type_name("outbound_request"), x.method, x.url, x.headers, x.body, x.timeout_ms,
           x.tls_server_name, x.retry, x.federation, x.body_file, x.max_response_size);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(outbound_request, method, url, headers, body, timeout_ms, tls_server_name,
                                   retry, federation, body_file, max_response_size)

/// The answer to an outbound_request: an HTTP response (any status), or a
/// transport failure in `error`.
struct outbound_response {
  int status = 0; ///< 0 when no HTTP answer came
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Why no answer came (bad URL, DNS, refused, TLS verification, reset,
  /// oversize answer, timeout); empty when an HTTP answer came.
  std::string error;
  /// The request's timeout passed, queued or waiting for the answer.
  bool timed_out = false;
  /// The answer's body was larger than the request's limit.
  bool too_large = false;
  static constexpr const char* wire_name = "outbound_response";

  /// The first header named `name` (case-insensitive), or "".
  std::string header(const std::string& name) const { return header_of(headers, name); }

  /// The first of `headers` named `name` (case-insensitive), or "".
  static std::string header_of(const std::vector<std::pair<std::string, std::string>>& headers,
                               const std::string& name) {
    for (auto& [k, v] : headers) {
      if (k.size() != name.size()) continue;
      bool same = true;
      for (size_t i = 0; i < k.size() && same; ++i)
        same = std::tolower(static_cast<unsigned char>(k[i])) == std::tolower(static_cast<unsigned char>(name[i]));
      if (same) return v;
    }
    return {};
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outbound_response& x) {
  return f(caf::meta::type_name("outbound_response"), x.status, x.headers, x.body, x.error, x.timed_out,
           x.too_large);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(outbound_response, status, headers, body, error, timed_out, too_large)

} // namespace axon::msg
