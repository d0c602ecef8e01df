// config/size.cpp -- byte sizes (see size.hpp).
#include "config/size.hpp"

#include <limits>

#include <yaml-cpp/yaml.h>

namespace axon::config {

std::optional<int64_t> parse_size(std::string_view text) {
  // Python's int() tolerates surrounding whitespace; so do we.
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  if (text.empty())
    return std::nullopt;
  int64_t unit = 1;
  switch (text.back()) {
    case 'K': case 'k': unit = int64_t{1} << 10; break;
    case 'M': case 'm': unit = int64_t{1} << 20; break;
    case 'G': case 'g': unit = int64_t{1} << 30; break;
    case 'T': case 't': unit = int64_t{1} << 40; break;
    default: break;
  }
  if (unit != 1)
    text.remove_suffix(1);
  if (!text.empty() && text.front() == '+')
    text.remove_prefix(1);
  if (text.empty())
    return std::nullopt;
  int64_t value = 0;
  constexpr int64_t max = std::numeric_limits<int64_t>::max();
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    if (value > (max - (c - '0')) / 10)
      return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > max / unit)
    return std::nullopt;
  return value * unit;
}

std::optional<int64_t> parse_size(const YAML::Node& node) {
  if (!node.IsDefined() || !node.IsScalar())
    return std::nullopt;
  return parse_size(std::string_view{node.Scalar()});
}

} // namespace axon::config
