// config/layout.hpp -- which instance owns what, from the placement keys.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace axon::config {

/// The instance among `writers` that owns `key` (a room id, user id or
/// destination), exactly as Synapse shards (ShardedWorkerHandlingConfig):
/// writers[int_le(sha256(key)) mod writers.size()], where int_le reads the
/// 32-byte digest as a little-endian integer. "" when `writers` is empty.
std::string stream_writer_for(const std::vector<std::string>& writers, std::string_view key);
/// The same, as an index into `writers` (0 when it is empty).
size_t stream_writer_index(const std::vector<std::string>& writers, std::string_view key);

} // namespace axon::config
