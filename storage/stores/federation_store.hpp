// storage/stores/federation_store.hpp -- the federation sender's queues and
// retry state, and the inbound transactions answered (migration 018).
#pragma once

#include "storage/database.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace axon::storage {

/// One queued m.direct_to_device EDU.
struct outbox_row {
  int64_t stream_id = 0;
  std::string message_id;
  std::string messages_json; ///< the EDU content
};

/// A destination's retry state (Synapse's destinations row): since
/// `retry_last_ts`, wait `retry_interval` ms before trying again; 0: none.
struct retry_state {
  int64_t retry_last_ts = 0;
  int64_t retry_interval = 0;
};

/// A destinations row as the admin API shows it.
struct destination_row {
  std::string destination;
  int64_t retry_last_ts = 0;
  int64_t retry_interval = 0;
  std::optional<int64_t> failure_ts;
  std::optional<int64_t> last_successful_stream_ordering; ///< PDUs: none sent yet
};

/// A PUT /send/{txnId} answered before.
struct answered_transaction {
  int code = 200;
  std::string response_json;
};

class federation_store {
public:
  explicit federation_store(pool& p) : pool_(p) {}

  /// Every destination with something queued.
  std::vector<std::string> destinations_with_outbox();

  /// One queued PDU: the event as stored and its room's version.
  struct pdu_row {
    int64_t stream_ordering = 0;
    std::string json;
    std::string room_version;
  };
  /// What a destination's next transaction carries: its oldest queued EDUs
  /// (device_federation_outbox) and PDUs (federation_pdu_outbox), at most
  /// `max_edus` and `max_pdus`, read in the round trip that deletes what
  /// its last transaction carried: the EDUs up to `sent.edus`, the PDUs up
  /// to `sent.pdus` (recorded as its last_successful_stream_ordering); 0:
  /// nothing.
  struct sent_up_to {
    int64_t edus; ///< device_federation_outbox stream_id
    int64_t pdus; ///< federation_pdu_outbox stream_ordering
  };
  struct next_rows {
    std::vector<outbox_row> edus;
    std::vector<pdu_row> pdus;
  };
  next_rows next_transaction(const std::string& destination, size_t max_edus, size_t max_pdus,
                             sent_up_to sent = {0, 0});
  /// Destinations with PDUs queued past `after`, and the newest position
  /// queued (`after` when none).
  std::pair<std::vector<std::string>, int64_t> destinations_with_pdus_after(int64_t after);

  /// Every destination in backoff.
  std::map<std::string, retry_state> retry_states();
  /// Records a failure: wait `interval` ms from `now_ms`.
  void set_retry(const std::string& destination, int64_t now_ms, int64_t interval);
  /// Success, or the server contacted us: no more waiting.
  void clear_retry(const std::string& destination);
  /// A transaction reached `destination`: it is known (listed), not waiting.
  void record_success(const std::string& destination);

  /// The admin API's list: `filter` a substring of the name ("" all),
  /// ordered by `order_by` (destination, retry_last_ts, retry_interval,
  /// failure_ts, last_successful_stream_ordering; the caller checks it),
  /// descending when `descending`; `from`..`from`+`limit`. Also the total.
  /// The rooms `destination` has joined members in (current state), by
  /// room id, each with the stream position of its newest event (Synapse's
  /// destination_rooms), `limit` from `from`; and how many there are.
  std::pair<std::vector<std::pair<std::string, int64_t>>, int64_t>
  destination_rooms(const std::string& destination, int64_t from, int64_t limit, bool backwards);
  std::pair<std::vector<destination_row>, int64_t> destinations(int64_t from, int64_t limit, const std::string& filter,
                                                                const std::string& order_by, bool descending);
  std::optional<destination_row> destination(const std::string& destination);

  /// The answer given to `origin`'s transaction `txn_id`, if any.
  std::optional<answered_transaction> answered(const std::string& origin, const std::string& txn_id);
  /// Remembers the answer (a retry gets the same); the first one stays.
  void remember_answer(const std::string& origin, const std::string& txn_id, int code,
                       const std::string& response_json, int64_t now_ms);
  /// Forgets answers older than `before_ms` (Synapse keeps them a day).
  void forget_answers_before(int64_t before_ms);

private:
  pool& pool_;
};

} // namespace axon::storage
