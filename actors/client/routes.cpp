#include "actors/client/routes.hpp"

#include "actors/federation/routes.hpp"
#include "actors/media/routes.hpp"
#include "actors/replication/replication_handler.hpp"

namespace axon::client {

std::vector<http::route> all_routes() {
  std::vector<http::route> out;
  add_account_routes(out);
  add_room_routes(out);
  add_timeline_routes(out);
  add_sync_routes(out);
  add_legacy_sync_routes(out);
  add_account_data_routes(out);
  add_push_rules_routes(out);
  add_presence_routes(out);
  add_ephemeral_routes(out);
  add_to_device_routes(out);
  add_directory_routes(out);
  add_hierarchy_routes(out);
  add_user_directory_routes(out);
  add_pusher_routes(out);
  add_account_security_routes(out);
  add_device_routes(out);
  add_keys_routes(out);
  add_cross_signing_routes(out);
  add_notification_routes(out);
  add_room_keys_routes(out);
  add_well_known_routes(out);
  federation::add_key_routes(out);
  federation::add_query_routes(out);
  federation::add_transaction_routes(out);
  federation::add_membership_routes(out);
  federation::add_event_routes(out);
  federation::add_user_routes(out);
  federation::add_directory_routes(out);
  federation::add_hierarchy_routes(out);
  federation::add_openid_routes(out);
  federation::add_admin_routes(out);
  media::add_media_routes(out);
  replication::add_replication_routes(out);
  return out;
}

} // namespace axon::client
