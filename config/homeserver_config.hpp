// config/homeserver_config.hpp -- homeserver.yaml (+ worker files) as plain structs.
//
// Keys, defaults and meanings are Synapse's (docs/usage/configuration/
// config_documentation.md), so an admin's existing configuration carries over.
// Where Axon differs from Synapse the field comment says so.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace axon::config {

/// One entry of an http listener's `resources`.
struct listener_resource {
  std::vector<std::string> names; ///< client, federation, keys, media, openid, replication,
                                  ///< static, health, metrics, consent. Default: none.
  bool compress = false;          ///< gzip response bodies. Default: false.
};

/// One entry of `listeners` (main process) or `worker_listeners` (a worker).
struct listener_config {
  int port = 0;                             ///< TCP port, 1..65535. Default: none (0 with `path`).
  std::vector<std::string> bind_addresses;  ///< `bind_addresses` plus `bind_address`.
                                            ///< Default: ["::", "0.0.0.0"] (metrics: ["0.0.0.0"]).
  std::string type = "http";                ///< "http"; "metrics"/"manhole" parse but are not
                                            ///< served by Axon. Default: "http".
  bool tls = false;                         ///< serve TLS with tls_certificate_path and
                                            ///< tls_private_key_path. Default: false.
  bool x_forwarded = false;                 ///< trust X-Forwarded-For. Default: false (true
                                            ///< for a unix socket).
  std::vector<listener_resource> resources; ///< what to serve. Default: none.
  std::string path;                         ///< unix socket path instead of a port. Default: none.
  int mode = 0666;                          ///< unix socket permissions. Default: 0666.

  /// True when any resource entry names `name`.
  bool has_resource(std::string_view name) const;
};

/// `database`: the engine and its connection arguments.
struct database_config {
  std::string name = "sqlite3";   ///< "sqlite3" or "psycopg2" (PostgreSQL). Default: "sqlite3".
  std::string sqlite_path = "homeserver.db"; ///< sqlite3 `args.database`, relative to the
                                             ///< working directory. Default: "homeserver.db".
  std::string pg_user;            ///< psycopg2 `args.user`. Default: libpq's.
  std::string pg_password;        ///< psycopg2 `args.password`. Default: none.
  std::string pg_database;        ///< psycopg2 `args.dbname` (or `args.database`). Default: libpq's.
  std::string pg_host;            ///< psycopg2 `args.host` (or a socket directory). Default: libpq's.
  std::string pg_port;            ///< psycopg2 `args.port`. Default: libpq's (5432).
  std::map<std::string, std::string> pg_options; ///< any other `args` (sslmode, ...), passed
                                                 ///< to libpq unchanged. Default: none.
  int cp_min = 5;                 ///< smallest connection pool. Default: 5 (sqlite3: 1).
  int cp_max = 10;                ///< largest connection pool. Default: 10 (sqlite3: 1).

  /// The libpq connection string: `key='value'` pairs, values quoted and
  /// escaped, empty values left out.
  std::string pg_conninfo() const;
  bool is_postgres() const { return name == "psycopg2"; }
};

/// One rate limiter: a bucket of `burst_count` refilled at `per_second`.
struct rate_limit {
  double per_second = 0.17; ///< actions per second. Default: 0.17.
  int burst_count = 3;      ///< bucket size. Default: 3.
};

/// `rc_federation`: each other server's requests (all but transactions),
/// as Synapse's FederationRateLimiter counts them.
struct federation_rate_limit {
  int window_size_ms = 1000; ///< the window requests are counted in. Default: 1000.
  int sleep_limit = 10;      ///< past this many in a window, each waits sleep_delay. Default: 10.
  int sleep_delay_ms = 500;  ///< Default: 500.
  int reject_limit = 50;     ///< past this many in a window, 429. Default: 50.
  int concurrent = 3;        ///< handled at once; more wait their turn. Default: 3.
};

/// The `rc_*` keys Axon enforces, with Synapse's defaults.
struct rc_config {
  federation_rate_limit federation;           ///< `rc_federation`.
  rate_limit message{0.2, 10};                ///< `rc_message`. Default: 0.2/s, burst 10.
  rate_limit registration{0.17, 3};           ///< `rc_registration`. Default: 0.17/s, burst 3.
  rate_limit login_address{0.003, 5};         ///< `rc_login.address`. Default: 0.003/s, burst 5.
  rate_limit login_account{0.003, 5};         ///< `rc_login.account`. Default: 0.003/s, burst 5.
  rate_limit login_failed_attempts{0.17, 3};  ///< `rc_login.failed_attempts`. Default: 0.17/s, 3.
  rate_limit joins_local{0.1, 10};            ///< `rc_joins.local`. Default: 0.1/s, burst 10.
  rate_limit joins_remote{0.01, 10};          ///< `rc_joins.remote`. Default: 0.01/s, burst 10.
  rate_limit invites_per_room{0.3, 10};       ///< `rc_invites.per_room`. Default: 0.3/s, burst 10.
  rate_limit invites_per_user{0.003, 5};      ///< `rc_invites.per_user`. Default: 0.003/s, burst 5.
};

/// `user_directory` (Synapse's section of the same name).
struct user_directory_config {
  bool enabled = true;            ///< false: searches answer no results. Default: true.
  bool search_all_users = false;  ///< every local user is searchable, not only those
                                  ///< sharing a room or in a public room. Default: false.
  bool prefer_local_users = false;///< rank users of this server above remote ones.
                                  ///< Default: false.
};

/// One of `thumbnail_sizes`: a thumbnail made at upload.
struct thumbnail_spec {
  int width = 0;
  int height = 0;
  std::string method; ///< "crop" or "scale"
};

/// One of `media_upload_limits`: at most `max_size` bytes uploaded by a
/// user within `time_period_ms`.
struct media_upload_limit {
  int64_t time_period_ms = 0;
  int64_t max_size = 0;
};

/// The media repository's keys (Synapse's config/repository.py names and
/// defaults).
struct media_config {
  /// Default: Synapse's 32x32 crop, 96x96 crop, 320x240 scale, 640x480
  /// scale, 800x600 scale.
  std::vector<thumbnail_spec> thumbnail_sizes = {
    {32, 32, "crop"}, {96, 96, "crop"}, {320, 240, "scale"}, {640, 480, "scale"}, {800, 600, "scale"}};
  bool dynamic_thumbnails = false;             ///< exact sizes on request. Default: false.
  int64_t max_image_pixels = 32 * 1024 * 1024; ///< larger images get no thumbnail. Default: 32M.
  int64_t max_pending_media_uploads = 5;       ///< per user (POST /create). Default: 5.
  int64_t unused_expiration_time_ms = 24 * 3600 * 1000; ///< a created id's life. Default: 24h.
  /// Media uploaded while true is served only by the authenticated
  /// (/_matrix/client/v1/media) routes, as Synapse since 1.120. Default: true.
  bool enable_authenticated_media = true;
  std::vector<media_upload_limit> upload_limits; ///< `media_upload_limits`. Default: none.
  /// Remote media: per requester address, a leaky bucket of bytes.
  int64_t remote_media_download_burst_count = 500 * 1024 * 1024; ///< Default: 500M.
  int64_t remote_media_download_per_second = 87 * 1024;          ///< Default: 87K.
  std::vector<std::string> prevent_media_downloads_from;         ///< server names. Default: none.
  /// `media_retention`: media not used for this long is deleted by the
  /// media background jobs (local: not avatars, protected or quarantined
  /// media; remote: not quarantined). Default: none (kept).
  std::optional<int64_t> retention_local_ms;
  std::optional<int64_t> retention_remote_ms;

  // URL previews (preview_url), Synapse's keys.
  bool url_preview_enabled = false; ///< Default: false.
  /// Addresses never fetched (`url_preview_ip_range_blacklist`, or
  /// `..._blocklist`): required when previews are enabled; 0.0.0.0 and ::
  /// are always added (Synapse's rule).
  std::vector<std::string> url_preview_ip_range_blocklist;
  /// Fetched even though blocked (`url_preview_ip_range_whitelist`, or `..._allowlist`). Default: none.
  std::vector<std::string> url_preview_ip_range_allowlist;
  /// URLs never fetched (`url_preview_url_blacklist`, or `..._blocklist`):
  /// each entry maps parts of the URL (scheme, netloc, hostname, port,
  /// path, query, fragment, username, password) to a glob, or a regular
  /// expression when it starts with ^; a URL matching all of an entry's
  /// parts is refused. Default: none.
  std::vector<std::vector<std::pair<std::string, std::string>>> url_preview_url_blocklist;
  int64_t max_spider_size = 10 * 1024 * 1024;                    ///< Default: 10M.
  std::vector<std::string> url_preview_accept_language{"en"};   ///< Default: [en].
};

/// `http`: limits of Axon's HTTP listeners (each listener has its own of
/// each). Synapse, on Twisted, has no such keys.
struct http_config {
  int request_threads = 32;         ///< threads running handlers (long-polls hold none). Default: 32.
  int max_connections = 50000;      ///< open connections; newer ones are closed at once. Default: 50000.
  int max_header_size = 65536;      ///< request line and headers, bytes. Default: 65536.
  int keep_alive_timeout_ms = 75000;///< an idle connection waits this long for a request. Default: 75000.
  int header_timeout_ms = 30000;    ///< from a request's first byte to its last header. Default: 30000.
  int body_timeout_ms = 60000;      ///< to read a request's body. Default: 60000.
};

/// `http_client`: Axon's outbound HTTP client, one per instance
/// (actors/http/http_client.hpp): HTTP replication now; federation, push
/// gateways and application services next. Synapse has no such keys.
struct http_client_config {
  int connect_timeout_ms = 5000;              ///< DNS, TCP connect and TLS handshake. Default: 5000.
  int request_timeout_ms = 60000;             ///< a request's whole life, queueing included, unless
                                              ///< the request sets its own. Default: 60000.
  int max_connections_per_destination = 32;   ///< open to one host and port (or socket); more
                                              ///< requests queue. Default: 32.
  int max_connections = 1024;                 ///< open to all destinations together. Default: 1024.
  int idle_timeout_ms = 60000;                ///< an idle kept-alive connection is closed after. Default: 60000.
  int64_t max_response_size = 50 * 1024 * 1024; ///< body bytes; "50M" style. Default: 50M.
  std::vector<std::string> ca_files;          ///< PEM files of CAs trusted beside the system's
                                              ///< (e.g. the one signing TLS replication
                                              ///< listeners' certificates). Default: none.
};

/// One `old_signing_keys` entry: a key this server signed with before,
/// still served (old_verify_keys) so others can check what it signed.
struct old_signing_key {
  std::string key_id;     ///< "ed25519:<version>"
  std::string public_key; ///< 32 raw bytes (from the entry's unpadded base64 `key`)
  int64_t expired_ts = 0; ///< when it stopped being used, ms since the epoch
};

/// One `trusted_key_servers` entry: a notary asked for other servers' keys.
struct trusted_key_server {
  std::string server_name;
  /// key id -> 32 raw bytes; the notary's answers must be signed by one of
  /// them. Empty: its own published keys are used (fetched over TLS).
  std::map<std::string, std::string> verify_keys;
  bool accept_keys_insecurely = false; ///< Synapse's escape hatch; Default: false.
};

/// `redis`: the replication pub/sub connection.
struct redis_config {
  bool enabled = false;          ///< use Redis. Default: false.
  std::string host = "localhost"; ///< Default: "localhost".
  int port = 6379;               ///< Default: 6379.
  std::string password;          ///< `password`, or the contents of `password_path`. Default: none.
  int dbid = 0;                  ///< logical database. Default: 0.
  std::string path;              ///< unix socket; when set, host and port are unused. Default: none.
};

/// One `instance_map` entry: where an instance's replication listener is.
struct instance_location {
  std::string host; ///< Default: none (then `path` is set).
  int port = 0;     ///< Default: none (then `path` is set).
  std::string path; ///< unix socket instead of host and port. Default: none.
  bool tls = false; ///< replicate over https. Default: false.
};

/// `stream_writers`: the instances that write each stream. A string in YAML
/// is a list of one. "master" (Synapse's internal name) is read as "main".
struct stream_writers_config {
  std::vector<std::string> events{"main"};       ///< sharded by room id. Default: [main].
  std::vector<std::string> typing{"main"};       ///< exactly one. Default: [main].
  std::vector<std::string> to_device{"main"};    ///< exactly one. Default: [main].
  std::vector<std::string> account_data{"main"}; ///< exactly one. Default: [main].
  std::vector<std::string> receipts{"main"};     ///< one or more. Default: [main].
  std::vector<std::string> presence{"main"};     ///< exactly one. Default: [main].
  std::vector<std::string> push_rules{"main"};   ///< exactly one. Default: [main].
  std::vector<std::string> device_lists{"main"}; ///< one or more. Default: [main].

  /// The writers of stream `name` (a key above), or nullptr for an unknown stream.
  const std::vector<std::string>* find(std::string_view name) const;
  std::vector<std::string>* find(std::string_view name);
  /// The stream keys above, in declaration order.
  static const std::vector<std::string>& stream_names();
};

/// The whole configuration of one instance (main process or worker).
struct homeserver_config {
  // --- server ---
  std::string server_name;         ///< required; cannot change once users exist.
  std::string public_baseurl;      ///< always ends in '/'. Default: "https://<server_name>/".
  /// Serve /.well-known/matrix/server ({"m.server": "<server_name host>:443"},
  /// or the server name's own port). Default: false.
  bool serve_server_wellknown = false;
  /// Serve /.well-known/matrix/client (m.homeserver: public_baseurl): true
  /// when public_baseurl is set, as Synapse. Default: false.
  bool serve_client_wellknown = false;
  /// `extra_well_known_client_content`: more keys of that answer, a JSON
  /// object's text. Default: "{}".
  std::string extra_well_known_client_content = "{}";
  std::string pid_file;            ///< Default: none.
  std::string signing_key_path;    ///< Default: "<config_dir>/<server_name>.signing.key".
  std::string log_config;          ///< Python-logging YAML; Default: none (log to stderr).
  std::string media_store_path = "media_store"; ///< Default: "media_store".
  std::string tls_certificate_path;///< for `tls: true` listeners. Default: none.
  std::string tls_private_key_path;///< for `tls: true` listeners. Default: none.
  bool report_stats = false;       ///< accepted for Synapse compatibility; Axon reports nothing.
  std::vector<listener_config> listeners; ///< the main process's listeners. Default: none.
  database_config database;        ///< Default: sqlite3 "homeserver.db".

  // --- registration and rooms ---
  bool enable_registration = false;                      ///< Default: false.
  bool enable_registration_without_verification = false;///< Default: false.
  std::string registration_shared_secret; ///< or the contents of
                                          ///< `registration_shared_secret_path`. Default: none.
  std::string default_room_version = "11"; ///< "1" to "11". Default: "11" (Synapse: "10").
  bool allow_guest_access = false;         ///< Default: false.
  bool presence_enabled = true;            ///< `presence.enabled` ("untracked" counts as
                                           ///< enabled). Default: true.
  int64_t max_upload_size = 50 * 1024 * 1024; ///< bytes; "50M" style. Default: 50M.
  int64_t max_event_size = 65536;          ///< internal, not read from YAML: the spec's limit.
  bool enable_media_repo = true;           ///< this instance may hold the media repository
                                           ///< (serves_media). Default: true.
  media_config media;                      ///< thumbnails, limits, authenticated media.
  rc_config rc;                            ///< rate limits.
  user_directory_config user_directory;    ///< `user_directory`.
  http_config http;                        ///< `http`.
  http_client_config http_client;          ///< `http_client`.

  // --- federation: this server's keys and whose keys it trusts ---
  std::vector<old_signing_key> old_signing_keys; ///< Default: none.
  int64_t key_refresh_interval_ms = 86400000;    ///< our keys' validity (valid_until_ts =
                                                 ///< now + this); a duration. Default: 1d.
  /// Default: matrix.org (with a warning, as Synapse: say so explicitly).
  std::vector<trusted_key_server> trusted_key_servers{{"matrix.org", {}, false}};
  bool suppress_key_server_warning = false;      ///< Default: false.

  // --- outbound requests: where they may go ---
  /// CIDR ranges outbound requests (federation, push, ...) are refused
  /// for: `ip_range_blocklist` or its older name `ip_range_blacklist`.
  /// Default: Synapse's private ranges (matrix::default_ip_range_blocklist);
  /// 0.0.0.0 and :: always.
  std::vector<std::string> ip_range_blocklist;
  bool ip_range_blocklist_set = false; ///< false: the default applies
  /// Ranges allowed even though blocked: `ip_range_allowlist` or
  /// `ip_range_whitelist`. Default: none.
  std::vector<std::string> ip_range_allowlist;
  /// Federation only (Synapse's deprecated `federation_ip_range_blacklist`):
  /// replaces the blocklist, and no allowlist applies. Default: unset.
  std::optional<std::vector<std::string>> federation_ip_range_blocklist;
  /// Outbound federation TLS (Synapse's tls section): verify the other
  /// server's certificate (Default: true), except for server names matching
  /// one of these globs (`*`, `?`; case-insensitive; Default: none); the
  /// lowest TLS version offered ("1", "1.1", "1.2", "1.3"; Default: "1");
  /// PEM files of the only CAs trusted for federation instead of the
  /// system's, when set (Default: unset: the system's CAs).
  bool federation_verify_certificates = true;
  std::vector<std::string> federation_certificate_verification_whitelist;
  std::string federation_client_minimum_tls_version = "1";
  std::optional<std::vector<std::string>> federation_custom_ca_list;
  /// The only servers federated with (`federation_domain_whitelist`);
  /// unset: every server. Default: unset.
  std::optional<std::vector<std::string>> federation_domain_whitelist;
  /// Other servers may read this server's public room directory
  /// (/_matrix/federation/v1/publicRooms). Default: false, as Synapse.
  bool allow_public_rooms_over_federation = false;

  // --- placement shared by all instances (Synapse "coordinating workers") ---
  redis_config redis;
  std::map<std::string, instance_location> instance_map; ///< Default: empty.
  stream_writers_config stream_writers;
  std::string worker_replication_secret; ///< or the contents of
                                         ///< `worker_replication_secret_path`. Default: none.
  std::vector<std::string> run_background_tasks_on{"main"}; ///< a string in YAML; one
                                                            ///< instance. Default: [main].
  std::vector<std::string> pusher_instances{"main"}; ///< empty: some other instance
                                                     ///< (legacy `start_pushers: false`).
  std::vector<std::string> federation_sender_instances{"main"}; ///< empty: some other
                                                     ///< instance (legacy `send_federation: false`).
  std::string update_user_directory_from_worker = "main"; ///< "": some other instance
                                                     ///< (legacy `update_user_directory: false`).
  std::string notify_appservices_from_worker = "main"; ///< "": some other instance
                                                     ///< (legacy `notify_appservices: false`).
  std::string media_instance_running_background_jobs; ///< Default: none, meaning main when
                                                     ///< enable_media_repo, else the media worker.
  std::vector<std::string> outbound_federation_restricted_to; ///< Default: none (any instance).

  // --- this worker (from the worker's own file) ---
  std::string worker_app;   ///< "" for main; else "generic_worker", "media_repository" or a
                            ///< historical name, without the "synapse.app." prefix.
  std::string worker_name = "main"; ///< "main" when not a worker.
  std::vector<listener_config> worker_listeners; ///< Default: none.
  std::string worker_log_config; ///< Default: none.
  std::string worker_pid_file;   ///< Default: none.

  std::string config_dir; ///< absolute directory of the last config file, as Synapse uses
                          ///< it (only for default file names); "" when loaded from strings.

  bool is_worker() const { return !worker_app.empty(); }
  /// Whether this instance holds the media repository (Synapse's
  /// can_load_media_repo): enable_media_repo as this instance reads it (a
  /// worker's own file may set it), or a media_repository worker.
  bool serves_media() const { return enable_media_repo || worker_app == "media_repository"; }
  /// Whether this instance runs the media background jobs (retention, URL
  /// preview expiry): it serves media and is media_instance_running_background_jobs,
  /// or that is unset (Synapse: then one instance serves media).
  bool runs_media_jobs() const {
    return serves_media() && (media_instance_running_background_jobs.empty() ||
                              media_instance_running_background_jobs == worker_name);
  }
  /// The name other instances know this one by: worker_name, or "main".
  std::string instance_name() const { return is_worker() ? worker_name : "main"; }
  /// The listeners this instance opens: worker_listeners on a worker, else listeners.
  const std::vector<listener_config>& own_listeners() const {
    return is_worker() ? worker_listeners : listeners;
  }
};

/// One problem in the configuration.
struct config_error {
  std::string file;    ///< the file (or document name) the key came from.
  std::string key;     ///< the key path, e.g. "listeners[0].port"; "" for the whole file.
  std::string message;
  /// "<file>: <key>: <message>" (the key part left out when empty).
  std::string to_string() const;
};

struct load_result {
  std::optional<homeserver_config> config; ///< set exactly when `errors` is empty.
  std::vector<config_error> errors;        ///< every problem found, in file order.
  std::vector<std::string> warnings;       ///< unknown keys, unsupported options.
};

/// Loads the files in order and merges them as Synapse does (a later file
/// replaces whole top-level keys), then validates everything. A directory
/// stands for its "*.yaml" files in sorted order. Never throws.
load_result load_config(const std::vector<std::string>& files);

/// load_config on in-memory documents: (name, YAML text) pairs, e.g. for tests.
load_result load_config_from_strings(
    const std::vector<std::pair<std::string, std::string>>& docs);

/// A commented homeserver.yaml in Synapse's layout, for `--generate-config`:
/// one http listener on 127.0.0.1:8008 (client, federation; x_forwarded),
/// SQLite at <data_dir>/homeserver.db, keys and media under <data_dir>.
/// An empty `registration_shared_secret` leaves that key commented out.
std::string sample_config(const std::string& server_name, const std::string& data_dir,
                          const std::string& registration_shared_secret,
                          bool enable_registration);

} // namespace axon::config
