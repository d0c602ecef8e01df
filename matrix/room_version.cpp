#include "matrix/room_version.hpp"

#include <array>

namespace axon::matrix {

namespace {

/// Each version is the one before plus what its spec page adds.
std::array<room_version, 11> make_versions() {
  std::array<room_version, 11> out;
  room_version v;
  v.id = "1";
  v.format = event_format::v1;
  v.state_res = state_resolution::v1;
  v.enforce_key_validity = false;
  v.special_case_aliases = true;
  v.strict_canonical_json = false;
  v.notifications_power_levels = false;
  v.knock = false;
  v.restricted = false;
  v.redaction_keeps_authorising_user = false;
  v.knock_restricted = false;
  v.integer_power_levels = false;
  v.v11_rules = false;
  out[0] = v;
  v.id = "2";  // state resolution v2
  v.state_res = state_resolution::v2;
  out[1] = v;
  v.id = "3";  // event ids are reference hashes; no auth rule for redactions
  v.format = event_format::v2;
  out[2] = v;
  v.id = "4";  // URL-safe event ids
  v.format = event_format::v3;
  out[3] = v;
  v.id = "5";  // signing key validity
  v.enforce_key_validity = true;
  out[4] = v;
  v.id = "6";  // MSC2432, strict canonical JSON, MSC2209
  v.special_case_aliases = false;
  v.strict_canonical_json = true;
  v.notifications_power_levels = true;
  out[5] = v;
  v.id = "7";  // knocking
  v.knock = true;
  out[6] = v;
  v.id = "8";  // restricted rooms
  v.restricted = true;
  out[7] = v;
  v.id = "9";  // redaction of restricted joins
  v.redaction_keeps_authorising_user = true;
  out[8] = v;
  v.id = "10"; // knock_restricted, integer power levels
  v.knock_restricted = true;
  v.integer_power_levels = true;
  out[9] = v;
  v.id = "11"; // the v11 redaction and create changes
  v.v11_rules = true;
  out[10] = v;
  return out;
}

const std::array<room_version, 11>& versions() {
  static const auto all = make_versions();
  return all;
}

const char* const ids[] = {"11", "10", "9", "8", "7", "6", "5", "4", "3", "2", "1", nullptr};

} // namespace

const room_version* find_room_version(std::string_view id) {
  for (const auto& v : versions())
    if (v.id == id) return &v;
  return nullptr;
}

const char* const* supported_room_versions() { return ids; }

} // namespace axon::matrix
