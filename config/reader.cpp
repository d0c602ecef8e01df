// config/reader.cpp -- typed reads from yaml-cpp nodes (see reader.hpp).
#include "config/reader.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "config/duration.hpp"
#include "config/size.hpp"

namespace axon::config::detail {

namespace {

std::string lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// A plain (unquoted, untagged) scalar: only these carry YAML's implicit
/// types; '!' marks a quoted scalar in yaml-cpp.
bool plain_scalar(const YAML::Node& n) {
  return n.IsScalar() && (n.Tag() == "?" || n.Tag().empty());
}

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Null: return "null";
    case YAML::NodeType::Scalar: {
      std::string s = n.Scalar();
      if (s.size() > 60)
        s = s.substr(0, 57) + "...";
      return (plain_scalar(n) ? "" : "the string ") + std::string("'") + s + "'";
    }
    default: return "nothing";
  }
}

} // namespace

std::string line_of(const YAML::Node& n) {
  if (!n.IsDefined())
    return {};
  const auto mark = n.Mark();
  if (mark.line < 0)
    return {};
  return " (line " + std::to_string(mark.line + 1) + ")";
}

bool scalar_int(const YAML::Node& n, int64_t& out) {
  if (!plain_scalar(n))
    return false;
  std::string s;
  for (char c : n.Scalar())
    if (c != '_')
      s += c;
  if (s.empty())
    return false;
  bool negative = false;
  size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    i = 1;
  }
  int base = 10;
  if (s.size() > i + 1 && s[i] == '0') {
    if (s[i + 1] == 'x' || s[i + 1] == 'X') {
      base = 16;
      i += 2;
    } else if (s[i + 1] == 'o' || s[i + 1] == 'O') {
      base = 8;
      i += 2;
    } else {
      base = 8; // YAML 1.1: a leading 0 means octal (`mode: 0666`)
      i += 1;
    }
  }
  if (i >= s.size())
    return false;
  int64_t value = 0;
  constexpr int64_t max = std::numeric_limits<int64_t>::max();
  for (; i < s.size(); ++i) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
    int digit;
    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (c >= 'a' && c <= 'f')
      digit = c - 'a' + 10;
    else
      return false;
    if (digit >= base || value > (max - digit) / base)
      return false;
    value = value * base + digit;
  }
  out = negative ? -value : value;
  return true;
}

bool scalar_bool(const YAML::Node& n, bool& out) {
  // Synapse reads its booleans with strtobool(str(value)), so quoted "true"
  // and 1/0 work there too.
  if (!n.IsScalar())
    return false;
  const std::string s = lower(n.Scalar());
  if (s == "true" || s == "yes" || s == "on" || s == "y" || s == "t" || s == "1") {
    out = true;
    return true;
  }
  if (s == "false" || s == "no" || s == "off" || s == "n" || s == "f" || s == "0") {
    out = false;
    return true;
  }
  return false;
}

std::string canonical_instance(std::string name) {
  return name == "master" ? std::string("main") : name;
}

void reader::error(const std::string& key, std::string message) {
  diag_->errors.push_back(config_error{file_, key, std::move(message)});
}

void reader::warn(std::string message) { diag_->warnings.push_back(std::move(message)); }

bool reader::type_error(const YAML::Node& n, const std::string& key, const char* expected) {
  error(key, std::string("expected ") + expected + ", got " + describe(n) + line_of(n));
  return false;
}

bool reader::read(const YAML::Node& n, const std::string& key, bool& out) {
  if (!present(n))
    return false;
  bool v;
  if (!scalar_bool(n, v))
    return type_error(n, key, "true or false");
  out = v;
  return true;
}

bool reader::read(const YAML::Node& n, const std::string& key, std::string& out) {
  if (!present(n))
    return false;
  if (!n.IsScalar())
    return type_error(n, key, "a string");
  out = n.Scalar();
  return true;
}

bool reader::read(const YAML::Node& n, const std::string& key, double& out) {
  if (!present(n))
    return false;
  if (!plain_scalar(n))
    return type_error(n, key, "a number");
  const std::string& s = n.Scalar();
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !std::isfinite(v))
    return type_error(n, key, "a number");
  out = v;
  return true;
}

bool reader::read(const YAML::Node& n, const std::string& key, int64_t& out) {
  if (!present(n))
    return false;
  int64_t v;
  if (!scalar_int(n, v))
    return type_error(n, key, "an integer");
  out = v;
  return true;
}

bool reader::read(const YAML::Node& n, const std::string& key, int& out, int min, int max) {
  if (!present(n))
    return false;
  int64_t v;
  if (!scalar_int(n, v))
    return type_error(n, key, "an integer");
  if (v < min || v > max) {
    error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                   ", got " + std::to_string(v) + line_of(n));
    return false;
  }
  out = static_cast<int>(v);
  return true;
}

bool reader::read_list(const YAML::Node& n, const std::string& key,
                       std::vector<std::string>& out) {
  if (!present(n))
    return false;
  if (n.IsScalar()) {
    out = {n.Scalar()};
    return true;
  }
  if (!n.IsSequence())
    return type_error(n, key, "a string or a list of strings");
  std::vector<std::string> values;
  bool ok = true;
  for (size_t i = 0; i < n.size(); ++i) {
    if (!n[i].IsScalar()) {
      type_error(n[i], key + "[" + std::to_string(i) + "]", "a string");
      ok = false;
      continue;
    }
    values.push_back(n[i].Scalar());
  }
  if (ok)
    out = std::move(values);
  return ok;
}

bool reader::read_size(const YAML::Node& n, const std::string& key, int64_t& out) {
  if (!present(n))
    return false;
  const auto v = parse_size(n);
  if (!v)
    return type_error(n, key, "a size such as 1048576, \"10K\", \"50M\" or \"1G\"");
  out = *v;
  return true;
}

bool reader::read_duration(const YAML::Node& n, const std::string& key, int64_t& out) {
  if (!present(n))
    return false;
  const auto v = parse_duration(n);
  if (!v)
    return type_error(n, key, "a duration such as 3600000 (milliseconds), \"30s\", \"5m\", \"1h\" or \"1d\"");
  out = *v;
  return true;
}

bool reader::read_file_contents(const YAML::Node& n, const std::string& key,
                                std::string& out) {
  std::string path;
  if (!read(n, key, path))
    return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error(key, "cannot read '" + path + "': " + std::strerror(errno));
    return false;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.pop_back();
  out = std::move(text);
  return true;
}

bool reader::expect_map(const YAML::Node& n, const std::string& key) {
  if (!present(n))
    return false;
  if (!n.IsMap())
    return type_error(n, key, "a mapping");
  return true;
}

bool reader::expect_sequence(const YAML::Node& n, const std::string& key) {
  if (!present(n))
    return false;
  if (!n.IsSequence())
    return type_error(n, key, "a list");
  return true;
}

} // namespace axon::config::detail
