#include "messages/streams.hpp"

namespace axon {

const char* stream_name(stream_id s) {
  switch (s) {
    case stream_id::events: return "events";
    case stream_id::typing: return "typing";
    case stream_id::receipts: return "receipts";
    case stream_id::presence: return "presence";
    case stream_id::account_data: return "account_data";
    case stream_id::to_device: return "to_device";
    case stream_id::device_lists: return "device_lists";
    case stream_id::push_rules: return "push_rules";
  }
  return "unknown";
}

} // namespace axon
