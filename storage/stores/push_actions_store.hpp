// storage/stores/push_actions_store.hpp -- reading event_push_actions
// (written by the events writer with each event, migration 012): unread
// notification counts for /sync and the list of GET /notifications.
#pragma once

#include "storage/database.hpp"

#include <map>
#include <string>
#include <vector>

namespace axon::storage {

struct unread_count {
  int64_t notifications = 0;
  int64_t highlights = 0;
};

/// One row of GET /notifications.
struct notification_row {
  std::string room_id;
  std::string event_id;
  int64_t stream_ordering = 0;
  std::string thread_id;
  std::string actions; ///< JSON array text
  int64_t ts = 0;
  bool highlight = false;
  std::string event_json;
};

class push_actions_store {
public:
  explicit push_actions_store(pool& p) : pool_(p) {}

  /// The user's unread counts in the room by thread ("main" or a root event
  /// id), counting events up to stream position `to` after the user's read
  /// receipt (m.read or m.read.private): the unthreaded one, or the one of
  /// the event's thread when later. Threads with nothing unread are absent.
  std::map<std::string, unread_count> unread(const std::string& user_id,
                                             const std::string& room_id, int64_t to);
  /// unread() as a statement for a batch, and the counts from its rows
  /// (which may keep a summary of them: a write).
  static statement unread_query(const std::string& user_id, const std::string& room_id, int64_t to);
  std::map<std::string, unread_count> unread_from(const result& r, const std::string& user_id,
                                                  const std::string& room_id, int64_t to);

  /// The user's notifications before stream position `before` (all when
  /// <= 0), newest first, at most `limit`; only highlights when asked.
  std::vector<notification_row> notifications(const std::string& user_id, int64_t before,
                                              size_t limit, bool only_highlight);

  /// The stream position up to which the user has read `thread_id` of the
  /// room: their latest unthreaded or that thread's read receipt (0: none).
  int64_t read_up_to(const std::string& user_id, const std::string& room_id,
                     const std::string& thread_id);

private:
  pool& pool_;
};

} // namespace axon::storage
