// config/duration.hpp -- Synapse's durations: 3600000, "30s", "5m", "1d".
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace YAML {
class Node;
}

namespace axon::config {

/// Parses a duration in milliseconds as Synapse's Config.parse_duration
/// does: a plain non-negative integer is milliseconds; a string is an
/// integer followed by one of ms, s, m, h, d, w, y (a year is 365 days).
/// nullopt when malformed, negative or out of range.
std::optional<int64_t> parse_duration(std::string_view text);

/// parse_duration on a YAML scalar (plain integer or string); nullopt for
/// anything else, including null.
std::optional<int64_t> parse_duration(const YAML::Node& node);

} // namespace axon::config
