#include "matrix/room_version.hpp"

namespace axon::matrix {

namespace {
const room_version v10{"10", true, false, true, true, true, true};
const room_version v11{"11", true, true, true, true, true, true};
const char* const ids[] = {"11", "10", nullptr};
} // namespace

const room_version* find_room_version(std::string_view id) {
  if (id == "10") return &v10;
  if (id == "11") return &v11;
  return nullptr;
}

const char* const* supported_room_versions() { return ids; }

} // namespace axon::matrix
