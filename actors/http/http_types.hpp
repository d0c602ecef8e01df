// actors/http/http_types.hpp -- what a handler sees: the request, its reply,
// the route table entry and the services it may use. No CAF, no Poco here.
#pragma once

#include "matrix/environment.hpp"

#include "messages/errors.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace axon::config { struct homeserver_config; }
namespace axon::storage {
class pool;
class account_data_store;
class push_rules_store;
class accounts_store;
class rooms_store;
class pushers_store;
class user_directory_store;
class presence_store;
class events_store;
class e2e_keys_store;
class cross_signing_store;
class to_device_store;
class receipts_store;
class push_actions_store;
class room_keys_store;
class client_ips;
} // namespace axon::storage
namespace axon::transport { class transport; }
namespace axon::matrix { struct signing_key; }
namespace axon::federation {
class federation_client;
class keyring;
class origin_limiter;
} // namespace axon::federation

namespace axon::replication { class txn_memory; }
namespace axon::media { class media_repository; }

namespace axon::http {

class rate_limiter;
class token_cache;
class uia_sessions;

/// Everything handlers may use; one per instance, shared by request threads
/// (each member is thread-safe).
struct server_context {
  const config::homeserver_config* cfg = nullptr;
  storage::pool* pool = nullptr;
  storage::accounts_store* accounts = nullptr;
  storage::account_data_store* account_data = nullptr;
  storage::push_rules_store* push_rules = nullptr;
  storage::rooms_store* rooms = nullptr;
  storage::pushers_store* pushers = nullptr;
  storage::user_directory_store* user_directory = nullptr;
  storage::presence_store* presence = nullptr;
  storage::events_store* events = nullptr;
  storage::e2e_keys_store* e2e_keys = nullptr;
  storage::cross_signing_store* cross_signing = nullptr;
  storage::to_device_store* to_device = nullptr;
  storage::receipts_store* receipts = nullptr;
  storage::push_actions_store* push_actions = nullptr;
  storage::room_keys_store* room_keys = nullptr;
  /// Where each access token is used from (user_ips); null: not recorded.
  storage::client_ips* client_ips = nullptr;
  transport::transport* transport = nullptr;
  /// This instance's own roles only: what the replication listener serves
  /// with (never forwards again). Same as `transport` in one process.
  transport::transport* local_transport = nullptr;
  const matrix::signing_key* key = nullptr;
  rate_limiter* limiter = nullptr;
  token_cache* tokens = nullptr;
  uia_sessions* uia = nullptr;
  /// Replication transaction ids answered (null: one memory per process).
  replication::txn_memory* replication_txns = nullptr;
  /// Several events writers: each one's number for tokens (instance_ids),
  /// in stream_writers.events order; empty with one writer.
  std::vector<int64_t> events_writer_ids;
  /// Requests to other servers and their signing keys (null: no federation).
  federation::federation_client* federation = nullptr;
  federation::keyring* keyring = nullptr;
  /// rc_federation, per origin (null: no limits).
  federation::origin_limiter* federation_limiter = nullptr;
  /// The clock and randomness requests use (a simulation injects its own).
  matrix::environment* env = &matrix::system_environment();
  /// This instance's media repository (null: it holds no media role, and
  /// its listeners serve no media routes).
  media::media_repository* media = nullptr;
};

struct auth_user {
  std::string user_id;
  std::string device_id;
  std::string token_hash;
};

struct request {
  std::string method;
  std::string path;
  std::string uri;                 ///< the request target as sent (path and query, undecoded)
  std::vector<std::string> params; ///< decoded `{...}` path segments, in order
  std::multimap<std::string, std::string> query;
  std::string body;
  std::string remote_addr;
  std::string user_agent;          ///< the User-Agent header ("" when absent)
  std::string request_id;          ///< "GET-42", from accept to response, for log lines
  std::string access_token;        ///< from the header or ?access_token=
  std::string authorization;       ///< the Authorization header as sent ("" when absent)
  std::string content_type;        ///< the Content-Type header ("" when absent)
  std::string range;               ///< the Range header ("" when absent)
  /// A route that takes its body as a file (route::file_body): where it is,
  /// whole (`body` stays empty). The handler may move it away; what is left
  /// there when the request ends is deleted.
  std::string body_file;
  uint64_t body_size = 0;          ///< the length of body_file's body
  /// The server that signed the request (X-Matrix), for federation routes
  /// that require auth; "" otherwise.
  std::string origin;
  std::optional<auth_user> user;   ///< set for routes that require auth
  server_context* ctx = nullptr;
  /// Work that follows the answer and need not come before it (what keeps
  /// a transaction's answer for a retry, say): it runs on the request
  /// thread once the answer is handed to the connection, so the client is
  /// not kept waiting for it. A handler that fails, or waits (a long-poll),
  /// has it run before the answer instead. It must not refer to the
  /// request (copy what it needs) and may throw (logged).
  std::vector<std::function<void()>> after;

  /// The body as a JSON object: M_NOT_JSON when it isn't JSON, M_BAD_JSON
  /// when it isn't an object. An empty body counts as `{}`.
  const nlohmann::json& json_body();
  std::optional<std::string> query_param(const std::string& name) const;
  const auth_user& auth() const; ///< the authenticated user (route requires auth)

private:
  std::optional<nlohmann::json> parsed_;
};

struct deferred;

/// An open file a response sends from (closed with the last holder).
struct open_file {
  explicit open_file(int f) : fd(f) {}
  ~open_file();
  open_file(const open_file&) = delete;
  open_file& operator=(const open_file&) = delete;
  int fd = -1;
};

/// A response body that is not JSON (media): bytes in memory, or a range of
/// an open file that the listener sends without copying it through user
/// space where it can (sendfile on plain sockets).
struct raw_body {
  std::string content_type;
  /// More headers (Content-Disposition, Content-Range, ...), as sent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string bytes;                 ///< the body; with a file, what comes before it
  std::shared_ptr<open_file> file;   ///< when set: [offset, offset + length) of it
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string trailer;               ///< with a file: what comes after it (multipart)
};

struct response {
  response(int s = 200, nlohmann::json b = nlohmann::json::object(), std::shared_ptr<deferred> l = nullptr)
    : status(s), body(std::move(b)), later(std::move(l)) {}
  int status = 200;
  nlohmann::json body = nlohmann::json::object();
  /// Set for a body that is not JSON; `body` is then unused.
  std::shared_ptr<raw_body> raw;
  /// Set when the answer must wait for the streams (a long-poll): the
  /// listener parks the request without a thread and finishes it with
  /// `later->resume` once the notifier answers; status and body are unused.
  std::shared_ptr<deferred> later;
  /// The request's `after` work (serve() moves it here).
  std::vector<std::function<void()>> after;
};

/// A long-poll's rest: wait as transport::wait_for_updates (these fields),
/// then `resume` with the positions the notifier answered computes the
/// response (which may wait again). It runs on a request thread with the
/// same request, which the listener keeps alive until then.
struct deferred {
  std::string user_id;
  std::vector<int64_t> since;
  std::vector<std::string> room_ids;
  int64_t timeout_ms = 0;
  std::function<response(std::vector<int64_t>)> resume;
};

/// A response that waits for updates concerning `user_id` or `room_ids`
/// after `since`, at most `timeout_ms`, then answers `resume(positions)`.
inline response wait_then(std::string user_id, std::vector<int64_t> since,
                          std::vector<std::string> room_ids, int64_t timeout_ms,
                          std::function<response(std::vector<int64_t>)> resume) {
  response r;
  r.later = std::make_shared<deferred>(
    deferred{std::move(user_id), std::move(since), std::move(room_ids), timeout_ms, std::move(resume)});
  return r;
}

using handler_fn = std::function<response(request&)>;

/// One endpoint. `path` is relative to its API prefix and may hold `{name}`
/// segments; `resource` is the listener resource that serves it (client,
/// federation, ...), which also decides routing for reverse proxies.
struct route {
  const char* method;
  const char* prefix;   ///< e.g. "/_matrix/client/{v}" -- {v} is r0, v3
  const char* path;     ///< e.g. "/rooms/{roomId}/send/{eventType}/{txnId}"
  bool requires_auth;   ///< an access token; on `federation` routes, an X-Matrix signature
  const char* resource; ///< listener resource
  handler_fn handler;
  /// The role best placed to serve it, for generated reverse-proxy routes
  /// (config/routes_gen.hpp): "events" (hashed by the room in the path),
  /// a stream writer ("typing", "to_device", "account_data", "receipts",
  /// "presence", "push_rules", "device_lists"), "sync" (sticky per user), or
  /// "" for any instance with the resource. Efficiency only: every instance
  /// with the resource serves the route correctly. Default: "".
  const char* owner = "";
  /// The body is streamed to a temporary file (request::body_file), up to
  /// max_upload_size, instead of held in memory under the JSON limit: media
  /// uploads. Default: false.
  bool file_body = false;
};

/// Convenience errors for handlers.
[[noreturn]] void fail(errc code, std::string msg);

} // namespace axon::http
