// config/reader.hpp -- internal: typed reads from yaml-cpp nodes that record
// problems instead of throwing. Not for use outside config/.
//
// YAML typing follows PyYAML (what Synapse reads with): a quoted scalar is a
// string, so `port: "8008"` is not a number; booleans are what Synapse's
// strtobool takes (true/false, yes/no, on/off, y/n, t/f, 1/0, any case,
// quoted or not); a null value means "use the default".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/homeserver_config.hpp"

namespace axon::config::detail {

/// Where problems go while loading.
struct diagnostics {
  std::vector<config_error> errors;
  std::vector<std::string> warnings;
};

/// True when `n` exists and is not null.
inline bool present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }

/// " (line N)" for a node with a known position, else "".
std::string line_of(const YAML::Node& n);

/// Reads values out of nodes that came from one file. Every read_* leaves
/// `out` unchanged when the node is absent or null, and records an error
/// naming `key` (and leaves `out` unchanged) when the value has the wrong type.
class reader {
public:
  reader(diagnostics& diag, std::string file) : diag_(&diag), file_(std::move(file)) {}

  const std::string& file() const { return file_; }
  void error(const std::string& key, std::string message);
  void warn(std::string message);

  bool read(const YAML::Node& n, const std::string& key, bool& out);
  bool read(const YAML::Node& n, const std::string& key, std::string& out);
  bool read(const YAML::Node& n, const std::string& key, double& out);
  bool read(const YAML::Node& n, const std::string& key, int64_t& out);
  /// An integer within [min, max].
  bool read(const YAML::Node& n, const std::string& key, int& out, int min, int max);
  /// A string or a list of strings (Synapse's _instance_to_list_converter).
  bool read_list(const YAML::Node& n, const std::string& key, std::vector<std::string>& out);
  /// A byte size ("50M", see size.hpp).
  bool read_size(const YAML::Node& n, const std::string& key, int64_t& out);
  /// A duration in milliseconds (3600000, "30s", "1d", see duration.hpp).
  bool read_duration(const YAML::Node& n, const std::string& key, int64_t& out);
  /// The contents of the file named by a string node, trailing whitespace
  /// removed (secret files usually end in a newline).
  bool read_file_contents(const YAML::Node& n, const std::string& key, std::string& out);

  /// True when `n` is a map; records an error when present but not a map.
  bool expect_map(const YAML::Node& n, const std::string& key);
  /// True when `n` is a sequence; records an error when present but not one.
  bool expect_sequence(const YAML::Node& n, const std::string& key);

private:
  bool type_error(const YAML::Node& n, const std::string& key, const char* expected);

  diagnostics* diag_;
  std::string file_;
};

/// Integer scalar in PyYAML's YAML 1.1 forms (decimal, 0x.., 0o.., 0.. octal,
/// '_' separators); false when `n` is not a plain integer.
bool scalar_int(const YAML::Node& n, int64_t& out);
/// Boolean scalar in strtobool's forms (see above); false otherwise.
bool scalar_bool(const YAML::Node& n, bool& out);
/// "master" (Synapse's internal name for the main process) as "main".
std::string canonical_instance(std::string name);

} // namespace axon::config::detail
