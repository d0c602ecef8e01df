// tests/unit/config_test.cpp -- homeserver.yaml loading, validation, sharding, sample config.
#include <doctest/doctest.h>

#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include "config/homeserver_config.hpp"
#include "config/layout.hpp"
#include "config/size.hpp"

#include <nlohmann/json.hpp>

using namespace axon::config;

namespace {

load_result load_one(const std::string& yaml, const std::string& name = "homeserver.yaml") {
  return load_config_from_strings({{name, yaml}});
}

std::string all_errors(const load_result& r) {
  std::string s;
  for (const auto& e : r.errors)
    s += e.to_string() + "\n";
  return s;
}

std::string all_warnings(const load_result& r) {
  std::string s;
  for (const auto& w : r.warnings)
    s += w + "\n";
  return s;
}

bool has_error(const load_result& r, const std::string& file, const std::string& key) {
  for (const auto& e : r.errors)
    if (e.file == file && e.key == key)
      return true;
  return false;
}

bool has_warning(const load_result& r, const std::string& text) {
  for (const auto& w : r.warnings)
    if (w.find(text) != std::string::npos)
      return true;
  return false;
}

/// Each (yaml, key): the config after "server_name: example.com" is refused,
/// naming `key` in hs.yaml.
void check_refused(const std::vector<std::pair<std::string, std::string>>& cases) {
  for (const auto& [yaml, key] : cases) {
    const auto r = load_one("server_name: example.com\n" + yaml, "hs.yaml");
    CHECK_FALSE_MESSAGE(r.config, yaml);
    CHECK_MESSAGE(has_error(r, "hs.yaml", key), yaml, all_errors(r));
  }
}

/// A fresh directory under the system temp dir, removed on destruction.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("axon_config_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const auto p = path / name;
    std::ofstream(p) << text;
    return p.string();
  }
};

// A homeserver.yaml as a Synapse admin running workers would have it.
const char* realistic_synapse_yaml = R"yaml(
# Synapse homeserver.yaml
server_name: "matrix.example.org"
pid_file: /data/homeserver.pid
public_baseurl: https://matrix.example.org
report_stats: true
log_config: "/data/matrix.example.org.log.config"
media_store_path: /data/media_store
signing_key_path: "/data/matrix.example.org.signing.key"
macaroon_secret_key: "aaaa"
form_secret: "bbbb"
registration_shared_secret: "s3cret"
trusted_key_servers:
  - server_name: "matrix.org"
suppress_key_server_warning: true
url_preview_enabled: false
turn_uris: []
enable_metrics: false
max_upload_size: 100M
default_room_version: "10"
enable_registration: false
presence:
  enabled: false
listeners:
  - port: 8008
    tls: false
    type: http
    x_forwarded: true
    bind_addresses: ['::1', '127.0.0.1']
    resources:
      - names: [client, federation]
        compress: true
  - port: 9093
    bind_address: '127.0.0.1'
    type: http
    resources:
      - names: [replication]
  - path: /run/synapse/main.sock
    type: http
    resources:
      - names: [client]
database:
  name: psycopg2
  txn_limit: 10000
  args:
    user: synapse_user
    password: "pa'ss"
    dbname: synapse
    host: db.internal
    port: 5432
    cp_min: 3
    cp_max: 20
    sslmode: require
    keepalives_idle: 10
rc_message:
  per_second: 0.5
  burst_count: 15
rc_login:
  address:
    per_second: 0.1
    burst_count: 4
rc_joins:
  local:
    per_second: 1
redis:
  enabled: true
  host: redis.internal
  port: 6380
  dbid: 2
worker_replication_secret: "repl-secret"
instance_map:
  main:
    host: 10.0.0.1
    port: 9093
  event_persister1:
    host: 10.0.0.2
    port: 9094
  event_persister2:
    path: /run/synapse/ep2.sock
  sender1:
    host: 10.0.0.3
    port: 9095
    tls: true
stream_writers:
  events:
    - event_persister1
    - event_persister2
  typing: event_persister1
  receipts: [event_persister1, event_persister2]
run_background_tasks_on: event_persister2
federation_sender_instances: [sender1]
pusher_instances:
  - main
update_user_directory_from_worker: event_persister1
outbound_federation_restricted_to: [sender1]
)yaml";

} // namespace

TEST_CASE("parse_size follows Synapse") {
  CHECK(parse_size("1024") == 1024);
  CHECK(parse_size("10K") == 10 * 1024);
  CHECK(parse_size("50M") == 50 * 1024 * 1024);
  CHECK(parse_size("1G") == int64_t{1} << 30);
  CHECK(parse_size("2T") == int64_t{2} << 40);
  CHECK(parse_size("0") == 0);
  CHECK(parse_size("10k") == 10 * 1024);
  CHECK_FALSE(parse_size(""));
  CHECK_FALSE(parse_size("M"));
  CHECK_FALSE(parse_size("abc"));
  CHECK_FALSE(parse_size("-5"));
  CHECK_FALSE(parse_size("1.5M"));
  CHECK_FALSE(parse_size("10Q"));
  CHECK_FALSE(parse_size("99999999999999999999"));
  CHECK_FALSE(parse_size("9999999999T"));
  CHECK(parse_size(YAML::Load("50M")) == 50 * 1024 * 1024);
  CHECK(parse_size(YAML::Load("4096")) == 4096);
  CHECK(parse_size(YAML::Load("'10K'")) == 10 * 1024);
  CHECK_FALSE(parse_size(YAML::Load("[1]")));
  CHECK_FALSE(parse_size(YAML::Load("~")));
}

TEST_CASE("stream_writer_for matches Synapse's sharding") {
  // Expected indices from python3:
  //   int.from_bytes(hashlib.sha256(k.encode()).digest(), 'little') % n
  const std::vector<std::string> w2{"w0", "w1"}, w3{"w0", "w1", "w2"},
      w5{"w0", "w1", "w2", "w3", "w4"}, w7{"w0", "w1", "w2", "w3", "w4", "w5", "w6"};
  CHECK(stream_writer_for(w2, "!abc:example.com") == "w0");
  CHECK(stream_writer_for(w5, "!abc:example.com") == "w1");
  CHECK(stream_writer_for(w7, "@alice:example.com") == "w4");
  CHECK(stream_writer_for(w2, "matrix.org") == "w1");
  CHECK(stream_writer_for(w3, "matrix.org") == "w2");
  CHECK(stream_writer_for(w5, "matrix.org") == "w4");
  CHECK(stream_writer_for(w7, "matrix.org") == "w6");
  CHECK(stream_writer_for(w5, "") == "w4");
  CHECK(stream_writer_for(w7, "") == "w3");
  CHECK(stream_writer_for(w3, "!room:a") == "w0");
  CHECK(stream_writer_for(w5, "!room:a") == "w2");
  CHECK(stream_writer_for({"only"}, "anything") == "only");
  CHECK(stream_writer_for({}, "anything") == "");
}

TEST_CASE("a minimal config gets Synapse's defaults") {
  const auto r = load_one("server_name: example.com\n");
  REQUIRE_MESSAGE(r.config, all_errors(r));
  // Synapse's one warning for a minimal config: keys fetched via matrix.org.
  REQUIRE_MESSAGE(r.warnings.size() == 1, all_warnings(r));
  CHECK(has_warning(r, "trusted_key_servers is not set"));
  REQUIRE(r.config->trusted_key_servers.size() == 1);
  CHECK(r.config->trusted_key_servers[0].server_name == "matrix.org");
  CHECK(r.config->key_refresh_interval_ms == 86400000);
  CHECK(r.config->old_signing_keys.empty());
  const auto& c = *r.config;
  CHECK(c.server_name == "example.com");
  CHECK(c.public_baseurl == "https://example.com/");
  CHECK(c.signing_key_path == "example.com.signing.key");
  CHECK(c.media_store_path == "media_store");
  CHECK(c.default_room_version == "11");
  CHECK(c.max_upload_size == 50 * 1024 * 1024);
  CHECK(c.max_event_size == 65536);
  CHECK_FALSE(c.enable_registration);
  CHECK(c.enable_media_repo);
  CHECK(c.presence_enabled);
  CHECK(c.database.name == "sqlite3");
  CHECK(c.database.sqlite_path == "homeserver.db");
  CHECK(c.database.cp_min == 1);
  CHECK(c.database.cp_max == 1);
  CHECK(c.rc.message.per_second == doctest::Approx(0.2));
  CHECK(c.rc.message.burst_count == 10);
  CHECK(c.rc.login_failed_attempts.per_second == doctest::Approx(0.17));
  CHECK(c.rc.invites_per_user.burst_count == 5);
  CHECK_FALSE(c.redis.enabled);
  CHECK(c.redis.port == 6379);
  CHECK(c.instance_map.empty());
  for (const auto& s : stream_writers_config::stream_names())
    CHECK(*c.stream_writers.find(s) == std::vector<std::string>{"main"});
  CHECK(c.stream_writers.find("nope") == nullptr);
  CHECK(c.run_background_tasks_on == std::vector<std::string>{"main"});
  CHECK(c.pusher_instances == std::vector<std::string>{"main"});
  CHECK(c.federation_sender_instances == std::vector<std::string>{"main"});
  CHECK(c.update_user_directory_from_worker == "main");
  CHECK(c.notify_appservices_from_worker == "main");
  CHECK_FALSE(c.is_worker());
  CHECK(c.worker_name == "main");
  CHECK(c.instance_name() == "main");
  CHECK(c.listeners.empty());
}

TEST_CASE("a realistic Synapse homeserver.yaml loads without warnings") {
  const auto r = load_one(realistic_synapse_yaml);
  REQUIRE_MESSAGE(r.config, all_errors(r));
  CHECK_MESSAGE(r.warnings.empty(), all_warnings(r));
  const auto& c = *r.config;
  CHECK(c.server_name == "matrix.example.org");
  CHECK(c.public_baseurl == "https://matrix.example.org/");
  CHECK(c.pid_file == "/data/homeserver.pid");
  CHECK(c.report_stats);
  CHECK(c.max_upload_size == 100 * 1024 * 1024);
  CHECK(c.default_room_version == "10");
  CHECK_FALSE(c.presence_enabled);
  CHECK(c.registration_shared_secret == "s3cret");

  REQUIRE(c.listeners.size() == 3);
  const auto& l0 = c.listeners[0];
  CHECK(l0.port == 8008);
  CHECK(l0.x_forwarded);
  CHECK_FALSE(l0.tls);
  CHECK(l0.bind_addresses == std::vector<std::string>{"::1", "127.0.0.1"});
  REQUIRE(l0.resources.size() == 1);
  CHECK(l0.resources[0].names == std::vector<std::string>{"client", "federation"});
  CHECK(l0.resources[0].compress);
  CHECK(l0.has_resource("federation"));
  CHECK_FALSE(l0.has_resource("replication"));
  CHECK(c.listeners[1].bind_addresses == std::vector<std::string>{"127.0.0.1"});
  CHECK(c.listeners[1].has_resource("replication"));
  CHECK_FALSE(c.listeners[1].x_forwarded);
  CHECK(c.listeners[2].path == "/run/synapse/main.sock");
  CHECK(c.listeners[2].port == 0);
  CHECK(c.listeners[2].x_forwarded); // Synapse's default for unix sockets

  const auto& db = c.database;
  CHECK(db.is_postgres());
  CHECK(db.pg_user == "synapse_user");
  CHECK(db.pg_database == "synapse");
  CHECK(db.pg_port == "5432");
  CHECK(db.cp_min == 3);
  CHECK(db.cp_max == 20);
  CHECK(db.pg_conninfo() ==
        "user='synapse_user' password='pa\\'ss' dbname='synapse' host='db.internal' "
        "port='5432' keepalives_idle='10' sslmode='require'");

  CHECK(c.rc.message.per_second == doctest::Approx(0.5));
  CHECK(c.rc.message.burst_count == 15);
  CHECK(c.rc.login_address.per_second == doctest::Approx(0.1));
  CHECK(c.rc.login_address.burst_count == 4);
  CHECK(c.rc.login_account.per_second == doctest::Approx(0.003)); // untouched default
  CHECK(c.rc.joins_local.per_second == doctest::Approx(1.0));
  CHECK(c.rc.joins_local.burst_count == 10);

  CHECK(c.redis.enabled);
  CHECK(c.redis.host == "redis.internal");
  CHECK(c.redis.port == 6380);
  CHECK(c.redis.dbid == 2);

  REQUIRE(c.instance_map.size() == 4);
  CHECK(c.instance_map.at("main").host == "10.0.0.1");
  CHECK(c.instance_map.at("main").port == 9093);
  CHECK(c.instance_map.at("event_persister2").path == "/run/synapse/ep2.sock");
  CHECK(c.instance_map.at("sender1").tls);
  CHECK(c.stream_writers.events ==
        std::vector<std::string>{"event_persister1", "event_persister2"});
  CHECK(c.stream_writers.typing == std::vector<std::string>{"event_persister1"});
  CHECK(c.stream_writers.receipts.size() == 2);
  CHECK(c.stream_writers.to_device == std::vector<std::string>{"main"});
  CHECK(c.worker_replication_secret == "repl-secret");
  CHECK(c.run_background_tasks_on == std::vector<std::string>{"event_persister2"});
  CHECK(c.federation_sender_instances == std::vector<std::string>{"sender1"});
  CHECK(c.pusher_instances == std::vector<std::string>{"main"});
  CHECK(c.update_user_directory_from_worker == "event_persister1");
  CHECK(c.outbound_federation_restricted_to == std::vector<std::string>{"sender1"});
  CHECK_FALSE(c.is_worker());
}

TEST_CASE("a worker file is merged over the shared file") {
  const std::string worker_yaml = R"yaml(
worker_app: synapse.app.generic_worker
worker_name: event_persister1
worker_log_config: /etc/synapse/ep1.log.config
worker_pid_file: /run/ep1.pid
max_upload_size: 10M
worker_listeners:
  - type: http
    port: 9094
    resources:
      - names: [replication]
  - type: http
    port: 8083
    x_forwarded: true
    resources:
      - names: [client, federation]
)yaml";
  const auto r = load_config_from_strings(
      {{"homeserver.yaml", realistic_synapse_yaml}, {"workers/ep1.yaml", worker_yaml}});
  REQUIRE_MESSAGE(r.config, all_errors(r));
  CHECK_MESSAGE(r.warnings.empty(), all_warnings(r));
  const auto& c = *r.config;
  CHECK(c.is_worker());
  CHECK(c.worker_app == "generic_worker");
  CHECK(c.worker_name == "event_persister1");
  CHECK(c.instance_name() == "event_persister1");
  CHECK(c.worker_log_config == "/etc/synapse/ep1.log.config");
  CHECK(c.worker_pid_file == "/run/ep1.pid");
  CHECK(c.max_upload_size == 10 * 1024 * 1024); // the later file wins
  CHECK(c.server_name == "matrix.example.org"); // from the shared file
  REQUIRE(c.worker_listeners.size() == 2);
  CHECK(c.worker_listeners[1].port == 8083);
  CHECK(&c.own_listeners() == &c.worker_listeners);
  CHECK(c.listeners.size() == 3);

  SUBCASE("errors name the file the key came from") {
    const auto bad = load_config_from_strings(
        {{"homeserver.yaml", realistic_synapse_yaml},
         {"workers/ep1.yaml", worker_yaml + "enable_registration: perhaps\n"}});
    CHECK_FALSE(bad.config);
    CHECK(has_error(bad, "workers/ep1.yaml", "enable_registration"));
  }
  SUBCASE("a later file replaces a whole top-level key") {
    const auto r2 = load_config_from_strings(
        {{"homeserver.yaml", realistic_synapse_yaml},
         {"workers/ep1.yaml", worker_yaml + "rc_message:\n  burst_count: 99\n"}});
    REQUIRE_MESSAGE(r2.config, all_errors(r2));
    CHECK(r2.config->rc.message.burst_count == 99);
    CHECK(r2.config->rc.message.per_second == doctest::Approx(0.2)); // not 0.5: replaced
  }
  SUBCASE("historical worker app names are accepted with or without the prefix") {
    for (const char* app : {"synapse.app.client_reader", "federation_reader", "synchrotron",
                            "synapse.app.event_creator", "frontend_proxy", "media_repository"}) {
      const auto r3 = load_config_from_strings(
          {{"homeserver.yaml", realistic_synapse_yaml},
           {"w.yaml", std::string("worker_app: ") + app + "\nworker_name: w9\n"}});
      CHECK_MESSAGE(r3.config, app, all_errors(r3));
    }
    const auto r4 = load_config_from_strings(
        {{"homeserver.yaml", realistic_synapse_yaml},
         {"w.yaml", "worker_app: synapse.app.homeserver\n"}});
    REQUIRE_MESSAGE(r4.config, all_errors(r4));
    CHECK_FALSE(r4.config->is_worker());
  }
}

TEST_CASE("each invalid value is an error naming its key and file") {
  struct bad_case {
    std::string yaml;
    std::string key;
  };
  const std::vector<bad_case> cases = {
      {"listeners:\n  - port: abc\n", "listeners[0].port"},
      {"listeners:\n  - port: 70000\n", "listeners[0].port"},
      {"listeners:\n  - port: \"8008\"\n", "listeners[0].port"},
      {"listeners:\n  - type: http\n", "listeners[0]"},
      {"listeners:\n  - port: 8008\n    path: /x.sock\n", "listeners[0]"},
      {"listeners:\n  - port: 8008\n    type: ftp\n", "listeners[0].type"},
      {"listeners:\n  - port: 8008\n    type: replication\n", "listeners[0].type"},
      {"listeners:\n  - port: 8008\n    tls: true\n", "listeners[0].tls"},
      {"listeners:\n  - port: 8008\n    resources:\n      - names: [client, bogus]\n",
       "listeners[0].resources[0].names"},
      {"listeners:\n  - port: 8008\n    x_forwarded: sometimes\n", "listeners[0].x_forwarded"},
      {"listeners:\n  - port: 8008\n  - port: 8008\n", "listeners[1].port"},
      {"listeners: 8008\n", "listeners"},
      {"enable_registration: maybe\n", "enable_registration"},
      {"enable_registration: true\n", "enable_registration"},
      {"allow_guest_access: [1]\n", "allow_guest_access"},
      {"server_name: \"bad name!\"\n", "server_name"},
      {"server_name: \"example.com:99999\"\n", "server_name"},
      {"server_name: \"[::zz]\"\n", "server_name"},
      {"public_baseurl: ftp://example.com\n", "public_baseurl"},
      {"public_baseurl: \"\"\n", "public_baseurl"},
      {"default_room_version: \"12\"\n", "default_room_version"},
      {"max_upload_size: 10Q\n", "max_upload_size"},
      {"max_upload_size: 0\n", "max_upload_size"},
      {"database:\n  name: psycopg\n", "database.name"},
      {"database:\n  name: psycopg2\n  args:\n    cp_min: 10\n    cp_max: 5\n",
       "database.args.cp_min"},
      {"database:\n  name: psycopg2\n  args:\n    port: fivefour\n", "database.args.port"},
      {"database:\n  name: sqlite3\n  args: {}\n", "database.args.database"},
      {"databases:\n  main: {}\n", "databases"},
      {"rc_message:\n  per_second: -1\n", "rc_message.per_second"},
      {"rc_message:\n  burst_count: lots\n", "rc_message.burst_count"},
      {"rc_login:\n  address:\n    per_second: fast\n", "rc_login.address.per_second"},
      {"rc_invites: 5\n", "rc_invites"},
      {"redis:\n  enabled: true\n  port: x\n", "redis.port"},
      {"redis:\n  use_tls: true\n", "redis.use_tls"},
      {"instance_map:\n  w1:\n    host: localhost\n", "instance_map.w1"},
      {"instance_map:\n  w1:\n    host: h\n    port: 1\n    path: /s\n", "instance_map.w1"},
      {"instance_map:\n  w1: [1]\n", "instance_map.w1"},
      {"stream_writers:\n  events: w1\n", "stream_writers.events"},
      {"stream_writers:\n  events: []\n", "stream_writers.events"},
      {"stream_writers:\n  bogus: main\n", "stream_writers.bogus"},
      {"instance_map:\n  a: {host: h, port: 1}\n  b: {host: h, port: 2}\n"
       "stream_writers:\n  typing: [a, b]\n",
       "stream_writers.typing"},
      {"instance_map:\n  a: {host: h, port: 1}\nstream_writers:\n  events: [a, a]\n",
       "stream_writers.events"},
      {"run_background_tasks_on: [a, b]\n", "run_background_tasks_on"},
      {"worker_app: synapse.app.bogus\n", "worker_app"},
      {"worker_app: generic_worker\n", "worker_name"},
      {"worker_app: generic_worker\nworker_name: main\n", "worker_name"},
      {"worker_name: w1\n", "worker_name"},
      {"worker_app: generic_worker\nworker_name: w1\n", "instance_map"},
      {"worker_app: generic_worker\nworker_name: w1\ninstance_map:\n  main: {host: h, port: 1}\n",
       "database.name"},
      {"worker_app: generic_worker\nworker_name: w1\nworker_replication_host: h\n"
       "instance_map:\n  main: {host: h, port: 1}\n",
       "worker_replication_host"},
      {"worker_replication_port: 9092\n", "worker_replication_port"},
      {"worker_replication_secret: a\nworker_replication_secret_path: /nonexistent\n",
       "worker_replication_secret_path"},
      {"worker_replication_secret_path: /nonexistent/axon/secret\n",
       "worker_replication_secret_path"},
      {"registration_shared_secret_path: /nonexistent/axon/secret\n",
       "registration_shared_secret_path"},
      {"worker_app: synapse.app.pusher\nworker_name: p1\ninstance_map:\n  main: {host: h, port: 1}\n"
       "database: {name: psycopg2}\n",
       "start_pushers"},
      {"notify_appservices: false\nnotify_appservices_from_worker: main\n",
       "notify_appservices_from_worker"},
      {"instance_map:\n  s1: {host: h, port: 1}\noutbound_federation_restricted_to: [s1]\n",
       "outbound_federation_restricted_to"},
      {"worker_replication_secret: x\noutbound_federation_restricted_to: [s2]\n",
       "outbound_federation_restricted_to"},
      {"presence:\n  enabled: sometimes\n", "presence.enabled"},
      {"worker_listeners:\n  - port: -1\n", "worker_listeners[0].port"},
  };
  for (const auto& c : cases) {
    const auto r = load_one("server_name: example.com\n" + c.yaml, "bad.yaml");
    CHECK_MESSAGE(!r.config, c.yaml);
    CHECK_MESSAGE(has_error(r, "bad.yaml", c.key),
                  "expected an error for ", c.key, " from:\n", c.yaml, "got:\n", all_errors(r));
  }

  SUBCASE("a missing server_name names the key") {
    const auto r = load_one("pid_file: /x\n", "hs.yaml");
    CHECK(has_error(r, "hs.yaml", "server_name"));
  }
  SUBCASE("every problem is reported at once") {
    const auto r = load_one("server_name: example.com\n"
                            "listeners:\n  - port: abc\n  - port: 8009\n    type: ftp\n"
                            "enable_registration: maybe\n"
                            "default_room_version: \"0\"\n",
                            "hs.yaml");
    CHECK_FALSE(r.config);
    CHECK(has_error(r, "hs.yaml", "listeners[0].port"));
    CHECK(has_error(r, "hs.yaml", "listeners[1].type"));
    CHECK(has_error(r, "hs.yaml", "enable_registration"));
    CHECK(has_error(r, "hs.yaml", "default_room_version"));
  }
  SUBCASE("to_string reads file: key: message, with the line") {
    const auto r = load_one("server_name: example.com\nenable_registration: maybe\n", "hs.yaml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].to_string() ==
          "hs.yaml: enable_registration: expected true or false, got 'maybe' (line 2)");
  }
}

TEST_CASE("YAML syntax errors name the file and line") {
  const auto r = load_config_from_strings(
      {{"ok.yaml", "server_name: example.com\n"},
       {"broken.yaml", "listeners:\n  - port: 8008\n    resources: [client\n"}});
  CHECK_FALSE(r.config);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].file == "broken.yaml");
  CHECK(r.errors[0].message.find("line ") != std::string::npos);
}

TEST_CASE("odd documents give errors, never exceptions") {
  for (const char* yaml :
       {"server_name: example.com\nlisteners: [[[]]]\n", "? [a]\n: b\nserver_name: x.org\n",
        "server_name: example.com\nstream_writers: [1, 2]\n",
        "server_name: example.com\ninstance_map: {w: [1]}\n",
        "server_name: example.com\nrc_login: 5\n", "server_name: [a]\n",
        "server_name: example.com\ndatabase: {name: psycopg2, args: [1]}\n",
        "server_name: example.com\nlisteners:\n  - {port: 1, resources: [[x]]}\n",
        "server_name: example.com\nredis: {password_path: [1]}\n", "- just\n- a list\n",
        "server_name: example.com\nstream_writers: {events: {a: 1}}\n"}) {
    load_result r;
    CHECK_NOTHROW(r = load_one(yaml));
    CHECK_MESSAGE((r.config.has_value() == r.errors.empty()), yaml);
    CHECK_MESSAGE(!r.errors.empty(), yaml);
  }
}

TEST_CASE("unknown keys are warnings; Synapse's known keys are silent") {
  const auto r = load_one("server_name: example.com\n"
                          "frobnicate: 1\n"
                          "macaroon_secret_key: x\n"
                          "form_secret: y\n"
                          "trusted_key_servers: [{server_name: matrix.org}]\n"
                          "suppress_key_server_warning: true\n"
                          "url_preview_enabled: true\n"
                          "url_preview_ip_range_blacklist: [10.0.0.0/8]\n"
                          "experimental_features: {}\n"
                          "registration_requires_token: false\n",
                          "hs.yaml");
  REQUIRE_MESSAGE(r.config, all_errors(r));
  REQUIRE_MESSAGE(r.warnings.size() == 1, all_warnings(r));
  CHECK(r.warnings[0] == "unknown key frobnicate in hs.yaml");

  SUBCASE("ignoring a key that restricts access is worth a warning") {
    const auto r2 = load_one("server_name: example.com\n"
                             "trusted_key_servers: []\n"
                             "registration_requires_token: true\n"
                             "app_service_config_files: [/etc/bridge.yaml]\n",
                             "hs.yaml");
    REQUIRE_MESSAGE(r2.config, all_errors(r2));
    CHECK(r2.warnings.size() == 2);
    CHECK(has_warning(r2, "registration_requires_token in hs.yaml is not supported by Axon"));
    CHECK(has_warning(r2, "app_service_config_files"));
  }
  SUBCASE("empty files and repeated keys are warnings") {
    const auto r3 = load_config_from_strings(
        {{"a.yaml", "server_name: example.com\npid_file: /a\npid_file: /b\n"}, {"b.yaml", ""}});
    REQUIRE_MESSAGE(r3.config, all_errors(r3));
    CHECK(r3.config->pid_file == "/b");
    CHECK(has_warning(r3, "duplicate key pid_file in a.yaml"));
    CHECK(has_warning(r3, "b.yaml is empty"));
  }
  SUBCASE("metrics listeners parse but are not served") {
    const auto r4 = load_one("server_name: example.com\nlisteners:\n  - port: 9000\n"
                             "    type: metrics\n");
    REQUIRE_MESSAGE(r4.config, all_errors(r4));
    CHECK(has_warning(r4, "not supported by Axon"));
    CHECK(r4.config->listeners.at(0).bind_addresses == std::vector<std::string>{"0.0.0.0"});
  }
}

TEST_CASE("YAML typing follows what Synapse accepts") {
  const auto r = load_one("server_name: example.com\n"
                          "enable_registration: \"yes\"\n"
                          "enable_registration_without_verification: 1\n"
                          "allow_guest_access: Off\n"
                          "default_room_version: 11\n"
                          "max_upload_size: 1048576\n"
                          "listeners:\n  - port: 0x1F48\n    path_is_not_a_key: 1\n"
                          "  - path: /run/a.sock\n    mode: 0660\n"
                          "rc_registration: {per_second: 1e-1, burst_count: 3.0}\n"
                          "stream_writers: {events: master}\n"
                          "presence: {enabled: untracked}\n");
  REQUIRE_MESSAGE(r.config, all_errors(r));
  const auto& c = *r.config;
  CHECK(c.enable_registration);
  CHECK(c.enable_registration_without_verification);
  CHECK_FALSE(c.allow_guest_access);
  CHECK(c.default_room_version == "11");
  CHECK(c.max_upload_size == 1048576);
  CHECK(c.listeners.at(0).port == 8008);
  CHECK(c.listeners.at(0).bind_addresses == std::vector<std::string>{"::", "0.0.0.0"});
  CHECK(c.listeners.at(1).mode == 0660);
  CHECK(c.rc.registration.per_second == doctest::Approx(0.1));
  CHECK(c.rc.registration.burst_count == 3);
  CHECK(c.stream_writers.events == std::vector<std::string>{"main"});
  CHECK(c.presence_enabled);
}

TEST_CASE("legacy worker duty options") {
  const std::string shared = "server_name: example.com\n"
                             "database: {name: psycopg2}\n"
                             "redis: {enabled: true}\n"
                             "instance_map:\n  main: {host: h, port: 1}\n";
  SUBCASE("a synapse.app.pusher worker with start_pushers: false pushes") {
    const auto r = load_config_from_strings(
        {{"hs.yaml", shared + "start_pushers: false\n"},
         {"w.yaml", "worker_app: synapse.app.pusher\nworker_name: pusher1\n"}});
    REQUIRE_MESSAGE(r.config, all_errors(r));
    CHECK(r.config->worker_app == "pusher");
    CHECK(r.config->pusher_instances == std::vector<std::string>{"pusher1"});
  }
  SUBCASE("the main process with start_pushers: false leaves pushing to others") {
    const auto r = load_one(shared + "start_pushers: false\nsend_federation: false\n");
    REQUIRE_MESSAGE(r.config, all_errors(r));
    CHECK(r.config->pusher_instances.empty());
    CHECK(r.config->federation_sender_instances.empty());
  }
  SUBCASE("notify_appservices: false hands the duty to an appservice worker") {
    const auto main_cfg = load_one(shared + "notify_appservices: false\n");
    REQUIRE_MESSAGE(main_cfg.config, all_errors(main_cfg));
    CHECK(main_cfg.config->notify_appservices_from_worker == "");
    CHECK(has_warning(main_cfg, "notify_appservices in homeserver.yaml is deprecated"));
    const auto worker_cfg = load_config_from_strings(
        {{"hs.yaml", shared + "notify_appservices: false\n"},
         {"w.yaml", "worker_app: synapse.app.appservice\nworker_name: as1\n"}});
    REQUIRE_MESSAGE(worker_cfg.config, all_errors(worker_cfg));
    CHECK(worker_cfg.config->notify_appservices_from_worker == "as1");
  }
  SUBCASE("an empty designated worker means main, as in Synapse") {
    const auto r = load_one(shared + "update_user_directory_from_worker:\n");
    REQUIRE_MESSAGE(r.config, all_errors(r));
    CHECK(r.config->update_user_directory_from_worker == "main");
  }
}

TEST_CASE("load_config reads files, directories and secret files") {
  temp_dir dir;
  const auto secret = dir.write("repl.secret", "from-file\n");
  const auto redis_secret = dir.write("redis.secret", "redis-pw\n");
  const auto hs = dir.write("homeserver.yaml",
                            "server_name: example.com\n"
                            "worker_replication_secret_path: " + secret + "\n"
                            "redis:\n  enabled: true\n  password_path: " + redis_secret + "\n");
  std::filesystem::create_directories(dir.path / "conf.d");
  dir.write("conf.d/20-b.yaml", "pid_file: /b.pid\n");
  dir.write("conf.d/10-a.yaml", "pid_file: /a.pid\nmax_upload_size: 1K\n");
  dir.write("conf.d/notes.txt", "not: yaml: at all\n");

  const auto r = load_config({hs, (dir.path / "conf.d").string()});
  REQUIRE_MESSAGE(r.config, all_errors(r));
  const auto& c = *r.config;
  CHECK(c.worker_replication_secret == "from-file");
  CHECK(c.redis.password == "redis-pw");
  CHECK(c.pid_file == "/b.pid"); // 20-b.yaml sorts after 10-a.yaml
  CHECK(c.max_upload_size == 1024);
  // Like Synapse, the directory of the last file gives default file names.
  CHECK(c.config_dir == (dir.path / "conf.d").lexically_normal().string());
  CHECK(c.signing_key_path == c.config_dir + "/example.com.signing.key");

  const auto missing = load_config({hs, (dir.path / "nope.yaml").string()});
  CHECK_FALSE(missing.config);
  CHECK(has_error(missing, (dir.path / "nope.yaml").string(), ""));
  CHECK_FALSE(load_config({}).config);
}

TEST_CASE("the sample config loads back cleanly") {
  const auto text = sample_config("example.com", "/var/lib/axon", "topsecret", false);
  const auto r = load_one(text);
  REQUIRE_MESSAGE(r.config, all_errors(r), text);
  CHECK_MESSAGE(r.warnings.empty(), all_warnings(r));
  const auto& c = *r.config;
  CHECK(c.server_name == "example.com");
  CHECK(c.pid_file == "/var/lib/axon/homeserver.pid");
  CHECK(c.signing_key_path == "/var/lib/axon/example.com.signing.key");
  CHECK(c.media_store_path == "/var/lib/axon/media_store");
  CHECK(c.database.name == "sqlite3");
  CHECK(c.database.sqlite_path == "/var/lib/axon/homeserver.db");
  CHECK(c.registration_shared_secret == "topsecret");
  CHECK_FALSE(c.enable_registration);
  REQUIRE(c.listeners.size() == 1);
  CHECK(c.listeners[0].port == 8008);
  CHECK(c.listeners[0].bind_addresses == std::vector<std::string>{"127.0.0.1"});
  CHECK(c.listeners[0].x_forwarded);
  CHECK(c.listeners[0].has_resource("client"));
  CHECK(c.listeners[0].has_resource("federation"));

  SUBCASE("with open registration, odd names and no secret") {
    const auto t2 = sample_config("localhost:8448", "/data dir/\"x\"/", "", true);
    const auto r2 = load_one(t2);
    REQUIRE_MESSAGE(r2.config, all_errors(r2), t2);
    CHECK(r2.warnings.empty());
    CHECK(r2.config->enable_registration);
    CHECK(r2.config->registration_shared_secret.empty());
    CHECK(r2.config->database.sqlite_path == "/data dir/\"x\"/homeserver.db");
  }
  SUBCASE("the checked-in sample is current") {
    const auto path = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() /
                      "config" / "homeserver.sample.yaml";
    std::ifstream in(path);
    REQUIRE_MESSAGE(in, "cannot read ", path.string());
    std::ostringstream buf;
    buf << in.rdbuf();
    const auto expected = sample_config("example.com", "/var/lib/axon", "", false);
    if (buf.str() != expected)
      std::ofstream("homeserver.sample.yaml.new") << expected;
    CHECK_MESSAGE(buf.str() == expected, "config/homeserver.sample.yaml is stale; the fresh "
                                         "output is in homeserver.sample.yaml.new in the "
                                         "test's working directory");
  }
}

TEST_CASE("user_directory keys") {
  const std::string base = "server_name: example.com\n";
  SUBCASE("defaults as Synapse") {
    const auto r = load_one(base);
    REQUIRE_MESSAGE(r.config, all_errors(r));
    CHECK(r.config->user_directory.enabled);
    CHECK_FALSE(r.config->user_directory.search_all_users);
    CHECK_FALSE(r.config->user_directory.prefer_local_users);
  }
  SUBCASE("set") {
    const auto r = load_one(base + "user_directory:\n  enabled: false\n  search_all_users: true\n"
                                   "  prefer_local_users: true\n");
    REQUIRE_MESSAGE(r.config, all_errors(r));
    CHECK_FALSE(r.config->user_directory.enabled);
    CHECK(r.config->user_directory.search_all_users);
    CHECK(r.config->user_directory.prefer_local_users);
  }
  SUBCASE("invalid values name their key") {
    auto r = load_one(base + "user_directory:\n  search_all_users: sometimes\n");
    CHECK_FALSE(r.config);
    CHECK(has_error(r, "homeserver.yaml", "user_directory.search_all_users"));
    r = load_one(base + "user_directory:\n  enabled: [1]\n");
    CHECK(has_error(r, "homeserver.yaml", "user_directory.enabled"));
    r = load_one(base + "user_directory: 3\n");
    CHECK(has_error(r, "homeserver.yaml", "user_directory"));
  }
}

TEST_CASE("http client limits") {
  const std::string base = "server_name: example.com\n";
  SUBCASE("defaults") {
    const auto r = load_one(base);
    REQUIRE_MESSAGE(r.config, all_errors(r));
    const auto& c = r.config->http_client;
    CHECK(c.connect_timeout_ms == 5000);
    CHECK(c.request_timeout_ms == 60000);
    CHECK(c.max_connections_per_destination == 32);
    CHECK(c.max_connections == 1024);
    CHECK(c.idle_timeout_ms == 60000);
    CHECK(c.max_response_size == 50 * 1024 * 1024);
    CHECK(c.ca_files.empty());
  }
  SUBCASE("set") {
    const auto ca = (std::filesystem::temp_directory_path() / "axon_config_test_ca.pem").string();
    std::ofstream(ca) << "-----BEGIN CERTIFICATE-----\n";
    const auto r = load_one(base + "http_client:\n  connect_timeout_ms: 100\n  request_timeout_ms: 2000\n"
                                   "  max_connections_per_destination: 2\n  max_connections: 10\n"
                                   "  idle_timeout_ms: 300\n  max_response_size: 1M\n"
                                   "  ca_files: [" + ca + "]\n");
    REQUIRE_MESSAGE(r.config, all_errors(r));
    const auto& c = r.config->http_client;
    CHECK(c.connect_timeout_ms == 100);
    CHECK(c.request_timeout_ms == 2000);
    CHECK(c.max_connections_per_destination == 2);
    CHECK(c.max_connections == 10);
    CHECK(c.idle_timeout_ms == 300);
    CHECK(c.max_response_size == 1024 * 1024);
    CHECK(c.ca_files == std::vector<std::string>{ca});
    std::filesystem::remove(ca);
  }
  SUBCASE("invalid values name their key") {
    auto r = load_one(base + "http_client:\n  max_connections: 0\n");
    CHECK_FALSE(r.config);
    CHECK(has_error(r, "homeserver.yaml", "http_client.max_connections"));
    r = load_one(base + "http_client:\n  connect_timeout_ms: soon\n");
    CHECK(has_error(r, "homeserver.yaml", "http_client.connect_timeout_ms"));
    r = load_one(base + "http_client:\n  max_connections_per_destination: -1\n");
    CHECK(has_error(r, "homeserver.yaml", "http_client.max_connections_per_destination"));
    r = load_one(base + "http_client:\n  max_response_size: 0\n");
    CHECK(has_error(r, "homeserver.yaml", "http_client.max_response_size"));
    r = load_one(base + "http_client:\n  ca_files: [/nonexistent/axon-ca.pem]\n");
    CHECK(has_error(r, "homeserver.yaml", "http_client.ca_files"));
    r = load_one(base + "http_client: [1]\n");
    CHECK(has_error(r, "homeserver.yaml", "http_client"));
  }
}

TEST_CASE("http listener limits") {
  const std::string base = "server_name: example.com\n";
  SUBCASE("defaults") {
    const auto r = load_one(base);
    REQUIRE_MESSAGE(r.config, all_errors(r));
    CHECK(r.config->http.request_threads == 32);
    CHECK(r.config->http.max_connections == 50000);
    CHECK(r.config->http.header_timeout_ms == 30000);
  }
  SUBCASE("set") {
    const auto r = load_one(base + "http:\n  request_threads: 4\n  max_connections: 100\n"
                                   "  max_header_size: 8192\n  keep_alive_timeout_ms: 5000\n"
                                   "  header_timeout_ms: 1000\n  body_timeout_ms: 2000\n");
    REQUIRE_MESSAGE(r.config, all_errors(r));
    CHECK(r.config->http.request_threads == 4);
    CHECK(r.config->http.max_connections == 100);
    CHECK(r.config->http.max_header_size == 8192);
    CHECK(r.config->http.keep_alive_timeout_ms == 5000);
    CHECK(r.config->http.header_timeout_ms == 1000);
    CHECK(r.config->http.body_timeout_ms == 2000);
  }
  SUBCASE("invalid values name their key") {
    auto r = load_one(base + "http:\n  request_threads: 0\n");
    CHECK_FALSE(r.config);
    CHECK(has_error(r, "homeserver.yaml", "http.request_threads"));
    r = load_one(base + "http:\n  header_timeout_ms: soon\n");
    CHECK(has_error(r, "homeserver.yaml", "http.header_timeout_ms"));
    r = load_one(base + "http: [1]\n");
    CHECK(has_error(r, "homeserver.yaml", "http"));
  }
}

TEST_CASE("federation keys: old_signing_keys, key_refresh_interval, trusted_key_servers") {
  // A real ed25519 public key (32 bytes), unpadded base64.
  const std::string pub = "Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw";
  const auto r = load_one("server_name: example.com\n"
                          "old_signing_keys:\n"
                          "  \"ed25519:old1\": {key: \"" + pub + "\", expired_ts: 1600000000000}\n"
                          "key_refresh_interval: 2h\n"
                          "trusted_key_servers:\n"
                          "  - server_name: notary.example\n"
                          "    verify_keys: {\"ed25519:a_1\": \"" + pub + "\"}\n"
                          "  - server_name: other.example\n",
                          "hs.yaml");
  REQUIRE_MESSAGE(r.config, all_errors(r));
  CHECK_MESSAGE(r.warnings.empty(), all_warnings(r));
  const auto& c = *r.config;
  REQUIRE(c.old_signing_keys.size() == 1);
  CHECK(c.old_signing_keys[0].key_id == "ed25519:old1");
  CHECK(c.old_signing_keys[0].public_key.size() == 32);
  CHECK(c.old_signing_keys[0].expired_ts == 1600000000000);
  CHECK(c.key_refresh_interval_ms == 2 * 3600 * 1000);
  REQUIRE(c.trusted_key_servers.size() == 2);
  CHECK(c.trusted_key_servers[0].server_name == "notary.example");
  CHECK(c.trusted_key_servers[0].verify_keys.at("ed25519:a_1").size() == 32);
  CHECK(c.trusted_key_servers[1].verify_keys.empty());

  SUBCASE("an empty list trusts no notary, silently") {
    const auto r2 = load_one("server_name: example.com\ntrusted_key_servers: []\n");
    REQUIRE_MESSAGE(r2.config, all_errors(r2));
    CHECK(r2.warnings.empty());
    CHECK(r2.config->trusted_key_servers.empty());
  }
  SUBCASE("matrix.org named explicitly warns unless suppressed") {
    const auto r2 = load_one("server_name: example.com\ntrusted_key_servers: [{server_name: matrix.org}]\n");
    REQUIRE_MESSAGE(r2.config, all_errors(r2));
    CHECK(has_warning(r2, "suppress_key_server_warning"));
  }
  SUBCASE("durations in Synapse's forms") {
    for (auto [text, ms] : {std::pair{"3600000", int64_t{3600000}}, {"\"30s\"", int64_t{30000}},
                            {"5m", int64_t{300000}}, {"250ms", int64_t{250}}, {"1w", int64_t{604800000}},
                            {"1y", int64_t{31536000000}}}) {
      const auto r2 = load_one(std::string("server_name: example.com\ntrusted_key_servers: []\n"
                                           "key_refresh_interval: ") + text + "\n");
      REQUIRE_MESSAGE(r2.config, all_errors(r2));
      CHECK(r2.config->key_refresh_interval_ms == ms);
    }
  }
  SUBCASE("bad values stop start-up naming the key") {
    const std::vector<std::pair<std::string, std::string>> bad = {
           {"old_signing_keys: {\"rsa:x\": {key: abc, expired_ts: 1}}\n", "old_signing_keys.rsa:x"},
           {"old_signing_keys: {\"ed25519:x\": {key: \"bm90IGEga2V5\", expired_ts: 1}}\n",
            "old_signing_keys.ed25519:x.key"},
           {"old_signing_keys: {\"ed25519:x\": {key: \"" + std::string(pub) + "\"}}\n",
            "old_signing_keys.ed25519:x.expired_ts"},
           {"key_refresh_interval: soon\n", "key_refresh_interval"},
           {"key_refresh_interval: -5\n", "key_refresh_interval"},
           {"trusted_key_servers: matrix.org\n", "trusted_key_servers"},
           {"trusted_key_servers: [{verify_keys: {}}]\n", "trusted_key_servers[0].server_name"},
           {"trusted_key_servers: [{server_name: n.example, verify_keys: {\"ed25519:k\": \"short\"}}]\n",
            "trusted_key_servers[0].verify_keys.ed25519:k"},
    };
    for (const auto& [yaml, key] : bad) {
      const auto r2 = load_one("server_name: example.com\n" + yaml, "hs.yaml");
      CHECK_FALSE_MESSAGE(r2.config, yaml);
      CHECK_MESSAGE(has_error(r2, "hs.yaml", key), yaml, all_errors(r2));
    }
  }
}

TEST_CASE("outbound filters: ip ranges in both spellings, federation_domain_whitelist") {
  const auto d = load_one("server_name: example.com\ntrusted_key_servers: []\n");
  REQUIRE_MESSAGE(d.config, all_errors(d));
  CHECK_FALSE(d.config->ip_range_blocklist_set);
  CHECK(d.config->ip_range_blocklist.size() == 19); // Synapse's default
  CHECK(d.config->ip_range_allowlist.empty());
  CHECK_FALSE(d.config->federation_domain_whitelist);
  CHECK_FALSE(d.config->federation_ip_range_blocklist);

  for (auto [block, allow] : {std::pair{"ip_range_blacklist", "ip_range_whitelist"},
                              {"ip_range_blocklist", "ip_range_allowlist"}}) {
    const auto r = load_one(std::string("server_name: example.com\ntrusted_key_servers: []\n") + block +
                            ": ['10.0.0.0/8', 'fc00::/7']\n" + allow + ": ['10.1.0.0/16']\n"
                            "federation_domain_whitelist: [a.example, 'b.example:8448']\n"
                            "federation_ip_range_blacklist: []\n");
    REQUIRE_MESSAGE(r.config, all_errors(r));
    CHECK_MESSAGE(r.warnings.empty(), all_warnings(r));
    CHECK(r.config->ip_range_blocklist == std::vector<std::string>{"10.0.0.0/8", "fc00::/7"});
    CHECK(r.config->ip_range_allowlist == std::vector<std::string>{"10.1.0.0/16"});
    CHECK(*r.config->federation_domain_whitelist == std::vector<std::string>{"a.example", "b.example:8448"});
    CHECK(r.config->federation_ip_range_blocklist->empty());
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
    {"ip_range_blacklist: ['10.0.0.0/33']\n", "ip_range_blacklist[0]"},
    {"ip_range_whitelist: 10.0.0.0/8\n", "ip_range_whitelist"},
    {"ip_range_blacklist: []\nip_range_blocklist: []\n", "ip_range_blacklist"},
    {"federation_domain_whitelist: ['not a name']\n", "federation_domain_whitelist[0]"},
    {"federation_domain_whitelist: a.example\n", "federation_domain_whitelist"},
  };
  check_refused(bad);
}

TEST_CASE("federation TLS: certificate checks, minimum version, whitelist, custom CAs") {
  const auto d = load_one("server_name: example.com\ntrusted_key_servers: []\n");
  REQUIRE_MESSAGE(d.config, all_errors(d));
  CHECK(d.config->federation_verify_certificates);
  CHECK(d.config->federation_client_minimum_tls_version == "1");
  CHECK(d.config->federation_certificate_verification_whitelist.empty());
  CHECK_FALSE(d.config->federation_custom_ca_list);

  temp_dir dir;
  const auto ca = (dir.path / "ca.pem").string();
  const auto cmd = "openssl req -x509 -newkey ed25519 -nodes -days 1 -subj /CN=test-ca -keyout '" +
                   (dir.path / "ca.key").string() + "' -out '" + ca + "' >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const auto junk = (dir.path / "junk.pem").string();
  std::ofstream(junk) << "not a certificate\n";
  const auto with_ca = load_one("server_name: example.com\ntrusted_key_servers: []\n"
                                "federation_custom_ca_list: ['" + ca + "']\n");
  REQUIRE_MESSAGE(with_ca.config, all_errors(with_ca));
  CHECK(*with_ca.config->federation_custom_ca_list == std::vector<std::string>{ca});
  const auto r = load_one("server_name: example.com\ntrusted_key_servers: []\n"
                          "federation_verify_certificates: false\n"
                          "federation_client_minimum_tls_version: 1.2\n"
                          "federation_certificate_verification_whitelist: ['lon.example.com', '*.domain.com']\n");
  REQUIRE_MESSAGE(r.config, all_errors(r));
  CHECK_FALSE(r.config->federation_verify_certificates);
  CHECK(r.config->federation_client_minimum_tls_version == "1.2");
  CHECK(r.config->federation_certificate_verification_whitelist ==
        std::vector<std::string>{"lon.example.com", "*.domain.com"});

  const std::vector<std::pair<std::string, std::string>> bad = {
    {"trusted_key_servers: []\nfederation_client_minimum_tls_version: 2\n", "federation_client_minimum_tls_version"},
    {"trusted_key_servers: []\nfederation_custom_ca_list: []\n", "federation_custom_ca_list"},
    {"trusted_key_servers: []\nfederation_custom_ca_list: ['" + junk + "']\n", "federation_custom_ca_list[0]"},
    {"trusted_key_servers: []\nfederation_custom_ca_list: ['" + (dir.path / "none.pem").string() + "']\n",
     "federation_custom_ca_list[0]"},
    {"trusted_key_servers: []\nfederation_certificate_verification_whitelist: ['b\u00fccher.example']\n",
     "federation_certificate_verification_whitelist[0]"},
    // Without certificate checks, notaries need their keys (Synapse's checks).
    {"federation_verify_certificates: false\n", "trusted_key_servers"},
    {"federation_verify_certificates: false\ntrusted_key_servers: [{server_name: n.example}]\n",
     "trusted_key_servers[0].verify_keys"},
  };
  for (const auto& [yaml, key] : bad) {
    const auto b = load_one("server_name: example.com\n" + yaml, "hs.yaml");
    CHECK_FALSE_MESSAGE(b.config, yaml);
    CHECK_MESSAGE(has_error(b, "hs.yaml", key), yaml, all_errors(b));
  }
  const auto insecure = load_one("server_name: example.com\nfederation_verify_certificates: false\n"
                                 "trusted_key_servers: [{server_name: n.example, accept_keys_insecurely: true}]\n");
  CHECK_MESSAGE(insecure.config, all_errors(insecure));
}

TEST_CASE("rc_federation and allow_public_rooms_over_federation, with Synapse's defaults") {
  const auto d = load_one("server_name: example.com\ntrusted_key_servers: []\n");
  REQUIRE_MESSAGE(d.config, all_errors(d));
  auto& f = d.config->rc.federation;
  CHECK(f.window_size_ms == 1000);
  CHECK(f.sleep_limit == 10);
  CHECK(f.sleep_delay_ms == 500);
  CHECK(f.reject_limit == 50);
  CHECK(f.concurrent == 3);
  CHECK_FALSE(d.config->allow_public_rooms_over_federation);
  const auto r = load_one("server_name: example.com\ntrusted_key_servers: []\n"
                          "allow_public_rooms_over_federation: true\n"
                          "rc_federation:\n  window_size: 2000\n  sleep_limit: 5\n  sleep_delay: 100\n"
                          "  reject_limit: 20\n  concurrent: 1\n");
  REQUIRE_MESSAGE(r.config, all_errors(r));
  CHECK_MESSAGE(r.warnings.empty(), all_warnings(r));
  auto& g = r.config->rc.federation;
  CHECK(g.window_size_ms == 2000);
  CHECK(g.sleep_limit == 5);
  CHECK(g.sleep_delay_ms == 100);
  CHECK(g.reject_limit == 20);
  CHECK(g.concurrent == 1);
  CHECK(r.config->allow_public_rooms_over_federation);
  check_refused({{"rc_federation: 5\n", "rc_federation"},
                 {"rc_federation:\n  concurrent: 0\n", "rc_federation.concurrent"},
                 {"rc_federation:\n  sleep_delay: -1\n", "rc_federation.sleep_delay"},
                 {"allow_public_rooms_over_federation: maybe\n", "allow_public_rooms_over_federation"}});
}

TEST_CASE("well-known documents: serve_server_wellknown, public_baseurl, extra_well_known_client_content") {
  const auto d = load_one("server_name: example.com\ntrusted_key_servers: []\n");
  REQUIRE_MESSAGE(d.config, all_errors(d));
  CHECK_FALSE(d.config->serve_server_wellknown);
  CHECK_FALSE(d.config->serve_client_wellknown); // public_baseurl not set: as Synapse
  CHECK(d.config->public_baseurl == "https://example.com/");
  const auto r = load_one("server_name: example.com\ntrusted_key_servers: []\nserve_server_wellknown: true\n"
                          "public_baseurl: https://matrix.example.com\n"
                          "extra_well_known_client_content:\n  io.element.e2ee:\n    default: false\n"
                          "  org.example.n: 3\n  org.example.s: '3'\n");
  REQUIRE_MESSAGE(r.config, all_errors(r));
  CHECK_MESSAGE(r.warnings.empty(), all_warnings(r));
  CHECK(r.config->serve_server_wellknown);
  CHECK(r.config->serve_client_wellknown);
  CHECK(nlohmann::json::parse(r.config->extra_well_known_client_content) ==
        nlohmann::json{{"io.element.e2ee", {{"default", false}}}, {"org.example.n", 3}, {"org.example.s", "3"}});
  check_refused({{"extra_well_known_client_content: [1]\n", "extra_well_known_client_content"},
                 {"extra_well_known_client_content:\n  m.homeserver: {}\n", "extra_well_known_client_content"},
                 {"serve_server_wellknown: perhaps\n", "serve_server_wellknown"}});
}

TEST_CASE("media keys, with Synapse's defaults") {
  const std::string base = "server_name: example.com\n";
  SUBCASE("defaults") {
    const auto r = load_one(base);
    REQUIRE_MESSAGE(r.config, all_errors(r));
    auto& m = r.config->media;
    REQUIRE(m.thumbnail_sizes.size() == 5);
    CHECK((m.thumbnail_sizes[0].width == 32 && m.thumbnail_sizes[0].method == "crop"));
    CHECK((m.thumbnail_sizes[4].width == 800 && m.thumbnail_sizes[4].height == 600 &&
           m.thumbnail_sizes[4].method == "scale"));
    CHECK_FALSE(m.dynamic_thumbnails);
    CHECK(m.max_image_pixels == 32 * 1024 * 1024);
    CHECK(m.max_pending_media_uploads == 5);
    CHECK(m.unused_expiration_time_ms == 24 * 3600 * 1000);
    CHECK(m.enable_authenticated_media);
    CHECK(m.upload_limits.empty());
    CHECK(r.config->serves_media());
    CHECK(r.config->runs_media_jobs());
    CHECK_FALSE(m.retention_local_ms);
  }
  SUBCASE("set") {
    const auto r = load_one(base +
                            "thumbnail_sizes:\n  - {width: 64, height: 64, method: crop}\n"
                            "  - {width: 200, height: 100}\n"
                            "dynamic_thumbnails: true\nmax_image_pixels: 10M\nmax_pending_media_uploads: 2\n"
                            "unused_expiration_time: 1h\nenable_authenticated_media: false\n"
                            "media_upload_limits:\n  - {time_period: 1d, max_size: 100M}\n"
                            "prevent_media_downloads_from: [evil.example]\nenable_media_repo: false\n"
                            "media_retention:\n  local_media_lifetime: 90d\n"
                            "url_preview_enabled: true\nurl_preview_ip_range_blacklist: [10.0.0.0/8]\n"
                            "url_preview_url_blacklist:\n  - {netloc: 'example.com', path: '/private/*'}\n"
                            "max_spider_size: 1M\n");
    REQUIRE_MESSAGE(r.config, all_errors(r));
    CHECK_MESSAGE(r.warnings.size() == 1, all_warnings(r)); // trusted_key_servers only
    auto& m = r.config->media;
    REQUIRE(m.thumbnail_sizes.size() == 2);
    CHECK(m.thumbnail_sizes[1].method == "scale"); // Synapse's default method
    CHECK(m.dynamic_thumbnails);
    CHECK(m.max_image_pixels == 10 * 1024 * 1024);
    CHECK(m.max_pending_media_uploads == 2);
    CHECK(m.unused_expiration_time_ms == 3600 * 1000);
    CHECK_FALSE(m.enable_authenticated_media);
    REQUIRE(m.upload_limits.size() == 1);
    CHECK(m.upload_limits[0].max_size == 100 * 1024 * 1024);
    CHECK(m.upload_limits[0].time_period_ms == 86400 * 1000);
    CHECK(m.prevent_media_downloads_from == std::vector<std::string>{"evil.example"});
    CHECK(m.retention_local_ms == int64_t{90} * 86400 * 1000);
    CHECK_FALSE(m.retention_remote_ms);
    CHECK(m.url_preview_enabled);
    CHECK(m.url_preview_ip_range_blocklist == std::vector<std::string>{"10.0.0.0/8", "0.0.0.0", "::"});
    REQUIRE(m.url_preview_url_blocklist.size() == 1);
    CHECK(m.url_preview_url_blocklist[0].size() == 2);
    CHECK(m.max_spider_size == 1024 * 1024);
    CHECK_FALSE(r.config->serves_media());
    CHECK_FALSE(r.config->runs_media_jobs());
  }
  SUBCASE("invalid values name their key") {
    check_refused({{"thumbnail_sizes:\n  - {width: 64, height: 64, method: stretch}\n", "thumbnail_sizes[0].method"},
                   {"thumbnail_sizes:\n  - {width: 64}\n", "thumbnail_sizes[0]"},
                   {"thumbnail_sizes: 3\n", "thumbnail_sizes"},
                   {"max_image_pixels: lots\n", "max_image_pixels"},
                   {"unused_expiration_time: 0\n", "unused_expiration_time"},
                   {"media_upload_limits:\n  - {max_size: 1M}\n", "media_upload_limits[0]"},
                   {"enable_authenticated_media: perhaps\n", "enable_authenticated_media"},
                   {"media_retention:\n  remote_media_lifetime: soon\n", "media_retention.remote_media_lifetime"},
                   {"media_retention: 3\n", "media_retention"},
                   {"url_preview_enabled: true\n", "url_preview_ip_range_blacklist"},
                   {"url_preview_enabled: true\nurl_preview_ip_range_blacklist: [300.1.1.1]\n",
                    "url_preview_ip_range_blacklist[0]"},
                   {"url_preview_url_blacklist:\n  - {path: '^(unclosed'}\n", "url_preview_url_blacklist[0].path"},
                   {"url_preview_url_blacklist:\n  - {host: x}\n", "url_preview_url_blacklist[0]"},
                   {"max_spider_size: 0\n", "max_spider_size"}});
  }
}
