#include "transport/pubsub.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <iostream>

namespace axon::transport {

using nlohmann::json;

namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using cache_atom = caf::atom_constant<caf::atom("cache")>;

// ---- publisher ------------------------------------------------------------------

struct publisher_state {
  std::string instance;
  pubsub_send send;
  /// What this instance last published per stream (-1: nothing yet): the
  /// `prev` of the next message, so subscribers see a gap.
  std::vector<int64_t> last = std::vector<int64_t>(stream_count, -1);
  static inline const char* name = "pubsub_publisher";
};

caf::behavior pubsub_publisher(caf::stateful_actor<publisher_state>* self, std::string instance,
                               pubsub_send send) {
  self->state.instance = std::move(instance);
  self->state.send = std::move(send);
  self->delayed_send(self, pubsub_heartbeat_every, tick_atom::value);
  return {
    [=](const msg::events_advanced& adv) {
      auto& st = self->state;
      if (adv.instance != st.instance) return; // another instance's, come from the wire
      auto s = index(stream_id::events);
      json m = {{"k", "events"}, {"i", st.instance}, {"prev", st.last[s]}, {"m", adv}};
      st.last[s] = std::max(st.last[s], adv.pos);
      st.send(m.dump());
    },
    [=](const msg::stream_advanced& adv) {
      auto& st = self->state;
      if (adv.instance != st.instance || adv.stream >= stream_count) return;
      json m = {{"k", "stream"}, {"i", st.instance}, {"prev", st.last[adv.stream]}, {"m", adv}};
      st.last[adv.stream] = std::max(st.last[adv.stream], adv.pos);
      st.send(m.dump());
    },
    [=](cache_atom, const std::string& cache, const std::vector<std::string>& keys) {
      auto& st = self->state;
      st.send(json{{"k", "cache"}, {"i", st.instance}, {"name", cache}, {"keys", keys}}.dump());
    },
    [=](tick_atom) {
      auto& st = self->state;
      bool any = false;
      for (auto p : st.last) any |= p >= 0;
      if (any) st.send(json{{"k", "pos"}, {"i", st.instance}, {"pos", st.last}}.dump());
      self->delayed_send(self, pubsub_heartbeat_every, tick_atom::value);
    },
  };
}

} // namespace

caf::actor spawn_pubsub_publisher(caf::actor_system& sys, std::string instance, pubsub_send send,
                                  bool detached) {
  if (detached) return sys.spawn<caf::detached>(pubsub_publisher, std::move(instance), std::move(send));
  return sys.spawn(pubsub_publisher, std::move(instance), std::move(send));
}

void publish_invalidation(const caf::actor& publisher, const std::string& cache,
                          const std::vector<std::string>& keys) {
  caf::anon_send(publisher, cache_atom::value, cache, keys);
}

// ---- receiver ---------------------------------------------------------------------

void pubsub_receiver::caught_up(size_t stream, int64_t pos, const std::string& instance) {
  msg::stream_caught_up up{static_cast<uint8_t>(stream), pos, instance};
  for (auto& a : deps_.caught_up_too) caf::anon_send(a, up);
  if (deps_.shortcut.caught_up) deps_.shortcut.caught_up(up); // rows wait behind it
  else caf::anon_send(deps_.notifier, std::move(up));
}

void pubsub_receiver::check_gap(const std::string& instance, size_t stream, int64_t prev,
                                int64_t pos) {
  auto key = std::make_pair(instance, stream);
  auto i = seen_.find(key);
  // Messages we never got lie between what we saw and `prev`: their rows
  // are in the database. The first message from an instance since we
  // subscribed: whatever lies above what the database said then was
  // published after we subscribed, so a `prev` above it was lost (found by
  // the simulation).
  auto seen = i != seen_.end() ? i->second : at_connect(instance, stream);
  if (seen >= 0 && prev > seen) gap(instance, stream, prev);
  // The publisher started again (it numbers from nothing): what it stored
  // but never published before it stopped is in the database, up to this
  // message's position (found by the simulation). That holds too when this
  // is the first message from it since we subscribed: it may have stored
  // rows past what the database said then and stopped before publishing
  // them (found by the simulation, seed 9 with the federation sender).
  else if (prev < 0 && (i != seen_.end() || pos > seen)) gap(instance, stream, pos);
  auto& s = seen_[key];
  s = std::max(s, pos);
}

namespace {
bool take_shortcut(const notifier_shortcut& s, const msg::events_advanced& adv) {
  return s.events && s.events(adv);
}
bool take_shortcut(const notifier_shortcut& s, const msg::stream_advanced& adv) {
  return s.stream && s.stream(adv);
}
} // namespace

int64_t pubsub_receiver::at_connect(const std::string& instance, size_t stream) const {
  if (stream == index(stream_id::events))
    for (size_t w = 0; w < deps_.events_writers.size(); ++w)
      if (deps_.events_writers[w] == instance)
        return writer_slot(w) < at_connect_.size() ? at_connect_[writer_slot(w)] : -1;
  return stream < at_connect_.size() ? at_connect_[stream] : -1;
}

template <class Advanced>
void pubsub_receiver::deliver(const Advanced& adv) {
  auto notifier = caf::actor_cast<caf::actor>(deps_.notifier);
  for (auto& s : deps_.subscribers) {
    if (!bus_wants(s, adv)) continue;
    if (s.who == notifier && take_shortcut(deps_.shortcut, adv)) continue;
    caf::anon_send(s.who, adv);
  }
}

void pubsub_receiver::connected() {
  // Subscribed first, then the database: a row is either below what the
  // database says now or in a message still to come.
  seen_.clear();
  at_connect_.clear();
  if (deps_.invalidate) deps_.invalidate("*", {});
  try {
    auto pos = deps_.db_positions();
    at_connect_ = pos;
    for (size_t s = 0; s < pos.size(); ++s) {
      if (s < stream_count) caught_up(s, pos[s]);
      else if (s - stream_count < deps_.events_writers.size())
        caught_up(index(stream_id::events), pos[s], deps_.events_writers[s - stream_count]);
    }
  } catch (const std::exception& e) {
    std::cerr << "axon: pub/sub: catching up from the database failed: " << e.what() << "\n";
  }
}

void pubsub_receiver::message(const std::string& payload) {
  auto j = json::parse(payload, nullptr, false);
  if (!j.is_object()) return;
  auto instance = j.value("i", "");
  if (instance == deps_.instance) return; // ours arrived locally
  auto kind = j.value("k", "");
  try {
    if (kind == "events") {
      auto adv = j.at("m").get<msg::events_advanced>();
      check_gap(instance, index(stream_id::events), j.value("prev", int64_t{-1}), adv.pos);
      deliver(adv);
    } else if (kind == "stream") {
      auto adv = j.at("m").get<msg::stream_advanced>();
      if (adv.stream >= stream_count) return;
      check_gap(instance, adv.stream, j.value("prev", int64_t{-1}), adv.pos);
      deliver(adv);
    } else if (kind == "pos") {
      auto pos = j.at("pos").get<std::vector<int64_t>>();
      for (size_t s = 0; s < pos.size() && s < stream_count; ++s) {
        if (pos[s] < 0) continue;
        auto& last = seen_[{instance, s}];
        if (pos[s] > last) caught_up(s, pos[s], instance); // its last message was lost
        last = std::max(last, pos[s]);
      }
    } else if (kind == "cache") {
      if (deps_.invalidate)
        deps_.invalidate(j.value("name", ""), j.value("keys", std::vector<std::string>{}));
    }
  } catch (const std::exception& e) {
    std::cerr << "axon: pub/sub: ignoring a malformed message: " << e.what() << "\n";
  }
}

} // namespace axon::transport
