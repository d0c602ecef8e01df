// messages/streams.hpp -- the streams besides events (DESIGN.md, "Streams and
// positions"): their ids, the rows writers publish, and what the notifier is
// asked. Each stream has one writer role; its rows say whom they concern so
// every instance's notifier can wake exactly the /sync requests that care.
#pragma once

#include <caf/meta/type_name.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace axon {

/// Every stream a sync token carries, in token order (events first). Never
/// reorder: tokens handed to clients depend on it.
enum class stream_id : uint8_t {
  events = 0,
  typing,
  receipts,
  presence,
  account_data,
  to_device,
  device_lists,
  push_rules,
};
constexpr size_t stream_count = 8;

/// Synapse's stream names (replication and `stream_writers` keys).
const char* stream_name(stream_id s);
inline size_t index(stream_id s) { return static_cast<size_t>(s); }

/// At most this many events writers (config/layout.cpp refuses more).
constexpr size_t max_events_writers = 64;

/// Positions vectors ("token order"): one entry per stream, then, with
/// several events writers, one per writer in `stream_writers.events` order:
/// how far that writer's events are known here. The events entry is then
/// the lowest writer's (every event at or below it is there); an event is
/// visible at its writer's entry. A room has one writer, so within a room
/// there is one order (DESIGN.md, "Streams and positions").
inline size_t writer_slot(size_t writer) { return stream_count + writer; }

/// The position up to which events of writer `writer` (-1: unknown, or one
/// writer) are covered by positions `p`: its entry, never below the lowest.
inline int64_t events_bound(const std::vector<int64_t>& p, int writer) {
  auto low = p.empty() ? 0 : p[0];
  if (writer < 0 || writer_slot(static_cast<size_t>(writer)) >= p.size()) return low;
  auto w = p[writer_slot(static_cast<size_t>(writer))];
  return w > low ? w : low;
}

/// The highest position any events writer's entry in `p` reaches (the
/// upper end of a range that covers every room's own).
inline int64_t events_top(const std::vector<int64_t>& p) {
  int64_t top = p.empty() ? 0 : p[0];
  for (size_t w = stream_count; w < p.size(); ++w) top = p[w] > top ? p[w] : top;
  return top;
}

/// The newest position of each stream this instance has seen (and of each
/// events writer, `size` entries in all); written only by the notifier, read
/// by request threads without a round trip.
struct stream_positions {
  std::array<std::atomic<int64_t>, stream_count + max_events_writers> at{};
  size_t size = stream_count; ///< set once, before any reader
  int64_t get(stream_id s) const { return at[index(s)].load(); }
  std::vector<int64_t> snapshot() const {
    std::vector<int64_t> out(size);
    for (size_t i = 0; i < size; ++i) out[i] = at[i].load();
    return out;
  }
};

} // namespace axon

namespace axon::msg {

/// One row of a stream: whom it concerns. `room_id` set: the members of that
/// room; `user_ids`: those users (either or both).
struct stream_row {
  int64_t pos = 0;
  std::string room_id;
  std::vector<std::string> user_ids;
  static constexpr const char* wire_name = "stream_row";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_row& x) {
  return f(caf::meta::type_name("stream_row"), x.pos, x.room_id, x.user_ids);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(stream_row, pos, room_id, user_ids)

/// Writer `instance` has persisted stream `stream` up to `pos`.
struct stream_advanced {
  uint8_t stream = 0; ///< a stream_id
  std::string instance;
  int64_t pos = 0;
  std::vector<stream_row> rows;
  static constexpr const char* wire_name = "stream_advanced";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_advanced& x) {
  return f(caf::meta::type_name("stream_advanced"), x.stream, x.instance, x.pos, x.rows);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(stream_advanced, stream, instance, pos, rows)

/// Long-poll request to the notifier: answer with every stream's position as
/// soon as a row past `since` (one position per stream, token order)
/// concerns `user_id` or one of `room_ids`, or after `timeout_ms`.
struct wait_for_updates {
  std::string user_id;
  std::vector<int64_t> since;
  std::vector<std::string> room_ids;
  int64_t timeout_ms = 0;
  static constexpr const char* wire_name = "wait_for_updates";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wait_for_updates& x) {
  return f(caf::meta::type_name("wait_for_updates"), x.user_id, x.since, x.room_ids, x.timeout_ms);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(wait_for_updates, user_id, since, room_ids, timeout_ms)

/// Request to the notifier: answer once positions entry `stream` (a stream,
/// or writer_slot(i) for events writer i) has reached `pos` here
/// (read-your-writes after a write through a writer).
struct await_stream_position {
  uint8_t stream = 0;
  int64_t pos = 0;
  static constexpr const char* wire_name = "await_stream_position";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, await_stream_position& x) {
  return f(caf::meta::type_name("await_stream_position"), x.stream, x.pos);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(await_stream_position, stream, pos)

/// To the notifier: stream `stream` is durable up to `pos`, but which rows
/// lie below it is not known here (Redis lost them, or another instance
/// reported the position first). Readers may expose `pos`; every waiter
/// wakes and looks in the database. For the events stream with several
/// writers, `instance` names the writer that reached `pos`; empty: every
/// writer has (a position some instance exposed).
struct stream_caught_up {
  uint8_t stream = 0;
  int64_t pos = 0;
  std::string instance;
  static constexpr const char* wire_name = "stream_caught_up";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_caught_up& x) {
  return f(caf::meta::type_name("stream_caught_up"), x.stream, x.pos, x.instance);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(stream_caught_up, stream, pos, instance)

} // namespace axon::msg
