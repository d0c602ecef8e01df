#include "actors/client/routes.hpp"

namespace axon::client {

std::vector<http::route> all_routes() {
  std::vector<http::route> out;
  add_account_routes(out);
  add_room_routes(out);
  add_timeline_routes(out);
  add_sync_routes(out);
  add_account_data_routes(out);
  return out;
}

} // namespace axon::client
