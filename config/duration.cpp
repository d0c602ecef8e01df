// config/duration.cpp -- durations (see duration.hpp).
#include "config/duration.hpp"

#include <limits>
#include <string>

#include <yaml-cpp/yaml.h>

#include "config/size.hpp"

namespace axon::config {

std::optional<int64_t> parse_duration(std::string_view text) {
  constexpr int64_t second = 1000, minute = 60 * second, hour = 60 * minute, day = 24 * hour;
  struct unit {
    std::string_view suffix;
    int64_t ms;
  };
  // Two-letter suffix first, as Synapse: "5ms" is not "5m" followed by "s".
  static constexpr unit units[] = {{"ms", 1},          {"s", second}, {"m", minute}, {"h", hour},
                                   {"d", day},         {"w", 7 * day}, {"y", 365 * day}};
  int64_t factor = 1;
  for (const auto& u : units)
    if (text.size() > u.suffix.size() && text.substr(text.size() - u.suffix.size()) == u.suffix) {
      factor = u.ms;
      text.remove_suffix(u.suffix.size());
      break;
    }
  // The number itself: digits only (parse_size reads them; no K/M/G here).
  if (text.empty() || text.back() < '0' || text.back() > '9') return std::nullopt;
  auto n = parse_size(text);
  if (!n || *n > std::numeric_limits<int64_t>::max() / factor) return std::nullopt;
  return *n * factor;
}

std::optional<int64_t> parse_duration(const YAML::Node& node) {
  if (!node.IsDefined() || !node.IsScalar()) return std::nullopt;
  return parse_duration(std::string_view(node.Scalar()));
}

} // namespace axon::config
