// config/size.hpp -- Synapse's byte-size values: 1024, "10K", "50M", "1G", "2T".
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace YAML {
class Node;
}

namespace axon::config {

/// Parses a byte size as Synapse's Config.parse_size does: a plain
/// non-negative integer, optionally followed by K, M, G or T (powers of
/// 1024; lower case accepted too). nullopt when malformed, negative or
/// out of range.
std::optional<int64_t> parse_size(std::string_view text);

/// parse_size on a YAML scalar (plain integer or string); nullopt for
/// anything else, including null.
std::optional<int64_t> parse_size(const YAML::Node& node);

} // namespace axon::config
