// config/load.cpp -- reading and merging the files, unknown keys, the entry points.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "config/sections.hpp"

namespace axon::config {

std::string config_error::to_string() const {
  std::string s = file;
  if (!key.empty())
    s += (s.empty() ? "" : ": ") + key;
  s += (s.empty() ? "" : ": ") + message;
  return s;
}

namespace detail {

void merged_doc::set(const std::string& key, YAML::Node node, const std::string& file) {
  // erase + emplace: assigning a YAML::Node would write through to the old tree.
  entries_.erase(key);
  entries_.emplace(key, top_entry{std::move(node), file});
}

const top_entry* merged_doc::find(const std::string& key) const {
  const auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

YAML::Node merged_doc::get(const std::string& key) const {
  const auto* e = find(key);
  return e ? e->node : YAML::Node(YAML::NodeType::Undefined);
}

reader merged_doc::at(const std::string& key) const {
  const auto* e = find(key);
  return reader(*diag_, e ? e->file : first_file_);
}

namespace {

/// Whether an ignored key's value asks for something (so ignoring it matters).
bool asks_for_something(const YAML::Node& n) {
  if (!present(n))
    return false;
  if (n.IsScalar()) {
    bool b;
    if (scalar_bool(n, b))
      return b;
    return !n.Scalar().empty();
  }
  return n.size() > 0;
}

void check_top_level_keys(const merged_doc& doc) {
  for (const auto& [key, entry] : doc.entries()) {
    if (is_implemented_key(key))
      continue;
    if (is_ignored_synapse_key(key)) {
      const auto risk = ignored_key_risk(key);
      if (!risk.empty() && asks_for_something(entry.node))
        doc.diag().warnings.push_back(key + " in " + entry.file +
                                      " is not supported by Axon and is ignored: " +
                                      std::string(risk));
      continue;
    }
    doc.diag().warnings.push_back("unknown key " + key + " in " + entry.file);
  }
}

/// Parses one document into `doc`; false on a syntax error (recorded).
bool add_document(merged_doc& doc, const std::string& name, const std::string& text) {
  diagnostics& diag = doc.diag();
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    diag.errors.push_back(config_error{name, "",
                                       "YAML syntax error at line " +
                                           std::to_string(e.mark.line + 1) + ", column " +
                                           std::to_string(e.mark.column + 1) + ": " + e.msg});
    return false;
  } catch (const std::exception& e) {
    diag.errors.push_back(config_error{name, "", std::string("YAML error: ") + e.what()});
    return false;
  }
  // Synapse skips a file that is empty or not a mapping, with a message.
  if (!root.IsMap()) {
    diag.warnings.push_back(name + " is empty or not a key-value mapping; ignored");
    return true;
  }
  std::set<std::string> seen;
  for (const auto& kv : root) {
    if (!kv.first.IsScalar()) {
      diag.errors.push_back(
          config_error{name, "", "top-level keys must be strings" + line_of(kv.first)});
      continue;
    }
    const std::string key = kv.first.Scalar();
    if (!seen.insert(key).second)
      diag.warnings.push_back("duplicate key " + key + " in " + name +
                              "; the later value is used" + line_of(kv.first));
    doc.set(key, kv.second, name);
  }
  return true;
}

load_result load_documents(const std::vector<std::pair<std::string, std::string>>& docs,
                           const std::string& config_dir) {
  load_result result;
  diagnostics diag;
  try {
    if (docs.empty()) {
      diag.errors.push_back(config_error{"", "", "no configuration file given"});
    } else {
      merged_doc doc(diag, docs.front().first);
      bool syntax_ok = true;
      for (const auto& [name, text] : docs)
        syntax_ok = add_document(doc, name, text) && syntax_ok;
      // After a syntax error the rest would only report keys that seem missing.
      if (syntax_ok) {
        check_top_level_keys(doc);
        homeserver_config cfg;
        cfg.config_dir = config_dir;
        parse_server(doc, cfg);
        parse_federation(doc, cfg); // before parse_keys: notaries depend on certificate checks
        parse_keys(doc, cfg);
        parse_database(doc, cfg.database);
        parse_rate_limits(doc, cfg.rc);
        parse_redis(doc, cfg.redis);
        const bool tls_ready =
            !cfg.tls_certificate_path.empty() && !cfg.tls_private_key_path.empty();
        if (doc.at("listeners").expect_sequence(doc.get("listeners"), "listeners")) {
          reader r = doc.at("listeners");
          parse_listeners(r, doc.get("listeners"), "listeners", tls_ready, cfg.listeners);
        }
        parse_workers(doc, cfg);
        if (diag.errors.empty())
          result.config = std::move(cfg);
      }
    }
  } catch (const std::exception& e) {
    // yaml-cpp throws on misuse (e.g. a conversion we did not guard); report, never throw.
    diag.errors.push_back(config_error{"", "", std::string("internal error: ") + e.what()});
    result.config.reset();
  }
  result.errors = std::move(diag.errors);
  result.warnings = std::move(diag.warnings);
  return result;
}

} // namespace
} // namespace detail

load_result load_config_from_strings(
    const std::vector<std::pair<std::string, std::string>>& docs) {
  return detail::load_documents(docs, "");
}

load_result load_config(const std::vector<std::string>& files) {
  namespace fs = std::filesystem;
  std::vector<config_error> read_errors;
  std::vector<std::string> read_warnings;
  std::vector<std::pair<std::string, std::string>> docs;
  std::string last_file;
  auto read_one = [&](const std::string& path) {
    last_file = path;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      read_errors.push_back(config_error{path, "", std::string("cannot read: ") +
                                                       std::strerror(errno)});
      return;
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    docs.emplace_back(path, buf.str());
  };
  for (const auto& path : files) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      // As Synapse's find_config_files: the directory's *.yaml files, sorted.
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(path, ec))
        if (entry.path().extension() == ".yaml" && !fs::is_directory(entry.path(), ec))
          found.push_back(entry.path().string());
      std::sort(found.begin(), found.end());
      if (found.empty())
        read_warnings.push_back("no .yaml files in directory " + path);
      for (const auto& f : found)
        read_one(f);
    } else {
      read_one(path);
    }
  }
  std::string config_dir;
  if (!last_file.empty()) {
    std::error_code ec;
    const auto abs = fs::absolute(fs::path(last_file), ec);
    config_dir = (ec ? fs::path(last_file) : abs).lexically_normal().parent_path().string();
  }
  load_result result;
  if (docs.empty() && read_errors.empty())
    read_errors.push_back(config_error{"", "", "no configuration file given"});
  if (!docs.empty())
    result = detail::load_documents(docs, config_dir);
  if (!read_errors.empty()) {
    result.errors.insert(result.errors.begin(), read_errors.begin(), read_errors.end());
    result.config.reset();
  }
  result.warnings.insert(result.warnings.begin(), read_warnings.begin(), read_warnings.end());
  return result;
}

} // namespace axon::config
