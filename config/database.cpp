// config/database.cpp -- the `database` and `redis` keys.
#include "config/sections.hpp"

namespace axon::config {

std::string database_config::pg_conninfo() const {
  // libpq: key='value', with \ and ' escaped by a backslash.
  std::string out;
  auto add = [&out](const std::string& key, const std::string& value) {
    if (value.empty())
      return;
    if (!out.empty())
      out += ' ';
    out += key + "='";
    for (char c : value) {
      if (c == '\\' || c == '\'')
        out += '\\';
      out += c;
    }
    out += '\'';
  };
  add("user", pg_user);
  add("password", pg_password);
  add("dbname", pg_database);
  add("host", pg_host);
  add("port", pg_port);
  for (const auto& [k, v] : pg_options)
    add(k, v);
  return out;
}

namespace detail {

void parse_database(const merged_doc& doc, database_config& db) {
  if (doc.has("databases"))
    doc.at("databases")
        .error("databases", "several databases are not supported by Axon; use `database`");
  const YAML::Node d = doc.get("database");
  reader r = doc.at("database");
  if (!r.expect_map(d, "database")) {
    // Legacy `database_path`: an SQLite file.
    if (doc.at("database_path").read(doc.get("database_path"), "database_path", db.sqlite_path))
      db.name = "sqlite3";
    if (db.name == "sqlite3")
      db.cp_min = db.cp_max = 1;
    return;
  }
  r.read(d["name"], "database.name", db.name);
  if (db.name != "sqlite3" && db.name != "psycopg2") {
    r.error("database.name", "unsupported database engine '" + db.name +
                                 "' (expected sqlite3 or psycopg2)" + line_of(d["name"]));
    return;
  }
  const YAML::Node args = d["args"];
  if (db.name == "sqlite3") {
    // Synapse forces a pool of one connection for SQLite.
    db.cp_min = db.cp_max = 1;
    db.sqlite_path.clear(); // an explicit section must name its file, as in Synapse
    if (r.expect_map(args, "database.args"))
      r.read(args["database"], "database.args.database", db.sqlite_path);
    if (db.sqlite_path.empty())
      r.error("database.args.database", "must name the SQLite file");
    return;
  }
  if (!r.expect_map(args, "database.args"))
    return;
  for (const auto& kv : args) {
    const std::string k = kv.first.Scalar();
    const std::string key = "database.args." + k;
    const YAML::Node v = kv.second;
    if (k == "cp_min")
      r.read(v, key, db.cp_min, 0, 1000);
    else if (k == "cp_max")
      r.read(v, key, db.cp_max, 1, 1000);
    else if (k == "user")
      r.read(v, key, db.pg_user);
    else if (k == "password")
      r.read(v, key, db.pg_password);
    else if (k == "dbname" || k == "database")
      r.read(v, key, db.pg_database);
    else if (k == "host")
      r.read(v, key, db.pg_host);
    else if (k == "port") {
      int port = 0;
      if (r.read(v, key, port, 1, 65535))
        db.pg_port = std::to_string(port);
    } else if (k.rfind("cp_", 0) == 0) {
      // Other Twisted pool options (cp_reconnect, cp_noisy, ...): not libpq's.
    } else if (present(v)) {
      std::string value;
      if (r.read(v, key, value))
        db.pg_options[k] = value;
    }
  }
  if (db.cp_min > db.cp_max)
    r.error("database.args.cp_min", "cp_min (" + std::to_string(db.cp_min) +
                                        ") is larger than cp_max (" +
                                        std::to_string(db.cp_max) + ")");
}
void parse_redis(const merged_doc& doc, redis_config& redis) {
  const YAML::Node n = doc.get("redis");
  reader r = doc.at("redis");
  if (!r.expect_map(n, "redis"))
    return;
  r.read(n["enabled"], "redis.enabled", redis.enabled);
  r.read(n["host"], "redis.host", redis.host);
  r.read(n["port"], "redis.port", redis.port, 1, 65535);
  r.read(n["path"], "redis.path", redis.path);
  r.read(n["password"], "redis.password", redis.password);
  if (present(n["password_path"])) {
    if (!redis.password.empty())
      r.error("redis.password_path", "cannot be used together with redis.password");
    else
      r.read_file_contents(n["password_path"], "redis.password_path", redis.password);
  }
  r.read(n["dbid"], "redis.dbid", redis.dbid, 0, 1000000);
  // Refuse rather than silently connect in clear text to a server meant to be TLS.
  bool use_tls = false;
  if (r.read(n["use_tls"], "redis.use_tls", use_tls) && use_tls)
    r.error("redis.use_tls", "TLS connections to Redis are not supported by Axon");
}

} // namespace detail
} // namespace axon::config
