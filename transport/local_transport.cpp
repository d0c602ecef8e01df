#include "transport/local_transport.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include "config/layout.hpp"

namespace axon::transport {

namespace {

constexpr auto request_timeout = std::chrono::seconds(30);

[[noreturn]] void raise(const caf::error& err) {
  auto [code, text] = from_caf_error(err);
  throw matrix_error(code, text);
}

/// Blocking actors for the calls threads make, kept between calls: a
/// scoped_actor per call costs an actor's start and, at its end, a wake-up
/// of CAF's clock thread (cancel_timeouts) on every send. Calls through
/// them never use a CAF request timeout (no clock entry could answer a later
/// call); one whose answer may still come (a timeout) is not reused.
class callers {
public:
  explicit callers(caf::actor_system& sys) : sys_(sys) {}

  class lease {
  public:
    lease(callers& from, std::unique_ptr<caf::scoped_actor> a) : from_(from), a_(std::move(a)) {}
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease() {
      if (a_ && !spoiled_) from_.give_back(std::move(a_));
    }
    caf::scoped_actor& operator*() { return *a_; }
    /// An answer may still arrive for it: not reused.
    void spoil() { spoiled_ = true; }

  private:
    callers& from_;
    std::unique_ptr<caf::scoped_actor> a_;
    bool spoiled_ = false;
  };

  lease take() {
    {
      std::lock_guard<std::mutex> g(m_);
      if (!free_.empty()) {
        auto a = std::move(free_.back());
        free_.pop_back();
        return {*this, std::move(a)};
      }
    }
    // Hidden: a pooled caller is not a running actor the system waits for.
    return {*this, std::make_unique<caf::scoped_actor>(sys_, true)};
  }

private:
  void give_back(std::unique_ptr<caf::scoped_actor> a) {
    std::lock_guard<std::mutex> g(m_);
    if (free_.size() < max_free) free_.push_back(std::move(a));
  }
  static constexpr size_t max_free = 256;

  caf::actor_system& sys_;
  std::mutex m_;
  std::vector<std::unique_ptr<caf::scoped_actor>> free_;
};

class local_transport final : public transport {
public:
  local_transport(caf::actor_system& sys, local_roles roles) : sys_(sys), roles_(std::move(roles)) {}

  msg::send_events_reply send_events(const msg::send_events& req) override {
    auto& names = roles_.events_writer_names;
    auto owner = config::stream_writer_for(names, req.room_id);
    size_t i = 0;
    while (i < names.size() && names[i] != owner) ++i;
    if (i >= roles_.events_writers.size() || !roles_.events_writers[i])
      throw matrix_error(errc::unavailable, "events writer " + owner + " is not reachable");
    auto caller = callers_.take();
    auto& self = *caller;
    msg::send_events_reply out;
    // A plain send answered by the writer's response promise, with the
    // deadline kept by this thread's own receive: a CAF request timeout would
    // go through the actor clock thread, two wake-ups per event.
    self->send(roles_.events_writers[i], req);
    receive_one(caller, [&](msg::send_events_reply& r) { out = std::move(r); },
                "the events writer did not answer in time");
    // Read-your-writes: don't answer before this instance's readers can see
    // what was just written (DESIGN.md, "Streams and positions"): with
    // several writers, this writer's entry, whatever the others do.
    await_slot(caller, names.size() > 1 ? writer_slot(i) : index(stream_id::events), out.stream_pos);
    return out;
  }

  int64_t events_writer_position(const std::string& writer) override {
    auto& names = roles_.events_writer_names;
    for (size_t i = 0; i < names.size() && i < roles_.events_writers.size(); ++i)
      if (names[i] == writer)
        return ask<int64_t>(roles_.events_writers[i], msg::get_events_position{writer},
                            "events writer " + writer);
    throw matrix_error(errc::unavailable, "events writer " + writer + " is not reachable");
  }

  int64_t put_account_data(const msg::put_account_data& req) override {
    return ask_writer(roles_.account_data_writer, req, stream_id::account_data);
  }

  int64_t update_room_tag(const msg::update_room_tag& req) override {
    return ask_writer(roles_.account_data_writer, req, stream_id::account_data);
  }

  int64_t change_push_rule(const msg::change_push_rule& req) override {
    return ask_writer(roles_.push_rules_writer, req, stream_id::push_rules);
  }

  int64_t set_presence(const msg::set_presence& req) override {
    return ask_writer(roles_.presence_writer, req, stream_id::presence);
  }

  void wake_federation(const msg::wake_federation& req) override {
    if (roles_.federation_sender) caf::anon_send(roles_.federation_sender, req);
  }

  msg::federation_reply send_federation_request(const msg::federation_request& req) override {
    if (!roles_.federation_requests)
      throw matrix_error(errc::unavailable, "federation requests are not sent from this instance");
    return roles_.federation_requests(req);
  }

  void user_syncing(const msg::user_syncing& req, bool wait) override {
    if (!roles_.presence_writer) return;
    if (!wait) {
      // The writer's reply goes nowhere: no thread waits for it.
      caf::anon_send(roles_.presence_writer, req);
      return;
    }
    try {
      ask_writer(roles_.presence_writer, req, stream_id::presence);
    } catch (const matrix_error&) {
      // Best effort: a presence failure never fails the /sync.
    }
  }

  int64_t upload_keys(const msg::upload_keys& req) override {
    return ask_writer(roles_.device_lists_writer, req, stream_id::device_lists);
  }

  msg::claim_keys_reply claim_keys(const msg::claim_keys& req) override {
    return ask<msg::claim_keys_reply>(roles_.device_lists_writer, req, "the device_lists writer");
  }

  int64_t device_list_changed(const msg::device_list_changed& req) override {
    return ask_writer(roles_.device_lists_writer, req, stream_id::device_lists);
  }
  int64_t upload_cross_signing_keys(const msg::upload_cross_signing_keys& req) override {
    return ask_writer(roles_.device_lists_writer, req, stream_id::device_lists);
  }
  int64_t upload_signatures(const msg::upload_signatures& req) override {
    return ask_writer(roles_.device_lists_writer, req, stream_id::device_lists);
  }

  int64_t set_typing(const msg::set_typing& req) override {
    return ask_writer(roles_.typing_writer, req, stream_id::typing);
  }

  msg::typing_snapshot get_typing(const msg::get_typing& req) override {
    return ask<msg::typing_snapshot>(roles_.typing_writer, req, "the typing writer");
  }

  int64_t put_receipt(const msg::put_receipt& req) override {
    return ask_writer(roles_.receipts_writer, req, stream_id::receipts);
  }

  int64_t send_to_device(const msg::send_to_device& req) override {
    return ask_writer(roles_.to_device_writer, req, stream_id::to_device);
  }

  int64_t ack_to_device(const msg::ack_to_device& req) override {
    return ask_writer(roles_.to_device_writer, req, stream_id::to_device);
  }

  std::vector<int64_t> wait_for_updates(const msg::wait_for_updates& req) override {
    caf::scoped_actor self{sys_};
    std::vector<int64_t> pos;
    auto h = self->request(roles_.notifier, std::chrono::milliseconds(req.timeout_ms) + request_timeout, req);
    pump(self);
    h.receive([&](std::vector<int64_t>& p) { pos = std::move(p); },
               [&](caf::error& err) { raise(err); });
    return pos;
  }

  /// The notifier's own registry (notifier_waits: a few hundred bytes per
  /// wait, no thread); without one, the blocking default.
  uint64_t wait_for_updates_async(const msg::wait_for_updates& req,
                                  std::function<void(std::vector<int64_t>)> done) override {
    // A simulated scheduler (before_receive) stays on its thread.
    if (roles_.before_receive || !roles_.waits.wait) return transport::wait_for_updates_async(req, std::move(done));
    return roles_.waits.wait(req, std::move(done));
  }

  void cancel_wait(uint64_t id) override {
    if (id != 0 && roles_.waits.cancel) roles_.waits.cancel(id);
  }

  void catch_up(const std::vector<int64_t>& target, std::chrono::milliseconds wait) override {
    auto size = std::min(target.size(), roles_.positions->size);
    for (size_t s = 0; s < size; ++s) {
      if (roles_.positions->at[s].load() >= target[s]) continue;
      // One actor per wait: an earlier request's timeout must not be taken
      // for this one's answer.
      caf::scoped_actor self{sys_};
      bool behind = false;
      // A request (not send + after): a late answer must not be taken for
      // the next entry's.
      auto h = self->request(roles_.notifier, wait,
                             msg::await_stream_position{static_cast<uint8_t>(s), target[s]});
      pump(self);
      h.receive([](int64_t) {}, [&](caf::error&) { behind = true; });
      if (!behind) continue;
      // The rows never came: the target is durable, so the notifier moves
      // there (a writer's entry: that writer is there; the events entry:
      // every writer is; messages/streams.hpp). Then wait until it has: the
      // caller reads positions next, and must find the target. (A fresh
      // actor: the notifier handles its two messages in order, and the first
      // wait's late answer is not in its mailbox.)
      caf::scoped_actor again{sys_};
      auto events = static_cast<uint8_t>(index(stream_id::events));
      if (s >= stream_count)
        again->send(roles_.notifier,
                    msg::stream_caught_up{events, target[s],
                                          roles_.events_writer_names.at(s - stream_count)});
      else
        again->send(roles_.notifier, msg::stream_caught_up{static_cast<uint8_t>(s), target[s], ""});
      auto applied = again->request(roles_.notifier, wait,
                                    msg::await_stream_position{static_cast<uint8_t>(s), target[s]});
      pump(again);
      applied.receive([](int64_t) {}, [](caf::error&) {});
    }
  }

  void await_positions(const std::vector<int64_t>& target, std::chrono::milliseconds wait) override {
    auto size = std::min(target.size(), roles_.positions->size);
    for (size_t s = 0; s < size; ++s) {
      if (roles_.positions->at[s].load() >= target[s]) continue;
      caf::scoped_actor self{sys_}; // one per wait (see catch_up)
      auto h = self->request(roles_.notifier, wait,
                             msg::await_stream_position{static_cast<uint8_t>(s), target[s]});
      pump(self);
      h.receive([](int64_t) {}, [](caf::error&) {});
    }
  }

  int64_t position(stream_id s) override { return roles_.positions->get(s); }
  std::vector<int64_t> positions() override { return roles_.positions->snapshot(); }

private:
  /// A request answered with a Reply, nothing to wait for after it (reads).
  template <class Reply, class Handle, class Request>
  Reply ask(const Handle& who, const Request& req, const std::string& what) {
    if (!who) throw matrix_error(errc::unavailable, what + " is not reachable");
    auto caller = callers_.take();
    Reply out;
    (*caller)->send(who, req);
    receive_one(caller, [&](Reply& r) { out = std::move(r); }, what + " did not answer in time");
    return out;
  }

  /// Asks a single-writer stream's writer; returns the position it wrote at,
  /// once readers here can see it.
  template <class Handle, class Request>
  int64_t ask_writer(const Handle& writer, const Request& req, stream_id s) {
    if (!writer)
      throw matrix_error(errc::unavailable,
                         std::string("the ") + stream_name(s) + " writer is not reachable");
    auto caller = callers_.take();
    int64_t pos = 0;
    (*caller)->send(writer, req);
    receive_one(caller, [&](int64_t p) { pos = p; },
                std::string("the ") + stream_name(s) + " writer did not answer in time");
    // Read-your-writes: returns once this instance's readers can see `pos`
    // (DESIGN.md, "Streams and positions").
    await_slot(caller, index(s), pos);
    return pos;
  }

  /// Returns once this instance's readers can see `pos` of a positions entry
  /// (a stream's or an events writer's).
  void await_slot(callers::lease& caller, size_t slot, int64_t pos) {
    if (roles_.positions->at[slot].load() >= pos) return;
    (*caller)->send(roles_.notifier, msg::await_stream_position{static_cast<uint8_t>(slot), pos});
    receive_one(caller, [](int64_t) {}, "this instance did not see its own write in time");
  }

  /// The one answer to what the caller just sent, within request_timeout;
  /// a caf::error answer is raised as the Matrix error it stands for.
  template <class OnValue>
  void receive_one(callers::lease& caller, OnValue on_value, const std::string& late) {
    auto& self = *caller;
    bool timed_out = false;
    pump(self);
    self->receive(std::move(on_value), [&](caf::error& err) { raise(err); },
                  caf::after(request_timeout) >> [&] { timed_out = true; });
    if (timed_out) {
      caller.spoil();
      throw matrix_error(errc::timeout, late);
    }
  }

  /// Before a blocking receive: a simulation runs its scheduler until the
  /// answer is there (local_roles::before_receive).
  void pump(caf::scoped_actor& self) {
    if (roles_.before_receive) roles_.before_receive(self.ptr());
  }

  caf::actor_system& sys_;
  local_roles roles_;
  callers callers_{sys_};
};

bool wants(const bus_subscriber& s, const msg::stream_advanced& adv) {
  return s.streams && (s.only_instance.empty() || s.only_instance == adv.instance);
}

bool wants(const bus_subscriber& s, const msg::events_advanced& adv) {
  if (!s.only_instance.empty() && adv.instance != s.only_instance) return false;
  if (!s.skip_events_of.empty() && adv.instance == s.skip_events_of) return false;
  if (s.pdus_only && !adv.pdus_queued) return false;
  if (s.event_types.empty()) return true;
  for (auto& r : adv.rows)
    if (std::find(s.event_types.begin(), s.event_types.end(), r.type) != s.event_types.end())
      return true;
  return false;
}

using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;

/// The bus's subscribers and the newest positions, shared by the bus actor
/// and the events writers (stream_bus_handle::publish_here). Every
/// hand-over happens under `mu`, so each subscriber gets updates in one
/// order whichever thread hands them over.
struct bus_view {
  std::mutex mu;
  std::vector<bus_subscriber> subscribers;
  /// The newest position each writer here reached: the events writers'
  /// per instance, the streams' per (stream, instance).
  std::map<std::string, int64_t> events_top;
  std::map<std::pair<uint8_t, std::string>, int64_t> stream_top;

  int64_t& top_of(const msg::events_advanced& adv) { return events_top[adv.instance]; }
  int64_t& top_of(const msg::stream_advanced& adv) { return stream_top[{adv.stream, adv.instance}]; }

  /// Notes the writer's position and sends `adv` to every subscriber that
  /// wants it.
  template <class Advanced>
  void hand_over(const Advanced& adv) {
    std::lock_guard<std::mutex> lk(mu);
    auto& top = top_of(adv);
    top = std::max(top, adv.pos);
    for (auto& s : subscribers)
      if (wants(s, adv)) caf::anon_send(s.who, adv);
  }
};

struct stream_bus_state {
  static inline const char* name = "stream_bus";
};

caf::behavior stream_bus(caf::stateful_actor<stream_bus_state>* self, std::shared_ptr<bus_view> view) {
  return {
    [=](const msg::events_advanced& adv) { view->hand_over(adv); },
    [=](const msg::stream_advanced& adv) { view->hand_over(adv); },
    [=](subscribe_atom, caf::actor who, std::vector<std::string> event_types, bool streams,
        std::string only_instance, bool pdus_only) {
      std::lock_guard<std::mutex> lk(view->mu);
      view->subscribers.push_back(
        {std::move(who), std::move(event_types), streams, std::move(only_instance), "", pdus_only});
      // A publisher subscribing after the writers started: where each one
      // is, without rows (its readers catch up on what they missed from
      // the database), so no writer's start announcement is lost to the
      // order in which they and the publisher came up.
      auto& s = view->subscribers.back();
      if (s.only_instance.empty()) return;
      for (auto& [instance, pos] : view->events_top)
        if (instance == s.only_instance) self->send(s.who, msg::events_advanced{instance, pos, {}});
      if (s.streams)
        for (auto& [key, pos] : view->stream_top)
          if (key.second == s.only_instance)
            self->send(s.who, msg::stream_advanced{key.first, key.second, pos, {}});
    },
  };
}

} // namespace

std::unique_ptr<transport> make_local_transport(caf::actor_system& sys, local_roles roles) {
  return std::make_unique<local_transport>(sys, std::move(roles));
}

stream_bus_handle spawn_stream_bus(caf::actor_system& sys, std::vector<bus_subscriber> subscribers) {
  auto view = std::make_shared<bus_view>();
  view->subscribers = std::move(subscribers);
  stream_bus_handle out;
  out.actor = sys.spawn(stream_bus, view);
  out.publish_here = [view](const msg::events_advanced& adv) {
    view->hand_over(adv);
    return true;
  };
  return out;
}

bool bus_wants(const bus_subscriber& s, const msg::events_advanced& adv) { return wants(s, adv); }
bool bus_wants(const bus_subscriber& s, const msg::stream_advanced& adv) { return wants(s, adv); }

void subscribe_to_bus(const caf::actor& bus, bus_subscriber s) {
  caf::anon_send(bus, subscribe_atom::value, std::move(s.who), std::move(s.event_types), s.streams,
                 std::move(s.only_instance), s.pdus_only);
}

} // namespace axon::transport
