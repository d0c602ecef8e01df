// storage/stores/e2e_keys_store.hpp -- end-to-end encryption keys (device,
// one-time and fallback keys) and the device_lists stream. Writes come only
// from the device_lists writer; reads from any request thread.
#pragma once

#include "storage/database.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace axon::storage {

/// One key to store: "algorithm:key_id" split, and the key as JSON text.
struct e2e_key {
  std::string algorithm;
  std::string key_id;
  std::string key_json;
};

/// A claimed key: {"algorithm:key_id": key}.
struct claimed_key {
  std::string user_id;
  std::string device_id;
  std::string algorithm;
  std::string key_id;
  std::string key_json;
};

struct claim_request {
  std::string user_id;
  std::string device_id;
  std::string algorithm;
};

class e2e_keys_store {
public:
  explicit e2e_keys_store(pool& p) : pool_(p) {}

  /// Newest device_lists position (0 when empty).
  int64_t max_stream_id();

  // ---- writes (the device_lists writer only) ----

  /// Stores the device keys; false (nothing written) when identical to the
  /// stored ones.
  bool set_device_keys(const std::string& user_id, const std::string& device_id,
                       const std::string& key_json, int64_t now_ms);
  /// The first of `keys` whose id is stored with other content, or nullopt.
  std::optional<std::string> conflicting_one_time_key(const std::string& user_id,
                                                      const std::string& device_id,
                                                      const std::vector<e2e_key>& keys);
  /// Adds one-time keys (ids already stored with the same content are kept).
  void add_one_time_keys(const std::string& user_id, const std::string& device_id,
                         const std::vector<e2e_key>& keys, int64_t now_ms);
  /// Replaces the fallback key of each algorithm in `keys` (unused again),
  /// unless the same key is stored already.
  void set_fallback_keys(const std::string& user_id, const std::string& device_id,
                         const std::vector<e2e_key>& keys);
  /// Claims one key per request in one transaction: a one-time key (deleted)
  /// or else the fallback key (marked used). Devices with neither are absent.
  std::vector<claimed_key> claim(const std::vector<claim_request>& reqs);
  /// Deletes every key of the devices.
  void delete_device_keys(const std::string& user_id, const std::vector<std::string>& device_ids);
  /// Appends device_lists rows at `pos` (one per device, or one with '').
  void add_stream_rows(int64_t pos, const std::string& user_id,
                       const std::vector<std::string>& device_ids);

  // ---- reads ----

  /// device_id -> DeviceKeys JSON text, for the given devices (all when empty).
  std::map<std::string, std::string> device_keys(const std::string& user_id,
                                                 const std::vector<std::string>& device_ids);
  /// algorithm -> unclaimed one-time keys of the device.
  std::map<std::string, int64_t> one_time_key_counts(const std::string& user_id,
                                                     const std::string& device_id);
  /// Algorithms of the device's unused fallback keys.
  /// Both of the above in one query (what every /sync needs).
  std::pair<std::map<std::string, int64_t>, std::vector<std::string>>
  key_state(const std::string& user_id, const std::string& device_id);
  /// key_state() as a statement for a batch, and its answer.
  static statement key_state_query(const std::string& user_id, const std::string& device_id);
  static std::pair<std::map<std::string, int64_t>, std::vector<std::string>>
  key_state_rows(const result& r);
  std::vector<std::string> unused_fallback_key_types(const std::string& user_id,
                                                     const std::string& device_id);
  /// The user's newest device_lists position before `pos` (0: none).
  int64_t previous_change(const std::string& user_id, int64_t pos);
  /// Users whose devices changed in (from, to].
  std::vector<std::string> changed_users(int64_t from, int64_t to);

  // ---- who shares rooms (membership tables of the events stream) ----

  /// Rooms the local user is joined to.
  std::vector<std::string> joined_rooms(const std::string& user_id);
  /// Users joined to a room the local user is joined to (the user included).
  std::vector<std::string> users_sharing_room(const std::string& user_id);
  /// Memberships in rooms the local user has a membership in, where that
  /// membership or the other user's falls in events positions (lo, hi]
  /// (the caller narrows each room to its own range): whom the user newly
  /// shares a room with, or may have stopped sharing one with.
  struct shared_membership {
    std::string room_id;
    std::string user_id;     ///< the other user (c.state_key)
    std::string membership;  ///< theirs, current
    int64_t pos = 0;         ///< of theirs
    std::string own;         ///< the local user's, current
    int64_t own_pos = 0;     ///< of the local user's
  };
  std::vector<shared_membership> shared_membership_changes(const std::string& user_id, int64_t lo,
                                                           int64_t hi);

private:
  pool& pool_;
};

} // namespace axon::storage
