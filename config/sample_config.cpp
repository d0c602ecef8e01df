// config/sample_config.cpp -- the commented homeserver.yaml for --generate-config.
// Defaults shown come from the config structs themselves, so they cannot drift;
// config/homeserver.sample.yaml is this output for example.com (a test keeps it current).
#include <sstream>

#include "config/homeserver_config.hpp"

namespace axon::config {

namespace {

/// A YAML double-quoted scalar.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static const char hex[] = "0123456789abcdef";
          out += "\\x";
          out += hex[(c >> 4) & 0xf];
          out += hex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty())
    return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

std::string size_text(int64_t bytes) {
  const char* units = "TGMK";
  for (int shift = 40, i = 0; shift > 0; shift -= 10, ++i)
    if (bytes > 0 && bytes % (int64_t{1} << shift) == 0)
      return std::to_string(bytes >> shift) + units[i];
  return std::to_string(bytes);
}

std::string yes_no(bool b) { return b ? "true" : "false"; }

std::string limit(const rate_limit& l) {
  std::ostringstream s;
  s << "{per_second: " << l.per_second << ", burst_count: " << l.burst_count << "}";
  return s.str();
}

} // namespace

std::string sample_config(const std::string& server_name, const std::string& data_dir,
                          const std::string& registration_shared_secret,
                          bool enable_registration) {
  const homeserver_config d; // the defaults
  const auto& rc = d.rc;
  std::ostringstream o;
  o << "# homeserver.yaml for Axon.\n"
       "#\n"
       "# Axon reads Synapse's configuration format: each key means what Synapse's\n"
       "# configuration manual says it means, see\n"
       "# https://element-hq.github.io/synapse/latest/usage/configuration/config_documentation.html\n"
       "# Synapse keys that Axon does not implement are accepted and ignored; keys\n"
       "# nobody knows are reported as warnings at start-up.\n"
       "#\n"
       "# A commented-out key shows its default, except in blocks marked \"Example\".\n"
       "\n"
       "## Server ##\n"
       "\n"
       "# The domain in this server's user ids (@alice:<server_name>). It cannot be\n"
       "# changed once the server has users or rooms.\n"
       "server_name: " << quoted(server_name) << "\n"
       "\n"
       "# The URL clients use to reach this server, through any reverse proxy.\n"
       "# Default: https://<server_name>/\n"
       "#public_baseurl: " << quoted("https://" + server_name + "/") << "\n"
       "\n"
       "# Where to write the process id. Default: not written.\n"
       "pid_file: " << quoted(join_path(data_dir, "homeserver.pid")) << "\n"
       "\n"
       "# Logging configuration (Python logging YAML). Default: log to stderr.\n"
       "#log_config: " << quoted(join_path(data_dir, server_name + ".log.config")) << "\n"
       "\n"
       "# The room version of new rooms: \"1\" to \"11\" (all stable). Default: \"" << d.default_room_version << "\".\n"
       "#default_room_version: \"" << d.default_room_version << "\"\n"
       "\n"
       "# Key used to sign events and federation requests; created at first start.\n"
       "# Default: <directory of the config file>/<server_name>.signing.key\n"
       "signing_key_path: " << quoted(join_path(data_dir, server_name + ".signing.key")) << "\n"
       "\n"
       "# Keys this server signed with before (a rotated key), still published as\n"
       "# old_verify_keys so others can check what it signed. Default: none.\n"
       "#old_signing_keys:\n"
       "#  \"ed25519:id\": { key: \"base64+public+key\", expired_ts: 123456789123 }\n"
       "\n"
       "# How long others may cache this server's keys (valid_until_ts). Default: 1d.\n"
       "#key_refresh_interval: 1d\n"
       "\n"
       "# Notaries asked for other servers' keys (besides each server itself), with\n"
       "# the keys their answers must be signed by. An empty list: only each server.\n"
       "trusted_key_servers:\n"
       "  - server_name: \"matrix.org\"\n"
       "suppress_key_server_warning: true\n"
       "\n"
       "# Synapse requires this key; Axon sends no statistics anywhere.\n"
       "report_stats: false\n"
       "\n"
       "## Listeners ##\n"
       "\n"
       "# The ports Axon listens on. Put a TLS-terminating reverse proxy in front and\n"
       "# keep x_forwarded: true so client addresses come from X-Forwarded-For.\n"
       "# Resources: client, federation, keys, media, openid, replication, static, health.\n"
       "# bind_addresses default: ['::', '0.0.0.0'].\n"
       "listeners:\n"
       "  - port: 8008\n"
       "    tls: false\n"
       "    type: http\n"
       "    x_forwarded: true\n"
       "    bind_addresses: ['127.0.0.1']\n"
       "    resources:\n"
       "      - names: [client, federation]\n"
       "        compress: false\n"
       "\n"
       "## Database ##\n"
       "\n"
       "# sqlite3 suits a single process. A layout with workers needs PostgreSQL.\n"
       "# Example:\n"
       "#database:\n"
       "#  name: psycopg2\n"
       "#  args:\n"
       "#    user: axon\n"
       "#    password: secretpassword\n"
       "#    dbname: axon\n"
       "#    host: localhost\n"
       "#    port: 5432\n"
       "#    cp_min: " << database_config{}.cp_min << "\n"
       "#    cp_max: " << database_config{}.cp_max << "\n"
       "database:\n"
       "  name: sqlite3\n"
       "  args:\n"
       "    database: " << quoted(join_path(data_dir, "homeserver.db")) << "\n"
       "\n"
       "## Media ##\n"
       "\n"
       "# Where uploaded and cached remote media is kept. Default: \"" << d.media_store_path << "\".\n"
       "media_store_path: " << quoted(join_path(data_dir, "media_store")) << "\n"
       "\n"
       "# The largest upload accepted (K, M, G suffixes). Default: " << size_text(d.max_upload_size) << ".\n"
       "#max_upload_size: " << size_text(d.max_upload_size) << "\n"
       "\n"
       "# Whether the main process serves media (false with a media_repository\n"
       "# worker). Default: " << yes_no(d.enable_media_repo) << ".\n"
       "#enable_media_repo: " << yes_no(d.enable_media_repo) << "\n"
       "\n"
       "# Serve media uploaded from now on only on the authenticated routes\n"
       "# (/_matrix/client/v1/media). Default: " << yes_no(d.media.enable_authenticated_media) << ".\n"
       "#enable_authenticated_media: " << yes_no(d.media.enable_authenticated_media) << "\n"
       "\n"
       "# Delete media nobody used for this long (local: not avatars, protected or\n"
       "# quarantined media). Default: kept.\n"
       "#media_retention:\n"
       "#  local_media_lifetime: 90d\n"
       "#  remote_media_lifetime: 14d\n"
       "\n"
       "# URL previews: pages are fetched by the server, so list every address it\n"
       "# must never reach (required with url_preview_enabled). Default: false.\n"
       "#url_preview_enabled: false\n"
       "#url_preview_ip_range_blacklist:\n"
       "#  - '127.0.0.0/8'\n"
       "#  - '10.0.0.0/8'\n"
       "#  - '172.16.0.0/12'\n"
       "#  - '192.168.0.0/16'\n"
       "#  - '100.64.0.0/10'\n"
       "#  - '169.254.0.0/16'\n"
       "#  - '::1/128'\n"
       "#  - 'fe80::/10'\n"
       "#  - 'fc00::/7'\n"
       "\n"
       "## Registration ##\n"
       "\n"
       "# Let anyone create an account. Default: false.\n"
       "enable_registration: " << yes_no(enable_registration) << "\n"
       "\n"
       "# Axon has no captcha, email or token checks, so open registration also needs\n"
       "# this set to true. Default: false.\n"
    << (enable_registration ? "" : "#") << "enable_registration_without_verification: "
    << yes_no(enable_registration) << "\n"
       "\n"
       "# Lets whoever knows it create accounts through the admin API (for example\n"
       "# with register_new_matrix_user). Default: none.\n";
  if (registration_shared_secret.empty())
    o << "#registration_shared_secret: \"<a long random string>\"\n";
  else
    o << "registration_shared_secret: " << quoted(registration_shared_secret) << "\n";
  o << "\n"
       "# Let clients use the server without an account. Default: "
    << yes_no(d.allow_guest_access) << ".\n"
       "#allow_guest_access: " << yes_no(d.allow_guest_access) << "\n"
       "\n"
       "## Presence ##\n"
       "\n"
       "#presence:\n"
       "#  enabled: " << yes_no(d.presence_enabled) << "\n"
       "\n"
       "## User directory ##\n"
       "\n"
       "# enabled: false answers every search with no results. search_all_users:\n"
       "# every local user is searchable, not only those sharing a room with the\n"
       "# searcher or in a public room. prefer_local_users: rank this server's\n"
       "# users first.\n"
       "#user_directory:\n"
       "#  enabled: " << yes_no(d.user_directory.enabled) << "\n"
       "#  search_all_users: " << yes_no(d.user_directory.search_all_users) << "\n"
       "#  prefer_local_users: " << yes_no(d.user_directory.prefer_local_users) << "\n"
       "\n"
       "## HTTP listeners (Axon's own limits, per listener) ##\n"
       "\n"
       "# request_threads run handlers (a waiting long-poll holds none);\n"
       "# max_connections open at once (newer ones are closed at once); the\n"
       "# request line and headers at most max_header_size bytes; an idle\n"
       "# connection is closed after keep_alive_timeout_ms, a request whose\n"
       "# headers take longer than header_timeout_ms from its first byte, or\n"
       "# its body longer than body_timeout_ms, is dropped (slow clients).\n"
       "#http:\n"
       "#  request_threads: " << d.http.request_threads << "\n"
       "#  max_connections: " << d.http.max_connections << "\n"
       "#  max_header_size: " << d.http.max_header_size << "\n"
       "#  keep_alive_timeout_ms: " << d.http.keep_alive_timeout_ms << "\n"
       "#  header_timeout_ms: " << d.http.header_timeout_ms << "\n"
       "#  body_timeout_ms: " << d.http.body_timeout_ms << "\n"
       "\n"
       "## Outbound HTTP client (Axon's own; replication now, federation next) ##\n"
       "\n"
       "# One client per instance. Connecting (DNS, TCP and the TLS handshake)\n"
       "# may take connect_timeout_ms, a whole request request_timeout_ms\n"
       "# (waiting for a free connection included). At most\n"
       "# max_connections_per_destination connections to one host and port (or\n"
       "# unix socket) and max_connections in all; further requests queue. An\n"
       "# idle kept-alive connection is closed after idle_timeout_ms; a response\n"
       "# body over max_response_size fails the request. TLS certificates are\n"
       "# checked against the system's CAs and the PEM files in ca_files (e.g.\n"
       "# the CA of TLS replication listeners, instance_map tls: true).\n"
       "#http_client:\n"
       "#  connect_timeout_ms: " << d.http_client.connect_timeout_ms << "\n"
       "#  request_timeout_ms: " << d.http_client.request_timeout_ms << "\n"
       "#  max_connections_per_destination: " << d.http_client.max_connections_per_destination << "\n"
       "#  max_connections: " << d.http_client.max_connections << "\n"
       "#  idle_timeout_ms: " << d.http_client.idle_timeout_ms << "\n"
       "#  max_response_size: " << size_text(d.http_client.max_response_size) << "\n"
       "#  ca_files: []\n"
       "\n"
       "## Rate limits (defaults shown) ##\n"
       "\n"
       "#rc_message: " << limit(rc.message) << "\n"
       "#rc_registration: " << limit(rc.registration) << "\n"
       "#rc_login:\n"
       "#  address: " << limit(rc.login_address) << "\n"
       "#  account: " << limit(rc.login_account) << "\n"
       "#  failed_attempts: " << limit(rc.login_failed_attempts) << "\n"
       "#rc_joins:\n"
       "#  local: " << limit(rc.joins_local) << "\n"
       "#  remote: " << limit(rc.joins_remote) << "\n"
       "#rc_invites:\n"
       "#  per_room: " << limit(rc.invites_per_room) << "\n"
       "#  per_user: " << limit(rc.invites_per_user) << "\n"
       "\n"
       "## Workers ##\n"
       "\n"
       "# To split the server into several processes, as with Synapse's workers: give\n"
       "# the main process an http listener with the `replication` resource on a\n"
       "# private address, enable Redis, list every instance that others must reach\n"
       "# in instance_map, and start each worker with this file plus its own\n"
       "# (worker_app: generic_worker, worker_name, worker_listeners).\n"
       "# Example:\n"
       "#redis:\n"
       "#  enabled: true\n"
       "#  host: " << d.redis.host << "\n"
       "#  port: " << d.redis.port << "\n"
       "#instance_map:\n"
       "#  main:\n"
       "#    host: localhost\n"
       "#    port: 9093\n"
       "#  event_persister1:\n"
       "#    host: localhost\n"
       "#    port: 9094\n"
       "#stream_writers:\n"
       "#  events: [event_persister1]\n"
       "#worker_replication_secret: \"<a long random string>\"\n";
  return o.str();
}

} // namespace axon::config
