// matrix/room_version.hpp -- the room versions Axon supports and how they differ.
// Spec: "Room versions" (rooms/v10, rooms/v11).
#pragma once

#include <string>
#include <string_view>

namespace axon::matrix {

struct room_version {
  std::string id;                  ///< "10", "11"
  bool stable = true;
  /// v11 (MSC2174/MSC2175/MSC3821/MSC3989): `redacts` moves into content,
  /// m.room.create has no `creator`, the create event keeps all content on
  /// redaction, power_levels keeps `invite`, and the sender of m.room.create
  /// is the creator.
  bool v11_rules = false;
  bool knock = true;               ///< join rule "knock" (v7+)
  bool restricted = true;          ///< join rule "restricted" (v8+)
  bool knock_restricted = true;    ///< join rule "knock_restricted" (v10+)
  bool integer_power_levels = true;///< power levels must be integers (v10+)
};

/// The version description, or nullptr when unsupported.
const room_version* find_room_version(std::string_view id);

/// Every supported version id, newest first.
const char* const* supported_room_versions();

} // namespace axon::matrix
