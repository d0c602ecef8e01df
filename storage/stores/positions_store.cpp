#include "storage/stores/positions_store.hpp"

namespace axon::storage {

durable_positions positions_store::read() {
  auto c = pool_.acquire();
  // One statement: the maxima the stores' max_stream_id() read one by one.
  auto r = c->exec(
    "SELECT 'events', '', COALESCE(MAX(stream_ordering), 0) FROM events "
    "UNION ALL SELECT 'account_data', '', COALESCE(MAX(stream_id), 0) FROM account_data "
    "UNION ALL SELECT 'push_rules', '', COALESCE(MAX(stream_id), 0) FROM push_rules_user "
    "UNION ALL SELECT 'presence', '', COALESCE(MAX(stream_id), 0) FROM presence_stream "
    "UNION ALL SELECT 'device_lists', '', COALESCE(MAX(stream_id), 0) FROM device_lists_stream "
    "UNION ALL SELECT 'to_device', '', COALESCE(MAX(stream_id), 0) FROM device_inbox "
    "UNION ALL SELECT 'receipts', '', COALESCE(MAX(stream_id), 0) FROM receipts "
    "UNION ALL SELECT stream_name, instance_name, stream_id FROM stream_positions "
    "WHERE stream_name IN ('events', 'to_device')");
  durable_positions out;
  for (auto& row : r.rows) {
    auto stream = row.str(0);
    auto pos = row.i64(2);
    if (stream == "events") {
      if (row.str(1).empty()) out.events = pos;
      else out.events_writers[row.str(1)] = pos;
    } else if (stream == "account_data") out.account_data = pos;
    else if (stream == "push_rules") out.push_rules = pos;
    else if (stream == "presence") out.presence = pos;
    else if (stream == "device_lists") out.device_lists = pos;
    else if (stream == "to_device") out.to_device = std::max(out.to_device, pos);
    else if (stream == "receipts") out.receipts = pos;
  }
  return out;
}

} // namespace axon::storage
