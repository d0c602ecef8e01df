// config/workers.cpp -- the worker and placement keys, with the cross-checks of
// Synapse's synapse/config/workers.py. Instance "master" is read as "main".
#include <algorithm>
#include <set>

#include "config/sections.hpp"

namespace axon::config {

namespace {

struct stream_field {
  const char* name;
  std::vector<std::string> stream_writers_config::*member;
  bool single_writer; ///< Synapse allows exactly one writer
};

// Synapse's WriterLocations, in its order.
const stream_field stream_fields[] = {
    {"events", &stream_writers_config::events, false},
    {"typing", &stream_writers_config::typing, true},
    {"to_device", &stream_writers_config::to_device, true},
    {"account_data", &stream_writers_config::account_data, true},
    {"receipts", &stream_writers_config::receipts, false},
    {"presence", &stream_writers_config::presence, true},
    {"push_rules", &stream_writers_config::push_rules, true},
    {"device_lists", &stream_writers_config::device_lists, false},
};

const stream_field* find_field(std::string_view name) {
  for (const auto& f : stream_fields)
    if (name == f.name)
      return &f;
  return nullptr;
}

} // namespace

const std::vector<std::string>* stream_writers_config::find(std::string_view name) const {
  const auto* f = find_field(name);
  return f ? &(this->*(f->member)) : nullptr;
}

std::vector<std::string>* stream_writers_config::find(std::string_view name) {
  const auto* f = find_field(name);
  return f ? &(this->*(f->member)) : nullptr;
}

const std::vector<std::string>& stream_writers_config::stream_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& f : stream_fields)
      v.emplace_back(f.name);
    return v;
  }();
  return names;
}

namespace detail {

bool read_instances(reader& r, const YAML::Node& n, const std::string& key,
                    std::vector<std::string>& out) {
  std::vector<std::string> names;
  if (!r.read_list(n, key, names))
    return false;
  std::set<std::string> seen;
  bool ok = true;
  for (auto& name : names) {
    name = canonical_instance(name);
    if (name.empty()) {
      r.error(key, "an instance name is empty" + line_of(n));
      ok = false;
    } else if (!seen.insert(name).second) {
      r.error(key, "instance '" + name + "' is listed twice" + line_of(n));
      ok = false;
    }
  }
  if (ok)
    out = std::move(names);
  return ok;
}

namespace {

// Synapse's worker apps, without the "synapse.app." prefix. The historical
// ones map onto the same roles as generic_worker (shared/DESIGN.md).
const std::set<std::string> worker_apps = {
    "generic_worker", "media_repository", "client_reader", "event_creator",
    "federation_reader", "federation_sender", "frontend_proxy", "pusher",
    "synchrotron", "appservice", "user_dir"};

void parse_worker_identity(const merged_doc& doc, homeserver_config& cfg) {
  {
    reader r = doc.at("worker_app");
    std::string app;
    if (r.read(doc.get("worker_app"), "worker_app", app)) {
      const std::string prefix = "synapse.app.";
      if (app.rfind(prefix, 0) == 0)
        app = app.substr(prefix.size());
      if (app == "homeserver")
        app.clear(); // Synapse: synapse.app.homeserver is the main process
      if (!app.empty() && !worker_apps.count(app)) {
        r.error("worker_app", "unknown worker app '" + app +
                                  "' (expected generic_worker or media_repository)" +
                                  line_of(doc.get("worker_app")));
        app.clear();
      }
      cfg.worker_app = app;
    }
  }
  reader r = doc.at("worker_name");
  std::string name;
  r.read(doc.get("worker_name"), "worker_name", name);
  if (cfg.is_worker()) {
    if (name.empty())
      r.error("worker_name", "a worker needs a unique worker_name");
    else if (name == "main" || name == "master")
      r.error("worker_name", "'" + name + "' is the main process's name; pick another");
    else
      cfg.worker_name = name;
  } else if (!name.empty() && name != "main" && name != "master" &&
             !doc.has("worker_app")) {
    r.error("worker_name",
            "is set but worker_app is not; add `worker_app: generic_worker` to run a worker");
  }
}

void parse_worker_process_keys(const merged_doc& doc, homeserver_config& cfg) {
  const bool tls_ready = !cfg.tls_certificate_path.empty() && !cfg.tls_private_key_path.empty();
  {
    reader r = doc.at("worker_listeners");
    if (r.expect_sequence(doc.get("worker_listeners"), "worker_listeners")) {
      parse_listeners(r, doc.get("worker_listeners"), "worker_listeners", tls_ready,
                      cfg.worker_listeners);
      if (!cfg.is_worker())
        r.warn("worker_listeners in " + r.file() + " is ignored: this is not a worker");
    }
  }
  doc.at("worker_log_config").read(doc.get("worker_log_config"), "worker_log_config",
                                   cfg.worker_log_config);
  doc.at("worker_pid_file").read(doc.get("worker_pid_file"), "worker_pid_file",
                                 cfg.worker_pid_file);
  if (doc.has("worker_replication_port"))
    doc.at("worker_replication_port")
        .error("worker_replication_port",
               "direct TCP replication is gone (as in Synapse); use Redis and instance_map");
  if (doc.has("worker_main_http_uri"))
    doc.diag().warnings.push_back("worker_main_http_uri in " + doc.at("worker_main_http_uri").file() +
                                  " is unused and can be removed");
  if (cfg.is_worker())
    for (const char* key :
         {"worker_replication_host", "worker_replication_http_port", "worker_replication_http_tls"}) {
      bool set = doc.has(key);
      bool b;
      if (set && scalar_bool(doc.get(key), b) && !b)
        set = false; // Synapse only objects to a truthy value
      if (set)
        doc.at(key).error(key, "is no longer supported (as in Synapse); put the main process's "
                               "replication listener in instance_map under `main`");
    }

  reader r = doc.at("worker_replication_secret");
  r.read(doc.get("worker_replication_secret"), "worker_replication_secret",
         cfg.worker_replication_secret);
  if (doc.has("worker_replication_secret_path")) {
    reader rp = doc.at("worker_replication_secret_path");
    if (!cfg.worker_replication_secret.empty())
      rp.error("worker_replication_secret_path",
               "cannot be used together with worker_replication_secret");
    else
      rp.read_file_contents(doc.get("worker_replication_secret_path"),
                            "worker_replication_secret_path", cfg.worker_replication_secret);
  }
}

void parse_instance_map(const merged_doc& doc, homeserver_config& cfg) {
  reader r = doc.at("instance_map");
  const YAML::Node map = doc.get("instance_map");
  if (r.expect_map(map, "instance_map")) {
    for (const auto& kv : map) {
      const std::string name = canonical_instance(kv.first.Scalar());
      const std::string key = "instance_map." + kv.first.Scalar();
      const YAML::Node v = kv.second;
      if (!present(v) || !v.IsMap()) {
        r.error(key, "expected a mapping with host and port, or path" + line_of(v));
        continue;
      }
      instance_location loc;
      r.read(v["host"], key + ".host", loc.host);
      r.read(v["port"], key + ".port", loc.port, 1, 65535);
      r.read(v["path"], key + ".path", loc.path);
      r.read(v["tls"], key + ".tls", loc.tls);
      const bool tcp = present(v["host"]) || present(v["port"]);
      if (tcp && !loc.path.empty())
        r.error(key, "give either host and port, or path, not both" + line_of(v));
      else if (!tcp && loc.path.empty())
        r.error(key, "needs host and port, or a unix socket path" + line_of(v));
      else if (tcp && (loc.host.empty() || !present(v["port"])))
        r.error(key, std::string("needs ") + (loc.host.empty() ? "a host" : "a port") + line_of(v));
      if (!cfg.instance_map.emplace(name, loc).second)
        r.error(key, "instance '" + name + "' appears twice (\"master\" is \"main\")");
    }
  }
  // Synapse: a worker must find the main process in instance_map.
  if (cfg.is_worker() && !cfg.instance_map.count("main"))
    r.error("instance_map", "a worker needs the main process's replication listener in "
                            "instance_map under `main`");
}

void parse_stream_writers(const merged_doc& doc, homeserver_config& cfg) {
  reader r = doc.at("stream_writers");
  const YAML::Node sw = doc.get("stream_writers");
  if (!r.expect_map(sw, "stream_writers"))
    return;
  for (const auto& kv : sw) {
    const std::string stream = kv.first.Scalar();
    const std::string key = "stream_writers." + stream;
    auto* writers = cfg.stream_writers.find(stream);
    if (!writers) {
      std::string known;
      for (const auto& s : stream_writers_config::stream_names())
        known += (known.empty() ? "" : ", ") + s;
      r.error(key, "unknown stream (known: " + known + ")" + line_of(kv.first));
      continue;
    }
    if (!present(kv.second)) {
      r.error(key, "needs at least one instance" + line_of(kv.first));
      continue;
    }
    read_instances(r, kv.second, key, *writers);
  }
  for (const auto& f : stream_fields) {
    const auto& writers = cfg.stream_writers.*(f.member);
    const std::string key = std::string("stream_writers.") + f.name;
    if (f.single_writer && writers.size() != 1)
      r.error(key, "exactly one instance must write this stream, got " +
                       std::to_string(writers.size()));
    else if (writers.empty())
      r.error(key, "at least one instance must write this stream");
    for (const auto& w : writers)
      if (w != "main" && !cfg.instance_map.count(w))
        r.error(key, "instance '" + w + "' writes this stream but is not in instance_map");
  }
}

} // namespace

void parse_workers(const merged_doc& doc, homeserver_config& cfg) {
  parse_worker_identity(doc, cfg);
  parse_worker_process_keys(doc, cfg);
  parse_instance_map(doc, cfg);
  parse_stream_writers(doc, cfg);
  parse_placement(doc, cfg);
  if (cfg.is_worker()) {
    // Every instance must share one database (shared/DESIGN.md, Storage).
    if (!cfg.database.is_postgres())
      doc.at("database").error("database.name",
                               "a worker needs the shared PostgreSQL database (psycopg2), "
                               "not " + cfg.database.name);
    if (!cfg.redis.enabled)
      doc.diag().warnings.push_back("worker " + cfg.worker_name +
                                    " runs without Redis (redis.enabled is false); Synapse "
                                    "requires Redis with workers");
  }
}

} // namespace detail
} // namespace axon::config
